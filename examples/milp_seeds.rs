//! How the exact solver fares on many batches of one size, not only the one
//! the `milp` bench draws: each seed draws its own batch of real task shapes
//! (as the bench does with its fixed seed), and one solve of each is timed.
//!
//! `cargo run --release --example milp_seeds -- [TASKS [SEEDS [LIMIT_MS [GAP]]]]`
//! (defaults: 200 tasks, seeds 1 to 8, a 2,000 ms limit, a 1% gap). Prints
//! one line per seed and how many batches were proven within the gap in
//! under one second and within the limit.

#[path = "../benches/common/mod.rs"]
mod common;

use std::time::Instant;

use cloud_sched::problem::PlacementProblem;
use cloud_sched::sim::workload::synthetic::pending_batch;
use cloud_sched::solver::{Greedy, Milp, MilpConfig, Solver};

/// The positional argument at `index`, or `default` when it is absent.
fn arg<T: std::str::FromStr>(index: usize, name: &str, default: T) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    match std::env::args().nth(index) {
        Some(text) => text.parse().map_err(|e| format!("{name} {text:?}: {e}")),
        None => Ok(default),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tasks: usize = arg(1, "tasks", 200)?;
    let seeds: u64 = arg(2, "seeds", 8)?;
    let limit_ms: u64 = arg(3, "time limit", 2_000)?;
    let gap: f64 = arg(4, "gap", 0.01)?;

    let catalog = common::catalog();
    let candidates = common::full_candidates(&catalog);
    let pool = common::all_traces();
    let milp = Milp::new(MilpConfig::default().with_time_limit_ms(limit_ms).with_relative_gap(gap));

    let (mut under_1s, mut within_limit) = (0, 0);
    for seed in 1..=seeds {
        let batch = pending_batch(&pool, tasks, seed)?;
        let problem = PlacementProblem::new(batch, &candidates);
        let greedy = Greedy.solve(&problem).launch_cost_per_hour().0;
        let started = Instant::now();
        let plan = milp.solve(&problem);
        let wall_s = started.elapsed().as_secs_f64();
        let report = plan.solve.as_ref().ok_or("the milp solver reported nothing")?;
        let proven = report.relative_gap <= gap;
        under_1s += usize::from(proven && wall_s < 1.0);
        within_limit += usize::from(proven && wall_s <= limit_ms as f64 / 1000.0);
        println!(
            "seed {seed:>3}: {wall_s:.3} s, ${:.4}/h (greedy ${greedy:.4}/h), bound ${:.4}/h, \
             gap {:.3}%, {}",
            report.objective.0,
            report.best_bound.0,
            100.0 * report.relative_gap,
            report.status
        );
    }
    println!(
        "{tasks} tasks, {seeds} seeds: {under_1s} proven within {:.2}% in under 1 s, \
         {within_limit} within the {limit_ms} ms limit",
        100.0 * gap
    );
    Ok(())
}
