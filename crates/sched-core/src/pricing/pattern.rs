//! A lower bound on the cost of any schedule, from the LP relaxation of the
//! pattern (configuration) model, solved by column generation.
//!
//! A *pattern* `p` is one candidate `o(p)` with a multiset of task shapes that
//! fits its capacity together: `a_{p,s}` tasks of shape `s`. Given `D_s`, the
//! work of shape `s` in task-hours, the bound is the optimum of
//!
//! ```text
//! min  sum_p c_p x_p   s.t.  sum_p a_{p,s} x_p >= D_s  (every shape s),  x >= 0
//! ```
//!
//! with `c_p` the candidate's price per hour and `x_p` in hours.
//!
//! **Why it bounds every schedule.** Take any schedule and any instance in it.
//! At each instant the tasks running on the instance fit its capacity, so they
//! form a pattern of its candidate. Let `x_p` be the total time, over all
//! instances, during which an instance runs exactly pattern `p`. The instance
//! is paid for at least that long, so the schedule costs at least
//! `sum_p c_p x_p`. And every task-hour of shape `s` is run inside some
//! pattern, so `sum_p a_{p,s} x_p = D_s`. This `x` is feasible for the LP, so
//! the LP optimum is at most the schedule's cost. Billing minimums, boot time
//! and idle instances only add cost. For one batch, take `D_s` as the task
//! count and `x_p` as the number of bins with pattern `p`: the same argument
//! bounds the cost per hour of any plan that places the batch on new
//! instances (existing free room is not modelled).
//!
//! **Why a truncated run is still valid (Farley's bound).** The LP's dual is
//! `max sum_s D_s pi_s` s.t. `sum_s a_{p,s} pi_s <= c_p` for all patterns and
//! `pi >= 0`. For any `pi >= 0`, let `theta = max_p (sum_s a_{p,s} pi_s) / c_p`
//! over *all* patterns, which the pricing step finds (or over-estimates) by
//! solving, for each candidate, a knapsack over the shapes. Then `pi / theta`
//! is dual feasible (when `theta >= 1`; `pi` itself otherwise), so by weak
//! duality `sum_s D_s pi_s / max(theta, 1)` is a lower bound, whatever the
//! iteration. The function keeps the best such bound over all iterations; at
//! convergence (`theta <= 1`) it equals the LP optimum.
//!
//! It is at least the volume bound of every single dimension `r`,
//! `sum_s D_s d_{s,r} u_r` with `u_r` the cheapest price of one unit of `r`
//! ([`UnitPrices::dimension_bound_usd`](super::UnitPrices::dimension_bound_usd)):
//! `pi_s = d_{s,r} u_r` is dual feasible, since a pattern's tasks use at most
//! `C_{o,r}` of dimension `r` and `C_{o,r} u_r <= c_o`. It is *not* always at
//! least the sum of per-task values ([`UnitPrices::lower_bound_usd`] summed
//! over tasks), because that sum is not itself a bound when a cpu-heavy and a
//! memory-heavy task share an instance; see [`UnitPrices`](super::UnitPrices).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::catalog::Architecture;
use crate::policy::Candidate;
use crate::problem::{arch_ok, PendingTask};
use crate::resources::Resources;
use crate::solver::prune_dominated_candidates;

use super::generation::{column_generation, Columns};

/// Work of one task shape: a demand, an architecture, and how much of it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DemandShape {
    /// What each task needs.
    pub demand: Resources,
    /// The architecture it needs, if any.
    pub arch: Option<Architecture>,
    /// Total run time of all tasks of this shape, task-seconds. For a batch
    /// bound in USD per hour, give 3600 per task (see [`batch_pattern_bound`]).
    pub task_seconds: f64,
}

/// How much work the column generation may do; the core has no clock, so the
/// limits count iterations and knapsack nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PatternLimits {
    /// Restricted-LP solves at most.
    pub max_iterations: usize,
    /// Branch-and-bound nodes per knapsack; past it the knapsack's upper
    /// bound is used, which keeps the bound valid but looser.
    pub max_knapsack_nodes: u64,
    /// Largest pricing table, in cells times items, built to price a group
    /// of candidates exactly at once; larger groups are priced by branch
    /// and bound, one candidate at a time.
    pub max_grid_work: usize,
}

