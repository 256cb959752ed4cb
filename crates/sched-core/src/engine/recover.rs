//! Recovering from a provider that misbehaves, and from a restart.
//!
//! - Boot deadline: an instance not ready `ready_timeout_s` after its launch
//!   is given up: terminated, its tasks placed again.
//! - Reconciliation: [`Engine::reconcile`] compares the engine's view with an
//!   [`Inventory`] of what the provider rents and runs, and answers the
//!   actions that make them agree: terminate what the provider still bills
//!   but the engine has ended (a leak), stop what runs for a task that has
//!   ended. Instances the provider no longer holds are taken as lost.
//! - Restart: [`Engine::resume`] builds an engine from an inventory and the
//!   tasks still open, adopting what runs so nothing is started twice.
//!
//! Reports in flight make the provider's view lead the engine's: a task the
//! provider no longer runs may have an exit report on its way, so the
//! engine never acts on that direction; the report resolves it.

use tracing::{info, warn};

use super::{
    Action, Engine, EngineError, InstanceEnd, InstanceRecord, InstanceStatus, LaunchFailure,
    RunAttempt, TaskSpec,
};
use crate::lifecycle::TaskStatus;
use crate::policy::{Candidate, Policy};
use crate::provider::inventory::Inventory;
use crate::solver::Solver;
use crate::time::Millis;

impl Engine {
    /// When the oldest booting instance's boot deadline passes, if any.
    pub(super) fn boot_deadline(&self) -> Option<Millis> {
        let timeout = Millis::from_secs(self.policy.ready_timeout_s?);
        Some(self.usable.first_boot()? + timeout)
    }

    /// Gives up instances that did not become ready in time.
    pub(super) fn give_up_boots(&mut self, now: Millis, actions: &mut Vec<Action>) {
        let Some(timeout) = self.policy.ready_timeout_s.map(Millis::from_secs) else { return };
        // Late: launched_at + timeout <= now (nothing is, before the timeout).
        let Some(by) = now.0.checked_sub(timeout.0) else { return };
        for instance in self.usable.booting_since(Millis(by)) {
            let tasks: Vec<_> = match self.instances.get_mut(&instance) {
                Some(record) => {
                    record.status = InstanceStatus::Terminating;
                    record.ended = Some(InstanceEnd::LaunchFailed(LaunchFailure::Other));
                    record.tasks.iter().copied().collect()
                }
                None => continue,
            };
            self.sync_usable(instance);
            warn!(
                %instance,
                timeout_s = timeout.as_secs_f64(),
                tasks = tasks.len(),
                "instance never became ready; giving it up, its tasks placed again"
            );
            for task in tasks {
                self.unplace(now, task);
            }
            actions.push(Action::Terminate { instance });
        }
    }

    /// The actions that bring the provider in line with the engine, and the
    /// engine in line with the provider, from the provider's `inventory`.
    pub fn reconcile(&mut self, now: Millis, inventory: &Inventory) -> Vec<Action> {
        let mut actions = Vec::new();
        for &instance in inventory.instances.keys() {
            match self.instances.get(&instance).map(|i| i.status) {
                None | Some(InstanceStatus::Terminated) | Some(InstanceStatus::Terminating) => {
                    warn!(%instance, "reconcile: the provider still rents an ended instance; terminating it");
                    actions.push(Action::Terminate { instance });
                }
                Some(_) => {}
            }
        }
        let gone: Vec<_> = self
            .live
            .iter()
            .filter(|id| {
                matches!(
                    self.instances[id].status,
                    InstanceStatus::Ready | InstanceStatus::Reclaiming
                ) && !inventory.instances.contains_key(id)
            })
            .copied()
            .collect();
        for instance in gone {
            warn!(%instance, "reconcile: the provider no longer rents this instance; its tasks are lost");
            if let Some(record) = self.instances.get_mut(&instance) {
                record.status = InstanceStatus::Terminated;
                record.ended.get_or_insert(InstanceEnd::Released);
            }
            self.live.remove(&instance);
            self.sync_usable(instance);
            self.lose_tasks(now, instance);
        }
        for (&task, &instance) in &inventory.running {
            let wanted = self.tasks.get(&task).is_some_and(|t| !t.status.is_terminal());
            if !wanted {
                warn!(%task, %instance, "reconcile: the provider runs an ended task; stopping it");
                actions.push(Action::StopTask { task });
            }
        }
        actions
    }

