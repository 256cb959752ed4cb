//! The sans-I/O scheduling engine.
//!
//! The engine owns the state of a run (every task and instance) and nothing
//! else: whoever drives it owns the clock and the I/O. A driver feeds it
//! [`Event`]s with [`Engine::handle`] and, whenever it likes (after a batch
//! of events, or when [`Engine::next_wakeup`] says so), asks
//! [`Engine::decide`] for the [`Action`]s to carry out. Deciding in batches
//! lets one solver call place every task that arrived at the same moment.
//!
//! - `place`: the provisioning models. `spotFirst` places on spot, then on
//!   demand what no available spot offering holds; offerings refused for
//!   capacity are left out for a while.
//! - `spot`: reclaim notices, reclaims (PREEMPTED, then retried or FAILED),
//!   and failed launches.
//! - `run`: heartbeats (DANGLING and back), cancelling the run, and the
//!   [`EngineSnapshot`] with its invariants.
//! - `usable`: what a decision reads of each usable instance (free room,
//!   tasks, boots in launch order, idle ones in idle order), kept beside the
//!   records so it costs no lookup in the maps of the whole run.
//! - `timers`: the instances under a reclaim notice, released once empty.
//!
//! The same engine runs in the simulator and against a real cloud.

mod history;
mod io;
mod place;
mod recover;
mod run;
mod spot;
mod state;
mod timers;
mod usable;

use std::collections::{BTreeMap, BTreeSet};

use thiserror::Error;
use tracing::{debug, info};

pub use history::RuntimeHistory;
pub use io::{Action, Event, LaunchFailure, TaskSpec};
pub use run::{EngineSnapshot, Shortage};
pub use spot::SHORTAGE_BACKOFF_MAX;
pub use state::{InstanceEnd, InstanceRecord, InstanceStatus, RunAttempt, TaskRecord, WaitReason};

use crate::catalog::OfferingId;
use crate::lifecycle::{RunStatus, TaskStatus, TransitionError};
use crate::policy::{Candidate, Policy, SpotRisk};
use crate::problem::{CandidateSet, InstanceId, TaskId};
use crate::solver::Solver;
use crate::time::Millis;

/// Why the engine refused an event.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The event names a task the engine never saw.
    #[error("unknown {0}")]
    UnknownTask(TaskId),
    /// The event names an instance the engine never launched.
    #[error("unknown {0}")]
    UnknownInstance(InstanceId),
    /// A task id was submitted twice.
    #[error("{0} was already submitted")]
    DuplicateTask(TaskId),
    /// A task asks for no cpu or no memory.
    #[error("{task} asks for {what}; every task needs some cpu and memory")]
    EmptyDemand {
        /// The task.
        task: TaskId,
        /// What it lacks.
        what: &'static str,
    },
    /// A task was submitted after submissions closed.
    #[error("{0} was submitted after submissions were closed")]
    SubmissionsClosed(TaskId),
    /// A spot-only event (a reclaim) names an on-demand instance.
    #[error("{0} is on demand; only spot instances are reclaimed")]
    NotSpot(InstanceId),
    /// The event does not fit the instance's status.
    #[error("{instance} is {status:?}; a {event} cannot happen now")]
    UnexpectedEvent {
        /// The instance.
        instance: InstanceId,
        /// Its status.
        status: InstanceStatus,
        /// The refused event.
        event: &'static str,
    },
    /// The event asks for an illegal status change.
    #[error("{subject}: {source}")]
    Transition {
        /// The task or run concerned.
        subject: String,
        /// The refused change.
        source: TransitionError,
    },
}

