//! The resource request a replay submits for a trace task.
//!
//! A trace written with the `cpus` and `memory` fields records what each task asked for, and
//! that request is used as it is. Nextflow's default field list has neither, only what the task
//! used (`%cpu`, `peak_rss`), so for such traces a request is derived from the usage, the way a
//! pipeline author sizing a process from an earlier run would:
//!
//! - cpus: `max(1, ceil(%cpu / 100))` whole cpus. `%cpu` is cpu time over wall time, so a task
//!   at `1577.7%` kept almost 16 cpus busy on average and asks for 16. An average hides bursts;
//!   a task that is parallel only part of the time is under-sized by this rule.
//! - memory: `peak_rss` plus 20 % headroom, rounded up to a whole multiple of 256 MiB, and at
//!   least 512 MiB. The peak is a measured maximum, so the headroom covers run-to-run variation
//!   (inputs of other sizes) rather than averaging; the 256 MiB grid keeps shapes few, which lets
//!   the solver group tasks; the floor covers the container runtime's own memory.
//! - a dimension with neither a recorded request nor usage (FAILED rows often have `-`) takes
//!   the largest request of the other tasks of the same process when [`requests_for`] sees the
//!   whole trace, and otherwise 1 cpu and 512 MiB.
//!
//! A recorded request converts exactly: cpus to millicpus (x 1000), bytes to MiB rounding up.
//! A recorded zero (Nextflow never writes one for a real request) counts as not recorded.
//! [`RequestRule`] holds the numbers above so that a replay can try others.

use std::collections::HashMap;

use sched_core::Resources;
use serde::{Deserialize, Serialize};

use super::TraceTask;

/// Bytes per MiB.
const BYTES_PER_MIB: u64 = 1 << 20;

/// Millicpus per whole cpu.
const MILLICPUS_PER_CPU: u64 = 1000;

/// Where one dimension of a [`DerivedRequest`] came from, from best to worst informed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestSource {
    /// The trace recorded the request (`cpus`, `memory`).
    Recorded,
    /// Derived from the task's own usage (`%cpu`, `peak_rss`).
    Derived,
    /// Taken from other tasks of the same process (only [`requests_for`] does this).
    Peers,
    /// Nothing was known: the rule's default.
    Defaulted,
}

/// The request a replay submits for one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DerivedRequest {
    /// CPU in thousandths of a cpu.
    pub millicpus: u64,
    /// Memory in MiB (2^20 bytes).
    pub memory_mib: u64,
    /// Where `millicpus` came from.
    pub cpu_source: RequestSource,
    /// Where `memory_mib` came from.
    pub memory_source: RequestSource,
}

impl DerivedRequest {
    /// The request as a resource vector, without GPUs (traces record none).
    pub fn resources(&self) -> Resources {
        Resources::new(self.millicpus, self.memory_mib, 0)
    }

    /// The worse informed of the two dimensions' sources.
    pub fn source(&self) -> RequestSource {
        self.cpu_source.max(self.memory_source)
    }
}

/// The numbers of the derivation rule; [`Default`] gives the documented ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RequestRule {
    /// Headroom added to `peak_rss`, in percent (default 20).
    pub memory_headroom_percent: u64,
    /// Derived memory is rounded up to a multiple of this many MiB (default 256).
    pub memory_step_mib: u64,
    /// Derived memory is at least this many MiB (default 512).
    pub memory_floor_mib: u64,
    /// Millicpus when nothing is known (default 1000).
    pub default_millicpus: u64,
    /// MiB when nothing is known (default 512).
    pub default_memory_mib: u64,
}

impl Default for RequestRule {
    fn default() -> Self {
        RequestRule {
            memory_headroom_percent: 20,
            memory_step_mib: 256,
            memory_floor_mib: 512,
            default_millicpus: MILLICPUS_PER_CPU,
            default_memory_mib: 512,
        }
    }
}

impl RequestRule {
    /// The request for `task` alone: recorded, else derived from its usage, else the default.
    ///
    /// The second value is the worse informed of the two dimensions' sources.
    pub fn request_of(&self, task: &TraceTask) -> (DerivedRequest, RequestSource) {
        let (millicpus, cpu_source) =
            self.cpu_known(task).unwrap_or((self.default_millicpus, RequestSource::Defaulted));
        let (memory_mib, memory_source) =
            self.memory_known(task).unwrap_or((self.default_memory_mib, RequestSource::Defaulted));
        let request = DerivedRequest { millicpus, memory_mib, cpu_source, memory_source };
        (request, request.source())
    }

