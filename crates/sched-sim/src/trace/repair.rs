//! Repair of rows whose free-text fields contain the separator.
//!
//! Nextflow does not quote trace fields. A task's `tag` is user text, and `name` repeats it as
//! `process (tag)`, so a tag that contains the separator splits the row into more fields than
//! the header has. The extra fields can only have come from `tag` and `name`, the two free-text
//! columns: every column before the first of them keeps its field, every column after the last
//! of them takes its field counting from the end, and the fields between are shared out between
//! `tag` and `name`. Of all the ways to share them, the right one makes `name` read
//! `process (tag)`. A row is repaired only when exactly one way does; otherwise its field count
//! is unexplained and the reader reports it.
//!
//! Other free text (`workdir`, `env`, `script`) is not considered: no bundled trace needs it and
//! it cannot be cross-checked the way `name` checks `tag`.

/// Most extra fields a repair will consider; more is not a tag with a few separators in it.
const MAX_EXTRA_FIELDS: usize = 256;

/// Where the columns that take part in a repair sit in the header.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RepairColumns {
    /// Position of `name`.
    pub name: Option<usize>,
    /// Position of `tag`.
    pub tag: Option<usize>,
    /// Position of `process`.
    pub process: Option<usize>,
}

/// Shares out the extra fields of `fields` so that the row has `width` fields and `name` reads
/// `process (tag)`.
///
/// `fields` must be longer than `width`. Returns the repaired row, or the reason no repair is
/// possible, phrased to follow "the row has N fields but the header has M: ".
pub(crate) fn repair_row(
    fields: &[&str],
    width: usize,
    columns: RepairColumns,
    separator: char,
) -> Result<Vec<String>, String> {
    let extra = fields.len().saturating_sub(width);
    if extra == 0 {
        return Err("nothing to repair".to_owned());
    }
    if extra > MAX_EXTRA_FIELDS {
        return Err(format!("{extra} extra fields are too many to come from a tag"));
    }
    let Some(name) = columns.name else {
        return Err("without a `name` column the extra fields cannot be placed".to_owned());
    };
    if columns.tag.is_none() && columns.process.is_none() {
        return Err(
            "without a `tag` or `process` column the split of `name` cannot be checked".to_owned()
        );
    }
    let mut free: Vec<usize> = columns.tag.into_iter().chain([name]).collect();
    free.sort_unstable();
    free.dedup();
    let first = free[0];
    let last = free[free.len() - 1];

    let mut consistent: Vec<Vec<String>> = Vec::new();
    for to_first in 0..=extra {
        // With one free column it takes every extra field; with two the first takes `to_first`.
        if free.len() == 1 && to_first != extra {
            continue;
        }
        let widths = |column: usize| -> usize {
            if column == first {
                1 + to_first
            } else if column == last {
                1 + extra - to_first
            } else {
                1
            }
        };
        let candidate = assemble(fields, width, first, last, widths, separator);
        if consistent_name(&candidate, columns) && !consistent.contains(&candidate) {
            consistent.push(candidate);
        }
    }
    match consistent.len() {
        1 => Ok(consistent.pop().unwrap_or_default()),
        0 => Err(format!(
            "no way of giving the {extra} extra fields to {} makes `name` read `process (tag)`",
            if free.len() == 2 { "`tag` and `name`" } else { "the free-text column" }
        )),
        n => Err(format!("{n} different ways of placing the {extra} extra fields fit equally")),
    }
}

/// Builds a row of `width` fields, joining the fields of free columns by their `widths`.
fn assemble(
    fields: &[&str],
    width: usize,
    first: usize,
    last: usize,
    widths: impl Fn(usize) -> usize,
    separator: char,
) -> Vec<String> {
    let tail = width - 1 - last;
    let mut row: Vec<String> = fields[..first].iter().map(|f| (*f).to_owned()).collect();
    let mut next = first;
    for column in first..=last {
        let span = widths(column);
        let joined = fields[next..next + span].join(&separator.to_string());
        row.push(joined);
        next += span;
    }
    row.extend(fields[fields.len() - tail..].iter().map(|f| (*f).to_owned()));
    row
}

/// True when the candidate row's `name` agrees with its `process` and `tag`.
fn consistent_name(row: &[String], columns: RepairColumns) -> bool {
    let Some(name) = columns.name.and_then(|i| row.get(i)) else {
        return false;
    };
    let process = columns.process.and_then(|i| row.get(i)).map(String::as_str);
    let tag = columns.tag.and_then(|i| row.get(i)).map(String::as_str).filter(|t| *t != "-");
    match (process, tag) {
        (Some(process), Some(tag)) => *name == format!("{process} ({tag})"),
        (None, Some(tag)) => name.ends_with(&format!(" ({tag})")),
        // Without a tag Nextflow may still number the task: `process (3)`.
        (Some(process), None) => {
            name == process
                || name.strip_prefix(process).is_some_and(|rest| {
                    rest.starts_with(" (") && rest.ends_with(')') && rest.len() > 3
                })
        }
        (None, None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(row: &str) -> Vec<&str> {
        row.split(';').collect()
    }

    const COLUMNS: RepairColumns = RepairColumns { process: Some(1), tag: Some(2), name: Some(3) };

    #[test]
    fn the_one_consistent_split_is_taken() {
        // id;process;tag;name;status with a tag holding two separators.
        let row = split("74;P;a,b;c:1;d:2;P (a,b;c:1;d:2);COMPLETED");
        let repaired = repair_row(&row, 5, COLUMNS, ';').unwrap();
        assert_eq!(repaired, ["74", "P", "a,b;c:1;d:2", "P (a,b;c:1;d:2)", "COMPLETED"]);
    }

    #[test]
    fn a_name_only_split_is_checked_against_process() {
        let columns = RepairColumns { process: Some(1), tag: None, name: Some(2) };
        let row = split("1;P;P (x;y);COMPLETED");
        assert_eq!(repair_row(&row, 4, columns, ';').unwrap(), ["1", "P", "P (x;y)", "COMPLETED"]);
        let row = split("1;P;Q (x;y);COMPLETED");
        assert!(repair_row(&row, 4, columns, ';').is_err());
    }

    #[test]
    fn unexplained_extra_fields_are_refused() {
        // The extra field is at the end, not in tag or name.
        let row = split("74;P;t;P (t);COMPLETED;junk");
        let reason = repair_row(&row, 5, COLUMNS, ';').unwrap_err();
        assert!(reason.contains("process (tag)"), "{reason}");
        // No name column to check against.
        let columns = RepairColumns { process: Some(1), tag: Some(2), name: None };
        assert!(repair_row(&split("1;P;a;b;X"), 4, columns, ';').is_err());
    }

    #[test]
    fn without_process_the_name_must_end_with_the_tag() {
        let columns = RepairColumns { process: None, tag: Some(1), name: Some(2) };
        let row = split("1;x;y;P (x;y);COMPLETED");
        assert_eq!(
            repair_row(&row, 4, columns, ';').unwrap(),
            ["1", "x;y", "P (x;y)", "COMPLETED"]
        );
    }
}