/// The scheduler's state machine for one run.
pub struct Engine {
    policy: Policy,
    /// The offerings of each pool (all, spot, on demand), prepared once.
    pools: place::Pools,
    solver: Box<dyn Solver>,
    run_status: RunStatus,
    /// What a heartbeat after DANGLING returns the run to.
    status_before_dangling: RunStatus,
    submissions_closed: bool,
    tasks: BTreeMap<TaskId, TaskRecord>,
    instances: BTreeMap<InstanceId, InstanceRecord>,
    /// Instances not yet terminated: the only ones per-step scans look at.
    live: BTreeSet<InstanceId>,
    /// The instances under a reclaim notice (see `timers`).
    notices: timers::Notices,
    /// What a decision reads of each usable instance (see `usable`).
    usable: usable::UsableSet,
    /// Once submissions are closed: every task below this id has ended.
    ended_below: TaskId,
    /// Submitted tasks with no placement yet, in submission order.
    pending: BTreeSet<(Millis, TaskId)>,
    /// Tasks placed on a ready instance but not yet started.
    to_start: BTreeSet<TaskId>,
    /// Cancelled tasks whose process must be stopped.
    to_stop: BTreeSet<TaskId>,
    next_instance: u64,
    history: RuntimeHistory,
    /// When the launches now held for batching were first held.
    batch_started: Option<Millis>,
    /// When the last task was submitted.
    last_submit: Millis,
    /// Offerings refused for capacity, left out of placement until the time given.
    shortages: BTreeMap<OfferingId, Millis>,
    /// Capacity refusals of each offering since one of its instances was
    /// last ready: each doubles how long the offering is left out.
    refusals: BTreeMap<OfferingId, u32>,
    /// The last heartbeat, or the first event when none came yet.
    last_heartbeat: Option<Millis>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("solver", &self.solver.name())
            .field("run_status", &self.run_status)
            .field("tasks", &self.tasks.len())
            .field("instances", &self.instances.len())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// A new run under `policy`, opening offerings from `candidates` (as
    /// returned by [`Policy::candidates`]) with `solver`.
    pub fn new(policy: Policy, candidates: Vec<Candidate>, solver: Box<dyn Solver>) -> Self {
        debug!(
            provisioning = %policy.provisioning,
            candidates = candidates.len(),
            solver = solver.name(),
            idle_release_s = policy.idle_release_s,
            max_attempts = policy.max_attempts,
            max_spot_attempts = policy.max_spot_attempts,
            "engine configured"
        );
        Engine {
            pools: place::Pools::new(CandidateSet::new(candidates)),
            policy,
            solver,
            run_status: RunStatus::Active,
            status_before_dangling: RunStatus::Active,
            submissions_closed: false,
            tasks: BTreeMap::new(),
            instances: BTreeMap::new(),
            live: BTreeSet::new(),
            notices: timers::Notices::default(),
            usable: usable::UsableSet::default(),
            ended_below: TaskId(0),
            pending: BTreeSet::new(),
            to_start: BTreeSet::new(),
            to_stop: BTreeSet::new(),
            next_instance: 0,
            history: RuntimeHistory::default(),
            batch_started: None,
            last_submit: Millis(0),
            shortages: BTreeMap::new(),
            refusals: BTreeMap::new(),
            last_heartbeat: None,
        }
    }

    /// Weighs spot offerings by their reclaim risk when new instances are
    /// chosen (see [`SpotRisk`]); without it they compare at their billed price.
    pub fn with_spot_risk(mut self, risk: SpotRisk) -> Self {
        debug!(weight = risk.weight(), "spot risk weighting on");
        self.pools = place::Pools::new(self.pools.all().clone().with_spot_risk(risk));
        self
    }

    /// The run's status.
    pub fn run_status(&self) -> RunStatus {
        self.run_status
    }

    /// Every task, by id.
    pub fn tasks(&self) -> &BTreeMap<TaskId, TaskRecord> {
        &self.tasks
    }

