//! Right-sizing: learning per-process resource requests from earlier runs.
//!
//! Pipeline authors ask for more than their tasks use. From the usage that
//! earlier runs recorded (Used cpu as average busy cores, `%cpu / 100`, and
//! peak resident memory), [`Rightsizer`] recommends, per process, a request
//! that is
//!
//! - a high quantile of the observed usage times a safety margin
//!   ([`RightsizeConfig`]: the 90th percentile of cpu and the 95th of memory,
//!   each plus 15%, after the Kubernetes Vertical Pod Autoscaler's
//!   recommender, whose target is a high percentile of usage plus a 15%
//!   margin, `--recommendation-margin-fraction=0.15`);
//! - never below the most any earlier *successful* run of the process used,
//!   so a replay of the same inputs never runs out of memory;
//! - rounded up to a grid (250 millicpus, 128 MiB);
//! - never above what the task itself requested (a recommendation only
//!   shrinks a request).
//!
//! Memory matters more than cpu: a task over its memory allocation is killed
//! (exit 137), one over its cpu allocation only runs slower. Hence the higher
//! memory quantile, and the [`OomGuard`] that says how a task killed for
//! memory is retried: its memory doubles (the usual Nextflow
//! `memory { 2.GB * task.attempt }` escalation), up to its original request.
//!
//! The logic is pure: callers turn trace rows into [`UsageSample`]s.
//!
//! ```
//! use sched_core::rightsize::{RightsizeConfig, Rightsizer, UsageSample};
//! use sched_core::Resources;
//!
//! let mut learner = Rightsizer::new(RightsizeConfig::default());
//! for peak in [900.0, 1000.0, 1100.0] {
//!     learner.observe("ALIGN", UsageSample { cores: 1.6, peak_memory_mib: peak, succeeded: true });
//! }
//! let model = learner.model();
//! let given = model.allocate("ALIGN", Resources::cpus_mib(8, 16_384));
//! assert!(given.memory_mib >= 1100 && given.memory_mib < 16_384);
//! assert_eq!(given.millicpus, 2000); // p90 of 1.6 cores x 1.15, up to 250 m
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tracing::debug;

use crate::resources::Resources;

/// The exit status of a process the kernel's OOM killer (or a container
/// runtime over its memory limit) ended: 128 + SIGKILL (9).
pub const OOM_EXIT_CODE: i32 = 137;

/// What one earlier run of a task used.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UsageSample {
    /// Average busy cores over the task's runtime (`%cpu / 100`).
    pub cores: f64,
    /// Peak resident memory, MiB.
    pub peak_memory_mib: f64,
    /// True when the run completed; only successful runs set the floor.
    pub succeeded: bool,
}

impl UsageSample {
    /// True when both figures are finite and not negative.
    pub fn is_valid(&self) -> bool {
        self.cores.is_finite()
            && self.cores >= 0.0
            && self.peak_memory_mib.is_finite()
            && self.peak_memory_mib >= 0.0
    }
}

/// How recommendations are made.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RightsizeConfig {
    /// Quantile of observed cores, 0..=1.
    pub cpu_quantile: f64,
    /// Quantile of observed peak memory, 0..=1.
    pub memory_quantile: f64,
    /// Fraction added on top of the quantile (0.15 is 15%).
    pub headroom: f64,
    /// Cpu grid the recommendation is rounded up to, millicpus.
    pub cpu_grid_millicpus: u64,
    /// Memory grid the recommendation is rounded up to, MiB.
    pub memory_grid_mib: u64,
}

impl RightsizeConfig {
    /// The same configuration with `headroom` as the margin.
    pub fn with_headroom(mut self, headroom: f64) -> Self {
        self.headroom = headroom;
        self
    }

    /// The same configuration with these quantiles.
    pub fn with_quantiles(mut self, cpu: f64, memory: f64) -> Self {
        self.cpu_quantile = cpu;
        self.memory_quantile = memory;
        self
    }
}

