//! A trace turned into what a replay needs: task specs, arrival times,
//! scripts for the simulated cloud, and recorded usage.
//!
//! [`synthetic`] builds larger workloads from the tasks of a real one.

pub mod synthetic;

use sched_core::engine::TaskSpec;
use sched_core::problem::TaskId;
use sched_core::resources::Resources;
use sched_core::rightsize::RightsizeModel;
use sched_core::time::Millis;
use serde::Serialize;

use crate::cloud::TaskScript;
use crate::trace::{requests_for, RequestSource, TaskOutcome, Trace};

/// What a task really used, from the trace.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Used {
    /// %cpu / 100 x realtime, cpu-seconds.
    pub cpu_seconds: f64,
    /// Peak RSS x realtime, MiB-seconds.
    pub memory_mib_seconds: f64,
}

/// One task to replay.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadTask {
    /// What the engine is told.
    pub spec: TaskSpec,
    /// Arrival, relative to the first submission.
    pub submit: Millis,
    /// How it behaves once started.
    pub script: TaskScript,
    /// Recorded usage, where the trace has it.
    pub used: Option<Used>,
    /// Where its request came from.
    pub request_source: RequestSource,
    /// Recorded peak resident memory, MiB (rounded up), where the trace has it.
    pub peak_memory_mib: Option<u64>,
    /// What a right-sizing model gives it, once [`Workload::rightsize`] ran.
    pub rightsized: Option<Resources>,
    /// Its name in the trace (`name`, else `process`), for reports.
    pub name: String,
    /// Its `task_id` in the trace, where the trace has one.
    pub trace_task_id: Option<u64>,
}

/// The tasks of one trace, ready to replay.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Tasks in arrival order (stable: equal times keep file order).
    pub tasks: Vec<WorkloadTask>,
}

impl Workload {
    /// Builds the workload of a trace. Tasks without a submit time arrive at
    /// the start, in file order; tasks without a realtime run for zero time.
    pub fn from_trace(trace: &Trace) -> Self {
        let origin = trace.tasks.iter().filter_map(|t| t.submit_ms).min().unwrap_or(0);
        let requests = requests_for(&trace.tasks);
        let mut tasks: Vec<WorkloadTask> = trace
            .tasks
            .iter()
            .zip(requests)
            .enumerate()
            .map(|(index, (task, (request, request_source)))| {
                let demand = Resources::new(request.millicpus, request.memory_mib, 0);
                let runtime_ms = task.realtime_ms.unwrap_or(0);
                let runtime_s = runtime_ms as f64 / 1000.0;
                let used = match (task.cpu_percent, task.peak_rss_bytes) {
                    (Some(cpu), Some(rss)) => Some(Used {
                        cpu_seconds: cpu / 100.0 * runtime_s,
                        memory_mib_seconds: rss as f64 / (1024.0 * 1024.0) * runtime_s,
                    }),
                    _ => None,
                };
                let exit_code = match task.status {
                    TaskOutcome::Completed => 0,
                    _ => task.exit_code.filter(|&c| c != 0).unwrap_or(1),
                };
                let submit = task.submit_ms.map_or(0, |ms| ms.saturating_sub(origin).max(0) as u64);
                WorkloadTask {
                    spec: TaskSpec {
                        id: TaskId(index as u64),
                        process: task.process.clone(),
                        requested: demand,
                        allocated: demand,
                        arch: None,
                    },
                    submit: Millis(submit),
                    script: TaskScript { runtime: Millis(runtime_ms), exit_code },
                    used,
                    request_source,
                    peak_memory_mib: task.peak_rss_bytes.map(|b| b.div_ceil(1024 * 1024)),
                    rightsized: None,
                    name: if task.name.is_empty() {
                        task.process.clone()
                    } else {
                        task.name.clone()
                    },
                    trace_task_id: task.task_id,
                }
            })
            .collect();
        tasks.sort_by_key(|t| (t.submit, t.spec.id));
        Workload { tasks }
    }

    /// Sets every task's right-sized allocation from `model` (the request,
    /// where the model has not seen the task's process).
    pub fn rightsize(&mut self, model: &RightsizeModel) {
        for task in &mut self.tasks {
            task.rightsized = Some(model.allocate(&task.spec.process, task.spec.requested));
        }
    }

    /// The same tasks, each allocated its right-sized resources (or its
    /// request, where [`Workload::rightsize`] has not run).
    pub fn with_rightsized_allocations(&self) -> Workload {
        let mut view = self.clone();
        for task in &mut view.tasks {
            task.spec.allocated = task.rightsized.unwrap_or(task.spec.requested);
        }
        view
    }

    /// How the requests were obtained: `recorded`, `derived` (from usage, from
    /// peers of the same process, or defaulted), or `mixed`.
    pub fn requests(&self) -> &'static str {
        let derived =
            self.tasks.iter().filter(|t| t.request_source != RequestSource::Recorded).count();
        match derived {
            0 => "recorded",
            n if n == self.tasks.len() => "derived",
            _ => "mixed",
        }
    }
}
