//! Reading a HiGHS run: its exact stop reason, its solution as a checked
//! plan, and what is proven about the plan returned.

use highs::{HighsModelStatus, HighsSolutionStatus, SolvedModel};

use super::formulation::{load_of, Columns};
use super::reduction::Reduced;
use crate::plan::{Placement, Plan, SolveStatus, SolverStop};

/// Absolute tolerance on `objective - bound` under which a plan is called
/// optimal, USD per hour; it is also HiGHS' `mip_abs_gap`.
pub(crate) const ABSOLUTE_GAP_USD_PER_HOUR: f64 = 1e-6;

/// Cost differences below this are ties, USD per hour.
pub(crate) const COST_EPSILON: f64 = 1e-9;

/// One HiGHS model status, mapped one to one.
pub(crate) fn stop_of(status: HighsModelStatus) -> SolverStop {
    match status {
        HighsModelStatus::Optimal => SolverStop::Optimal,
        HighsModelStatus::ReachedTimeLimit => SolverStop::TimeLimit,
        HighsModelStatus::ReachedIterationLimit => SolverStop::IterationLimit,
        HighsModelStatus::ReachedSolutionLimit => SolverStop::SolutionLimit,
        HighsModelStatus::ReachedMemoryLimit => SolverStop::MemoryLimit,
        HighsModelStatus::ReachedInterrupt => SolverStop::Interrupt,
        HighsModelStatus::ObjectiveBound => SolverStop::ObjectiveBound,
        HighsModelStatus::ObjectiveTarget => SolverStop::ObjectiveTarget,
        HighsModelStatus::Infeasible => SolverStop::Infeasible,
        HighsModelStatus::UnboundedOrInfeasible => SolverStop::UnboundedOrInfeasible,
        HighsModelStatus::Unbounded => SolverStop::Unbounded,
        HighsModelStatus::ModelEmpty => SolverStop::ModelEmpty,
        _ => SolverStop::SolverError,
    }
}

/// What HiGHS reported besides its solution.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunInfo {
    pub stop: SolverStop,
    /// Its dual bound on the model's objective, when finite.
    pub dual_bound: Option<f64>,
    /// Its own run time, seconds.
    pub run_time_s: f64,
    /// True when it holds a feasible solution.
    pub has_solution: bool,
}

/// Reads the status, bound and run time of a finished run.
pub(crate) fn run_info(solved: &SolvedModel) -> RunInfo {
    let stop = stop_of(solved.status());
    let dual_bound = solved.double_info_value(c"mip_dual_bound").ok().filter(|b| b.is_finite());
    // SAFETY: `as_ptr` is the live HiGHS instance owned by `solved`, which
    // outlives the call; `Highs_getRunTime` only reads its timer.
    let run_time_s = unsafe { highs_sys::Highs_getRunTime(solved.as_ptr()) };
    let has_solution = solved.primal_solution_status() == HighsSolutionStatus::Feasible;
    RunInfo { stop, dual_bound, run_time_s, has_solution }
}

/// Turns column values into a plan, checking every bin in exact integer
/// arithmetic; `None` when the values do not describe a valid placement.
pub(crate) fn plan_from(reduced: &Reduced<'_>, columns: &Columns, values: &[f64]) -> Option<Plan> {
    let count = |col: usize| -> Option<u64> {
        let v = *values.get(col)?;
        let n = v.round();
        ((v - n).abs() <= 1e-6 && n >= 0.0).then_some(n as u64)
    };
    let mut plan = Plan { unschedulable: reduced.unschedulable.clone(), ..Plan::default() };
    for &(task, id) in &reduced.fixed {
        plan.assign(task, Placement::Existing(id));
    }
    let mut next = vec![0usize; reduced.shapes.len()];
    let mut take = |plan: &mut Plan, s: usize, n: u64, placement: Placement| -> Option<()> {
        let tasks = &reduced.shapes[s].tasks;
        for _ in 0..n {
            plan.assign(*tasks.get(next[s])?, placement);
            next[s] += 1;
        }
        Some(())
    };

    // Existing rooms first, then new bins in candidate and slot order.
    for (room, cols) in reduced.rooms.iter().zip(&columns.room) {
        let counts: Vec<u64> = cols.iter().map(|&c| count(c)).collect::<Option<_>>()?;
        if !load_of(reduced, &room.fits, counts.iter().copied())?.fits_in(&room.free) {
            return None;
        }
        for (&(s, _), &n) in room.fits.iter().zip(&counts) {
            take(&mut plan, s, n, Placement::Existing(room.instance))?;
        }
    }
    for (kind, slots) in reduced.kinds.iter().zip(&columns.count) {
        for cols in slots {
            let counts: Vec<u64> = cols.iter().map(|&c| count(c)).collect::<Option<_>>()?;
            if counts.iter().all(|&n| n == 0) {
                continue; // an open but empty bin is simply not launched
            }
            let load = load_of(reduced, &kind.fits, counts.iter().copied())?;
            if !load.fits_in(&kind.candidate.capacity) {
                return None;
            }
            let launch = plan.push_launch(kind.candidate);
            for (&(s, _), &n) in kind.fits.iter().zip(&counts) {
                take(&mut plan, s, n, Placement::New(launch))?;
            }
        }
    }
    let all_placed = next.iter().zip(&reduced.shapes).all(|(&n, s)| n == s.tasks.len());
    all_placed.then_some(plan)
}

