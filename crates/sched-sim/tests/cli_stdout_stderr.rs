//! What the binary writes and how it exits: a closed stdout or stderr ends
//! it quietly, log lines carry no colour in a pipe and repeats are summed
//! up, a run whose tasks were cancelled says so and exits 5, and an error's
//! cause is printed once.

use std::io::Read;
use std::process::{Command, Stdio};

fn sched_sim(args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_sched-sim"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .output()
        .expect("the binary runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    (output.status.code(), text(&output.stdout), text(&output.stderr))
}

const SAREK: &str = "data/traces/nfcore-sarek_slurm_trace_custom-fields.txt";
const CHIPSEQ: &str = "data/traces/nfcore-chipseq_local_execution_trace.txt";

/// Regression: `replay ... | head -1` panicked with "failed printing to
/// stdout: Broken pipe" and exit code 101.
#[test]
fn a_closed_stdout_ends_the_output_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sched-sim"))
        .args(["replay", "--draws", "0", SAREK])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    // The reader goes away before the report is written.
    drop(child.stdout.take());
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{stderr}");
}

/// Regression: `replay --faults 0.3 ... 2>&1 | head -1` exited 101: the
/// warnings and the summary of repeated ones were written with
/// `eprintln!`, which panics once the reader of stderr has gone away.
#[test]
fn a_closed_stderr_ends_the_log_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sched-sim"))
        .args(["replay", "--draws", "0", "--faults", "0.3", CHIPSEQ])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    // The reader of stderr goes away before the first warning.
    drop(child.stderr.take());
    let mut table = String::new();
    child.stdout.take().unwrap().read_to_string(&mut table).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{table}");
    assert!(table.lines().any(|l| l.starts_with("greedy ")), "{table}");
}

