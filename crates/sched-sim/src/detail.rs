//! Per-task and over-time records of one replay, for the CSV and the
//! pictures of `--out` (they stay out of the JSON report, which would grow
//! with every task).

use std::fmt::Write as _;

use rustc_hash::FxHashMap;
use sched_core::catalog::CapacityType;
use sched_core::engine::Engine;
use sched_core::resources::Resources;
use serde::Serialize;

use crate::cloud::SimCloud;
use crate::oom::OomRetries;
use crate::workload::Workload;

/// One task record of the engine (an OOM retry is a record of its own).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskRow {
    /// The strategy replayed.
    pub strategy: String,
    /// The engine's task id.
    pub task_id: u64,
    /// The task this one retries after an OOM kill, if it is a retry.
    pub retry_of: Option<u64>,
    /// Process name.
    pub process: String,
    /// Requested cpus.
    pub requested_cpus: f64,
    /// Requested memory, MiB.
    pub requested_memory_mib: u64,
    /// Allocated cpus.
    pub allocated_cpus: f64,
    /// Allocated memory, MiB.
    pub allocated_memory_mib: u64,
    /// Average busy cores the trace recorded.
    pub used_cores: Option<f64>,
    /// Peak memory the trace recorded, MiB.
    pub used_peak_memory_mib: Option<u64>,
    /// Type of the instance of its last run.
    pub instance_type: Option<String>,
    /// Capacity type of that instance.
    pub capacity_type: Option<String>,
    /// Its share of its instances' cost: the larger of its cpu and memory
    /// shares of the instance, times the price, over each run, USD.
    pub cost_share_usd: f64,
    /// Starts.
    pub attempts: u32,
    /// Final status.
    pub status: String,
    /// Every status with its time in seconds, `STATUS@s` joined by `;`.
    pub status_history: String,
}

/// One run of a task, for the utilization picture.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RunSpan {
    /// Start, seconds.
    pub from_s: f64,
    /// End, seconds.
    pub to_s: f64,
    /// What it was given.
    pub allocated: Resources,
    /// Busy cores it used.
    pub used_cores: f64,
    /// Memory it held, MiB (its recorded peak, capped at its allocation).
    pub used_memory_mib: f64,
}

/// One rental, for the instances and utilization pictures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RentalSpan {
    /// Launch, seconds.
    pub from_s: f64,
    /// Release, seconds.
    pub to_s: f64,
    /// Spot or on demand.
    pub capacity_type: CapacityType,
    /// Nominal capacity.
    pub nominal: Resources,
}

/// Everything `--out` draws from one replay.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReplayDetail {
    /// Task records, by id.
    pub tasks: Vec<TaskRow>,
    /// Runs, in start order.
    pub runs: Vec<RunSpan>,
    /// Rentals, by instance.
    pub rentals: Vec<RentalSpan>,
}

/// The detail of a finished replay.
pub fn collect(
    strategy: &str,
    workload: &Workload,
    engine: &Engine,
    cloud: &SimCloud,
    guard: Option<&OomRetries>,
) -> ReplayDetail {
    let end = cloud.now();
    let rentals = cloud.rentals();
    let by_instance: FxHashMap<_, _> = rentals.iter().map(|r| (r.instance, r)).collect();
    let usage: std::collections::BTreeMap<_, _> = workload
        .tasks
        .iter()
        .map(|t| {
            let seconds = t.script.runtime.as_secs_f64();
            let cores = t.used.map(|u| if seconds > 0.0 { u.cpu_seconds / seconds } else { 0.0 });
            (t.spec.id, (cores, t.peak_memory_mib))
        })
        .collect();
    let original = |id| guard.and_then(|g| g.retries().get(&id).copied());
    let mut detail =
        ReplayDetail { tasks: Vec::with_capacity(engine.tasks().len()), ..ReplayDetail::default() };
    for record in engine.tasks().values() {
        let root = original(record.spec.id).unwrap_or(record.spec.id);
        let (cores, peak) = usage.get(&root).copied().unwrap_or((None, None));
        let mut cost_share_usd = 0.0;
        for run in &record.runs {
            let Some(rental) = by_instance.get(&run.instance) else { continue };
            let to = run.ended_at.unwrap_or(end);
            let seconds = to.since(run.started_at).as_secs_f64();
            let share = |have: f64, need: f64| if have > 0.0 { need / have } else { 0.0 };
            let held = share(rental.nominal.cpus(), record.spec.allocated.cpus())
                .max(share(
                    rental.nominal.memory_mib as f64,
                    record.spec.allocated.memory_mib as f64,
                ))
                .min(1.0);
            cost_share_usd += rental.price.cost_for_seconds(seconds) * held;
            detail.runs.push(RunSpan {
                from_s: run.started_at.as_secs_f64(),
                to_s: to.as_secs_f64(),
                allocated: record.spec.allocated,
                used_cores: cores.unwrap_or(0.0),
                used_memory_mib: peak.unwrap_or(0).min(record.spec.allocated.memory_mib) as f64,
            });
        }
        let last = record.runs.last().and_then(|r| by_instance.get(&r.instance));
        let mut history = String::with_capacity(24 * record.history.len());
        for (i, (at, status)) in record.history.iter().enumerate() {
            let sep = if i == 0 { "" } else { ";" };
            // Writing to a String cannot fail.
            let _ = write!(history, "{sep}{status}@{:.1}", at.as_secs_f64());
        }
        detail.tasks.push(TaskRow {
            strategy: strategy.to_string(),
            task_id: record.spec.id.0,
            retry_of: original(record.spec.id).map(|id| id.0),
            process: record.spec.process.clone(),
            requested_cpus: record.spec.requested.cpus(),
            requested_memory_mib: record.spec.requested.memory_mib,
            allocated_cpus: record.spec.allocated.cpus(),
            allocated_memory_mib: record.spec.allocated.memory_mib,
            used_cores: cores,
            used_peak_memory_mib: peak,
            instance_type: last.map(|r| r.type_name.clone()),
            capacity_type: last.map(|r| r.capacity_type.to_string()),
            cost_share_usd,
            attempts: record.attempts,
            status: record.status.to_string(),
            status_history: history,
        });
    }
    detail.runs.sort_by(|a, b| a.from_s.total_cmp(&b.from_s));
    detail.rentals = rentals
        .iter()
        .map(|r| RentalSpan {
            from_s: r.launched_at.as_secs_f64(),
            to_s: r.released_at.unwrap_or(end).as_secs_f64(),
            capacity_type: r.capacity_type,
            nominal: r.nominal,
        })
        .collect();
    detail
}
