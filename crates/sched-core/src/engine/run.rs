//! The run as a whole: heartbeats, cancelling it, and inspecting it.
//!
//! With `heartbeat_timeout_s` set, a run that hears no [`Event::Heartbeat`]
//! for that long becomes DANGLING: its launcher may be gone. The engine then
//! launches and places nothing new, but keeps tracking what was dispatched
//! (exits, reclaims) and still releases idle instances. The next heartbeat
//! returns the run to the status it had (ACTIVE, or TERMINATING).
//!
//! [`Event::Heartbeat`]: super::Event::Heartbeat

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::{Engine, EngineError, InstanceRecord, InstanceStatus, TaskRecord};
use crate::catalog::OfferingId;
use crate::lifecycle::{RunStatus, TaskStatus};
use crate::problem::TaskId;
use crate::resources::Resources;
use crate::time::Millis;

/// An offering left out of placement after a launch was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shortage {
    /// The offering.
    pub offering: OfferingId,
    /// Until when it is left out.
    pub until: Millis,
}

/// Everything the engine knows, for inspection, logs and tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineSnapshot {
    /// The run's status.
    pub run_status: RunStatus,
    /// True once no more tasks will come.
    pub submissions_closed: bool,
    /// Every task.
    pub tasks: Vec<TaskRecord>,
    /// Every instance ever launched.
    pub instances: Vec<InstanceRecord>,
    /// Tasks waiting for a placement, in the order they will be considered.
    pub pending: Vec<TaskId>,
    /// Offerings left out of placement for lack of capacity.
    pub shortages: Vec<Shortage>,
    /// The last heartbeat (or the first event when none came yet).
    pub last_heartbeat: Option<Millis>,
}

impl Engine {
    pub(super) fn heartbeat(&mut self, now: Millis) {
        self.last_heartbeat = Some(now);
        if self.run_status == RunStatus::Dangling {
            self.run_status = self.status_before_dangling;
            info!(run_status = %self.run_status, "heartbeat: run no longer dangling");
        }
    }

    /// When the run becomes DANGLING without a heartbeat, if it can.
    pub(super) fn heartbeat_deadline(&self) -> Option<Millis> {
        let timeout = self.policy.heartbeat_timeout_s?;
        if !matches!(self.run_status, RunStatus::Active | RunStatus::Terminating) {
            return None;
        }
        Some(self.last_heartbeat? + Millis::from_secs(timeout))
    }

    pub(super) fn check_heartbeat(&mut self, now: Millis) {
        let Some(deadline) = self.heartbeat_deadline() else { return };
        if now >= deadline {
            self.status_before_dangling = self.run_status;
            self.run_status = RunStatus::Dangling;
            warn!(
                timeout_s = self.policy.heartbeat_timeout_s.unwrap_or(0),
                "no heartbeat: run DANGLING; dispatched tasks stay tracked, nothing new is placed"
            );
        }
    }

    pub(super) fn cancel_run(&mut self, now: Millis) -> Result<(), EngineError> {
        if self.run_status.is_terminal() {
            return Ok(());
        }
        let open: Vec<TaskId> =
            self.tasks.values().filter(|t| !t.status.is_terminal()).map(|t| t.spec.id).collect();
        for task in &open {
            self.cancel_task(now, *task)?;
        }
        self.submissions_closed = true;
        if self.run_status != RunStatus::Terminating {
            self.run_status = RunStatus::Terminating;
        }
        info!(cancelled = open.len(), "run cancelled");
        Ok(())
    }

    /// The engine's whole state.
    pub fn snapshot(&self) -> EngineSnapshot {
        EngineSnapshot {
            run_status: self.run_status,
            submissions_closed: self.submissions_closed,
            tasks: self.tasks.values().cloned().collect(),
            instances: self.instances.values().cloned().collect(),
            pending: self.pending.iter().map(|&(_, id)| id).collect(),
            shortages: self
                .shortages
                .iter()
                .map(|(&offering, &until)| Shortage { offering, until })
                .collect(),
            last_heartbeat: self.last_heartbeat,
        }
    }

    /// Checks what must always hold, and says what does not: every task is
    /// on at most one instance, and exactly on the one it names; no instance
    /// holds more than its capacity, and its free room is what is left; the
    /// engine's indices of live, booting, idle and noticed instances hold
    /// every instance they should, and its copy of the usable ones matches
    /// the records; a
    /// running task is on an instance that has not ended; an ended task holds
    /// no room; pending tasks are SUBMITTED and unplaced; no task has been
    /// started more often than the policy allows.
    ///
    /// # Errors
    /// The first broken invariant, in words.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut hosts: BTreeMap<TaskId, usize> = BTreeMap::new();
        for host in self.instances.values() {
            let mut used = Resources::ZERO;
            for id in &host.tasks {
                *hosts.entry(*id).or_default() += 1;
                let Some(task) = self.tasks.get(id) else {
                    return Err(format!("{} holds unknown {id}", host.id));
                };
                if task.instance != Some(host.id) {
                    return Err(format!("{} holds {id}, which names {:?}", host.id, task.instance));
                }
                used += task.spec.allocated;
            }
            if !used.fits_in(&host.capacity) {
                return Err(format!(
                    "{} is over capacity: {used:?} > {:?}",
                    host.id, host.capacity
                ));
            }
            if self.live.contains(&host.id) == (host.status == InstanceStatus::Terminated) {
                return Err(format!(
                    "{} ({:?}) is wrongly in or out of the live set",
                    host.id, host.status
                ));
            }
            self.notices.check(host)?;
            if host.tasks.is_empty() || host.status != InstanceStatus::Terminated {
                if used + host.free != host.capacity {
                    return Err(format!("{}: free room {:?} does not add up", host.id, host.free));
                }
            } else {
                return Err(format!("{} ended holding tasks", host.id));
            }
        }
        self.usable.check(&self.instances, &self.tasks)?;
        let pending: Vec<TaskId> = self.pending.iter().map(|&(_, id)| id).collect();
        for task in self.tasks.values() {
            let id = task.spec.id;
            let on = hosts.get(&id).copied().unwrap_or(0);
            if on > 1 {
                return Err(format!("{id} is on {on} instances"));
            }
            if task.instance.is_some() != (on == 1) {
                return Err(format!("{id} names {:?} but is held by {on}", task.instance));
            }
            if task.status.is_terminal() && task.instance.is_some() {
                return Err(format!("{id} is {} but still holds room", task.status));
            }
            if matches!(task.status, TaskStatus::Running | TaskStatus::Unknown) && on != 1 {
                return Err(format!("{id} is {} on no instance", task.status));
            }
            if task.status == TaskStatus::Preempted {
                return Err(format!("{id} rests in PREEMPTED"));
            }
            let is_pending = pending.contains(&id);
            let should = task.status == TaskStatus::Submitted && task.instance.is_none();
            if is_pending != should {
                return Err(format!("{id} ({}) pending={is_pending}", task.status));
            }
            if task.attempts > self.policy.max_attempts.max(1) {
                return Err(format!("{id} started {} times", task.attempts));
            }
        }
        Ok(())
    }
}
