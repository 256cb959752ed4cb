//! Replays a workload through the engine on the simulated cloud.
//!
//! The driver owns the virtual clock. At each step it jumps to the earliest
//! of: the next task arrival, the next cloud event, the engine's next wakeup.
//! It delivers everything due at that moment, asks the engine once for its
//! actions, and carries them out on the cloud. Deciding once per moment lets
//! the solver see every task that arrived together.

use std::collections::HashMap;

use sched_core::catalog::Architecture;
use sched_core::engine::{Action, Engine, EngineError, Event};
use sched_core::lifecycle::{RunStatus, TaskStatus};
use sched_core::policy::{Candidate, Policy, PolicyError, SpotRisk};
use sched_core::pricing::{pattern_lp_bound, DemandShape, PatternLimits, UnitPrices};
use sched_core::provider::faults::{FaultConfig, FaultyProvider};
use sched_core::provider::retry::RetryPolicy;
use sched_core::provider::ProviderError;
use sched_core::resources::Resources;
use sched_core::solver::MilpConfig;
use sched_core::time::Millis;
use sched_core::Catalog;
use serde::Serialize;
use thiserror::Error;
use tracing::{debug, warn};

use crate::clocked::ClockedCloud;
use crate::cloud::{CloudConfig, SimCloud, SpotMarket};
use crate::metrics::{by_process, ProcessResources, SpotOutcomes};
use crate::oom::{OomOutcomes, OomRetries};
use crate::recovery::{tasks_lost, FaultReport, Recovery};
use crate::solve_log::{Recording, SolveSummary};
use crate::strategy::{single_instance_choice, solver_for, Strategy};
use crate::workload::Workload;
use sched_core::rightsize::OomGuard;

/// Why a replay could not finish.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The policy does not fit the catalog.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The engine refused an event, which is a bug in the driver or engine.
    #[error("the engine refused an event at {at}: {source}")]
    Engine {
        /// Virtual time.
        at: Millis,
        /// The refusal.
        source: EngineError,
    },
    /// The simulated cloud refused an action.
    #[error("the simulated cloud refused an action at {at}: {source}")]
    Provider {
        /// Virtual time.
        at: Millis,
        /// The refusal.
        source: ProviderError,
    },
    /// Nothing more can happen, but some tasks never ended.
    #[error("{strategy}: replay stalled at {at} with {unfinished} tasks unfinished")]
    Stalled {
        /// The strategy.
        strategy: Strategy,
        /// Virtual time.
        at: Millis,
        /// Tasks not in a terminal status.
        unfinished: usize,
    },
    /// An engine invariant broke (checked after every event under faults).
    #[error("invariant broken at {at}: {what}")]
    Invariant {
        /// Virtual time.
        at: Millis,
        /// What does not hold.
        what: String,
    },
    /// `single-instance` needs an on-demand offering and the catalog has none allowed.
    #[error("single-instance needs an on-demand offering; the allowed types have none")]
    NoOnDemandOffering,
}

/// Task counts by final status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TaskCounts {
    /// Tasks replayed.
    pub total: usize,
    /// Ended SUCCEEDED.
    pub succeeded: usize,
    /// Ended FAILED.
    pub failed: usize,
    /// Ended UNSCHEDULABLE.
    pub unschedulable: usize,
    /// Ended CANCELLED.
    pub cancelled: usize,
}

