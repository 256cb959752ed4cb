//! Synthetic workloads built from the tasks of a real one.
//!
//! Benchmarks and stress tests need more tasks than any bundled trace holds,
//! with the shapes real pipelines ask for rather than invented ones. Each
//! synthetic task is a copy of a task of the source workload, drawn with a
//! seeded random stream: its process, request, allocation, runtime, exit code
//! and recorded usage come along; its id and arrival time are new.
//!
//! Arrivals keep the source's mean rate: task `i` arrives at
//! `i x span / tasks in the source`, where the span runs from the source's
//! first to its last submission. A synthetic trace of `k` times the source's
//! length is then the source's load kept up for `k` times as long, so the
//! number of tasks in flight stays what the source had rather than growing
//! with the trace. A source whose tasks all arrive at once gives a synthetic
//! trace whose tasks all arrive at once.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sched_core::problem::{PendingTask, TaskId};
use sched_core::time::Millis;
use thiserror::Error;

use super::{Workload, WorkloadTask};

/// Why a synthetic workload could not be built.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyntheticError {
    /// The source workload has no task to copy.
    #[error("the source workload has no tasks to draw synthetic tasks from")]
    EmptySource,
}

/// A workload of `tasks` tasks drawn with `seed` from the tasks of `source`,
/// arriving at the source's mean rate (see the module docs).
///
/// The same source, size and seed always give the same workload. Task ids run
/// from 0 to `tasks - 1` in arrival order.
///
/// # Errors
/// [`SyntheticError::EmptySource`] when `source` has no tasks.
pub fn synthetic(source: &Workload, tasks: usize, seed: u64) -> Result<Workload, SyntheticError> {
    if source.tasks.is_empty() {
        return Err(SyntheticError::EmptySource);
    }
    let first = source.tasks.iter().map(|t| t.submit).min().unwrap_or_default();
    let last = source.tasks.iter().map(|t| t.submit).max().unwrap_or_default();
    let span_ms = u128::from(last.since(first).0);
    let per = source.tasks.len() as u128;

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let tasks = (0..tasks)
        .map(|i| {
            let model = &source.tasks[rng.gen_range(0..source.tasks.len())];
            let submit = (i as u128 * span_ms / per).min(u128::from(u64::MAX)) as u64;
            let mut spec = model.spec.clone();
            spec.id = TaskId(i as u64);
            WorkloadTask {
                spec,
                submit: Millis(submit),
                script: model.script,
                used: model.used,
                request_source: model.request_source,
                peak_memory_mib: model.peak_memory_mib,
                rightsized: model.rightsized,
                name: format!("{} (copy {i})", model.name),
                trace_task_id: None,
            }
        })
        .collect();
    Ok(Workload { tasks })
}

/// `tasks` pending tasks whose demands are drawn with `seed` from the
/// allocations of `source`'s tasks: one batch as a solver would see it when
/// that many tasks wait at once.
///
/// Every task is of group 0 with no runtime estimate and no architecture, so
/// any of them may share an instance with any other. Ids run from 0.
///
/// # Errors
/// [`SyntheticError::EmptySource`] when `source` has no tasks.
pub fn pending_batch(
    source: &Workload,
    tasks: usize,
    seed: u64,
) -> Result<Vec<PendingTask>, SyntheticError> {
    if source.tasks.is_empty() {
        return Err(SyntheticError::EmptySource);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Ok((0..tasks)
        .map(|i| {
            let model = &source.tasks[rng.gen_range(0..source.tasks.len())];
            PendingTask::new(TaskId(i as u64), model.spec.allocated)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::TaskScript;
    use crate::trace::RequestSource;
    use sched_core::engine::TaskSpec;
    use sched_core::resources::Resources;

    fn source() -> Workload {
        let task = |id: u64, submit_s: u64, cpus: u64, runtime_s: u64| WorkloadTask {
            spec: TaskSpec {
                id: TaskId(id),
                process: format!("P{id}"),
                requested: Resources::cpus_mib(cpus, 1024 * cpus),
                allocated: Resources::cpus_mib(cpus, 1024 * cpus),
                arch: None,
            },
            submit: Millis::from_secs(submit_s),
            script: TaskScript { runtime: Millis::from_secs(runtime_s), exit_code: 0 },
            used: None,
            request_source: RequestSource::Recorded,
            peak_memory_mib: None,
            rightsized: None,
            name: format!("P{id}"),
            trace_task_id: Some(id + 1),
        };
        Workload { tasks: vec![task(0, 0, 1, 10), task(1, 30, 2, 20), task(2, 90, 4, 40)] }
    }

    #[test]
    fn copies_real_tasks_with_new_ids_at_the_source_rate() {
        let source = source();
        let made = synthetic(&source, 1_000, 7).unwrap();
        assert_eq!(made.tasks.len(), 1_000);
        for (i, task) in made.tasks.iter().enumerate() {
            assert_eq!(task.spec.id, TaskId(i as u64));
            // 90 s over 3 tasks: one task every 30 s.
            assert_eq!(task.submit, Millis::from_secs(30 * i as u64));
            let model = source
                .tasks
                .iter()
                .find(|m| m.spec.process == task.spec.process)
                .expect("a copy of a source task");
            assert_eq!((model.spec.allocated, model.script), (task.spec.allocated, task.script));
        }
        // Every source task is drawn at least once in a thousand draws.
        for model in &source.tasks {
            assert!(made.tasks.iter().any(|t| t.spec.process == model.spec.process));
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_workload_and_another_seed_another() {
        let source = source();
        let a = synthetic(&source, 200, 1).unwrap();
        let b = synthetic(&source, 200, 1).unwrap();
        let c = synthetic(&source, 200, 2).unwrap();
        assert_eq!(a.tasks, b.tasks);
        assert_ne!(a.tasks, c.tasks);
    }

    #[test]
    fn an_empty_source_is_an_error_not_a_panic() {
        let empty = Workload { tasks: Vec::new() };
        assert_eq!(synthetic(&empty, 10, 0).unwrap_err(), SyntheticError::EmptySource);
        assert_eq!(pending_batch(&empty, 10, 0).unwrap_err(), SyntheticError::EmptySource);
    }

    #[test]
    fn a_pending_batch_draws_real_allocations() {
        let source = source();
        let batch = pending_batch(&source, 500, 3).unwrap();
        assert_eq!(batch.len(), 500);
        assert!(batch
            .iter()
            .all(|t| source.tasks.iter().any(|m| m.spec.allocated == t.demand) && t.group == 0));
        assert_eq!(batch, pending_batch(&source, 500, 3).unwrap());
    }
}
