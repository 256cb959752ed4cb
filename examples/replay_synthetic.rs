//! Replays a synthetic trace of N tasks drawn from nf-core/mag's real shapes
//! under the greedy engine, and prints the throughput and what the replay
//! cost, to full precision: two builds that decide alike print the same
//! figures, so it doubles as a check that a speed change kept the plans.
//!
//! Run with `cargo run --release --example replay_synthetic -- 100000`
//! (default 20,000 tasks; the seed is the benchmarks' own).

use std::path::Path;
use std::time::Instant;

use cloud_sched::policy::Policy;
use cloud_sched::sim::cloud::CloudConfig;
use cloud_sched::sim::replay::{replay, ReplayOptions};
use cloud_sched::sim::strategy::Strategy;
use cloud_sched::sim::trace::read_trace;
use cloud_sched::sim::workload::synthetic::synthetic;
use cloud_sched::sim::workload::Workload;
use cloud_sched::Catalog;

/// The benchmarks' seed (`benches/common/mod.rs`).
const SEED: u64 = 2486;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tasks: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 20_000,
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let catalog = Catalog::from_csv_path(root.join("data/catalog/ec2_catalog_us-east-1.csv"))?;
    let trace = read_trace(&root.join("data/traces/nfcore-mag_k8s_raw_trace.csv"))?;
    let source = Workload::from_trace(&trace);
    let workload =
        if tasks == source.tasks.len() { source } else { synthetic(&source, tasks, SEED)? };
    let mut options = ReplayOptions::new(Policy::default(), CloudConfig::default());
    // As the replay bench: the figures, not the per-task records of `--out`.
    options.detail = false;

    let start = Instant::now();
    let report = replay(&workload, &catalog, Strategy::Greedy, &options)?;
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{tasks} tasks in {seconds:.2} s ({:.0} tasks/s)",
        workload.tasks.len() as f64 / seconds
    );
    println!(
        "cost ${} over {} instances; {} succeeded, {} failed; makespan {} s; mean queue {} s; \
         {} preemptions",
        report.cost_usd,
        report.instances_launched,
        report.tasks.succeeded,
        report.tasks.failed,
        report.makespan_s,
        report.mean_queue_s,
        report.spot.preemptions,
    );
    Ok(())
}
