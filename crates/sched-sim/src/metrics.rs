//! What a replay measured about spot and about resources, beyond the cost.
//!
//! - [`SpotOutcomes`]: preemptions, retries, tasks failed after their
//!   retries, the work lost to reclaims, and the share of the cost paid on
//!   demand.
//! - [`ProcessResources`]: Requested, Allocated and Used resource-time per
//!   pipeline process, with a short [`Reading`] for the pipeline author.
//!
//! Lost work is priced as the share of its instance the task held: the
//! larger of its cpu and memory shares of the nominal capacity, times the
//! instance's price, for the time it ran before the reclaim.

use std::collections::BTreeMap;

use sched_core::catalog::CapacityType;
use sched_core::engine::Engine;
use sched_core::lifecycle::TaskStatus;
use sched_core::time::Millis;
use serde::Serialize;

use crate::cloud::Rental;
use crate::replay::ResourceTime;
use crate::workload::Workload;

/// Spot figures of one replay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SpotOutcomes {
    /// Running tasks a reclaim took away.
    pub preemptions: usize,
    /// Preempted tasks resubmitted.
    pub retries: usize,
    /// Tasks FAILED because a reclaim came on their last attempt.
    pub failed_after_retries: usize,
    /// What the work lost to reclaims cost, USD.
    pub lost_work_usd: f64,
    /// Cost of on-demand rentals over the whole cost, 0..=1.
    pub on_demand_cost_share: f64,
    /// Spot instances reclaimed.
    pub reclaimed_instances: usize,
}

impl SpotOutcomes {
    /// The figures of `engine`'s run on `rentals`, billed with a minimum of
    /// `min_billing_s` up to `end`.
    pub fn of(engine: &Engine, rentals: &[Rental], min_billing_s: u64, end: Millis) -> Self {
        let by_instance: BTreeMap<_, &Rental> = rentals.iter().map(|r| (r.instance, r)).collect();
        let mut out = SpotOutcomes::default();
        for record in engine.tasks().values() {
            let pairs = record.history.windows(2);
            out.retries += pairs
                .filter(|w| w[0].1 == TaskStatus::Preempted && w[1].1 == TaskStatus::Submitted)
                .count();
            for run in &record.runs {
                if run.outcome != Some(TaskStatus::Preempted) {
                    continue;
                }
                out.preemptions += 1;
                let (Some(rental), Some(ended)) = (by_instance.get(&run.instance), run.ended_at)
                else {
                    continue;
                };
                let share = |have: f64, need: f64| if have > 0.0 { need / have } else { 0.0 };
                let held = share(rental.nominal.cpus(), record.spec.allocated.cpus())
                    .max(share(
                        rental.nominal.memory_mib as f64,
                        record.spec.allocated.memory_mib as f64,
                    ))
                    .min(1.0);
                let seconds = ended.since(run.started_at).as_secs_f64();
                out.lost_work_usd += rental.price.cost_for_seconds(seconds) * held;
            }
            let last = record.runs.last().and_then(|r| r.outcome);
            if record.status == TaskStatus::Failed && last == Some(TaskStatus::Preempted) {
                out.failed_after_retries += 1;
            }
        }
        let cost = |r: &&Rental| r.cost_usd(min_billing_s, end);
        // Folded from +0.0: an empty f64 sum is -0.0.
        let total = rentals.iter().map(|r| cost(&r)).fold(0.0, |a, b| a + b);
        let on_demand = rentals
            .iter()
            .filter(|r| r.capacity_type == CapacityType::OnDemand)
            .map(|r| cost(&r))
            .fold(0.0, |a, b| a + b);
        out.on_demand_cost_share = if total > 0.0 { on_demand / total } else { 0.0 };
        out.reclaimed_instances = rentals.iter().filter(|r| r.reclaimed).count();
        out
    }
}

/// What the figures of one process say to its author.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reading {
    /// The trace has no usage for it.
    NoUsage,
    /// Used is under half of Allocated in both cpu and memory: ask for less.
    CouldAskForLess,
    /// Used is above 90% of Allocated in cpu or memory: sized tight.
    NearAllocation,
    /// In between.
    Fits,
}

