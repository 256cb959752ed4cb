//! The time budget of one exact solve: a deadline set when `solve` is
//! called and shared by every phase.
//!
//! The rest of the core reads no clock: the engine is driven by the time its
//! caller feeds it, so a replay is deterministic. The exact solver's time
//! limit is different in kind: it is a compute budget, not a time of day, and
//! HiGHS measures it on its own monotonic timer anyway. Measuring the phases
//! outside HiGHS (greedy, reduction, pattern LP, model building) on the same
//! kind of clock is the only way to keep the whole call inside the limit.
//! A solve that ends optimal or at the gap limit does not depend on it; only
//! where a time-limited run stops does.

use std::time::{Duration, Instant};

/// When the solve must be over, measured from the start of the call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    start: Instant,
    limit: Duration,
}

impl Deadline {
    /// A deadline `limit_ms` milliseconds from now.
    pub fn starting_now(limit_ms: u64) -> Self {
        Deadline { start: Instant::now(), limit: Duration::from_millis(limit_ms) }
    }

    /// Seconds since the call started.
    pub fn elapsed_s(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Seconds left, 0 once the deadline has passed.
    pub fn remaining_s(&self) -> f64 {
        self.limit.saturating_sub(self.start.elapsed()).as_secs_f64()
    }

    /// True once the deadline has passed.
    pub fn passed(&self) -> bool {
        self.start.elapsed() >= self.limit
    }

    /// The whole limit, seconds.
    pub fn limit_s(&self) -> f64 {
        self.limit.as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_limit_has_passed_at_once() {
        let d = Deadline::starting_now(0);
        assert!(d.passed());
        assert_eq!(d.remaining_s(), 0.0);
    }

    #[test]
    fn what_is_left_never_exceeds_the_limit() {
        let d = Deadline::starting_now(60_000);
        assert!(!d.passed());
        assert!(d.remaining_s() <= d.limit_s());
        assert!(d.elapsed_s() >= 0.0);
    }
}
