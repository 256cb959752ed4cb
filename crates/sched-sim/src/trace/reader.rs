//! The reading itself: bytes to rows, rows to validated [`TraceTask`]s.

use std::collections::HashMap;

use csv::{ByteRecord, StringRecord};
use tracing::{debug, warn};

use super::bounds;
use super::error::{shown, TraceError};
use super::layout::{self, TraceLayout, Units, UnitsEvidence, ValueKind};
use super::repair::{self, RepairColumns};
use super::units::{self, ValueProblem};
use super::{TaskOutcome, Trace, TraceTask};

/// Characters of the header repeated when its separator cannot be found.
const HEADER_EXCERPT: usize = 80;

/// Where the columns the reader uses sit in the header.
#[derive(Debug, Default)]
struct Columns {
    task_id: Option<usize>,
    hash: Option<usize>,
    process: Option<usize>,
    tag: Option<usize>,
    name: Option<usize>,
    status: usize,
    exit: Option<usize>,
    container: Option<usize>,
    cpus: Option<usize>,
    memory: Option<usize>,
    time: Option<usize>,
    attempt: Option<usize>,
    submit: Option<usize>,
    start: Option<usize>,
    complete: Option<usize>,
    duration: Option<usize>,
    realtime: usize,
    cpu_percent: Option<usize>,
    peak_rss: Option<usize>,
}

/// One data row with the header's width: as the CSV reader read it, or repaired.
enum RowFields {
    Read(StringRecord),
    Repaired(Vec<String>),
}

impl RowFields {
    fn get(&self, index: usize) -> Option<&str> {
        match self {
            RowFields::Read(record) => record.get(index),
            RowFields::Repaired(fields) => fields.get(index).map(String::as_str),
        }
    }
}

struct Row {
    line: u64,
    fields: RowFields,
}

/// Reads a whole trace held in memory; `file` names it in errors.
pub(crate) fn parse_bytes(bytes: &[u8], file: &str) -> Result<Trace, TraceError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);

    // The separator, from the first line with content.
    let Some((header_line, header_bytes)) = first_content_line(bytes) else {
        return Err(TraceError::Empty { file: file.to_owned() });
    };
    let header_text = std::str::from_utf8(header_bytes).map_err(|_| TraceError::NotUtf8 {
        file: file.to_owned(),
        line: header_line,
        column: "header".to_owned(),
    })?;
    let separator =
        layout::detect_separator(header_text).ok_or_else(|| TraceError::UnknownSeparator {
            file: file.to_owned(),
            line: header_line,
            header: shown(&header_text.chars().take(HEADER_EXCERPT).collect::<String>()),
        })?;

    // Records, as the CSV reader splits them on that separator.
    let mut records = read_records(bytes, separator, file)?;
    if records.is_empty() {
        return Err(TraceError::Empty { file: file.to_owned() });
    }
    let (header_line, header_record) = records.remove(0);
    let header = header_names(&header_record, header_line, file)?;
    let columns = locate_columns(&header, header_line, file)?;
    if records.is_empty() {
        return Err(TraceError::HeaderOnly { file: file.to_owned(), line: header_line });
    }

    // Rows of the header's width, repairing those a tag with the separator widened.
    let repair_columns =
        RepairColumns { name: columns.name, tag: columns.tag, process: columns.process };
    let mut rows = Vec::with_capacity(records.len());
    let mut repaired_lines = Vec::new();
    for (line, record) in records {
        let fields = to_strings(record, line, &header, file)?;
        let fields = fit_width(fields, line, &header, repair_columns, separator, file)?;
        if matches!(fields, RowFields::Repaired(_)) {
            repaired_lines.push(line);
        }
        rows.push(Row { line, fields });
    }

    // The unit mode, from the first value that reads in one mode only.
    let (units, units_evidence) = detect_units(&rows, &header);
    let layout = TraceLayout { separator, units, units_evidence, columns: header };
    debug!(
        file,
        separator = ?layout.separator,
        units = layout.units.as_str(),
        columns = layout.columns.len(),
        rows = rows.len(),
        repaired = repaired_lines.len(),
        "trace layout"
    );

    // Tasks, checking every row, CACHED ones included.
    let mut tasks = Vec::with_capacity(rows.len());
    let mut skipped_cached = 0;
    let mut first_line_of: HashMap<u64, u64> = HashMap::new();
    for row in &rows {
        let reader = RowReader { file, row, layout: &layout };
        let (task, cached) = reader.task(&columns)?;
        if let (Some(id), Some(index)) = (task.task_id, columns.task_id) {
            if let Some(first_line) = first_line_of.insert(id, row.line) {
                return Err(TraceError::DuplicateTaskId {
                    file: file.to_owned(),
                    task_id: id,
                    first_line,
                    line: row.line,
                    index: index + 1,
                });
            }
        }
        if cached {
            skipped_cached += 1;
        } else {
            tasks.push(task);
        }
    }
    debug!(file, tasks = tasks.len(), skipped_cached, "trace read");

    Ok(Trace { path: file.to_owned(), tasks, skipped_cached, layout, repaired_lines })
}

