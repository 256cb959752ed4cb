//! Laws of the right-sizing recommendation.

use proptest::prelude::*;
use sched_core::rightsize::{quantile, OomGuard, RightsizeConfig, Rightsizer, UsageSample};
use sched_core::Resources;

fn sample() -> impl Strategy<Value = UsageSample> {
    (0.0f64..64.0, 0.0f64..200_000.0, proptest::bool::weighted(0.9)).prop_map(
        |(cores, peak_memory_mib, succeeded)| UsageSample { cores, peak_memory_mib, succeeded },
    )
}

proptest! {
    /// Whatever was observed, a task is given at most what it requested and
    /// at least what any successful earlier run used (where that fits the
    /// request), in both dimensions.
    #[test]
    fn allocation_within_max_used_and_request(
        samples in proptest::collection::vec(sample(), 1..60),
        cpus in 1u64..96,
        memory_mib in 1u64..400_000,
        headroom in 0.0f64..1.0,
        q in 0.5f64..1.0,
    ) {
        let config = RightsizeConfig::default().with_headroom(headroom).with_quantiles(q, q);
        let mut learner = Rightsizer::new(config);
        for s in &samples {
            learner.observe("P", *s);
        }
        let requested = Resources::new(cpus * 1000, memory_mib, 0);
        let given = learner.model().allocate("P", requested);
        prop_assert!(given.fits_in(&requested));
        prop_assert!(given.millicpus > 0 && given.memory_mib > 0);
        let max_cores = samples.iter().filter(|s| s.succeeded).map(|s| s.cores).fold(0.0, f64::max);
        let max_mib = samples.iter().filter(|s| s.succeeded).map(|s| s.peak_memory_mib).fold(0.0, f64::max);
        prop_assert!(given.millicpus as f64 >= (max_cores * 1000.0).min(requested.millicpus as f64));
        prop_assert!(given.memory_mib as f64 >= max_mib.min(requested.memory_mib as f64));
    }

    /// A quantile lies between the smallest and largest value and grows with q.
    #[test]
    fn quantile_is_monotone_and_bounded(
        values in proptest::collection::vec(-1e6f64..1e6, 1..50),
        a in 0.0f64..=1.0,
        b in 0.0f64..=1.0,
    ) {
        let (lo, hi) = (a.min(b), a.max(b));
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let ql = quantile(&values, lo).unwrap();
        let qh = quantile(&values, hi).unwrap();
        prop_assert!(min <= ql && ql <= qh + 1e-9 && qh <= max);
    }

    /// The guard's steps strictly grow and end at the request.
    #[test]
    fn oom_guard_reaches_the_request(start in 1u64..10_000, extra in 0u64..300_000) {
        let requested = Resources::new(1000, start + extra, 0);
        let mut at = Resources::new(1000, start, 0);
        let mut steps = 0;
        while let Some(next) = OomGuard::default().next(at, requested) {
            prop_assert!(next.memory_mib > at.memory_mib);
            prop_assert!(next.memory_mib <= requested.memory_mib);
            at = next;
            steps += 1;
            prop_assert!(steps < 64);
        }
        prop_assert_eq!(at.memory_mib, requested.memory_mib);
    }
}
