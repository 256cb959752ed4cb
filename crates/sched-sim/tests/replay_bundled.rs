//! Every bundled trace replays under every strategy and accounts for every task.

use std::path::PathBuf;

use sched_core::catalog::Catalog;
use sched_core::policy::Policy;
use sched_sim::cloud::CloudConfig;
use sched_sim::replay::{replay_all, ReplayOptions, StrategyReport};
use sched_sim::strategy::Strategy;
use sched_sim::trace::read_trace;
use sched_sim::workload::Workload;

fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data").join(path)
}

fn replay_bundled(name: &str) -> (Workload, Vec<StrategyReport>) {
    let catalog = Catalog::from_csv_path(data("catalog/ec2_catalog_us-east-1.csv")).unwrap();
    let trace = read_trace(&data(&format!("traces/{name}"))).unwrap();
    let workload = Workload::from_trace(&trace);
    let options = ReplayOptions::new(Policy::default(), CloudConfig::default());
    let reports =
        replay_all(&workload, &catalog, &Strategy::BASELINES_AND_GREEDY, &options).unwrap();
    (workload, reports)
}

fn check_accounting(name: &str, expected_tasks: usize) -> Vec<StrategyReport> {
    let (workload, reports) = replay_bundled(name);
    assert_eq!(workload.tasks.len(), expected_tasks, "{name}: tasks replayed");
    for r in &reports {
        let t = r.tasks;
        assert_eq!(t.total, expected_tasks, "{name} {}: total", r.name);
        assert_eq!(
            t.succeeded + t.failed + t.unschedulable + t.cancelled,
            t.total,
            "{name} {}: every task ends in exactly one terminal status",
            r.name
        );
        assert!(
            r.cost_usd > 0.0 && r.cost_usd.is_finite(),
            "{name} {}: cost {}",
            r.name,
            r.cost_usd
        );
        assert!(
            r.cost_usd >= r.lower_bound_usd * (1.0 - 1e-9),
            "{name} {}: cost {} below the lower bound {}",
            r.name,
            r.cost_usd,
            r.lower_bound_usd
        );
        assert!(r.cpu_utilization <= 1.0 && r.memory_utilization <= 1.0, "{name} {}", r.name);
    }
    reports
}

fn cost(reports: &[StrategyReport], strategy: Strategy) -> f64 {
    reports.iter().find(|r| r.name == strategy.name()).unwrap().cost_usd
}

/// Traces with recorded requests: greedy must beat one instance per task.
#[test]
fn greedy_beats_per_task_where_requests_are_recorded() {
    for (name, tasks) in [
        ("nfcore-rnaseq_k8s_raw_trace.csv", 1308),
        ("nfcore-mag_k8s_raw_trace.csv", 6242),
        ("nfcore-ampliseq_k8s_raw_trace_semicolon.csv", 144),
        ("nfcore-sarek_slurm_trace_custom-fields.txt", 9),
    ] {
        let reports = check_accounting(name, tasks);
        let (greedy, per_task) =
            (cost(&reports, Strategy::Greedy), cost(&reports, Strategy::PerTask));
        assert!(greedy < per_task, "{name}: greedy ${greedy:.4} vs per-task ${per_task:.4}");
    }
}

/// Traces without requests replay on derived ones and still account for every task.
#[test]
fn traces_with_derived_requests_account_for_every_task() {
    for (name, tasks) in [
        ("nfcore-chipseq_local_execution_trace.txt", 275),
        ("openproblems_awsbatch_execution_trace.txt", 864),
        ("nfcore-scisoseq_hpc_execution_trace.txt", 2),
    ] {
        check_accounting(name, tasks);
    }
}
