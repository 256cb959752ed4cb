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

/// One resource a task needs more of than the closest offering has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shortfall {
    /// The resource.
    pub dimension: Dimension,
    /// How much the task needs (millicpus, MiB or GPUs).
    pub needs: u64,
    /// The most any allowed offering of the task's architecture has, usable.
    pub most: u64,
    /// The instance type that has [`Shortfall::most`].
    pub most_on: String,
}

impl Shortfall {
    /// True when no allowed offering has enough of this resource at all;
    /// false when some has, but not together with the task's other needs.
    pub fn nowhere(&self) -> bool {
        self.most < self.needs
    }
}

/// Why no allowed offering can hold a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnschedulableReason {
    /// What the task asked for.
    pub demand: Resources,
    /// The resource to act on: the first that no allowed offering has
    /// enough of, or, when each is found on some offering but never all
    /// together, the first the closest offering lacks.
    pub dimension: Dimension,
    /// The allowed offering that came closest, or `None` when no allowed
    /// offering has the task's architecture.
    pub largest: Option<LargestFit>,
    /// Every resource the closest offering lacks, with the most any allowed
    /// offering has of it.
    #[serde(default)]
    pub short: Vec<Shortfall>,
}

/// The unit a dimension is counted in.
fn unit(dimension: Dimension) -> &'static str {
    match dimension {
        Dimension::Cpu => "millicpus",
        Dimension::Memory => "MiB",
        Dimension::Gpu => "GPUs",
    }
}

/// `resources` in words: `2000 millicpus and 12288 MiB` (GPUs when any).
fn amounts(resources: &Resources) -> String {
    let mut parts =
        vec![format!("{} millicpus", resources.millicpus), format!("{} MiB", resources.memory_mib)];
    if resources.gpus > 0 {
        parts.push(format!("{} GPUs", resources.gpus));
    }
    parts.join(" and ")
}

impl fmt::Display for UnschedulableReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(largest) = &self.largest else {
            return write!(f, "no allowed offering has the architecture this task needs");
        };
        write!(f, "needs {}", amounts(&self.demand))?;
        let nowhere: Vec<&Shortfall> = self.short.iter().filter(|s| s.nowhere()).collect();
        if nowhere.is_empty() {
            let most: Vec<String> = self
                .short
                .iter()
                .map(|s| {
                    format!(
                        "the most {} is {} {} ({})",
                        s.dimension,
                        s.most,
                        unit(s.dimension),
                        s.most_on
                    )
                })
                .collect();
            write!(f, "; no allowed offering has all of it together ({})", most.join(", "))?;
        } else {
            for s in nowhere {
                write!(
                    f,
                    "; no allowed offering has enough {}: the most is {} {} ({})",
                    s.dimension,
                    s.most,
                    unit(s.dimension),
                    s.most_on
                )?;
            }
        }
        write!(
            f,
            "; the closest, {} ({}), has {} usable",
            largest.type_name,
            largest.offering,
            amounts(&largest.capacity)
        )
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
/// (largest smallest ratio of capacity to demand), every resource that one
/// lacks with the most any candidate has of it, and the resource to act on.
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
    let eligible: Vec<&Candidate> =
        candidates.iter().filter(|c| crate::problem::arch_ok(task.arch, c.arch)).collect();
    let best = eligible
        .iter()
        .max_by(|a, b| closeness(a).total_cmp(&closeness(b)).then(b.offering.cmp(&a.offering)));
    let Some(c) = best else {
        return UnschedulableReason {
            demand: task.demand,
            dimension: Dimension::Cpu,
            largest: None,
            short: Vec::new(),
        };
    };
    let short: Vec<Shortfall> = [Dimension::Cpu, Dimension::Memory, Dimension::Gpu]
        .into_iter()
        .filter(|d| task.demand.get(*d) > c.capacity.get(*d))
        .filter_map(|d| {
            let most = eligible.iter().max_by(|a, b| {
                a.capacity.get(d).cmp(&b.capacity.get(d)).then(b.offering.cmp(&a.offering))
            })?;
            Some(Shortfall {
                dimension: d,
                needs: task.demand.get(d),
                most: most.capacity.get(d),
                most_on: most.type_name.to_string(),
            })
        })
        .collect();
    let dimension = short
        .iter()
        .find(|s| s.nowhere())
        .or(short.first())
        .map_or(Dimension::Cpu, |s| s.dimension);
    UnschedulableReason {
        demand: task.demand,
        dimension,
        largest: Some(LargestFit {
            offering: c.offering,
            type_name: c.type_name.to_string(),
            capacity: c.capacity,
        }),
        short,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::catalog::{Architecture, CapacityType};

    fn candidate(id: u32, name: &str, cpus: u64, memory_mib: u64) -> Candidate {
        Candidate {
            offering: OfferingId(id),
            capacity: Resources::cpus_mib(cpus, memory_mib),
            price: UsdPerHour(0.01),
            capacity_type: CapacityType::OnDemand,
            arch: Architecture::X86_64,
            type_name: Arc::from(name),
        }
    }

    /// Regression: with `c6g.medium` (1 cpu, 1.5 GiB) and `t3.nano` (2 cpus,
    /// 0.4 GiB) allowed, a task of 2 cpus and 12 GiB was said to need more
    /// cpu than the largest offering has, though `t3.nano` has 2 cpus: memory
    /// is what no offering has.
    #[test]
    fn the_reason_names_the_resource_no_offering_has_and_the_most_any_has() {
        let candidates = [candidate(1, "c6g.medium", 1, 1536), candidate(2, "t3.nano", 2, 400)];
        let task = PendingTask::new(TaskId(7), Resources::cpus_mib(2, 12_288));
        let reason = unschedulable_reason(&task, &candidates);
        assert_eq!(reason.dimension, Dimension::Memory);
        assert_eq!(reason.largest.as_ref().unwrap().type_name, "c6g.medium");
        let cpu = reason.short.iter().find(|s| s.dimension == Dimension::Cpu).unwrap();
        assert_eq!((cpu.most, cpu.most_on.as_str(), cpu.nowhere()), (2000, "t3.nano", false));
        let memory = reason.short.iter().find(|s| s.dimension == Dimension::Memory).unwrap();
        assert_eq!(
            (memory.most, memory.most_on.as_str(), memory.nowhere()),
            (1536, "c6g.medium", true)
        );
        assert_eq!(
            reason.to_string(),
            "needs 2000 millicpus and 12288 MiB; no allowed offering has enough memory: the most \
             is 1536 MiB (c6g.medium); the closest, c6g.medium (offering#1), has 1000 millicpus \
             and 1536 MiB usable"
        );
    }

    #[test]
    fn resources_found_apart_but_never_together_are_said_so() {
        let candidates = [candidate(1, "big.cpu", 8, 1024), candidate(2, "big.mem", 1, 65_536)];
        let task = PendingTask::new(TaskId(1), Resources::cpus_mib(4, 8192));
        let reason = unschedulable_reason(&task, &candidates);
        assert!(reason.short.iter().all(|s| !s.nowhere()), "{:?}", reason.short);
        let text = reason.to_string();
        assert!(text.contains("no allowed offering has all of it together"), "{text}");
        assert!(text.contains("the most cpu is 8000 millicpus (big.cpu)"), "{text}");
        assert!(
            text.ends_with(
                "the closest, big.mem (offering#2), has 1000 millicpus and 65536 MiB usable"
            ),
            "{text}"
        );
    }
}
