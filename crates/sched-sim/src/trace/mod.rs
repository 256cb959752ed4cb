//! Readers for Nextflow execution traces.
//!
//! A Nextflow trace (`-with-trace`, or the `trace` config scope) has one header line naming the
//! fields and one row per task. [`read_trace`] and [`parse_trace`] read every layout Nextflow
//! writes, telling them apart by content, never by file name:
//!
//! - the separator (`trace.sep`: tab by default, or comma or semicolon) is the one under which
//!   the header splits into Nextflow field names;
//! - the unit mode (human-readable `1h 2m 3s`, `206.9 MB`, `87.5%` by default, or raw
//!   milliseconds and bytes with `trace.raw = true`) is decided by the first value in the file
//!   that reads in one mode only, and every other value must then read in that mode;
//! - any subset of fields may be present (`trace.fields`); only `status`, `realtime` and one of
//!   `name` or `process` are required (a replay needs to know how long each task ran).
//!
//! Values must also be plausible ([`bounds`]): a duration of a year or more, a timestamp
//! outside 2000 to 2100, memory above 64 TiB is an error, not a task to replay.
//!
//! Rows with status `CACHED` (tasks reused by `-resume`) are checked like any other row, then
//! counted in [`Trace::skipped_cached`] and left out: they did not run. A row whose `tag` holds
//! the separator is repaired when exactly one split makes its `name` read `process (tag)` (see
//! the `repair` module). Every other departure from the format is a [`TraceError`] naming the file,
//! the line and, where there is one, the column and the value: a bad row is never skipped in
//! silence.
//!
//! [`request`] turns a task into the resource request a replay should submit, using the
//! recorded `cpus` and `memory` when the trace has them and deriving one from the measured
//! usage when it does not. `docs/traces.md` states the rules in full.
//!
//! ```
//! use sched_sim::trace::{parse_trace, TaskOutcome, Units};
//!
//! let text = "task_id\tname\tstatus\texit\trealtime\t%cpu\tpeak_rss\n\
//!             1\tFASTQC (SRR1)\tCOMPLETED\t0\t1m 20s\t87.5%\t206.9 MB\n";
//! let trace = parse_trace(text.as_bytes(), "example.txt").unwrap();
//! assert_eq!(trace.layout.units, Units::Human);
//! let task = &trace.tasks[0];
//! assert_eq!(task.process, "FASTQC");
//! assert_eq!(task.status, TaskOutcome::Completed);
//! assert_eq!(task.realtime_ms, Some(80_000));
//! assert_eq!(task.peak_rss_bytes, Some(216_950_374)); // 206.9 * 2^20, rounded
//! ```

pub mod bounds;
mod error;
mod layout;
mod reader;
mod repair;
pub mod request;
pub mod units;

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub(crate) use error::shown as shown_value;
pub use error::TraceError;
pub use layout::{TraceLayout, Units, UnitsEvidence};
pub use request::{request_of, requests_for, DerivedRequest, RequestRule, RequestSource};

/// How a task of a trace ended.
///
/// Only final statuses are accepted: a trace row with `NEW`, `SUBMITTED` or `RUNNING` (or
/// anything else) is a [`TraceError::UnknownStatus`]. `CACHED` rows are not tasks of the run and
/// never appear here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskOutcome {
    /// `COMPLETED`: the task ran and exited as the process allows.
    #[default]
    Completed,
    /// `FAILED`: the task ran and failed (its usage fields are often `-`).
    Failed,
    /// `ABORTED`: the run was stopped while the task was in flight.
    Aborted,
}

impl TaskOutcome {
    /// The status as Nextflow writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskOutcome::Completed => "COMPLETED",
            TaskOutcome::Failed => "FAILED",
            TaskOutcome::Aborted => "ABORTED",
        }
    }
}

impl fmt::Display for TaskOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One task row of a trace, with every unit made explicit.
///
/// A field is `None` when its column is absent from the trace or the row has `-` (or nothing)
/// there. Times are milliseconds, sizes bytes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TraceTask {
    /// 1-based line of the row in the file.
    pub line: u64,
    /// `task_id`: Nextflow's task number, unique within a run.
    pub task_id: Option<u64>,
    /// `hash`: the short work-directory hash, e.g. `19/beb69e`.
    pub hash: Option<String>,
    /// `name`, e.g. `NFCORE_RNASEQ:RNASEQ:FASTQC (SRR1)`; built as `process (tag)` when the
    /// trace has no `name` column.
    pub name: String,
    /// `process`, or when that column is absent the name without its ` (tag)` suffix.
    pub process: String,
    /// `tag`: the user's label for the task, when the trace has it.
    pub tag: Option<String>,
    /// `status`.
    pub status: TaskOutcome,
    /// `exit`: the exit status.
    pub exit_code: Option<i32>,
    /// `submit`: epoch milliseconds (raw), or the naive local wall-clock time read as UTC
    /// (human; see [`units::parse_timestamp_ms`]).
    pub submit_ms: Option<i64>,
    /// `start`, as `submit_ms`.
    pub start_ms: Option<i64>,
    /// `complete`, as `submit_ms`.
    pub complete_ms: Option<i64>,
    /// `realtime`: milliseconds from start to completion of the task's command.
    pub realtime_ms: Option<u64>,
    /// `duration`: milliseconds from submission to completion.
    pub duration_ms: Option<u64>,
    /// `%cpu`: cpu time over wall time in percent; `1577.7` is almost 16 busy cpus.
    pub cpu_percent: Option<f64>,
    /// `peak_rss`: peak resident memory in bytes.
    pub peak_rss_bytes: Option<u64>,
    /// `cpus`: the cpus the task asked for.
    pub requested_cpus: Option<u32>,
    /// `memory`: the memory the task asked for, in bytes.
    pub requested_memory_bytes: Option<u64>,
    /// `time`: the time limit the task asked for, in milliseconds.
    pub requested_time_ms: Option<u64>,
    /// `attempt`: 1 for a first try, more for retries.
    pub attempt: Option<u32>,
    /// `container`: the image the task ran in.
    pub container: Option<String>,
}

/// A whole trace file: its tasks in file order and how it was laid out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// Where it came from: the path given to [`read_trace`] or the `source` given to
    /// [`parse_trace`].
    pub path: String,
    /// The tasks, in file order, without `CACHED` rows.
    pub tasks: Vec<TraceTask>,
    /// How many `CACHED` rows were left out.
    pub skipped_cached: usize,
    /// Separator, unit mode and columns.
    pub layout: TraceLayout,
    /// Lines of rows whose field count was repaired (a separator inside `tag` and `name`).
    pub repaired_lines: Vec<u64>,
}

/// Reads the trace file at `path`.
///
/// Errors name the path as given. The file is read whole into memory first.
pub fn read_trace(path: &Path) -> Result<Trace, TraceError> {
    let shown = path.display().to_string();
    let bytes =
        std::fs::read(path).map_err(|source| TraceError::Io { path: shown.clone(), source })?;
    reader::parse_bytes(&bytes, &shown)
}

/// Reads a trace from `reader`; `source` names it in errors and in [`Trace::path`].
///
/// The input is read whole into memory first (a trace of a few thousand tasks is a few MiB).
pub fn parse_trace<R: std::io::Read>(mut reader: R, source: &str) -> Result<Trace, TraceError> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|source_error| TraceError::Io { path: source.to_owned(), source: source_error })?;
    reader::parse_bytes(&bytes, source)
}