/// What one strategy did on one trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StrategyReport {
    /// Strategy name.
    pub name: String,
    /// What the rented instances cost, USD.
    pub cost_usd: f64,
    /// The per-task lower bound on cost under the user's policy, USD.
    pub lower_bound_usd: f64,
    /// Used cpu-seconds over paid instance cpu-seconds.
    pub cpu_utilization: f64,
    /// Used MiB-seconds over paid instance MiB-seconds.
    pub memory_utilization: f64,
    /// From the first submission to the last task's end, seconds.
    pub makespan_s: f64,
    /// Mean wait from submission to start, over tasks that started, seconds.
    pub mean_queue_s: f64,
    /// Instances rented.
    pub instances_launched: usize,
    /// Final task statuses.
    pub tasks: TaskCounts,
    /// Resource-time totals: requested, allocated, used and paid.
    pub resources: ResourceTotals,
    /// The pattern-LP lower bound on the trace's cost, USD: stronger than
    /// `lower_bound_usd`; `None` when it could not be computed.
    pub pattern_bound_usd: Option<f64>,
    /// What the solver did, decision by decision (exact solvers only).
    pub solver: Option<SolveSummary>,
    /// Preemptions, retries, lost work and the on-demand share of the cost.
    #[serde(flatten)]
    pub spot: SpotOutcomes,
    /// Tasks the driver cancelled because no capacity came for them for
    /// [`GIVE_UP_AFTER`] (a `spot` run under a lasting shortage).
    pub abandoned: usize,
    /// Requested, Allocated and Used per process, largest first.
    pub processes: Vec<ProcessResources>,
    /// Out-of-memory kills and the guard's retries.
    pub oom: OomOutcomes,
    /// Per-task records and rentals over time, for `--out` (not in the JSON);
    /// `None` when [`ReplayOptions::detail`] is off.
    #[serde(skip)]
    pub detail: Option<std::sync::Arc<crate::detail::ReplayDetail>>,
    /// Tasks no allowed offering can hold, by trace name, with the reason.
    pub unschedulable: Vec<UnschedulableTask>,
    /// Fault figures, when the replay ran under injected faults.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faults: Option<FaultReport>,
}

/// A task no allowed offering can hold, as a report names it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnschedulableTask {
    /// Its name in the trace.
    pub task: String,
    /// The resource that does not fit: `cpu`, `memory` or `gpu`.
    pub resource: String,
    /// How much of it the task needs (millicpus, MiB or GPUs).
    pub needs: u64,
    /// The allowed offering that came closest, if any has the task's architecture.
    pub largest_offering: Option<String>,
    /// How much of the resource that offering has, usable.
    pub largest_has: Option<u64>,
    /// Every resource the closest offering lacks, with the most any allowed
    /// offering has of it.
    pub short: Vec<sched_core::plan::Shortfall>,
    /// The whole reason, in words.
    pub reason: String,
}

/// The unschedulable tasks of a replay, in workload order.
fn unschedulable_tasks(workload: &Workload, engine: &Engine) -> Vec<UnschedulableTask> {
    workload
        .tasks
        .iter()
        .filter_map(|t| {
            let record = engine.tasks().get(&t.spec.id)?;
            let reason = record.unschedulable.as_ref()?;
            Some(UnschedulableTask {
                task: t.name.clone(),
                resource: reason.dimension.to_string(),
                needs: reason.demand.get(reason.dimension),
                largest_offering: reason.largest.as_ref().map(|l| l.type_name.clone()),
                largest_has: reason.largest.as_ref().map(|l| l.capacity.get(reason.dimension)),
                short: reason.short.clone(),
                reason: reason.to_string(),
            })
        })
        .collect()
}

/// How long the replay waits with no task starting, ending or being
/// preempted, and none running, before it cancels what is left: a day of
/// virtual time, or two boots of the simulated cloud when that is longer.
pub const GIVE_UP_AFTER: Millis = Millis::from_secs(24 * 3600);

/// Cpu-seconds and MiB-seconds of one kind of resource-time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ResourceTime {
    /// Cpu-seconds.
    pub cpu_s: f64,
    /// MiB-seconds.
    pub memory_mib_s: f64,
}

/// Resource-time of a replay, each over the tasks' recorded runtimes except
/// `paid`, which is nominal instance capacity over billed time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ResourceTotals {
    /// What the pipeline asked for.
    pub requested: ResourceTime,
    /// What the engine gave the tasks.
    pub allocated: ResourceTime,
    /// What the tasks used (tasks without usage in the trace count as zero).
    pub used: ResourceTime,
    /// What was rented.
    pub paid: ResourceTime,
}

/// The settings of one replay.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// The user's policy (the greedy and per-task strategies follow it).
    pub policy: Policy,
    /// Boot and billing rules of the simulated cloud.
    pub cloud: CloudConfig,
    /// Limits of the exact solver, for the `milp` and `auto` strategies.
    pub milp: MilpConfig,
    /// Reclaims and shortages of the simulated spot market.
    pub spot: SpotMarket,
    /// Faults injected between the engine and the simulated cloud; `None`
    /// replays a well-behaved cloud.
    pub faults: Option<FaultConfig>,
    /// Collect the per-task records and rentals over time that `--out`
    /// draws ([`StrategyReport::detail`]). On by default; a replay that only
    /// needs the figures turns it off: at a million tasks the records cost
    /// about a tenth of the replay's time and a fifth of its memory.
    pub detail: bool,
}

