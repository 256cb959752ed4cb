//! Replays of bundled traces under injected faults keep the issue's
//! invariants: every task ends exactly once, no task runs twice at once, no
//! instance is over capacity (checked after every event), nothing stays
//! rented after the run, and the engine agrees with the provider after every
//! reconciliation.

use std::path::PathBuf;

use sched_core::catalog::Catalog;
use sched_core::policy::Policy;
use sched_core::provider::faults::{FaultConfig, FaultKind};
use sched_sim::cloud::CloudConfig;
use sched_sim::replay::{replay_all, ReplayOptions, StrategyReport};
use sched_sim::strategy::Strategy;
use sched_sim::trace::read_trace;
use sched_sim::workload::Workload;

fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data").join(path)
}

fn replay_under(name: &str, faults: FaultConfig, strategies: &[Strategy]) -> Vec<StrategyReport> {
    let catalog = Catalog::from_csv_path(data("catalog/ec2_catalog_us-east-1.csv")).unwrap();
    let trace = read_trace(&data(&format!("traces/{name}"))).unwrap();
    let workload = Workload::from_trace(&trace);
    let mut options = ReplayOptions::new(Policy::default(), CloudConfig::default());
    options.faults = Some(faults);
    replay_all(&workload, &catalog, strategies, &options)
        .unwrap_or_else(|e| panic!("{name}: replay under faults failed: {e}"))
}

fn assert_kept(name: &str, what: &str, reports: &[StrategyReport]) {
    for r in reports {
        let f = r.faults.as_ref().expect("fault figures");
        let t = r.tasks;
        assert_eq!(
            t.succeeded + t.failed + t.unschedulable + t.cancelled,
            t.total,
            "{name} {what} {}",
            r.name
        );
        assert_eq!(f.tasks_lost, 0, "{name} {what} {}: tasks lost {f:?}", r.name);
        assert_eq!(f.duplicate_starts, 0, "{name} {what} {}: duplicate starts {f:?}", r.name);
        assert_eq!(f.instances_leaked, 0, "{name} {what} {}: leaked {f:?}", r.name);
        assert_eq!(f.disagreements, 0, "{name} {what} {}: disagreements {f:?}", r.name);
    }
}

const SMALL: &[&str] = &[
    "nfcore-ampliseq_k8s_raw_trace_semicolon.csv",
    "nfcore-chipseq_local_execution_trace.txt",
    "nfcore-sarek_slurm_trace_custom-fields.txt",
];

#[test]
fn each_fault_kind_alone_at_30_percent() {
    for kind in FaultKind::ALL {
        for name in SMALL {
            let reports = replay_under(name, FaultConfig::only(kind, 0.3, 11), &[Strategy::Greedy]);
            let f = reports[0].faults.as_ref().unwrap();
            assert_kept(name, kind.name(), &reports);
            if *name == SMALL[0] && kind != FaultKind::ReclaimStorm {
                assert!(f.injected > 0, "{name}: no {kind} injected");
            }
        }
    }
}

#[test]
fn all_kinds_mixed_at_rates_up_to_30_percent() {
    for rate in [0.05, 0.15, 0.3] {
        for name in SMALL {
            let reports =
                replay_under(name, FaultConfig::mixed(rate, 3), &Strategy::BASELINES_AND_GREEDY);
            assert_kept(name, &format!("mixed {rate}"), &reports);
        }
    }
}

#[test]
fn the_bigger_traces_at_30_percent_mixed() {
    for name in ["nfcore-rnaseq_k8s_raw_trace.csv", "openproblems_awsbatch_execution_trace.txt"] {
        let reports = replay_under(name, FaultConfig::mixed(0.3, 5), &[Strategy::Greedy]);
        assert_kept(name, "mixed 0.3", &reports);
        assert!(reports[0].faults.as_ref().unwrap().injected > 100, "{name}");
    }
}
