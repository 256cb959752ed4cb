//! A simulated cloud on a virtual clock.
//!
//! [`SimCloud`] implements [`Provider`] the way a cloud behaves, minus the
//! network: a launched instance becomes ready after a boot latency, a started
//! task exits after its recorded runtime with its recorded exit code, and every
//! instance is billed per second with a minimum. The replay driver owns the
//! clock: it calls [`SimCloud::advance_to`] and then drains
//! [`Provider::events`].

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use sched_core::catalog::{CapacityType, Catalog, OfferingId, UsdPerHour};
use sched_core::engine::Event;
use sched_core::problem::{InstanceId, TaskId};
use sched_core::provider::{Provider, ProviderError};
use sched_core::resources::Resources;
use sched_core::time::Millis;
use serde::Serialize;
use tracing::trace;

/// Timing and billing rules of the simulated cloud.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CloudConfig {
    /// From launch to ready, milliseconds.
    pub boot: Millis,
    /// Shortest billed period per instance, seconds.
    pub min_billing_s: u64,
}

impl CloudConfig {
    /// Default boot latency, seconds. A stock EC2 instance takes about 40 s
    /// from RunInstances to a booted OS (Depot, "Making EC2 boot time 8x
    /// faster", 2024); we add 20 s, our estimate, for the ECS agent to start
    /// and register.
    pub const DEFAULT_BOOT_S: u64 = 60;
    /// EC2 bills Linux instances per second with a 60-second minimum
    /// (aws.amazon.com/ec2/pricing/on-demand, "Per Second Billing").
    pub const DEFAULT_MIN_BILLING_S: u64 = 60;
}

impl Default for CloudConfig {
    fn default() -> Self {
        CloudConfig {
            boot: Millis::from_secs(Self::DEFAULT_BOOT_S),
            min_billing_s: Self::DEFAULT_MIN_BILLING_S,
        }
    }
}

/// How a task behaves once started: it runs this long and exits with this code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskScript {
    /// Wall-clock runtime once started.
    pub runtime: Millis,
    /// Exit code at the end.
    pub exit_code: i32,
}

/// One instance's rental, for billing and utilization.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rental {
    /// The engine's id.
    pub instance: InstanceId,
    /// What was rented.
    pub offering: OfferingId,
    /// Instance type name.
    pub type_name: String,
    /// Spot or on demand.
    pub capacity_type: CapacityType,
    /// Price per hour.
    pub price: UsdPerHour,
    /// Nominal capacity (what is paid for).
    pub nominal: Resources,
    /// When the launch was asked for.
    pub launched_at: Millis,
    /// When it was released, if it was.
    pub released_at: Option<Millis>,
}

impl Rental {
    /// Billed seconds: per second, at least the minimum; counted up to `end`
    /// if the rental was never released.
    pub fn billed_seconds(&self, min_billing_s: u64, end: Millis) -> f64 {
        let until = self.released_at.unwrap_or(end);
        let seconds = until.since(self.launched_at).0.div_ceil(1000);
        seconds.max(min_billing_s) as f64
    }

    /// What the rental costs, USD.
    pub fn cost_usd(&self, min_billing_s: u64, end: Millis) -> f64 {
        self.price.cost_for_seconds(self.billed_seconds(min_billing_s, end))
    }
}