/// Regression: WARN lines carried colour codes into files and pipes, and a
/// replay under faults wrote thousands of them.
#[test]
fn log_lines_have_no_colour_in_a_pipe_and_repeats_are_summed_up() {
    let (code, _, stderr) = sched_sim(&["replay", "--draws", "0", "--faults", "0.3", CHIPSEQ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "colour codes in a pipe: {stderr}");
    let lines = stderr.lines().count();
    assert!(lines <= 25, "{lines} lines:\n{stderr}");
    assert!(stderr.contains("repeated log line(s) not shown"), "{stderr}");
}

/// Regression: every task CANCELLED (a spot run with no spot capacity all
/// day) exited 0; it exits 5 and says so under the table.
#[test]
fn a_run_whose_tasks_were_cancelled_says_so_and_exits_5() {
    let args = ["replay", "--draws", "0", "--provisioning", "spot", "--spot-unavailable", "all"];
    let (code, table, stderr) = sched_sim(&[&args[..], &[SAREK]].concat());
    assert_eq!(code, Some(sched_sim::cli::EXIT_TASKS_INCOMPLETE.into()), "{stderr}");
    assert!(table.contains("INCOMPLETE: tasks the replay did not carry"), "{table}");
    assert!(table.contains("9 CANCELLED (no task started or ended for a day"), "{table}");
    let header = table.lines().find(|l| l.starts_with("strategy")).unwrap();
    assert!(header.ends_with("cancel"), "{header}");
    let greedy = table.lines().find(|l| l.starts_with("greedy ")).unwrap();
    assert!(greedy.ends_with(" 9"), "{greedy}");
    // Four lines at most on stderr: the first of each warning and the counts.
    assert!(stderr.lines().count() <= 6, "{stderr}");
}

/// Regression: a missing file printed the OS error twice, once in the
/// message and once as its cause.
#[test]
fn a_missing_file_prints_its_cause_once() {
    let (code, _, stderr) = sched_sim(&["replay", "--catalog", "no/such/catalog.csv"]);
    assert_eq!(code, Some(1));
    assert_eq!(stderr.matches("No such file").count(), 1, "{stderr}");
}

/// Regression: negative numbers after an option were "unexpected
/// arguments", and a huge one was printed with all its digits.
#[test]
fn out_of_range_numbers_get_their_range_message() {
    for (args, expected) in [
        (&["replay", "--faults", "-1"][..], "--faults -1: must be a fraction between 0 and 1"),
        (&["replay", "--boot-seconds", "-1"], "--boot-seconds -1: must be between 0 and 86400"),
        (&["replay", "--boot-seconds", "1e308"], "--boot-seconds 1e308: must be between"),
        (&["replay", "--seed", "-1"], "must be a whole number, 0 or more"),
        (
            &["replay", "--min-billing-seconds", "18446744073709551615"],
            "must be between 0 and 86400",
        ),
    ] {
        let (code, _, stderr) = sched_sim(args);
        assert!(matches!(code, Some(1 | 2)), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("unexpected argument"), "{args:?}: {stderr}");
    }
}

/// Regression: `--spot-unavailable` took a type the catalog does not have,
/// and an empty one got the message of `--instance-types`.
#[test]
fn spot_unavailable_is_checked_against_the_catalog_by_name() {
    let (code, _, stderr) = sched_sim(&["replay", "--spot-unavailable", "zz9.plural", SAREK]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("--spot-unavailable: `zz9.plural` matches no instance type"),
        "{stderr}"
    );
    let (code, _, stderr) = sched_sim(&["replay", "--spot-unavailable", "", SAREK]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("--spot-unavailable"), "{stderr}");
    assert!(!stderr.contains("allow-list") && !stderr.contains("instance-types"), "{stderr}");
}

/// Regression: a trace of CACHED rows only (nothing to replay) printed
/// costs of `-0.0000` and `NaN` against the bound.
#[test]
fn an_empty_run_prints_zeros_and_no_ratio() {
    let dir = std::env::temp_dir().join(format!("sched-sim-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("cached.txt");
    std::fs::write(&trace, "name\tstatus\trealtime\nP (a)\tCACHED\t1s\nP (b)\tCACHED\t2s\n")
        .unwrap();
    let (code, table, stderr) = sched_sim(&["replay", "--draws", "0", trace.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!table.contains("-0.0") && !table.contains("NaN"), "{table}");
    let greedy = table.lines().find(|l| l.starts_with("greedy ")).unwrap();
    assert!(greedy.contains("0.0000      n/a"), "{greedy}");
    let (_, json, _) =
        sched_sim(&["replay", "--draws", "0", "--format", "json", trace.to_str().unwrap()]);
    assert!(!json.contains("-0.0"), "{json}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Regression: two traces given to `sweep` were refused by a `--trace`
/// option that does not exist.
#[test]
fn sweep_of_two_traces_says_it_takes_one() {
    let (code, _, stderr) = sched_sim(&["sweep", SAREK, CHIPSEQ]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("sweep takes one trace; 2 were given"), "{stderr}");
    assert!(!stderr.contains("--trace"), "{stderr}");
}

/// Regression: under `--interruption-scale 1e300` every spot instance is
/// reclaimed before it boots, and the replay never ended (spot was launched
/// again for ever). Those reclaims now count as refusals for capacity, so
/// the tasks go on demand and every one succeeds.
#[test]
fn a_reclaim_storm_during_boots_ends_on_demand() {
    let (code, table, stderr) =
        sched_sim(&["replay", "--interruption-scale", "1e300", "--draws", "0", SAREK]);
    assert_eq!(code, Some(0), "{stderr}");
    let greedy = table.lines().find(|l| l.starts_with("greedy ")).expect("a greedy row");
    let fields: Vec<&str> = greedy.split_whitespace().collect();
    // ok, fail, unsch, cancel: the last four columns.
    assert_eq!(fields[fields.len() - 4..], ["9", "0", "0", "0"], "{greedy}");
    assert!(table.contains("on demand 100.0% of cost"), "{table}");
}
