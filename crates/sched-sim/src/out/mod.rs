//! The `--out DIR` directory: the JSON report, a CSV of per-task records and
//! SVG pictures.
//!
//! `replay` writes `report.json`, `tasks.csv` (every strategy's task
//! records, one row per engine record, an OOM retry being a record of its
//! own), `costs.csv` (where each strategy's money went: task runs, runs cut
//! short, unallocated room, idle, boot and minimum billing, adding up to its
//! cost), `cost.svg` (cost per strategy against the lower bound),
//! `instances-<strategy>.svg` (instances running over time by capacity
//! type), `utilization-<strategy>.svg` (allocated and used cpu and memory
//! over paid capacity, over time) and `requested-vs-used-{cpu,memory}.svg`
//! (per process). `predict` writes `prediction.json`, `report.json` (the
//! first draw), `tasks.csv` and the pictures of the first draw, and
//! `draws.csv` (the cost of every draw). Several traces go to one
//! subdirectory each, `trace-1`, `trace-2`, ...
//!
//! The pictures are drawn by the `charts` module.

mod charts;

use std::path::Path;

use thiserror::Error;

use crate::predict::Prediction;
use crate::replay::StrategyReport;
use crate::report::Report;

/// Why the output directory could not be written.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OutError {
    /// A file or directory could not be written.
    #[error("could not write {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A CSV row could not be written.
    #[error("could not write CSV: {0}")]
    Csv(#[from] csv::Error),
    /// The JSON could not be serialized.
    #[error("could not write JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A picture could not be drawn.
    #[error("could not draw {path}: {message}")]
    Plot {
        /// The picture.
        path: String,
        /// What plotters said.
        message: String,
    },
}

impl From<std::io::Error> for OutError {
    fn from(source: std::io::Error) -> Self {
        OutError::Io { path: "(csv buffer)".into(), source }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutError + '_ {
    move |source| OutError::Io { path: path.display().to_string(), source }
}

fn create_dir(dir: &Path) -> Result<(), OutError> {
    std::fs::create_dir_all(dir).map_err(io(dir))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), OutError> {
    std::fs::write(path, bytes).map_err(io(path))
}

/// Writes the output of `replay` for `reports` (one per trace).
///
/// # Errors
/// An unwritable directory or file, or a picture plotters cannot draw.
pub fn write_replay(dir: &Path, reports: &[Report]) -> Result<(), OutError> {
    create_dir(dir)?;
    for (index, report) in reports.iter().enumerate() {
        let here = if reports.len() == 1 {
            dir.to_path_buf()
        } else {
            dir.join(format!("trace-{}", index + 1))
        };
        create_dir(&here)?;
        write(&here.join("report.json"), serde_json::to_string_pretty(report)?.as_bytes())?;
        write_trace_files(&here, &report.strategies)?;
    }
    Ok(())
}

/// Writes the output of `predict`: the prediction, the first draw's report
/// and pictures, and every draw's cost.
///
/// # Errors
/// As [`write_replay`].
pub fn write_predict(
    dir: &Path,
    prediction: &Prediction,
    report: &Report,
    draws: &[StrategyReport],
) -> Result<(), OutError> {
    create_dir(dir)?;
    write(&dir.join("prediction.json"), serde_json::to_string_pretty(prediction)?.as_bytes())?;
    write(&dir.join("report.json"), serde_json::to_string_pretty(report)?.as_bytes())?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(["seed", "cost_usd", "makespan_s", "preemptions", "failed"])?;
    for (i, draw) in draws.iter().enumerate() {
        writer.write_record([
            prediction.first_seed.wrapping_add(i as u64).to_string(),
            format!("{:.6}", draw.cost_usd),
            format!("{:.1}", draw.makespan_s),
            draw.spot.preemptions.to_string(),
            draw.tasks.failed.to_string(),
        ])?;
    }
    write(&dir.join("draws.csv"), &writer.into_inner().map_err(|e| e.into_error())?)?;
    write_trace_files(dir, &report.strategies)
}

/// Writes the output of `sweep`: `sweep.csv` (the rows) and `sweep.json`
/// (the rows and their summary).
///
/// # Errors
/// An unwritable directory or file.
pub fn write_sweep(dir: &Path, csv: &str, json: &str) -> Result<(), OutError> {
    create_dir(dir)?;
    write(&dir.join("sweep.csv"), format!("{csv}\n").as_bytes())?;
    write(&dir.join("sweep.json"), json.as_bytes())
}

/// The CSVs and pictures of one trace's strategies.
fn write_trace_files(dir: &Path, strategies: &[StrategyReport]) -> Result<(), OutError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for s in strategies {
        for row in s.detail.iter().flat_map(|d| d.tasks.iter()) {
            writer.serialize(row)?;
        }
    }
    write(&dir.join("tasks.csv"), &writer.into_inner().map_err(|e| e.into_error())?)?;
    write_costs(&dir.join("costs.csv"), strategies)?;
    charts::write_charts(dir, strategies)
}

/// One row per strategy: where its money went ([`CostBreakdown`]), the
/// parts adding up to `cost_usd`.
///
/// [`CostBreakdown`]: crate::detail::CostBreakdown
fn write_costs(path: &Path, strategies: &[StrategyReport]) -> Result<(), OutError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record([
        "strategy",
        "cost_usd",
        "runs_usd",
        "killed_runs_usd",
        "unallocated_usd",
        "idle_usd",
        "boot_usd",
        "minimum_billing_usd",
    ])?;
    for s in strategies {
        let Some(detail) = &s.detail else { continue };
        let c = detail.costs;
        let mut row = vec![s.name.clone()];
        row.extend(
            [
                c.cost_usd,
                c.runs_usd,
                c.killed_runs_usd,
                c.unallocated_usd,
                c.idle_usd,
                c.boot_usd,
                c.minimum_billing_usd,
            ]
            .map(|usd| format!("{usd:.9}")),
        );
        writer.write_record(&row)?;
    }
    write(path, &writer.into_inner().map_err(|e| e.into_error())?)
}
