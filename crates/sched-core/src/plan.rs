//! The output of one placement decision.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::catalog::{OfferingId, UsdPerHour};
use crate::policy::Candidate;
use crate::problem::{InstanceId, PendingTask, TaskId};
use crate::resources::{Dimension, Resources};

/// Where a task goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Placement {
    /// On an instance that is running or booting.
    Existing(InstanceId),
    /// On the plan's launch with this index in [`Plan::launches`].
    New(usize),
}

/// One task and where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// The task.
    pub task: TaskId,
    /// Where it goes.
    pub placement: Placement,
}

/// An instance the plan asks to rent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Launch {
    /// The offering to open.
    pub offering: OfferingId,
    /// Its usable capacity.
    pub capacity: Resources,
    /// Its price.
    pub price: UsdPerHour,
}

/// The offering that came closest to holding a task it could not hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LargestFit {
    /// The offering.
    pub offering: OfferingId,
    /// Its instance type name.
    pub type_name: String,
    /// Its usable capacity.
    pub capacity: Resources,
}

/// Why no allowed offering can hold a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnschedulableReason {
    /// What the task asked for.
    pub demand: Resources,
    /// The dimension that does not fit on [`UnschedulableReason::largest`].
    pub dimension: Dimension,
    /// The allowed offering that came closest, or `None` when no allowed
    /// offering has the task's architecture.
    pub largest: Option<LargestFit>,
}

impl fmt::Display for UnschedulableReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.dimension {
            Dimension::Cpu => "millicpus",
            Dimension::Memory => "MiB",
            Dimension::Gpu => "GPUs",
        };
        match &self.largest {
            Some(largest) => write!(
                f,
                "needs {} {unit} of {}; the largest allowed offering, {} ({}), has {} {unit} usable",
                self.demand.get(self.dimension),
                self.dimension,
                largest.type_name,
                largest.offering,
                largest.capacity.get(self.dimension),
            ),
            None => write!(f, "no allowed offering has the architecture this task needs"),
        }
    }
}

/// A task no allowed offering can hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unschedulable {
    /// The task.
    pub task: TaskId,
    /// Why.
    pub reason: UnschedulableReason,
}

/// What a solver decided.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Tasks and where they go.
    pub assignments: Vec<Assignment>,
    /// Instances to rent; [`Placement::New`] indexes into this.
    pub launches: Vec<Launch>,
    /// Tasks no allowed offering can hold, with the reason.
    pub unschedulable: Vec<Unschedulable>,
    /// Tasks that could be held but are left waiting by this solver's choice
    /// (a baseline with a fixed fleet, say).
    pub deferred: Vec<TaskId>,
    /// How an exact solver ended, with its proven bound; `None` from solvers
    /// that prove nothing (the greedy one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solve: Option<SolveReport>,
}

/// What the returned plan is, as an exact solver proved it.
///
/// The variants say what is known about the plan's cost, not merely why the
/// solver stopped; the exact stop reason is kept beside it in
/// [`SolveReport::stop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SolveStatus {
    /// No plan is cheaper: the bound meets the cost (within the solver's
    /// absolute tolerance of 1e-6 USD/h).
    Optimal,
    /// The time limit stopped the search with a plan cheaper than the greedy
    /// one; the gap to the bound is open.
    FeasibleAtTimeLimit,
    /// The search stopped because the gap fell below the configured relative
    /// gap limit; the plan may be the greedy one if that was already close
    /// enough.
    FeasibleAtGapLimit,
    /// Another solver limit (iterations, solutions, memory, an interrupt)
    /// stopped the search with a plan cheaper than the greedy one;
    /// [`SolveReport::stop`] names which.
    FeasibleAtOtherLimit,
    /// The solver reported the model infeasible. The greedy plan is a
    /// feasible point of the model, so this means numerical trouble; the
    /// greedy plan is returned.
    Infeasible,
    /// The solver found nothing cheaper than the greedy plan and proved no
    /// gap limit (time ran out first, or it failed); the greedy plan is
    /// returned unchanged and [`SolveReport::stop`] says why.
    GreedyKept,
}

