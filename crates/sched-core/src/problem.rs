//! The input of one placement decision.
//!
//! A [`PlacementProblem`] is what changes from one decision to the next (the
//! tasks, the free room); the offerings it may open are a [`CandidateSet`],
//! prepared once per catalog and policy and shared by every decision.

mod candidates;

use std::fmt;

use serde::{Deserialize, Serialize};

pub(crate) use candidates::prune_dominated_by;
pub use candidates::CandidateSet;

use crate::catalog::{Architecture, OfferingId};
use crate::resources::Resources;
use crate::time::Millis;

/// Identifies a task for the whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(pub u64);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task#{}", self.0)
    }
}

/// Identifies an instance for the whole run (launched or booting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InstanceId(pub u64);

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "instance#{}", self.0)
    }
}

/// A task waiting to be placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTask {
    /// The task.
    pub id: TaskId,
    /// What it must be given (already Allocated, not merely Requested).
    pub demand: Resources,
    /// Architecture its container needs, if it is not multi-arch.
    pub arch: Option<Architecture>,
    /// Packing affinity: tasks of one group (one pipeline process, say) are
    /// expected to run for similar times. Tasks of different groups whose
    /// runtimes are unknown are never packed together into a new instance.
    pub group: u32,
    /// Expected runtime, where history gives one.
    pub expected_runtime: Option<Millis>,
}

impl PendingTask {
    /// A task of group 0 with no runtime estimate.
    pub fn new(id: TaskId, demand: Resources) -> Self {
        PendingTask { id, demand, arch: None, group: 0, expected_runtime: None }
    }
}

/// Free room on an instance that is running or booting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExistingInstance {
    /// The instance.
    pub id: InstanceId,
    /// The offering it was launched from.
    pub offering: OfferingId,
    /// Architecture of its type.
    pub arch: Architecture,
    /// Capacity not yet given to any task.
    pub free: Resources,
    /// Expected time until every task already on it has ended; `None` when
    /// some task's runtime is unknown.
    pub busy_for: Option<Millis>,
}

/// One decision: place `tasks` on `instances` or on new ones from `candidates`.
#[derive(Debug, Clone)]
pub struct PlacementProblem<'a> {
    /// Tasks to place, in the order they were submitted.
    pub tasks: Vec<PendingTask>,
    /// Instances with free room, running or booting.
    pub instances: Vec<ExistingInstance>,
    /// Offerings that may be opened, as validated by the policy, prepared
    /// once ([`CandidateSet`]). Their reclaim risk, if the set carries one
    /// ([`CandidateSet::risk`]), is what solvers that use it score new bins
    /// with ([`SpotRisk::effective_price`](crate::policy::SpotRisk::effective_price));
    /// the greedy one does, the exact one prices at the billed price.
    pub candidates: &'a CandidateSet,
    /// Billed time before a new instance is useful (its boot), used to
    /// weigh extending an existing instance against opening a new one.
    pub launch_overhead: Millis,
}

impl<'a> PlacementProblem<'a> {
    /// A problem with no existing instances.
    pub fn new(tasks: Vec<PendingTask>, candidates: &'a CandidateSet) -> Self {
        PlacementProblem { tasks, instances: Vec::new(), candidates, launch_overhead: Millis(0) }
    }
}

/// True when a task of architecture `need` may run on `have`.
pub(crate) fn arch_ok(need: Option<Architecture>, have: Architecture) -> bool {
    need.is_none_or(|a| a == have)
}
