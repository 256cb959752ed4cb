//! The `sched-sim` command line.
//!
//! `sched-sim replay` with no arguments replays the bundled nf-core/rnaseq
//! trace against the bundled us-east-1 catalog; both are compiled into the
//! binary so it works from any directory.

mod args;

use sched_core::catalog::Catalog;
use sched_core::policy::{AllowList, Policy, PolicyError};
use sched_core::provider::faults::FaultConfig;
use sched_core::solver::MilpConfig;
use sched_core::time::Millis;
use sched_core::CatalogError;
use thiserror::Error;

pub use args::{
    Cli, Command, CommonArgs, Format, PredictArgs, ProvisioningArg, ReplayArgs, SolverArg,
    SweepArgs,
};

use crate::cloud::{CloudConfig, SpotMarket, SpotOutage};
use crate::replay::{replay_all, ReplayError, ReplayOptions};
use crate::report::{CatalogSummary, PolicySummary, Report, TraceSummary};
use crate::strategy::Strategy;
use crate::trace::{parse_trace, read_trace, Trace, TraceError};
use crate::workload::Workload;

/// Name under which the bundled trace is reported.
pub const BUNDLED_TRACE_NAME: &str = "data/traces/nfcore-rnaseq_k8s_raw_trace.csv (bundled)";
/// Name under which the bundled catalog is reported.
pub const BUNDLED_CATALOG_NAME: &str = "data/catalog/ec2_catalog_us-east-1.csv (bundled)";
const BUNDLED_TRACE: &str = include_str!("../../../../data/traces/nfcore-rnaseq_k8s_raw_trace.csv");
const BUNDLED_CATALOG: &str = include_str!("../../../../data/catalog/ec2_catalog_us-east-1.csv");

/// Exit code when some task is UNSCHEDULABLE: no allowed offering can hold it.
pub const EXIT_UNSCHEDULABLE: u8 = 3;
/// Exit code when a replay under `--faults` lost a task, started one twice or
/// leaked an instance.
pub const EXIT_FAULTS_BROKE_INVARIANTS: u8 = 4;
/// Exit code when the replay did not carry some task to the end its trace
/// recorded: it was CANCELLED (no capacity or no progress for a day), or it
/// FAILED though its trace run completed (see [`crate::report::incomplete_tasks`]).
pub const EXIT_TASKS_INCOMPLETE: u8 = 5;

/// What a successful command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// What to print on stdout.
    pub output: String,
    /// Tasks UNSCHEDULABLE under any strategy of any trace.
    pub unschedulable: usize,
    /// Tasks lost, duplicate starts and leaked instances under `--faults`.
    pub fault_breaches: u64,
    /// Tasks CANCELLED or FAILED by the replay under any strategy of any
    /// trace (see [`crate::report::incomplete_tasks`]).
    pub incomplete: usize,
}

impl Outcome {
    /// Output only, for commands with nothing to signal in the exit code.
    fn output(output: String) -> Self {
        Outcome { output, unschedulable: 0, fault_breaches: 0, incomplete: 0 }
    }

    /// The outcome of `reports`, printed as `output`.
    pub(crate) fn of_reports(output: String, reports: &[Report]) -> Self {
        let strategies = || reports.iter().flat_map(|r| &r.strategies);
        Outcome {
            output,
            unschedulable: strategies().map(|s| s.unschedulable.len()).sum(),
            fault_breaches: strategies()
                .filter_map(|s| s.faults.as_ref())
                .map(|f| f.tasks_lost + f.duplicate_starts + f.instances_leaked)
                .sum(),
            incomplete: strategies().map(crate::report::incomplete_tasks).sum(),
        }
    }

