//! Greedy placement latency against the full bundled catalog, with task
//! shapes drawn from the bundled rnaseq trace.
//!
//! `cargo bench --bench placement`; CI only compiles it.

use std::path::Path;

use cloud_sched::policy::Policy;
use cloud_sched::problem::{PendingTask, PlacementProblem};
use cloud_sched::sim::trace::{read_trace, request_of};
use cloud_sched::solver::{Greedy, Solver};
use cloud_sched::{Catalog, Resources, TaskId};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn real_shapes() -> Vec<Resources> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let trace = read_trace(&root.join("data/traces/nfcore-rnaseq_k8s_raw_trace.csv"))
        .expect("bundled trace");
    trace
        .tasks
        .iter()
        .map(|t| {
            let (r, _) = request_of(t);
            Resources::new(r.millicpus, r.memory_mib, 0)
        })
        .collect()
}

fn greedy(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let catalog = Catalog::from_csv_path(root.join("data/catalog/ec2_catalog_us-east-1.csv"))
        .expect("bundled catalog");
    let candidates = Policy::default().candidates(&catalog).expect("candidates");
    let shapes = real_shapes();

    let mut group = c.benchmark_group("greedy_full_catalog");
    for n in [10usize, 100, 1_000, 10_000] {
        let tasks: Vec<PendingTask> = (0..n)
            .map(|i| PendingTask {
                id: TaskId(i as u64),
                demand: shapes[i % shapes.len()],
                arch: None,
                group: 0,
                expected_runtime: None,
            })
            .collect();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &tasks, |b, tasks| {
            b.iter(|| Greedy.solve(&PlacementProblem::new(tasks.clone(), &candidates)))
        });
    }
    group.finish();
}

criterion_group!(benches, greedy);
criterion_main!(benches);
