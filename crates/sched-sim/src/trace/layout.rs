//! What a trace file looks like: its separator, its unit mode and its columns.
//!
//! Nothing here looks at the file name. The separator comes from the header line, which must
//! split into Nextflow trace field names; the unit mode comes from the first value in the file
//! that reads in one mode only.

use serde::{Deserialize, Serialize};

use super::units::{self, ValueProblem};

/// The separators a trace may use (`trace.sep`), tried in this order.
pub(crate) const SEPARATORS: [char; 3] = ['\t', ',', ';'];

/// The field names Nextflow can write in a trace header (its `trace.fields`).
///
/// Used only to recognise the separator; columns outside this list are kept and ignored.
const KNOWN_FIELDS: &[&str] = &[
    "task_id",
    "hash",
    "native_id",
    "process",
    "tag",
    "name",
    "status",
    "exit",
    "module",
    "container",
    "cpus",
    "time",
    "disk",
    "memory",
    "attempt",
    "submit",
    "start",
    "complete",
    "duration",
    "realtime",
    "queue",
    "%cpu",
    "%mem",
    "rss",
    "vmem",
    "peak_rss",
    "peak_vmem",
    "rchar",
    "wchar",
    "syscr",
    "syscw",
    "read_bytes",
    "write_bytes",
    "vol_ctxt",
    "inv_ctxt",
    "env",
    "workdir",
    "script",
    "scratch",
    "error_action",
    "hostname",
    "cpu_model",
    "accelerator",
    "accelerator_type",
];

/// How the numbers of a trace are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Units {
    /// Nextflow's default: `1h 2m 3s`, `206.9 MB`, `87.5%`, `2021-02-17 17:03:21.800`.
    #[default]
    Human,
    /// `trace.raw = true`: milliseconds, bytes, bare numbers, epoch milliseconds.
    Raw,
}

impl Units {
    /// `"human"` or `"raw"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Units::Human => "human",
            Units::Raw => "raw",
        }
    }
}

/// The field whose value decided a trace's [`Units`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitsEvidence {
    /// 1-based line of the row.
    pub line: u64,
    /// Column name.
    pub column: String,
    /// The field's text.
    pub value: String,
}

/// The shape of one trace file, as detected from its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceLayout {
    /// The field separator: tab, comma or semicolon.
    pub separator: char,
    /// Human-readable or raw numbers.
    pub units: Units,
    /// The value that decided `units`; `None` when no value told the two apart (every
    /// unit-bearing field missing or zero), in which case `units` is [`Units::Human`], under
    /// which such a file reads the same.
    pub units_evidence: Option<UnitsEvidence>,
    /// The header's column names, in file order.
    pub columns: Vec<String>,
}

impl TraceLayout {
    /// True when the header has a column of this name.
    pub fn has_column(&self, name: &str) -> bool {
        self.columns.iter().any(|column| column == name)
    }
}

/// Picks the separator under which the header splits into the most known field names.
///
/// Returns `None` when no separator yields a header naming at least one known field, or when
/// two separators tie.
pub(crate) fn detect_separator(header: &str) -> Option<char> {
    let mut best: Option<(char, usize)> = None;
    let mut tie = false;
    for separator in SEPARATORS {
        let known = header
            .split(separator)
            .map(|name| name.trim().trim_matches('"'))
            .filter(|name| KNOWN_FIELDS.contains(name))
            .count();
        if known == 0 {
            continue;
        }
        match best {
            Some((_, best_known)) if known == best_known => tie = true,
            Some((_, best_known)) if known < best_known => {}
            _ => {
                best = Some((separator, known));
                tie = false;
            }
        }
    }
    if tie {
        None
    } else {
        best.map(|(separator, _)| separator)
    }
}

/// What a column's values are, as far as unit mode goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueKind {
    /// `submit`, `start`, `complete`.
    Timestamp,
    /// `duration`, `realtime`, `time`.
    Duration,
    /// `%cpu`, `%mem`.
    Percent,
    /// `peak_rss`, `memory` and the other memory and I/O byte counts.
    Size,
}

impl ValueKind {
    /// The kind of a column by its name, when its format depends on the unit mode.
    pub(crate) fn of_column(name: &str) -> Option<ValueKind> {
        match name {
            "submit" | "start" | "complete" => Some(ValueKind::Timestamp),
            "duration" | "realtime" | "time" => Some(ValueKind::Duration),
            "%cpu" | "%mem" => Some(ValueKind::Percent),
            "rss" | "vmem" | "peak_rss" | "peak_vmem" | "rchar" | "wchar" | "read_bytes"
            | "write_bytes" | "memory" | "disk" => Some(ValueKind::Size),
            _ => None,
        }
    }

    /// Whether `text` reads as a value of this kind under `units`.
    pub(crate) fn reads_as(self, text: &str, units: Units) -> bool {
        self.check(text, units).is_ok()
    }

