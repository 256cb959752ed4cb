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

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Mutex;

use sched_core::catalog::CapacityType;
use sched_core::plan::{unschedulable_reason, Placement, Plan, Unschedulable};
use sched_core::policy::Candidate;
use sched_core::problem::{PlacementProblem, TaskId};
use sched_core::resources::Resources;
use sched_core::solver::{Auto, Greedy, Milp, MilpConfig, Solver};
use serde::{Deserialize, Serialize};
use tracing::debug;

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

/// Solver for `single-instance`: one instance at a time, filled first come
/// first served; tasks that do not fit now wait.
///
/// The engine offers a solver only instances with free room, so "no
/// instance offered" means either that the one instance is exactly full or
/// that it is gone (its launch was refused, it never became ready, the
/// provider lost it). The solver tells the two apart from what it did
/// itself: an instance it left with free room would still be offered while
/// it lives, and the tasks of a lost instance come back to be placed again.
/// A gone instance is replaced by a new one, unless its offering is left out
/// for a shortage, in which case the tasks are returned unplaced and the
/// engine makes them wait for the shortage to end.
#[derive(Debug)]
pub struct SingleInstance {
    instance: Candidate,
    fleet: Mutex<Fleet>,
}

/// What `single-instance` knows of its instance between decisions.
#[derive(Debug, Default)]
struct Fleet {
    /// An instance was launched and not found gone since.
    launched: bool,
    /// The last placement left no free room on it.
    full: bool,
    /// Tasks placed on the current instance.
    on_it: BTreeSet<TaskId>,
}

impl SingleInstance {
    /// A fleet of one `instance`.
    pub fn new(instance: Candidate) -> Self {
        SingleInstance { instance, fleet: Mutex::new(Fleet::default()) }
    }
}

impl Solver for SingleInstance {
    fn name(&self) -> &str {
        "single-instance"
    }

    fn solve(&self, problem: &PlacementProblem<'_>) -> Plan {
        let mut plan = Plan::default();
        // The state is consistent between statements, so a poisoned lock is usable.
        let mut fleet = self.fleet.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let only = std::slice::from_ref(&self.instance);
        let offered = problem.instances.iter().find(|i| i.offering == self.instance.offering);
        let came_back = problem.tasks.iter().any(|t| fleet.on_it.contains(&t.id));
        let short = !problem.candidates.iter().any(|c| c.offering == self.instance.offering);
        let (mut free, placement) = match offered {
            Some(existing) => (existing.free, Some(Placement::Existing(existing.id))),
            // Alive and exactly full: the tasks wait for room.
            None if fleet.launched && fleet.full && !came_back => (Resources::ZERO, None),
            // Gone (or never launched), and its offering refused lately:
            // returned unplaced, the tasks wait for the shortage to end.
            None if short => {
                for task in &problem.tasks {
                    let reason = unschedulable_reason(task, only);
                    plan.unschedulable.push(Unschedulable { task: task.id, reason });
                }
                return plan;
            }
            // Nothing to put on a new one.
            None if !problem.tasks.iter().any(|t| t.demand.fits_in(&self.instance.capacity)) => {
                (Resources::ZERO, None)
            }
            None => {
                if fleet.launched {
                    debug!(offering = %self.instance.offering, "single instance gone; launching another");
                }
                fleet.launched = true;
                fleet.on_it.clear();
                let launch = plan.push_launch(&self.instance);
                (self.instance.capacity, Some(Placement::New(launch)))
            }
        };
        for task in &problem.tasks {
            if !task.demand.fits_in(&self.instance.capacity) {
                let reason = unschedulable_reason(task, only);
                plan.unschedulable.push(Unschedulable { task: task.id, reason });
                continue;
            }
            match (placement, free.checked_sub(&task.demand)) {
                (Some(placement), Some(left)) => {
                    free = left;
                    plan.assign(task.id, placement);
                    fleet.on_it.insert(task.id);
                }
                _ => plan.deferred.push(task.id),
            }
        }
        if placement.is_some() {
            fleet.full = free.is_zero();
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
