//! A synthetic workload drawn from a bundled trace replays like a real one:
//! every task accounted for, at the source's arrival rate.

use std::path::PathBuf;

use sched_core::catalog::Catalog;
use sched_core::policy::Policy;
use sched_sim::cloud::CloudConfig;
use sched_sim::replay::{replay, ReplayOptions};
use sched_sim::strategy::Strategy;
use sched_sim::trace::read_trace;
use sched_sim::workload::synthetic::synthetic;
use sched_sim::workload::Workload;

fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data").join(path)
}

#[test]
fn a_synthetic_trace_three_times_the_source_replays_completely() {
    let catalog = Catalog::from_csv_path(data("catalog/ec2_catalog_us-east-1.csv")).unwrap();
    let trace = read_trace(&data("traces/nfcore-rnaseq_k8s_raw_trace.csv")).unwrap();
    let source = Workload::from_trace(&trace);
    let n = 3 * source.tasks.len();
    let workload = synthetic(&source, n, 11).unwrap();
    assert_eq!(workload.tasks.len(), n);

    // The same arrival rate over three times the span.
    let span = |w: &Workload| w.tasks.last().unwrap().submit.0 - w.tasks.first().unwrap().submit.0;
    let ratio = span(&workload) as f64 / span(&source) as f64;
    assert!((ratio - 3.0).abs() < 0.01, "span ratio {ratio}");

    let options = ReplayOptions::new(Policy::default(), CloudConfig::default());
    let report = replay(&workload, &catalog, Strategy::Greedy, &options).unwrap();
    let t = report.tasks;
    assert_eq!(t.total, n);
    assert_eq!(t.succeeded + t.failed + t.unschedulable + t.cancelled, n);
    assert!(report.cost_usd > 0.0 && report.cost_usd >= report.lower_bound_usd * (1.0 - 1e-9));
}
