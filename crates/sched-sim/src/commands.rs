//! The `predict` and `sweep` subcommands, and the pieces `replay` shares
//! with them: learning the right-sizing model, the prediction check, and
//! the progress bar.
//!
//! The progress bar ([`progress`]) goes to stderr and only when stderr is a
//! terminal and `CI` is not set: pipes, files and CI logs get none.

use indicatif::ProgressBar;
use rayon::prelude::*;
use sched_core::provider::faults::FaultConfig;
use sched_core::rightsize::RightsizeConfig;
use sched_core::Catalog;
use serde::Serialize;

use crate::cli::{
    fault_rate, load_catalog, load_one_trace, replay_options, report_of, CliError, CommonArgs,
    Format, Outcome, PredictArgs, ProvisioningArg, SweepArgs,
};
use crate::learn::{learn_from, learn_hold_out, Learned};
use crate::predict::{predict_with, PredictionCheck};
use crate::replay::{replay_with_bounds, Bounds, ReplayOptions, StrategyReport};
use crate::report::RightsizingSummary;
use crate::strategy::Strategy;
use crate::trace::{read_trace, Trace};
use crate::workload::Workload;

pub use crate::console::progress;

/// The `--history` traces, read once each: a file named twice (under the
/// same or another path) would count its samples twice.
pub(crate) fn load_history(args: &CommonArgs) -> Result<Vec<Trace>, CliError> {
    let mut seen = std::collections::BTreeSet::new();
    let mut traces = Vec::new();
    for path in &args.history {
        // A path that cannot be resolved is read as given, for its error.
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        if seen.insert(canonical) {
            traces.push(read_trace(path)?);
        }
    }
    Ok(traces)
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

/// The strategy `predict` predicts for: `--strategy`, or our engine with
/// `--solver`, or `greedy`; the two options must agree when both are given.
fn predict_strategy(args: &PredictArgs) -> Result<Strategy, CliError> {
    match (args.strategy, args.solver) {
        (None, None) => Ok(Strategy::Greedy),
        (Some(strategy), None) => Ok(strategy),
        (None, Some(solver)) => Ok(solver.strategy()),
        (Some(strategy), Some(solver)) if strategy == solver.strategy() => Ok(strategy),
        (Some(strategy), Some(solver)) => Err(CliError::Conflict {
            first: format!("strategy {strategy}"),
            second: format!("solver {}", solver.strategy()),
            why: "--solver picks the strategy running our engine with that solver; give one",
        }),
    }
}

/// `sched-sim predict`.
pub(crate) fn predict_command(args: &PredictArgs) -> Result<String, CliError> {
    let common = &args.common;
    let strategy = predict_strategy(args)?;
    if args.draws == 0 {
        return Err(CliError::BadOption {
            option: "draws",
            value: "0".into(),
            why: "a prediction needs at least one seeded draw",
        });
    }
    let (catalog, catalog_path) = load_catalog(common)?;
    let mut options = replay_options(common, args.provisioning, &catalog)?;
    options.detail = args.out.is_some();
    let (trace, path) = load_one_trace(common, "predict")?;
    let history = load_history(common)?;
    let (workload, rightsizing) = workload_of(&trace, &history);
    let bar = progress(args.draws as u64, "predicting");
    let tick = || bar.inc(1);
    let (prediction, draws) = predict_with(
        &workload,
        &catalog,
        strategy,
        &options,
        args.draws,
        options.spot.seed,
        &tick,
    )?;
    bar.finish_and_clear();
    if let Some(dir) = &args.out {
        let report = report_of(
            common,
            None,
            &trace,
            &path,
            &workload,
            (&catalog, &catalog_path),
            &options,
            draws.iter().take(1).cloned().collect(),
            rightsizing,
            None,
        )?;
        crate::out::write_predict(dir, &prediction, &report, &draws)?;
    }
    // The seeds are first..=last, wrapping past u64::MAX.
    let last_seed = prediction.first_seed.wrapping_add(prediction.draws as u64 - 1);
    Ok(match common.format {
        Format::Json => serde_json::to_string_pretty(&prediction)?,
        Format::Table => format!(
            "{path}: {} tasks, {} {}: predicted ${:.4}, {:.0}% interval [{:.4}, {:.4}] over {} \
             seeded spot draws (seeds {} to {}), mean ${:.4}, median makespan {:.0}s",
            workload.tasks.len(),
            prediction.strategy,
            options.policy.provisioning,
            prediction.predicted_cost_usd,
            prediction.confidence * 100.0,
            prediction.interval_usd[0],
            prediction.interval_usd[1],
            prediction.draws,
            prediction.first_seed,
            last_seed,
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
    /// Tasks that ended CANCELLED.
    pub cancelled: usize,
    /// Tasks the replay did not carry to the end their trace recorded (see
    /// [`crate::report::incomplete_tasks`]).
    pub incomplete: usize,
    /// Faults injected, under `--faults`.
    pub faults_injected: Option<u64>,
    /// OOM kills.
    pub oom_kills: usize,
    /// Instances rented.
    pub instances: usize,
    /// Tasks lost, duplicate starts and instances leaked under `--faults`: must be 0.
    pub fault_breaches: u64,
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
    /// Mean cancelled tasks.
    pub mean_cancelled: f64,
}

/// The strategies of a sweep: `--strategies` once each, in order, and our
/// engine with `--solver` when that is not there yet.
fn sweep_strategies(args: &SweepArgs) -> Vec<Strategy> {
    let mut strategies: Vec<Strategy> = Vec::new();
    let solver = args.solver.map(|s| s.strategy());
    for strategy in args.strategies.iter().copied().chain(solver) {
        if !strategies.contains(&strategy) {
            strategies.push(strategy);
        }
    }
    strategies
}

/// `sched-sim sweep`.
pub(crate) fn sweep_command(args: &SweepArgs) -> Result<Outcome, CliError> {
    let common = &args.common;
    let faults = fault_rate(args.faults)?;
    let (catalog, _) = load_catalog(common)?;
    let (trace, path) = load_one_trace(common, "sweep")?;
    let history = load_history(common)?;
    let strategies = sweep_strategies(args);
    let mut provisionings: Vec<ProvisioningArg> = Vec::new();
    for p in &args.provisionings {
        if !provisionings.contains(p) {
            provisionings.push(*p);
        }
    }
    if args.seeds == 0 || strategies.is_empty() || provisionings.is_empty() {
        return Err(CliError::BadOption {
            option: "seeds",
            value: args.seeds.to_string(),
            why: "a sweep needs at least one seed, strategy and provisioning model",
        });
    }
    let (workload, _) = workload_of(&trace, &history);
    let mut runs = Vec::new();
    for &provisioning in &provisionings {
        // A spot outage does not touch an on-demand run: it is left out there.
        let mut rules = common.clone();
        if provisioning == ProvisioningArg::OnDemand {
            rules.spot_unavailable = None;
        }
        let mut options = replay_options(&rules, provisioning, &catalog)?;
        // A sweep reads the figures only.
        options.detail = false;
        let bounds = Bounds::of(&workload, &options.policy.candidates(&catalog)?);
        for &strategy in &strategies {
            // Seeds wrap past u64::MAX: any seed is valid, and a sweep from
            // the last one goes on from 0.
            for offset in 0..args.seeds {
                let mut seeded = options.clone();
                seeded.spot.seed = common.seed.wrapping_add(offset);
                seeded.faults = faults.map(|rate| FaultConfig::mixed(rate, seeded.spot.seed));
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
                cancelled: r.tasks.cancelled,
                incomplete: crate::report::incomplete_tasks(&r),
                faults_injected: r.faults.as_ref().map(|f| f.injected),
                oom_kills: r.oom.kills,
                instances: r.instances_launched,
                fault_breaches: r
                    .faults
                    .as_ref()
                    .map_or(0, |f| f.tasks_lost + f.duplicate_starts + f.instances_leaked),
            })
        })
        .collect::<Result<_, crate::replay::ReplayError>>()?;
    bar.finish_and_clear();
    let summary = summarize_sweep(&rows);
    if let Some(dir) = &args.out {
        let json = serde_json::json!({ "trace": path, "rows": rows, "summary": summary });
        crate::out::write_sweep(dir, &sweep_csv(&rows)?, &serde_json::to_string_pretty(&json)?)?;
    }
    let output = if args.csv {
        sweep_csv(&rows)?
    } else {
        match common.format {
            Format::Json => serde_json::to_string_pretty(
                &serde_json::json!({ "trace": path, "rows": rows, "summary": summary }),
            )?,
            Format::Table => sweep_table(&path, workload.tasks.len(), &rows, &summary),
        }
    };
    Ok(Outcome {
        output,
        unschedulable: 0,
        fault_breaches: rows.iter().map(|r| r.fault_breaches).sum(),
        incomplete: rows.iter().map(|r| r.incomplete).sum(),
    })
}

/// The sweep's summary as a table.
fn sweep_table(path: &str, tasks: usize, rows: &[SweepRow], summary: &[SweepSummary]) -> String {
    let mut out = format!("{path}: {tasks} tasks, {} replays\n", rows.len());
    out.push_str(&format!(
        "{:<12} {:<25} {:>5} {:>10} {:>10} {:>10} {:>10} {:>7} {:>7}\n",
        "provisioning",
        "strategy",
        "seeds",
        "mean $",
        "min $",
        "max $",
        "makespan",
        "failed",
        "cancel"
    ));
    for s in summary {
        out.push_str(&format!(
            "{:<12} {:<25} {:>5} {:>10.4} {:>10.4} {:>10.4} {:>9.0}s {:>7.1} {:>7.1}\n",
            s.provisioning,
            s.strategy,
            s.seeds,
            s.mean_cost_usd,
            s.min_cost_usd,
            s.max_cost_usd,
            s.mean_makespan_s,
            s.mean_failed,
            s.mean_cancelled,
        ));
    }
    out
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
                mean_cancelled: of.iter().map(|r| r.cancelled as f64).sum::<f64>() / n,
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
