//! A simulated cloud on a virtual clock.
//!
//! [`SimCloud`] implements [`Provider`] the way a cloud behaves, minus the
//! network: a launched instance becomes ready after a boot latency, a started
//! task exits after its recorded runtime with its recorded exit code, and every
//! instance is billed per second with a minimum. The replay driver owns the
//! clock: it calls [`SimCloud::advance_to`] and then drains
//! [`Provider::events`].
//!
//! Spot capacity follows a [`SpotMarket`]: each spot instance draws its
//! reclaim time at launch from an exponential law whose hourly hazard comes
//! from its offering's interruption bucket (see
//! [`sched_core::policy::SpotRisk`] for the mapping), times a scale, from a
//! random stream seeded by the market's seed and the instance id, so a replay
//! is reproducible and one instance's draw does not depend on the others. A
//! notice comes two minutes before the reclaim. Outages refuse spot launches
//! of chosen types over a time window.
//!
//! Memory is enforced like a container's hard limit: a task given less
//! memory than its recorded peak (see [`SimCloud::with_memory_peaks`]) is
//! killed with exit [`OOM_EXIT_CODE`] after [`OOM_AT_FRACTION`] of its
//! runtime. The trace does not say when the peak came; half the runtime is
//! the expected kill time for a peak equally likely at any moment.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rustc_hash::FxHashMap;
use sched_core::catalog::{
    CapacityType, Catalog, InstanceType, InterruptionBucket, OfferingId, UsdPerHour,
};
use sched_core::engine::{Action, Event};
use sched_core::policy::{hazard_per_hour, AllowList};
use sched_core::problem::{InstanceId, TaskId};
use sched_core::provider::inventory::{HeldInstance, Inventory};
use sched_core::provider::{Provider, ProviderError};
use sched_core::resources::Resources;
use sched_core::time::Millis;
use serde::Serialize;
use tracing::{debug, trace};

pub use sched_core::rightsize::OOM_EXIT_CODE;

/// Share of its runtime a task over its memory allocation runs before the
/// OOM kill.
pub const OOM_AT_FRACTION: f64 = 0.5;

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

/// How the simulated spot market takes capacity away.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpotMarket {
    /// Seed of the reclaim draws.
    pub seed: u64,
    /// Multiplies every offering's reclaim hazard; 0 turns reclaims off.
    pub interruption_scale: f64,
    /// From the reclaim notice to the reclaim.
    pub notice: Millis,
    /// When set, every spot instance is reclaimed this long after it is
    /// ready, instead of at a drawn time (for stress tests).
    pub reclaim_after_ready: Option<Millis>,
    /// Windows in which spot launches are refused for capacity.
    pub outages: Vec<SpotOutage>,
}

impl SpotMarket {
    /// EC2 gives a spot instance a two-minute interruption notice
    /// (docs.aws.amazon.com, "Spot Instance interruption notices").
    pub const DEFAULT_NOTICE_S: u64 = 120;

    /// A market that never reclaims and never refuses.
    pub fn calm() -> Self {
        SpotMarket { interruption_scale: 0.0, ..SpotMarket::default() }
    }

    /// True when a spot launch of `ty` at `at` is refused.
    pub fn refuses(&self, ty: &InstanceType, at: Millis) -> bool {
        self.outages.iter().any(|o| o.covers(ty, at))
    }
}

impl Default for SpotMarket {
    /// Reclaims at the catalog's rates, seed 1, no outage.
    fn default() -> Self {
        SpotMarket {
            seed: 1,
            interruption_scale: 1.0,
            notice: Millis::from_secs(Self::DEFAULT_NOTICE_S),
            reclaim_after_ready: None,
            outages: Vec::new(),
        }
    }
}

/// A window in which spot launches of some types are refused for capacity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpotOutage {
    /// Types refused (names, families, globs); `None` refuses every type.
    pub types: Option<AllowList>,
    /// From when.
    pub from: Millis,
    /// Until when (exclusive); `None` for the rest of the run.
    pub until: Option<Millis>,
}

impl SpotOutage {
    /// Every spot type, for the whole run.
    pub fn total() -> Self {
        SpotOutage { types: None, from: Millis(0), until: None }
    }

