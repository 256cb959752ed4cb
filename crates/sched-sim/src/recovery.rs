//! How the replay driver survives a misbehaving provider, and what it
//! measures while it does.
//!
//! - Retries: a call that fails with throttling or a transient error
//!   (including a lost answer) is retried after an exponential backoff on the
//!   virtual clock ([`RetryPolicy`]); a retry the engine no longer wants (a
//!   start for a task that moved, a launch given up) is dropped.
//! - Reconciliation: every few steps, and once more at the end of the run,
//!   the engine's view is compared with the provider's inventory and the
//!   differences are acted on ([`Engine::reconcile`]); what still disagrees
//!   afterwards is counted.
//! - Invariants: with checking on, [`Engine::check_invariants`] runs after
//!   every event; a broken one ends the replay with an error.
//!
//! Without faults none of this changes a replay: the simulated cloud never
//! throttles, and its events are never refused.

use std::collections::{BTreeMap, BTreeSet};

use sched_core::catalog::OfferingId;
use sched_core::engine::InstanceStatus;
use sched_core::engine::{Action, Engine, Event, LaunchFailure};
use sched_core::lifecycle::TaskStatus;
use sched_core::provider::retry::RetryPolicy;
use sched_core::provider::ProviderError;
use sched_core::time::Millis;
use serde::Serialize;
use tracing::{debug, warn};

use crate::clocked::ClockedCloud;
use crate::replay::ReplayError;

/// Reconcile every this many driver steps while faults are injected.
pub const RECONCILE_EVERY: u64 = 8;

/// The fault figures of one replay, as in the JSON report's `faults` object.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FaultReport {
    /// Faults injected, all kinds.
    pub injected: u64,
    /// Tasks that did not end in exactly one terminal status: must be 0.
    pub tasks_lost: u64,
    /// Starts of a task while it still ran elsewhere: must be 0.
    pub duplicate_starts: u64,
    /// Instances still rented after the run: must be 0.
    pub instances_leaked: u64,
    /// Faults injected, by kind.
    pub by_kind: BTreeMap<String, u64>,
    /// Provider calls retried.
    pub retries: u64,
    /// Recoveries: retried calls that then succeeded, and differences a
    /// reconciliation acted on.
    pub recoveries: u64,
    /// Reconciliations run.
    pub reconciliations: u64,
    /// Differences left after a reconciliation's actions were carried out: must be 0.
    pub disagreements: u64,
    /// Reports the engine refused (they change nothing).
    pub refused_events: u64,
    /// Cost of the same replay without faults, USD, when it was run.
    pub clean_cost_usd: Option<f64>,
}

#[derive(Debug, Clone, Copy)]
struct Queued {
    due: Millis,
    action: Action,
    attempt: u32,
}

/// The driver's recovery state for one replay.
#[derive(Debug)]
pub(crate) struct Recovery {
    policy: RetryPolicy,
    queue: Vec<Queued>,
    /// True while faults are injected: refused reports are counted, not fatal.
    tolerant: bool,
    /// Check the engine's invariants after every event.
    check: bool,
    steps: u64,
    /// Offerings the provider refused for capacity at the given moment.
    refused: (Millis, BTreeSet<OfferingId>),
    pub(crate) report: FaultReport,
}

impl Recovery {
    pub(crate) fn new(tolerant: bool, check: bool) -> Self {
        // Patient enough that a call failing 30% of the time is never given
        // up in practice (0.3^20 per call).
        let policy = RetryPolicy { max_attempts: 20, ..RetryPolicy::default() };
        Recovery {
            policy,
            queue: Vec::new(),
            tolerant,
            check,
            steps: 0,
            refused: (Millis(0), BTreeSet::new()),
            report: FaultReport::default(),
        }
    }

    /// When the next retry is due.
    pub(crate) fn next_retry_at(&self) -> Option<Millis> {
        self.queue.iter().map(|q| q.due).min()
    }