/// The 1-based number and the bytes (without line ending) of the first line that is not blank.
fn first_content_line(bytes: &[u8]) -> Option<(u64, &[u8])> {
    bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .map(|(i, line)| (i as u64 + 1, line.strip_suffix(b"\r").unwrap_or(line)))
        .find(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
}

/// Splits `bytes` into records with their starting lines, dropping blank lines.
fn read_records(
    bytes: &[u8],
    separator: char,
    file: &str,
) -> Result<Vec<(u64, ByteRecord)>, TraceError> {
    // The separator is one of the ASCII characters in `layout::SEPARATORS`.
    let delimiter = u8::try_from(separator).unwrap_or(b'\t');
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(bytes);
    let lines = LineIndex::new(bytes);
    let mut records = Vec::new();
    let mut record = ByteRecord::new();
    loop {
        let before = reader.position().byte();
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let start = record.position().map_or(before, |p| p.byte());
                let blank = record.len() == 1 && record[0].iter().all(u8::is_ascii_whitespace);
                if !blank {
                    records.push((lines.line_of(start), record.clone()));
                }
            }
            Err(error) => {
                let start = error.position().map_or(before, |p| p.byte());
                return Err(TraceError::Csv {
                    file: file.to_owned(),
                    line: lines.line_of(start),
                    message: error.to_string(),
                });
            }
        }
    }
    Ok(records)
}

/// Line numbers from byte offsets.
///
/// The CSV reader's own line count leaves out the blank lines it skips, so lines are counted
/// here from the byte offset where each record starts.
struct LineIndex<'a> {
    bytes: &'a [u8],
    newlines: Vec<u64>,
}

impl<'a> LineIndex<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        let newlines =
            bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i as u64).collect();
        LineIndex { bytes, newlines }
    }

    /// The 1-based line of the first byte at or after `offset` that is not a line ending (a
    /// record's reported start may sit on the blank lines before it).
    fn line_of(&self, offset: u64) -> u64 {
        let mut at = usize::try_from(offset).unwrap_or(usize::MAX).min(self.bytes.len());
        while at < self.bytes.len() && matches!(self.bytes[at], b'\r' | b'\n') {
            at += 1;
        }
        let before = self.newlines.partition_point(|nl| *nl < at as u64);
        before as u64 + 1
    }
}

/// How an error names field `index` (0-based) of a row.
fn field_label(index: usize, header: &[String]) -> String {
    match header.get(index) {
        Some(name) => format!("column {} `{name}`", index + 1),
        None => format!("field {}", index + 1),
    }
}

/// The header's column names, trimmed, checked for UTF-8 and repeats.
fn header_names(record: &ByteRecord, line: u64, file: &str) -> Result<Vec<String>, TraceError> {
    let mut names: Vec<String> = Vec::with_capacity(record.len());
    for (index, field) in record.iter().enumerate() {
        let name = std::str::from_utf8(field).map_err(|_| TraceError::NotUtf8 {
            file: file.to_owned(),
            line,
            column: format!("header field {}", index + 1),
        })?;
        let name = name.trim().to_owned();
        if let Some(first) = names.iter().position(|seen| *seen == name) {
            return Err(TraceError::DuplicateColumn {
                file: file.to_owned(),
                line,
                column: shown(&name),
                first: first + 1,
                second: index + 1,
            });
        }
        names.push(name);
    }
    Ok(names)
}

