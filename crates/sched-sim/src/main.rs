//! The `sched-sim` binary: parses arguments, installs logging, prints the report.
//!
//! Exit codes (docs/reliability.md): 0 success; 1 an error (bad input, a
//! replay that cannot finish), printed once without a backtrace; 2 a usage
//! error; 3 some task is UNSCHEDULABLE; 4 a replay under `--faults` lost a
//! task, started one twice or leaked an instance; 5 some task was CANCELLED
//! or FAILED by the replay though its trace run completed.
//!
//! Logging: `warn` by default, each warning shown the first time its call
//! site fires and counted after that, with the counts at the end; `RUST_LOG`
//! chooses the level and shows every line. Colour only on a terminal. A
//! closed stdout (`| head`) ends the output quietly, and so does a closed
//! stderr (`2>&1 | head`).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use sched_sim::cli::{run_outcome, Cli};
use sched_sim::console::{
    colour_on_stderr, print_stderr, repeated_summary, FirstOfEach, StderrWriter,
};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

fn main() -> ExitCode {
    let first_of_each = FirstOfEach::new();
    let every_line = std::env::var_os("RUST_LOG").is_some();
    let level = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let lines = tracing_subscriber::fmt::layer()
        .with_ansi(colour_on_stderr())
        // A line that cannot be written is not reported with `eprintln!`,
        // which panics when stderr is a closed pipe.
        .log_internal_errors(false)
        .with_writer(StderrWriter)
        .with_filter((!every_line).then(|| first_of_each.clone()));
    tracing_subscriber::registry().with(level).with(lines).init();

    let code = match run_outcome(Cli::parse()) {
        Ok(outcome) => {
            print_stdout(&outcome.output);
            ExitCode::from(outcome.exit_code())
        }
        Err(error) => {
            print_stderr(&format!("error: {}", error_chain(&error)));
            ExitCode::FAILURE
        }
    };
    for line in repeated_summary(&first_of_each) {
        print_stderr(&line);
    }
    code
}

/// Prints `text` and a newline on stdout; a reader that went away (`| head`)
/// ends the output quietly, as any other failure to write does after one
/// line on stderr.
fn print_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            // The report is lost; say so where it can still be read.
            let _ = writeln!(std::io::stderr(), "error: could not write to stdout: {e}");
        }
        _ => {}
    }
}

/// The error and each cause whose words it does not already hold, one line
/// each: a message that repeats its source's text is not followed by the
/// same text again.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let words = cause.to_string();
        if !text.contains(&words) {
            text.push_str(&format!("\n  caused by: {words}"));
        }
        source = cause.source();
    }
    text
}
