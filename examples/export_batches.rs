//! Writes the batch problems the `milp` bench solves as JSON, with our exact
//! solver's time and objective on each, for independent solvers to solve the
//! same problems (`benches/peers/run.sh` runs it, then CP-SAT and CBC).
//!
//! `cargo run --release --example export_batches -- OUT.json [TIME_LIMIT_MS [MAX_TASKS]]`
//!
//! `MAX_TASKS` leaves the larger batches out: a peer that overruns its limit
//! by minutes on them (CBC did at 1,000 tasks) need not hold up the others.
//!
//! Each batch lists its distinct task shapes with their counts, every
//! candidate offering of the bundled catalog (spot and on demand), the greedy
//! plan (its cost bounds the bins any solver needs, and it is the warm start
//! ours gets), and what our `milp` solver did: wall time of the whole solve
//! (greedy, reduction, model building and HiGHS, median of three runs), the
//! plan's cost, the proven bound and the gap.

#[path = "../benches/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::time::Instant;

use cloud_sched::plan::{Placement, Plan};
use cloud_sched::problem::PlacementProblem;
use cloud_sched::solver::{Greedy, Milp, MilpConfig, Solver};
use cloud_sched::Resources;
use serde_json::{json, Value};

/// The batch sizes of the `milp` bench.
const SIZES: [usize; 4] = [10, 50, 200, 1_000];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().ok_or("usage: export_batches OUT.json [TIME_LIMIT_MS [MAX_TASKS]]")?;
    let limit_ms: u64 = match args.next() {
        Some(ms) => ms.parse().map_err(|e| format!("time limit {ms:?}: {e}"))?,
        None => 2_000,
    };
    let max_tasks: usize = match args.next() {
        Some(n) => n.parse().map_err(|e| format!("largest batch {n:?}: {e}"))?,
        None => usize::MAX,
    };

    let catalog = common::catalog();
    let candidates = common::full_candidates(&catalog);
    let pool = common::all_traces();
    let milp = Milp::new(MilpConfig::default().with_time_limit_ms(limit_ms));

    let mut batches = Vec::new();
    for n in SIZES.into_iter().filter(|&n| n <= max_tasks) {
        let tasks = common::batch(&pool, n);
        let problem = PlacementProblem::new(tasks.clone(), &candidates);

        // Shapes in first-seen order, with counts.
        let mut shapes: Vec<(Resources, usize)> = Vec::new();
        let mut shape_of = BTreeMap::new();
        for task in &tasks {
            let at = *shape_of.entry(task.demand).or_insert_with(|| {
                shapes.push((task.demand, 0));
                shapes.len() - 1
            });
            shapes[at].1 += 1;
        }
        let greedy = Greedy.solve(&problem);

        // Ours: median wall time of three whole solves.
        let mut runs: Vec<(f64, Plan)> = (0..3)
            .map(|_| {
                let start = Instant::now();
                let plan = milp.solve(&problem);
                (start.elapsed().as_secs_f64(), plan)
            })
            .collect();
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (wall_s, plan) = runs.swap_remove(1);
        let report = plan.solve.as_ref().ok_or("the milp solver reported nothing")?;
        eprintln!(
            "n={n:>5}: ours {wall_s:.3} s, ${:.4}/h, gap {:.3}% ({})",
            report.objective.0,
            100.0 * report.relative_gap,
            report.status
        );

        // The greedy plan as bins: candidate index and tasks of each shape.
        let index_of: BTreeMap<_, usize> =
            candidates.iter().enumerate().map(|(i, c)| (c.offering, i)).collect();
        let demand_of: BTreeMap<_, _> = tasks.iter().map(|t| (t.id, t.demand)).collect();
        let mut bins: Vec<BTreeMap<usize, usize>> = vec![BTreeMap::new(); greedy.launches.len()];
        for a in &greedy.assignments {
            if let Placement::New(launch) = a.placement {
                *bins[launch].entry(shape_of[&demand_of[&a.task]]).or_default() += 1;
            }
        }
        let greedy_bins: Vec<Value> = greedy
            .launches
            .iter()
            .zip(&bins)
            .map(|(l, counts)| {
                json!({
                    "candidate": index_of[&l.offering],
                    "counts": counts.iter().map(|(s, n)| json!([s, n])).collect::<Vec<_>>(),
                })
            })
            .collect();

        batches.push(json!({
            "tasks": n,
            "shapes": shapes.iter().map(|(d, count)| json!({
                "millicpus": d.millicpus, "memory_mib": d.memory_mib, "gpus": d.gpus, "count": count,
            })).collect::<Vec<_>>(),
            "candidates": candidates.iter().map(|c| json!({
                "offering": c.offering.0,
                "type": &*c.type_name,
                "capacity_type": c.capacity_type.to_string(),
                "arch": format!("{:?}", c.arch),
                "millicpus": c.capacity.millicpus,
                "memory_mib": c.capacity.memory_mib,
                "gpus": c.capacity.gpus,
                "usd_per_hour": c.price.0,
            })).collect::<Vec<_>>(),
            "greedy": { "usd_per_hour": greedy.launch_cost_per_hour().0, "bins": greedy_bins },
            "ours": {
                "solver": "HiGHS via good_lp (cloud-sched milp)",
                "wall_s": wall_s,
                "highs_s": report.solver_time_s,
                "usd_per_hour": report.objective.0,
                "bound_usd_per_hour": report.best_bound.0,
                "relative_gap": report.relative_gap,
                "status": report.status.to_string(),
                "stop": report.stop.to_string(),
                "variables": report.size.variables,
            },
        }));
    }
    let doc = json!({ "time_limit_s": limit_ms as f64 / 1000.0, "batches": batches });
    std::fs::write(&out, serde_json::to_string_pretty(&doc)?)
        .map_err(|e| format!("writing {out}: {e}"))?;
    eprintln!("wrote {out}");
    Ok(())
}
