//! Exact (`milp`) and `auto` placement against the full bundled catalog, on
//! batches of task shapes drawn from the bundled traces, with the gap each
//! one reaches printed beside the timing.
//!
//! `cargo bench --bench milp`; CI only compiles it and runs each case once.

use std::path::Path;

use cloud_sched::plan::Plan;
use cloud_sched::policy::{Candidate, Policy};
use cloud_sched::problem::{PendingTask, PlacementProblem};
use cloud_sched::sim::trace::{read_trace, request_of};
use cloud_sched::solver::{Auto, Greedy, Milp, MilpConfig, Solver};
use cloud_sched::{Catalog, Resources, TaskId};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

/// Task shapes of every bundled trace, trace after trace, so a batch mixes
/// the processes of several pipelines (tens of distinct shapes).
fn real_shapes(root: &Path) -> Vec<Resources> {
    let mut files: Vec<_> = std::fs::read_dir(root.join("data/traces"))
        .expect("bundled traces")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let mut shapes = Vec::new();
    for file in files {
        let Ok(trace) = read_trace(&file) else {
            continue;
        };
        shapes.extend(trace.tasks.iter().map(|t| {
            let (r, _) = request_of(t);
            Resources::new(r.millicpus, r.memory_mib, 0)
        }));
    }
    shapes
}

fn batch(shapes: &[Resources], n: usize) -> Vec<PendingTask> {
    // A prime stride through the traces mixes their processes as a busy queue would.
    (0..n).map(|i| PendingTask::new(TaskId(i as u64), shapes[(i * 7919) % shapes.len()])).collect()
}

fn describe(label: &str, n: usize, plan: &Plan, greedy: &Plan) {
    let greedy_cost = greedy.launch_cost_per_hour().0;
    match &plan.solve {
        Some(r) => eprintln!(
            "{label:>5} n={n:>5}: {} ({}), ${:.4}/h vs greedy ${greedy_cost:.4}/h, bound ${:.4}/h, \
             gap {:.3}%, HiGHS {:.3}s, {} variables",
            r.status,
            r.stop,
            r.objective.0,
            r.best_bound.0,
            100.0 * r.relative_gap,
            r.solver_time_s.unwrap_or(0.0),
            r.size.variables,
        ),
        None => eprintln!("{label:>5} n={n:>5}: greedy plan, ${greedy_cost:.4}/h"),
    }
}

fn milp(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let catalog = Catalog::from_csv_path(root.join("data/catalog/ec2_catalog_us-east-1.csv"))
        .expect("bundled catalog");
    let candidates: Vec<Candidate> = Policy::default().candidates(&catalog).expect("candidates");
    let shapes = real_shapes(root);
    let mut distinct = shapes.clone();
    distinct.sort();
    distinct.dedup();
    eprintln!("{} tasks, {} distinct shapes", shapes.len(), distinct.len());
    let config = MilpConfig::default().with_time_limit_ms(2_000);
    let exact = Milp::new(config);
    let auto = Auto::new(config, Auto::default().max_milp_variables);

    let mut group = c.benchmark_group("milp_full_catalog");
    group.sample_size(10);
    for n in [10usize, 50, 200, 1_000] {
        let tasks = batch(&shapes, n);
        let problem = PlacementProblem::new(tasks.clone(), &candidates);
        // The outcome lines cost two more solves per size: only under `cargo bench`,
        // not when `cargo test --all-targets` runs each case once.
        if std::env::args().any(|a| a == "--bench") {
            let greedy = Greedy.solve(&problem);
            describe("milp", n, &exact.solve(&problem), &greedy);
            describe("auto", n, &auto.solve(&problem), &greedy);
        }
        for (label, solver) in [("milp", &exact as &dyn Solver), ("auto", &auto)] {
            group.bench_with_input(BenchmarkId::new(label, n), &tasks, |b, tasks| {
                b.iter(|| solver.solve(&PlacementProblem::new(tasks.clone(), &candidates)))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, milp);
criterion_main!(benches);
