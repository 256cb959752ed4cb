//! Losing capacity: reclaim notices, reclaims, and launches that fail.
//!
//! - A reclaim notice stops new work going onto the instance and takes back
//!   the tasks placed there that have not started; what runs keeps running.
//! - A reclaim turns each running task PREEMPTED. It is resubmitted while it
//!   has attempts left (`max_attempts` starts in all) and FAILED after; tasks
//!   placed there but not started go back to pending as they were.
//! - A failed launch puts its tasks back to pending and leaves the offering
//!   out of placement for `spot_shortage_ttl_s`, doubled for each further
//!   refusal for capacity before one of its instances is ready again (up to
//!   [`SHORTAGE_BACKOFF_MAX`] times the ttl): a lasting shortage is asked
//!   about a few times an hour, not at every decision. Under `spotFirst` a task
//!   refused `max_spot_attempts` times goes on demand; under `spot` it waits
//!   the ttl, doubled for each wait since it last started (with the same
//!   cap), then tries again.
//! - A spot instance reclaimed (or given notice) before it was ready counts
//!   as a refusal for capacity, as a failed launch does: otherwise a reclaim
//!   storm during boots would launch spot again and again.

use tracing::{debug, info, warn};

use super::{
    close_run, set_status, Engine, EngineError, InstanceEnd, InstanceStatus, LaunchFailure,
    WaitReason,
};
use crate::catalog::{CapacityType, OfferingId};
use crate::lifecycle::TaskStatus;
use crate::policy::ProvisioningModel;
use crate::problem::{InstanceId, TaskId};
use crate::time::Millis;

/// The longest an offering is left out after repeated capacity refusals,
/// as a multiple of `Policy::spot_shortage_ttl_s` (3 s doubling to 96 min at
/// the default 180 s).
pub const SHORTAGE_BACKOFF_MAX: u64 = 32;

/// What one counted refusal did, for the log.
struct Refusal {
    /// Refusals of the offering in a row.
    refusals: u32,
    /// How long the offering is left out from now.
    left_out: Millis,
    /// The most refused launches any of the tasks has met.
    attempt: u32,
    /// Tasks that go on demand next (`spotFirst`).
    falling_back: usize,
    /// Tasks that wait for the shortage to pass (`spot`).
    waiting: usize,
}

impl Engine {
    pub(super) fn reclaim_warning(
        &mut self,
        now: Millis,
        instance: InstanceId,
    ) -> Result<(), EngineError> {
        let record = self.instance_mut(instance)?;
        if record.capacity_type != CapacityType::Spot {
            return Err(EngineError::NotSpot(instance));
        }
        if !matches!(record.status, InstanceStatus::Booting | InstanceStatus::Ready) {
            return Ok(()); // Already noticed, leaving, or gone.
        }
        let was_booting = record.status == InstanceStatus::Booting;
        record.status = InstanceStatus::Reclaiming;
        info!(%instance, "reclaim notice: no new work goes here");
        let offering = record.offering;
        let not_started: Vec<TaskId> = record.tasks.iter().copied().collect();
        self.notices.add(instance);
        self.sync_usable(instance);
        let not_started: Vec<TaskId> = not_started
            .into_iter()
            .filter(|task| {
                let record = &self.tasks[task];
                record.status == TaskStatus::Submitted && !record.dispatched
            })
            .collect();
        if was_booting {
            self.reclaimed_before_ready(now, instance, offering, not_started);
        } else {
            for task in not_started {
                self.unplace(now, task);
            }
        }
        Ok(())
    }

    pub(super) fn reclaimed(
        &mut self,
        now: Millis,
        instance: InstanceId,
    ) -> Result<(), EngineError> {
        let record = self.instance_mut(instance)?;
        if record.capacity_type != CapacityType::Spot {
            return Err(EngineError::NotSpot(instance));
        }
        if record.status == InstanceStatus::Terminated {
            return Ok(()); // A repeated report.
        }
        let was_booting = record.status == InstanceStatus::Booting;
        record.status = InstanceStatus::Terminated;
        record.ended = Some(InstanceEnd::Reclaimed);
        info!(%instance, tasks = record.tasks.len(), "instance reclaimed");
        let offering = record.offering;
        let waiting: Vec<TaskId> = record.tasks.iter().copied().collect();
        self.live.remove(&instance);
        self.sync_usable(instance);
        if was_booting {
            // Nothing ran there yet (no notice came first, or it would be
            // Reclaiming): every task on it is only waiting for it.
            self.reclaimed_before_ready(now, instance, offering, waiting);
        }
        self.lose_tasks(now, instance);
        Ok(())
    }

    pub(super) fn launch_failed(
        &mut self,
        now: Millis,
        instance: InstanceId,
        reason: LaunchFailure,
    ) -> Result<(), EngineError> {
        let record = self.instance_mut(instance)?;
        if record.status == InstanceStatus::Terminated {
            debug!(%instance, "repeated or late launch failure ignored");
            return Ok(());
        }
        if !matches!(record.status, InstanceStatus::Booting | InstanceStatus::Terminating) {
            return Err(EngineError::UnexpectedEvent {
                instance,
                status: record.status,
                event: "launch failure",
            });
        }
        record.status = InstanceStatus::Terminated;
        record.ended = Some(InstanceEnd::LaunchFailed(reason));
        let offering = record.offering;
        let capacity_type = record.capacity_type;
        let tasks: Vec<TaskId> = std::mem::take(&mut record.tasks).into_iter().collect();
        record.free = record.capacity;
        self.live.remove(&instance);
        self.sync_usable(instance);
        let refusal = self.refused(now, offering, reason, tasks);
        warn!(
            %instance,
            %offering,
            ?capacity_type,
            %reason,
            attempt = refusal.attempt,
            max = self.policy.max_spot_attempts,
            falling_back = refusal.falling_back,
            waiting = refusal.waiting,
            refusals = refusal.refusals,
            shortage_s = refusal.left_out.as_secs_f64(),
            "launch failed; offering left out while short, its tasks placed again"
        );
        Ok(())
    }

