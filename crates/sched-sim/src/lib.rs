//! Replays real pipeline traces through the scheduler on a simulated cloud.
//!
//! The simulator answers "what would this run have cost?" for a Nextflow
//! trace, under our engine and under the usual alternatives, on the same
//! catalog and the same simulated cloud.
//!
//! - [`trace`]: readers for Nextflow execution traces (human and raw layouts).
//! - [`workload`]: a trace turned into task specs, arrivals and scripts.
//! - [`cloud`]: a simulated cloud implementing the core `Provider` trait.
//! - [`clocked`]: the clocked-cloud surface the driver needs, with or without faults.
//! - [`recovery`]: retries, reconciliation and the fault figures of a replay.
//! - [`strategy`]: the strategies compared (`single-instance`, `per-task`, `greedy`).
//! - [`replay`]: the driver that runs a workload through the engine.
//! - [`learn`]: right-sizing models learned from earlier traces or a hold-out split.
//! - [`oom`]: the out-of-memory guard that retries killed tasks with more memory.
//! - [`metrics`]: spot outcomes and per-process Requested / Allocated / Used.
//! - [`report`]: the JSON report and the table.
//! - [`solve_log`]: per-decision solver outcomes, rolled up.
//! - [`predict`]: cost prediction over seeded spot draws, in parallel.
//! - [`commands`]: the `predict` and `sweep` subcommands and the progress bar.
//! - [`detail`]: per-task records and rentals over time of one replay.
//! - [`out`]: the `--out` directory: JSON, per-task CSV and SVG pictures.
//! - [`cli`]: the `sched-sim` command line.
//! - [`console`]: the progress bar and the log lines on stderr, for the binary.
#![deny(missing_docs)]

pub mod cli;
pub mod clocked;
pub mod cloud;
pub mod commands;
pub mod console;
pub mod detail;
pub mod learn;
pub mod metrics;
pub mod oom;
pub mod out;
pub mod predict;
pub mod recovery;
pub mod replay;
pub mod report;
mod report_faults;
pub mod solve_log;
pub mod strategy;
pub mod trace;
pub mod workload;
