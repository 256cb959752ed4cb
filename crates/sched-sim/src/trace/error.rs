//! The error a trace reader answers with, naming file, line, column and value.

use thiserror::Error;

/// Longest value text an error message repeats; longer values are cut with `...`.
const MAX_SHOWN_VALUE: usize = 120;

/// Why a Nextflow trace could not be read.
///
/// Every variant that concerns the content names the file (the `source` given to
/// [`parse_trace`](super::parse_trace), or the path given to [`read_trace`](super::read_trace))
/// and the 1-based line, so a message reads like `trace.txt:75: ...`. Column numbers are
/// 1-based field positions in the header.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TraceError {
    /// The file could not be opened or read.
    #[error("cannot read trace `{path}`: {source}")]
    Io {
        /// The path as given.
        path: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The file holds no header line at all (nothing but blank lines, or nothing).
    #[error("{file}:1: the trace is empty: expected a header line naming the trace fields")]
    Empty {
        /// The file.
        file: String,
    },

    /// The file holds a header but no task row.
    #[error("{file}:{line}: the trace has a header line but no task rows")]
    HeaderOnly {
        /// The file.
        file: String,
        /// The 1-based line of the header.
        line: u64,
    },

    /// The header line is not a list of Nextflow trace field names on any supported separator.
    #[error(
        "{file}:{line}: cannot tell the field separator: the header does not split into \
         Nextflow trace field names on tab, comma or semicolon (header starts `{header}`)"
    )]
    UnknownSeparator {
        /// The file.
        file: String,
        /// The 1-based line of the header.
        line: u64,
        /// The start of the header line.
        header: String,
    },

    /// A column the reader needs is not in the header.
    #[error("{file}:{line}: missing required column `{column}` (the header has: {present})")]
    MissingColumn {
        /// The file.
        file: String,
        /// The 1-based line of the header.
        line: u64,
        /// The missing column, e.g. `status`, or `name` or `process` when neither is there.
        column: String,
        /// The header's columns, comma-separated.
        present: String,
    },

    /// A column name appears twice in the header.
    #[error(
        "{file}:{line}: column `{column}` appears twice in the header, as field {first} and \
         {second}"
    )]
    DuplicateColumn {
        /// The file.
        file: String,
        /// The 1-based line of the header.
        line: u64,
        /// The repeated column name.
        column: String,
        /// Its first 1-based position.
        first: usize,
        /// Its second 1-based position.
        second: usize,
    },

    /// A field's text is not a value of the kind its column holds.
    #[error("{file}:{line}: column {index} `{column}`: bad value `{value}`: expected {expected}")]
    BadValue {
        /// The file.
        file: String,
        /// The 1-based line.
        line: u64,
        /// The column name from the header.
        column: String,
        /// The 1-based field position.
        index: usize,
        /// The field's text (cut after 120 characters).
        value: String,
        /// What the column holds, in words, e.g. "a duration such as `1h 2m 3s`".
        expected: String,
    },

    /// A well-formed value outside the plausibility bounds of its column
    /// (see [`bounds`](super::bounds)).
    #[error(
        "{file}:{line}: column {index} `{column}`: implausible value `{value}`: expected {bound}"
    )]
    Implausible {
        /// The file.
        file: String,
        /// The 1-based line.
        line: u64,
        /// The column name from the header.
        column: String,
        /// The 1-based field position.
        index: usize,
        /// The field's text (cut after 120 characters).
        value: String,
        /// The bound it breaks, in words.
        bound: String,
    },

    /// The `status` field is not a final Nextflow task status.
    #[error(
        "{file}:{line}: column {index} `status`: unknown task status `{value}`: expected \
         COMPLETED, FAILED, ABORTED or CACHED"
    )]
    UnknownStatus {
        /// The file.
        file: String,
        /// The 1-based line.
        line: u64,
        /// The 1-based position of the `status` column.
        index: usize,
        /// The status text (cut after 120 characters).
        value: String,
    },

    /// A row has more or fewer fields than the header, and no repair explains the difference.
    #[error("{file}:{line}: the row has {found} fields but the header has {expected}: {detail}")]
    FieldCount {
        /// The file.
        file: String,
        /// The 1-based line where the row starts.
        line: u64,
        /// Fields in the header.
        expected: usize,
        /// Fields in the row.
        found: usize,
        /// Why the row could not be repaired, or that it is short.
        detail: String,
    },

    /// A field holds bytes that are not UTF-8.
    #[error("{file}:{line}: {column}: the field holds bytes that are not valid UTF-8")]
    NotUtf8 {
        /// The file.
        file: String,
        /// The 1-based line where the row starts.
        line: u64,
        /// The field, as "column N `name`" (or "field N" past the header's width).
        column: String,
    },

    /// Two rows carry the same `task_id`.
    #[error(
        "{file}:{line}: column {index} `task_id`: task id {task_id} already used on line \
         {first_line}"
    )]
    DuplicateTaskId {
        /// The file.
        file: String,
        /// The repeated id.
        task_id: u64,
        /// The 1-based line of the first row with that id.
        first_line: u64,
        /// The 1-based line of the second row with that id.
        line: u64,
        /// The 1-based position of the `task_id` column.
        index: usize,
    },

    /// The CSV reader itself failed.
    #[error("{file}:{line}: malformed row: {message}")]
    Csv {
        /// The file.
        file: String,
        /// The 1-based line, as far as the CSV reader knew it.
        line: u64,
        /// The CSV reader's message.
        message: String,
    },
}