    /// The requests for all of `tasks`, in order, letting a task that has neither a recorded
    /// request nor usage in a dimension take the largest known value of the other tasks of the
    /// same process in that dimension ([`RequestSource::Peers`]) before the default.
    pub fn requests_for(&self, tasks: &[TraceTask]) -> Vec<(DerivedRequest, RequestSource)> {
        let mut peer_cpu: HashMap<&str, u64> = HashMap::new();
        let mut peer_memory: HashMap<&str, u64> = HashMap::new();
        for task in tasks {
            if let Some((millicpus, _)) = self.cpu_known(task) {
                let entry = peer_cpu.entry(task.process.as_str()).or_insert(0);
                *entry = (*entry).max(millicpus);
            }
            if let Some((memory_mib, _)) = self.memory_known(task) {
                let entry = peer_memory.entry(task.process.as_str()).or_insert(0);
                *entry = (*entry).max(memory_mib);
            }
        }
        tasks
            .iter()
            .map(|task| {
                let process = task.process.as_str();
                let (millicpus, cpu_source) = self
                    .cpu_known(task)
                    .or_else(|| peer_cpu.get(process).map(|m| (*m, RequestSource::Peers)))
                    .unwrap_or((self.default_millicpus, RequestSource::Defaulted));
                let (memory_mib, memory_source) = self
                    .memory_known(task)
                    .or_else(|| peer_memory.get(process).map(|m| (*m, RequestSource::Peers)))
                    .unwrap_or((self.default_memory_mib, RequestSource::Defaulted));
                let request = DerivedRequest { millicpus, memory_mib, cpu_source, memory_source };
                (request, request.source())
            })
            .collect()
    }

    /// The cpu request from the task itself: recorded, else derived from `%cpu`.
    fn cpu_known(&self, task: &TraceTask) -> Option<(u64, RequestSource)> {
        if let Some(cpus) = task.requested_cpus.filter(|c| *c > 0) {
            return Some((u64::from(cpus) * MILLICPUS_PER_CPU, RequestSource::Recorded));
        }
        let percent = task.cpu_percent?;
        Some((derived_millicpus(percent), RequestSource::Derived))
    }

    /// The memory request from the task itself: recorded, else derived from `peak_rss`.
    fn memory_known(&self, task: &TraceTask) -> Option<(u64, RequestSource)> {
        if let Some(bytes) = task.requested_memory_bytes.filter(|b| *b > 0) {
            return Some((bytes.div_ceil(BYTES_PER_MIB), RequestSource::Recorded));
        }
        let peak = task.peak_rss_bytes?;
        Some((self.derived_memory_mib(peak), RequestSource::Derived))
    }

    /// `peak` bytes plus headroom, in MiB rounded up to the step, at least the floor.
    fn derived_memory_mib(&self, peak: u64) -> u64 {
        let with_headroom =
            (u128::from(peak) * u128::from(100 + self.memory_headroom_percent)).div_ceil(100);
        let mib = with_headroom.div_ceil(u128::from(BYTES_PER_MIB));
        let step = u128::from(self.memory_step_mib.max(1));
        let on_grid = mib.div_ceil(step).saturating_mul(step);
        let floored = on_grid.max(u128::from(self.memory_floor_mib));
        u64::try_from(floored).unwrap_or(u64::MAX)
    }
}

/// Whole cpus for an average use of `percent`, at least one, in millicpus.
fn derived_millicpus(percent: f64) -> u64 {
    // `as` saturates: NaN and negatives give 0, which the floor of one cpu then lifts.
    let cpus = (percent / 100.0).ceil() as u64;
    cpus.max(1).saturating_mul(MILLICPUS_PER_CPU)
}

/// [`RequestRule::request_of`] under the default rule.
///
/// Recorded `cpus` and `memory` are used as they are (cpus x 1000 millicpus, bytes rounded up
/// to MiB); a missing one is derived from usage: `max(1, ceil(%cpu / 100))` cpus, and
/// `peak_rss` x 1.2 rounded up to a multiple of 256 MiB, at least 512 MiB; with no usage either,
/// 1 cpu and 512 MiB. The second value is the worse informed of the two dimensions' sources.
pub fn request_of(task: &TraceTask) -> (DerivedRequest, RequestSource) {
    RequestRule::default().request_of(task)
}