impl SolveStatus {
    /// The name used in logs and reports, e.g. `feasible-at-time-limit`.
    pub fn name(self) -> &'static str {
        match self {
            SolveStatus::Optimal => "optimal",
            SolveStatus::FeasibleAtTimeLimit => "feasible-at-time-limit",
            SolveStatus::FeasibleAtGapLimit => "feasible-at-gap-limit",
            SolveStatus::FeasibleAtOtherLimit => "feasible-at-other-limit",
            SolveStatus::Infeasible => "infeasible",
            SolveStatus::GreedyKept => "greedy-kept",
        }
    }

    /// True when the plan is proven optimal.
    pub fn is_optimal(self) -> bool {
        self == SolveStatus::Optimal
    }
}

impl fmt::Display for SolveStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why the underlying solver stopped, one variant per HiGHS model status
/// that can end a run, so no stop reason is lost by mapping several to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SolverStop {
    /// The solver was not run: nothing was left to decide after the
    /// reductions (every task fits existing room, or none can be held), or
    /// the pattern-LP bound already meets the greedy plan's cost.
    NotRun,
    /// The solver was not run: the reduced model was larger than the
    /// configured limit on variables.
    ModelTooLarge,
    /// Solved to optimality (or to the gap limit: HiGHS reports both as
    /// optimal, and the gap tells them apart).
    Optimal,
    /// The time limit was reached.
    TimeLimit,
    /// The iteration limit was reached.
    IterationLimit,
    /// The limit on improving solutions was reached.
    SolutionLimit,
    /// The memory limit was reached.
    MemoryLimit,
    /// The run was interrupted.
    Interrupt,
    /// The objective bound was reached.
    ObjectiveBound,
    /// The objective target was reached.
    ObjectiveTarget,
    /// The model was proven infeasible.
    Infeasible,
    /// The model was proven unbounded or infeasible.
    UnboundedOrInfeasible,
    /// The model was proven unbounded.
    Unbounded,
    /// The model had no columns.
    ModelEmpty,
    /// The solver failed while loading, presolving, solving or postsolving,
    /// or returned a status this crate does not know.
    SolverError,
    /// The solver returned a solution that did not check out against the
    /// problem in exact integer arithmetic (a tolerance let an overfull
    /// bin through, say).
    SolutionRejected,
}

impl SolverStop {
    /// The name used in logs and reports, e.g. `time-limit`.
    pub fn name(self) -> &'static str {
        match self {
            SolverStop::NotRun => "not-run",
            SolverStop::ModelTooLarge => "model-too-large",
            SolverStop::Optimal => "optimal",
            SolverStop::TimeLimit => "time-limit",
            SolverStop::IterationLimit => "iteration-limit",
            SolverStop::SolutionLimit => "solution-limit",
            SolverStop::MemoryLimit => "memory-limit",
            SolverStop::Interrupt => "interrupt",
            SolverStop::ObjectiveBound => "objective-bound",
            SolverStop::ObjectiveTarget => "objective-target",
            SolverStop::Infeasible => "infeasible",
            SolverStop::UnboundedOrInfeasible => "unbounded-or-infeasible",
            SolverStop::Unbounded => "unbounded",
            SolverStop::ModelEmpty => "model-empty",
            SolverStop::SolverError => "solver-error",
            SolverStop::SolutionRejected => "solution-rejected",
        }
    }
}

impl fmt::Display for SolverStop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Sizes of the model an exact solver built, after the reductions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSize {
    /// Distinct task shapes (demand and architecture) left to place.
    pub shapes: usize,
    /// Candidate offerings left after dominated ones were dropped.
    pub candidates: usize,
    /// Bins: new-instance slots over all candidates, plus existing instances.
    pub bins: usize,
    /// Variables of the model.
    pub variables: usize,
    /// Constraints of the model.
    pub constraints: usize,
}

