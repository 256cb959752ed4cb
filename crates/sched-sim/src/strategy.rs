//! The strategies a replay compares: ours and the usual alternatives.
//!
//! - `single-instance`: the whole run on one on-demand instance, the
//!   cheapest that holds the largest task, as a local executor would use it;
//!   tasks wait while it is full.
//! - `per-task`: one cheapest-fitting instance per task, released when the
//!   task ends; no packing, like a batch queue's best fit.
//! - `greedy`: our engine with the greedy solver under the chosen policy.
//! - `milp`, `auto`: our engine with the exact solver on every decision, or
//!   where the reduced problem is small enough (`--solver`).
//! - `greedy-rightsized`: `greedy`, each task given the resources a
//!   right-sizing model recommends for its process; a task killed for
//!   memory FAILS.
//! - `greedy-rightsized-guarded`: the same, with a task killed for memory
//!   retried with more, stepping up to its request (`docs/rightsizing.md`).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use sched_core::catalog::CapacityType;
use sched_core::plan::{unschedulable_reason, Placement, Plan, Unschedulable};
use sched_core::policy::Candidate;
use sched_core::problem::PlacementProblem;
use sched_core::resources::Resources;
use sched_core::solver::{Auto, Greedy, Milp, MilpConfig, Solver};
use serde::{Deserialize, Serialize};

/// A named way to run a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// One on-demand instance for the whole run.
    SingleInstance,
    /// One instance per task.
    PerTask,
    /// Our engine with the greedy solver.
    Greedy,
    /// Our engine with the MILP solver on every decision.
    Milp,
    /// Our engine with the MILP where the problem is small, greedy elsewhere.
    Auto,
    /// The greedy engine with right-sized allocations, no OOM retries.
    GreedyRightsized,
    /// The greedy engine with right-sized allocations and OOM retries.
    GreedyRightsizedGuarded,
}

impl Strategy {
    /// The baselines and the greedy engine, in report order.
    pub const BASELINES_AND_GREEDY: [Strategy; 3] =
        [Strategy::SingleInstance, Strategy::PerTask, Strategy::Greedy];

    /// The right-sized strategies, in report order.
    pub const RIGHTSIZED: [Strategy; 2] =
        [Strategy::GreedyRightsized, Strategy::GreedyRightsizedGuarded];

    /// Every strategy, for parsing names.
    pub const ALL: [Strategy; 7] = [
        Strategy::SingleInstance,
        Strategy::PerTask,
        Strategy::Greedy,
        Strategy::Milp,
        Strategy::Auto,
        Strategy::GreedyRightsized,
        Strategy::GreedyRightsizedGuarded,
    ];

    /// The strategy named `name` (as [`Strategy::name`] spells it).
    pub fn from_name(name: &str) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|s| s.name() == name)
    }

    /// True when tasks get right-sized allocations.
    pub fn is_rightsized(self) -> bool {
        matches!(self, Strategy::GreedyRightsized | Strategy::GreedyRightsizedGuarded)
    }

    /// The name used in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::SingleInstance => "single-instance",
            Strategy::PerTask => "per-task",
            Strategy::Greedy => "greedy",
            Strategy::Milp => "milp",
            Strategy::Auto => "auto",
            Strategy::GreedyRightsized => "greedy-rightsized",
            Strategy::GreedyRightsizedGuarded => "greedy-rightsized-guarded",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The cheapest on-demand candidate that holds every demand in `demands`
/// that any candidate can hold; `None` when no on-demand candidate exists.
pub fn single_instance_choice(
    candidates: &[Candidate],
    demands: &[Resources],
) -> Option<Candidate> {
    let on_demand: Vec<&Candidate> =
        candidates.iter().filter(|c| c.capacity_type == CapacityType::OnDemand).collect();
    let holdable: Vec<&Resources> =
        demands.iter().filter(|d| on_demand.iter().any(|c| d.fits_in(&c.capacity))).collect();
    let envelope = holdable.iter().fold(Resources::ZERO, |acc, d| Resources {
        millicpus: acc.millicpus.max(d.millicpus),
        memory_mib: acc.memory_mib.max(d.memory_mib),
        gpus: acc.gpus.max(d.gpus),
    });
    let cheapest = |ok: &dyn Fn(&Candidate) -> bool| {
        on_demand
            .iter()
            .filter(|c| ok(c))
            .min_by(|a, b| a.price.0.total_cmp(&b.price.0).then(a.offering.cmp(&b.offering)))
            .map(|c| (*c).clone())
    };
    // No single type may hold the envelope (most cpu and most memory come
    // from different tasks); then take the one that holds the most tasks.
    cheapest(&|c| envelope.fits_in(&c.capacity)).or_else(|| {
        let held = |c: &Candidate| holdable.iter().filter(|d| d.fits_in(&c.capacity)).count();
        let most = on_demand.iter().map(|c| held(c)).max()?;
        cheapest(&|c| held(c) == most)
    })
}