impl Default for PatternLimits {
    fn default() -> Self {
        PatternLimits { max_iterations: 100, max_knapsack_nodes: 2_000, max_grid_work: 1 << 27 }
    }
}

impl PatternLimits {
    /// The same limits with at most `n` iterations.
    pub fn with_max_iterations(mut self, n: usize) -> Self {
        self.max_iterations = n;
        self
    }

    /// The same limits with at most `n` nodes per knapsack.
    pub fn with_max_knapsack_nodes(mut self, n: u64) -> Self {
        self.max_knapsack_nodes = n;
        self
    }

    /// The same limits with pricing tables of at most `work` cells times
    /// items (0: branch and bound only).
    pub fn with_max_grid_work(mut self, work: usize) -> Self {
        self.max_grid_work = work;
        self
    }
}

/// The pattern-LP bound and how it was reached.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PatternBound {
    /// The lower bound, USD (USD per hour for a batch given 3600 s per task).
    pub bound_usd: f64,
    /// Value of the last restricted LP, USD: an upper bound on the LP optimum
    /// (not on the schedule), equal to the bound at convergence.
    pub restricted_lp_usd: f64,
    /// Restricted-LP solves done.
    pub iterations: usize,
    /// True when no pattern could improve the LP: the bound is its optimum.
    pub converged: bool,
    /// Patterns generated.
    pub patterns: usize,
    /// Task-seconds of shapes no candidate holds, left out of the bound.
    pub skipped_task_seconds: f64,
    /// HiGHS' own run time over all restricted LPs, seconds (the pricing
    /// knapsacks run in Rust and are not timed: the core reads no clock).
    pub solver_time_s: f64,
}

/// Why no bound could be computed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BoundError {
    /// A shape's amount of work is negative or not a number.
    #[error(
        "shape {index} ({demand}) has {task_seconds} task-seconds; expected a finite amount >= 0"
    )]
    BadAmount {
        /// Position of the shape in the input.
        index: usize,
        /// Its demand.
        demand: Resources,
        /// The amount given.
        task_seconds: f64,
    },
    /// HiGHS failed on the restricted LP.
    #[error("HiGHS failed on the restricted pattern LP at iteration {iteration}: {message}")]
    Lp {
        /// The iteration, from 0.
        iteration: usize,
        /// What HiGHS said.
        message: String,
    },
}

/// The pattern-LP lower bound on the cost of running `shapes` on
/// `candidates`, USD; see the module docs for the proof.
///
/// # Errors
/// A negative or non-finite amount of work, or a failure of HiGHS on the
/// restricted LP.
pub fn pattern_lp_bound(
    shapes: &[DemandShape],
    candidates: &[Candidate],
    limits: &PatternLimits,
) -> Result<PatternBound, BoundError> {
    // Validate, merge identical shapes, drop those that need nothing or fit nowhere.
    let pruned = prune_dominated_candidates(candidates);
    let mut input = Columns::default();
    let mut index: HashMap<(Resources, Option<Architecture>), usize> = HashMap::new();
    let mut skipped = 0.0;
    for (i, shape) in shapes.iter().enumerate() {
        if !shape.task_seconds.is_finite() || shape.task_seconds < 0.0 {
            return Err(BoundError::BadAmount {
                index: i,
                demand: shape.demand,
                task_seconds: shape.task_seconds,
            });
        }
        if shape.task_seconds == 0.0 || shape.demand.is_zero() {
            continue;
        }
        let holds =
            pruned.iter().any(|c| shape.demand.fits_in(&c.capacity) && arch_ok(shape.arch, c.arch));
        if !holds {
            skipped += shape.task_seconds;
            continue;
        }
        let at = *index.entry((shape.demand, shape.arch)).or_insert_with(|| {
            input.demands.push(shape.demand);
            input.arches.push(shape.arch);
            input.need.push(0.0);
            input.demands.len() - 1
        });
        input.need[at] += shape.task_seconds / 3600.0;
    }
    input.candidates = pruned;
    let out = column_generation(&input, limits, &|| false)
        .map_err(|(iteration, message)| BoundError::Lp { iteration, message })?;
    Ok(PatternBound {
        bound_usd: out.bound,
        restricted_lp_usd: out.lp_value,
        iterations: out.iterations,
        converged: out.converged,
        patterns: out.patterns,
        skipped_task_seconds: skipped,
        solver_time_s: out.time_s,
    })
}