impl Default for RightsizeConfig {
    /// p90 cpu and p95 memory, plus 15%, on a 250-millicpu and 128-MiB grid.
    /// The 15% margin is the VPA recommender's default; 250 millicpus is the
    /// smallest cpu step ECS and Fargate task sizes use (256 cpu units of
    /// 1024 per vCPU, rounded to our millicpus), and 128 MiB a step every
    /// instance's usable memory holds many times.
    fn default() -> Self {
        RightsizeConfig {
            cpu_quantile: 0.90,
            memory_quantile: 0.95,
            headroom: 0.15,
            cpu_grid_millicpus: 250,
            memory_grid_mib: 128,
        }
    }
}

/// The `q` quantile of `values` (need not be sorted), by linear
/// interpolation between order statistics (Hyndman and Fan's type 7, the
/// default of R and NumPy). `None` for no values or a `q` outside 0..=1;
/// non-finite values are ignored.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if !(0.0..=1.0).contains(&q) {
        return None;
    }
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let h = (sorted.len() - 1) as f64 * q;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// Summary of one process's observed usage.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UsageSummary {
    /// Samples learned from.
    pub samples: usize,
    /// Median cores.
    pub cores_p50: f64,
    /// Cores at the configured cpu quantile.
    pub cores_quantile: f64,
    /// Most cores any run used.
    pub cores_max: f64,
    /// Median peak memory, MiB.
    pub memory_p50_mib: f64,
    /// Peak memory at the configured memory quantile, MiB.
    pub memory_quantile_mib: f64,
    /// Highest peak memory any run reached, MiB.
    pub memory_max_mib: f64,
    /// Most cores a successful run used (0 when none succeeded).
    pub success_cores_max: f64,
    /// Highest peak memory of a successful run, MiB (0 when none succeeded).
    pub success_memory_max_mib: f64,
}

/// A process's recommendation before it meets a task's own request.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// What was observed.
    pub usage: UsageSummary,
    /// Recommended cpu, millicpus (on the grid).
    pub millicpus: u64,
    /// Recommended memory, MiB (on the grid).
    pub memory_mib: u64,
}

impl Recommendation {
    /// What a task of the process that requested `requested` is given: the
    /// recommendation, capped by the request in each dimension; GPUs as
    /// requested.
    pub fn apply(&self, requested: Resources) -> Resources {
        Resources {
            millicpus: self.millicpus.min(requested.millicpus),
            memory_mib: self.memory_mib.min(requested.memory_mib),
            gpus: requested.gpus,
        }
    }
}

/// Collects usage samples per process and turns them into a [`RightsizeModel`].
#[derive(Debug, Clone, Default)]
pub struct Rightsizer {
    config: RightsizeConfig,
    samples: BTreeMap<String, Vec<UsageSample>>,
    ignored: usize,
}

impl Rightsizer {
    /// An empty learner.
    pub fn new(config: RightsizeConfig) -> Self {
        Rightsizer { config, samples: BTreeMap::new(), ignored: 0 }
    }

    /// Adds one run of `process`; a sample with a negative or non-finite
    /// figure is counted in [`Rightsizer::ignored`] and left out.
    pub fn observe(&mut self, process: &str, sample: UsageSample) {
        if !sample.is_valid() {
            self.ignored += 1;
            return;
        }
        self.samples.entry(process.to_owned()).or_default().push(sample);
    }

    /// Samples left out as invalid.
    pub fn ignored(&self) -> usize {
        self.ignored
    }

    /// The recommendation of every process observed.
    pub fn model(&self) -> RightsizeModel {
        let per_process = self
            .samples
            .iter()
            .filter_map(|(process, samples)| {
                let rec = recommend(samples, &self.config)?;
                debug!(
                    process = %process,
                    samples = samples.len(),
                    millicpus = rec.millicpus,
                    memory_mib = rec.memory_mib,
                    "right-sized"
                );
                Some((process.clone(), rec))
            })
            .collect();
        RightsizeModel { config: self.config, per_process }
    }
}

