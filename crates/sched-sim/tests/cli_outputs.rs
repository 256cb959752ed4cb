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

/// Regression: `sweep` ignored `--out`, `--faults` and `--solver`, and
/// `--strategies greedy,greedy` counted every seed twice.
#[test]
fn sweep_writes_its_rows_honours_faults_and_solver_and_counts_a_strategy_once() {
    let dir = std::env::temp_dir().join(format!("sched-sim-sweep-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let sarek = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/traces/nfcore-sarek_slurm_trace_custom-fields.txt"
    );
    let out = cli(&[
        "sweep",
        "--format",
        "json",
        "--seeds",
        "2",
        "--provisionings",
        "spot-first,spot-first",
        "--strategies",
        "greedy,greedy",
        "--solver",
        "auto",
        "--faults",
        "0.2",
        "--out",
        dir.to_str().unwrap(),
        sarek,
    ]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = json["rows"].as_array().unwrap();
    // greedy and auto, two seeds, one provisioning.
    assert_eq!(rows.len(), 2 * 2, "{rows:?}");
    let strategies: Vec<&str> = rows.iter().map(|r| r["strategy"].as_str().unwrap()).collect();
    assert_eq!(strategies.iter().filter(|s| **s == "auto").count(), 2, "{strategies:?}");
    for row in rows {
        assert!(row["faults_injected"].as_u64().unwrap() > 0, "{row}");
        assert_eq!(row["fault_breaches"], 0, "{row}");
    }
    let csv = std::fs::read_to_string(dir.join("sweep.csv")).unwrap();
    assert!(csv.starts_with("provisioning,strategy,seed,cost_usd"), "{csv}");
    assert_eq!(csv.lines().count(), 1 + 4);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(saved["summary"].as_array().unwrap().len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Regression: `predict` ignored `--solver`, ran one draw for `--draws 0`,
/// and named the seeds `1..17` for sixteen draws.
#[test]
fn predict_honours_solver_refuses_no_draws_and_names_its_seeds() {
    let sarek = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/traces/nfcore-sarek_slurm_trace_custom-fields.txt"
    );
    let out = cli(&["predict", "--solver", "auto", "--draws", "3", "--format", "json", sarek]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["strategy"], "auto");
    let table = cli(&["predict", "--draws", "16", sarek]);
    assert!(table.contains("(seeds 1 to 16)"), "{table}");
    let refused =
        sched_sim::cli::run(Cli::parse_from(["sched-sim", "predict", "--draws", "0", sarek]));
    assert!(refused.unwrap_err().to_string().contains("--draws 0"));
}

/// Regression: naming the same history twice (even by another path)
/// doubled its samples.
#[test]
fn naming_a_history_twice_counts_it_once() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/traces/");
    let sarek = format!("{dir}nfcore-sarek_slurm_trace_custom-fields.txt");
    let again = format!("{dir}../traces/nfcore-sarek_slurm_trace_custom-fields.txt");
    let samples = |args: &[&str]| {
        let mut all = vec!["replay", "--draws", "0", "--format", "json"];
        all.extend_from_slice(args);
        all.push(&sarek);
        let report: serde_json::Value = serde_json::from_str(&cli(&all)).unwrap();
        report["rightsizing"]["samples"].as_u64().unwrap()
    };
    let once = samples(&["--history", &sarek]);
    assert!(once > 0);
    assert_eq!(samples(&["--history", &format!("{sarek},{again}"), "--history", &sarek]), once);
}
