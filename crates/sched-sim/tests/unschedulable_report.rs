//! A task no allowed offering can hold reaches the table and the JSON report
//! by its trace name, with the resource, how much it needs and the largest
//! that fits; the binary then exits with code 3.

use std::process::Command;

const TRACE: &str = "\
task_id\tname\tstatus\texit\tsubmit\trealtime\t%cpu\tpeak_rss\tcpus\tmemory
1\tALIGN (s1)\tCOMPLETED\t0\t2024-01-01 00:00:00.000\t10m\t100.0%\t1 GB\t1\t2 GB
2\tASSEMBLE (huge)\tCOMPLETED\t0\t2024-01-01 00:00:10.000\t10m\t100.0%\t1 GB\t1\t64 GB
";

fn replay(trace: &std::path::Path, format: &str) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_sched-sim"))
        .args(["replay", "--instance-types", "m6i.large,m6i.xlarge", "--format", format])
        .arg(trace)
        .output()
        .expect("the binary runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    (output.status.code(), text(&output.stdout), text(&output.stderr))
}

#[test]
fn an_unschedulable_task_is_named_with_an_actionable_reason_and_fails_the_run() {
    let dir = std::env::temp_dir().join(format!("sched-sim-unsched-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("trace.txt");
    std::fs::write(&trace, TRACE).unwrap();

    let (code, table, stderr) = replay(&trace, "table");
    assert_eq!(code, Some(sched_sim::cli::EXIT_UNSCHEDULABLE.into()), "{stderr}");
    assert!(table.contains("UNSCHEDULABLE: 1 task(s)"), "{table}");
    assert!(
        table.contains(
            "ASSEMBLE (huge): needs 1000 millicpus and 65536 MiB; no allowed offering has \
             enough memory: the most is "
        ),
        "{table}"
    );
    assert!(table.contains("MiB (m6i.xlarge); the closest, m6i.xlarge"), "{table}");

    let (code, json, _) = replay(&trace, "json");
    assert_eq!(code, Some(3));
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    for strategy in report["strategies"].as_array().unwrap() {
        let list = strategy["unschedulable"].as_array().unwrap();
        if strategy["name"].as_str().unwrap().contains("rightsized") {
            // The task used 1 GB of its 64 GB: right-sized, it fits.
            assert!(list.is_empty(), "{}", strategy["name"]);
            assert_eq!(strategy["tasks"]["succeeded"], 2);
            continue;
        }
        assert_eq!(list.len(), 1, "{}", strategy["name"]);
        let task = &list[0];
        assert_eq!(task["task"], "ASSEMBLE (huge)");
        assert_eq!(task["resource"], "memory");
        assert_eq!(task["needs"], 65536);
        assert_eq!(task["largest_offering"], "m6i.xlarge");
        assert!(task["largest_has"].as_u64().unwrap() < 65536);
        let short = task["short"].as_array().unwrap();
        assert_eq!(short.len(), 1, "{short:?}");
        assert_eq!(short[0]["dimension"], "memory");
        assert_eq!(short[0]["most_on"], "m6i.xlarge");
        assert_eq!(strategy["tasks"]["succeeded"], 1);
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Regression: with `c6g.medium` and `t3.nano` allowed, a task of 2 cpus
/// and 12 GiB was said to need more cpu than the largest offering has,
/// though `t3.nano` has 2 cpus; memory is what no allowed offering has.
#[test]
fn the_reason_names_the_resource_no_allowed_offering_has() {
    let dir = std::env::temp_dir().join(format!("sched-sim-unsched-mix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("trace.txt");
    std::fs::write(
        &trace,
        "task_id\tname\tstatus\texit\trealtime\tcpus\tmemory\n\
         1\tCUSTOM_GETCHROMSIZES (g)\tCOMPLETED\t0\t10s\t2\t12 GB\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sched-sim"))
        .args(["replay", "--draws", "0", "--instance-types", "c6g.medium,t3.nano"])
        .arg(&trace)
        .output()
        .expect("the binary runs");
    let table = String::from_utf8_lossy(&output.stdout);
    let line = table.lines().find(|l| l.contains("CUSTOM_GETCHROMSIZES")).expect("listed");
    assert!(line.contains("no allowed offering has enough memory"), "{line}");
    assert!(!line.contains("enough cpu"), "{line}");
    std::fs::remove_dir_all(&dir).ok();
}
