//! The out-of-memory guard of a replay: a task killed for memory is
//! submitted again with more, up to its request.
//!
//! The engine ends a killed task FAILED like any other failure; the guard,
//! sitting between the simulated cloud and the engine, sees the exit
//! ([`OOM_EXIT_CODE`] from a run the cloud killed), asks the core's
//! [`OomGuard`] for the next memory step and submits the task again under a
//! new id. The retry's cost is real rental time; the report counts the
//! retries and prices the killed runs. While a task may still be killed,
//! the guard keeps submissions open so the engine takes its retry.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sched_core::engine::{Engine, Event, TaskSpec};
use sched_core::problem::TaskId;
use sched_core::rightsize::{OomGuard, OOM_EXIT_CODE};
use tracing::warn;

use crate::cloud::{SimCloud, TaskScript};
use crate::workload::Workload;

/// The retries of one replay.
#[derive(Debug)]
pub struct OomRetries {
    guard: OomGuard,
    specs: HashMap<TaskId, (TaskSpec, TaskScript, Option<u64>)>,
    /// Tasks that may still be killed (peak above their allocation).
    at_risk: BTreeSet<TaskId>,
    /// Each retry's id and the id of the task it retries.
    retry_of: BTreeMap<TaskId, TaskId>,
    next_id: u64,
}

impl OomRetries {
    /// A guard over `workload`, whose tasks the cloud kills above the
    /// memory in `peaks` (MiB).
    pub fn new(guard: OomGuard, workload: &Workload, peaks: &HashMap<TaskId, u64>) -> Self {
        let specs = workload
            .tasks
            .iter()
            .map(|t| (t.spec.id, (t.spec.clone(), t.script, peaks.get(&t.spec.id).copied())))
            .collect();
        let next_id = workload.tasks.iter().map(|t| t.spec.id.0 + 1).max().unwrap_or(0);
        OomRetries {
            guard,
            specs,
            at_risk: BTreeSet::new(),
            retry_of: BTreeMap::new(),
            next_id: next_id.max(1 << 32),
        }
    }

    /// Notes a task the driver submits.
    pub fn submitted(&mut self, spec: &TaskSpec) {
        let peak = self.specs.get(&spec.id).and_then(|s| s.2);
        if peak.is_some_and(|p| p > spec.allocated.memory_mib) {
            self.at_risk.insert(spec.id);
        }
    }

    /// After `event` was handled: the retry to submit, when it was a kill
    /// the guard answers. The retry's script is added to `cloud`.
    pub fn after(&mut self, event: &Event, cloud: &SimCloud) -> Option<TaskSpec> {
        let Event::TaskExited { task, exit_code: OOM_EXIT_CODE } = *event else { return None };
        if !self.at_risk.remove(&task) {
            return None; // A recorded failure with exit 137, not a kill.
        }
        let (spec, script, peak) = self.specs.get(&task)?.clone();
        let from_mib = spec.allocated.memory_mib;
        let next = self.guard.next(spec.allocated, spec.requested)?;
        let id = TaskId(self.next_id);
        self.next_id += 1;
        let retry = TaskSpec { id, allocated: next, ..spec };
        let original = self.retry_of.get(&task).copied().unwrap_or(task);
        self.retry_of.insert(id, original);
        warn!(
            %task,
            retry = %id,
            from_mib,
            to_mib = retry.allocated.memory_mib,
            "killed for memory; retrying with more"
        );
        cloud.add_task(id, script, peak);
        self.specs.insert(id, (retry.clone(), script, peak));
        Some(retry)
    }

    /// True while a submitted task may still be killed and retried.
    pub fn may_retry(&mut self, engine: &Engine) -> bool {
        let tasks = engine.tasks();
        self.at_risk.retain(|id| tasks.get(id).is_some_and(|r| !r.status.is_terminal()));
        !self.at_risk.is_empty()
    }

    /// Each retry's id and the original task it retries.
    pub fn retries(&self) -> &BTreeMap<TaskId, TaskId> {
        &self.retry_of
    }
}

/// What memory kills did to one replay.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct OomOutcomes {
    /// Tasks given less memory than they asked for.
    pub rightsized_tasks: usize,
    /// Runs the cloud killed for memory.
    pub kills: usize,
    /// Killed runs the guard submitted again with more memory.
    pub retries: usize,
    /// Tasks that ended FAILED by a kill (no guard, or no room left to grow).
    pub failed: usize,
    /// What the killed runs cost: the share of its instance each held, for
    /// the time it ran, USD.
    pub killed_work_usd: f64,
}

/// Fills `report.oom` and counts every task once: a killed run the guard
/// retried is not a failure of the run, the retry's outcome is.
pub fn account(
    report: &mut crate::replay::StrategyReport,
    engine: &Engine,
    cloud: &SimCloud,
    guard: Option<&OomRetries>,
) {
    let killed = cloud.oom_killed();
    let retries = guard.map_or(0, |g| g.retries().len());
    let retried: BTreeSet<TaskId> = guard
        .map(|g| {
            // The task each retry followed is the one before it in its chain.
            let mut by_original: BTreeMap<TaskId, Vec<TaskId>> = BTreeMap::new();
            for (&retry, &original) in g.retries() {
                by_original.entry(original).or_default().push(retry);
            }
            by_original
                .into_iter()
                .flat_map(|(original, chain)| {
                    let last = *chain.last().unwrap_or(&original);
                    std::iter::once(original).chain(chain).filter(move |&id| id != last)
                })
                .collect()
        })
        .unwrap_or_default();
    // Only the instances of killed tasks are looked up: none, most of the time.
    let rentals: HashMap<_, _> = if killed.is_empty() {
        HashMap::new()
    } else {
        cloud.rentals().into_iter().map(|r| (r.instance, r)).collect()
    };
    let mut killed_work_usd = 0.0;
    for id in &killed {
        let Some(record) = engine.tasks().get(id) else { continue };
        let Some(run) = record.runs.last() else { continue };
        let (Some(rental), Some(ended)) = (rentals.get(&run.instance), run.ended_at) else {
            continue;
        };
        let share = |have: f64, need: f64| if have > 0.0 { need / have } else { 0.0 };
        let held = share(rental.nominal.cpus(), record.spec.allocated.cpus())
            .max(share(rental.nominal.memory_mib as f64, record.spec.allocated.memory_mib as f64))
            .min(1.0);
        killed_work_usd +=
            rental.price.cost_for_seconds(ended.since(run.started_at).as_secs_f64()) * held;
    }
    let failed = killed.iter().filter(|id| !retried.contains(id)).count();
    report.tasks.total = report.tasks.total.saturating_sub(retries);
    report.tasks.failed = report.tasks.failed.saturating_sub(retried.len());
    report.oom = OomOutcomes {
        rightsized_tasks: engine
            .tasks()
            .values()
            .filter(|r| !guard.is_some_and(|g| g.retries().contains_key(&r.spec.id)))
            .filter(|r| {
                r.spec.allocated.memory_mib < r.spec.requested.memory_mib
                    || r.spec.allocated.millicpus < r.spec.requested.millicpus
            })
            .count(),
        kills: killed.len(),
        retries,
        failed,
        killed_work_usd,
    };
}
