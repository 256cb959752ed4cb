//! The `--out DIR` directory: the JSON report, a CSV of per-task records and
//! SVG pictures.
//!
//! `replay` writes `report.json`, `tasks.csv` (every strategy's task
//! records, one row per engine record, an OOM retry being a record of its
//! own), `cost.svg` (cost per strategy against the lower bound),
//! `instances-<strategy>.svg` (instances running over time by capacity
//! type), `utilization-<strategy>.svg` (allocated and used cpu and memory
//! over paid capacity, over time) and `requested-vs-used-{cpu,memory}.svg`
//! (per process). `predict` writes `prediction.json`, `report.json` (the
//! first draw), `tasks.csv` and the pictures of the first draw, and
//! `draws.csv` (the cost of every draw). Several traces go to one
//! subdirectory each, `trace-1`, `trace-2`, ...
//!
//! Pictures are drawn with plotters' SVG backend only; text is laid out with
//! its built-in estimate of glyph widths (no font files are read).

use std::path::{Path, PathBuf};

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use thiserror::Error;

use crate::detail::ReplayDetail;
use crate::metrics::ProcessResources;
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

/// The CSV and pictures of one trace's strategies.
fn write_trace_files(dir: &Path, strategies: &[StrategyReport]) -> Result<(), OutError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for s in strategies {
        for row in s.detail.iter().flat_map(|d| d.tasks.iter()) {
            writer.serialize(row)?;
        }
    }
    write(&dir.join("tasks.csv"), &writer.into_inner().map_err(|e| e.into_error())?)?;

    cost_chart(&dir.join("cost.svg"), strategies)?;
    for s in strategies {
        if let Some(detail) = &s.detail {
            instances_chart(&dir.join(format!("instances-{}.svg", s.name)), &s.name, detail)?;
            utilization_chart(&dir.join(format!("utilization-{}.svg", s.name)), &s.name, detail)?;
        }
    }
    // The right-sized replay shows what right-sizing allocates; else the first.
    let shown =
        strategies.iter().find(|s| s.name.starts_with("greedy-rightsized")).or(strategies.first());
    if let Some(s) = shown {
        requested_vs_used(dir, &s.processes)?;
    }
    Ok(())
}

const SIZE: (u32, u32) = (960, 540);
const REQUESTED: RGBColor = RGBColor(0x99, 0x99, 0x99);
const ALLOCATED: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const USED: RGBColor = RGBColor(0x2c, 0xa0, 0x2c);
const BOUND: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const SPOT: RGBColor = RGBColor(0xff, 0x7f, 0x0e);

fn plot_error(path: &Path) -> impl Fn(String) -> OutError + '_ {
    move |message| OutError::Plot { path: path.display().to_string(), message }
}

/// Horizontal bars: one group per category, one bar per series, and an
/// optional vertical marker line.
fn hbar_chart(
    path: &Path,
    title: &str,
    x_desc: &str,
    categories: &[String],
    series: &[(&str, RGBColor, Vec<f64>)],
    marker: Option<(&str, f64)>,
) -> Result<(), OutError> {
    let fail = plot_error(path);
    let root = SVGBackend::new(path, (SIZE.0, SIZE.1.max(60 + 28 * categories.len() as u32)))
        .into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    let top = series
        .iter()
        .flat_map(|(_, _, v)| v.iter().copied())
        .chain(marker.map(|m| m.1))
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max)
        .max(1e-9)
        * 1.1;
    let n = categories.len().max(1) as f64;
    let longest = categories.iter().map(|c| c.chars().count()).max().unwrap_or(4) as u32;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size((longest * 7 + 12).min(360))
        .build_cartesian_2d(0.0..top, -0.5..n - 0.5)
        .map_err(|e| fail(e.to_string()))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc(x_desc)
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    let width = 0.8 / series.len().max(1) as f64;
    for (k, (name, color, values)) in series.iter().enumerate() {
        let bars = values.iter().enumerate().map(|(i, &v)| {
            let y0 = i as f64 - 0.4 + k as f64 * width;
            Rectangle::new([(0.0, y0), (v.max(0.0), y0 + width * 0.9)], color.filled())
        });
        chart
            .draw_series(bars)
            .map_err(|e| fail(e.to_string()))?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
    }
    if let Some((name, at)) = marker {
        chart
            .draw_series(LineSeries::new([(at, -0.5), (at, n - 0.5)], BOUND.stroke_width(2)))
            .map_err(|e| fail(e.to_string()))?
            .label(format!("{name} {at:.4}"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 12, y)], BOUND.stroke_width(2)));
    }
    let label = TextStyle::from(("sans-serif", 13)).pos(Pos::new(HPos::Right, VPos::Center));
    for (i, name) in categories.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(0.0, i as f64));
        root.draw(&Text::new(name.clone(), (x - 6, y), label.clone()))
            .map_err(|e| fail(e.to_string()))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    root.present().map_err(|e| fail(e.to_string()))
}

/// A named, coloured line of (hours, value) points.
type Line<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

