//! The `sched-sim` command line.
//!
//! `sched-sim replay` with no arguments replays the bundled nf-core/rnaseq
//! trace against the bundled us-east-1 catalog; both are compiled into the
//! binary so it works from any directory.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use sched_core::catalog::Catalog;
use sched_core::policy::{AllowList, Policy, PolicyError, ProvisioningModel};
use sched_core::provider::faults::FaultConfig;
use sched_core::solver::MilpConfig;
use sched_core::time::Millis;
use sched_core::CatalogError;
use thiserror::Error;

use crate::cloud::{CloudConfig, SpotMarket, SpotOutage};
use crate::predict::DEFAULT_DRAWS;
use crate::replay::{replay_all, ReplayError, ReplayOptions};
use crate::report::{CatalogSummary, PolicySummary, Report, TraceSummary};
use crate::strategy::Strategy;
use crate::trace::{parse_trace, read_trace, Trace, TraceError};
use crate::workload::Workload;

/// Name under which the bundled trace is reported.
pub const BUNDLED_TRACE_NAME: &str = "data/traces/nfcore-rnaseq_k8s_raw_trace.csv (bundled)";
/// Name under which the bundled catalog is reported.
pub const BUNDLED_CATALOG_NAME: &str = "data/catalog/ec2_catalog_us-east-1.csv (bundled)";
const BUNDLED_TRACE: &str = include_str!("../../../data/traces/nfcore-rnaseq_k8s_raw_trace.csv");
const BUNDLED_CATALOG: &str = include_str!("../../../data/catalog/ec2_catalog_us-east-1.csv");

/// Replays real pipeline traces through the scheduler on a simulated cloud.
#[derive(Debug, Parser)]
#[command(name = "sched-sim", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay traces under each strategy and compare cost and utilization.
    Replay(ReplayArgs),
    /// Predict a run's cost from an earlier trace: a point estimate and an
    /// interval over seeded spot-reclaim draws.
    Predict(PredictArgs),
    /// Replay one trace under many policies and seeds in parallel and tabulate.
    Sweep(SweepArgs),
}

/// Provisioning model, as spelled on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProvisioningArg {
    /// Spot first, on demand where spot is missing.
    SpotFirst,
    /// Spot only.
    Spot,
    /// On demand only.
    OnDemand,
}

impl From<ProvisioningArg> for ProvisioningModel {
    fn from(arg: ProvisioningArg) -> Self {
        match arg {
            ProvisioningArg::SpotFirst => ProvisioningModel::SpotFirst,
            ProvisioningArg::Spot => ProvisioningModel::Spot,
            ProvisioningArg::OnDemand => ProvisioningModel::OnDemand,
        }
    }
}

/// The solver of our engine, as spelled on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SolverArg {
    /// Cost-aware first-fit-decreasing only.
    Greedy,
    /// Also replay with the exact MILP on every decision.
    Milp,
    /// Also replay with the MILP where the problem is small, greedy elsewhere.
    Auto,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for a person.
    Table,
    /// One JSON document on stdout (an array when several traces are given).
    Json,
}

