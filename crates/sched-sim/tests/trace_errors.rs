//! Every way a trace can be wrong is an error that names the file, the line and the column.

use std::path::Path;

use sched_sim::trace::{parse_trace, read_trace, TraceError};

const HEADER: &str = "task_id\tname\tstatus\texit\tsubmit\tduration\trealtime\t%cpu\tpeak_rss";
const GOOD: &str = "1\tP (a)\tCOMPLETED\t0\t2021-02-17 17:03:21.800\t2s\t1s\t50.0%\t1 MB";

const RAW_HEADER: &str = "task_id;process;tag;name;status;cpus;memory;realtime;%cpu;peak_rss";
const RAW_GOOD: &str = "1;P;a;P (a);COMPLETED;2;1073741824;1000;50.0;1048576";

fn parse(text: &str) -> Result<sched_sim::trace::Trace, TraceError> {
    parse_trace(text.as_bytes(), "bad.txt")
}

/// A human trace with one good row and `row` on line 3.
fn human_with(row: &str) -> TraceError {
    parse(&format!("{HEADER}\n{GOOD}\n{row}\n")).expect_err("should be refused")
}

/// `GOOD` with field `index` (0-based) replaced by `value`.
fn good_with(index: usize, value: &str) -> String {
    let mut fields: Vec<&str> = GOOD.split('\t').collect();
    fields[0] = "2";
    fields[index] = value;
    fields.join("\t")
}

/// Asserts the error is a bad value on line 3 of `column`, showing `value`.
fn assert_bad_value(err: &TraceError, column: &str, value: &str) {
    match err {
        TraceError::BadValue { file, line, column: c, value: v, .. } => {
            assert_eq!(
                (file.as_str(), *line, c.as_str(), v.as_str()),
                ("bad.txt", 3, column, value)
            );
        }
        other => panic!("expected a bad value in `{column}`, got: {other}"),
    }
    let message = err.to_string();
    assert!(message.starts_with("bad.txt:3: column "), "{message}");
    assert!(message.contains(&format!("`{column}`")), "{message}");
    assert!(message.contains(&format!("`{value}`")), "{message}");
}

#[test]
fn a_bad_unit_names_line_column_value_and_what_was_expected() {
    let err = human_with(&good_with(6, "5 parsecs"));
    assert_bad_value(&err, "realtime", "5 parsecs");
    assert_eq!(
        err.to_string(),
        "bad.txt:3: column 7 `realtime`: bad value `5 parsecs`: expected a duration such as \
         `1h 2m 3s`, `16.2s` or `500ms` (human-readable trace)"
    );
    assert_bad_value(&human_with(&good_with(8, "3 XB")), "peak_rss", "3 XB");
    assert_bad_value(&human_with(&good_with(8, "1.5 MiB")), "peak_rss", "1.5 MiB");
    assert_bad_value(&human_with(&good_with(7, "50.0")), "%cpu", "50.0");
    assert_bad_value(&human_with(&good_with(4, "17/02/2021 17:03")), "submit", "17/02/2021 17:03");
    assert_bad_value(&human_with(&good_with(3, "zero")), "exit", "zero");
}

#[test]
fn negative_values_are_refused() {
    let err = human_with(&good_with(6, "-5s"));
    assert_bad_value(&err, "realtime", "-5s");
    assert!(err.to_string().contains("negative values are not allowed"), "{err}");
    assert_bad_value(&human_with(&good_with(8, "-1 MB")), "peak_rss", "-1 MB");
    assert_bad_value(&human_with(&good_with(7, "-3.0%")), "%cpu", "-3.0%");
    assert_bad_value(&human_with(&good_with(0, "-2")), "task_id", "-2");
}

#[test]
fn overflowing_values_are_refused() {
    let huge = "99999999999999999999";
    let err = human_with(&good_with(0, huge));
    assert_bad_value(&err, "task_id", huge);
    assert!(err.to_string().contains("too large"), "{err}");
    assert_bad_value(
        &human_with(&good_with(6, "99999999999999999d")),
        "realtime",
        "99999999999999999d",
    );
    assert_bad_value(&human_with(&good_with(8, "16 EB")), "peak_rss", "16 EB");
    assert_bad_value(&human_with(&good_with(3, "2147483648")), "exit", "2147483648");

    // u32 and u64 limits in a raw trace.
    let raw = |row: &str| {
        parse(&format!("{RAW_HEADER}\n{RAW_GOOD}\n{row}\n")).expect_err("should be refused")
    };
    let err = raw("2;P;b;P (b);COMPLETED;4294967296;1073741824;1000;50.0;1048576");
    assert_bad_value(&err, "cpus", "4294967296");
    let err = raw("2;P;b;P (b);COMPLETED;2;18446744073709551616;1000;50.0;1048576");
    assert_bad_value(&err, "memory", "18446744073709551616");
}

#[test]
fn an_unknown_status_is_an_error() {
    for status in ["RUNNING", "completed", "-", "SUCCEEDED"] {
        let err = human_with(&good_with(2, status));
        match &err {
            TraceError::UnknownStatus { line, index, value, .. } => {
                assert_eq!((*line, *index, value.as_str()), (3, 3, status));
            }
            other => panic!("expected an unknown status, got: {other}"),
        }
        assert_eq!(err.column(), Some("status"));
        assert!(err.to_string().starts_with("bad.txt:3: column 3 `status`: unknown task status"));
    }
}