impl ReplayOptions {
    /// The user's policy on the given cloud, with the exact solver's defaults.
    pub fn new(policy: Policy, cloud: CloudConfig) -> Self {
        ReplayOptions {
            policy,
            cloud,
            milp: MilpConfig::default(),
            spot: SpotMarket::default(),
            faults: None,
            detail: true,
        }
    }
}

impl StrategyReport {
    /// Sets the trace's lower bounds, which a replay does not compute itself.
    fn set_bounds(&mut self, bounds: Bounds) {
        self.lower_bound_usd = bounds.per_task_usd;
        self.pattern_bound_usd = bounds.pattern_usd;
    }
}

/// The trace's lower bounds under the user's policy, computed once per trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// Each task at the cheapest price of its dominant resource.
    pub per_task_usd: f64,
    /// The pattern-LP bound, where it could be computed.
    pub pattern_usd: Option<f64>,
}

impl Bounds {
    /// Both bounds of `workload` over `candidates`.
    pub fn of(workload: &Workload, candidates: &[Candidate]) -> Self {
        let mut work: HashMap<(Resources, Option<Architecture>), f64> = HashMap::new();
        for task in &workload.tasks {
            let seconds = task.script.runtime.as_secs_f64();
            *work.entry((task.spec.allocated, task.spec.arch)).or_insert(0.0) += seconds;
        }
        let mut shapes: Vec<DemandShape> = work
            .into_iter()
            .map(|((demand, arch), task_seconds)| DemandShape { demand, arch, task_seconds })
            .collect();
        shapes.sort_by(|a, b| a.demand.cmp(&b.demand).then(a.arch.cmp(&b.arch)));
        let pattern_usd = match pattern_lp_bound(&shapes, candidates, &PatternLimits::default()) {
            Ok(bound) => Some(bound.bound_usd),
            Err(error) => {
                warn!(%error, "pattern-LP bound unavailable; reporting the per-task bound only");
                None
            }
        };
        Bounds { per_task_usd: lower_bound_usd(workload, candidates), pattern_usd }
    }
}

/// Replays `workload` under `strategy`.
///
/// The trace's bounds do not depend on the replay: they are worked out
/// beside it, on a thread of their own (another core, when there is one).
///
/// # Errors
/// A policy that does not fit the catalog, or a replay that cannot finish.
pub fn replay(
    workload: &Workload,
    catalog: &Catalog,
    strategy: Strategy,
    options: &ReplayOptions,
) -> Result<StrategyReport, ReplayError> {
    let candidates = options.policy.candidates(catalog)?;
    let (bounds, report) = std::thread::scope(|scope| {
        let bounds = scope.spawn(|| Bounds::of(workload, &candidates));
        let report = replay_unbounded(workload, catalog, strategy, options);
        (bounds.join(), report)
    });
    let mut report = report?;
    match bounds {
        Ok(bounds) => report.set_bounds(bounds),
        Err(panic) => std::panic::resume_unwind(panic),
    }
    Ok(report)
}

/// Replays `workload` under `strategy` with bounds computed once by the
/// caller (for many replays of one trace).
///
/// # Errors
/// As [`replay`].
pub fn replay_with_bounds(
    workload: &Workload,
    catalog: &Catalog,
    strategy: Strategy,
    options: &ReplayOptions,
    bounds: Bounds,
) -> Result<StrategyReport, ReplayError> {
    let mut report = replay_unbounded(workload, catalog, strategy, options)?;
    report.set_bounds(bounds);
    Ok(report)
}

