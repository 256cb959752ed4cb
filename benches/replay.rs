//! Replay throughput, in tasks per second: the largest bundled trace
//! (nf-core/mag, 6,243 tasks) and a synthetic trace of one million tasks
//! drawn (seeded) from it, each replayed under the greedy engine on the
//! simulated cloud with the default policy.
//!
//! `cargo bench --bench replay`. Under `cargo test --all-targets` the
//! synthetic trace has 2,000 tasks (see `common::full_run`).

mod common;

use std::time::Duration;

use cloud_sched::policy::Policy;
use cloud_sched::sim::cloud::CloudConfig;
use cloud_sched::sim::replay::{replay, ReplayOptions};
use cloud_sched::sim::strategy::Strategy;
use cloud_sched::sim::workload::synthetic::synthetic;
use cloud_sched::sim::workload::Workload;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const LARGEST: &str = "nfcore-mag_k8s_raw_trace.csv";

fn throughput(c: &mut Criterion) {
    let catalog = common::catalog();
    let options = ReplayOptions::new(Policy::default(), CloudConfig::default());
    let mag = common::workload(LARGEST);
    let million = common::guarded(1_000_000, 2_000);
    let synthetic_trace = synthetic(&mag, million, common::SEED).expect("mag has tasks");

    let mut group = c.benchmark_group("replay_greedy");
    group.sample_size(10);
    let cases: [(&str, &Workload); 2] = [("nfcore-mag", &mag), ("synthetic", &synthetic_trace)];
    for (label, workload) in cases {
        let n = workload.tasks.len();
        if common::full_run() {
            // One replay outside the timing, to print what was replayed.
            let report = replay(workload, &catalog, Strategy::Greedy, &options).expect("replay");
            eprintln!(
                "{label}: {n} tasks, {} succeeded, {} instances, ${:.2}, makespan {:.0} s",
                report.tasks.succeeded,
                report.instances_launched,
                report.cost_usd,
                report.makespan_s
            );
        }
        if n >= 100_000 {
            group.measurement_time(Duration::from_secs(60));
        }
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new(label, n), workload, |b, workload| {
            b.iter(|| replay(workload, &catalog, Strategy::Greedy, &options).expect("replay"))
        });
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