/// Solver for `single-instance`: launches its one instance once, then only
/// fills it, first come first served; tasks that do not fit now wait.
#[derive(Debug)]
pub struct SingleInstance {
    instance: Candidate,
    launched: AtomicBool,
}

impl SingleInstance {
    /// A fleet of one `instance`.
    pub fn new(instance: Candidate) -> Self {
        SingleInstance { instance, launched: AtomicBool::new(false) }
    }
}

impl Solver for SingleInstance {
    fn name(&self) -> &str {
        "single-instance"
    }

    fn solve(&self, problem: &PlacementProblem<'_>) -> Plan {
        let mut plan = Plan::default();
        let only = std::slice::from_ref(&self.instance);
        let (mut free, placement) = match problem.instances.first() {
            Some(existing) => (existing.free, Placement::Existing(existing.id)),
            None if !self.launched.swap(true, Ordering::Relaxed) => {
                (self.instance.capacity, Placement::New(plan.push_launch(&self.instance)))
            }
            // The one instance is full: it is not offered as free room.
            None => (Resources::ZERO, Placement::New(usize::MAX)),
        };
        for task in &problem.tasks {
            if !task.demand.fits_in(&self.instance.capacity) {
                let reason = unschedulable_reason(task, only);
                plan.unschedulable.push(Unschedulable { task: task.id, reason });
            } else if let Some(left) = free.checked_sub(&task.demand) {
                free = left;
                plan.assign(task.id, placement);
            } else {
                plan.deferred.push(task.id);
            }
        }
        plan
    }
}

/// Solver for `per-task`: every task gets a new instance of the cheapest
/// candidate that holds it.
#[derive(Debug, Default, Clone, Copy)]
pub struct PerTask;

impl Solver for PerTask {
    fn name(&self) -> &str {
        "per-task"
    }

    fn solve(&self, problem: &PlacementProblem<'_>) -> Plan {
        let mut plan = Plan::default();
        for task in &problem.tasks {
            let cheapest = problem
                .candidates
                .iter()
                .filter(|c| task.demand.fits_in(&c.capacity))
                .filter(|c| task.arch.is_none_or(|a| a == c.arch))
                .min_by(|a, b| a.price.0.total_cmp(&b.price.0).then(a.offering.cmp(&b.offering)));
            match cheapest {
                Some(c) => {
                    let launch = plan.push_launch(c);
                    plan.assign(task.id, Placement::New(launch));
                }
                None => plan.unschedulable.push(Unschedulable {
                    task: task.id,
                    reason: unschedulable_reason(task, problem.candidates),
                }),
            }
        }
        plan
    }
}

/// The solver a strategy runs with; `single` is the fixed instance of
/// `single-instance` and `milp` the exact solver's limits.
pub fn solver_for(
    strategy: Strategy,
    single: Option<Candidate>,
    milp: MilpConfig,
) -> Box<dyn Solver> {
    match (strategy, single) {
        (Strategy::SingleInstance, Some(c)) => Box::new(SingleInstance::new(c)),
        (Strategy::SingleInstance, None) | (Strategy::PerTask, _) => Box::new(PerTask),
        (Strategy::Greedy | Strategy::GreedyRightsized | Strategy::GreedyRightsizedGuarded, _) => {
            Box::new(Greedy)
        }
        (Strategy::Milp, _) => Box::new(Milp::new(milp)),
        (Strategy::Auto, _) => Box::new(Auto::new(milp, Auto::default().max_milp_variables)),
    }
}