/// A replay whose report has no bounds yet ([`StrategyReport::set_bounds`]).
fn replay_unbounded(
    workload: &Workload,
    catalog: &Catalog,
    strategy: Strategy,
    options: &ReplayOptions,
) -> Result<StrategyReport, ReplayError> {
    let user_candidates = options.policy.candidates(catalog)?;
    let rightsized;
    let workload = if strategy.is_rightsized() {
        rightsized = workload.with_rightsized_allocations();
        &rightsized
    } else {
        workload
    };
    let (policy, candidates, single) =
        strategy_setup(workload, catalog, strategy, options, user_candidates)?;

    let scripts = workload.tasks.iter().map(|t| (t.spec.id, t.script)).collect();
    let peaks = memory_peaks(workload);
    let mut guard = (strategy == Strategy::GreedyRightsizedGuarded)
        .then(|| OomRetries::new(OomGuard::default(), workload, &peaks));
    let cloud = SimCloud::new(options.cloud, catalog.clone(), scripts)
        .with_market(options.spot.clone())
        .with_memory_peaks(peaks);
    let (solver, log) = Recording::wrap(solver_for(strategy, single, options.milp));
    // The engine prices the reclaims the market will make: the catalog's
    // rates times the market's scale.
    let weight = policy.spot_risk_weight * options.spot.interruption_scale.max(0.0);
    let risk = SpotRisk::new(catalog, &candidates, weight, options.cloud.boot);
    let mut engine = Engine::new(policy, candidates, Box::new(solver)).with_spot_risk(risk);
    let mut report = match &options.faults {
        None => {
            let mut recovery = Recovery::new(false, false);
            let abandoned =
                run(workload, &mut engine, &cloud, strategy, &mut recovery, guard.as_mut())?;
            let mut report = summarize(workload, &engine, &cloud, strategy);
            report.abandoned = abandoned;
            memory_figures(
                &mut report,
                strategy,
                workload,
                &engine,
                &cloud,
                guard.as_ref(),
                options,
            );
            report
        }
        Some(config) => {
            let spot = catalog
                .offerings()
                .iter()
                .filter(|o| o.capacity_type == sched_core::catalog::CapacityType::Spot)
                .map(|o| o.id);
            let faulty = FaultyProvider::new(cloud, config.clone().with_spot_offerings(spot));
            let mut recovery = Recovery::new(true, true);
            let abandoned =
                run(workload, &mut engine, &faulty, strategy, &mut recovery, guard.as_mut())?;
            let mut report = summarize(workload, &engine, &faulty, strategy);
            report.abandoned = abandoned;
            report.faults = Some(fault_report(&engine, &faulty, recovery));
            let sim = faulty.sim();
            memory_figures(&mut report, strategy, workload, &engine, sim, guard.as_ref(), options);
            report
        }
    };
    if matches!(strategy, Strategy::Milp | Strategy::Auto) {
        report.solver = Some(log.summary(strategy.name()));
    }
    Ok(report)
}

/// Adds the out-of-memory figures and, when the options ask for it, the
/// per-task detail to `report`.
fn memory_figures(
    report: &mut StrategyReport,
    strategy: Strategy,
    workload: &Workload,
    engine: &Engine,
    cloud: &SimCloud,
    guard: Option<&OomRetries>,
    options: &ReplayOptions,
) {
    crate::oom::account(report, engine, cloud, guard);
    if options.detail {
        let detail = crate::detail::collect(strategy.name(), workload, engine, cloud, guard);
        report.detail = Some(std::sync::Arc::new(detail));
    }
}

/// The policy, candidates and fixed instance each strategy runs with.
fn strategy_setup(
    workload: &Workload,
    catalog: &Catalog,
    strategy: Strategy,
    options: &ReplayOptions,
    user_candidates: Vec<Candidate>,
) -> Result<(Policy, Vec<Candidate>, Option<Candidate>), ReplayError> {
    let mut policy = options.policy.clone();
    // The engine expects the boot the simulated cloud will make it wait.
    policy.launch_overhead_s = options.cloud.boot.0.div_ceil(1000);
    // A slow simulated boot is not a stuck one.
    if let Some(timeout) = policy.ready_timeout_s.as_mut() {
        *timeout = (*timeout).max(policy.launch_overhead_s.saturating_mul(5));
    }
    match strategy {
        Strategy::Greedy
        | Strategy::Milp
        | Strategy::Auto
        | Strategy::GreedyRightsized
        | Strategy::GreedyRightsizedGuarded => Ok((policy, user_candidates, None)),
        Strategy::PerTask => {
            // The instance goes as soon as its task ends; nothing to batch.
            policy.idle_release_s = 0;
            policy.batch_idle_ms = 0;
            policy.batch_max_ms = 0;
            Ok((policy, user_candidates, None))
        }
        Strategy::SingleInstance => {
            // A local executor's machine: on demand, kept for the whole run.
            policy.provisioning = sched_core::ProvisioningModel::OnDemand;
            policy.idle_release_s = u64::MAX / 1000;
            policy.batch_idle_ms = 0;
            policy.batch_max_ms = 0;
            let on_demand =
                policy.candidates(catalog).map_err(|_| ReplayError::NoOnDemandOffering)?;
            let demands: Vec<_> = workload.tasks.iter().map(|t| t.spec.allocated).collect();
            let choice = single_instance_choice(&on_demand, &demands)
                .ok_or(ReplayError::NoOnDemandOffering)?;
            Ok((policy, on_demand, Some(choice)))
        }
    }
}

