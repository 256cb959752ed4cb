//! When to retry a failed provider call, and after how long.
//!
//! Throttling and transient backend errors (including an answer lost after
//! the call succeeded) are worth retrying; every [`Provider`](super::Provider)
//! call is idempotent, so a retry of a call that did happen is harmless. A
//! refusal for capacity, a quota or an unknown resource is not retried: the
//! engine acts on it instead. The policy is pure arithmetic: the driver owns
//! the clock and waits the delay it is given.

use serde::Serialize;

use super::ProviderError;
use crate::time::Millis;

/// Exponential backoff with a cap and a bounded number of attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RetryPolicy {
    /// Calls in all, the first included, before giving up.
    pub max_attempts: u32,
    /// Wait before the second call, milliseconds; doubled for each further one.
    pub base_ms: u64,
    /// Longest wait between two calls, milliseconds.
    pub cap_ms: u64,
}

impl Default for RetryPolicy {
    /// Twelve calls, from half a second doubling up to half a minute: about
    /// four minutes in all. Our choice, in line with the AWS SDKs' standard
    /// mode (exponential backoff, capped at 20 s) but more patient, since a
    /// batch scheduler loses little by waiting.
    fn default() -> Self {
        RetryPolicy { max_attempts: 12, base_ms: 500, cap_ms: 30_000 }
    }
}

impl RetryPolicy {
    /// True when `error` is worth retrying.
    pub fn retryable(error: &ProviderError) -> bool {
        matches!(error, ProviderError::Throttled { .. } | ProviderError::Backend { .. })
    }

    /// The wait before call number `attempt + 1`, after `attempt` failed
    /// calls; `None` once `max_attempts` calls have failed.
    pub fn delay(&self, attempt: u32) -> Option<Millis> {
        if attempt == 0 || attempt >= self.max_attempts {
            return None;
        }
        let factor = 1u64.checked_shl(attempt - 1).unwrap_or(u64::MAX);
        Some(Millis(self.base_ms.saturating_mul(factor).min(self.cap_ms)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_then_gives_up() {
        let policy = RetryPolicy { max_attempts: 5, base_ms: 100, cap_ms: 350 };
        let delays: Vec<Option<Millis>> = (0..6).map(|a| policy.delay(a)).collect();
        assert_eq!(
            delays,
            vec![
                None,
                Some(Millis(100)),
                Some(Millis(200)),
                Some(Millis(350)),
                Some(Millis(350)),
                None
            ]
        );
        assert_eq!(RetryPolicy::default().delay(200), None);
    }

    #[test]
    fn only_throttling_and_backend_errors_are_retried() {
        assert!(RetryPolicy::retryable(&ProviderError::Throttled { message: String::new() }));
        assert!(RetryPolicy::retryable(&ProviderError::Backend {
            code: "x".into(),
            message: String::new()
        }));
        assert!(!RetryPolicy::retryable(&ProviderError::NotFound { what: String::new() }));
    }
}
