//! Replays of bundled traces under injected faults keep the issue's
//! invariants: every task ends exactly once, no task runs twice at once, no
//! instance is over capacity (checked after every event), nothing stays
//! rented after the run, and the engine agrees with the provider after every
//! reconciliation.

use std::path::PathBuf;

use rayon::prelude::*;
use sched_core::catalog::Catalog;
use sched_core::policy::Policy;
use sched_core::provider::faults::{FaultConfig, FaultKind};
use sched_sim::cloud::CloudConfig;
use sched_sim::replay::{replay_all, ReplayError, ReplayOptions, StrategyReport};
use sched_sim::strategy::Strategy;
use sched_sim::trace::read_trace;
use sched_sim::workload::Workload;

fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data").join(path)
}

fn try_replay_under(
    name: &str,
    faults: FaultConfig,
    strategies: &[Strategy],
) -> Result<Vec<StrategyReport>, ReplayError> {
    let catalog = Catalog::from_csv_path(data("catalog/ec2_catalog_us-east-1.csv")).unwrap();
    let trace = read_trace(&data(&format!("traces/{name}"))).unwrap();
    let workload = Workload::from_trace(&trace);
    let mut options = ReplayOptions::new(Policy::default(), CloudConfig::default());
    options.faults = Some(faults);
    replay_all(&workload, &catalog, strategies, &options)
}

fn replay_under(name: &str, faults: FaultConfig, strategies: &[Strategy]) -> Vec<StrategyReport> {
    try_replay_under(name, faults, strategies)
        .unwrap_or_else(|e| panic!("{name}: replay under faults failed: {e}"))
}

/// Every strategy the `replay` command runs by default.
const EVERY_STRATEGY: [Strategy; 5] = [
    Strategy::SingleInstance,
    Strategy::PerTask,
    Strategy::Greedy,
    Strategy::GreedyRightsized,
    Strategy::GreedyRightsizedGuarded,
];

/// Replays each trace under the mix at each rate and seed, in parallel, and
/// returns what went wrong, one line per failed replay.
fn sweep(traces: &[&str], rates: &[f64], seeds: std::ops::RangeInclusive<u64>) -> Vec<String> {
    let mut runs: Vec<(&str, f64, u64)> = Vec::new();
    for name in traces {
        for rate in rates {
            runs.extend(seeds.clone().map(|seed| (*name, *rate, seed)));
        }
    }
    runs.par_iter()
        .filter_map(|&(name, rate, seed)| {
            let what = format!("{name} at {rate} seed {seed}");
            let reports =
                match try_replay_under(name, FaultConfig::mixed(rate, seed), &EVERY_STRATEGY) {
                    Ok(reports) => reports,
                    Err(error) => return Some(format!("{what}: {error}")),
                };
            let caught = std::panic::catch_unwind(|| assert_kept(name, &what, &reports));
            caught.err().map(|_| format!("{what}: an invariant broke (see above)"))
        })
        .collect()
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

/// Regression: `single-instance` launched its one instance once, so a
/// refused launch, a lost answer or an instance that never became ready left
/// its tasks waiting forever ("replay stalled") on about one seed in three at
/// 30%. Now every strategy finishes on every seed.
#[test]
fn every_strategy_finishes_on_seeds_1_to_25_at_5_and_30_percent() {
    let failures = sweep(SMALL, &[0.05, 0.3], 1..=25);
    assert!(failures.is_empty(), "{} failed replays:\n{}", failures.len(), failures.join("\n"));
}

/// The cases first reported: chipseq at 30% seed 2, sarek at 30% seed 18
/// (stalled at 0 s after one refused launch), rnaseq at 5% seed 17.
#[test]
fn single_instance_launches_again_after_a_refused_lost_or_never_ready_launch() {
    for (name, rate, seed) in [
        ("nfcore-chipseq_local_execution_trace.txt", 0.3, 2),
        ("nfcore-sarek_slurm_trace_custom-fields.txt", 0.3, 18),
        ("nfcore-rnaseq_k8s_raw_trace.csv", 0.05, 17),
    ] {
        let reports =
            replay_under(name, FaultConfig::mixed(rate, seed), &[Strategy::SingleInstance]);
        assert_kept(name, &format!("{rate} seed {seed}"), &reports);
        let single = &reports[0];
        assert_eq!(single.tasks.cancelled, 0, "{name}: {:?}", single.tasks);
    }
}

/// At 90% nearly every call fails and nine launches in ten never become
/// ready; retries that never give up a start, stop or terminate the engine
/// still wants, and a terminate of an instance the provider never rented
/// taken as its end, carry every strategy to the end.
#[test]
fn every_strategy_finishes_at_90_percent() {
    let failures = sweep(SMALL, &[0.9], 1..=3);
    assert!(failures.is_empty(), "{} failed replays:\n{}", failures.len(), failures.join("\n"));
}

/// At 100% every launched instance never becomes ready, so no task can
/// run: the replay ends with every task CANCELLED by the watchdog and a
/// report, not with "replay stalled" (the CLI refuses `--faults 1` for this
/// reason, see `cli_faults.rs`).
#[test]
fn at_100_percent_the_replay_ends_with_every_task_cancelled() {
    let name = "nfcore-sarek_slurm_trace_custom-fields.txt";
    let reports = replay_under(name, FaultConfig::mixed(1.0, 1), &EVERY_STRATEGY);
    assert_kept(name, "mixed 1.0", &reports);
    for r in &reports {
        assert_eq!(r.tasks.cancelled, r.tasks.total, "{}: {:?}", r.name, r.tasks);
        assert_eq!(r.abandoned, r.tasks.total, "{}", r.name);
    }
}
