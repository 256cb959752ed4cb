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
        let ratio = |have: u64, need: u64| if need == 0 { f64::INFINITY } else { have as f64 / need as f64 };
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
        None => UnschedulableReason { demand: task.demand, dimension: Dimension::Cpu, largest: None },
    }
}