/// Finds the columns the reader uses; `status`, `realtime` and one of `name`/`process` are
/// required.
fn locate_columns(header: &[String], line: u64, file: &str) -> Result<Columns, TraceError> {
    let find = |name: &str| header.iter().position(|column| column == name);
    let missing = |column: &str| TraceError::MissingColumn {
        file: file.to_owned(),
        line,
        column: column.to_owned(),
        present: header_summary(header),
    };
    let status = find("status").ok_or_else(|| missing("status"))?;
    if find("name").is_none() && find("process").is_none() {
        return Err(missing("name"));
    }
    // A replay needs each task's runtime: without the column every task would take 0 s.
    let realtime = find("realtime").ok_or_else(|| missing("realtime"))?;
    let columns = Columns {
        task_id: find("task_id"),
        hash: find("hash"),
        process: find("process"),
        tag: find("tag"),
        name: find("name"),
        status,
        exit: find("exit"),
        container: find("container"),
        cpus: find("cpus"),
        memory: find("memory"),
        time: find("time"),
        attempt: find("attempt"),
        submit: find("submit"),
        start: find("start"),
        complete: find("complete"),
        duration: find("duration"),
        realtime,
        cpu_percent: find("%cpu"),
        peak_rss: find("peak_rss"),
    };
    Ok(columns)
}

/// Header columns an error message lists before it says how many more there are.
const HEADER_COLUMNS_SHOWN: usize = 40;

/// The header's columns as an error message lists them: the first
/// [`HEADER_COLUMNS_SHOWN`], each cut like any echoed value, and how many
/// more there are and how long the header is when that is not all of it.
fn header_summary(header: &[String]) -> String {
    let listed: Vec<String> =
        header.iter().take(HEADER_COLUMNS_SHOWN).map(|name| shown(name)).collect();
    let mut summary = listed.join(", ");
    let chars: usize = header.iter().map(|name| name.chars().count() + 1).sum();
    let cut = header.len() > HEADER_COLUMNS_SHOWN || summary.chars().count() + 2 < chars;
    let more = header.len().saturating_sub(HEADER_COLUMNS_SHOWN);
    if more > 0 {
        summary.push_str(&format!(" and {more} more"));
    }
    if cut {
        let total = chars.saturating_sub(1);
        summary.push_str(&format!(" ({} columns, {total} characters in all)", header.len()));
    }
    summary
}

/// Checks a record's fields for UTF-8.
fn to_strings(
    record: ByteRecord,
    line: u64,
    header: &[String],
    file: &str,
) -> Result<StringRecord, TraceError> {
    StringRecord::from_byte_record(record).map_err(|error| TraceError::NotUtf8 {
        file: file.to_owned(),
        line,
        column: field_label(error.utf8_error().field(), header),
    })
}

/// Brings a row to the header's width: as it is, repaired, or an error.
fn fit_width(
    record: StringRecord,
    line: u64,
    header: &[String],
    repair_columns: RepairColumns,
    separator: char,
    file: &str,
) -> Result<RowFields, TraceError> {
    let width = header.len();
    let found = record.len();
    let mismatch = |detail: String| TraceError::FieldCount {
        file: file.to_owned(),
        line,
        expected: width,
        found,
        detail,
    };
    if found == width {
        return Ok(RowFields::Read(record));
    }
    if found < width {
        let first_missing = header.get(found).map_or("?", String::as_str);
        return Err(mismatch(format!(
            "the row is short (truncated?): columns from `{first_missing}` on are missing"
        )));
    }
    let fields: Vec<&str> = record.iter().collect();
    match repair::repair_row(&fields, width, repair_columns, separator) {
        Ok(repaired) => {
            warn!(
                file,
                line,
                extra_fields = found - width,
                "repaired a row whose tag contains the separator"
            );
            Ok(RowFields::Repaired(repaired))
        }
        Err(reason) => Err(mismatch(reason)),
    }
}