    /// The process exit code: 0, or [`EXIT_FAULTS_BROKE_INVARIANTS`], else
    /// [`EXIT_UNSCHEDULABLE`], else [`EXIT_TASKS_INCOMPLETE`], in that order.
    pub fn exit_code(&self) -> u8 {
        if self.fault_breaches > 0 {
            EXIT_FAULTS_BROKE_INVARIANTS
        } else if self.unschedulable > 0 {
            EXIT_UNSCHEDULABLE
        } else if self.incomplete > 0 {
            EXIT_TASKS_INCOMPLETE
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
    /// An option names something the input does not have.
    #[error("--{option} {value}: {source}")]
    OptionPolicy {
        /// The option.
        option: &'static str,
        /// Its value, as given (cut when long).
        value: String,
        /// What is wrong with it.
        source: PolicyError,
    },
    /// An option names an instance type the catalog does not have.
    #[error("--{option}: `{entry}` matches no instance type of the {region} catalog")]
    NoSuchType {
        /// The option.
        option: &'static str,
        /// The entry, as normalized.
        entry: String,
        /// The catalog's region.
        region: String,
    },
    /// A subcommand that replays one trace was given several.
    #[error("{command} takes one trace; {given} were given")]
    OneTrace {
        /// The subcommand.
        command: &'static str,
        /// How many were given.
        given: usize,
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
        Command::Sweep(args) => crate::commands::sweep_command(&args),
    }
}

/// The catalog the options name, and how to report it.
pub(crate) fn load_catalog(args: &CommonArgs) -> Result<(Catalog, String), CliError> {
    Ok(match &args.catalog {
        Some(path) => (Catalog::from_csv_path(path)?, path.display().to_string()),
        None => (
            Catalog::from_csv_reader(BUNDLED_CATALOG.as_bytes(), BUNDLED_CATALOG_NAME)?,
            BUNDLED_CATALOG_NAME.to_string(),
        ),
    })
}

/// The traces the options name (the bundled one when none is), with their names.
pub(crate) fn load_traces(args: &CommonArgs) -> Result<Vec<(Trace, String)>, CliError> {
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

/// The one trace of `predict` or `sweep`.
pub(crate) fn load_one_trace(
    args: &CommonArgs,
    command: &'static str,
) -> Result<(Trace, String), CliError> {
    if args.traces.len() > 1 {
        return Err(CliError::OneTrace { command, given: args.traces.len() });
    }
    let mut traces = load_traces(args)?;
    traces.pop().ok_or(CliError::OneTrace { command, given: 0 })
}

fn replay_command(args: &ReplayArgs) -> Result<Outcome, CliError> {
    let common = &args.common;
    let (catalog, catalog_path) = load_catalog(common)?;
    let mut options = replay_options(common, args.provisioning, &catalog)?;
    options.detail = args.out.is_some();
    let faults = fault_rate(args.faults)?;
    let traces = load_traces(common)?;
    let history = crate::commands::load_history(common)?;

    let mut reports = Vec::with_capacity(traces.len());
    // One step per trace's strategies and one per prediction draw.
    let steps = traces.len() as u64 * (1 + args.draws as u64);
    let progress = crate::commands::progress(steps, "replaying");
    for (trace, path) in &traces {
        let (workload, rightsizing) = crate::commands::workload_of(trace, &history);
        let mut strategy_list = strategies_for(args.solver);
        strategy_list.extend(Strategy::RIGHTSIZED);
        let strategies = replay_with_faults(&workload, &catalog, &options, faults, &strategy_list)?;
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
            common,
            faults,
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
    let output = format_reports(common.format, &reports)?;
    Ok(Outcome::of_reports(output, &reports))
}

/// Replays every strategy; under faults at `rate`, once clean and once with
/// faults (seeded by the market's seed), reporting the faulty run with the
/// clean run's cost beside it.
fn replay_with_faults(
    workload: &Workload,
    catalog: &Catalog,
    options: &ReplayOptions,
    rate: Option<f64>,
    strategies: &[Strategy],
) -> Result<Vec<crate::replay::StrategyReport>, CliError> {
    let clean = replay_all(workload, catalog, strategies, options)?;
    let Some(rate) = rate else { return Ok(clean) };
    let mut faulty_options = options.clone();
    faulty_options.faults = Some(FaultConfig::mixed(rate, options.spot.seed));
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
    args: &CommonArgs,
    faults: Option<f64>,
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
            faults,
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

/// Longest boot latency and shortest-billed period the options accept, seconds.
const MAX_OPTION_SECONDS: u64 = 86_400;

/// A number as an error message shows it: in full when short, in
/// scientific notation when it would run to many digits.
fn shown_number(value: f64) -> String {
    if value.is_finite() && value.abs() >= 1e15 {
        format!("{value:e}")
    } else {
        value.to_string()
    }
}

/// The `--faults` rate, checked: at least 0 and below 1.
pub(crate) fn fault_rate(rate: Option<f64>) -> Result<Option<f64>, CliError> {
    let Some(rate) = rate else { return Ok(None) };
    if !rate.is_finite() || !(0.0..=1.0).contains(&rate) {
        return Err(CliError::BadOption {
            option: "faults",
            value: shown_number(rate),
            why: "must be a fraction between 0 and 1",
        });
    }
    if rate == 1.0 {
        return Err(CliError::BadOption {
            option: "faults",
            value: shown_number(rate),
            why: "must be below 1: at 1 every launched instance never becomes ready, so no task \
                  could ever run",
        });
    }
    Ok(Some(rate))
}

/// The replay options of `args` under `provisioning`, checked against `catalog`.
pub(crate) fn replay_options(
    args: &CommonArgs,
    provisioning: ProvisioningArg,
    catalog: &Catalog,
) -> Result<ReplayOptions, CliError> {
    let max = MAX_OPTION_SECONDS as f64;
    if !args.boot_seconds.is_finite() || args.boot_seconds < 0.0 || args.boot_seconds > max {
        return Err(CliError::BadOption {
            option: "boot-seconds",
            value: shown_number(args.boot_seconds),
            why: "must be between 0 and 86400",
        });
    }
    if args.min_billing_seconds > MAX_OPTION_SECONDS {
        return Err(CliError::BadOption {
            option: "min-billing-seconds",
            value: args.min_billing_seconds.to_string(),
            why: "must be between 0 and 86400 (EC2 bills a minimum of 60)",
        });
    }
    let mut policy = Policy::default();
    policy.provisioning = provisioning.into();
    policy.idle_release_s = args.idle_release_seconds;
    if let Some(list) = &args.instance_types {
        policy.allowed_types = Some(AllowList::parse_csv(list).map_err(|source| {
            CliError::OptionPolicy { option: "instance-types", value: list.clone(), source }
        })?);
    }
    let cloud = CloudConfig {
        boot: Millis((args.boot_seconds * 1000.0).round() as u64),
        min_billing_s: args.min_billing_seconds,
    };
    if !args.milp_gap.is_finite() || !(0.0..=1.0).contains(&args.milp_gap) {
        return Err(CliError::BadOption {
            option: "milp-gap",
            value: shown_number(args.milp_gap),
            why: "must be a fraction between 0 and 1",
        });
    }
    let milp = MilpConfig::default()
        .with_time_limit_ms(args.milp_time_limit_ms)
        .with_relative_gap(args.milp_gap);
    let spot = spot_market(args, provisioning, catalog, &mut policy)?;
    // The per-task detail is what `--out` draws; a caller that writes it
    // turns it on.
    Ok(ReplayOptions { policy, cloud, milp, spot, faults: None, detail: false })
}

/// The simulated spot market and the retry rules, from the spot options.
fn spot_market(
    args: &CommonArgs,
    provisioning: ProvisioningArg,
    catalog: &Catalog,
    policy: &mut Policy,
) -> Result<SpotMarket, CliError> {
    for (option, value) in [
        ("interruption-scale", args.interruption_scale),
        ("spot-risk-weight", args.spot_risk_weight),
    ] {
        if !value.is_finite() || value < 0.0 {
            return Err(CliError::BadOption {
                option,
                value: shown_number(value),
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
    if provisioning == ProvisioningArg::SpotFirst && args.max_spot_attempts == 0 {
        return Err(CliError::Conflict {
            first: "provisioning spot-first".into(),
            second: "max-spot-attempts 0".into(),
            why: "spot-first would never try spot; use --provisioning on-demand",
        });
    }
    if let (ProvisioningArg::OnDemand, Some(types)) = (provisioning, &args.spot_unavailable) {
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
        let types = spot_outage_types(list, catalog)?;
        market.outages.push(SpotOutage { types, ..SpotOutage::total() });
    }
    Ok(market)
}

/// The types `--spot-unavailable` names: `None` for `all` (or `*`), else an
/// allow-list each of whose entries matches some type of `catalog`, as
/// `--instance-types` must.
fn spot_outage_types(list: &str, catalog: &Catalog) -> Result<Option<AllowList>, CliError> {
    let refused = |source| CliError::OptionPolicy {
        option: "spot-unavailable",
        value: crate::trace::shown_value(list),
        source,
    };
    if matches!(list.trim(), "all" | "*") {
        return Ok(None);
    }
    if list.split(',').all(|entry| entry.trim().is_empty()) {
        return Err(CliError::BadOption {
            option: "spot-unavailable",
            value: format!("`{list}`"),
            why: "names no instance type; give names, families or globs, or `all`",
        });
    }
    let types = AllowList::parse_csv(list).map_err(refused)?;
    for pattern in types.patterns() {
        if !catalog.types().iter().any(|ty| pattern.matches(ty)) {
            return Err(CliError::NoSuchType {
                option: "spot-unavailable",
                entry: pattern.text().to_string(),
                region: catalog.region.clone(),
            });
        }
    }
    Ok(Some(types))
}

/// The strategies a replay compares for the chosen solver.
fn strategies_for(solver: SolverArg) -> Vec<Strategy> {
    let mut strategies = Strategy::BASELINES_AND_GREEDY.to_vec();
    if solver != SolverArg::Greedy {
        strategies.push(solver.strategy());
    }
    strategies
}