    /// True when it refuses `ty` at `at`.
    pub fn covers(&self, ty: &InstanceType, at: Millis) -> bool {
        at >= self.from
            && self.until.is_none_or(|until| at < until)
            && self.types.as_ref().is_none_or(|types| types.allows(ty))
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
    /// True when the market reclaimed it (the release is the reclaim).
    pub reclaimed: bool,
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
    running: FxHashMap<TaskId, InstanceId>,
    /// Peak memory a task reaches, MiB, for the tasks whose memory is enforced.
    /// The maps over every task of the run are ordered: ids come in roughly
    /// increasing order, so the tasks in flight sit in a few hot leaves
    /// rather than scattered over a hash table of the whole run.
    peaks: BTreeMap<TaskId, u64>,
    /// Scripts of tasks added after the cloud was built (OOM retries).
    added: BTreeMap<TaskId, TaskScript>,
    /// Tasks killed for memory so far, in kill order.
    oom_killed: Vec<TaskId>,
    /// Starts of a task while it still ran on another live instance.
    duplicate_starts: u64,
    /// Starts per task, for the restart tests.
    starts: BTreeMap<TaskId, u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum QueuedEvent {
    Ready(InstanceId),
    // Task events name the instance of their attempt, so that an event of
    // an attempt a reclaim ended is not taken for the retry's.
    Started(TaskId, InstanceId),
    Exited(TaskId, i32, InstanceId),
    OomKilled(TaskId, InstanceId),
    Terminated(InstanceId),
    ReclaimNotice(InstanceId),
    Reclaim(InstanceId),
}

impl State {
    fn push(&mut self, at: Millis, event: QueuedEvent) {
        self.sequence += 1;
        self.queue.push(Reverse((at, self.sequence, event)));
    }

    /// Drops the reclaim drawn for an instance that is gone, so it does not
    /// keep the clock running after the run.
    fn forget_reclaim(&mut self, instance: InstanceId) {
        self.queue.retain(|Reverse((_, _, event))| {
            !matches!(event, QueuedEvent::ReclaimNotice(i) | QueuedEvent::Reclaim(i) if *i == instance)
        });
    }
}

/// The simulated cloud. Interior mutability keeps the [`Provider`] methods
/// `&self`; the replay is single-threaded, so the lock is never contended.
#[derive(Debug)]
pub struct SimCloud {
    config: CloudConfig,
    catalog: Catalog,
    scripts: BTreeMap<TaskId, TaskScript>,
    market: SpotMarket,
    state: Mutex<State>,
}

impl SimCloud {
    /// A cloud selling `catalog`, running tasks as `scripts` say.
    pub fn new(
        config: CloudConfig,
        catalog: Catalog,
        scripts: HashMap<TaskId, TaskScript>,
    ) -> Self {
        SimCloud {
            config,
            catalog,
            scripts: scripts.into_iter().collect(),
            market: SpotMarket::calm(),
            state: Mutex::new(State::default()),
        }
    }

    /// The same cloud with spot capacity following `market` (a new cloud
    /// never reclaims and never refuses).
    pub fn with_market(mut self, market: SpotMarket) -> Self {
        self.market = market;
        self
    }

    /// The same cloud, killing a task given less memory than its entry in
    /// `peaks` (MiB) with [`OOM_EXIT_CODE`] after [`OOM_AT_FRACTION`] of its
    /// runtime. Tasks without an entry are never killed.
    pub fn with_memory_peaks(self, peaks: HashMap<TaskId, u64>) -> Self {
        self.state().peaks = peaks.into_iter().collect();
        self
    }

    /// Adds a task after the cloud was built (a retry under a new id), with
    /// its script and, where enforced, its peak memory in MiB.
    pub fn add_task(&self, task: TaskId, script: TaskScript, peak_mib: Option<u64>) {
        let mut state = self.state();
        state.added.insert(task, script);
        if let Some(peak) = peak_mib {
            state.peaks.insert(task, peak);
        }
    }

    /// The tasks killed for memory so far, in kill order.
    pub fn oom_killed(&self) -> Vec<TaskId> {
        self.state().oom_killed.clone()
    }

    /// When a spot instance launched at `now` is reclaimed, if it is.
    fn reclaim_at(
        &self,
        instance: InstanceId,
        bucket: Option<InterruptionBucket>,
        now: Millis,
    ) -> Option<Millis> {
        if let Some(after) = self.market.reclaim_after_ready {
            return Some(now + self.config.boot + after);
        }
        let hazard = hazard_per_hour(bucket) * self.market.interruption_scale;
        if !(hazard > 0.0 && hazard.is_finite()) {
            return None;
        }
        // One stream per instance: its draw does not depend on other launches.
        let mixed = self.market.seed ^ instance.0.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut rng = ChaCha8Rng::seed_from_u64(mixed);
        let u: f64 = 1.0 - rng.gen::<f64>(); // in (0, 1]
        let hours = -u.ln() / hazard;
        (hours < 1e6).then(|| now + Millis((hours * 3_600_000.0) as u64))
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

    /// What the cloud rents and runs now.
    pub fn inventory(&self) -> Inventory {
        let state = self.state();
        let boot = self.config.boot;
        let instances = state
            .rentals
            .values()
            .filter(|r| r.released_at.is_none())
            .map(|r| {
                let ready = state.now >= r.launched_at + boot;
                (r.instance, HeldInstance { offering: r.offering, ready })
            })
            .collect();
        let running = state.running.iter().map(|(&task, &instance)| (task, instance)).collect();
        let last_instance = state.rentals.keys().next_back().copied();
        Inventory { instances, running, last_instance }
    }

    /// Starts of a task while it still ran on another live instance: must stay 0.
    pub fn duplicate_starts(&self) -> u64 {
        self.state().duplicate_starts
    }

    /// How many times each task was started.
    pub fn starts(&self) -> HashMap<TaskId, u32> {
        self.state().starts.iter().map(|(&task, &n)| (task, n)).collect()
    }
}

impl SimCloud {
    /// [`Provider::launch`], at once.
    fn launch_now(&self, instance: InstanceId, offering: OfferingId) -> Result<(), ProviderError> {
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
        let spot = sold.capacity_type == CapacityType::Spot;
        if spot && self.market.refuses(ty, now) {
            return Err(ProviderError::CapacityUnavailable {
                offering,
                message: format!("simulated spot shortage for {}", ty.name),
            });
        }
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
                reclaimed: false,
            },
        );
        let ready_at = now + self.config.boot;
        state.push(ready_at, QueuedEvent::Ready(instance));
        if let Some(at) = spot.then(|| self.reclaim_at(instance, sold.interruption, now)).flatten()
        {
            let notice_at = Millis(at.0.saturating_sub(self.market.notice.0)).max(now);
            state.push(notice_at, QueuedEvent::ReclaimNotice(instance));
            state.push(at, QueuedEvent::Reclaim(instance));
            trace!(%instance, %at, "sim reclaim drawn");
        }
        trace!(%instance, type_name = %ty.name, %ready_at, "sim launch");
        Ok(())
    }

    /// [`Provider::start_task`], at once.
    fn start_task_now(
        &self,
        task: TaskId,
        instance: InstanceId,
        allocated: Resources,
    ) -> Result<(), ProviderError> {
        let mut state = self.state();
        let script = *self
            .scripts
            .get(&task)
            .or_else(|| state.added.get(&task))
            .ok_or_else(|| ProviderError::NotFound { what: task.to_string() })?;
        match state.rentals.get(&instance) {
            Some(rental) if rental.released_at.is_none() => {}
            _ => return Err(ProviderError::NotFound { what: instance.to_string() }),
        }
        if state.running.get(&task) == Some(&instance) {
            return Ok(()); // Idempotent: already running there.
        }
        if let Some(other) = state.running.get(&task).copied() {
            if state.rentals.get(&other).is_some_and(|r| r.released_at.is_none()) {
                state.duplicate_starts += 1;
                tracing::warn!(%task, %other, %instance, "sim: task started while it runs elsewhere");
            }
        }
        *state.starts.entry(task).or_default() += 1;
        let now = state.now;
        state.running.insert(task, instance);
        state.push(now, QueuedEvent::Started(task, instance));
        let peak = state.peaks.get(&task).copied();
        match peak.filter(|&peak| peak > allocated.memory_mib) {
            Some(peak) => {
                let runs_for = Millis((script.runtime.0 as f64 * OOM_AT_FRACTION) as u64);
                debug!(%task, peak_mib = peak, allocated_mib = allocated.memory_mib, "sim task will be killed for memory");
                state.push(now + runs_for, QueuedEvent::OomKilled(task, instance));
            }
            None => state
                .push(now + script.runtime, QueuedEvent::Exited(task, script.exit_code, instance)),
        }
        Ok(())
    }

    /// [`Provider::stop_task`], at once.
    fn stop_task_now(&self, task: TaskId) -> Result<(), ProviderError> {
        // The queued exit is dropped when it comes due, as the task no longer runs.
        self.state().running.remove(&task);
        Ok(())
    }

    /// [`Provider::terminate`], at once.
    fn terminate_now(&self, instance: InstanceId) -> Result<(), ProviderError> {
        let mut state = self.state();
        let now = state.now;
        let Some(rental) = state.rentals.get_mut(&instance) else {
            return Err(ProviderError::NotFound { what: instance.to_string() });
        };
        if rental.released_at.is_none() {
            rental.released_at = Some(now);
            state.running.retain(|_, host| *host != instance);
            state.forget_reclaim(instance);
            state.push(now, QueuedEvent::Terminated(instance));
        }
        Ok(())
    }

    /// The reports due at the clock's time, at once: [`Provider::events`]
    /// without an executor (the simulated cloud never waits).
    pub fn events_now(&self) -> Result<Vec<Event>, ProviderError> {
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
                QueuedEvent::Started(task, instance) => {
                    let current = state.running.get(&task) == Some(&instance);
                    current.then_some(Event::TaskStarted { task })
                }
                QueuedEvent::Exited(task, exit_code, instance) => {
                    if state.running.get(&task) == Some(&instance) {
                        state.running.remove(&task);
                        Some(Event::TaskExited { task, exit_code })
                    } else {
                        None
                    }
                }
                QueuedEvent::OomKilled(task, instance) => {
                    if state.running.get(&task) == Some(&instance) {
                        state.running.remove(&task);
                        state.oom_killed.push(task);
                        Some(Event::TaskExited { task, exit_code: OOM_EXIT_CODE })
                    } else {
                        None
                    }
                }
                QueuedEvent::Terminated(instance) => Some(Event::InstanceTerminated { instance }),
                QueuedEvent::ReclaimNotice(instance) => {
                    let live =
                        state.rentals.get(&instance).is_some_and(|r| r.released_at.is_none());
                    live.then_some(Event::InstanceReclaimWarning { instance })
                }
                QueuedEvent::Reclaim(instance) => {
                    let now = state.now;
                    match state.rentals.get_mut(&instance) {
                        Some(rental) if rental.released_at.is_none() => {
                            rental.released_at = Some(now);
                            rental.reclaimed = true;
                            state.running.retain(|_, host| *host != instance);
                            Some(Event::InstanceReclaimed { instance })
                        }
                        _ => None,
                    }
                }
            };
            out.extend(event);
        }
        Ok(out)
    }
}

