//! The replay's watchdog cancels what is left only when nothing has
//! happened for a day: a task running, starting, ending or being preempted
//! is progress, and so is a boot longer than a day.

use sched_core::catalog::{Catalog, OverheadModel};
use sched_core::policy::{Policy, ProvisioningModel};
use sched_core::time::Millis;
use sched_sim::cloud::{CloudConfig, SpotMarket};
use sched_sim::replay::{replay, ReplayOptions, StrategyReport};
use sched_sim::strategy::Strategy;
use sched_sim::trace::parse_trace;
use sched_sim::workload::Workload;

const CATALOG: &str = "\
instance_type,family,vcpus,memory_gib,arch,gpus,ondemand_usd_hour,spot_usd_hour,interruption_bucket,region
a.large,a,2,8.0,amd64,0,0.10,0.03,4,us-east-1
";

/// One task that runs for 60 hours.
const TRACE: &str = "\
task_id\tname\tstatus\texit\tsubmit\trealtime\t%cpu\tpeak_rss\tcpus\tmemory
1\tLONG (s1)\tCOMPLETED\t0\t2024-01-01 00:00:00.000\t60h\t190.0%\t3 GB\t2\t4 GB
";

fn run(strategy: Strategy, spot: SpotMarket, cloud: CloudConfig) -> StrategyReport {
    let catalog = Catalog::from_csv_reader(CATALOG.as_bytes(), "inline catalog").unwrap();
    let trace = parse_trace(TRACE.as_bytes(), "inline trace").unwrap();
    let mut policy = Policy::default();
    policy.overhead = OverheadModel::NONE;
    policy.provisioning = ProvisioningModel::SpotFirst;
    let mut options = ReplayOptions::new(policy, cloud);
    options.spot = spot;
    replay(&Workload::from_trace(&trace), &catalog, strategy, &options).unwrap()
}

/// Regression: a task preempted after running more than a day was CANCELLED
/// a minute after it was submitted again, because the watchdog counted only
/// starts and ends as progress and the last start was over a day before.
#[test]
fn a_task_preempted_after_running_more_than_a_day_is_retried_not_cancelled() {
    // Every spot instance is reclaimed 30 hours after it is ready: the task
    // is preempted twice, then its last attempt runs on demand.
    let spot = SpotMarket {
        reclaim_after_ready: Some(Millis::from_secs(30 * 3600)),
        ..SpotMarket::default()
    };
    for strategy in [Strategy::Greedy, Strategy::PerTask] {
        let report = run(strategy, spot.clone(), CloudConfig::default());
        assert_eq!(report.tasks.cancelled, 0, "{strategy}: {:?}", report.tasks);
        assert_eq!(report.abandoned, 0, "{strategy}");
        assert_eq!(report.tasks.succeeded, 1, "{strategy}: {:?}", report.tasks);
        assert_eq!(report.spot.preemptions, 2, "{strategy}");
        // Two runs of 30 hours lost, then 60 hours on demand.
        assert!(report.makespan_s > 119.0 * 3600.0, "{strategy}: {}", report.makespan_s);
    }
}

/// A boot as long as the CLI allows (a day) is waited for: the watchdog's
/// patience is at least two boots.
#[test]
fn a_boot_of_a_day_is_waited_for_not_cancelled() {
    let cloud = CloudConfig { boot: Millis::from_secs(86_400), ..CloudConfig::default() };
    for strategy in [Strategy::Greedy, Strategy::PerTask, Strategy::SingleInstance] {
        let report = run(strategy, SpotMarket::calm(), cloud);
        assert_eq!(report.tasks.cancelled, 0, "{strategy}: {:?}", report.tasks);
        assert_eq!(report.tasks.succeeded, 1, "{strategy}: {:?}", report.tasks);
    }
}
