//! The `predict` and `sweep` subcommands, and the pieces `replay` shares
//! with them: learning the right-sizing model, the prediction check, and
//! the progress bar.
//!
//! The progress bar goes to stderr and only when stderr is a terminal and
//! `CI` is not set: pipes, files and CI logs get none.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use sched_core::rightsize::RightsizeConfig;
use sched_core::Catalog;
use serde::Serialize;

use crate::cli::{
    load_catalog, load_traces, replay_options, report_of, CliError, Format, PredictArgs,
    ReplayArgs, SweepArgs,
};
use crate::learn::{learn_from, learn_hold_out, Learned};
use crate::predict::{predict_with, PredictionCheck};
use crate::replay::{replay_with_bounds, Bounds, ReplayOptions, StrategyReport};
use crate::report::RightsizingSummary;
use crate::strategy::Strategy;
use crate::trace::{read_trace, Trace};
use crate::workload::Workload;

/// A progress bar of `len` steps on stderr, hidden unless stderr is a
/// terminal outside CI.
pub fn progress(len: u64, message: &'static str) -> ProgressBar {
    let shown = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    if !shown || len <= 1 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len).with_message(message);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// The `--history` traces, read once.
pub(crate) fn load_history(args: &ReplayArgs) -> Result<Vec<Trace>, CliError> {
    Ok(args.history.iter().map(|p| read_trace(p)).collect::<Result<_, _>>()?)
}

/// The workload of `trace`, right-sized from `history` (or from a hold-out
/// split of `trace` when there is none), and what it learned.
pub(crate) fn workload_of(
    trace: &Trace,
    history: &[Trace],
) -> (Workload, Option<RightsizingSummary>) {
    let config = RightsizeConfig::default();
    let Learned { model, source, samples } = if history.is_empty() {
        learn_hold_out(trace, config)
    } else {
        learn_from(&history.iter().collect::<Vec<_>>(), config)
    };
    let mut workload = Workload::from_trace(trace);
    workload.rightsize(&model);
    (workload, Some(RightsizingSummary { history: source, samples, model }))
}

/// The greedy cost predicted over `draws` seeds after the replay's own,
/// beside the greedy replay's cost; `None` for no draws or no greedy replay.
pub(crate) fn check_prediction(
    workload: &Workload,
    catalog: &Catalog,
    options: &ReplayOptions,
    draws: usize,
    replayed: &[StrategyReport],
    bar: &ProgressBar,
) -> Result<Option<PredictionCheck>, CliError> {
    let Some(greedy) = replayed.iter().find(|r| r.name == Strategy::Greedy.name()) else {
        return Ok(None);
    };
    if draws == 0 {
        return Ok(None);
    }
    let first_seed = options.spot.seed.wrapping_add(1);
    let tick = || bar.inc(1);
    let (prediction, _) =
        predict_with(workload, catalog, Strategy::Greedy, options, draws, first_seed, &tick)?;
    Ok(Some(PredictionCheck::new(prediction, greedy.cost_usd)))
}

