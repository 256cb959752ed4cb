//! The input of one placement decision.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::catalog::{Architecture, OfferingId};
use crate::policy::Candidate;
use crate::resources::Resources;

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
}

/// One decision: place `tasks` on `instances` or on new ones from `candidates`.
#[derive(Debug, Clone)]
pub struct PlacementProblem<'a> {
    /// Tasks to place, in the order they were submitted.
    pub tasks: Vec<PendingTask>,
    /// Instances with free room, running or booting.
    pub instances: Vec<ExistingInstance>,
    /// Offerings that may be opened, as validated by the policy.
    pub candidates: &'a [Candidate],
}

impl<'a> PlacementProblem<'a> {
    /// A problem with no existing instances.
    pub fn new(tasks: Vec<PendingTask>, candidates: &'a [Candidate]) -> Self {
        PlacementProblem {
            tasks,
            instances: Vec::new(),
            candidates,
        }
    }
}

/// True when a task of architecture `need` may run on `have`.
pub(crate) fn arch_ok(need: Option<Architecture>, have: Architecture) -> bool {
    need.is_none_or(|a| a == have)
}