/// Arguments of `sched-sim replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Nextflow trace files; the bundled nf-core/rnaseq trace when none is given.
    pub traces: Vec<PathBuf>,
    /// Instance catalog CSV; the bundled us-east-1 catalog by default.
    #[arg(long)]
    pub catalog: Option<PathBuf>,
    /// Which capacity types may be rented.
    #[arg(long, value_enum, default_value_t = ProvisioningArg::SpotFirst)]
    pub provisioning: ProvisioningArg,
    /// Allowed instance types: names, families or globs, comma-separated (`m6i.*,c7g.large`).
    #[arg(long)]
    pub instance_types: Option<String>,
    /// Seed of the simulation's random draws (spot reclaim times).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Multiplies every spot offering's reclaim rate (from its interruption
    /// bucket); 0 turns reclaims off, 100 stresses them.
    #[arg(long, default_value_t = 1.0)]
    pub interruption_scale: f64,
    /// Spot types the simulated cloud refuses for capacity for the whole run:
    /// names, families or globs, comma-separated, or `all`.
    #[arg(long)]
    pub spot_unavailable: Option<String>,
    /// Launches refused for capacity a task meets before `spot-first` puts it
    /// on demand (under `spot`, before it waits for the shortage to pass).
    #[arg(long, default_value_t = Policy::default().max_spot_attempts)]
    pub max_spot_attempts: u32,
    /// Starts a task gets in all: a reclaim on the last one FAILS it.
    #[arg(long, default_value_t = Policy::default().max_attempts)]
    pub max_attempts: u32,
    /// How much the expected work lost to reclaims counts when spot offerings
    /// are compared (0 ignores the risk, 1 counts its expected value).
    #[arg(long, default_value_t = Policy::default().spot_risk_weight)]
    pub spot_risk_weight: f64,
    /// Boot latency of a launched instance, seconds.
    #[arg(long, default_value_t = CloudConfig::DEFAULT_BOOT_S as f64)]
    pub boot_seconds: f64,
    /// Shortest billed period per instance, seconds.
    #[arg(long, default_value_t = CloudConfig::DEFAULT_MIN_BILLING_S)]
    pub min_billing_seconds: u64,
    /// How long an instance may sit idle before it is released, seconds.
    #[arg(long, default_value_t = Policy::default().idle_release_s)]
    pub idle_release_seconds: u64,
    /// Solver of our engine: `milp` and `auto` are replayed next to `greedy`.
    #[arg(long, value_enum, default_value_t = SolverArg::Greedy)]
    pub solver: SolverArg,
    /// Time one decision of `milp` or `auto` may take, milliseconds (the
    /// whole call: pattern LP, dive and HiGHS).
    #[arg(long, default_value_t = MilpConfig::default().time_limit_ms)]
    pub milp_time_limit_ms: u64,
    /// Relative gap at which HiGHS stops, e.g. 0.01 for 1%.
    #[arg(long, default_value_t = MilpConfig::default().relative_gap)]
    pub milp_gap: f64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Earlier traces of the same pipeline the right-sized strategies learn
    /// from (repeat the option, or separate paths with commas); without it,
    /// the first half of each process's tasks of the replayed trace.
    // One value per occurrence: `--history H T` must not take the replayed
    // trace T for a second history file.
    #[arg(long, value_delimiter = ',')]
    pub history: Vec<PathBuf>,
    /// Seeded spot draws of the cost prediction (0: no prediction in `replay`).
    #[arg(long, default_value_t = DEFAULT_DRAWS)]
    pub draws: usize,
    /// Directory to write the JSON report, the per-task CSV and SVG pictures to.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Inject every kind of fault between the engine and the simulated cloud
    /// at this rate (0 to 1), seeded by `--seed`; each strategy is also
    /// replayed without faults to price them.
    #[arg(long, value_name = "RATE")]
    pub faults: Option<f64>,
}

/// Arguments of `sched-sim predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// The strategy to predict for.
    #[arg(long, default_value = "greedy", value_parser = parse_strategy)]
    pub strategy: Strategy,
    /// The trace (the bundled one when none is given) and the replay options.
    #[command(flatten)]
    pub replay: ReplayArgs,
}

/// Arguments of `sched-sim sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Strategies, comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = parse_strategy,
          default_value = "greedy,greedy-rightsized-guarded")]
    pub strategies: Vec<Strategy>,
    /// Provisioning models, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "spot-first,spot,on-demand")]
    pub provisionings: Vec<ProvisioningArg>,
    /// Seeds per combination, from `--seed` on.
    #[arg(long, default_value_t = 4)]
    pub seeds: u64,
    /// Write the rows as CSV instead of the chosen `--format`.
    #[arg(long)]
    pub csv: bool,
    /// The trace (the bundled one when none is given) and the replay options.
    #[command(flatten)]
    pub replay: ReplayArgs,
}

fn parse_strategy(name: &str) -> Result<Strategy, String> {
    Strategy::from_name(name).ok_or_else(|| {
        let names: Vec<_> = Strategy::ALL.iter().map(|s| s.name()).collect();
        format!("unknown strategy `{name}`; one of {}", names.join(", "))
    })
}

/// Exit code when some task is UNSCHEDULABLE: no allowed offering can hold it.
pub const EXIT_UNSCHEDULABLE: u8 = 3;
/// Exit code when a replay under `--faults` lost a task, started one twice or
/// leaked an instance.
pub const EXIT_FAULTS_BROKE_INVARIANTS: u8 = 4;

