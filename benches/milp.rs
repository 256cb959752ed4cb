//! Exact (`milp`) and `auto` placement against the full bundled catalog, on
//! batches of 10 to 1,000 tasks with shapes drawn (seeded) from every bundled
//! trace, with the gap each one reaches printed beside the timing and written
//! to `criterion/milp_outcomes.json` under the target directory.
//!
//! Two configurations, both with a 2 s limit on the whole call: the 1% gap of
//! the target ("a 200-task batch proven within 1% of optimal in under one
//! second"), where the time is how long the solver takes to prove it; and a
//! gap of 1e-4, where it is how long it searches before it proves that or
//! runs out of time.
//!
//! `cargo bench --bench milp`; under `cargo test --all-targets` each case runs
//! once and nothing is printed or written. `examples/export_batches.rs`
//! writes the same batches for the peer solvers.

mod common;

use std::path::PathBuf;
use std::time::Instant;

use cloud_sched::plan::Plan;
use cloud_sched::problem::PlacementProblem;
use cloud_sched::solver::{Auto, Greedy, Milp, MilpConfig, Solver};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use serde_json::{json, Value};

/// One solve's outcome, printed and as JSON, with the wall time of that one
/// call (the criterion median is the figure to quote).
fn describe(
    label: &str,
    n: usize,
    solver: &dyn Solver,
    problem: &PlacementProblem<'_>,
    greedy: &Plan,
) -> Value {
    let greedy_cost = greedy.launch_cost_per_hour().0;
    let started = Instant::now();
    let plan = solver.solve(problem);
    let wall_s = started.elapsed().as_secs_f64();
    match &plan.solve {
        Some(r) => {
            eprintln!(
                "{label:>13} n={n:>5}: {} ({}), ${:.4}/h vs greedy ${greedy_cost:.4}/h, \
                 bound ${:.4}/h, gap {:.3}%, HiGHS {:.3}s, call {wall_s:.3}s, {} variables",
                r.status,
                r.stop,
                r.objective.0,
                r.best_bound.0,
                100.0 * r.relative_gap,
                r.solver_time_s.unwrap_or(0.0),
                r.size.variables,
            );
            json!({
                "solver": label, "tasks": n, "status": r.status.to_string(),
                "stop": r.stop.to_string(), "usd_per_hour": r.objective.0,
                "bound_usd_per_hour": r.best_bound.0, "relative_gap": r.relative_gap,
                "greedy_usd_per_hour": greedy_cost, "highs_s": r.solver_time_s,
                "wall_s": wall_s, "variables": r.size.variables,
            })
        }
        None => {
            eprintln!("{label:>13} n={n:>5}: greedy plan, ${greedy_cost:.4}/h, call {wall_s:.3}s");
            json!({
                "solver": label, "tasks": n, "status": "greedy",
                "usd_per_hour": greedy_cost, "wall_s": wall_s,
            })
        }
    }
}

fn outcomes_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| common::root().join("target"), PathBuf::from);
    target.join("criterion").join("milp_outcomes.json")
}

fn milp(c: &mut Criterion) {
    let catalog = common::catalog();
    let candidates = common::full_candidates(&catalog);
    let pool = common::all_traces();
    let config = MilpConfig::default().with_time_limit_ms(2_000).with_relative_gap(0.01);
    let exact = Milp::new(config);
    let auto = Auto::new(config, Auto::default().max_milp_variables);
    let tight = Milp::new(config.with_relative_gap(1e-4));

    let mut outcomes = Vec::new();
    let mut group = c.benchmark_group("milp_full_catalog");
    group.sample_size(10);
    let solvers = [("milp", &exact as &dyn Solver), ("auto", &auto), ("milp_gap_1e-4", &tight)];
    for n in [10usize, 50, 200, 1_000] {
        let tasks = common::batch(&pool, n);
        let problem = PlacementProblem::new(tasks.clone(), &candidates);
        // The outcome lines cost more solves per size: only under `cargo bench`.
        if common::full_run() {
            let greedy = Greedy.solve(&problem);
            for (label, solver) in solvers {
                outcomes.push(describe(label, n, solver, &problem, &greedy));
            }
        }
        for (label, solver) in solvers {
            group.bench_with_input(BenchmarkId::new(label, n), &tasks, |b, tasks| {
                b.iter_batched(
                    || PlacementProblem::new(tasks.clone(), &candidates),
                    |problem| solver.solve(&problem),
                    BatchSize::LargeInput,
                )
            });
        }
    }
    group.finish();
    if common::full_run() {
        let path = outcomes_path();
        let written = std::fs::create_dir_all(path.parent().expect("a parent"))
            .and_then(|()| std::fs::write(&path, json!(outcomes).to_string()));
        match written {
            Ok(()) => eprintln!("outcomes written to {}", path.display()),
            Err(e) => eprintln!("could not write {}: {e}", path.display()),
        }
    }
}

criterion_group!(benches, milp);
criterion_main!(benches);