/// The unit mode shown by the first value that reads in exactly one mode, scanning rows in
/// order and columns left to right; [`Units::Human`] when none does.
fn detect_units(rows: &[Row], header: &[String]) -> (Units, Option<UnitsEvidence>) {
    let kinds: Vec<(usize, ValueKind)> = header
        .iter()
        .enumerate()
        .filter_map(|(index, name)| ValueKind::of_column(name).map(|kind| (index, kind)))
        .collect();
    for row in rows {
        for (index, kind) in &kinds {
            let Some(text) = row.fields.get(*index) else {
                continue;
            };
            if let Some(units) = layout::units_shown_by(*kind, text) {
                let evidence = UnitsEvidence {
                    line: row.line,
                    column: header[*index].clone(),
                    value: shown(text),
                };
                return (units, Some(evidence));
            }
        }
    }
    (Units::Human, None)
}

/// Reads the fields of one row.
struct RowReader<'a> {
    file: &'a str,
    row: &'a Row,
    layout: &'a TraceLayout,
}

impl RowReader<'_> {
    /// Builds the task, and whether its status is `CACHED`.
    fn task(&self, columns: &Columns) -> Result<(TraceTask, bool), TraceError> {
        let (status, cached) = self.status(columns.status)?;
        let tag = self.text(columns.tag).map(|(_, text)| text.to_owned());
        let (name, process) = self.name_and_process(columns, tag.as_deref())?;
        let task = TraceTask {
            line: self.row.line,
            task_id: self.whole(columns.task_id, "a task id: a whole number")?,
            hash: self.text(columns.hash).map(|(_, text)| text.to_owned()),
            name,
            process,
            tag,
            status,
            exit_code: self.exit(columns.exit)?,
            submit_ms: self.timestamp(columns.submit)?,
            start_ms: self.timestamp(columns.start)?,
            complete_ms: self.timestamp(columns.complete)?,
            realtime_ms: self.measured(Some(columns.realtime), ValueKind::Duration)?,
            duration_ms: self.measured(columns.duration, ValueKind::Duration)?,
            cpu_percent: self.percent(columns.cpu_percent)?,
            peak_rss_bytes: self.measured(columns.peak_rss, ValueKind::Size)?,
            requested_cpus: self.cpus(columns.cpus)?,
            requested_memory_bytes: self.measured(columns.memory, ValueKind::Size)?,
            requested_time_ms: self.measured(columns.time, ValueKind::Duration)?,
            attempt: self.whole(columns.attempt, "an attempt number: a whole number")?,
            container: self.text(columns.container).map(|(_, text)| text.to_owned()),
        };
        Ok((task, cached))
    }

    /// The field at `column`, with its index, unless the column is absent or the value is `-`
    /// or empty.
    fn text(&self, column: Option<usize>) -> Option<(usize, &str)> {
        let index = column?;
        let text = self.row.fields.get(index)?.trim();
        if text.is_empty() || text == "-" {
            None
        } else {
            Some((index, text))
        }
    }

    fn bad(&self, index: usize, value: &str, expected: String) -> TraceError {
        TraceError::BadValue {
            file: self.file.to_owned(),
            line: self.row.line,
            column: self.layout.columns.get(index).cloned().unwrap_or_default(),
            index: index + 1,
            value: shown(value),
            expected,
        }
    }

    fn status(&self, column: usize) -> Result<(TaskOutcome, bool), TraceError> {
        let text = self.row.fields.get(column).unwrap_or("").trim();
        match text {
            "COMPLETED" => Ok((TaskOutcome::Completed, false)),
            "FAILED" => Ok((TaskOutcome::Failed, false)),
            "ABORTED" => Ok((TaskOutcome::Aborted, false)),
            // The outcome of a cached row is the earlier run's; the row is dropped anyway.
            "CACHED" => Ok((TaskOutcome::Completed, true)),
            other => Err(TraceError::UnknownStatus {
                file: self.file.to_owned(),
                line: self.row.line,
                index: column + 1,
                value: shown(other),
            }),
        }
    }

    /// The task's name and process, each built from the other when its column is absent.
    fn name_and_process(
        &self,
        columns: &Columns,
        tag: Option<&str>,
    ) -> Result<(String, String), TraceError> {
        let name = self.text(columns.name).map(|(_, text)| text.to_owned());
        let process = self.text(columns.process).map(|(_, text)| text.to_owned());
        match (name, process) {
            (Some(name), Some(process)) => Ok((name, process)),
            (Some(name), None) if columns.process.is_none() => {
                let process = process_of_name(&name, tag);
                Ok((name, process))
            }
            (None, Some(process)) if columns.name.is_none() => {
                let name = match tag {
                    Some(tag) => format!("{process} ({tag})"),
                    None => process.clone(),
                };
                Ok((name, process))
            }
            // A column that is there but empty or `-`: a task must have a name and a process.
            (name, _) => {
                let index = if name.is_none() { columns.name } else { columns.process };
                let index = index.unwrap_or(columns.status);
                let value = self.row.fields.get(index).unwrap_or("");
                Err(self.bad(index, value, "a task or process name, not `-` or nothing".into()))
            }
        }
    }

    /// An unsigned whole number that must fit in `T`.
    fn whole<T: TryFrom<u64>>(
        &self,
        column: Option<usize>,
        what: &str,
    ) -> Result<Option<T>, TraceError> {
        let Some((index, text)) = self.text(column) else {
            return Ok(None);
        };
        let value = units::parse_unsigned(text)
            .map_err(|problem| self.bad(index, text, with_problem(what, problem)))?;
        T::try_from(value)
            .map(Some)
            .map_err(|_| self.bad(index, text, with_problem(what, ValueProblem::Overflow)))
    }

    fn exit(&self, column: Option<usize>) -> Result<Option<i32>, TraceError> {
        let what = "an exit status: a whole number";
        let Some((index, text)) = self.text(column) else {
            return Ok(None);
        };
        let value = units::parse_signed(text)
            .map_err(|problem| self.bad(index, text, with_problem(what, problem)))?;
        i32::try_from(value)
            .map(Some)
            .map_err(|_| self.bad(index, text, with_problem(what, ValueProblem::Overflow)))
    }

    fn timestamp(&self, column: Option<usize>) -> Result<Option<i64>, TraceError> {
        let Some((index, text)) = self.text(column) else {
            return Ok(None);
        };
        let parsed = match self.layout.units {
            Units::Human => units::parse_timestamp_ms(text),
            Units::Raw => units::parse_raw_timestamp_ms(text),
        };
        let ms = parsed
            .map_err(|problem| self.unit_error(index, text, ValueKind::Timestamp, problem))?;
        self.plausible(index, text, bounds::timestamp(ms))?;
        Ok(Some(ms))
    }

    /// A duration (ms) or a size (bytes), read in the trace's unit mode.
    fn measured(&self, column: Option<usize>, kind: ValueKind) -> Result<Option<u64>, TraceError> {
        let Some((index, text)) = self.text(column) else {
            return Ok(None);
        };
        let parsed = match (kind, self.layout.units) {
            (ValueKind::Duration, Units::Human) => units::parse_duration_ms(text),
            (ValueKind::Duration, Units::Raw) => units::parse_raw_duration_ms(text),
            (ValueKind::Size, Units::Human) => units::parse_size_bytes(text),
            (ValueKind::Size, Units::Raw) => units::parse_raw_size_bytes(text),
            (ValueKind::Timestamp | ValueKind::Percent, _) => Err(ValueProblem::Malformed),
        };
        let value = parsed.map_err(|problem| self.unit_error(index, text, kind, problem))?;
        let broken = match kind {
            ValueKind::Duration => bounds::duration(value),
            _ => bounds::memory(value),
        };
        self.plausible(index, text, broken)?;
        Ok(Some(value))
    }

    fn percent(&self, column: Option<usize>) -> Result<Option<f64>, TraceError> {
        let Some((index, text)) = self.text(column) else {
            return Ok(None);
        };
        let percent = units::parse_percent(text, self.layout.units == Units::Raw)
            .map_err(|problem| self.unit_error(index, text, ValueKind::Percent, problem))?;
        self.plausible(index, text, bounds::cpu_percent(percent))?;
        Ok(Some(percent))
    }

    fn cpus(&self, column: Option<usize>) -> Result<Option<u32>, TraceError> {
        let cpus: Option<u32> = self.whole(column, "a cpu count: a whole number")?;
        if let (Some(count), Some((index, text))) = (cpus, self.text(column)) {
            self.plausible(index, text, bounds::cpus(count))?;
        }
        Ok(cpus)
    }

    /// An error when `broken` names a bound the value at `index` breaks.
    fn plausible(
        &self,
        index: usize,
        text: &str,
        broken: Option<String>,
    ) -> Result<(), TraceError> {
        match broken {
            None => Ok(()),
            Some(bound) => Err(TraceError::Implausible {
                file: self.file.to_owned(),
                line: self.row.line,
                column: self.layout.columns.get(index).cloned().unwrap_or_default(),
                index: index + 1,
                value: shown(text),
                bound,
            }),
        }
    }

    /// The error for a unit-bearing value, saying so when it would read in the other mode.
    fn unit_error(
        &self,
        index: usize,
        text: &str,
        kind: ValueKind,
        problem: ValueProblem,
    ) -> TraceError {
        let units = self.layout.units;
        let mut expected = with_problem(kind.expected(units), problem);
        let other = match units {
            Units::Human => Units::Raw,
            Units::Raw => Units::Human,
        };
        if let (true, Some(evidence)) = (kind.reads_as(text, other), &self.layout.units_evidence) {
            expected.push_str(&format!(
                "; the value is in {} units, but the trace mixes modes: it was read as {} \
                 from line {} column `{}` value `{}`",
                other.as_str(),
                units.as_str(),
                evidence.line,
                evidence.column,
                evidence.value
            ));
        }
        self.bad(index, text, expected)
    }
}