impl Reading {
    /// The thresholds: Used under half of Allocated in both dimensions reads
    /// as "could ask for less"; over 90% in either as "near allocation".
    pub fn of(allocated: ResourceTime, used: Option<ResourceTime>) -> Self {
        let Some(used) = used else { return Reading::NoUsage };
        let ratio = |u: f64, a: f64| if a > 0.0 { u / a } else { 0.0 };
        let cpu = ratio(used.cpu_s, allocated.cpu_s);
        let mem = ratio(used.memory_mib_s, allocated.memory_mib_s);
        if cpu.max(mem) > 0.9 {
            Reading::NearAllocation
        } else if cpu < 0.5 && mem < 0.5 {
            Reading::CouldAskForLess
        } else {
            Reading::Fits
        }
    }

    /// A few words for the table.
    pub fn words(self) -> &'static str {
        match self {
            Reading::NoUsage => "no usage recorded",
            Reading::CouldAskForLess => "could ask for less",
            Reading::NearAllocation => "uses near its allocation",
            Reading::Fits => "fits",
        }
    }
}

/// Requested, Allocated and Used resource-time of one process.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessResources {
    /// Process name (the part of the task name before ` (`).
    pub process: String,
    /// Tasks of the process.
    pub tasks: usize,
    /// What the pipeline asked for, over the recorded runtimes.
    pub requested: ResourceTime,
    /// What the engine gave the tasks, over the recorded runtimes.
    pub allocated: ResourceTime,
    /// What the tasks used, over the tasks with usage; `None` without any.
    pub used: Option<ResourceTime>,
    /// Tasks with usage in the trace.
    pub tasks_with_usage: usize,
    /// Allocated over Requested in cpu (1 when nothing was right-sized).
    pub allocated_over_requested: f64,
    /// The reading.
    pub reading: Reading,
}

/// Per-process roll-ups of `workload`, largest allocated cpu-time first.
pub fn by_process(workload: &Workload) -> Vec<ProcessResources> {
    let mut groups: BTreeMap<&str, ProcessResources> = BTreeMap::new();
    for task in &workload.tasks {
        let seconds = task.script.runtime.as_secs_f64();
        let entry = groups.entry(task.spec.process.as_str()).or_insert_with(|| ProcessResources {
            process: task.spec.process.clone(),
            tasks: 0,
            requested: ResourceTime::default(),
            allocated: ResourceTime::default(),
            used: None,
            tasks_with_usage: 0,
            allocated_over_requested: 1.0,
            reading: Reading::NoUsage,
        });
        entry.tasks += 1;
        add(
            &mut entry.requested,
            task.spec.requested.cpus(),
            task.spec.requested.memory_mib,
            seconds,
        );
        add(
            &mut entry.allocated,
            task.spec.allocated.cpus(),
            task.spec.allocated.memory_mib,
            seconds,
        );
        if let Some(used) = task.used {
            let sum = entry.used.get_or_insert_with(ResourceTime::default);
            sum.cpu_s += used.cpu_seconds;
            sum.memory_mib_s += used.memory_mib_seconds;
            entry.tasks_with_usage += 1;
        }
    }
    let mut out: Vec<ProcessResources> = groups.into_values().collect();
    for p in &mut out {
        p.allocated_over_requested =
            if p.requested.cpu_s > 0.0 { p.allocated.cpu_s / p.requested.cpu_s } else { 1.0 };
        p.reading = Reading::of(p.allocated, p.used);
    }
    out.sort_by(|a, b| {
        b.allocated.cpu_s.total_cmp(&a.allocated.cpu_s).then(a.process.cmp(&b.process))
    });
    out
}

fn add(sum: &mut ResourceTime, cpus: f64, memory_mib: u64, seconds: f64) {
    sum.cpu_s += cpus * seconds;
    sum.memory_mib_s += memory_mib as f64 * seconds;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(cpu_s: f64, memory_mib_s: f64) -> ResourceTime {
        ResourceTime { cpu_s, memory_mib_s }
    }

    #[test]
    fn readings_follow_the_thresholds() {
        let alloc = rt(100.0, 1000.0);
        assert_eq!(Reading::of(alloc, None), Reading::NoUsage);
        assert_eq!(Reading::of(alloc, Some(rt(20.0, 300.0))), Reading::CouldAskForLess);
        assert_eq!(Reading::of(alloc, Some(rt(95.0, 100.0))), Reading::NearAllocation);
        assert_eq!(Reading::of(alloc, Some(rt(60.0, 300.0))), Reading::Fits);
    }
}