/// What is proven about the returned plan, given why the search stopped,
/// whether its plan beat the greedy one, its cost, the proven bound and the
/// relative gap asked for.
pub(crate) fn status_of(
    stop: SolverStop,
    improved: bool,
    objective: f64,
    bound: f64,
    gap_limit: f64,
) -> SolveStatus {
    if objective - bound <= ABSOLUTE_GAP_USD_PER_HOUR {
        return SolveStatus::Optimal;
    }
    if matches!(stop, SolverStop::Infeasible | SolverStop::UnboundedOrInfeasible) {
        return SolveStatus::Infeasible;
    }
    if relative_gap(objective, bound) <= gap_limit {
        return SolveStatus::FeasibleAtGapLimit;
    }
    if !improved {
        return SolveStatus::GreedyKept;
    }
    match stop {
        SolverStop::TimeLimit => SolveStatus::FeasibleAtTimeLimit,
        // The plan is cheaper than the greedy one and the gap still open;
        // `stop` names what ended the search (a size limit, a failure).
        _ => SolveStatus::FeasibleAtOtherLimit,
    }
}

/// `(objective - bound) / objective`, clamped to `[0, 1]`; 0 for a free plan.
pub(crate) fn relative_gap(objective: f64, bound: f64) -> f64 {
    if objective <= COST_EPSILON {
        0.0
    } else {
        ((objective - bound) / objective).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stop_keeps_its_own_name() {
        let all = [
            HighsModelStatus::Optimal,
            HighsModelStatus::ReachedTimeLimit,
            HighsModelStatus::ReachedIterationLimit,
            HighsModelStatus::ReachedSolutionLimit,
            HighsModelStatus::ReachedMemoryLimit,
            HighsModelStatus::ReachedInterrupt,
            HighsModelStatus::ObjectiveBound,
            HighsModelStatus::ObjectiveTarget,
            HighsModelStatus::Infeasible,
            HighsModelStatus::UnboundedOrInfeasible,
            HighsModelStatus::Unbounded,
            HighsModelStatus::ModelEmpty,
        ];
        let mut names: Vec<&str> = all.iter().map(|&s| stop_of(s).name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
    }

    #[test]
    fn limits_without_improvement_keep_greedy() {
        let status = |stop, improved, bound| status_of(stop, improved, 1.0, bound, 1e-4);
        assert_eq!(status(SolverStop::TimeLimit, false, 0.5), SolveStatus::GreedyKept);
        assert_eq!(status(SolverStop::TimeLimit, true, 0.5), SolveStatus::FeasibleAtTimeLimit);
        assert_eq!(status(SolverStop::Optimal, false, 0.99), SolveStatus::GreedyKept);
        assert_eq!(status(SolverStop::Optimal, false, 1.0), SolveStatus::Optimal);
        assert_eq!(status(SolverStop::SolverError, false, 0.0), SolveStatus::GreedyKept);
        assert_eq!(status(SolverStop::SolverError, true, 0.0), SolveStatus::FeasibleAtOtherLimit);
        assert_eq!(status(SolverStop::ModelTooLarge, true, 0.5), SolveStatus::FeasibleAtOtherLimit);
        assert_eq!(status(SolverStop::NotRun, false, 0.5), SolveStatus::GreedyKept);
    }

    #[test]
    fn a_gap_within_the_limit_is_called_so_whatever_stopped_the_search() {
        for stop in [SolverStop::TimeLimit, SolverStop::NotRun, SolverStop::ObjectiveTarget] {
            for improved in [false, true] {
                assert_eq!(
                    status_of(stop, improved, 1.0, 0.995, 0.01),
                    SolveStatus::FeasibleAtGapLimit
                );
            }
        }
        assert_eq!(
            status_of(SolverStop::Infeasible, true, 1.0, 0.5, 0.01),
            SolveStatus::Infeasible
        );
    }

    #[test]
    fn gap_is_relative_and_clamped() {
        assert_eq!(relative_gap(0.0, 0.0), 0.0);
        assert!((relative_gap(2.0, 1.5) - 0.25).abs() < 1e-12);
        assert_eq!(relative_gap(1.0, 2.0), 0.0);
    }
}
