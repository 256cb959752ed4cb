//! Greedy placement latency: batches of 10 to 100,000 pending tasks with
//! shapes drawn (seeded) from every bundled trace, against the full bundled
//! catalog with and without existing free room, and against catalogs of 100,
//! 400 and all instance types.
//!
//! `cargo bench --bench placement`. Under `cargo test --all-targets` each case
//! runs once and cases above 1,000 tasks are skipped (see `common::full_run`).

mod common;

use cloud_sched::problem::{CandidateSet, ExistingInstance, PendingTask, PlacementProblem};
use cloud_sched::solver::{Greedy, Solver};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};

const SIZES: [usize; 5] = [10, 100, 1_000, 10_000, 100_000];

/// The largest size `cargo test` runs.
const TEST_SIZE: usize = 1_000;

fn sizes(all: &[usize]) -> impl Iterator<Item = usize> + '_ {
    all.iter().copied().filter(|&n| common::full_run() || n <= TEST_SIZE)
}

/// Times the greedy solver on `tasks` (cloned outside the timing) over
/// `candidates` (prepared once, as a driver prepares them once per catalog)
/// and `rooms`.
fn bench_greedy(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: BenchmarkId,
    tasks: &[PendingTask],
    candidates: &CandidateSet,
    rooms: &[ExistingInstance],
) {
    group.throughput(Throughput::Elements(tasks.len() as u64));
    group.bench_function(id, |b| {
        b.iter_batched(
            || {
                let mut problem = PlacementProblem::new(tasks.to_vec(), candidates);
                problem.instances = rooms.to_vec();
                problem
            },
            |problem| Greedy.solve(&problem),
            BatchSize::LargeInput,
        )
    });
}

fn full_catalog(c: &mut Criterion) {
    let catalog = common::catalog();
    let candidates = common::full_candidates(&catalog);
    let pool = common::all_traces();
    eprintln!(
        "full catalog: {} offerings of {} types; {} real tasks in the shape pool",
        candidates.len(),
        common::type_count(&candidates),
        pool.tasks.len()
    );

    let mut group = c.benchmark_group("greedy_full_catalog");
    for n in sizes(&SIZES) {
        if n >= 10_000 {
            group.sample_size(10);
        }
        let tasks = common::batch(&pool, n);
        bench_greedy(&mut group, BenchmarkId::new("fresh", n), &tasks, &candidates, &[]);
        // One running instance per ten pending tasks, each partly free.
        let rooms = common::existing(&candidates, (n / 10).max(1));
        bench_greedy(&mut group, BenchmarkId::new("with_room", n), &tasks, &candidates, &rooms);
    }
    group.finish();
}

fn catalog_size(c: &mut Criterion) {
    let catalog = common::catalog();
    let all = common::full_candidates(&catalog);
    let pool = common::all_traces();

    let mut group = c.benchmark_group("greedy_catalog_size");
    group.sample_size(20);
    for types in [Some(100), Some(400), None] {
        let candidates = common::catalog_subset(&all, types);
        let label = match types {
            Some(k) => format!("{k}_types"),
            None => "all_types".to_string(),
        };
        eprintln!("{label}: {} offerings", candidates.len());
        for n in sizes(&[1_000, 10_000]) {
            let tasks = common::batch(&pool, n);
            bench_greedy(&mut group, BenchmarkId::new(&label, n), &tasks, &candidates, &[]);
        }
    }
    group.finish();
}

criterion_group!(benches, full_catalog, catalog_size);
criterion_main!(benches);