impl TraceError {
    /// The 1-based line the error is about, when it is about one.
    pub fn line(&self) -> Option<u64> {
        match self {
            TraceError::Io { .. } => None,
            TraceError::Empty { .. } => Some(1),
            TraceError::HeaderOnly { line, .. }
            | TraceError::UnknownSeparator { line, .. }
            | TraceError::MissingColumn { line, .. }
            | TraceError::DuplicateColumn { line, .. }
            | TraceError::BadValue { line, .. }
            | TraceError::Implausible { line, .. }
            | TraceError::UnknownStatus { line, .. }
            | TraceError::FieldCount { line, .. }
            | TraceError::NotUtf8 { line, .. }
            | TraceError::DuplicateTaskId { line, .. }
            | TraceError::Csv { line, .. } => Some(*line),
        }
    }

    /// The column name the error is about, when it is about one.
    pub fn column(&self) -> Option<&str> {
        match self {
            TraceError::MissingColumn { column, .. }
            | TraceError::DuplicateColumn { column, .. }
            | TraceError::BadValue { column, .. }
            | TraceError::Implausible { column, .. } => Some(column),
            TraceError::UnknownStatus { .. } => Some("status"),
            TraceError::DuplicateTaskId { .. } => Some("task_id"),
            _ => None,
        }
    }
}

/// `text` as an error message shows it: whole when short, else its first 120 characters.
pub(crate) fn shown(text: &str) -> String {
    match text.char_indices().nth(MAX_SHOWN_VALUE) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_on_a_character_boundary() {
        assert_eq!(shown("short"), "short");
        let long = "é".repeat(200);
        let cut = shown(&long);
        assert!(cut.ends_with("..."));
        assert_eq!(cut.chars().count(), MAX_SHOWN_VALUE + 3);
    }

    #[test]
    fn messages_name_file_line_column_and_value() {
        let err = TraceError::BadValue {
            file: "t.txt".into(),
            line: 7,
            column: "realtime".into(),
            index: 9,
            value: "5 parsecs".into(),
            expected: "a duration".into(),
        };
        assert_eq!(
            err.to_string(),
            "t.txt:7: column 9 `realtime`: bad value `5 parsecs`: expected a duration"
        );
        assert_eq!(err.line(), Some(7));
        assert_eq!(err.column(), Some("realtime"));
    }
}