    /// A spot instance taken back before it was ready is spot capacity that
    /// was not there: counted as a capacity refusal, so that a reclaim storm
    /// during boots moves `spotFirst` tasks on demand instead of launching
    /// spot again for ever.
    fn reclaimed_before_ready(
        &mut self,
        now: Millis,
        instance: InstanceId,
        offering: OfferingId,
        tasks: Vec<TaskId>,
    ) {
        let refusal = self.refused(now, offering, LaunchFailure::Capacity, tasks);
        warn!(
            %instance,
            %offering,
            attempt = refusal.attempt,
            falling_back = refusal.falling_back,
            waiting = refusal.waiting,
            refusals = refusal.refusals,
            shortage_s = refusal.left_out.as_secs_f64(),
            "spot instance reclaimed before it was ready; counted as a capacity refusal"
        );
    }

    /// Counts a refusal of `offering` (a failed launch, or a spot instance
    /// reclaimed before it was ready): the offering is left out for a while
    /// that doubles with each refusal in a row, and `tasks` go back to
    /// pending with one more refused launch each, which under `spotFirst`
    /// sends them on demand after `max_spot_attempts`.
    fn refused(
        &mut self,
        now: Millis,
        offering: OfferingId,
        reason: LaunchFailure,
        tasks: Vec<TaskId>,
    ) -> Refusal {
        let base = self.policy.spot_shortage_ttl_s.max(1);
        // Launches of one plan refused together are one refusal: only one
        // that finds the offering not left out already counts.
        let already_out = self.shortages.get(&offering).is_some_and(|until| *until > now);
        let refusals = match reason {
            LaunchFailure::Capacity => {
                let count = self.refusals.entry(offering).or_insert(0);
                if !already_out {
                    *count = count.saturating_add(1);
                }
                (*count).max(1)
            }
            LaunchFailure::Other => 1,
        };
        let factor = 1u64.checked_shl(refusals - 1).unwrap_or(u64::MAX).min(SHORTAGE_BACKOFF_MAX);
        let left_out = Millis::from_secs(base.saturating_mul(factor));
        let until = self.shortages.entry(offering).or_insert(now);
        *until = (*until).max(now + left_out);

        let max = self.policy.max_spot_attempts;
        let (mut falling_back, mut waiting, mut attempt) = (0, 0, 0);
        for task in tasks {
            self.unplace(now, task);
            let Some(record) = self.tasks.get_mut(&task) else { continue };
            record.launch_failures += 1;
            attempt = attempt.max(record.launch_failures);
            if record.launch_failures >= max {
                match self.policy.provisioning {
                    ProvisioningModel::Spot => {
                        // Each wait since the task last started doubles the next.
                        let factor = 1u64
                            .checked_shl(record.shortage_waits)
                            .unwrap_or(u64::MAX)
                            .min(SHORTAGE_BACKOFF_MAX);
                        let wait = Millis::from_secs(base.saturating_mul(factor));
                        record.waiting = Some(WaitReason::CapacityShortage { until: now + wait });
                        record.shortage_waits = record.shortage_waits.saturating_add(1);
                        record.launch_failures = 0;
                        waiting += 1;
                    }
                    ProvisioningModel::SpotFirst => falling_back += 1,
                    ProvisioningModel::OnDemand => {}
                }
            }
        }
        Refusal { refusals, left_out, attempt, falling_back, waiting }
    }

    /// Deals with the tasks of an instance that is gone: running ones are
    /// PREEMPTED and retried or FAILED, the others go back to pending.
    pub(super) fn lose_tasks(&mut self, now: Millis, instance: InstanceId) {
        let Some(host) = self.instances.get_mut(&instance) else { return };
        let tasks: Vec<TaskId> = host.tasks.iter().copied().collect();
        let max = self.policy.max_attempts;
        for task in tasks {
            let record = &self.tasks[&task];
            if !matches!(record.status, TaskStatus::Running | TaskStatus::Unknown) {
                self.unplace(now, task);
                continue;
            }
            self.release_task(now, task);
            let Some(record) = self.tasks.get_mut(&task) else { continue };
            if set_status(record, now, TaskStatus::Preempted).is_err() {
                continue;
            }
            record.preemptions += 1;
            close_run(record, now, TaskStatus::Preempted);
            let attempt = record.attempts;
            if attempt < max && set_status(record, now, TaskStatus::Submitted).is_ok() {
                record.started_at = None;
                self.pending.insert((record.submitted_at, task));
                warn!(%task, %instance, attempt, max, "preempted; retrying");
            } else if set_status(record, now, TaskStatus::Failed).is_ok() {
                record.ended_at = Some(now);
                warn!(%task, %instance, attempt, max, "preempted on its last attempt; FAILED");
            }
        }
    }

    /// Takes a task that has not started off its instance and back to pending.
    pub(super) fn unplace(&mut self, now: Millis, task: TaskId) {
        let was_dispatched = self.tasks.get(&task).is_some_and(|r| r.dispatched);
        self.release_task(now, task);
        let Some(record) = self.tasks.get_mut(&task) else { return };
        if was_dispatched {
            // The start was asked for but never happened: it was no attempt.
            record.attempts = record.attempts.saturating_sub(1);
        }
        if record.status == TaskStatus::Submitted {
            self.pending.insert((record.submitted_at, task));
            debug!(%task, "back to pending");
        }
    }
}