    /// Parses `text` as this kind under `units`, discarding the value.
    fn check(self, text: &str, units: Units) -> Result<(), ValueProblem> {
        let raw = units == Units::Raw;
        match (self, raw) {
            (ValueKind::Timestamp, false) => units::parse_timestamp_ms(text).map(drop),
            (ValueKind::Timestamp, true) => units::parse_raw_timestamp_ms(text).map(drop),
            (ValueKind::Duration, false) => units::parse_duration_ms(text).map(drop),
            (ValueKind::Duration, true) => units::parse_raw_duration_ms(text).map(drop),
            (ValueKind::Percent, _) => units::parse_percent(text, raw).map(drop),
            (ValueKind::Size, false) => units::parse_size_bytes(text).map(drop),
            (ValueKind::Size, true) => units::parse_raw_size_bytes(text).map(drop),
        }
    }

    /// What a value of this kind looks like under `units`, for error messages.
    pub(crate) fn expected(self, units: Units) -> &'static str {
        match (self, units) {
            (ValueKind::Timestamp, Units::Human) => {
                "a timestamp such as `2021-02-17 17:03:21.800` (human-readable trace)"
            }
            (ValueKind::Timestamp, Units::Raw) => {
                "a whole number of milliseconds since 1970-01-01 (raw trace)"
            }
            (ValueKind::Duration, Units::Human) => {
                "a duration such as `1h 2m 3s`, `16.2s` or `500ms` (human-readable trace)"
            }
            (ValueKind::Duration, Units::Raw) => "a whole number of milliseconds (raw trace)",
            (ValueKind::Percent, Units::Human) => {
                "a percentage such as `87.5%` (human-readable trace)"
            }
            (ValueKind::Percent, Units::Raw) => "a number such as `87.5` (raw trace)",
            (ValueKind::Size, Units::Human) => {
                "a size such as `206.9 MB`, `1.5 GB` or `0`, in units of 1024 \
                 (human-readable trace)"
            }
            (ValueKind::Size, Units::Raw) => "a whole number of bytes (raw trace)",
        }
    }
}

/// The unit mode a single value shows, if it reads in exactly one of the two modes.
///
/// A missing value (`-`), a zero size and anything that reads in neither mode decide nothing.
pub(crate) fn units_shown_by(kind: ValueKind, text: &str) -> Option<Units> {
    let text = text.trim();
    if text.is_empty() || text == "-" {
        return None;
    }
    match (kind.reads_as(text, Units::Human), kind.reads_as(text, Units::Raw)) {
        (true, false) => Some(Units::Human),
        (false, true) => Some(Units::Raw),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separator_comes_from_the_header() {
        assert_eq!(detect_separator("task_id\thash\tname\tstatus"), Some('\t'));
        assert_eq!(detect_separator("task_id,hostname,name,status,%cpu"), Some(','));
        assert_eq!(detect_separator("task_id;hostname;name;status"), Some(';'));
        assert_eq!(detect_separator("\"task_id\",\"name\",\"status\""), Some(','));
        // More known names under ';' than under ',' (the ',' split leaves one joint name).
        assert_eq!(detect_separator("name;status;foo,bar"), Some(';'));
        assert_eq!(detect_separator("alpha beta gamma"), None);
        assert_eq!(detect_separator(""), None);
        // One known name under each of two separators: a tie, so no answer.
        assert_eq!(detect_separator("name,x;status"), None);
    }

    #[test]
    fn units_are_told_apart_by_values_that_read_one_way_only() {
        use ValueKind::*;
        assert_eq!(units_shown_by(Timestamp, "2021-02-17 17:03:21.800"), Some(Units::Human));
        assert_eq!(units_shown_by(Timestamp, "1669569904223"), Some(Units::Raw));
        assert_eq!(units_shown_by(Duration, "1m 20s"), Some(Units::Human));
        assert_eq!(units_shown_by(Duration, "0"), Some(Units::Raw));
        assert_eq!(units_shown_by(Percent, "87.5%"), Some(Units::Human));
        assert_eq!(units_shown_by(Percent, "87.5"), Some(Units::Raw));
        assert_eq!(units_shown_by(Size, "2.6 MB"), Some(Units::Human));
        // A bare byte count reads in both modes, so it decides nothing.
        assert_eq!(units_shown_by(Size, "0"), None);
        assert_eq!(units_shown_by(Size, "3002368"), None);
        assert_eq!(units_shown_by(Size, "-"), None);
        assert_eq!(units_shown_by(Duration, "garbage"), None);
    }

    #[test]
    fn column_kinds() {
        assert_eq!(ValueKind::of_column("peak_rss"), Some(ValueKind::Size));
        assert_eq!(ValueKind::of_column("realtime"), Some(ValueKind::Duration));
        assert_eq!(ValueKind::of_column("%cpu"), Some(ValueKind::Percent));
        assert_eq!(ValueKind::of_column("submit"), Some(ValueKind::Timestamp));
        assert_eq!(ValueKind::of_column("cpus"), None);
    }
}
