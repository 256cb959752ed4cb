//! Task and run statuses, and the transitions allowed between them.
//!
//! Transitions are explicit: [`TaskStatus::transition`] and
//! [`RunStatus::transition`] refuse an illegal one with an error instead of
//! overwriting the status, so a bug in a driver shows up where it happens.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    /// Accepted and waiting for capacity (or for its instance to boot).
    Submitted,
    /// Started on an instance.
    Running,
    /// Exited with code 0. Terminal.
    Succeeded,
    /// Exited with another code, or gave up after its retries. Terminal.
    Failed,
    /// Stopped on request. Terminal.
    Cancelled,
    /// Its spot instance was reclaimed; it will be retried or failed.
    Preempted,
    /// No allowed offering can hold it. Terminal.
    Unschedulable,
    /// The backend cannot tell; the next report resolves it.
    Unknown,
}

impl TaskStatus {
    /// Every status, in declaration order.
    pub const ALL: [TaskStatus; 8] = [
        TaskStatus::Submitted,
        TaskStatus::Running,
        TaskStatus::Succeeded,
        TaskStatus::Failed,
        TaskStatus::Cancelled,
        TaskStatus::Preempted,
        TaskStatus::Unschedulable,
        TaskStatus::Unknown,
    ];

    /// True for statuses a task never leaves.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Succeeded
                | TaskStatus::Failed
                | TaskStatus::Cancelled
                | TaskStatus::Unschedulable
        )
    }

    /// True when a task may move from `self` to `next`.
    pub fn can_become(self, next: TaskStatus) -> bool {
        use TaskStatus::*;
        match self {
            Submitted => matches!(next, Running | Cancelled | Unschedulable | Failed),
            Running => matches!(next, Succeeded | Failed | Cancelled | Preempted | Unknown),
            Preempted => matches!(next, Submitted | Failed | Cancelled),
            Unknown => matches!(next, Running | Succeeded | Failed | Cancelled | Preempted),
            Succeeded | Failed | Cancelled | Unschedulable => false,
        }
    }

    /// `next` if the move is legal, an error otherwise.
    ///
    /// # Errors
    /// [`TransitionError::Task`] when `self` cannot become `next`.
    pub fn transition(self, next: TaskStatus) -> Result<TaskStatus, TransitionError> {
        if self.can_become(next) {
            Ok(next)
        } else {
            Err(TransitionError::Task { from: self, to: next })
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaskStatus::Submitted => "SUBMITTED",
            TaskStatus::Running => "RUNNING",
            TaskStatus::Succeeded => "SUCCEEDED",
            TaskStatus::Failed => "FAILED",
            TaskStatus::Cancelled => "CANCELLED",
            TaskStatus::Preempted => "PREEMPTED",
            TaskStatus::Unschedulable => "UNSCHEDULABLE",
            TaskStatus::Unknown => "UNKNOWN",
        })
    }
}

/// Where a whole run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// Accepting and running tasks.
    Active,
    /// No new tasks; the last ones are finishing or being cancelled.
    Terminating,
    /// Every task ended and every instance was released. Terminal.
    Terminated,
    /// The run could not go on. Terminal.
    Failed,
    /// The launcher stopped sending heartbeats; dispatched tasks are still tracked.
    Dangling,
}

impl RunStatus {
    /// Every status, in declaration order.
    pub const ALL: [RunStatus; 5] = [
        RunStatus::Active,
        RunStatus::Terminating,
        RunStatus::Terminated,
        RunStatus::Failed,
        RunStatus::Dangling,
    ];

    /// True for statuses a run never leaves.
    pub fn is_terminal(self) -> bool {
        matches!(self, RunStatus::Terminated | RunStatus::Failed)
    }

    /// True when a run may move from `self` to `next`.
    pub fn can_become(self, next: RunStatus) -> bool {
        use RunStatus::*;
        match self {
            Active => matches!(next, Terminating | Failed | Dangling),
            Dangling => matches!(next, Active | Terminating | Failed),
            Terminating => matches!(next, Terminated | Failed | Dangling),
            Terminated | Failed => false,
        }
    }

    /// `next` if the move is legal, an error otherwise.
    ///
    /// # Errors
    /// [`TransitionError::Run`] when `self` cannot become `next`.
    pub fn transition(self, next: RunStatus) -> Result<RunStatus, TransitionError> {
        if self.can_become(next) {
            Ok(next)
        } else {
            Err(TransitionError::Run { from: self, to: next })
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RunStatus::Active => "ACTIVE",
            RunStatus::Terminating => "TERMINATING",
            RunStatus::Terminated => "TERMINATED",
            RunStatus::Failed => "FAILED",
            RunStatus::Dangling => "DANGLING",
        })
    }
}

/// An illegal status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TransitionError {
    /// A task cannot make this move.
    #[error("a task cannot go from {from} to {to}")]
    Task {
        /// Current status.
        from: TaskStatus,
        /// Refused status.
        to: TaskStatus,
    },
    /// A run cannot make this move.
    #[error("a run cannot go from {from} to {to}")]
    Run {
        /// Current status.
        from: RunStatus,
        /// Refused status.
        to: RunStatus,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole task table, written out so a change to it is a visible diff.
    #[test]
    fn task_transition_table() {
        use TaskStatus::*;
        let legal = [
            (Submitted, Running),
            (Submitted, Cancelled),
            (Submitted, Unschedulable),
            (Submitted, Failed),
            (Running, Succeeded),
            (Running, Failed),
            (Running, Cancelled),
            (Running, Preempted),
            (Running, Unknown),
            (Preempted, Submitted),
            (Preempted, Failed),
            (Preempted, Cancelled),
            (Unknown, Running),
            (Unknown, Succeeded),
            (Unknown, Failed),
            (Unknown, Cancelled),
            (Unknown, Preempted),
        ];
        for from in TaskStatus::ALL {
            for to in TaskStatus::ALL {
                let expected = legal.contains(&(from, to));
                assert_eq!(from.can_become(to), expected, "{from} -> {to}");
                assert_eq!(from.transition(to).is_ok(), expected);
            }
            if from.is_terminal() {
                assert!(TaskStatus::ALL.iter().all(|&to| !from.can_become(to)));
            }
        }
    }

    #[test]
    fn run_transition_table() {
        use RunStatus::*;
        let legal = [
            (Active, Terminating),
            (Active, Failed),
            (Active, Dangling),
            (Dangling, Active),
            (Dangling, Terminating),
            (Dangling, Failed),
            (Terminating, Terminated),
            (Terminating, Failed),
            (Terminating, Dangling),
        ];
        for from in RunStatus::ALL {
            for to in RunStatus::ALL {
                assert_eq!(from.can_become(to), legal.contains(&(from, to)), "{from} -> {to}");
            }
        }
        let err = Terminated.transition(Active).unwrap_err();
        assert_eq!(err.to_string(), "a run cannot go from TERMINATED to ACTIVE");
    }
}
