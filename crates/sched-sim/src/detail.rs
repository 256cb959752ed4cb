//! Per-task and over-time records of one replay, for the CSVs and the
//! pictures of `--out` (they stay out of the JSON report, which would grow
//! with every task).
//!
//! The money adds up: each instance's billed cost is split, second by
//! second, between the task runs on it (each in proportion to the larger of
//! its cpu and memory shares of the instance, scaled down when those shares
//! add up to more than the whole), the room no run held while some ran,
//! the time it sat idle, its boot, and what the minimum billed period (and
//! the rounding up to a whole second) added. The task shares are the
//! `cost_share_usd` of `tasks.csv`; [`CostBreakdown`] holds the sums, and
//! its parts add up to the strategy's cost.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use rustc_hash::FxHashMap;
use sched_core::catalog::CapacityType;
use sched_core::engine::Engine;
use sched_core::lifecycle::TaskStatus;
use sched_core::problem::TaskId;
use sched_core::resources::Resources;
use sched_core::time::Millis;
use serde::Serialize;

use crate::cloud::{Rental, SimCloud};
use crate::oom::OomRetries;
use crate::workload::Workload;

/// One task record of the engine (an OOM retry is a record of its own).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskRow {
    /// The strategy replayed.
    pub strategy: String,
    /// The task's `task_id` in the trace (of the task it retries, for an
    /// OOM retry); empty when the trace has none.
    pub task_id: Option<u64>,
    /// The task's name in the trace.
    pub name: String,
    /// The engine's id of this record.
    pub engine_task_id: u64,
    /// The engine's id of the record this one retries after an OOM kill, if
    /// it is a retry.
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
    /// Its share of its instances' cost over all its runs, USD: each second
    /// of a run, the larger of its cpu and memory shares of the instance
    /// (scaled down when the runs there hold more than the whole) times the
    /// price.
    pub cost_share_usd: f64,
    /// Starts.
    pub attempts: u32,
    /// Final status.
    pub status: String,
    /// Every status with its time in seconds, `STATUS@s` joined by `;`.
    pub status_history: String,
}

/// Where one strategy's money went, USD; the parts add up to `cost_usd`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct CostBreakdown {
    /// What the rented instances cost (the strategy's cost).
    pub cost_usd: f64,
    /// Task runs that ended as the trace recorded (or ran on at the end).
    pub runs_usd: f64,
    /// Task runs a reclaim, an out-of-memory kill or a cancel cut short.
    pub killed_runs_usd: f64,
    /// Room on instances no run held while some ran.
    pub unallocated_usd: f64,
    /// Ready instances with no run.
    pub idle_usd: f64,
    /// From each launch until the instance was ready (or gone).
    pub boot_usd: f64,
    /// What the minimum billed period and the rounding up to a whole
    /// second added to the time rented.
    pub minimum_billing_usd: f64,
}

impl CostBreakdown {
    /// The sum of the parts, which equals [`CostBreakdown::cost_usd`] up to
    /// floating-point rounding.
    pub fn parts_usd(&self) -> f64 {
        self.runs_usd
            + self.killed_runs_usd
            + self.unallocated_usd
            + self.idle_usd
            + self.boot_usd
            + self.minimum_billing_usd
    }
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
    /// Where the money went.
    pub costs: CostBreakdown,
}

