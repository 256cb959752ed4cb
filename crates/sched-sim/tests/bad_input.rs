//! Every file of the bad-input corpus (`tests/bad_input/`) is refused with a
//! typed error naming the file, line, field and value, through the library
//! and through the `sched-sim` binary: a non-zero exit, the error printed
//! once, no panic and no backtrace.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use sched_core::catalog::Catalog;
use sched_sim::cli::{run_outcome, Cli};
use sched_sim::trace::read_trace;

fn corpus(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/bad_input").join(path)
}

fn small_trace() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/traces/nfcore-sarek_slurm_trace_custom-fields.txt")
        .display()
        .to_string()
}

/// Trace files and what their error must say, beyond the file name.
const TRACES: &[(&str, &[&str])] = &[
    ("empty.txt", &[":1:", "empty"]),
    ("header_only.txt", &[":1:", "no task rows"]),
    ("truncated_row.txt", &[":3:", "6 fields", "`submit`"]),
    ("too_many_fields.txt", &[":3:", "16 fields"]),
    ("unknown_unit.txt", &[":3:", "`peak_rss`", "`14.2 XB`"]),
    ("negative_duration.txt", &[":3:", "`realtime`", "`-5s`", "negative"]),
    ("overflowing_duration.txt", &[":3:", "`realtime`", "99999999999999999999h", "too large"]),
    ("negative_size.txt", &[":3:", "`peak_rss`", "`-3 MB`"]),
    ("overflowing_size.txt", &[":3:", "`peak_rss`", "too large"]),
    ("non_utf8.txt", &[":3:", "`name`", "UTF-8"]),
    ("duplicate_task_id.txt", &[":3:", "`task_id`", "5", "line 2"]),
    ("embedded_separator.txt", &[":3:", "15 fields"]),
    ("unknown_status.txt", &[":3:", "`status`", "`EXPLODED`"]),
    ("bad_percent.txt", &[":3:", "`%cpu`", "`85.2%%`"]),
];

/// Catalog files and what their error must say, beyond the file name.
const CATALOGS: &[(&str, &[&str])] = &[
    ("negative_price.csv", &["line 3", "`ondemand_usd_hour`", "`-0.192`"]),
    ("nan_price.csv", &["line 3", "`spot_usd_hour`", "`NaN`"]),
    ("absurd_price.csv", &["line 3", "`ondemand_usd_hour`", "`1e12`"]),
    ("zero_cpus.csv", &["line 3", "`vcpus`", "`0`"]),
    ("zero_memory.csv", &["line 3", "`memory_gib`", "`0`"]),
    ("duplicate_type.csv", &["line 3", "`instance_type`", "`m6i.large`", "line 2"]),
    ("unknown_arch.csv", &["line 3", "`arch`", "`sparc64`"]),
    ("wrong_field_count.csv", &["line 3", "3 fields"]),
    ("empty.csv", &["empty"]),
    ("header_only.csv", &["no instance type rows"]),
];

/// Policy argument files (one argument a line) and what their error must say.
const POLICIES: &[(&str, &[&str])] = &[
    ("unknown_instance_type.args", &["`zz9.plural`", "matches nothing"]),
    ("empty_allow_list.args", &["allow-list is empty"]),
    ("spot_first_never_tries_spot.args", &["--provisioning spot-first", "--max-spot-attempts 0"]),
    ("outage_without_spot.args", &["--provisioning on-demand", "--spot-unavailable all"]),
    ("zero_attempts.args", &["--max-attempts 0"]),
    ("faults_out_of_range.args", &["--faults 1.5"]),
];

fn policy_args(file: &str) -> Vec<String> {
    std::fs::read_to_string(corpus(&format!("policies/{file}")))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn assert_says(message: &str, fragments: &[&str], what: &str) {
    for fragment in fragments {
        assert!(message.contains(fragment), "{what}: `{message}` does not say `{fragment}`");
    }
}

/// Runs the binary; asserts exit 1, the error printed once, no panic.
fn binary_error(args: &[String], what: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_sched-sim"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(1), "{what}: exit code; stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{what}: panicked: {stderr}");
    assert!(!stderr.to_lowercase().contains("backtrace"), "{what}: backtrace: {stderr}");
    assert_eq!(stderr.matches("error: ").count(), 1, "{what}: printed once: {stderr}");
    assert!(output.stdout.is_empty(), "{what}: nothing on stdout");
    stderr
}

fn file_name(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn bad_traces_are_refused_by_the_library_naming_file_line_field_value() {
    for (file, fragments) in TRACES {
        let path = corpus(&format!("traces/{file}"));
        let error = read_trace(&path).expect_err(file).to_string();
        assert_says(&error, &[&file_name(&path)], file);
        assert_says(&error, fragments, file);
    }
}

#[test]
fn bad_catalogs_are_refused_by_the_library_naming_file_line_field_value() {
    for (file, fragments) in CATALOGS {
        let path = corpus(&format!("catalogs/{file}"));
        let error = Catalog::from_csv_path(&path).expect_err(file).to_string();
        assert_says(&error, &[&file_name(&path)], file);
        assert_says(&error, fragments, file);
    }
}

#[test]
fn bad_policies_are_refused_by_the_library() {
    for (file, fragments) in POLICIES {
        let mut args = vec!["sched-sim".to_string(), "replay".to_string(), small_trace()];
        args.extend(policy_args(file));
        let error = match Cli::try_parse_from(&args) {
            Ok(cli) => run_outcome(cli).expect_err(file).to_string(),
            Err(error) => error.to_string(),
        };
        assert_says(&error, fragments, file);
    }
}

#[test]
fn the_binary_prints_each_error_once_and_exits_non_zero_without_a_panic() {
    for (file, fragments) in TRACES {
        let path = file_name(&corpus(&format!("traces/{file}")));
        let stderr = binary_error(&["replay".into(), path.clone()], file);
        assert_says(&stderr, &[&path], file);
        assert_says(&stderr, fragments, file);
    }
    for (file, fragments) in CATALOGS {
        let path = file_name(&corpus(&format!("catalogs/{file}")));
        let args = ["replay".into(), "--catalog".into(), path.clone(), small_trace()];
        let stderr = binary_error(&args, file);
        assert_says(&stderr, &[&path], file);
        assert_says(&stderr, fragments, file);
    }
    for (file, fragments) in POLICIES {
        let mut args = vec!["replay".to_string(), small_trace()];
        args.extend(policy_args(file));
        let stderr = binary_error(&args, file);
        assert_says(&stderr, fragments, file);
    }
}
