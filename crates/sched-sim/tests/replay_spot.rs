//! Spot in replay: reclaims, shortages, and their figures in the report.
//!
//! Catalog: `a.large` (2 cpus, 8 GiB, $0.10/h, spot $0.03/h, bucket 4) and
//! `b.xlarge` (4 cpus, 16 GiB, $0.18/h, spot $0.06/h, bucket 0), no overhead.
//! Trace: eight tasks of two processes, arriving over four minutes.

use sched_core::catalog::{Catalog, OverheadModel};
use sched_core::policy::{Policy, ProvisioningModel};
use sched_core::time::Millis;
use sched_sim::cloud::{CloudConfig, SpotMarket, SpotOutage};
use sched_sim::replay::{replay, ReplayOptions, StrategyReport};
use sched_sim::strategy::Strategy;
use sched_sim::trace::parse_trace;
use sched_sim::workload::Workload;

const CATALOG: &str = "\
instance_type,family,vcpus,memory_gib,arch,gpus,ondemand_usd_hour,spot_usd_hour,interruption_bucket,region
a.large,a,2,8.0,amd64,0,0.10,0.03,4,us-east-1
b.xlarge,b,4,16.0,amd64,0,0.18,0.06,0,us-east-1
";

const TRACE: &str = "\
task_id\tname\tstatus\texit\tsubmit\trealtime\t%cpu\tpeak_rss\tcpus\tmemory
1\tALIGN (s1)\tCOMPLETED\t0\t2024-01-01 00:00:00.000\t20m\t190.0%\t3 GB\t2\t4 GB
2\tALIGN (s2)\tCOMPLETED\t0\t2024-01-01 00:00:00.000\t22m\t180.0%\t3 GB\t2\t4 GB
3\tALIGN (s3)\tCOMPLETED\t0\t2024-01-01 00:01:00.000\t18m\t150.0%\t3 GB\t2\t4 GB
4\tALIGN (s4)\tCOMPLETED\t0\t2024-01-01 00:02:00.000\t25m\t199.0%\t3 GB\t2\t4 GB
5\tQC (s1)\tCOMPLETED\t0\t2024-01-01 00:00:00.000\t5m\t20.0%\t400 MB\t1\t2 GB
6\tQC (s2)\tCOMPLETED\t0\t2024-01-01 00:02:00.000\t6m\t25.0%\t400 MB\t1\t2 GB
7\tQC (s3)\tCOMPLETED\t0\t2024-01-01 00:03:00.000\t4m\t30.0%\t400 MB\t1\t2 GB
8\tQC (s4)\tCOMPLETED\t0\t2024-01-01 00:04:00.000\t5m\t10.0%\t400 MB\t1\t2 GB
";

fn setup(provisioning: ProvisioningModel, spot: SpotMarket) -> (Workload, Catalog, ReplayOptions) {
    let catalog = Catalog::from_csv_reader(CATALOG.as_bytes(), "inline catalog").unwrap();
    let trace = parse_trace(TRACE.as_bytes(), "inline trace").unwrap();
    let mut policy = Policy::default();
    policy.overhead = OverheadModel::NONE;
    policy.provisioning = provisioning;
    let mut options = ReplayOptions::new(policy, CloudConfig::default());
    options.spot = spot;
    (Workload::from_trace(&trace), catalog, options)
}

fn run(provisioning: ProvisioningModel, spot: SpotMarket, strategy: Strategy) -> StrategyReport {
    let (workload, catalog, options) = setup(provisioning, spot);
    replay(&workload, &catalog, strategy, &options).unwrap()
}

fn terminal(r: &StrategyReport) -> usize {
    r.tasks.succeeded + r.tasks.failed + r.tasks.unschedulable + r.tasks.cancelled
}

fn reclaim_everything() -> SpotMarket {
    SpotMarket { reclaim_after_ready: Some(Millis::from_secs(180)), ..SpotMarket::default() }
}