/// Drives the engine and the cloud until the run terminates; returns how
/// many tasks it cancelled after [`GIVE_UP_AFTER`] without progress.
fn run<C: ClockedCloud>(
    workload: &Workload,
    engine: &mut Engine,
    cloud: &C,
    strategy: Strategy,
    recovery: &mut Recovery,
    mut guard: Option<&mut OomRetries>,
) -> Result<usize, ReplayError> {
    let mut next_arrival = 0;
    let mut closed = false;
    let mut last_progress = Millis(0);
    let mut abandoned = 0;
    loop {
        let candidates = [
            workload.tasks.get(next_arrival).map(|t| t.submit),
            cloud.next_event_at(),
            engine.next_wakeup(),
            recovery.next_retry_at(),
        ];
        let Some(now) = candidates.into_iter().flatten().min().map(|t| t.max(cloud.now())) else {
            if !closed {
                closed = true;
                recovery.handle(engine, cloud.now(), Event::SubmissionsClosed)?;
                execute(engine, cloud, recovery, guard.as_deref_mut())?;
                continue;
            }
            if engine.run_status() == RunStatus::Terminated {
                if finish(engine, cloud, recovery)? {
                    continue;
                }
                return Ok(abandoned);
            }
            let unfinished = engine.tasks().values().filter(|t| !t.status.is_terminal()).count();
            return Err(ReplayError::Stalled { strategy, at: cloud.now(), unfinished });
        };
        cloud.advance_to(now);
        let patience = GIVE_UP_AFTER.max(Millis(cloud.config().boot.0.saturating_mul(2)));
        let stuck = closed && abandoned == 0 && now.since(last_progress) > patience;
        let open = || engine.tasks().values().filter(|t| !t.status.is_terminal());
        if stuck && open().count() > 0 && open().all(|t| t.status == TaskStatus::Submitted) {
            abandoned = open().count();
            warn!(%strategy, abandoned, at = %now, "no task started or ended for a day; cancelling the run");
            recovery.handle(engine, now, Event::CancelRun)?;
        }

        while let Some(task) = workload.tasks.get(next_arrival).filter(|t| t.submit <= now) {
            if let Some(guard) = guard.as_deref_mut() {
                guard.submitted(&task.spec);
            }
            recovery.handle(engine, now, Event::TaskSubmitted(task.spec.clone()))?;
            next_arrival += 1;
            last_progress = now;
        }
        // A task the OOM guard may still retry keeps submissions open.
        if next_arrival == workload.tasks.len()
            && !closed
            && !guard.as_deref_mut().is_some_and(|g| g.may_retry(engine))
        {
            closed = true;
            recovery.handle(engine, now, Event::SubmissionsClosed)?;
        }
        if execute(engine, cloud, recovery, guard.as_deref_mut())? {
            last_progress = now;
        }
        let quiet = cloud.next_event_at().is_none() && recovery.is_idle();
        if engine.run_status() == RunStatus::Terminated
            && quiet
            && !finish(engine, cloud, recovery)?
        {
            return Ok(abandoned);
        }
    }
}

/// Delivers due cloud events, then carries out the engine's decision; a
/// refused launch goes back to the engine as an event. Returns true when a
/// task started or ended.
fn execute<C: ClockedCloud>(
    engine: &mut Engine,
    cloud: &C,
    recovery: &mut Recovery,
    mut guard: Option<&mut OomRetries>,
) -> Result<bool, ReplayError> {
    let now = cloud.now();
    let mut progress = false;
    let mut failed_polls = 0u32;
    loop {
        let mut events = match cloud.events_now() {
            Ok(events) => events,
            // A failed poll leaves the reports in place; the next one gets them.
            Err(error) if RetryPolicy::retryable(&error) && failed_polls < 64 => {
                failed_polls += 1;
                warn!(%error, attempt = failed_polls, "event poll failed; polling again");
                continue;
            }
            Err(source) => return Err(ReplayError::Provider { at: now, source }),
        };
        if recovery.step() {
            events.extend(recovery.reconcile(engine, cloud)?);
        }
        loop {
            for event in events.drain(..) {
                progress |= is_progress(engine, &event);
                let retry = guard.as_deref_mut().and_then(|g| g.after(&event, cloud.sim()));
                recovery.handle(engine, now, event)?;
                if let Some(retry) = retry {
                    if let Some(guard) = guard.as_deref_mut() {
                        guard.submitted(&retry);
                    }
                    recovery.handle(engine, now, Event::TaskSubmitted(retry))?;
                }
            }
            let mut actions: Vec<(Action, u32)> =
                engine.decide(now).into_iter().map(|a| (a, 0)).collect();
            actions.extend(recovery.due(now, engine));
            if actions.is_empty() {
                return Ok(progress);
            }
            for (action, attempt) in actions {
                events.extend(recovery.carry_out(cloud, engine, action, attempt)?);
            }
            if events.is_empty() {
                break;
            }
        }
    }
}

