//! The SVG pictures of `--out`: cost per strategy against the lower bound,
//! instances running and utilization over time per strategy, and requested
//! against used resource-time per process.
//!
//! Pictures are drawn with plotters' SVG backend only; text is laid out with
//! its built-in estimate of glyph widths (no font files are read). Each
//! picture keeps its legend in a strip of its own below the plot, so that
//! no legend hides a bar or a line; a picture with nothing to show (an empty
//! run) keeps a unit axis and says so in its title.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::OutError;
use crate::detail::ReplayDetail;
use crate::metrics::ProcessResources;
use crate::replay::StrategyReport;

const SIZE: (u32, u32) = (960, 540);
/// Height of the legend strip under each plot, pixels.
const LEGEND_HEIGHT: u32 = 34;
const REQUESTED: RGBColor = RGBColor(0x99, 0x99, 0x99);
const ALLOCATED: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const USED: RGBColor = RGBColor(0x2c, 0xa0, 0x2c);
const BOUND: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const SPOT: RGBColor = RGBColor(0xff, 0x7f, 0x0e);

/// Every picture of one trace's strategies.
pub(super) fn write_charts(dir: &Path, strategies: &[StrategyReport]) -> Result<(), OutError> {
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

fn plot_error(path: &Path) -> impl Fn(String) -> OutError + '_ {
    move |message| OutError::Plot { path: path.display().to_string(), message }
}

/// How a legend entry is drawn: a filled box (bars) or a line.
#[derive(Debug, Clone, Copy)]
enum Swatch {
    Box,
    Line,
}

/// The legend entries, left to right, in the strip under the plot.
fn legend(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    entries: &[(String, RGBColor, Swatch)],
) -> Result<(), String> {
    area.fill(&WHITE).map_err(|e| e.to_string())?;
    let style = TextStyle::from(("sans-serif", 13)).pos(Pos::new(HPos::Left, VPos::Center));
    let y = (LEGEND_HEIGHT / 2) as i32;
    let mut x = 16;
    for (name, color, swatch) in entries {
        match swatch {
            Swatch::Box => {
                area.draw(&Rectangle::new([(x, y - 6), (x + 12, y + 6)], color.filled()))
            }
            Swatch::Line => {
                area.draw(&PathElement::new([(x, y), (x + 14, y)], color.stroke_width(2)))
            }
        }
        .map_err(|e| e.to_string())?;
        area.draw(&Text::new(name.clone(), (x + 20, y), style.clone()))
            .map_err(|e| e.to_string())?;
        // plotters' own estimate of sans-serif at 13 px is about 7 px a character.
        x += 20 + 7 * name.chars().count() as i32 + 24;
    }
    Ok(())
}

/// The top of an axis that shows `max`, with room above; a unit axis when
/// there is nothing positive to show.
fn axis_top(max: f64) -> f64 {
    if max.is_finite() && max > 0.0 {
        max * 1.1
    } else {
        1.0
    }
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
    let height = SIZE.1.max(60 + 28 * categories.len() as u32) + LEGEND_HEIGHT;
    let root = SVGBackend::new(path, (SIZE.0, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    let (plot, strip) = root.split_vertically(height - LEGEND_HEIGHT);
    let max = series
        .iter()
        .flat_map(|(_, _, v)| v.iter().copied())
        .chain(marker.map(|m| m.1))
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let title = if max > 0.0 { title.to_string() } else { format!("{title} (nothing to show)") };
    let n = categories.len().max(1) as f64;
    let longest = categories.iter().map(|c| c.chars().count()).max().unwrap_or(4) as u32;
    let mut chart = ChartBuilder::on(&plot)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size((longest * 7 + 12).min(360))
        .build_cartesian_2d(0.0..axis_top(max), -0.5..n - 0.5)
        .map_err(|e| fail(e.to_string()))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc(x_desc)
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    let width = 0.8 / series.len().max(1) as f64;
    let mut entries = Vec::new();
    for (k, (name, color, values)) in series.iter().enumerate() {
        let bars = values.iter().enumerate().map(|(i, &v)| {
            let y0 = i as f64 - 0.4 + k as f64 * width;
            Rectangle::new([(0.0, y0), (v.max(0.0), y0 + width * 0.9)], color.filled())
        });
        chart.draw_series(bars).map_err(|e| fail(e.to_string()))?;
        entries.push((name.to_string(), *color, Swatch::Box));
    }
    if let Some((name, at)) = marker {
        chart
            .draw_series(LineSeries::new([(at, -0.5), (at, n - 0.5)], BOUND.stroke_width(2)))
            .map_err(|e| fail(e.to_string()))?;
        entries.push((format!("{name} {at:.4}"), BOUND, Swatch::Line));
    }
    let label = TextStyle::from(("sans-serif", 13)).pos(Pos::new(HPos::Right, VPos::Center));
    for (i, name) in categories.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(0.0, i as f64));
        plot.draw(&Text::new(name.clone(), (x - 6, y), label.clone()))
            .map_err(|e| fail(e.to_string()))?;
    }
    legend(&strip, &entries).map_err(&fail)?;
    root.present().map_err(|e| fail(e.to_string()))
}