/// The pattern-LP bound for one batch, USD per hour: every task counts as
/// one hour of work. New instances only: existing free room is not modelled,
/// so with free room this is no bound on the problem's plans.
///
/// # Errors
/// As [`pattern_lp_bound`].
pub fn batch_pattern_bound(
    tasks: &[PendingTask],
    candidates: &[Candidate],
    limits: &PatternLimits,
) -> Result<PatternBound, BoundError> {
    let shapes: Vec<DemandShape> = tasks
        .iter()
        .map(|t| DemandShape { demand: t.demand, arch: t.arch, task_seconds: 3600.0 })
        .collect();
    pattern_lp_bound(&shapes, candidates, limits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::UnitPrices;
    use crate::test_support::candidate;

    fn shape(cpus: u64, mib: u64, seconds: f64) -> DemandShape {
        DemandShape { demand: Resources::cpus_mib(cpus, mib), arch: None, task_seconds: seconds }
    }

    #[test]
    fn bound_beats_volume_when_tasks_do_not_pair() {
        // Tasks of 3 cpus on 4-cpu bins: volume says 3/4 bin each, patterns say 1.
        let candidates = vec![candidate(0, 4, 16384, 1.0)];
        let shapes = [shape(3, 1024, 3600.0 * 10.0)];
        let b = pattern_lp_bound(&shapes, &candidates, &PatternLimits::default()).unwrap();
        assert!(b.converged);
        assert!((b.bound_usd - 10.0).abs() < 1e-6, "{b:?}");
        let volume = UnitPrices::of(&candidates)
            .lower_bound_usd(&Resources::cpus_mib(3, 1024), 3600.0 * 10.0);
        assert!((volume - 7.5).abs() < 1e-9);
    }

    #[test]
    fn mixed_shapes_share_bins_in_the_bound() {
        // 1-cpu and 3-cpu tasks pair perfectly on 4-cpu bins: 10 bins, not 15.
        let candidates = vec![candidate(0, 4, 16384, 1.0)];
        let shapes = [shape(3, 1024, 36_000.0), shape(1, 1024, 36_000.0)];
        let b = pattern_lp_bound(&shapes, &candidates, &PatternLimits::default()).unwrap();
        assert!(b.converged, "{b:?}");
        assert!((b.bound_usd - 10.0).abs() < 1e-6, "{b:?}");
    }

    #[test]
    fn a_truncated_run_still_bounds_the_optimum() {
        let candidates = vec![candidate(0, 4, 16384, 1.0), candidate(1, 16, 32768, 3.5)];
        let shapes = [shape(3, 1024, 36_000.0), shape(1, 4096, 36_000.0), shape(2, 8192, 7200.0)];
        let full = pattern_lp_bound(&shapes, &candidates, &PatternLimits::default()).unwrap();
        let short = pattern_lp_bound(
            &shapes,
            &candidates,
            &PatternLimits::default().with_max_iterations(1),
        )
        .unwrap();
        assert!(short.bound_usd <= full.bound_usd + 1e-9, "{short:?} {full:?}");
        assert!(short.bound_usd > 0.0);
    }

    #[test]
    fn bad_amounts_are_refused_with_their_index() {
        let candidates = vec![candidate(0, 4, 16384, 1.0)];
        let err =
            pattern_lp_bound(&[shape(1, 1, f64::NAN)], &candidates, &PatternLimits::default())
                .unwrap_err();
        assert!(err.to_string().contains("shape 0"), "{err}");
    }
}