/// The recommendation for one process's `samples`; `None` without samples.
pub fn recommend(samples: &[UsageSample], config: &RightsizeConfig) -> Option<Recommendation> {
    let cores: Vec<f64> = samples.iter().map(|s| s.cores).collect();
    let memory: Vec<f64> = samples.iter().map(|s| s.peak_memory_mib).collect();
    let success_max = |pick: fn(&UsageSample) -> f64| {
        samples.iter().filter(|s| s.succeeded).map(pick).fold(0.0_f64, f64::max)
    };
    let clamp_q = |q: f64| if q.is_finite() { q.clamp(0.0, 1.0) } else { 1.0 };
    let usage = UsageSummary {
        samples: samples.len(),
        cores_p50: quantile(&cores, 0.5)?,
        cores_quantile: quantile(&cores, clamp_q(config.cpu_quantile))?,
        cores_max: quantile(&cores, 1.0)?,
        memory_p50_mib: quantile(&memory, 0.5)?,
        memory_quantile_mib: quantile(&memory, clamp_q(config.memory_quantile))?,
        memory_max_mib: quantile(&memory, 1.0)?,
        success_cores_max: success_max(|s| s.cores),
        success_memory_max_mib: success_max(|s| s.peak_memory_mib),
    };
    let margin = 1.0 + if config.headroom.is_finite() { config.headroom.max(0.0) } else { 0.0 };
    let cpu = (usage.cores_quantile * margin).max(usage.success_cores_max) * 1000.0;
    let mem = (usage.memory_quantile_mib * margin).max(usage.success_memory_max_mib);
    Some(Recommendation {
        usage,
        millicpus: round_up(cpu, config.cpu_grid_millicpus),
        memory_mib: round_up(mem, config.memory_grid_mib),
    })
}

/// `value` rounded up to a multiple of `grid` (at least one grid step, so a
/// task is never given nothing); a zero grid counts as 1.
pub fn round_up(value: f64, grid: u64) -> u64 {
    let grid = grid.max(1);
    let units = (value.max(0.0) / grid as f64).ceil();
    // Saturate instead of wrapping: a float beyond u64 means "as much as asked".
    let units = if units >= (u64::MAX / grid) as f64 { u64::MAX / grid } else { units as u64 };
    units.max(1) * grid
}

/// Per-process recommendations, ready to allocate tasks with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RightsizeModel {
    /// How the recommendations were made.
    pub config: RightsizeConfig,
    /// The recommendation per process name.
    pub per_process: BTreeMap<String, Recommendation>,
}

impl RightsizeModel {
    /// What a task of `process` that requested `requested` is given: the
    /// process's recommendation capped by the request, or the request itself
    /// when the process was never observed.
    pub fn allocate(&self, process: &str, requested: Resources) -> Resources {
        self.per_process.get(process).map_or(requested, |rec| rec.apply(requested))
    }
}

/// How a task killed for memory is retried with more.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OomGuard {
    /// Each retry multiplies the memory by this (at least 1.0 + a grid step).
    pub growth: f64,
    /// Memory grid the stepped-up memory is rounded up to, MiB.
    pub memory_grid_mib: u64,
}

impl Default for OomGuard {
    /// Doubling, on the 128-MiB grid.
    fn default() -> Self {
        OomGuard { growth: 2.0, memory_grid_mib: 128 }
    }
}

