//! The engine's record of every task and instance.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::io::{LaunchFailure, TaskSpec};
use crate::catalog::{Architecture, CapacityType, OfferingId};
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
    /// How many times a reclaim preempted it.
    pub preemptions: u32,
    /// Launches refused for it since it last waited (see `Policy::max_spot_attempts`).
    pub launch_failures: u32,
    /// Times it waited out a shortage since it last started: each doubles
    /// the next wait (see `Engine` module `spot`).
    #[serde(default)]
    pub shortage_waits: u32,
    /// Why it waits instead of being placed, while it does.
    pub waiting: Option<WaitReason>,
    /// Every start, where and how it ended.
    pub runs: Vec<RunAttempt>,
}

/// Why a SUBMITTED task is held back from placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaitReason {
    /// Every offering that could hold it was refused for capacity lately
    /// (under `spot`, every spot offering); it is placed again at `until`.
    CapacityShortage {
        /// When it is tried again.
        until: Millis,
    },
}

impl std::fmt::Display for WaitReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WaitReason::CapacityShortage { until } => write!(
                f,
                "no capacity in any allowed offering that holds it; tried again at {until}"
            ),
        }
    }
}

/// One start of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunAttempt {
    /// Where it ran.
    pub instance: InstanceId,
    /// When the backend reported it started.
    pub started_at: Millis,
    /// When it ended, if it did.
    pub ended_at: Option<Millis>,
    /// How it ended: SUCCEEDED, FAILED, CANCELLED or PREEMPTED.
    pub outcome: Option<TaskStatus>,
}

/// Where an instance is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InstanceStatus {
    /// Launch asked for; not ready yet.
    Booting,
    /// Can start tasks.
    Ready,
    /// A reclaim notice came: takes no new task, runs what it has until the reclaim.
    Reclaiming,
    /// Terminate asked for.
    Terminating,
    /// Gone: released, reclaimed, or never launched.
    Terminated,
}

impl InstanceStatus {
    /// Every status, in declaration order.
    pub const ALL: [InstanceStatus; 5] = [
        InstanceStatus::Booting,
        InstanceStatus::Ready,
        InstanceStatus::Reclaiming,
        InstanceStatus::Terminating,
        InstanceStatus::Terminated,
    ];

    /// True when an instance may move from `self` to `next`. Any live
    /// instance may end (reclaimed, or a launch that failed); only a spot
    /// instance gets a reclaim notice, which the engine checks separately.
    pub fn can_become(self, next: InstanceStatus) -> bool {
        use InstanceStatus::*;
        match self {
            Booting => matches!(next, Ready | Reclaiming | Terminating | Terminated),
            Ready => matches!(next, Reclaiming | Terminating | Terminated),
            Reclaiming => matches!(next, Terminating | Terminated),
            Terminating => matches!(next, Terminated),
            Terminated => false,
        }
    }
}

/// How an instance ended, when it did not end by the engine's terminate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceEnd {
    /// The engine released it.
    Released,
    /// The cloud reclaimed it (spot).
    Reclaimed,
    /// It never launched.
    LaunchFailed(LaunchFailure),
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
    /// Spot or on demand.
    pub capacity_type: CapacityType,
    /// How it ended, once it did.
    pub ended: Option<InstanceEnd>,
}

impl InstanceRecord {
    /// True while it can take tasks.
    pub fn is_usable(&self) -> bool {
        matches!(self.status, InstanceStatus::Booting | InstanceStatus::Ready)
    }
}

#[cfg(test)]
mod tests {
    use super::InstanceStatus;

    /// The instance table, written out so a change to it is a visible diff.
    #[test]
    fn instance_transition_table() {
        use InstanceStatus::*;
        let legal = [
            (Booting, Ready),
            (Booting, Reclaiming),
            (Booting, Terminating),
            (Booting, Terminated),
            (Ready, Reclaiming),
            (Ready, Terminating),
            (Ready, Terminated),
            (Reclaiming, Terminating),
            (Reclaiming, Terminated),
            (Terminating, Terminated),
        ];
        for from in InstanceStatus::ALL {
            for to in InstanceStatus::ALL {
                assert_eq!(from.can_become(to), legal.contains(&(from, to)), "{from:?} -> {to:?}");
            }
        }
    }
}