#[derive(Debug, Default)]
struct State {
    now: Millis,
    sequence: u64,
    queue: BinaryHeap<Reverse<(Millis, u64, QueuedEvent)>>,
    rentals: BTreeMap<InstanceId, Rental>,
    running: HashMap<TaskId, InstanceId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum QueuedEvent {
    Ready(InstanceId),
    Started(TaskId),
    Exited(TaskId, i32),
    Terminated(InstanceId),
}

impl State {
    fn push(&mut self, at: Millis, event: QueuedEvent) {
        self.sequence += 1;
        self.queue.push(Reverse((at, self.sequence, event)));
    }
}

/// The simulated cloud. Interior mutability keeps the [`Provider`] methods
/// `&self`; the replay is single-threaded, so the lock is never contended.
#[derive(Debug)]
pub struct SimCloud {
    config: CloudConfig,
    catalog: Catalog,
    scripts: HashMap<TaskId, TaskScript>,
    state: Mutex<State>,
}

impl SimCloud {
    /// A cloud selling `catalog`, running tasks as `scripts` say.
    pub fn new(
        config: CloudConfig,
        catalog: Catalog,
        scripts: HashMap<TaskId, TaskScript>,
    ) -> Self {
        SimCloud { config, catalog, scripts, state: Mutex::new(State::default()) }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-written
        // in a way later reads depend on, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The virtual clock.
    pub fn now(&self) -> Millis {
        self.state().now
    }

    /// Moves the clock forward to `at` (never backwards).
    pub fn advance_to(&self, at: Millis) {
        let mut state = self.state();
        state.now = state.now.max(at);
    }

    /// When the next queued event is due, if any.
    pub fn next_event_at(&self) -> Option<Millis> {
        self.state().queue.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Every rental so far, by instance.
    pub fn rentals(&self) -> Vec<Rental> {
        self.state().rentals.values().cloned().collect()
    }

    /// The billing rules in force.
    pub fn config(&self) -> CloudConfig {
        self.config
    }
}

#[async_trait]
impl Provider for SimCloud {
    async fn launch(
        &self,
        instance: InstanceId,
        offering: OfferingId,
    ) -> Result<(), ProviderError> {
        if offering.0 as usize >= self.catalog.offerings().len() {
            return Err(ProviderError::NotFound { what: offering.to_string() });
        }
        let sold = self.catalog.offering(offering);
        let ty = self.catalog.offering_type(offering);
        let mut state = self.state();
        if state.rentals.contains_key(&instance) {
            return Ok(()); // A retried launch of the same instance.
        }
        let now = state.now;
        state.rentals.insert(
            instance,
            Rental {
                instance,
                offering,
                type_name: ty.name.clone(),
                capacity_type: sold.capacity_type,
                price: sold.price,
                nominal: ty.nominal(),
                launched_at: now,
                released_at: None,
            },
        );
        let ready_at = now + self.config.boot;
        state.push(ready_at, QueuedEvent::Ready(instance));
        trace!(%instance, type_name = %ty.name, %ready_at, "sim launch");
        Ok(())
    }

    async fn start_task(
        &self,
        task: TaskId,
        instance: InstanceId,
        _allocated: Resources,
    ) -> Result<(), ProviderError> {
        let script = *self
            .scripts
            .get(&task)
            .ok_or_else(|| ProviderError::NotFound { what: task.to_string() })?;
        let mut state = self.state();
        match state.rentals.get(&instance) {
            Some(rental) if rental.released_at.is_none() => {}
            _ => return Err(ProviderError::NotFound { what: instance.to_string() }),
        }
        if state.running.get(&task) == Some(&instance) {
            return Ok(()); // Idempotent: already running there.
        }
        let now = state.now;
        state.running.insert(task, instance);
        state.push(now, QueuedEvent::Started(task));
        state.push(now + script.runtime, QueuedEvent::Exited(task, script.exit_code));
        Ok(())
    }

    async fn stop_task(&self, task: TaskId) -> Result<(), ProviderError> {
        // The queued exit is dropped when it comes due, as the task no longer runs.
        self.state().running.remove(&task);
        Ok(())
    }

    async fn terminate(&self, instance: InstanceId) -> Result<(), ProviderError> {
        let mut state = self.state();
        let now = state.now;
        let Some(rental) = state.rentals.get_mut(&instance) else {
            return Err(ProviderError::NotFound { what: instance.to_string() });
        };
        if rental.released_at.is_none() {
            rental.released_at = Some(now);
            state.running.retain(|_, host| *host != instance);
            state.push(now, QueuedEvent::Terminated(instance));
        }
        Ok(())
    }

    async fn events(&self) -> Result<Vec<Event>, ProviderError> {
        let mut state = self.state();
        let mut out = Vec::new();
        while let Some(Reverse((at, _, event))) = state.queue.peek().copied() {
            if at > state.now {
                break;
            }
            state.queue.pop();
            let event = match event {
                QueuedEvent::Ready(instance) => {
                    let live =
                        state.rentals.get(&instance).is_some_and(|r| r.released_at.is_none());
                    live.then_some(Event::InstanceReady { instance })
                }
                QueuedEvent::Started(task) => {
                    state.running.contains_key(&task).then_some(Event::TaskStarted { task })
                }
                QueuedEvent::Exited(task, exit_code) => {
                    state.running.remove(&task).map(|_| Event::TaskExited { task, exit_code })
                }
                QueuedEvent::Terminated(instance) => Some(Event::InstanceTerminated { instance }),
            };
            out.extend(event);
        }
        Ok(out)
    }
}