    /// True when no retry waits.
    pub(crate) fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// Feeds one event to the engine, then checks the invariants.
    pub(crate) fn handle(
        &mut self,
        engine: &mut Engine,
        at: Millis,
        event: Event,
    ) -> Result<(), ReplayError> {
        let from_provider =
            !matches!(event, Event::TaskSubmitted(_) | Event::SubmissionsClosed | Event::CancelRun);
        match engine.handle(at, event) {
            Ok(()) => {}
            Err(error) if self.tolerant && from_provider => {
                self.report.refused_events += 1;
                warn!(%error, %at, "engine refused a provider report; it changes nothing");
            }
            Err(source) => return Err(ReplayError::Engine { at, source }),
        }
        self.check_invariants(engine, at)
    }

    fn check_invariants(&self, engine: &Engine, at: Millis) -> Result<(), ReplayError> {
        if self.check {
            engine.check_invariants().map_err(|what| ReplayError::Invariant { at, what })?;
        }
        Ok(())
    }

    /// The retries due at `now` that the engine still wants.
    pub(crate) fn due(&mut self, now: Millis, engine: &Engine) -> Vec<(Action, u32)> {
        let (due, later): (Vec<Queued>, Vec<Queued>) =
            self.queue.drain(..).partition(|q| q.due <= now);
        self.queue = later;
        due.into_iter()
            .filter(|q| wanted(engine, &q.action))
            .map(|q| (q.action, q.attempt))
            .collect()
    }

    /// Carries out `action` (call number `attempt + 1`): a failure worth
    /// retrying is queued, a refused launch comes back as the event the
    /// engine acts on.
    ///
    /// A launch of an offering the provider refused for capacity at this
    /// same moment is answered with that refusal without asking again: a
    /// plan that opens one instance per task would otherwise ask for every
    /// task, and the answer cannot differ within an instant.
    pub(crate) fn carry_out<C: ClockedCloud>(
        &mut self,
        cloud: &C,
        engine: &Engine,
        action: Action,
        attempt: u32,
    ) -> Result<Option<Event>, ReplayError> {
        let now = cloud.now();
        if let Action::Launch { instance, offering } = action {
            if self.refused.0 != now {
                self.refused = (now, BTreeSet::new());
            }
            if self.refused.1.contains(&offering) {
                debug!(%instance, %offering, "offering refused a moment ago; not asked again");
                return Ok(Some(Event::LaunchFailed { instance, reason: LaunchFailure::Capacity }));
            }
        }
        let error = match cloud.execute_now(&action) {
            Ok(()) => {
                if attempt > 0 {
                    self.report.recoveries += 1;
                }
                return Ok(None);
            }
            Err(error) => error,
        };
        if RetryPolicy::retryable(&error) {
            // A launch given up fails (the engine places its tasks again);
            // no event could tell the engine that a start, stop or terminate
            // never happened, so under faults those are retried at the
            // longest delay for as long as the engine wants them.
            let patient = self.tolerant && !matches!(action, Action::Launch { .. });
            let delay = self
                .policy
                .delay(attempt.saturating_add(1))
                .or_else(|| patient.then_some(Millis(self.policy.cap_ms)));
            if let Some(delay) = delay {
                self.report.retries += 1;
                warn!(
                    ?action,
                    %error,
                    attempt = attempt.saturating_add(1),
                    max = self.policy.max_attempts,
                    delay_s = delay.as_secs_f64(),
                    "provider call failed; retrying"
                );
                self.queue.push(Queued {
                    due: now + delay,
                    action,
                    attempt: attempt.saturating_add(1),
                });
                return Ok(None);
            }
        }
        match action {
            Action::Launch { instance, offering } => {
                // A retry may fail after an earlier call did launch: the
                // instance may already be up, and reconciliation ends it.
                let booting = engine
                    .instances()
                    .get(&instance)
                    .is_some_and(|i| i.status == InstanceStatus::Booting);
                if attempt > 0 && !booting {
                    return Ok(None);
                }
                let reason = match error {
                    ProviderError::CapacityUnavailable { .. } => {
                        self.refused.1.insert(offering);
                        LaunchFailure::Capacity
                    }
                    _ => LaunchFailure::Other,
                };
                Ok(Some(Event::LaunchFailed { instance, reason }))
            }
            // The provider does not rent it (a launch that never reached it,
            // or a report still on its way): either way it is gone, and no
            // later report may come to say so.
            Action::Terminate { instance }
                if self.tolerant && matches!(error, ProviderError::NotFound { .. }) =>
            {
                warn!(%instance, "provider does not rent the instance to terminate; taking it as ended");
                Ok(Some(Event::InstanceTerminated { instance }))
            }
            _ if self.tolerant && matches!(error, ProviderError::NotFound { .. }) => {
                // The instance went while its report is still on the way.
                warn!(?action, %error, "provider no longer knows the target; the report resolves it");
                Ok(None)
            }
            _ => Err(ReplayError::Provider { at: now, source: error }),
        }
    }