#[test]
fn with_every_spot_instance_reclaimed_every_task_still_ends() {
    for strategy in [Strategy::Greedy, Strategy::PerTask] {
        let first = run(ProvisioningModel::SpotFirst, reclaim_everything(), strategy);

        assert_eq!(terminal(&first), 8, "{strategy}: {:?}", first.tasks);
        // Two spot attempts are reclaimed; the last goes on demand and succeeds.
        assert_eq!(first.tasks.succeeded, 8, "{strategy}: {:?}", first.tasks);
        assert!(first.spot.preemptions >= 8, "{strategy}: {:?}", first.spot);
        assert_eq!(first.spot.retries, first.spot.preemptions);
        assert!(first.spot.lost_work_usd > 0.0);
        assert!(first.spot.on_demand_cost_share > 0.0 && first.spot.on_demand_cost_share < 1.0);

        let only = run(ProvisioningModel::Spot, reclaim_everything(), strategy);
        assert_eq!(terminal(&only), 8, "{strategy}: {:?}", only.tasks);

        // Spot only, every attempt reclaimed: FAILED after three starts each.
        assert_eq!(only.tasks.failed, 8);
        assert_eq!(only.spot.failed_after_retries, 8);
        assert_eq!(only.spot.preemptions, 8 * 3);
        assert_eq!(only.spot.retries, 8 * 2);
        assert_eq!(only.spot.reclaimed_instances, only.instances_launched);
        assert_eq!(only.spot.on_demand_cost_share, 0.0);
    }
}

#[test]
fn spot_first_under_total_shortage_costs_what_on_demand_costs() {
    let shortage = SpotMarket { outages: vec![SpotOutage::total()], ..SpotMarket::default() };
    for strategy in [Strategy::Greedy, Strategy::PerTask] {
        let first = run(ProvisioningModel::SpotFirst, shortage.clone(), strategy);
        let on_demand = run(ProvisioningModel::OnDemand, SpotMarket::default(), strategy);
        assert_eq!(first.tasks.succeeded, 8, "{strategy}: never fails for lack of spot");
        assert_eq!(first.spot.on_demand_cost_share, 1.0);
        let ratio = first.cost_usd / on_demand.cost_usd;
        assert!(
            (0.95..=1.05).contains(&ratio),
            "{strategy}: spotFirst ${:.4} vs ondemand ${:.4}",
            first.cost_usd,
            on_demand.cost_usd
        );
    }
}

#[test]
fn spot_under_a_shortage_waits_and_runs_when_capacity_returns() {
    let hour = Millis::from_secs(3600);
    let window = SpotOutage { until: Some(hour), ..SpotOutage::total() };
    let market = SpotMarket { outages: vec![window], ..SpotMarket::calm() };
    let report = run(ProvisioningModel::Spot, market, Strategy::Greedy);
    assert_eq!(report.tasks.succeeded, 8, "{:?}", report.tasks);
    // Nothing could start before the shortage ended.
    assert!(report.mean_queue_s >= 3600.0 - 4.0 * 60.0, "queue {}", report.mean_queue_s);
    assert_eq!(report.abandoned, 0);
}

#[test]
fn spot_under_a_lasting_shortage_leaves_tasks_waiting_not_lost() {
    let market = SpotMarket { outages: vec![SpotOutage::total()], ..SpotMarket::calm() };
    let report = run(ProvisioningModel::Spot, market, Strategy::Greedy);
    // The replay gives up after a day of waiting and cancels them: every
    // task is accounted for, none FAILED for lack of spot, nothing was paid.
    assert_eq!(report.abandoned, 8);
    assert_eq!(report.tasks.cancelled, 8);
    assert_eq!(report.tasks.failed, 0);
    assert_eq!(report.cost_usd, 0.0);
}

#[test]
fn reclaims_are_reproducible_from_the_seed() {
    let stressed = |seed| SpotMarket { seed, interruption_scale: 2_000.0, ..SpotMarket::default() };
    let a = run(ProvisioningModel::SpotFirst, stressed(7), Strategy::PerTask);
    let b = run(ProvisioningModel::SpotFirst, stressed(7), Strategy::PerTask);
    assert_eq!(a, b);
    assert!(a.spot.preemptions > 0, "{:?}", a.spot);
    assert_eq!(terminal(&a), 8);
}

#[test]
fn processes_roll_up_requested_allocated_and_used() {
    let report = run(ProvisioningModel::OnDemand, SpotMarket::calm(), Strategy::Greedy);
    let names: Vec<&str> = report.processes.iter().map(|p| p.process.as_str()).collect();
    assert_eq!(names, ["ALIGN", "QC"]);
    let qc = &report.processes[1];
    assert_eq!(qc.tasks, 4);
    // QC asks for a cpu and 2 GB and uses a fifth of the cpu, 1 GB: ask for less.
    assert_eq!(qc.reading.words(), "could ask for less");
    let align = &report.processes[0];
    assert_eq!(align.reading.words(), "uses near its allocation");
    let json = serde_json::to_value(&report).unwrap();
    for key in
        ["preemptions", "retries", "failed_after_retries", "lost_work_usd", "on_demand_cost_share"]
    {
        assert!(json.get(key).is_some(), "{key} missing");
    }
    assert!(json["resources"]["requested"]["cpu_s"].as_f64().unwrap() > 0.0);
}