/// How an exact solve ended: what the plan is, why the solver stopped, what
/// it costs, the proven bound and the time the solver says it spent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SolveReport {
    /// What is proven about the returned plan.
    pub status: SolveStatus,
    /// Why the underlying solver stopped, exactly as it said.
    pub stop: SolverStop,
    /// Cost per hour of the returned plan's launches.
    pub objective: UsdPerHour,
    /// A proven lower bound on the launch cost per hour of every plan for the
    /// same problem that places the same tasks: the larger of the solver's
    /// dual bound and the pattern-LP bound (0 when nothing was proven).
    pub best_bound: UsdPerHour,
    /// `(objective - best_bound) / objective`, in `[0, 1]`; 0 when the
    /// objective is 0.
    pub relative_gap: f64,
    /// Cost per hour of the greedy plan the solve was warm-started from.
    pub greedy_objective: UsdPerHour,
    /// Run time of the underlying solver as it measured it itself, seconds;
    /// `None` when it was not run. The core never reads a clock: whoever
    /// needs the whole decision's latency measures around the call.
    pub solver_time_s: Option<f64>,
    /// Sizes of the reduced model.
    pub size: ModelSize,
}

impl SolveReport {
    /// True when the returned plan is the greedy plan's cost or worse: the
    /// solver bought nothing.
    pub fn kept_greedy_cost(&self) -> bool {
        self.objective.0 >= self.greedy_objective.0 - 1e-9
    }
}

impl Plan {
    /// Cost per hour of everything the plan launches.
    pub fn launch_cost_per_hour(&self) -> UsdPerHour {
        UsdPerHour(self.launches.iter().map(|l| l.price.0).sum())
    }

    /// Adds a launch of `candidate` and returns its index.
    pub fn push_launch(&mut self, candidate: &Candidate) -> usize {
        self.launches.push(Launch {
            offering: candidate.offering,
            capacity: candidate.capacity,
            price: candidate.price,
        });
        self.launches.len() - 1
    }

    /// Adds an assignment.
    pub fn assign(&mut self, task: TaskId, placement: Placement) {
        self.assignments.push(Assignment { task, placement });
    }

    /// Number of tasks the plan says something about.
    pub fn decided_tasks(&self) -> usize {
        self.assignments.len() + self.unschedulable.len() + self.deferred.len()
    }
}

/// Why `task` fits on no candidate: the candidate closest to holding it
/// (largest smallest ratio of capacity to demand) and the dimension that fails.
pub fn unschedulable_reason(task: &PendingTask, candidates: &[Candidate]) -> UnschedulableReason {
    let closeness = |c: &Candidate| {
        let ratio = |have: u64, need: u64| {
            if need == 0 {
                f64::INFINITY
            } else {
                have as f64 / need as f64
            }
        };
        ratio(c.capacity.millicpus, task.demand.millicpus)
            .min(ratio(c.capacity.memory_mib, task.demand.memory_mib))
            .min(ratio(u64::from(c.capacity.gpus), u64::from(task.demand.gpus)))
    };
    let best = candidates
        .iter()
        .filter(|c| crate::problem::arch_ok(task.arch, c.arch))
        .max_by(|a, b| closeness(a).total_cmp(&closeness(b)).then(b.offering.cmp(&a.offering)));
    match best {
        Some(c) => UnschedulableReason {
            demand: task.demand,
            dimension: task.demand.exceeding_dimension(&c.capacity).unwrap_or(Dimension::Cpu),
            largest: Some(LargestFit {
                offering: c.offering,
                type_name: c.type_name.to_string(),
                capacity: c.capacity,
            }),
        },
        None => {
            UnschedulableReason { demand: task.demand, dimension: Dimension::Cpu, largest: None }
        }
    }
}
