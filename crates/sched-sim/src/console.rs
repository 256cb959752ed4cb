//! What the `sched-sim` binary shows on stderr besides errors: the progress
//! bar and the log lines.
//!
//! - The progress bar is drawn only when stderr is a terminal and `CI` is
//!   not set: pipes, files and CI logs get none. The bar in use is
//!   registered here, so that a log line clears it, is written, and lets it
//!   be drawn again below ([`StderrWriter`]).
//! - Log lines are coloured only on a terminal with `NO_COLOR` unset.
//! - Unless `RUST_LOG` asks for more, a warning is shown the first time its
//!   call site fires and only counted after that ([`FirstOfEach`]); the
//!   binary prints the counts at the end ([`repeated_summary`]). A replay
//!   under faults or a long spot shortage fires the same few warnings
//!   thousands of times, and the report already counts what they say.
//!
//! A library never installs a subscriber: these pieces are for the binary.

use std::collections::HashMap;
use std::fmt;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use indicatif::{ProgressBar, ProgressStyle};
use tracing::callsite::Identifier;
use tracing::field::{Field, Visit};
use tracing::{Event, Metadata};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Filter};

/// The progress bar drawn now, if any.
static ACTIVE_BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves the data whole, so a poisoned lock is usable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A progress bar of `len` steps on stderr, hidden unless stderr is a
/// terminal outside CI; log lines written through [`StderrWriter`] clear it
/// while they are written.
pub fn progress(len: u64, message: &'static str) -> ProgressBar {
    let shown = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    if !shown || len <= 1 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len).with_message(message);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed}") {
        bar.set_style(style.progress_chars("=> "));
    }
    *lock(&ACTIVE_BAR) = Some(bar.clone());
    bar
}

/// True when log lines on stderr may carry colour: stderr is a terminal and
/// `NO_COLOR` is not set (<https://no-color.org>).
pub fn colour_on_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Writes `line` and a newline on stderr. A stderr that cannot be written
/// (its reader went away, as in `2>&1 | head -1`) loses the line: there is
/// nowhere left to say so, and `eprintln!` would panic instead.
pub fn print_stderr(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}").and_then(|()| err.flush());
}

/// Writes log lines to stderr, clearing the progress bar while it does. A
/// closed stderr drops the lines quietly (see [`print_stderr`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct StderrWriter;

impl Write for StderrWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bar = lock(&ACTIVE_BAR).clone();
        let write = || std::io::stderr().lock().write_all(buf);
        let written = match bar {
            Some(bar) if !bar.is_finished() && !bar.is_hidden() => bar.suspend(write),
            _ => write(),
        };
        match written {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e),
            _ => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match std::io::stderr().flush() {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e),
            _ => Ok(()),
        }
    }
}

impl<'a> MakeWriter<'a> for StderrWriter {
    type Writer = StderrWriter;

    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}

/// How often one call site fired, and what it said the first time.
#[derive(Debug, Clone)]
struct Seen {
    count: u64,
    target: String,
    message: String,
}

/// A per-layer filter that lets an event through the first time its call
/// site fires and counts it after that.
#[derive(Debug, Clone, Default)]
pub struct FirstOfEach {
    seen: Arc<Mutex<HashMap<Identifier, Seen>>>,
}

impl FirstOfEach {
    /// A filter with nothing seen yet.
    pub fn new() -> Self {
        FirstOfEach::default()
    }

    /// The call sites that fired more than once: how many times, the
    /// target, and the first message; most frequent first.
    pub fn repeated(&self) -> Vec<(u64, String, String)> {
        let seen = lock(&self.seen);
        let mut out: Vec<(u64, String, String)> = seen
            .values()
            .filter(|s| s.count > 1)
            .map(|s| (s.count, s.target.clone(), s.message.clone()))
            .collect();
        out.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.2.cmp(&b.2)));
        out
    }
}

impl<S> Filter<S> for FirstOfEach {
    fn enabled(&self, _meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        true
    }

    fn event_enabled(&self, event: &Event<'_>, _cx: &Context<'_, S>) -> bool {
        let meta = event.metadata();
        let mut seen = lock(&self.seen);
        match seen.get_mut(&meta.callsite()) {
            Some(entry) => {
                entry.count += 1;
                false
            }
            None => {
                let mut message = MessageOf(String::new());
                event.record(&mut message);
                let entry =
                    Seen { count: 1, target: meta.target().to_string(), message: message.0 };
                seen.insert(meta.callsite(), entry);
                true
            }
        }
    }
}

/// Collects an event's `message` field.
struct MessageOf(String);

impl Visit for MessageOf {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_string();
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

/// Call sites shown in the summary; the rest are added up in one line.
const SUMMARY_ROWS: usize = 6;

/// The lines that sum up what `filter` held back, or nothing when it held
/// nothing back.
pub fn repeated_summary(filter: &FirstOfEach) -> Vec<String> {
    let repeated = filter.repeated();
    if repeated.is_empty() {
        return Vec::new();
    }
    let hidden: u64 = repeated.iter().map(|(n, _, _)| n - 1).sum();
    let mut lines = vec![format!(
        "{hidden} repeated log line(s) not shown (the first of each is above; RUST_LOG=warn \
         shows them all):"
    )];
    // One row left over is shown rather than summed.
    let rows = if repeated.len() == SUMMARY_ROWS + 1 { repeated.len() } else { SUMMARY_ROWS };
    // Each row counts what it held back, as the header does, so the rows
    // add up to the header's figure (the first of each is already shown).
    for (count, target, message) in repeated.iter().take(rows) {
        lines.push(format!("  {:>9} more x {target}: {message}", count - 1));
    }
    if repeated.len() > rows {
        let rest: u64 = repeated.iter().skip(rows).map(|(n, _, _)| n - 1).sum();
        lines.push(format!("  {rest:>9} more x {} other kind(s)", repeated.len() - rows));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer;

    /// A writer into a shared buffer, to see what the fmt layer wrote.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            lock(&self.0).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    #[test]
    fn repeated_warnings_are_shown_once_and_counted() {
        let filter = FirstOfEach::new();
        let buffer = Buffer::default();
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(buffer.clone())
            .with_filter(filter.clone());
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            for attempt in 0..1000 {
                tracing::warn!(attempt, "launch refused");
            }
            tracing::warn!("something else");
        });
        let text = String::from_utf8(lock(&buffer.0).clone()).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert_eq!(text.matches("launch refused").count(), 1, "{text}");
        let summary = repeated_summary(&filter);
        assert_eq!(summary.len(), 2, "{summary:?}");
        assert!(summary[0].starts_with("999 repeated"), "{summary:?}");
        assert!(summary[1].contains(" 999 more x") && summary[1].contains("launch refused"));
    }

    #[test]
    fn nothing_repeated_sums_up_to_nothing() {
        assert!(repeated_summary(&FirstOfEach::new()).is_empty());
    }
}
