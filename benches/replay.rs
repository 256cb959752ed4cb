//! Replay throughput, in tasks per second, under the greedy engine on the
//! simulated cloud with the default policy: the largest bundled trace
//! (nf-core/mag, 6,242 tasks) and synthetic traces drawn (seeded) from it at
//! the same arrival rate.
//!
//! `cargo bench --bench replay`. Criterion samples nf-core/mag and a
//! synthetic trace of 20,000 tasks (ten replays each). The one-million-task
//! trace is replayed once, outside criterion, timed by the wall clock and
//! written to `criterion/replay_million.json` under the target directory:
//! ten samples of it, plus criterion's warm-up, would take several minutes
//! of a shared machine for one figure. Under
//! `cargo test --all-targets` the synthetic trace has 2,000 tasks and the
//! million-task run is skipped (see `common::full_run`). The replays collect
//! the figures a report gives, not the per-task records `--out` draws
//! (`ReplayOptions::detail` off), as `sched-sim replay` without `--out` does.

mod common;

use std::path::PathBuf;
use std::time::Instant;

use cloud_sched::policy::Policy;
use cloud_sched::sim::cloud::CloudConfig;
use cloud_sched::sim::replay::{replay, ReplayOptions};
use cloud_sched::sim::strategy::Strategy;
use cloud_sched::sim::workload::synthetic::synthetic;
use cloud_sched::sim::workload::Workload;
use cloud_sched::Catalog;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const LARGEST: &str = "nfcore-mag_k8s_raw_trace.csv";

/// Replays once, prints what happened and returns the wall time in seconds.
fn replay_once(
    label: &str,
    workload: &Workload,
    catalog: &Catalog,
    options: &ReplayOptions,
) -> f64 {
    let start = Instant::now();
    let report = replay(workload, catalog, Strategy::Greedy, options).expect("replay");
    let seconds = start.elapsed().as_secs_f64();
    let n = workload.tasks.len();
    eprintln!(
        "{label}: {n} tasks in {seconds:.2} s ({:.0} tasks/s): {} succeeded, {} instances, \
         ${:.2}, makespan {:.0} s",
        n as f64 / seconds,
        report.tasks.succeeded,
        report.instances_launched,
        report.cost_usd,
        report.makespan_s
    );
    seconds
}

fn target_file(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| common::root().join("target"), PathBuf::from);
    target.join("criterion").join(name)
}

fn throughput(c: &mut Criterion) {
    let catalog = common::catalog();
    let mut options = ReplayOptions::new(Policy::default(), CloudConfig::default());
    // The figures of the replay, not the per-task records only `--out` draws.
    options.detail = false;
    let mag = common::workload(LARGEST);
    let sampled = synthetic(&mag, common::guarded(20_000, 2_000), common::SEED).expect("tasks");

    let mut group = c.benchmark_group("replay_greedy");
    group.sample_size(10);
    let cases: [(&str, &Workload); 2] = [("nfcore-mag", &mag), ("synthetic", &sampled)];
    for (label, workload) in cases {
        let n = workload.tasks.len();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new(label, n), workload, |b, workload| {
            b.iter(|| replay(workload, &catalog, Strategy::Greedy, &options).expect("replay"))
        });
    }
    group.finish();

    if common::full_run() {
        let million = synthetic(&mag, 1_000_000, common::SEED).expect("tasks");
        let seconds = replay_once("synthetic", &million, &catalog, &options);
        let path = target_file("replay_million.json");
        let line = format!(
            "{{\"tasks\": 1000000, \"seconds\": {seconds}, \"tasks_per_s\": {}}}",
            1e6 / seconds
        );
        let written = std::fs::create_dir_all(path.parent().expect("a parent"))
            .and_then(|()| std::fs::write(&path, line));
        if let Err(e) = written {
            eprintln!("could not write {}: {e}", path.display());
        }
    }
}

criterion_group!(benches, throughput);
criterion_main!(benches);