/// True when `event` starts or ends a run of a task: a start, an exit, or
/// the loss of an instance a task was running on (a preemption).
fn is_progress(engine: &Engine, event: &Event) -> bool {
    match event {
        Event::TaskStarted { .. } | Event::TaskExited { .. } => true,
        Event::InstanceReclaimed { instance } | Event::InstanceTerminated { instance } => {
            engine.instances().get(instance).is_some_and(|host| {
                host.tasks.iter().any(|task| {
                    engine.tasks().get(task).is_some_and(|t| {
                        matches!(t.status, TaskStatus::Running | TaskStatus::Unknown)
                    })
                })
            })
        }
        _ => false,
    }
}

/// At the end of a run under faults, one last reconciliation: true when it
/// found something to do, so the driver must go on.
fn finish<C: ClockedCloud>(
    engine: &mut Engine,
    cloud: &C,
    recovery: &mut Recovery,
) -> Result<bool, ReplayError> {
    if cloud.fault_counts().is_none() {
        return Ok(false);
    }
    let leaks_before = cloud.inventory().instances.len();
    let events = recovery.reconcile(engine, cloud)?;
    for event in events {
        recovery.handle(engine, cloud.now(), event)?;
    }
    Ok(leaks_before > 0 || !recovery.is_idle() || cloud.next_event_at().is_some())
}

/// The fault figures of a replay that ran under `cloud`'s faults.
fn fault_report<C: ClockedCloud>(engine: &Engine, cloud: &C, recovery: Recovery) -> FaultReport {
    let counts = cloud.fault_counts().unwrap_or_default();
    FaultReport {
        injected: counts.total(),
        tasks_lost: tasks_lost(engine),
        duplicate_starts: cloud.duplicate_starts(),
        instances_leaked: cloud.inventory().instances.len() as u64,
        by_kind: counts.by_kind.iter().map(|(k, n)| (k.name().to_string(), *n)).collect(),
        ..recovery.report
    }
}

/// The memory the cloud enforces per task, MiB: the recorded peak, capped
/// at the request, since the recorded run completed with the request (an
/// executor that did not enforce memory, or a request rounded down by the
/// trace's units); a task given its request is never killed.
fn memory_peaks(workload: &Workload) -> HashMap<sched_core::TaskId, u64> {
    workload
        .tasks
        .iter()
        .filter_map(|t| Some((t.spec.id, t.peak_memory_mib?.min(t.spec.requested.memory_mib))))
        .collect()
}

/// Each task at the cheapest price of its dominant resource, for its runtime.
pub fn lower_bound_usd(workload: &Workload, candidates: &[Candidate]) -> f64 {
    let prices = UnitPrices::of(candidates);
    workload
        .tasks
        .iter()
        .filter(|t| candidates.iter().any(|c| t.spec.allocated.fits_in(&c.capacity)))
        .map(|t| prices.lower_bound_usd(&t.spec.allocated, t.script.runtime.as_secs_f64()))
        .fold(0.0, |a, b| a + b)
}