/// What a successful command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// What to print on stdout.
    pub output: String,
    /// Tasks UNSCHEDULABLE under any strategy of any trace.
    pub unschedulable: usize,
    /// Tasks lost, duplicate starts and leaked instances under `--faults`.
    pub fault_breaches: u64,
}

impl Outcome {
    /// Output only, for commands with nothing to signal in the exit code.
    fn output(output: String) -> Self {
        Outcome { output, unschedulable: 0, fault_breaches: 0 }
    }

    /// The process exit code: 0, or [`EXIT_UNSCHEDULABLE`], or
    /// [`EXIT_FAULTS_BROKE_INVARIANTS`] (which wins).
    pub fn exit_code(&self) -> u8 {
        if self.fault_breaches > 0 {
            EXIT_FAULTS_BROKE_INVARIANTS
        } else if self.unschedulable > 0 {
            EXIT_UNSCHEDULABLE
        } else {
            0
        }
    }
}

/// Why the command failed; printed as one message, without a backtrace.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CliError {
    /// A trace could not be read.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// The catalog could not be read.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The policy is invalid.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A replay failed.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// Two options contradict each other.
    #[error("--{first} and --{second} contradict each other: {why}")]
    Conflict {
        /// One option, with its value.
        first: String,
        /// The other, with its value.
        second: String,
        /// Why they cannot both hold.
        why: &'static str,
    },
    /// An option value is out of range.
    #[error("--{option} {value}: {why}")]
    BadOption {
        /// The option.
        option: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        why: &'static str,
    },
    /// The report could not be serialized.
    #[error("could not write the JSON report: {0}")]
    Json(#[from] serde_json::Error),
    /// The `--out` directory could not be written.
    #[error(transparent)]
    Out(#[from] crate::out::OutError),
}

/// Runs the command and returns what to print on stdout.
///
/// # Errors
/// Unreadable input, an invalid policy, or a replay that cannot finish.
pub fn run(cli: Cli) -> Result<String, CliError> {
    run_outcome(cli).map(|outcome| outcome.output)
}

/// Runs the command and returns what to print and how to exit.
///
/// # Errors
/// Unreadable input, an invalid policy, or a replay that cannot finish.
pub fn run_outcome(cli: Cli) -> Result<Outcome, CliError> {
    match cli.command {
        Command::Replay(args) => replay_command(&args),
        Command::Predict(args) => crate::commands::predict_command(&args).map(Outcome::output),
        Command::Sweep(args) => crate::commands::sweep_command(&args).map(Outcome::output),
    }
}

/// The catalog the options name, and how to report it.
pub(crate) fn load_catalog(args: &ReplayArgs) -> Result<(Catalog, String), CliError> {
    Ok(match &args.catalog {
        Some(path) => (Catalog::from_csv_path(path)?, path.display().to_string()),
        None => (
            Catalog::from_csv_reader(BUNDLED_CATALOG.as_bytes(), BUNDLED_CATALOG_NAME)?,
            BUNDLED_CATALOG_NAME.to_string(),
        ),
    })
}

/// The traces the options name (the bundled one when none is), with their names.
pub(crate) fn load_traces(args: &ReplayArgs) -> Result<Vec<(Trace, String)>, CliError> {
    Ok(if args.traces.is_empty() {
        vec![(
            parse_trace(BUNDLED_TRACE.as_bytes(), BUNDLED_TRACE_NAME)?,
            BUNDLED_TRACE_NAME.into(),
        )]
    } else {
        args.traces
            .iter()
            .map(|p| Ok((read_trace(p)?, p.display().to_string())))
            .collect::<Result<_, TraceError>>()?
    })
}

fn replay_command(args: &ReplayArgs) -> Result<Outcome, CliError> {
    let (catalog, catalog_path) = load_catalog(args)?;
    let options = replay_options(args)?;
    let traces = load_traces(args)?;
    let history = crate::commands::load_history(args)?;

    let mut reports = Vec::with_capacity(traces.len());
    // One step per trace's strategies and one per prediction draw.
    let steps = traces.len() as u64 * (1 + args.draws as u64);
    let progress = crate::commands::progress(steps, "replaying");
    for (trace, path) in &traces {
        let (workload, rightsizing) = crate::commands::workload_of(trace, &history);
        let mut strategy_list = strategies_for(args.solver);
        strategy_list.extend(Strategy::RIGHTSIZED);
        let strategies = replay_with_faults(&workload, &catalog, args, &options, &strategy_list)?;
        progress.inc(1);
        let prediction = crate::commands::check_prediction(
            &workload,
            &catalog,
            &options,
            args.draws,
            &strategies,
            &progress,
        )?;
        reports.push(report_of(
            args,
            trace,
            path,
            &workload,
            (&catalog, &catalog_path),
            &options,
            strategies,
            rightsizing,
            prediction,
        )?);
    }
    progress.finish_and_clear();
    if let Some(dir) = &args.out {
        crate::out::write_replay(dir, &reports)?;
    }
    let strategies = || reports.iter().flat_map(|r| &r.strategies);
    let unschedulable = strategies().map(|s| s.unschedulable.len()).sum();
    let fault_breaches = strategies()
        .filter_map(|s| s.faults.as_ref())
        .map(|f| f.tasks_lost + f.duplicate_starts + f.instances_leaked)
        .sum();
    let output = format_reports(args.format, &reports)?;
    Ok(Outcome { output, unschedulable, fault_breaches })
}

/// Replays every strategy; under `--faults`, once clean and once with
/// faults, reporting the faulty run with the clean run's cost beside it.
fn replay_with_faults(
    workload: &Workload,
    catalog: &Catalog,
    args: &ReplayArgs,
    options: &ReplayOptions,
    strategies: &[Strategy],
) -> Result<Vec<crate::replay::StrategyReport>, CliError> {
    let clean = replay_all(workload, catalog, strategies, options)?;
    let Some(rate) = args.faults else { return Ok(clean) };
    let mut faulty_options = options.clone();
    faulty_options.faults = Some(FaultConfig::mixed(rate, args.seed));
    let mut faulty = replay_all(workload, catalog, strategies, &faulty_options)?;
    for (report, clean) in faulty.iter_mut().zip(&clean) {
        if let Some(faults) = report.faults.as_mut() {
            faults.clean_cost_usd = Some(clean.cost_usd);
        }
    }
    Ok(faulty)
}

/// The report of one trace's replays.
#[allow(clippy::too_many_arguments)]
pub(crate) fn report_of(
    args: &ReplayArgs,
    trace: &Trace,
    path: &str,
    workload: &Workload,
    (catalog, catalog_path): (&Catalog, &str),
    options: &ReplayOptions,
    strategies: Vec<crate::replay::StrategyReport>,
    rightsizing: Option<crate::report::RightsizingSummary>,
    prediction: Option<crate::predict::PredictionCheck>,
) -> Result<Report, CliError> {
    let allowed = options.policy.candidates(catalog)?.len();
    let catalog_path = catalog_path.to_string();
    Ok(Report {
        trace: TraceSummary {
            path: path.to_string(),
            tasks: workload.tasks.len(),
            skipped_cached: trace.skipped_cached,
            repaired_lines: trace.repaired_lines.clone(),
            requests: workload.requests().to_string(),
        },
        catalog: CatalogSummary {
            path: catalog_path.clone(),
            offerings: catalog.offerings().len(),
        },
        policy: PolicySummary {
            provisioning: options.policy.provisioning.to_string(),
            instance_types: args.instance_types.as_ref().map(|list| {
                list.split(',').map(str::trim).filter(|e| !e.is_empty()).map(String::from).collect()
            }),
            allowed_offerings: allowed,
            idle_release_s: options.policy.idle_release_s,
            boot_s: options.cloud.boot.as_secs_f64(),
            min_billing_s: options.cloud.min_billing_s,
            reserved_memory_mib: options.policy.overhead.reserved_memory_mib,
            reserved_memory_ppm: options.policy.overhead.reserved_memory_ppm,
            seed: args.seed,
            interruption_scale: options.spot.interruption_scale,
            spot_unavailable: args.spot_unavailable.clone(),
            max_attempts: options.policy.max_attempts,
            max_spot_attempts: options.policy.max_spot_attempts,
            spot_risk_weight: options.policy.spot_risk_weight,
            faults: args.faults,
        },
        strategies,
        rightsizing,
        prediction,
    })
}

/// The reports as the chosen format.
pub(crate) fn format_reports(format: Format, reports: &[Report]) -> Result<String, CliError> {
    Ok(match format {
        Format::Table => reports.iter().map(Report::to_table).collect::<Vec<_>>().join("\n"),
        Format::Json if reports.len() == 1 => serde_json::to_string_pretty(&reports[0])?,
        Format::Json => serde_json::to_string_pretty(&reports)?,
    })
}

pub(crate) fn replay_options(args: &ReplayArgs) -> Result<ReplayOptions, CliError> {
    if !args.boot_seconds.is_finite() || args.boot_seconds < 0.0 || args.boot_seconds > 86_400.0 {
        return Err(CliError::BadOption {
            option: "boot-seconds",
            value: args.boot_seconds.to_string(),
            why: "must be between 0 and 86400",
        });
    }
    if let Some(rate) = args.faults {
        if !rate.is_finite() || !(0.0..=1.0).contains(&rate) {
            return Err(CliError::BadOption {
                option: "faults",
                value: rate.to_string(),
                why: "must be a fraction between 0 and 1",
            });
        }
    }
    let mut policy = Policy::default();
    policy.provisioning = args.provisioning.into();
    policy.idle_release_s = args.idle_release_seconds;
    if let Some(list) = &args.instance_types {
        policy.allowed_types = Some(AllowList::parse_csv(list)?);
    }
    let cloud = CloudConfig {
        boot: Millis((args.boot_seconds * 1000.0).round() as u64),
        min_billing_s: args.min_billing_seconds,
    };
    if !args.milp_gap.is_finite() || !(0.0..=1.0).contains(&args.milp_gap) {
        return Err(CliError::BadOption {
            option: "milp-gap",
            value: args.milp_gap.to_string(),
            why: "must be a fraction between 0 and 1",
        });
    }
    let milp = MilpConfig::default()
        .with_time_limit_ms(args.milp_time_limit_ms)
        .with_relative_gap(args.milp_gap);
    let spot = spot_market(args, &mut policy)?;
    // The per-task detail is what `--out` draws; without it, nothing reads it.
    Ok(ReplayOptions { policy, cloud, milp, spot, faults: None, detail: args.out.is_some() })
}

/// The simulated spot market and the retry rules, from the spot options.
fn spot_market(args: &ReplayArgs, policy: &mut Policy) -> Result<SpotMarket, CliError> {
    for (option, value) in [
        ("interruption-scale", args.interruption_scale),
        ("spot-risk-weight", args.spot_risk_weight),
    ] {
        if !value.is_finite() || value < 0.0 {
            return Err(CliError::BadOption {
                option,
                value: value.to_string(),
                why: "must be a finite number, 0 or more",
            });
        }
    }
    if args.max_attempts == 0 {
        return Err(CliError::BadOption {
            option: "max-attempts",
            value: "0".into(),
            why: "a task needs at least one start",
        });
    }
    if args.provisioning == ProvisioningArg::SpotFirst && args.max_spot_attempts == 0 {
        return Err(CliError::Conflict {
            first: "provisioning spot-first".into(),
            second: "max-spot-attempts 0".into(),
            why: "spot-first would never try spot; use --provisioning on-demand",
        });
    }
    if let (ProvisioningArg::OnDemand, Some(types)) = (args.provisioning, &args.spot_unavailable) {
        return Err(CliError::Conflict {
            first: "provisioning on-demand".into(),
            second: format!("spot-unavailable {types}"),
            why: "an on-demand run rents no spot capacity, so a spot outage cannot apply",
        });
    }
    policy.max_attempts = args.max_attempts;
    policy.max_spot_attempts = args.max_spot_attempts;
    policy.spot_risk_weight = args.spot_risk_weight;
    let mut market = SpotMarket {
        seed: args.seed,
        interruption_scale: args.interruption_scale,
        ..SpotMarket::default()
    };
    if let Some(list) = &args.spot_unavailable {
        let types = match list.trim() {
            "all" | "*" => None,
            list => Some(AllowList::parse_csv(list)?),
        };
        market.outages.push(SpotOutage { types, ..SpotOutage::total() });
    }
    Ok(market)
}

/// The strategies a replay compares for the chosen solver.
fn strategies_for(solver: SolverArg) -> Vec<Strategy> {
    let mut strategies = Strategy::BASELINES_AND_GREEDY.to_vec();
    match solver {
        SolverArg::Greedy => {}
        SolverArg::Milp => strategies.push(Strategy::Milp),
        SolverArg::Auto => strategies.push(Strategy::Auto),
    }
    strategies
}