/// The expected-value text for an error, saying what was wrong beyond the shape.
fn with_problem(what: &str, problem: ValueProblem) -> String {
    match problem {
        ValueProblem::Malformed => what.to_owned(),
        ValueProblem::Negative => format!("{what}; negative values are not allowed"),
        ValueProblem::Overflow => format!("{what}; this one is too large for its field"),
    }
}

/// The process of a task named `name`: the name without its ` (tag)` suffix.
///
/// Process names hold no spaces (they are `SCOPE:SUB:PROCESS` identifiers), so when the tag is
/// unknown the suffix starts at the first ` (`.
fn process_of_name(name: &str, tag: Option<&str>) -> String {
    if let Some(tag) = tag {
        if let Some(process) = name.strip_suffix(&format!(" ({tag})")) {
            return process.to_owned();
        }
    }
    match name.find(" (") {
        Some(cut) if name.ends_with(')') && cut > 0 => name[..cut].to_owned(),
        _ => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Trace, TraceError> {
        parse_bytes(text.as_bytes(), "t.txt")
    }

    const HUMAN_HEADER: &str = "task_id\tname\tstatus\texit\tsubmit\trealtime\t%cpu\tpeak_rss";

    #[test]
    fn process_comes_from_the_name() {
        assert_eq!(process_of_name("A:B:FASTQC (SRR1)", None), "A:B:FASTQC");
        assert_eq!(process_of_name("demux (primer removal: x.ccs)", None), "demux");
        assert_eq!(process_of_name("get_software_versions", None), "get_software_versions");
        assert_eq!(process_of_name("P (a (b))", Some("a (b)")), "P");
        assert_eq!(process_of_name("P (unbalanced", None), "P (unbalanced");
        assert_eq!(process_of_name(" (x)", None), " (x)");
    }

    #[test]
    fn a_human_row_reads_with_every_unit_converted() {
        let row = "7\tP (x)\tFAILED\t137\t2021-02-17 17:03:21.800\t1m 20s\t1577.7%\t22.9 GB";
        let text = format!("{HUMAN_HEADER}\n{row}\n");
        let trace = parse(&text).unwrap();
        assert_eq!(trace.layout.units, Units::Human);
        assert_eq!(trace.layout.separator, '\t');
        let evidence = trace.layout.units_evidence.as_ref().unwrap();
        assert_eq!((evidence.line, evidence.column.as_str()), (2, "submit"));
        let task = &trace.tasks[0];
        assert_eq!(task.line, 2);
        assert_eq!(task.task_id, Some(7));
        assert_eq!(task.process, "P");
        assert_eq!(task.status, TaskOutcome::Failed);
        assert_eq!(task.exit_code, Some(137));
        assert_eq!(task.submit_ms, Some(1_613_581_401_800));
        assert_eq!(task.realtime_ms, Some(80_000));
        assert_eq!(task.cpu_percent, Some(1577.7));
        assert_eq!(task.peak_rss_bytes, Some(24_588_687_770));
    }

    #[test]
    fn dashes_and_empty_fields_are_missing_values() {
        let text = format!("{HUMAN_HEADER}\n8\tP (1)\tFAILED\t-\t-\t-\t-\t\n");
        let task = &parse(&text).unwrap().tasks[0];
        assert_eq!(task.exit_code, None);
        assert_eq!(task.submit_ms, None);
        assert_eq!(task.realtime_ms, None);
        assert_eq!(task.cpu_percent, None);
        assert_eq!(task.peak_rss_bytes, None);
    }

    #[test]
    fn units_default_to_human_when_nothing_decides() {
        let text = format!("{HUMAN_HEADER}\n8\tP\tFAILED\t1\t-\t-\t-\t0\n");
        let trace = parse(&text).unwrap();
        assert_eq!(trace.layout.units, Units::Human);
        assert_eq!(trace.layout.units_evidence, None);
        assert_eq!(trace.tasks[0].peak_rss_bytes, Some(0));
    }

    #[test]
    fn blank_lines_and_crlf_are_tolerated() {
        let text =
            format!("\r\n{HUMAN_HEADER}\r\n\r\n1\tP\tCOMPLETED\t0\t-\t1s\t1.0%\t1 KB\r\n  \n");
        let trace = parse(&text).unwrap();
        assert_eq!(trace.tasks.len(), 1);
        assert_eq!(trace.tasks[0].line, 4);
        assert_eq!(trace.tasks[0].peak_rss_bytes, Some(1024));
    }

    #[test]
    fn a_name_is_built_from_process_and_tag_without_a_name_column() {
        let text = "process,tag,status,realtime\nP,t1,COMPLETED,1s\nQ,-,COMPLETED,2s\n";
        let trace = parse(text).unwrap();
        assert_eq!(trace.tasks[0].name, "P (t1)");
        assert_eq!(trace.tasks[1].name, "Q");
        assert_eq!(trace.tasks[1].tag, None);
    }

    #[test]
    fn a_dash_name_is_an_error() {
        let err = parse("name\tstatus\trealtime\n-\tCOMPLETED\t1s\n").unwrap_err();
        assert_eq!((err.line(), err.column()), (Some(2), Some("name")));
    }

    /// Regression: a trace without `realtime` replayed every task in 0 s
    /// (and printed NaN against the lower bound); the column is required.
    #[test]
    fn a_trace_without_realtime_is_an_error_naming_the_column() {
        let err = parse("task_id\tname\tstatus\n1\tP\tCOMPLETED\n").unwrap_err();
        assert!(matches!(&err, TraceError::MissingColumn { column, .. } if column == "realtime"));
        assert!(err.to_string().starts_with("t.txt:1: missing required column `realtime`"));
    }

    /// Regression: a 20 MB header was echoed whole in the error message.
    #[test]
    fn a_huge_header_is_cut_in_the_message_which_says_how_long_it_is() {
        let text = format!("task_id\t{}\n1\tP\n", "x".repeat(20_000_000));
        let message = parse(&text).unwrap_err().to_string();
        assert!(message.len() < 400, "{} bytes", message.len());
        assert!(message.contains("(2 columns, 20000008 characters in all)"), "{message}");
        let mut many: Vec<String> = (0..100).map(|i| format!("c{i}")).collect();
        many[0] = "task_id".into();
        let message = parse(&format!("{}\n1\n", many.join("\t"))).unwrap_err().to_string();
        assert!(message.contains("c39 and 60 more"), "{message}");
    }

    /// Regression: absurd values (a realtime of 2^64 ms, 5e12 hours, a
    /// submission in the year 292 million, a peak of 16 EiB) were replayed.
    #[test]
    fn implausible_values_are_errors_naming_file_line_column_value_and_bound() {
        let header = "task_id\tname\tstatus\tsubmit\trealtime\t%cpu\tpeak_rss\tcpus";
        let good = ["1", "P", "COMPLETED", "2021-02-17 17:03:21.800", "1m", "100%", "1 GB", "2"];
        let cases: [(usize, &str, &str); 7] = [
            (4, "5000000000000h", "at most 365 days"),
            (4, "18446744073709551615ms", "at most 365 days"),
            (3, "1970-01-01 00:00:00.000", "between 2000-01-01 and 2100-01-01"),
            (6, "1 PB", "at most 64 TiB"),
            (6, "15 EB", "at most 64 TiB"),
            (7, "100000", "at most 4096 cpus"),
            (5, "99999999%", "at most 409600%"),
        ];
        for (column, value, bound) in cases {
            let mut row = good.map(String::from);
            row[column] = value.to_string();
            let text = format!("{header}\n{}\n", row.join("\t"));
            let err = parse(&text).unwrap_err();
            assert!(matches!(err, TraceError::Implausible { .. }), "{value}: {err}");
            let message = err.to_string();
            assert!(message.starts_with("t.txt:2: column"), "{message}");
            assert!(message.contains(&format!("implausible value `{value}`")), "{message}");
            assert!(message.contains(bound), "{message}");
        }
        let raw = "task_id,name,status,submit,realtime,peak_rss\n";
        for (row, column) in [
            ("1,P,COMPLETED,1613581401800,18446744073709551615,0", "realtime"),
            ("1,P,COMPLETED,1613581401800,9223372036854775807,0", "realtime"),
            ("1,P,COMPLETED,9223372036854775807,1000,0", "submit"),
            ("1,P,COMPLETED,1613581401800,1000,18446744073709551615", "peak_rss"),
        ] {
            let err = parse(&format!("{raw}{row}\n")).unwrap_err();
            assert!(matches!(err, TraceError::Implausible { .. }), "{row}: {err}");
            assert_eq!(err.column(), Some(column), "{row}");
        }
    }

    #[test]
    fn mixed_modes_are_explained() {
        let text = format!(
            "{HUMAN_HEADER}\n1\tP\tCOMPLETED\t0\t-\t1s\t1.0%\t0\n\
             2\tP\tCOMPLETED\t0\t-\t1000\t1.0%\t0\n"
        );
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.starts_with("t.txt:3: column 6 `realtime`: bad value `1000`"), "{err}");
        assert!(err.contains("mixes modes"), "{err}");
        assert!(err.contains("line 2 column `realtime` value `1s`"), "{err}");
    }

    #[test]
    fn the_first_cached_row_is_counted_not_returned() {
        let text = format!(
            "{HUMAN_HEADER}\n1\tP\tCACHED\t0\t-\t1s\t1.0%\t0\n2\tP\tCOMPLETED\t0\t-\t1s\t1.0%\t0\n"
        );
        let trace = parse(&text).unwrap();
        assert_eq!(trace.skipped_cached, 1);
        assert_eq!(trace.tasks.len(), 1);
        assert_eq!(trace.tasks[0].task_id, Some(2));
    }

    #[test]
    fn bad_values_in_cached_rows_are_still_errors() {
        let text = format!("{HUMAN_HEADER}\n1\tP\tCACHED\t0\t-\t1 fortnight\t1.0%\t0\n");
        let err = parse(&text).unwrap_err();
        assert_eq!((err.line(), err.column()), (Some(2), Some("realtime")));
    }
}
