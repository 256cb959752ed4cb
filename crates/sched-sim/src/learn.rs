//! Right-sizing models learned from traces.
//!
//! Turns trace rows into the core's [`UsageSample`]s and learns a
//! [`RightsizeModel`] either from earlier traces (`--history`) or, when none
//! is given, from a hold-out split of the replayed trace: for each process,
//! the first half of its tasks by submission (rounded up, so a process with
//! one task learns from it) is learned from, and every task is replayed.
//! The bundled data has no two runs of one pipeline, so the split is the
//! default; `docs/rightsizing.md` says more.

use std::collections::BTreeMap;

use sched_core::rightsize::{RightsizeConfig, RightsizeModel, Rightsizer, UsageSample};

use crate::trace::{TaskOutcome, Trace, TraceTask};

/// Bytes per MiB.
const BYTES_PER_MIB: f64 = 1024.0 * 1024.0;

/// What a trace row says the task used; `None` without `%cpu` or `peak_rss`.
/// `ABORTED` rows are left out: the run was stopped, not the task.
pub fn sample_of(task: &TraceTask) -> Option<UsageSample> {
    if task.status == TaskOutcome::Aborted {
        return None;
    }
    Some(UsageSample {
        cores: task.cpu_percent? / 100.0,
        peak_memory_mib: task.peak_rss_bytes? as f64 / BYTES_PER_MIB,
        succeeded: task.status == TaskOutcome::Completed,
    })
}

/// Where a model's samples came from, for the report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum HistorySource {
    /// Earlier traces, by path.
    Traces {
        /// The traces learned from.
        paths: Vec<String>,
    },
    /// The first half of each process's tasks of the replayed trace.
    HoldOut,
}

/// A model and what it was learned from.
#[derive(Debug, Clone)]
pub struct Learned {
    /// The recommendations.
    pub model: RightsizeModel,
    /// Their source.
    pub source: HistorySource,
    /// Samples learned from.
    pub samples: usize,
}

/// Learns from every usable row of `traces`.
pub fn learn_from(traces: &[&Trace], config: RightsizeConfig) -> Learned {
    let mut learner = Rightsizer::new(config);
    let mut samples = 0;
    for trace in traces {
        for (task, sample) in trace.tasks.iter().filter_map(|t| Some((t, sample_of(t)?))) {
            learner.observe(&task.process, sample);
            samples += 1;
        }
    }
    let paths = traces.iter().map(|t| t.path.clone()).collect();
    Learned { model: learner.model(), source: HistorySource::Traces { paths }, samples }
}

/// Learns from the first half (rounded up) of each process's tasks of
/// `trace`, ordered by submission time and then file line.
pub fn learn_hold_out(trace: &Trace, config: RightsizeConfig) -> Learned {
    let mut by_process: BTreeMap<&str, Vec<&TraceTask>> = BTreeMap::new();
    for task in &trace.tasks {
        by_process.entry(&task.process).or_default().push(task);
    }
    let mut learner = Rightsizer::new(config);
    let mut samples = 0;
    for (process, mut tasks) in by_process {
        tasks.sort_by_key(|t| (t.submit_ms.unwrap_or(i64::MIN), t.line));
        let half = tasks.len().div_ceil(2);
        for sample in tasks[..half].iter().filter_map(|t| sample_of(t)) {
            learner.observe(process, sample);
            samples += 1;
        }
    }
    Learned { model: learner.model(), source: HistorySource::HoldOut, samples }
}