fn summarize<C: ClockedCloud>(
    workload: &Workload,
    engine: &Engine,
    cloud: &C,
    strategy: Strategy,
) -> StrategyReport {
    let end = cloud.now();
    let min_billing = cloud.config().min_billing_s;
    let rentals = cloud.rentals();
    // Sums are folded from +0.0: an empty f64 sum is -0.0, printed "-0".
    let cost_usd = rentals.iter().map(|r| r.cost_usd(min_billing, end)).fold(0.0, |a, b| a + b);
    let paid_cpu_s: f64 = rentals
        .iter()
        .map(|r| r.nominal.cpus() * r.billed_seconds(min_billing, end))
        .fold(0.0, |a, b| a + b);
    let paid_mib_s: f64 = rentals
        .iter()
        .map(|r| r.nominal.memory_mib as f64 * r.billed_seconds(min_billing, end))
        .fold(0.0, |a, b| a + b);
    // Only tasks that ran used anything: an unschedulable or abandoned task's
    // recorded usage belongs to a run that did not happen here.
    let records = engine.tasks();
    let ran = |t: &&crate::workload::WorkloadTask| {
        records.get(&t.spec.id).is_some_and(|r| r.started_at.is_some())
    };
    let used: Vec<_> = workload.tasks.iter().filter(ran).filter_map(|t| t.used).collect();
    let ratio = |used: f64, paid: f64| if paid > 0.0 { used / paid } else { 0.0 };
    let over_runtime = |pick: fn(&sched_core::TaskSpec) -> sched_core::Resources| {
        workload.tasks.iter().fold(ResourceTime::default(), |acc, t| {
            let seconds = t.script.runtime.as_secs_f64();
            let r = pick(&t.spec);
            ResourceTime {
                cpu_s: acc.cpu_s + r.cpus() * seconds,
                memory_mib_s: acc.memory_mib_s + r.memory_mib as f64 * seconds,
            }
        })
    };
    let resources = ResourceTotals {
        requested: over_runtime(|s| s.requested),
        allocated: over_runtime(|s| s.allocated),
        used: ResourceTime {
            cpu_s: used.iter().map(|u| u.cpu_seconds).fold(0.0, |a, b| a + b),
            memory_mib_s: used.iter().map(|u| u.memory_mib_seconds).fold(0.0, |a, b| a + b),
        },
        paid: ResourceTime { cpu_s: paid_cpu_s, memory_mib_s: paid_mib_s },
    };

    let records = engine.tasks();
    let mut counts = TaskCounts { total: records.len(), ..TaskCounts::default() };
    for record in records.values() {
        match record.status {
            TaskStatus::Succeeded => counts.succeeded += 1,
            TaskStatus::Failed => counts.failed += 1,
            TaskStatus::Unschedulable => counts.unschedulable += 1,
            TaskStatus::Cancelled => counts.cancelled += 1,
            _ => {}
        }
    }
    let waits: Vec<f64> = records
        .values()
        .filter_map(|r| {
            let started = r.history.iter().find(|(_, s)| *s == TaskStatus::Running)?.0;
            Some(started.since(r.submitted_at).as_secs_f64())
        })
        .collect();
    let mean_queue_s =
        if waits.is_empty() { 0.0 } else { waits.iter().sum::<f64>() / waits.len() as f64 };
    let makespan = records.values().filter_map(|r| r.ended_at).max().unwrap_or_default();
    let first_submit = workload.tasks.first().map(|t| t.submit).unwrap_or_default();

    let report = StrategyReport {
        name: strategy.name().to_string(),
        cost_usd,
        lower_bound_usd: 0.0,
        cpu_utilization: ratio(
            used.iter().map(|u| u.cpu_seconds).fold(0.0, |a, b| a + b),
            paid_cpu_s,
        ),
        memory_utilization: ratio(
            used.iter().map(|u| u.memory_mib_seconds).fold(0.0, |a, b| a + b),
            paid_mib_s,
        ),
        makespan_s: makespan.since(first_submit).as_secs_f64(),
        mean_queue_s,
        instances_launched: rentals.len(),
        tasks: counts,
        resources,
        pattern_bound_usd: None,
        solver: None,
        spot: SpotOutcomes::of(engine, &rentals, min_billing, end),
        abandoned: 0,
        processes: by_process(workload),
        oom: OomOutcomes::default(),
        detail: None,
        unschedulable: unschedulable_tasks(workload, engine),
        faults: None,
    };
    debug!(strategy = %strategy, cost_usd = report.cost_usd, instances = report.instances_launched, "replayed");
    report
}

/// Replays every strategy in `strategies` on the same workload.
///
/// # Errors
/// The first strategy that fails.
pub fn replay_all(
    workload: &Workload,
    catalog: &Catalog,
    strategies: &[Strategy],
    options: &ReplayOptions,
) -> Result<Vec<StrategyReport>, ReplayError> {
    let bounds = Bounds::of(workload, &options.policy.candidates(catalog)?);
    strategies.iter().map(|&s| replay_with_bounds(workload, catalog, s, options, bounds)).collect()
}