    /// Counts a step; true when it is time to reconcile.
    pub(crate) fn step(&mut self) -> bool {
        self.steps += 1;
        self.tolerant && self.steps % RECONCILE_EVERY == 0
    }

    /// Reconciles the engine with the provider, carries out the fixes, and
    /// counts what still disagrees. Returns the events the fixes produced.
    pub(crate) fn reconcile<C: ClockedCloud>(
        &mut self,
        engine: &mut Engine,
        cloud: &C,
    ) -> Result<Vec<Event>, ReplayError> {
        let now = cloud.now();
        self.report.reconciliations += 1;
        let actions = engine.reconcile(now, &cloud.inventory());
        self.check_invariants(engine, now)?;
        self.report.recoveries += actions.len() as u64;
        let mut events = Vec::new();
        for action in actions {
            events.extend(self.carry_out(cloud, engine, action, 0)?);
        }
        let inventory = cloud.inventory();
        let waiting: Vec<Action> = self.queue.iter().map(|q| q.action).collect();
        let left = engine
            .disagreements(&inventory)
            .into_iter()
            .filter(|d| !waiting.iter().any(|a| names(d, a)))
            .count();
        if left > 0 {
            warn!(left, "engine and provider still disagree after reconciliation");
        }
        self.report.disagreements += left as u64;
        Ok(events)
    }
}

/// True when a disagreement's words name the target of a waiting action.
fn names(disagreement: &str, action: &Action) -> bool {
    let target = match action {
        Action::Terminate { instance } | Action::Launch { instance, .. } => instance.to_string(),
        Action::StopTask { task } | Action::StartTask { task, .. } => task.to_string(),
    };
    disagreement.starts_with(&format!("{target} "))
}

/// True when the engine still wants a retried action carried out.
fn wanted(engine: &Engine, action: &Action) -> bool {
    match *action {
        Action::Launch { instance, .. } => {
            engine.instances().get(&instance).is_some_and(|i| i.status == InstanceStatus::Booting)
        }
        Action::StartTask { task, instance, .. } => engine.tasks().get(&task).is_some_and(|t| {
            t.instance == Some(instance)
                && t.dispatched
                && matches!(
                    t.status,
                    TaskStatus::Submitted | TaskStatus::Running | TaskStatus::Unknown
                )
        }),
        Action::StopTask { .. } | Action::Terminate { .. } => true,
    }
}

/// Tasks that did not end in exactly one terminal status.
pub(crate) fn tasks_lost(engine: &Engine) -> u64 {
    engine
        .tasks()
        .values()
        .filter(|t| {
            let ends = t.history.iter().filter(|(_, s)| s.is_terminal()).count();
            !t.status.is_terminal() || ends != 1
        })
        .count() as u64
}