/// `sched-sim predict`.
pub(crate) fn predict_command(args: &PredictArgs) -> Result<String, CliError> {
    let replay = &args.replay;
    if replay.traces.len() > 1 {
        return Err(CliError::BadOption {
            option: "trace",
            value: format!("{} traces", replay.traces.len()),
            why: "predict takes one trace",
        });
    }
    let (catalog, catalog_path) = load_catalog(replay)?;
    let options = replay_options(replay)?;
    let traces = load_traces(replay)?;
    let history = load_history(replay)?;
    let (trace, path) = &traces[0];
    let (workload, rightsizing) = workload_of(trace, &history);
    let bar = progress(replay.draws as u64, "predicting");
    let tick = || bar.inc(1);
    let (prediction, draws) = predict_with(
        &workload,
        &catalog,
        args.strategy,
        &options,
        replay.draws,
        options.spot.seed,
        &tick,
    )?;
    bar.finish_and_clear();
    if let Some(dir) = &replay.out {
        let report = report_of(
            replay,
            trace,
            path,
            &workload,
            (&catalog, &catalog_path),
            &options,
            draws.iter().take(1).cloned().collect(),
            rightsizing,
            None,
        )?;
        crate::out::write_predict(dir, &prediction, &report, &draws)?;
    }
    Ok(match replay.format {
        Format::Json => serde_json::to_string_pretty(&prediction)?,
        Format::Table => format!(
            "{path}: {} tasks, {} {}: predicted ${:.4}, {:.0}% interval [{:.4}, {:.4}] over {} \
             seeded spot draws (seeds {}..{}), mean ${:.4}, median makespan {:.0}s",
            workload.tasks.len(),
            prediction.strategy,
            options.policy.provisioning,
            prediction.predicted_cost_usd,
            prediction.confidence * 100.0,
            prediction.interval_usd[0],
            prediction.interval_usd[1],
            prediction.draws,
            prediction.first_seed,
            prediction.first_seed.wrapping_add(prediction.draws as u64),
            prediction.mean_cost_usd,
            prediction.predicted_makespan_s,
        ),
    })
}

/// One replay of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepRow {
    /// Provisioning model.
    pub provisioning: String,
    /// Strategy.
    pub strategy: String,
    /// Spot market seed.
    pub seed: u64,
    /// Cost, USD.
    pub cost_usd: f64,
    /// Makespan, seconds.
    pub makespan_s: f64,
    /// Cpu utilization of what was paid, 0..=1.
    pub cpu_utilization: f64,
    /// Memory utilization of what was paid, 0..=1.
    pub memory_utilization: f64,
    /// Preemptions by spot reclaims.
    pub preemptions: usize,
    /// Tasks that ended FAILED.
    pub failed: usize,
    /// OOM kills.
    pub oom_kills: usize,
    /// Instances rented.
    pub instances: usize,
}

/// The rows of one policy across seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepSummary {
    /// Provisioning model.
    pub provisioning: String,
    /// Strategy.
    pub strategy: String,
    /// Seeds replayed.
    pub seeds: usize,
    /// Mean cost, USD.
    pub mean_cost_usd: f64,
    /// Cheapest seed's cost, USD.
    pub min_cost_usd: f64,
    /// Dearest seed's cost, USD.
    pub max_cost_usd: f64,
    /// Mean makespan, seconds.
    pub mean_makespan_s: f64,
    /// Mean failed tasks.
    pub mean_failed: f64,
}

