//! The engine's record of every task and instance.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::io::TaskSpec;
use crate::catalog::{Architecture, OfferingId};
use crate::lifecycle::TaskStatus;
use crate::plan::UnschedulableReason;
use crate::problem::{InstanceId, TaskId};
use crate::resources::Resources;
use crate::time::Millis;

/// One task as the engine tracks it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// As submitted.
    pub spec: TaskSpec,
    /// Its process's group id (see [`RuntimeHistory`](super::RuntimeHistory)).
    pub group: u32,
    /// Current status.
    pub status: TaskStatus,
    /// Every status it has had, with when it got it.
    pub history: Vec<(Millis, TaskStatus)>,
    /// The instance it is placed on, running or waiting for boot.
    pub instance: Option<InstanceId>,
    /// True once a start was sent for the current placement.
    pub dispatched: bool,
    /// How many times it was started.
    pub attempts: u32,
    /// When it was submitted.
    pub submitted_at: Millis,
    /// When it last started running.
    pub started_at: Option<Millis>,
    /// When it reached a terminal status.
    pub ended_at: Option<Millis>,
    /// Exit code of its last run.
    pub exit_code: Option<i32>,
    /// Why it is unschedulable, if it is.
    pub unschedulable: Option<UnschedulableReason>,
}

/// Where an instance is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InstanceStatus {
    /// Launch asked for; not ready yet.
    Booting,
    /// Can start tasks.
    Ready,
    /// Terminate asked for.
    Terminating,
    /// Gone.
    Terminated,
}

/// One instance as the engine tracks it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceRecord {
    /// The engine's id.
    pub id: InstanceId,
    /// What was rented.
    pub offering: OfferingId,
    /// Architecture of its type.
    pub arch: Architecture,
    /// Usable capacity.
    pub capacity: Resources,
    /// Capacity not given to any task.
    pub free: Resources,
    /// Current status.
    pub status: InstanceStatus,
    /// Tasks placed on it (running or waiting for boot).
    pub tasks: BTreeSet<TaskId>,
    /// When the launch was asked for.
    pub launched_at: Millis,
    /// Since when it has held no task, if it holds none.
    pub idle_since: Option<Millis>,
}

impl InstanceRecord {
    /// True while it can take tasks.
    pub fn is_usable(&self) -> bool {
        matches!(self.status, InstanceStatus::Booting | InstanceStatus::Ready)
    }
}
