//! Laws of the trace reader: it never panics, and it reads back what Nextflow prints.

use proptest::prelude::*;
use sched_sim::trace::units::{parse_duration_ms, parse_size_bytes};
use sched_sim::trace::{parse_trace, request_of};

/// A duration printed the way Nextflow's trace prints one: `Nms` under a second, seconds with
/// one decimal under a minute, else whole `d h m s` components.
fn nextflow_duration(ms: u64) -> String {
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    if ms < 60_000 {
        let tenths = (ms + 50) / 100;
        return if tenths % 10 == 0 {
            format!("{}s", tenths / 10)
        } else {
            format!("{}.{}s", tenths / 10, tenths % 10)
        };
    }
    let secs = (ms + 500) / 1_000;
    let parts =
        [(secs / 86_400, "d"), (secs / 3_600 % 24, "h"), (secs / 60 % 60, "m"), (secs % 60, "s")];
    parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A size printed the way Nextflow prints memory: at most one decimal, units of 1024.
fn nextflow_size(bytes: u64) -> (String, u64) {
    if bytes == 0 {
        return ("0".to_owned(), 0);
    }
    let units = ["B", "KB", "MB", "GB", "TB", "PB", "EB"];
    let mut group = 0;
    while group + 1 < units.len() && bytes >= 1u64 << (10 * (group + 1)) {
        group += 1;
    }
    let unit_bytes = 1u128 << (10 * group);
    let tenths = (u128::from(bytes) * 10 + unit_bytes / 2) / unit_bytes;
    let text = if tenths % 10 == 0 {
        format!("{} {}", tenths / 10, units[group])
    } else {
        format!("{}.{} {}", tenths / 10, tenths % 10, units[group])
    };
    // Half of the last printed digit, in bytes, is how far the printed value can be off.
    (text, (unit_bytes / 20 + 1) as u64)
}

/// Field texts that look like trace values, good and bad, for random rows.
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("-".to_owned()),
        Just(String::new()),
        Just("COMPLETED".to_owned()),
        Just("CACHED".to_owned()),
        Just("FAILED".to_owned()),
        "[0-9]{1,25}",
        "[0-9]{1,4}\\.[0-9]{1,3}%?",
        "[0-9]{1,3}(\\.[0-9])? ?(B|KB|MB|GB|TB|ZB|XB)",
        "([0-9]{1,3}(ms|s|m|h|d) ?){1,4}",
        "-[0-9]{1,5}",
        "[a-zA-Z_:() ;,\"]{0,12}",
        "2021-02-17 17:03:2[0-9]\\.[0-9]{3}",
    ]
}

fn header() -> impl Strategy<Value = Vec<&'static str>> {
    let names = vec![
        "task_id",
        "hash",
        "process",
        "tag",
        "name",
        "status",
        "exit",
        "cpus",
        "memory",
        "time",
        "attempt",
        "submit",
        "start",
        "duration",
        "realtime",
        "%cpu",
        "peak_rss",
        "container",
        "unknown_extra",
    ];
    proptest::sample::subsequence(names, 1..12).prop_shuffle()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_trace(&bytes[..], "random");
    }

    #[test]
    fn random_trace_like_text_never_panics(
        columns in header(),
        rows in proptest::collection::vec(proptest::collection::vec(field(), 0..14), 0..6),
        separator in prop_oneof![Just('\t'), Just(','), Just(';')],
    ) {
        let sep = separator.to_string();
        let mut text = columns.join(&sep);
        for row in &rows {
            text.push('\n');
            text.push_str(&row.join(&sep));
        }
        if let Ok(trace) = parse_trace(text.as_bytes(), "random") {
            // Whatever reads must also derive a request without trouble.
            for task in &trace.tasks {
                let (request, _) = request_of(task);
                prop_assert!(request.millicpus >= 1000 || task.requested_cpus.is_some());
            }
        }
    }

    #[test]
    fn durations_read_back_as_nextflow_printed_them(ms in 0u64..10_000_000_000) {
        let text = nextflow_duration(ms);
        let read = parse_duration_ms(&text).unwrap();
        let tolerance = if ms < 1_000 { 0 } else if ms < 60_000 { 50 } else { 500 };
        prop_assert!(read.abs_diff(ms) <= tolerance, "{ms} ms printed `{text}` read {read}");
    }

    #[test]
    fn sizes_read_back_as_nextflow_printed_them(bytes in any::<u64>()) {
        let (text, tolerance) = nextflow_size(bytes);
        match parse_size_bytes(&text) {
            Ok(read) => prop_assert!(
                read.abs_diff(bytes) <= tolerance,
                "{bytes} B printed `{text}` read {read}"
            ),
            // Rounding up near 2^64 can print a value that no longer fits: only there.
            Err(_) => prop_assert!(bytes > u64::MAX - (1u64 << 60), "{bytes} B printed `{text}`"),
        }
    }
}