/// Lines over time (hours on the x axis).
fn line_chart(path: &Path, title: &str, y_desc: &str, series: &[Line<'_>]) -> Result<(), OutError> {
    let fail = plot_error(path);
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    let points = || series.iter().flat_map(|(_, _, p)| p.iter().copied());
    let x_max = points().map(|p| p.0).fold(0.0_f64, f64::max).max(1e-6);
    let y_max = points().map(|p| p.1).fold(0.0_f64, f64::max).max(1e-6) * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(|e| fail(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("hours since the first submission")
        .y_desc(y_desc)
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    for (name, color, points) in series {
        let color = *color;
        chart
            .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)))
            .map_err(|e| fail(e.to_string()))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 12, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    root.present().map_err(|e| fail(e.to_string()))
}

fn cost_chart(path: &Path, strategies: &[StrategyReport]) -> Result<(), OutError> {
    let names: Vec<String> = strategies.iter().map(|s| s.name.clone()).collect();
    let costs = strategies.iter().map(|s| s.cost_usd).collect();
    let bound = strategies.first().map(|s| s.pattern_bound_usd.unwrap_or(s.lower_bound_usd));
    let marker = bound.map(|b| ("lower bound $", b));
    hbar_chart(path, "Cost per strategy", "USD", &names, &[("cost $", ALLOCATED, costs)], marker)
}

/// A step function's corner points from (time, +/-1) changes.
fn steps(mut changes: Vec<(f64, i64)>) -> Vec<(f64, f64)> {
    changes.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut out = vec![(0.0, 0.0)];
    let mut level = 0i64;
    for (at, delta) in changes {
        let hours = at / 3600.0;
        out.push((hours, level as f64));
        level += delta;
        out.push((hours, level as f64));
    }
    out
}

fn instances_chart(path: &Path, name: &str, detail: &ReplayDetail) -> Result<(), OutError> {
    use sched_core::catalog::CapacityType;
    let of = |kind: CapacityType| {
        steps(
            detail
                .rentals
                .iter()
                .filter(|r| r.capacity_type == kind)
                .flat_map(|r| [(r.from_s, 1), (r.to_s, -1)])
                .collect(),
        )
    };
    line_chart(
        path,
        &format!("Instances running, {name}"),
        "instances",
        &[
            ("spot", SPOT, of(CapacityType::Spot)),
            ("on demand", ALLOCATED, of(CapacityType::OnDemand)),
        ],
    )
}

/// Samples in the utilization picture.
const SAMPLES: usize = 400;

fn utilization_chart(path: &Path, name: &str, detail: &ReplayDetail) -> Result<(), OutError> {
    let end = detail.rentals.iter().map(|r| r.to_s).fold(0.0_f64, f64::max);
    let mut series: [Vec<(f64, f64)>; 4] = Default::default();
    for k in 0..=SAMPLES {
        let t = end * k as f64 / SAMPLES as f64;
        let live = detail.rentals.iter().filter(|r| r.from_s <= t && t < r.to_s);
        let (paid_cpu, paid_mib) = live
            .fold((0.0, 0.0), |(c, m), r| (c + r.nominal.cpus(), m + r.nominal.memory_mib as f64));
        let mut sums = [0.0; 4];
        for run in detail.runs.iter().filter(|r| r.from_s <= t && t < r.to_s) {
            sums[0] += run.allocated.cpus();
            sums[1] += run.used_cores;
            sums[2] += run.allocated.memory_mib as f64;
            sums[3] += run.used_memory_mib;
        }
        let pct = |v: f64, of: f64| if of > 0.0 { (v / of * 100.0).min(100.0) } else { 0.0 };
        let hours = t / 3600.0;
        series[0].push((hours, pct(sums[0], paid_cpu)));
        series[1].push((hours, pct(sums[1], paid_cpu)));
        series[2].push((hours, pct(sums[2], paid_mib)));
        series[3].push((hours, pct(sums[3], paid_mib)));
    }
    let [cpu_alloc, cpu_used, mem_alloc, mem_used] = series;
    line_chart(
        path,
        &format!("Utilization of paid capacity, {name}"),
        "% of rented capacity",
        &[
            ("cpu allocated", ALLOCATED, cpu_alloc),
            ("cpu used", USED, cpu_used),
            ("memory allocated", SPOT, mem_alloc),
            ("memory used", BOUND, mem_used),
        ],
    )
}

/// Processes in the requested-vs-used pictures.
const PROCESSES_SHOWN: usize = 15;

fn requested_vs_used(dir: &Path, processes: &[ProcessResources]) -> Result<(), OutError> {
    let shown: Vec<&ProcessResources> = processes.iter().take(PROCESSES_SHOWN).collect();
    let names: Vec<String> = shown
        .iter()
        .map(|p| p.process.rsplit(':').next().unwrap_or(&p.process).to_string())
        .collect();
    let pick =
        |f: &dyn Fn(&ProcessResources) -> f64| shown.iter().map(|p| f(p)).collect::<Vec<_>>();
    let cpu_h = |s: f64| s / 3600.0;
    let gib_h = |s: f64| s / 1024.0 / 3600.0;
    let path: PathBuf = dir.join("requested-vs-used-cpu.svg");
    hbar_chart(
        &path,
        "Cpu by process: requested, allocated, used",
        "cpu-hours",
        &names,
        &[
            ("requested", REQUESTED, pick(&|p| cpu_h(p.requested.cpu_s))),
            ("allocated", ALLOCATED, pick(&|p| cpu_h(p.allocated.cpu_s))),
            ("used", USED, pick(&|p| p.used.map_or(0.0, |u| cpu_h(u.cpu_s)))),
        ],
        None,
    )?;
    hbar_chart(
        &dir.join("requested-vs-used-memory.svg"),
        "Memory by process: requested, allocated, used",
        "GiB-hours",
        &names,
        &[
            ("requested", REQUESTED, pick(&|p| gib_h(p.requested.memory_mib_s))),
            ("allocated", ALLOCATED, pick(&|p| gib_h(p.allocated.memory_mib_s))),
            ("used", USED, pick(&|p| p.used.map_or(0.0, |u| gib_h(u.memory_mib_s)))),
        ],
        None,
    )
}