/// `sched-sim sweep`.
pub(crate) fn sweep_command(args: &SweepArgs) -> Result<String, CliError> {
    let replay = &args.replay;
    if replay.traces.len() > 1 {
        return Err(CliError::BadOption {
            option: "trace",
            value: format!("{} traces", replay.traces.len()),
            why: "sweep takes one trace",
        });
    }
    let (catalog, _) = load_catalog(replay)?;
    let traces = load_traces(replay)?;
    let history = load_history(replay)?;
    let (trace, path) = traces.first().ok_or(CliError::BadOption {
        option: "trace",
        value: "none".into(),
        why: "sweep needs a trace",
    })?;
    if args.seeds == 0 || args.strategies.is_empty() || args.provisionings.is_empty() {
        return Err(CliError::BadOption {
            option: "seeds",
            value: args.seeds.to_string(),
            why: "a sweep needs at least one seed, strategy and provisioning model",
        });
    }
    let (workload, _) = workload_of(trace, &history);
    let mut runs = Vec::new();
    for &provisioning in &args.provisionings {
        let mut options = replay_options(replay)?;
        options.policy.provisioning = provisioning.into();
        // A sweep reads the figures only.
        options.detail = false;
        let bounds = Bounds::of(&workload, &options.policy.candidates(&catalog)?);
        for &strategy in &args.strategies {
            // Seeds wrap past u64::MAX: any seed is valid, and a sweep from
            // the last one goes on from 0.
            for offset in 0..args.seeds {
                let mut seeded = options.clone();
                seeded.spot.seed = replay.seed.wrapping_add(offset);
                runs.push((strategy, seeded, bounds));
            }
        }
    }
    let bar = progress(runs.len() as u64, "sweeping");
    let rows: Vec<SweepRow> = runs
        .par_iter()
        .map(|(strategy, options, bounds)| {
            let r = replay_with_bounds(&workload, &catalog, *strategy, options, *bounds)?;
            bar.inc(1);
            Ok(SweepRow {
                provisioning: options.policy.provisioning.to_string(),
                strategy: strategy.name().to_string(),
                seed: options.spot.seed,
                cost_usd: r.cost_usd,
                makespan_s: r.makespan_s,
                cpu_utilization: r.cpu_utilization,
                memory_utilization: r.memory_utilization,
                preemptions: r.spot.preemptions,
                failed: r.tasks.failed,
                oom_kills: r.oom.kills,
                instances: r.instances_launched,
            })
        })
        .collect::<Result<_, crate::replay::ReplayError>>()?;
    bar.finish_and_clear();
    let summary = summarize_sweep(&rows);
    if args.csv {
        return sweep_csv(&rows);
    }
    Ok(match replay.format {
        Format::Json => serde_json::to_string_pretty(
            &serde_json::json!({ "trace": path, "rows": rows, "summary": summary }),
        )?,
        Format::Table => {
            let mut out =
                format!("{path}: {} tasks, {} replays\n", workload.tasks.len(), rows.len());
            out.push_str(&format!(
                "{:<12} {:<25} {:>5} {:>10} {:>10} {:>10} {:>10} {:>7}\n",
                "provisioning",
                "strategy",
                "seeds",
                "mean $",
                "min $",
                "max $",
                "makespan",
                "failed"
            ));
            for s in &summary {
                out.push_str(&format!(
                    "{:<12} {:<25} {:>5} {:>10.4} {:>10.4} {:>10.4} {:>9.0}s {:>7.1}\n",
                    s.provisioning,
                    s.strategy,
                    s.seeds,
                    s.mean_cost_usd,
                    s.min_cost_usd,
                    s.max_cost_usd,
                    s.mean_makespan_s,
                    s.mean_failed
                ));
            }
            out
        }
    })
}

/// Mean, min and max per (provisioning, strategy), in sweep order.
pub fn summarize_sweep(rows: &[SweepRow]) -> Vec<SweepSummary> {
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for r in rows {
        if !keys.contains(&(r.provisioning.as_str(), r.strategy.as_str())) {
            keys.push((&r.provisioning, &r.strategy));
        }
    }
    keys.into_iter()
        .map(|(provisioning, strategy)| {
            let of: Vec<&SweepRow> = rows
                .iter()
                .filter(|r| r.provisioning == provisioning && r.strategy == strategy)
                .collect();
            let n = of.len().max(1) as f64;
            SweepSummary {
                provisioning: provisioning.to_string(),
                strategy: strategy.to_string(),
                seeds: of.len(),
                mean_cost_usd: of.iter().map(|r| r.cost_usd).sum::<f64>() / n,
                min_cost_usd: of.iter().map(|r| r.cost_usd).fold(f64::INFINITY, f64::min),
                max_cost_usd: of.iter().map(|r| r.cost_usd).fold(0.0, f64::max),
                mean_makespan_s: of.iter().map(|r| r.makespan_s).sum::<f64>() / n,
                mean_failed: of.iter().map(|r| r.failed as f64).sum::<f64>() / n,
            }
        })
        .collect()
}

fn sweep_csv(rows: &[SweepRow]) -> Result<String, CliError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer.serialize(row).map_err(crate::out::OutError::from)?;
    }
    let bytes = writer.into_inner().map_err(|e| crate::out::OutError::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).trim_end().to_string())
}
