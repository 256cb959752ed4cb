//! `sched-sim replay --faults RATE` through the binary: the JSON report's
//! fault figures, the exit code of a clean outcome, and a bad rate refused.

use std::process::Command;

fn sched_sim(args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_sched-sim"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .expect("the binary runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    (output.status.code(), text(&output.stdout), text(&output.stderr))
}

#[test]
fn a_faulty_replay_reports_its_figures_and_loses_nothing() {
    let trace = "data/traces/nfcore-chipseq_local_execution_trace.txt";
    let (code, json, stderr) =
        sched_sim(&["replay", trace, "--faults", "0.3", "--seed", "7", "--format", "json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let strategies = report["strategies"].as_array().unwrap();
    assert!(!strategies.is_empty());
    for strategy in strategies {
        let name = &strategy["name"];
        let faults = &strategy["faults"];
        assert!(faults["injected"].as_u64().unwrap() > 0, "{name}: {faults}");
        for key in ["tasks_lost", "duplicate_starts", "instances_leaked"] {
            assert_eq!(faults[key].as_u64(), Some(0), "{name}: {key} in {faults}");
        }
        assert!(faults["clean_cost_usd"].as_f64().unwrap() > 0.0, "{name}: {faults}");
    }
    assert_eq!(report["policy"]["faults"].as_f64(), Some(0.3));
}

#[test]
fn a_clean_replay_has_no_fault_figures() {
    let trace = "data/traces/nfcore-sarek_slurm_trace_custom-fields.txt";
    let (code, json, stderr) = sched_sim(&["replay", trace, "--format", "json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    for strategy in report["strategies"].as_array().unwrap() {
        assert!(strategy.get("faults").is_none(), "{}", strategy["name"]);
    }
}

#[test]
fn a_rate_outside_zero_to_one_is_refused_by_name() {
    let (code, stdout, stderr) = sched_sim(&["replay", "--faults=1.5"]);
    assert_eq!(code, Some(1));
    assert!(stdout.is_empty());
    assert!(stderr.contains("--faults 1.5"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// At 1 every launched instance never becomes ready: no task could run,
/// so the rate is refused with that reason instead of a replay that cannot
/// end.
#[test]
fn a_rate_of_one_is_refused_with_the_reason() {
    let (code, stdout, stderr) = sched_sim(&["replay", "--faults", "1"]);
    assert_eq!(code, Some(1));
    assert!(stdout.is_empty());
    assert!(stderr.contains("--faults 1: must be below 1"), "{stderr}");
    assert!(stderr.contains("no task could ever run"), "{stderr}");
}