#[test]
fn a_truncated_row_is_an_error_naming_the_first_missing_column() {
    let truncated: String = GOOD.split('\t').take(6).collect::<Vec<_>>().join("\t");
    let err = human_with(&truncated);
    match &err {
        TraceError::FieldCount { line, expected, found, .. } => {
            assert_eq!((*line, *expected, *found), (3, 9, 6));
        }
        other => panic!("expected a field count error, got: {other}"),
    }
    let message = err.to_string();
    assert!(
        message.starts_with("bad.txt:3: the row has 6 fields but the header has 9"),
        "{message}"
    );
    assert!(message.contains("`realtime`"), "{message}");
}

#[test]
fn extra_fields_that_no_tag_explains_are_an_error() {
    // An extra field at the end of the row, not inside tag and name.
    let row = "2;P;b;P (b);COMPLETED;2;1073741824;1000;50.0;1048576;surplus";
    let err = parse(&format!("{RAW_HEADER}\n{RAW_GOOD}\n{row}\n")).unwrap_err();
    match &err {
        TraceError::FieldCount { line, expected, found, .. } => {
            assert_eq!((*line, *expected, *found), (3, 10, 11));
        }
        other => panic!("expected a field count error, got: {other}"),
    }
    assert!(err.to_string().contains("process (tag)"), "{err}");

    // The same separator inside tag and name is repaired.
    let row = "2;P;b;c;P (b;c);COMPLETED;2;1073741824;1000;50.0;1048576";
    let trace = parse(&format!("{RAW_HEADER}\n{RAW_GOOD}\n{row}\n")).unwrap();
    assert_eq!(trace.repaired_lines, vec![3]);
    assert_eq!(trace.tasks[1].tag.as_deref(), Some("b;c"));
}

#[test]
fn missing_columns_are_named() {
    let err = parse("task_id\tname\texit\n1\tP\t0\n").unwrap_err();
    assert!(matches!(&err, TraceError::MissingColumn { column, .. } if column == "status"));
    assert_eq!((err.line(), err.column()), (Some(1), Some("status")));
    assert!(err.to_string().starts_with("bad.txt:1: missing required column `status`"), "{err}");

    let err = parse("task_id\tstatus\texit\n1\tCOMPLETED\t0\n").unwrap_err();
    assert_eq!(err.column(), Some("name"));
}

#[test]
fn empty_and_header_only_files_are_errors() {
    for text in ["", "\n\n", "  \r\n"] {
        let err = parse(text).unwrap_err();
        assert!(matches!(err, TraceError::Empty { .. }), "{text:?}: {err}");
        assert_eq!(err.line(), Some(1));
    }
    let err = parse(&format!("{HEADER}\n")).unwrap_err();
    assert!(matches!(err, TraceError::HeaderOnly { line: 1, .. }), "{err}");
    assert_eq!(err.to_string(), "bad.txt:1: the trace has a header line but no task rows");
}

#[test]
fn a_header_of_unknown_fields_is_an_error() {
    let err = parse("alpha beta gamma\n1 2 3\n").unwrap_err();
    assert!(matches!(err, TraceError::UnknownSeparator { line: 1, .. }), "{err}");
    let err = parse("name\tstatus\tname\nP\tCOMPLETED\tP\n").unwrap_err();
    match &err {
        TraceError::DuplicateColumn { column, first, second, .. } => {
            assert_eq!((column.as_str(), *first, *second), ("name", 1, 3));
        }
        other => panic!("expected a duplicate column, got: {other}"),
    }
}

#[test]
fn non_utf8_bytes_name_line_and_column() {
    let mut bytes = format!("{HEADER}\n{GOOD}\n").into_bytes();
    bytes.extend_from_slice(b"2\tP (\xff\xfe)\tCOMPLETED\t0\t-\t-\t-\t-\t-\n");
    let err = parse_trace(&bytes[..], "bad.txt").unwrap_err();
    match &err {
        TraceError::NotUtf8 { file, line, column } => {
            assert_eq!((file.as_str(), *line, column.as_str()), ("bad.txt", 3, "column 2 `name`"));
        }
        other => panic!("expected a UTF-8 error, got: {other}"),
    }
    assert!(err.to_string().starts_with("bad.txt:3: column 2 `name`:"), "{err}");

    let err = parse_trace(&b"name\tstat\xffus\nP\tCOMPLETED\n"[..], "bad.txt").unwrap_err();
    assert!(matches!(err, TraceError::NotUtf8 { line: 1, .. }), "{err}");
}

#[test]
fn a_duplicate_task_id_names_both_lines() {
    let err = human_with(&good_with(0, "1"));
    match &err {
        TraceError::DuplicateTaskId { task_id, first_line, line, index, .. } => {
            assert_eq!((*task_id, *first_line, *line, *index), (1, 2, 3, 1));
        }
        other => panic!("expected a duplicate task id, got: {other}"),
    }
    assert_eq!(err.to_string(), "bad.txt:3: column 1 `task_id`: task id 1 already used on line 2");
}

#[test]
fn an_unreadable_path_is_an_io_error_naming_it() {
    let err = read_trace(Path::new("/nonexistent/trace.txt")).unwrap_err();
    assert!(matches!(err, TraceError::Io { .. }));
    assert!(err.to_string().starts_with("cannot read trace `/nonexistent/trace.txt`"), "{err}");
}