/// [`RequestRule::requests_for`] under the default rule: as [`request_of`], except that a task
/// with nothing known in a dimension takes the largest value of its process's other tasks.
pub fn requests_for(tasks: &[TraceTask]) -> Vec<(DerivedRequest, RequestSource)> {
    RequestRule::default().requests_for(tasks)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    fn task(process: &str) -> TraceTask {
        TraceTask { name: process.into(), process: process.into(), ..TraceTask::default() }
    }

    #[test]
    fn recorded_requests_convert_exactly() {
        let t = TraceTask {
            requested_cpus: Some(12),
            requested_memory_bytes: Some(4 * GIB + 1),
            cpu_percent: Some(1098.4),
            peak_rss_bytes: Some(GIB),
            ..task("FASTP")
        };
        let (request, source) = request_of(&t);
        assert_eq!((request.millicpus, request.memory_mib), (12_000, 4097));
        assert_eq!(source, RequestSource::Recorded);
        assert_eq!(request.resources(), Resources::new(12_000, 4097, 0));
    }

    #[test]
    fn cpus_derive_from_average_use() {
        let table = [(0.0, 1000), (47.6, 1000), (100.0, 1000), (100.1, 2000), (1577.7, 16_000)];
        for (percent, millicpus) in table {
            let t = TraceTask { cpu_percent: Some(percent), ..task("P") };
            let (request, _) = request_of(&t);
            assert_eq!(request.millicpus, millicpus, "%cpu {percent}");
            assert_eq!(request.cpu_source, RequestSource::Derived);
        }
        assert_eq!(derived_millicpus(f64::NAN), 1000);
        assert_eq!(derived_millicpus(-5.0), 1000);
        assert_eq!(derived_millicpus(f64::INFINITY), u64::MAX);
    }

    #[test]
    fn memory_derives_from_peak_with_headroom_on_a_grid() {
        let table = [
            (0, 512),                       // floor
            (14 * MIB, 512),                // 16.8 MiB, floor
            (500 * MIB, 768),               // 600 MiB -> 768
            (640 * MIB, 768),               // 768 MiB exactly
            (640 * MIB + 1, 1024),          // a byte over
            (24_588_687_770, 28_160),       // 22.9 GB * 1.2 = 28139.5 MiB -> 28160
            (u64::MAX, 21_110_623_253_504), // no overflow
        ];
        for (peak, mib) in table {
            let t = TraceTask { peak_rss_bytes: Some(peak), ..task("P") };
            let (request, _) = request_of(&t);
            assert_eq!(request.memory_mib, mib, "peak {peak}");
        }
    }

    #[test]
    fn nothing_known_gives_the_default() {
        let (request, source) = request_of(&task("P"));
        assert_eq!((request.millicpus, request.memory_mib), (1000, 512));
        assert_eq!(source, RequestSource::Defaulted);
        // A recorded zero is not a request.
        let t = TraceTask { requested_cpus: Some(0), requested_memory_bytes: Some(0), ..task("P") };
        assert_eq!(request_of(&t).1, RequestSource::Defaulted);
    }

    #[test]
    fn the_overall_source_is_the_worse_one() {
        let t = TraceTask { requested_cpus: Some(2), peak_rss_bytes: Some(GIB), ..task("P") };
        let (request, source) = request_of(&t);
        assert_eq!(request.cpu_source, RequestSource::Recorded);
        assert_eq!(request.memory_source, RequestSource::Derived);
        assert_eq!(source, RequestSource::Derived);
    }

    #[test]
    fn a_failed_task_without_usage_borrows_from_its_peers() {
        let tasks = vec![
            TraceTask { cpu_percent: Some(350.0), peak_rss_bytes: Some(2 * GIB), ..task("LOAD") },
            TraceTask { cpu_percent: Some(90.0), peak_rss_bytes: Some(GIB), ..task("LOAD") },
            task("LOAD"),
            task("ALONE"),
        ];
        let requests = requests_for(&tasks);
        assert_eq!(requests[2].0.millicpus, 4000);
        assert_eq!(requests[2].0.memory_mib, 2560); // 2 GiB * 1.2 = 2457.6 -> 2560
        assert_eq!(requests[2].1, RequestSource::Peers);
        assert_eq!(requests[3].1, RequestSource::Defaulted);
        assert_eq!(requests[0].1, RequestSource::Derived);
    }
}