    /// Every instance ever launched, by id.
    pub fn instances(&self) -> &BTreeMap<InstanceId, InstanceRecord> {
        &self.instances
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The offerings the engine may open.
    pub fn candidates(&self) -> &[Candidate] {
        self.pools.all()
    }

    /// Applies one event. Refused events change nothing.
    ///
    /// # Errors
    /// An unknown task or instance, a duplicate submission, a task with no
    /// cpu or memory, a reclaim of an on-demand instance, an event the
    /// instance's status rules out, or an illegal status change.
    pub fn handle(&mut self, now: Millis, event: Event) -> Result<(), EngineError> {
        let result = self.apply(now, event);
        if result.is_ok() && self.last_heartbeat.is_none() {
            // The heartbeat clock starts with the first event.
            self.last_heartbeat = Some(now);
        }
        result
    }

    fn apply(&mut self, now: Millis, event: Event) -> Result<(), EngineError> {
        match event {
            Event::TaskSubmitted(spec) => self.submit(now, spec),
            Event::InstanceReady { instance } => {
                let record = self
                    .instances
                    .get_mut(&instance)
                    .ok_or(EngineError::UnknownInstance(instance))?;
                if record.status == InstanceStatus::Booting {
                    record.status = InstanceStatus::Ready;
                    if record.tasks.is_empty() {
                        record.idle_since = Some(now);
                    }
                    let offering = record.offering;
                    self.to_start.extend(record.tasks.iter().copied());
                    self.sync_usable(instance);
                    // A ready instance ends its offering's run of refusals.
                    self.refusals.remove(&offering);
                }
                Ok(())
            }
            Event::TaskStarted { task } => self.task_started(now, task),
            Event::TaskExited { task, exit_code } => self.task_exited(now, task, exit_code),
            Event::InstanceTerminated { instance } => {
                let record = self.instance_mut(instance)?;
                record.status = InstanceStatus::Terminated;
                record.ended.get_or_insert(InstanceEnd::Released);
                self.live.remove(&instance);
                self.sync_usable(instance);
                // A backend that ends an instance on its own takes its tasks with it.
                self.lose_tasks(now, instance);
                Ok(())
            }
            Event::CancelTask { task } => {
                self.task_mut(task)?;
                self.cancel_task(now, task)
            }
            Event::SubmissionsClosed => {
                self.submissions_closed = true;
                Ok(())
            }
            Event::InstanceReclaimWarning { instance } => self.reclaim_warning(now, instance),
            Event::InstanceReclaimed { instance } => self.reclaimed(now, instance),
            Event::LaunchFailed { instance, reason } => self.launch_failed(now, instance, reason),
            Event::Heartbeat => {
                self.heartbeat(now);
                Ok(())
            }
            Event::CancelRun => self.cancel_run(now),
            Event::TaskStatusUnknown { task } => {
                let record = self.task_mut(task)?;
                if record.status != TaskStatus::Unknown {
                    set_status(record, now, TaskStatus::Unknown)?;
                    debug!(%task, "task status unknown");
                }
                Ok(())
            }
        }
    }

    fn task_started(&mut self, now: Millis, task: TaskId) -> Result<(), EngineError> {
        let record = self.task_mut(task)?;
        match record.status {
            // A repeated report, or one for a task whose stop is in flight.
            TaskStatus::Running | TaskStatus::Cancelled => return Ok(()),
            // A report delivered late, twice, or after the task's exit.
            status if status.is_terminal() => {
                debug!(%task, %status, "late or repeated start report ignored");
                return Ok(());
            }
            // A start the engine took back (its instance was reclaimed first).
            TaskStatus::Submitted if !record.dispatched => {
                debug!(%task, "stale start report ignored");
                return Ok(());
            }
            _ => {}
        }
        let was_unknown = record.status == TaskStatus::Unknown;
        set_status(record, now, TaskStatus::Running)?;
        record.shortage_waits = 0;
        if !was_unknown {
            record.started_at = Some(now);
            if let Some(instance) = record.instance {
                // Most tasks run once: room for exactly the runs there are.
                record.runs.reserve_exact(1);
                record.runs.push(RunAttempt {
                    instance,
                    started_at: now,
                    ended_at: None,
                    outcome: None,
                });
                self.sync_usable(instance);
            }
        }
        Ok(())
    }

    fn task_exited(
        &mut self,
        now: Millis,
        task: TaskId,
        exit_code: i32,
    ) -> Result<(), EngineError> {
        let record = self.task_mut(task)?;
        let next = if exit_code == 0 { TaskStatus::Succeeded } else { TaskStatus::Failed };
        match record.status {
            TaskStatus::Cancelled => return Ok(()), // The stop raced the exit.
            TaskStatus::Running | TaskStatus::Unknown => {}
            // A repeated exit report, or a late one from an attempt already ended.
            status if status.is_terminal() => {
                debug!(%task, %status, "late or repeated exit report ignored");
                return Ok(());
            }
            // The exit overtook its start report: the start happened first.
            TaskStatus::Submitted if record.dispatched => {
                debug!(%task, "exit before its start report; taking it as started");
                self.task_started(now, task)?;
                return self.task_exited(now, task, exit_code);
            }
            // An exit of an attempt the engine took back (a reclaim came first).
            TaskStatus::Submitted if !record.runs.is_empty() => {
                debug!(%task, "stale exit report ignored");
                return Ok(());
            }
            from => {
                // Only a started task can exit.
                return Err(EngineError::Transition {
                    subject: task.to_string(),
                    source: TransitionError::Task { from, to: next },
                });
            }
        }
        set_status(record, now, next)?;
        record.exit_code = Some(exit_code);
        record.ended_at = Some(now);
        close_run(record, now, next);
        if let Some(started) = record.started_at {
            let group = record.group;
            self.history.record(group, now.since(started));
        }
        self.release_task(now, task);
        Ok(())
    }

    /// Cancels a task that has not ended; a running one is also stopped.
    fn cancel_task(&mut self, now: Millis, task: TaskId) -> Result<(), EngineError> {
        let record = self.task_mut(task)?;
        if record.status.is_terminal() {
            return Ok(());
        }
        let was_running = matches!(record.status, TaskStatus::Running | TaskStatus::Unknown);
        let must_stop = was_running || record.dispatched;
        set_status(record, now, TaskStatus::Cancelled)?;
        record.ended_at = Some(now);
        record.waiting = None;
        close_run(record, now, TaskStatus::Cancelled);
        let key = (record.submitted_at, task);
        self.pending.remove(&key);
        if must_stop {
            self.to_stop.insert(task);
        }
        self.release_task(now, task);
        Ok(())
    }

    /// Decides what to do at `now`: places pending tasks, starts tasks on
    /// ready instances, releases idle instances, and ends the run when its
    /// last task has ended.
    pub fn decide(&mut self, now: Millis) -> Vec<Action> {
        let mut actions = Vec::new();
        self.check_heartbeat(now);
        self.give_up_boots(now, &mut actions);
        self.place_pending(now, &mut actions);
        self.start_ready(&mut actions);
        for task in std::mem::take(&mut self.to_stop) {
            info!(%task, "stop cancelled task");
            actions.push(Action::StopTask { task });
        }
        self.release_idle(now, &mut actions);
        self.maybe_finish(&mut actions);
        actions
    }

    /// The next time [`Engine::decide`] has something to do without a new
    /// event: the end of the batch window, the earliest idle release, the
    /// end of a task's wait for capacity, or the heartbeat deadline.
    pub fn next_wakeup(&self) -> Option<Millis> {
        let delay = Millis::from_secs(self.policy.idle_release_s);
        let idle = self.usable.first_idle().map(|since| since + delay);
        let batch = self.batch_started.map(|started| self.batch_deadline(started));
        let waits = self
            .pending
            .iter()
            .filter_map(|(_, id)| self.tasks[id].waiting)
            .map(|WaitReason::CapacityShortage { until }| until)
            .min();
        idle.into_iter()
            .chain(batch)
            .chain(waits)
            .chain(self.heartbeat_deadline())
            .chain(self.boot_deadline())
            .min()
    }

    /// True when every submitted task is in a terminal status.
    pub fn all_tasks_ended(&self) -> bool {
        self.tasks.values().all(|t| t.status.is_terminal())
    }

    /// [`Engine::all_tasks_ended`] once submissions are closed, resuming
    /// where the last call stopped: no task comes any more and an ended task
    /// stays ended, so the tasks found ended need no second look.
    fn closed_tasks_ended(&mut self) -> bool {
        let open = self.tasks.range(self.ended_below..).find(|(_, t)| !t.status.is_terminal());
        match open {
            Some((&id, _)) => {
                self.ended_below = id;
                false
            }
            None => {
                self.ended_below = self.tasks.keys().next_back().copied().unwrap_or(TaskId(0));
                true
            }
        }
    }

    fn submit(&mut self, now: Millis, spec: TaskSpec) -> Result<(), EngineError> {
        if self.submissions_closed {
            return Err(EngineError::SubmissionsClosed(spec.id));
        }
        if self.tasks.contains_key(&spec.id) {
            return Err(EngineError::DuplicateTask(spec.id));
        }
        if spec.allocated.millicpus == 0 {
            return Err(EngineError::EmptyDemand { task: spec.id, what: "no cpu" });
        }
        if spec.allocated.memory_mib == 0 {
            return Err(EngineError::EmptyDemand { task: spec.id, what: "no memory" });
        }
        let id = spec.id;
        let group = self.history.group_of(&spec.process);
        // Submitted, running, ended: room for the three statuses most tasks have.
        let mut history = Vec::with_capacity(3);
        history.push((now, TaskStatus::Submitted));
        self.tasks.insert(
            id,
            TaskRecord {
                group,
                spec,
                status: TaskStatus::Submitted,
                history,
                instance: None,
                dispatched: false,
                attempts: 0,
                submitted_at: now,
                started_at: None,
                ended_at: None,
                exit_code: None,
                unschedulable: None,
                preemptions: 0,
                launch_failures: 0,
                shortage_waits: 0,
                waiting: None,
                runs: Vec::new(),
            },
        );
        self.pending.insert((now, id));
        self.last_submit = self.last_submit.max(now);
        Ok(())
    }

    /// Puts a pending task on an instance, reserving its room.
    fn place(&mut self, task: TaskId, instance: InstanceId) {
        let (Some(record), Some(host)) =
            (self.tasks.get_mut(&task), self.instances.get_mut(&instance))
        else {
            return;
        };
        let Some(free) = host.free.checked_sub(&record.spec.allocated) else {
            // A solver bug must not overcommit an instance: leave the task pending.
            tracing::warn!(%task, %instance, "solver placed a task where it does not fit; retrying");
            return;
        };
        host.free = free;
        host.tasks.insert(task);
        host.idle_since = None;
        record.instance = Some(instance);
        self.pending.remove(&(record.submitted_at, task));
        if host.status == InstanceStatus::Ready {
            self.to_start.insert(task);
        }
        self.sync_usable(instance);
    }

    /// Refreshes the placement's copy of `instance` from the records.
    fn sync_usable(&mut self, instance: InstanceId) {
        self.usable.sync(instance, self.instances.get(&instance), &self.tasks);
    }

    fn start_ready(&mut self, actions: &mut Vec<Action>) {
        for task in std::mem::take(&mut self.to_start) {
            let Some(record) = self.tasks.get_mut(&task) else {
                continue;
            };
            let Some(instance) = record.instance else {
                continue;
            };
            if record.dispatched || record.status != TaskStatus::Submitted {
                continue;
            }
            if self.instances.get(&instance).is_none_or(|i| i.status != InstanceStatus::Ready) {
                continue;
            }
            record.dispatched = true;
            record.attempts += 1;
            actions.push(Action::StartTask { task, instance, allocated: record.spec.allocated });
        }
    }

    /// Releases instances idle for the policy's delay, and instances under a
    /// reclaim notice that hold nothing any more, in id order.
    fn release_idle(&mut self, now: Millis, actions: &mut Vec<Action>) {
        let delay = Millis::from_secs(self.policy.idle_release_s);
        let instances = &self.instances;
        // Idle long enough: since + delay <= now (nothing is, before the delay).
        let mut release = match now.0.checked_sub(delay.0) {
            Some(by) => self.usable.idle_since(Millis(by)),
            None => Vec::new(),
        };
        release.extend(self.notices.emptied(|id| instances.get(&id)));
        release.sort_unstable();
        for id in release {
            let Some(host) = self.instances.get_mut(&id) else { continue };
            if !host.tasks.is_empty() {
                continue;
            }
            if host.status == InstanceStatus::Ready {
                host.status = InstanceStatus::Terminating;
                info!(instance = %host.id, "release idle instance");
            } else {
                // Nothing left to finish before the reclaim: stop paying now.
                host.status = InstanceStatus::Terminating;
                info!(instance = %host.id, "release empty instance under reclaim notice");
            }
            actions.push(Action::Terminate { instance: host.id });
            self.sync_usable(id);
        }
    }

    fn maybe_finish(&mut self, actions: &mut Vec<Action>) {
        if !self.submissions_closed || !self.closed_tasks_ended() {
            return;
        }
        if self.run_status == RunStatus::Active || self.run_status == RunStatus::Dangling {
            self.run_status = RunStatus::Terminating;
        }
        for id in &self.live {
            let Some(host) = self.instances.get_mut(id) else { continue };
            if host.is_usable() || host.status == InstanceStatus::Reclaiming {
                host.status = InstanceStatus::Terminating;
                info!(instance = %host.id, "release at end of run");
                actions.push(Action::Terminate { instance: host.id });
                self.usable.sync(*id, Some(host), &self.tasks);
            }
        }
        let all_gone =
            self.live.iter().all(|id| self.instances[id].status == InstanceStatus::Terminated);
        if self.run_status == RunStatus::Terminating && all_gone {
            self.run_status = RunStatus::Terminated;
        }
    }

    /// Frees the room a task held and marks its instance idle if it is empty.
    fn release_task(&mut self, now: Millis, task: TaskId) {
        let Some(record) = self.tasks.get_mut(&task) else {
            return;
        };
        let Some(instance) = record.instance.take() else {
            return;
        };
        let allocated = record.spec.allocated;
        record.dispatched = false;
        self.to_start.remove(&task);
        if let Some(host) = self.instances.get_mut(&instance) {
            if host.tasks.remove(&task) {
                host.free = (host.free + allocated).min_each(&host.capacity);
            }
            if host.tasks.is_empty() {
                host.idle_since = Some(now);
            }
            self.sync_usable(instance);
        }
    }

    /// Expected time until every task on `host` has ended, from per-process
    /// history; `None` when some task's process has no history yet.
    fn busy_for(&self, now: Millis, host: &usable::Usable) -> Option<Millis> {
        let boot_left =
            (host.launched_at + Millis::from_secs(self.policy.launch_overhead_s)).since(now);
        let mut longest = Millis(0);
        for &(group, started_at) in &host.tasks {
            let expected = self.history.expected(group)?;
            let left = match started_at {
                Some(started) => expected.since(now.since(started)),
                None if host.booting => expected + boot_left,
                None => expected,
            };
            longest = longest.max(left);
        }
        Some(longest)
    }

    /// What the engine has learned about process runtimes.
    pub fn history(&self) -> &RuntimeHistory {
        &self.history
    }

    fn task_mut(&mut self, task: TaskId) -> Result<&mut TaskRecord, EngineError> {
        self.tasks.get_mut(&task).ok_or(EngineError::UnknownTask(task))
    }

    fn instance_mut(&mut self, instance: InstanceId) -> Result<&mut InstanceRecord, EngineError> {
        self.instances.get_mut(&instance).ok_or(EngineError::UnknownInstance(instance))
    }
}

fn set_status(record: &mut TaskRecord, now: Millis, next: TaskStatus) -> Result<(), EngineError> {
    record.status = record.status.transition(next).map_err(|source| EngineError::Transition {
        subject: record.spec.id.to_string(),
        source,
    })?;
    record.history.push((now, next));
    Ok(())
}

/// Closes the task's open run attempt, if it has one, with `outcome`.
fn close_run(record: &mut TaskRecord, now: Millis, outcome: TaskStatus) {
    if let Some(run) = record.runs.last_mut().filter(|r| r.ended_at.is_none()) {
        run.ended_at = Some(now);
        run.outcome = Some(outcome);
    }
}
