//! Plausibility bounds on trace values.
//!
//! A value can be well formed and still impossible: a task that ran for
//! 2^64 milliseconds, a peak of 16 EiB, a submission in the year 292 million.
//! Replaying such a value gives costs and makespans that mean nothing, so
//! the reader refuses every value outside these bounds with
//! [`TraceError::Implausible`](super::TraceError::Implausible), naming the
//! file, line, column, value and bound. The bounds are wide on purpose: they
//! catch corruption and unit mistakes, not unusual runs.
//!
//! | value | bound | why |
//! |---|---|---|
//! | `realtime`, `duration`, `time` | at most 365 days | no batch scheduler keeps a task for a year; the longest wall-time limits are weeks |
//! | `submit`, `start`, `complete` | 2000-01-01 to 2100-01-01 (UTC) | Nextflow first appeared in 2013; an instant outside is a unit mistake |
//! | `peak_rss`, `memory` | at most 64 TiB | the largest instance any cloud rents has 24 TiB (EC2 `u-24tb1`), times a margin |
//! | `cpus` | at most 4096 | the largest instances have 448 to 896 vCPUs, times a margin |
//! | `%cpu` | at most 4096 x 100 | as many busy cpus as `cpus` allows |

/// Longest duration a trace may record, milliseconds: 365 days.
pub const MAX_DURATION_MS: u64 = 365 * 24 * 3600 * 1000;
/// Earliest timestamp a trace may record: 2000-01-01T00:00:00Z, epoch milliseconds.
pub const MIN_TIMESTAMP_MS: i64 = 946_684_800_000;
/// Latest timestamp a trace may record: 2100-01-01T00:00:00Z, epoch milliseconds.
pub const MAX_TIMESTAMP_MS: i64 = 4_102_444_800_000;
/// Largest memory a trace may record, bytes: 64 TiB.
pub const MAX_MEMORY_BYTES: u64 = 64 << 40;
/// Most cpus a task may ask for.
pub const MAX_CPUS: u32 = 4096;
/// Highest `%cpu` a trace may record: [`MAX_CPUS`] busy cpus.
pub const MAX_CPU_PERCENT: f64 = MAX_CPUS as f64 * 100.0;

/// The bound a duration of `ms` breaks, in words, if it breaks one.
pub(crate) fn duration(ms: u64) -> Option<String> {
    (ms > MAX_DURATION_MS)
        .then(|| format!("at most 365 days; this one is {:.0} days", ms as f64 / 86_400_000.0))
}

/// The bound a timestamp of `ms` breaks, in words, if it breaks one.
pub(crate) fn timestamp(ms: i64) -> Option<String> {
    (!(MIN_TIMESTAMP_MS..=MAX_TIMESTAMP_MS).contains(&ms))
        .then(|| "an instant between 2000-01-01 and 2100-01-01 (UTC)".to_string())
}

/// The bound a size of `bytes` breaks, in words, if it breaks one.
pub(crate) fn memory(bytes: u64) -> Option<String> {
    (bytes > MAX_MEMORY_BYTES).then(|| {
        format!("at most 64 TiB; this one is {:.0} TiB", bytes as f64 / (1u64 << 40) as f64)
    })
}

/// The bound a cpu count breaks, in words, if it breaks one.
pub(crate) fn cpus(count: u32) -> Option<String> {
    (count > MAX_CPUS).then(|| format!("at most {MAX_CPUS} cpus"))
}

/// The bound a `%cpu` breaks, in words, if it breaks one.
pub(crate) fn cpu_percent(percent: f64) -> Option<String> {
    (percent > MAX_CPU_PERCENT)
        .then(|| format!("at most {MAX_CPU_PERCENT}% ({MAX_CPUS} busy cpus)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_let_real_values_through_and_stop_absurd_ones() {
        assert_eq!(duration(4 * 3600 * 1000), None);
        assert_eq!(duration(MAX_DURATION_MS), None);
        assert!(duration(MAX_DURATION_MS + 1).is_some());
        assert!(duration(u64::MAX).unwrap().contains("days"));
        assert_eq!(timestamp(1_613_581_401_800), None);
        assert!(timestamp(0).is_some());
        assert!(timestamp(i64::MAX).is_some());
        assert_eq!(memory(24 << 40), None);
        assert!(memory(u64::MAX).is_some());
        assert_eq!(cpus(448), None);
        assert!(cpus(u32::MAX).is_some());
        assert_eq!(cpu_percent(1577.7), None);
        assert!(cpu_percent(1e12).is_some());
    }
}