/// A named, coloured line of (hours, value) points.
type Line<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

/// Lines over time (hours on the x axis).
fn line_chart(path: &Path, title: &str, y_desc: &str, series: &[Line<'_>]) -> Result<(), OutError> {
    let fail = plot_error(path);
    let height = SIZE.1 + LEGEND_HEIGHT;
    let root = SVGBackend::new(path, (SIZE.0, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    let (plot, strip) = root.split_vertically(SIZE.1);
    let points = || series.iter().flat_map(|(_, _, p)| p.iter().copied());
    let x_max = points().map(|p| p.0).fold(0.0_f64, f64::max);
    let y_max = points().map(|p| p.1).fold(0.0_f64, f64::max);
    let title = if x_max > 0.0 { title.to_string() } else { format!("{title} (nothing ran)") };
    let mut chart = ChartBuilder::on(&plot)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..if x_max > 0.0 { x_max } else { 1.0 }, 0.0..axis_top(y_max))
        .map_err(|e| fail(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("hours since the first submission")
        .y_desc(y_desc)
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    let mut entries = Vec::new();
    for (name, color, points) in series {
        chart
            .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)))
            .map_err(|e| fail(e.to_string()))?;
        entries.push((name.to_string(), *color, Swatch::Line));
    }
    legend(&strip, &entries).map_err(&fail)?;
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

/// Labels for process paths (`SCOPE:SUB:PROCESS`): the last part, or as
/// many parts from the end as it takes to tell apart processes whose last
/// parts are the same (two `SALMON_QUANT` under different subworkflows).
pub(crate) fn process_labels(processes: &[&str]) -> Vec<String> {
    let parts: Vec<Vec<&str>> = processes.iter().map(|p| p.split(':').collect()).collect();
    let tail = |i: usize, k: usize| {
        let p = &parts[i];
        p[p.len().saturating_sub(k)..].join(":")
    };
    let mut depth = vec![1; processes.len()];
    loop {
        let labels: Vec<String> = (0..processes.len()).map(|i| tail(i, depth[i])).collect();
        let mut grew = false;
        for i in 0..processes.len() {
            let clash = (0..processes.len()).any(|j| j != i && labels[j] == labels[i]);
            if clash && depth[i] < parts[i].len() {
                depth[i] += 1;
                grew = true;
            }
        }
        if !grew {
            return labels;
        }
    }
}

fn requested_vs_used(dir: &Path, processes: &[ProcessResources]) -> Result<(), OutError> {
    let shown: Vec<&ProcessResources> = processes.iter().take(PROCESSES_SHOWN).collect();
    let names = process_labels(&shown.iter().map(|p| p.process.as_str()).collect::<Vec<_>>());
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: two processes ending in `SALMON_QUANT` got the same label.
    #[test]
    fn processes_with_the_same_last_part_get_labels_that_tell_them_apart() {
        let labels = process_labels(&[
            "NFCORE_RNASEQ:RNASEQ:QUANTIFY_SALMON:SALMON_QUANT",
            "NFCORE_RNASEQ:RNASEQ:FASTQ_SUBSAMPLE_FQ_SALMON:SALMON_QUANT",
            "NFCORE_RNASEQ:RNASEQ:FASTQC",
            "MULTIQC",
        ]);
        assert_eq!(
            labels,
            [
                "QUANTIFY_SALMON:SALMON_QUANT",
                "FASTQ_SUBSAMPLE_FQ_SALMON:SALMON_QUANT",
                "FASTQC",
                "MULTIQC"
            ]
        );
    }

    #[test]
    fn identical_paths_stop_growing() {
        assert_eq!(process_labels(&["A:B", "A:B"]), ["A:B", "A:B"]);
        assert!(process_labels(&[]).is_empty());
    }

    /// Regression: the legend sat on the bars, and an empty run's axes read
    /// 0.0 at every tick.
    #[test]
    fn legends_sit_below_the_plot_and_an_empty_chart_keeps_a_unit_axis() {
        let dir = std::env::temp_dir().join(format!("sched-sim-charts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("empty.svg");
        let categories = vec!["greedy".to_string()];
        hbar_chart(&path, "Cost", "USD", &categories, &[("cost $", ALLOCATED, vec![0.0])], None)
            .unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.contains("nothing to show"), "{svg}");
        assert!(svg.contains("\n1.0\n"), "no unit axis: {svg}");
        // The legend's text is in the strip below the plot area.
        let height = SIZE.1 + LEGEND_HEIGHT;
        assert!(svg.contains(&format!("height=\"{height}\"")), "{svg}");
        let legend_y = svg
            .split("<text")
            .filter(|t| t.contains("\ncost $\n"))
            .filter_map(|t| t.split("y=\"").nth(1)?.split('"').next()?.parse::<f64>().ok())
            .next()
            .expect("a legend entry");
        assert!(legend_y > SIZE.1 as f64, "legend at y={legend_y}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