impl OomGuard {
    /// The memory of the next attempt after an OOM kill at `allocated`, up
    /// to `requested`; `None` when `allocated` already is the request, so
    /// the kill is final.
    pub fn next(&self, allocated: Resources, requested: Resources) -> Option<Resources> {
        if allocated.memory_mib >= requested.memory_mib {
            return None;
        }
        let growth = if self.growth.is_finite() { self.growth.max(1.0) } else { 2.0 };
        let grown = round_up(allocated.memory_mib as f64 * growth, self.memory_grid_mib)
            .max(allocated.memory_mib + 1);
        Some(Resources { memory_mib: grown.min(requested.memory_mib), ..allocated })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(cores: f64, mib: f64) -> UsageSample {
        UsageSample { cores, peak_memory_mib: mib, succeeded: true }
    }

    #[test]
    fn quantile_interpolates_type_7() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&v, 0.5), Some(3.0));
        assert_eq!(quantile(&v, 0.0), Some(1.0));
        assert_eq!(quantile(&v, 1.0), Some(5.0));
        // h = 4 x 0.9 = 3.6: 4 + 0.6 x (5 - 4)
        assert!((quantile(&v, 0.9).unwrap() - 4.6).abs() < 1e-12);
        assert_eq!(quantile(&[5.0, 1.0], 0.5), Some(3.0));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&v, 1.5), None);
        assert_eq!(quantile(&[f64::NAN, 2.0], 0.5), Some(2.0));
    }

    #[test]
    fn round_up_grid() {
        assert_eq!(round_up(0.0, 128), 128);
        assert_eq!(round_up(128.0, 128), 128);
        assert_eq!(round_up(128.1, 128), 256);
        assert_eq!(round_up(10.0, 0), 10);
        assert_eq!(round_up(f64::INFINITY, 128), u64::MAX / 128 * 128);
    }

    #[test]
    fn recommendation_is_quantile_plus_headroom_on_grid() {
        let samples: Vec<_> = (1..=10).map(|i| ok(1.0, 100.0 * i as f64)).collect();
        let rec = recommend(&samples, &RightsizeConfig::default()).unwrap();
        // p95 of 100..=1000 is 955; x 1.15 = 1098.25; max successful is 1000.
        assert_eq!(rec.memory_mib, 1152);
        assert_eq!(rec.millicpus, 1250); // 1.0 x 1.15 = 1150 -> 1250
        assert_eq!(rec.usage.samples, 10);
    }

    #[test]
    fn never_below_max_successful_use() {
        let mut samples: Vec<_> = (0..99).map(|_| ok(1.0, 1000.0)).collect();
        samples.push(ok(7.9, 30_000.0)); // one outlier above every quantile
        let rec = recommend(&samples, &RightsizeConfig::default()).unwrap();
        assert!(rec.memory_mib >= 30_000);
        assert!(rec.millicpus >= 7900);
    }

    #[test]
    fn failed_runs_do_not_set_the_floor() {
        let mut samples: Vec<_> = (0..99).map(|_| ok(1.0, 1000.0)).collect();
        samples.push(UsageSample { cores: 1.0, peak_memory_mib: 30_000.0, succeeded: false });
        let rec = recommend(&samples, &RightsizeConfig::default()).unwrap();
        assert!(rec.memory_mib < 2000, "{rec:?}");
    }

    #[test]
    fn allocation_never_exceeds_the_request() {
        let mut learner = Rightsizer::new(RightsizeConfig::default());
        learner.observe("P", ok(12.0, 64_000.0));
        learner
            .observe("P", UsageSample { cores: f64::NAN, peak_memory_mib: 1.0, succeeded: true });
        assert_eq!(learner.ignored(), 1);
        let model = learner.model();
        let asked = Resources::cpus_mib(4, 8192);
        assert_eq!(model.allocate("P", asked), asked);
        assert_eq!(model.allocate("UNSEEN", asked), asked);
    }

    #[test]
    fn oom_guard_doubles_up_to_the_request() {
        let guard = OomGuard::default();
        let asked = Resources::cpus_mib(2, 6000);
        let first = Resources::cpus_mib(1, 1024);
        let second = guard.next(first, asked).unwrap();
        assert_eq!(second, Resources::cpus_mib(1, 2048));
        let third = guard.next(second, asked).unwrap();
        assert_eq!(third.memory_mib, 4096);
        let fourth = guard.next(third, asked).unwrap();
        assert_eq!(fourth.memory_mib, 6000);
        assert_eq!(guard.next(fourth, asked), None);
    }
}
