//! The `sched-sim` binary: parses arguments, installs logging, prints the report.
//!
//! Exit codes: 0 success; 1 an error (bad input, a replay that cannot
//! finish), printed once without a backtrace; 2 a usage error; 3 some task
//! is UNSCHEDULABLE; 4 a replay under `--faults` lost a task, started one
//! twice or leaked an instance.

use std::process::ExitCode;

use clap::Parser;
use sched_sim::cli::{run_outcome, Cli};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run_outcome(Cli::parse()) {
        Ok(outcome) => {
            println!("{}", outcome.output);
            // 3: some task is UNSCHEDULABLE; 4: a replay under --faults lost
            // a task, started one twice or leaked an instance.
            ExitCode::from(outcome.exit_code())
        }
        Err(error) => {
            eprintln!("error: {error}");
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}