impl SimCloud {
    /// Carries out `action` at once: [`ProviderExt::execute`] without an
    /// executor, since nothing the simulated cloud does waits.
    ///
    /// [`ProviderExt::execute`]: sched_core::provider::ProviderExt::execute
    pub fn execute_now(&self, action: &Action) -> Result<(), ProviderError> {
        match *action {
            Action::Launch { instance, offering } => self.launch_now(instance, offering),
            Action::StartTask { task, instance, allocated } => {
                self.start_task_now(task, instance, allocated)
            }
            Action::StopTask { task } => self.stop_task_now(task),
            Action::Terminate { instance } => self.terminate_now(instance),
        }
    }
}

#[async_trait]
impl Provider for SimCloud {
    async fn launch(
        &self,
        instance: InstanceId,
        offering: OfferingId,
    ) -> Result<(), ProviderError> {
        self.launch_now(instance, offering)
    }

    async fn start_task(
        &self,
        task: TaskId,
        instance: InstanceId,
        allocated: Resources,
    ) -> Result<(), ProviderError> {
        self.start_task_now(task, instance, allocated)
    }

    async fn stop_task(&self, task: TaskId) -> Result<(), ProviderError> {
        self.stop_task_now(task)
    }

    async fn terminate(&self, instance: InstanceId) -> Result<(), ProviderError> {
        self.terminate_now(instance)
    }

    async fn events(&self) -> Result<Vec<Event>, ProviderError> {
        self.events_now()
    }
}
