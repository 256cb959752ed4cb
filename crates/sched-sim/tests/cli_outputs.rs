//! The `predict`, `sweep` and `replay --out` commands on the bundled data.

use clap::Parser;
use sched_sim::cli::{run, Cli};

fn cli(args: &[&str]) -> String {
    let mut all = vec!["sched-sim"];
    all.extend_from_slice(args);
    run(Cli::parse_from(all)).unwrap()
}

#[test]
fn predict_prints_the_documented_json_keys() {
    let out = cli(&["predict", "--format", "json", "--draws", "3", "--provisioning", "spot"]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let point = json["predicted_cost_usd"].as_f64().unwrap();
    let interval = json["interval_usd"].as_array().unwrap();
    assert_eq!(interval.len(), 2);
    let (low, high) = (interval[0].as_f64().unwrap(), interval[1].as_f64().unwrap());
    assert!(low <= point && point <= high && low > 0.0);
    assert_eq!(json["confidence"].as_f64(), Some(0.9));
}

#[test]
fn sweep_tabulates_every_policy_and_seed() {
    let out = cli(&[
        "sweep",
        "--csv",
        "--seeds",
        "2",
        "--provisionings",
        "spot-first,on-demand",
        "--strategies",
        "greedy,greedy-rightsized",
    ]);
    let mut lines = out.lines();
    assert!(lines.next().unwrap().starts_with("provisioning,strategy,seed,cost_usd"));
    assert_eq!(lines.count(), 2 * 2 * 2);
}

#[test]
fn replay_out_writes_report_csv_and_pictures() {
    let dir = std::env::temp_dir().join(format!("sched-sim-out-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let table = cli(&["replay", "--draws", "2", "--out", dir.to_str().unwrap()]);
    assert!(table.contains("predicted greedy: $"), "{table}");
    assert!(table.contains("greedy-rightsized-guarded"));

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let predicted = &report["prediction"];
    assert!(predicted["predicted_cost_usd"].as_f64().unwrap() > 0.0);
    assert!(predicted["simulated_cost_usd"].as_f64().unwrap() > 0.0);
    assert!(predicted["error_pct"].is_number());
    assert_eq!(report["rightsizing"]["history"]["kind"], "hold-out");

    let csv = std::fs::read_to_string(dir.join("tasks.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    for column in [
        "requested_cpus",
        "allocated_memory_mib",
        "used_cores",
        "instance_type",
        "capacity_type",
        "cost_share_usd",
        "status_history",
    ] {
        assert!(header.contains(column), "{column} missing from {header}");
    }
    // 1308 tasks under each of the five strategies, plus any OOM retries.
    assert!(csv.lines().count() > 5 * 1308);
    for picture in [
        "cost.svg",
        "instances-greedy.svg",
        "utilization-greedy-rightsized-guarded.svg",
        "requested-vs-used-cpu.svg",
        "requested-vs-used-memory.svg",
    ] {
        let svg = std::fs::read_to_string(dir.join(picture)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("</svg>"), "{picture}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn replay_learns_from_named_history() {
    let history =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/traces/nfcore-rnaseq_k8s_raw_trace.csv");
    let out = cli(&["replay", "--history", history, "--draws", "0", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["rightsizing"]["history"]["kind"], "traces");
    assert_eq!(report["rightsizing"]["samples"], 1308);
    assert!(report["prediction"].is_null());
    let names: Vec<_> =
        report["strategies"].as_array().unwrap().iter().map(|s| s["name"].clone()).collect();
    assert!(names.contains(&"greedy-rightsized-guarded".into()));
}