    /// Where the engine's view and the provider's `inventory` disagree in a
    /// way no report in flight explains: an instance the provider rents that
    /// the engine has ended or never launched, or a task the provider runs
    /// that has ended or is unknown. Empty after a reconciliation whose
    /// actions were carried out.
    pub fn disagreements(&self, inventory: &Inventory) -> Vec<String> {
        let mut out = Vec::new();
        for &instance in inventory.instances.keys() {
            match self.instances.get(&instance).map(|i| i.status) {
                None => out.push(format!("{instance} is rented but unknown to the engine")),
                Some(InstanceStatus::Terminated) => {
                    out.push(format!("{instance} is rented but ended in the engine"));
                }
                Some(_) => {}
            }
        }
        for (&task, &instance) in &inventory.running {
            match self.tasks.get(&task) {
                None => out.push(format!("{task} runs on {instance} but is unknown")),
                Some(t) if t.status.is_terminal() => {
                    out.push(format!("{task} runs on {instance} but is {}", t.status));
                }
                Some(_) => {}
            }
        }
        out
    }

    /// An engine restarted at `now` from what a provider holds: its
    /// instances are adopted (ready or booting as reported), `open` tasks
    /// (those not ended before the restart) are submitted again, and each
    /// one the provider runs is adopted as RUNNING where it runs, so it is
    /// not started a second time. Also returns the actions that clean up
    /// what the new engine cannot use: instances of offerings the policy no
    /// longer allows, and runs of tasks that are not open.
    ///
    /// # Errors
    /// A task spec the engine refuses (duplicate id, no cpu or memory).
    pub fn resume(
        policy: Policy,
        candidates: Vec<Candidate>,
        solver: Box<dyn Solver>,
        now: Millis,
        inventory: &Inventory,
        open: Vec<TaskSpec>,
    ) -> Result<(Engine, Vec<Action>), EngineError> {
        let mut engine = Engine::new(policy, candidates, solver);
        let mut actions = Vec::new();
        if let Some(last) = inventory.last_instance {
            engine.next_instance = engine.next_instance.max(last.0 + 1);
        }
        for (&id, held) in &inventory.instances {
            engine.next_instance = engine.next_instance.max(id.0 + 1);
            let Some(known) = engine.pools.all().get(held.offering) else {
                warn!(instance = %id, offering = %held.offering, "resume: offering not allowed; terminating");
                actions.push(Action::Terminate { instance: id });
                continue;
            };
            let status = if held.ready { InstanceStatus::Ready } else { InstanceStatus::Booting };
            engine.instances.insert(
                id,
                InstanceRecord {
                    id,
                    offering: held.offering,
                    arch: known.arch,
                    capacity: known.capacity,
                    free: known.capacity,
                    status,
                    tasks: Default::default(),
                    launched_at: now,
                    idle_since: held.ready.then_some(now),
                    capacity_type: known.capacity_type,
                    ended: None,
                },
            );
            engine.live.insert(id);
            engine.sync_usable(id);
        }
        let open_ids: std::collections::BTreeSet<_> = open.iter().map(|s| s.id).collect();
        for spec in open {
            let id = spec.id;
            engine.submit(now, spec)?;
            let Some(&instance) = inventory.running.get(&id) else { continue };
            if engine.adopt_running(now, id, instance).is_err() {
                warn!(task = %id, %instance, "resume: cannot adopt the run; stopping it, the task placed again");
                actions.push(Action::StopTask { task: id });
            }
        }
        for &task in inventory.running.keys().filter(|t| !open_ids.contains(t)) {
            actions.push(Action::StopTask { task });
        }
        info!(
            instances = engine.instances.len(),
            tasks = engine.tasks.len(),
            adopted = inventory.running.len(),
            "engine resumed from the provider's state"
        );
        Ok((engine, actions))
    }

    /// Takes a submitted task as already running on `instance`.
    fn adopt_running(
        &mut self,
        now: Millis,
        task: crate::problem::TaskId,
        instance: crate::problem::InstanceId,
    ) -> Result<(), ()> {
        let usable =
            self.instances.get(&instance).is_some_and(|i| i.status == InstanceStatus::Ready);
        if !usable {
            return Err(());
        }
        self.place(task, instance);
        let record = self.tasks.get_mut(&task).ok_or(())?;
        if record.instance != Some(instance) {
            return Err(()); // It did not fit.
        }
        record.dispatched = true;
        record.attempts = 1;
        super::set_status(record, now, TaskStatus::Running).map_err(|_| ())?;
        record.started_at = Some(now);
        record.runs.push(RunAttempt { instance, started_at: now, ended_at: None, outcome: None });
        self.sync_usable(instance);
        self.to_start.remove(&task);
        Ok(())
    }
}
