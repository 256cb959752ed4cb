//! A replay small enough to check by hand, strategy by strategy.
//!
//! Catalog: `a.large` (2 cpus, 8 GiB, $0.10/h) and `b.xlarge` (4 cpus,
//! 16 GiB, $0.18/h), on demand only, no overhead. Trace: at t=0, tasks 1 and 2
//! (2 cpus, 4 GiB, 600 s) and task 3 (1 cpu, 2 GiB, 300 s). Boot 60 s, idle
//! release 60 s, billing per second with a 60 s minimum; the greedy engine
//! holds launches for its 1 s batch window.

use sched_core::catalog::{Catalog, OverheadModel};
use sched_core::policy::Policy;
use sched_core::time::Millis;
use sched_sim::cloud::CloudConfig;
use sched_sim::replay::{replay, ReplayOptions};
use sched_sim::strategy::Strategy;
use sched_sim::trace::parse_trace;
use sched_sim::workload::Workload;

const CATALOG: &str = "\
instance_type,family,vcpus,memory_gib,arch,gpus,ondemand_usd_hour,spot_usd_hour,interruption_bucket,region
a.large,a,2,8.0,amd64,0,0.10,,,us-east-1
b.xlarge,b,4,16.0,amd64,0,0.18,,,us-east-1
";

const TRACE: &str = "\
task_id\tname\tstatus\texit\tsubmit\trealtime\t%cpu\tpeak_rss\tcpus\tmemory
1\tALIGN (s1)\tCOMPLETED\t0\t2024-01-01 00:00:00.000\t10m\t200.0%\t2 GB\t2\t4 GB
2\tALIGN (s2)\tCOMPLETED\t0\t2024-01-01 00:00:00.000\t10m\t100.0%\t1 GB\t2\t4 GB
3\tQC (s1)\tCOMPLETED\t0\t2024-01-01 00:00:00.000\t5m\t100.0%\t1 GB\t1\t2 GB
";

fn setup() -> (Workload, Catalog, ReplayOptions) {
    let catalog = Catalog::from_csv_reader(CATALOG.as_bytes(), "inline catalog").unwrap();
    let trace = parse_trace(TRACE.as_bytes(), "inline trace").unwrap();
    let mut policy = Policy::default();
    policy.overhead = OverheadModel::NONE;
    policy.idle_release_s = 60;
    let cloud = CloudConfig { boot: Millis::from_secs(60), min_billing_s: 60 };
    (Workload::from_trace(&trace), catalog, ReplayOptions::new(policy, cloud))
}

fn assert_close(actual: f64, expected: f64, what: &str) {
    assert!((actual - expected).abs() < 1e-9, "{what}: {actual} != {expected}");
}

#[test]
fn greedy_packs_the_pair_and_gives_the_small_task_a_small_instance() {
    let (workload, catalog, options) = setup();
    let report = replay(&workload, &catalog, Strategy::Greedy, &options).unwrap();
    // Launches wait for the 1 s batch window. b.xlarge holds tasks 1 and 2:
    // 1..661 s (released when the run ends). a.large holds task 3: it ends at
    // 361 s and the instance is released idle at 421 s.
    assert_close(report.cost_usd, 660.0 * 0.18 / 3600.0 + 420.0 * 0.10 / 3600.0, "greedy cost");
    assert_eq!(report.instances_launched, 2);
    assert_close(report.makespan_s, 661.0, "makespan");
    assert_close(report.mean_queue_s, 61.0, "queue");
    assert_eq!(report.tasks.succeeded, 3);
    // Lower bound: cpu is dominant everywhere, cheapest at $0.045 per cpu-hour.
    assert_close(
        report.lower_bound_usd,
        2.0 * 0.09 * 600.0 / 3600.0 + 0.045 * 300.0 / 3600.0,
        "bound",
    );
    // Used cpu: 2x600 + 1x600 + 1x300 = 2100 cpu-s; paid 4x660 + 2x420 = 3480 cpu-s.
    assert_close(report.cpu_utilization, 2100.0 / 3480.0, "cpu utilization");
}

#[test]
fn per_task_rents_one_instance_each() {
    let (workload, catalog, options) = setup();
    let report = replay(&workload, &catalog, Strategy::PerTask, &options).unwrap();
    assert_close(report.cost_usd, (660.0 + 660.0 + 360.0) * 0.10 / 3600.0, "per-task cost");
    assert_eq!(report.instances_launched, 3);
}

#[test]
fn single_instance_queues_tasks_on_one_machine() {
    let (workload, catalog, options) = setup();
    let report = replay(&workload, &catalog, Strategy::SingleInstance, &options).unwrap();
    // a.large holds the largest task; 1 runs 60..660, 2 runs 660..1260, 3 runs 1260..1560.
    assert_close(report.cost_usd, 1560.0 * 0.10 / 3600.0, "single-instance cost");
    assert_eq!(report.instances_launched, 1);
    assert_close(report.makespan_s, 1560.0, "makespan");
    assert_close(report.mean_queue_s, (60.0 + 660.0 + 1260.0) / 3.0, "queue");
}

/// Regression: the recorded usage of a task that never ran (here one no
/// offering can hold) used to count as used, pushing utilization above 1.
#[test]
fn usage_of_tasks_that_never_ran_is_not_counted() {
    let trace = "\
task_id\tname\tstatus\texit\tsubmit\trealtime\t%cpu\tpeak_rss\tcpus\tmemory
1\tSMALL (a)\tCOMPLETED\t0\t2024-01-01 00:00:00.000\t10m\t100.0%\t1 GB\t1\t2 GB
2\tHUGE (b)\tCOMPLETED\t0\t2024-01-01 00:00:00.000\t10h\t6400.0%\t900 GB\t64\t1000 GB
";
    let (_, catalog, options) = setup();
    let workload = Workload::from_trace(&parse_trace(trace.as_bytes(), "inline").unwrap());
    let report = replay(&workload, &catalog, Strategy::Greedy, &options).unwrap();
    assert_eq!(report.tasks.unschedulable, 1);
    assert_eq!(report.tasks.succeeded, 1);
    assert!(report.cpu_utilization <= 1.0, "cpu utilization {}", report.cpu_utilization);
    assert_close(report.resources.used.cpu_s, 600.0, "used cpu-seconds of the task that ran");
}