/// One task run on a rental, as the cost split sees it.
struct Held {
    task: TaskId,
    from: Millis,
    to: Millis,
    /// The larger of its cpu and memory shares of the instance, at most 1.
    share: f64,
    killed: bool,
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
            (t.spec.id, (cores, t.peak_memory_mib, t.trace_task_id, t.name.as_str()))
        })
        .collect();
    let original = |id| guard.and_then(|g| g.retries().get(&id).copied());
    let oom_killed: HashSet<TaskId> = cloud.oom_killed().into_iter().collect();

    // Every run on every rental, then the split of each rental's cost.
    let mut held: HashMap<_, Vec<Held>> = HashMap::new();
    let mut detail =
        ReplayDetail { tasks: Vec::with_capacity(engine.tasks().len()), ..ReplayDetail::default() };
    for record in engine.tasks().values() {
        let root = original(record.spec.id).unwrap_or(record.spec.id);
        let (cores, peak, _, _) = usage.get(&root).copied().unwrap_or((None, None, None, ""));
        for run in &record.runs {
            let to = run.ended_at.unwrap_or(end);
            detail.runs.push(RunSpan {
                from_s: run.started_at.as_secs_f64(),
                to_s: to.as_secs_f64(),
                allocated: record.spec.allocated,
                used_cores: cores.unwrap_or(0.0),
                used_memory_mib: peak.unwrap_or(0).min(record.spec.allocated.memory_mib) as f64,
            });
            let Some(rental) = by_instance.get(&run.instance) else { continue };
            let ratio = |have: f64, need: f64| if have > 0.0 { need / have } else { 0.0 };
            let share = ratio(rental.nominal.cpus(), record.spec.allocated.cpus())
                .max(ratio(
                    rental.nominal.memory_mib as f64,
                    record.spec.allocated.memory_mib as f64,
                ))
                .min(1.0);
            let killed = match run.outcome {
                Some(TaskStatus::Preempted | TaskStatus::Cancelled) => true,
                Some(TaskStatus::Failed) => oom_killed.contains(&record.spec.id),
                _ => false,
            };
            held.entry(run.instance).or_default().push(Held {
                task: record.spec.id,
                from: run.started_at,
                to,
                share,
                killed,
            });
        }
    }
    let min_billing = cloud.config().min_billing_s;
    let boot = cloud.config().boot;
    let mut shares: HashMap<TaskId, f64> = HashMap::new();
    for rental in &rentals {
        let runs = held.get(&rental.instance).map_or(&[][..], Vec::as_slice);
        split_rental(rental, runs, boot, min_billing, end, &mut detail.costs, &mut shares);
    }

    for record in engine.tasks().values() {
        let root = original(record.spec.id).unwrap_or(record.spec.id);
        let (cores, peak, trace_id, name) =
            usage.get(&root).copied().unwrap_or((None, None, None, ""));
        let last = record.runs.last().and_then(|r| by_instance.get(&r.instance));
        let mut history = String::with_capacity(24 * record.history.len());
        for (i, (at, status)) in record.history.iter().enumerate() {
            let sep = if i == 0 { "" } else { ";" };
            // Writing to a String cannot fail.
            let _ = write!(history, "{sep}{status}@{:.1}", at.as_secs_f64());
        }
        detail.tasks.push(TaskRow {
            strategy: strategy.to_string(),
            task_id: trace_id,
            name: name.to_string(),
            engine_task_id: record.spec.id.0,
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
            cost_share_usd: shares.get(&record.spec.id).copied().unwrap_or(0.0),
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

/// Splits one rental's billed cost between the runs on it, the room they
/// left, its idle time, its boot and the minimum billing, adding the parts
/// to `costs` and each run's part to its task in `shares`.
fn split_rental(
    rental: &Rental,
    runs: &[Held],
    boot: Millis,
    min_billing_s: u64,
    end: Millis,
    costs: &mut CostBreakdown,
    shares: &mut HashMap<TaskId, f64>,
) {
    let from = rental.launched_at;
    let to = rental.released_at.unwrap_or(end).max(from);
    let ready = (from + boot).min(to);
    let per_second = |seconds: f64| rental.price.cost_for_seconds(seconds);
    let billed = rental.cost_usd(min_billing_s, end);
    costs.cost_usd += billed;
    costs.minimum_billing_usd += billed - per_second(to.since(from).as_secs_f64());

    // Every moment the set of runs changes, within the rental.
    let clip = |t: Millis| t.max(from).min(to);
    let mut cuts: Vec<Millis> = vec![from, ready, to];
    cuts.extend(runs.iter().flat_map(|r| [clip(r.from), clip(r.to)]));
    cuts.sort();
    cuts.dedup();
    for pair in cuts.windows(2) {
        let (start, stop) = (pair[0], pair[1]);
        let cost = per_second(stop.since(start).as_secs_f64());
        let on: Vec<&Held> = runs.iter().filter(|r| r.from <= start && stop <= r.to).collect();
        if on.is_empty() {
            if stop <= ready {
                costs.boot_usd += cost;
            } else {
                costs.idle_usd += cost;
            }
            continue;
        }
        let held: f64 = on.iter().map(|r| r.share).sum();
        let scale = if held > 1.0 { 1.0 / held } else { 1.0 };
        for run in on {
            let part = cost * run.share * scale;
            *shares.entry(run.task).or_default() += part;
            if run.killed {
                costs.killed_runs_usd += part;
            } else {
                costs.runs_usd += part;
            }
        }
        costs.unallocated_usd += cost * (1.0 - held).max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sched_core::catalog::{OfferingId, UsdPerHour};
    use sched_core::problem::InstanceId;

    fn rental(from_s: u64, to_s: u64, price: f64) -> Rental {
        Rental {
            instance: InstanceId(0),
            offering: OfferingId(0),
            type_name: "t.large".into(),
            capacity_type: CapacityType::OnDemand,
            price: UsdPerHour(price),
            nominal: Resources::cpus_mib(4, 16_384),
            launched_at: Millis::from_secs(from_s),
            released_at: Some(Millis::from_secs(to_s)),
            reclaimed: false,
        }
    }

    fn run(task: u64, from_s: u64, to_s: u64, share: f64, killed: bool) -> Held {
        Held {
            task: TaskId(task),
            from: Millis::from_secs(from_s),
            to: Millis::from_secs(to_s),
            share,
            killed,
        }
    }

    #[test]
    fn the_parts_of_a_rental_add_up_to_its_billed_cost() {
        // 3600 $/h is 1 $/s. Boot 0-60, runs 60-160 (half) and 100-200
        // (three quarters, so 1.25 held 100-160), idle 200-250, then the
        // minimum billing of 1000 s.
        let rental = rental(0, 250, 3600.0);
        let runs = [run(1, 60, 160, 0.5, false), run(2, 100, 200, 0.75, true)];
        let (mut costs, mut shares) = (CostBreakdown::default(), HashMap::new());
        split_rental(
            &rental,
            &runs,
            Millis::from_secs(60),
            1000,
            Millis(0),
            &mut costs,
            &mut shares,
        );
        assert!((costs.cost_usd - 1000.0).abs() < 1e-9, "{costs:?}");
        assert!((costs.parts_usd() - costs.cost_usd).abs() < 1e-9, "{costs:?}");
        assert!((costs.boot_usd - 60.0).abs() < 1e-9);
        assert!((costs.idle_usd - 50.0).abs() < 1e-9);
        assert!((costs.minimum_billing_usd - 750.0).abs() < 1e-9);
        // 60-100: task 1 holds half, half unallocated; 100-160: 1.25 held,
        // scaled to the whole; 160-200: task 2 holds three quarters.
        let one = 40.0 * 0.5 + 60.0 * 0.5 / 1.25;
        let two = 60.0 * 0.75 / 1.25 + 40.0 * 0.75;
        assert!((shares[&TaskId(1)] - one).abs() < 1e-9, "{shares:?}");
        assert!((shares[&TaskId(2)] - two).abs() < 1e-9, "{shares:?}");
        assert!((costs.runs_usd - one).abs() < 1e-9);
        assert!((costs.killed_runs_usd - two).abs() < 1e-9);
        assert!((costs.unallocated_usd - (40.0 * 0.5 + 40.0 * 0.25)).abs() < 1e-9);
    }
}
