//! What the engine is told and what it answers.

use serde::{Deserialize, Serialize};

use crate::catalog::{Architecture, OfferingId};
use crate::problem::{InstanceId, TaskId};
use crate::resources::Resources;

/// A task as submitted by the workflow engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// Unique for the run.
    pub id: TaskId,
    /// Process (step) name, for roll-ups.
    pub process: String,
    /// What the pipeline asked for.
    pub requested: Resources,
    /// What the engine gives it; equal to `requested` unless right-sized.
    pub allocated: Resources,
    /// Architecture its container needs, if it is not multi-arch.
    pub arch: Option<Architecture>,
}

/// Something that happened, fed to [`Engine::handle`](super::Engine::handle).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// A new task wants to run.
    TaskSubmitted(TaskSpec),
    /// A launched instance finished booting and can start tasks.
    InstanceReady {
        /// The instance.
        instance: InstanceId,
    },
    /// The backend started a task the engine asked it to start.
    TaskStarted {
        /// The task.
        task: TaskId,
    },
    /// A task's process ended.
    TaskExited {
        /// The task.
        task: TaskId,
        /// Its exit code; 0 is success.
        exit_code: i32,
    },
    /// The backend stopped renting an instance (after a terminate).
    InstanceTerminated {
        /// The instance.
        instance: InstanceId,
    },
    /// The user cancels one task.
    CancelTask {
        /// The task.
        task: TaskId,
    },
    /// No more tasks will be submitted; the run ends when the last one does.
    SubmissionsClosed,
    /// The cloud will reclaim a spot instance soon (two minutes on EC2).
    /// Nothing new goes onto it; what runs there keeps running until the reclaim.
    InstanceReclaimWarning {
        /// The instance.
        instance: InstanceId,
    },
    /// The cloud took a spot instance back. Its running tasks are PREEMPTED
    /// and retried (or FAILED past the policy's attempts); tasks waiting for
    /// it are placed again.
    InstanceReclaimed {
        /// The instance.
        instance: InstanceId,
    },
    /// A launch the engine asked for did not happen.
    LaunchFailed {
        /// The engine's id for the instance that never came.
        instance: InstanceId,
        /// Why.
        reason: LaunchFailure,
    },
    /// The launcher (the workflow engine) is alive.
    Heartbeat,
    /// The user cancels the whole run: every task not ended is CANCELLED,
    /// what runs is stopped, and every instance is released.
    CancelRun,
    /// The backend cannot tell what became of a running task; its next
    /// report (started, exited, or its instance's reclaim) resolves it.
    TaskStatusUnknown {
        /// The task.
        task: TaskId,
    },
}

/// Why a launch failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LaunchFailure {
    /// The cloud has no capacity for the offering now.
    Capacity,
    /// Anything else (quota, a bad request, the backend).
    Other,
}

impl std::fmt::Display for LaunchFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LaunchFailure::Capacity => "capacity",
            LaunchFailure::Other => "other",
        })
    }
}

/// Something the engine wants done, carried out by a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Rent a new instance.
    Launch {
        /// The engine's id for it.
        instance: InstanceId,
        /// What to rent.
        offering: OfferingId,
    },
    /// Start a task on a ready instance.
    StartTask {
        /// The task.
        task: TaskId,
        /// Where.
        instance: InstanceId,
        /// What it is given.
        allocated: Resources,
    },
    /// Stop a running task.
    StopTask {
        /// The task.
        task: TaskId,
    },
    /// Stop renting an instance.
    Terminate {
        /// The instance.
        instance: InstanceId,
    },
}
