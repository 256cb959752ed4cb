//! The sans-I/O scheduling engine.
//!
//! The engine owns the state of a run (every task and instance) and nothing
//! else: whoever drives it owns the clock and the I/O. A driver feeds it
//! [`Event`]s with [`Engine::handle`] and, whenever it likes (after a batch
//! of events, or when [`Engine::next_wakeup`] says so), asks
//! [`Engine::decide`] for the [`Action`]s to carry out. Deciding in batches
//! lets one solver call place every task that arrived at the same moment.
//!
//! The same engine runs in the simulator and against a real cloud.

mod history;
mod io;
mod state;

use std::collections::{BTreeMap, BTreeSet};

use thiserror::Error;
use tracing::{debug, info};

pub use history::RuntimeHistory;
pub use io::{Action, Event, TaskSpec};
pub use state::{InstanceRecord, InstanceStatus, TaskRecord};

use crate::lifecycle::{RunStatus, TaskStatus, TransitionError};
use crate::plan::Placement;
use crate::policy::{Candidate, Policy};
use crate::problem::{ExistingInstance, InstanceId, PendingTask, PlacementProblem, TaskId};
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
    candidates: Vec<Candidate>,
    solver: Box<dyn Solver>,
    run_status: RunStatus,
    submissions_closed: bool,
    tasks: BTreeMap<TaskId, TaskRecord>,
    instances: BTreeMap<InstanceId, InstanceRecord>,
    /// Submitted tasks with no placement yet, in submission order.
    pending: BTreeSet<(Millis, TaskId)>,
    /// Tasks placed on a ready instance but not yet started.
    to_start: BTreeSet<TaskId>,
    next_instance: u64,
    history: RuntimeHistory,
    /// When the launches now held for batching were first held.
    batch_started: Option<Millis>,
    /// When the last task was submitted.
    last_submit: Millis,
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
            "engine configured"
        );
        Engine {
            policy,
            candidates,
            solver,
            run_status: RunStatus::Active,
            submissions_closed: false,
            tasks: BTreeMap::new(),
            instances: BTreeMap::new(),
            pending: BTreeSet::new(),
            to_start: BTreeSet::new(),
            next_instance: 0,
            history: RuntimeHistory::default(),
            batch_started: None,
            last_submit: Millis(0),
        }
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
        &self.candidates
    }

    /// Applies one event. Refused events change nothing.
    ///
    /// # Errors
    /// An unknown task or instance, a duplicate submission, a task with no
    /// cpu or memory, or an illegal status change.
    pub fn handle(&mut self, now: Millis, event: Event) -> Result<(), EngineError> {
        match event {
            Event::TaskSubmitted(spec) => self.submit(now, spec),
            Event::InstanceReady { instance } => {
                let record = self.instance_mut(instance)?;
                if record.status == InstanceStatus::Booting {
                    record.status = InstanceStatus::Ready;
                    if record.tasks.is_empty() {
                        record.idle_since = Some(now);
                    }
                    let waiting: Vec<TaskId> = record.tasks.iter().copied().collect();
                    self.to_start.extend(waiting);
                }
                Ok(())
            }
            Event::TaskStarted { task } => {
                let record = self.task_mut(task)?;
                if record.status == TaskStatus::Running {
                    return Ok(()); // A repeated report.
                }
                set_status(record, now, TaskStatus::Running)?;
                record.started_at = Some(now);
                Ok(())
            }
            Event::TaskExited { task, exit_code } => {
                let record = self.task_mut(task)?;
                let next = if exit_code == 0 { TaskStatus::Succeeded } else { TaskStatus::Failed };
                set_status(record, now, next)?;
                record.exit_code = Some(exit_code);
                record.ended_at = Some(now);
                if let Some(started) = record.started_at {
                    let group = record.group;
                    self.history.record(group, now.since(started));
                }
                self.release_task(now, task);
                Ok(())
            }
            Event::InstanceTerminated { instance } => {
                let record = self.instance_mut(instance)?;
                record.status = InstanceStatus::Terminated;
                Ok(())
            }
            Event::CancelTask { task } => {
                let record = self.task_mut(task)?;
                if record.status.is_terminal() {
                    return Ok(());
                }
                set_status(record, now, TaskStatus::Cancelled)?;
                record.ended_at = Some(now);
                let key = (record.submitted_at, task);
                self.pending.remove(&key);
                self.release_task(now, task);
                Ok(())
            }
            Event::SubmissionsClosed => {
                self.submissions_closed = true;
                Ok(())
            }
        }
    }

    /// Decides what to do at `now`: places pending tasks, starts tasks on
    /// ready instances, releases idle instances, and ends the run when its
    /// last task has ended.
    pub fn decide(&mut self, now: Millis) -> Vec<Action> {
        let mut actions = Vec::new();
        self.place_pending(now, &mut actions);
        self.start_ready(&mut actions);
        self.release_idle(now, &mut actions);
        self.maybe_finish(&mut actions);
        actions
    }

    /// The next time [`Engine::decide`] has something to do without a new
    /// event: the end of the batch window, or the earliest idle release.
    pub fn next_wakeup(&self) -> Option<Millis> {
        let delay = Millis::from_secs(self.policy.idle_release_s);
        let idle = self
            .instances
            .values()
            .filter(|i| i.status == InstanceStatus::Ready)
            .filter_map(|i| i.idle_since)
            .map(|since| since + delay)
            .min();
        let batch = self.batch_started.map(|started| self.batch_deadline(started));
        idle.into_iter().chain(batch).min()
    }

    /// True when every submitted task is in a terminal status.
    pub fn all_tasks_ended(&self) -> bool {
        self.tasks.values().all(|t| t.status.is_terminal())
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
        self.tasks.insert(
            id,
            TaskRecord {
                group,
                spec,
                status: TaskStatus::Submitted,
                history: vec![(now, TaskStatus::Submitted)],
                instance: None,
                dispatched: false,
                attempts: 0,
                submitted_at: now,
                started_at: None,
                ended_at: None,
                exit_code: None,
                unschedulable: None,
            },
        );
        self.pending.insert((now, id));
        self.last_submit = self.last_submit.max(now);
        Ok(())
    }

    fn place_pending(&mut self, now: Millis, actions: &mut Vec<Action>) {
        if self.pending.is_empty() {
            return;
        }
        let tasks: Vec<PendingTask> = self
            .pending
            .iter()
            .map(|(_, id)| {
                let spec = &self.tasks[id].spec;
                let group = self.tasks[id].group;
                PendingTask {
                    id: *id,
                    demand: spec.allocated,
                    arch: spec.arch,
                    group,
                    expected_runtime: self.history.expected(group),
                }
            })
            .collect();
        let instances: Vec<ExistingInstance> = self
            .instances
            .values()
            .filter(|i| i.is_usable() && !i.free.is_zero())
            .map(|i| ExistingInstance {
                id: i.id,
                offering: i.offering,
                arch: i.arch,
                free: i.free,
                busy_for: self.busy_for(now, i),
            })
            .collect();
        let problem = PlacementProblem {
            tasks,
            instances,
            candidates: &self.candidates,
            launch_overhead: Millis::from_secs(self.policy.launch_overhead_s),
        };
        let plan = self.solver.solve(&problem);

        // Hold new launches while the batch window is open, so tasks that
        // arrive moments apart are packed together; placements on existing
        // instances and unschedulable verdicts need no wait.
        let hold = !plan.launches.is_empty() && self.batch_open(now);
        let mut launched = Vec::with_capacity(plan.launches.len());
        for launch in plan.launches.iter().filter(|_| !hold) {
            let id = InstanceId(self.next_instance);
            self.next_instance += 1;
            let arch = self
                .candidates
                .iter()
                .find(|c| c.offering == launch.offering)
                .map(|c| c.arch)
                .unwrap_or(crate::catalog::Architecture::X86_64);
            self.instances.insert(
                id,
                InstanceRecord {
                    id,
                    offering: launch.offering,
                    arch,
                    capacity: launch.capacity,
                    free: launch.capacity,
                    status: InstanceStatus::Booting,
                    tasks: BTreeSet::new(),
                    launched_at: now,
                    idle_since: None,
                },
            );
            info!(%id, offering = %launch.offering, price = launch.price.0, "launch");
            actions.push(Action::Launch { instance: id, offering: launch.offering });
            launched.push(id);
        }

        for assignment in &plan.assignments {
            let instance = match assignment.placement {
                Placement::Existing(id) => id,
                Placement::New(_) if hold => continue,
                Placement::New(index) => launched[index],
            };
            self.place(assignment.task, instance);
        }
        if !hold {
            self.batch_started = None;
        }
        for item in plan.unschedulable {
            let Some(record) = self.tasks.get_mut(&item.task) else {
                continue;
            };
            debug!(task = %item.task, reason = %item.reason, "unschedulable");
            if set_status(record, now, TaskStatus::Unschedulable).is_ok() {
                record.ended_at = Some(now);
                record.unschedulable = Some(item.reason);
                self.pending.remove(&(record.submitted_at, item.task));
            }
        }
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
    }

    /// True while launches should wait for more tasks: from the first held
    /// launch, until no task has arrived for `batch_idle_ms` or the batch is
    /// `batch_max_ms` old, whichever comes first.
    fn batch_open(&mut self, now: Millis) -> bool {
        let started = *self.batch_started.get_or_insert(now);
        now < self.batch_deadline(started)
    }

    fn batch_deadline(&self, started: Millis) -> Millis {
        let idle_end = self.last_submit + Millis(self.policy.batch_idle_ms);
        let max_end = started + Millis(self.policy.batch_max_ms);
        idle_end.min(max_end)
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
            record.dispatched = true;
            record.attempts += 1;
            actions.push(Action::StartTask { task, instance, allocated: record.spec.allocated });
        }
    }

    fn release_idle(&mut self, now: Millis, actions: &mut Vec<Action>) {
        let delay = Millis::from_secs(self.policy.idle_release_s);
        for host in self.instances.values_mut() {
            let idle_long_enough = host.idle_since.is_some_and(|since| now >= since + delay);
            if host.status == InstanceStatus::Ready && host.tasks.is_empty() && idle_long_enough {
                host.status = InstanceStatus::Terminating;
                info!(instance = %host.id, "release idle instance");
                actions.push(Action::Terminate { instance: host.id });
            }
        }
    }

    fn maybe_finish(&mut self, actions: &mut Vec<Action>) {
        if !self.submissions_closed || !self.all_tasks_ended() {
            return;
        }
        if self.run_status == RunStatus::Active || self.run_status == RunStatus::Dangling {
            self.run_status = RunStatus::Terminating;
        }
        for host in self.instances.values_mut() {
            if host.is_usable() {
                host.status = InstanceStatus::Terminating;
                info!(instance = %host.id, "release at end of run");
                actions.push(Action::Terminate { instance: host.id });
            }
        }
        let all_gone = self.instances.values().all(|i| i.status == InstanceStatus::Terminated);
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
        }
    }

    /// Expected time until every task on `host` has ended, from per-process
    /// history; `None` when some task's process has no history yet.
    fn busy_for(&self, now: Millis, host: &InstanceRecord) -> Option<Millis> {
        let boot_left =
            (host.launched_at + Millis::from_secs(self.policy.launch_overhead_s)).since(now);
        let mut longest = Millis(0);
        for id in &host.tasks {
            let record = &self.tasks[id];
            let expected = self.history.expected(record.group)?;
            let left = match record.started_at {
                Some(started) => expected.since(now.since(started)),
                None if host.status == InstanceStatus::Booting => expected + boot_left,
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
