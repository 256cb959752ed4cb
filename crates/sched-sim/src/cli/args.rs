//! The arguments of each `sched-sim` subcommand, as clap parses them.
//!
//! Options every subcommand honours live in [`CommonArgs`]; each subcommand
//! adds only the options it acts on, so none is accepted and then ignored,
//! and each `--help` lists only what works there. Numeric options accept a
//! leading `-`, so that a negative value reaches the range check and its
//! message instead of clap's "unexpected argument".

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use sched_core::policy::{Policy, ProvisioningModel};
use sched_core::solver::MilpConfig;

use crate::cloud::CloudConfig;
use crate::predict::DEFAULT_DRAWS;
use crate::strategy::Strategy;

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
    /// The exact MILP on every decision.
    Milp,
    /// The MILP where the problem is small, greedy elsewhere.
    Auto,
}

impl SolverArg {
    /// The strategy that runs our engine with this solver.
    pub fn strategy(self) -> Strategy {
        match self {
            SolverArg::Greedy => Strategy::Greedy,
            SolverArg::Milp => Strategy::Milp,
            SolverArg::Auto => Strategy::Auto,
        }
    }
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for a person.
    Table,
    /// One JSON document on stdout (an array when several traces are given).
    Json,
}

/// What to replay and under which rules: the options of every subcommand.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Nextflow trace files; the bundled nf-core/rnaseq trace when none is given.
    pub traces: Vec<PathBuf>,
    /// Instance catalog CSV; the bundled us-east-1 catalog by default.
    #[arg(long)]
    pub catalog: Option<PathBuf>,
    /// Allowed instance types: names, families or globs, comma-separated (`m6i.*,c7g.large`).
    #[arg(long)]
    pub instance_types: Option<String>,
    /// Seed of the simulation's random draws (spot reclaim times).
    #[arg(long, default_value_t = 1, allow_negative_numbers = true, value_parser = whole::<u64>)]
    pub seed: u64,
    /// Multiplies every spot offering's reclaim rate (from its interruption
    /// bucket); 0 turns reclaims off, 100 stresses them.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub interruption_scale: f64,
    /// Spot types the simulated cloud refuses for capacity for the whole run:
    /// names, families or globs of the catalog, comma-separated, or `all`.
    #[arg(long)]
    pub spot_unavailable: Option<String>,
    /// Launches refused for capacity a task meets before `spot-first` puts it
    /// on demand (under `spot`, before it waits for the shortage to pass).
    #[arg(long, default_value_t = Policy::default().max_spot_attempts,
          allow_negative_numbers = true, value_parser = whole::<u32>)]
    pub max_spot_attempts: u32,
    /// Starts a task gets in all: a reclaim on the last one FAILS it.
    #[arg(long, default_value_t = Policy::default().max_attempts, allow_negative_numbers = true, value_parser = whole::<u32>)]
    pub max_attempts: u32,
    /// How much the expected work lost to reclaims counts when spot offerings
    /// are compared (0 ignores the risk, 1 counts its expected value).
    #[arg(long, default_value_t = Policy::default().spot_risk_weight,
          allow_negative_numbers = true)]
    pub spot_risk_weight: f64,
    /// Boot latency of a launched instance, seconds (0 to 86400).
    #[arg(long, default_value_t = CloudConfig::DEFAULT_BOOT_S as f64,
          allow_negative_numbers = true)]
    pub boot_seconds: f64,
    /// Shortest billed period per instance, seconds (0 to 86400).
    #[arg(long, default_value_t = CloudConfig::DEFAULT_MIN_BILLING_S,
          allow_negative_numbers = true, value_parser = whole::<u64>)]
    pub min_billing_seconds: u64,
    /// How long an instance may sit idle before it is released, seconds.
    #[arg(long, default_value_t = Policy::default().idle_release_s,
          allow_negative_numbers = true, value_parser = whole::<u64>)]
    pub idle_release_seconds: u64,
    /// Time one decision of `milp` or `auto` may take, milliseconds (the
    /// whole call: pattern LP, dive and HiGHS).
    #[arg(long, default_value_t = MilpConfig::default().time_limit_ms,
          allow_negative_numbers = true, value_parser = whole::<u64>)]
    pub milp_time_limit_ms: u64,
    /// Relative gap at which HiGHS stops, e.g. 0.01 for 1%.
    #[arg(long, default_value_t = MilpConfig::default().relative_gap,
          allow_negative_numbers = true)]
    pub milp_gap: f64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Earlier traces of the same pipeline the right-sized strategies learn
    /// from (repeat the option, or separate paths with commas; a path named
    /// twice counts once); without it, the first half of each process's
    /// tasks of the replayed trace.
    // One value per occurrence: `--history H T` must not take the replayed
    // trace T for a second history file.
    #[arg(long, value_delimiter = ',', value_parser = history_path)]
    pub history: Vec<PathBuf>,
}

/// Arguments of `sched-sim replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The traces and the rules of the replay.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Which capacity types may be rented.
    #[arg(long, value_enum, default_value_t = ProvisioningArg::SpotFirst)]
    pub provisioning: ProvisioningArg,
    /// Solver of our engine: `milp` and `auto` are replayed next to `greedy`.
    #[arg(long, value_enum, default_value_t = SolverArg::Greedy)]
    pub solver: SolverArg,
    /// Seeded spot draws of the cost prediction (0: no prediction).
    #[arg(long, default_value_t = DEFAULT_DRAWS, allow_negative_numbers = true, value_parser = whole::<usize>)]
    pub draws: usize,
    /// Directory to write the JSON report, the per-task CSV, the cost
    /// breakdown and SVG pictures to.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Inject every kind of fault between the engine and the simulated cloud
    /// at this rate (0 up to, not including, 1), seeded by `--seed`; each
    /// strategy is also replayed without faults to price them.
    #[arg(long, value_name = "RATE", allow_negative_numbers = true)]
    pub faults: Option<f64>,
}

/// Arguments of `sched-sim predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// The strategy to predict for (default `greedy`).
    #[arg(long, value_parser = parse_strategy)]
    pub strategy: Option<Strategy>,
    /// Predict for our engine with this solver: the same as `--strategy`
    /// `greedy`, `milp` or `auto`.
    #[arg(long, value_enum)]
    pub solver: Option<SolverArg>,
    /// The trace and the rules of the replay.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Which capacity types may be rented.
    #[arg(long, value_enum, default_value_t = ProvisioningArg::SpotFirst)]
    pub provisioning: ProvisioningArg,
    /// Seeded spot draws (at least 1).
    #[arg(long, default_value_t = DEFAULT_DRAWS, allow_negative_numbers = true, value_parser = whole::<usize>)]
    pub draws: usize,
    /// Directory to write the prediction, the first draw's report, CSVs and
    /// SVG pictures to.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Arguments of `sched-sim sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Strategies, comma-separated (a name given twice counts once).
    #[arg(long, value_delimiter = ',', value_parser = parse_strategy,
          default_value = "greedy,greedy-rightsized-guarded")]
    pub strategies: Vec<Strategy>,
    /// Also sweep our engine with this solver: `milp` and `auto` add that
    /// strategy to `--strategies`.
    #[arg(long, value_enum)]
    pub solver: Option<SolverArg>,
    /// Provisioning models, comma-separated (a model given twice counts once).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "spot-first,spot,on-demand")]
    pub provisionings: Vec<ProvisioningArg>,
    /// Seeds per combination, from `--seed` on.
    #[arg(long, default_value_t = 4, allow_negative_numbers = true, value_parser = whole::<u64>)]
    pub seeds: u64,
    /// Write the rows as CSV instead of the chosen `--format`.
    #[arg(long)]
    pub csv: bool,
    /// The trace and the rules of the replays.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Directory to write the rows (`sweep.csv`) and the rows with their
    /// summary (`sweep.json`) to, besides printing them.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replay every combination under every kind of fault mixed at this rate
    /// (0 up to, not including, 1), seeded by each replay's seed.
    #[arg(long, value_name = "RATE", allow_negative_numbers = true)]
    pub faults: Option<f64>,
}

/// A strategy by the name reports use.
fn parse_strategy(name: &str) -> Result<Strategy, String> {
    Strategy::from_name(name).ok_or_else(|| {
        let names: Vec<_> = Strategy::ALL.iter().map(|s| s.name()).collect();
        format!("unknown strategy `{name}`; one of {}", names.join(", "))
    })
}

/// A whole number, 0 or more, that fits `T`; a negative or fractional one
/// is refused with that said.
fn whole<T: TryFrom<u64>>(text: &str) -> Result<T, String> {
    let trimmed = text.trim();
    let number: u64 = trimmed.parse().map_err(|_| {
        if trimmed.starts_with('-') {
            "must be a whole number, 0 or more".to_string()
        } else {
            "must be a whole number, 0 or more, without a sign, fraction or exponent".to_string()
        }
    })?;
    T::try_from(number).map_err(|_| format!("must be at most {}", max_of::<T>()))
}

/// The largest `T` as a `u64` (`T` is one of the unsigned integer types).
fn max_of<T: TryFrom<u64>>() -> u64 {
    // The largest value that converts: u32::MAX, usize::MAX or u64::MAX.
    [u64::from(u32::MAX), usize::MAX as u64, u64::MAX]
        .into_iter()
        .filter(|v| T::try_from(*v).is_ok())
        .max()
        .unwrap_or(0)
}

/// One `--history` path; an empty one (`a,,b`, or a trailing comma) is
/// refused by name.
fn history_path(text: &str) -> Result<PathBuf, String> {
    if text.trim().is_empty() {
        return Err("an empty path (two commas in a row, or a comma at an end?)".into());
    }
    Ok(PathBuf::from(text))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn long_options(sub: &str) -> Vec<String> {
        let cli = Cli::command();
        let command = cli.find_subcommand(sub).unwrap();
        command.get_arguments().filter_map(|a| a.get_long().map(String::from)).collect()
    }

    /// Regression: `sweep` and `predict` took every `replay` option and
    /// ignored several; now each lists only what it acts on.
    #[test]
    fn each_subcommand_takes_only_the_options_it_acts_on() {
        let sweep = long_options("sweep");
        for absent in ["provisioning", "draws"] {
            assert!(!sweep.iter().any(|o| o == absent), "sweep --{absent}: {sweep:?}");
        }
        for present in ["solver", "out", "faults", "provisionings", "strategies"] {
            assert!(sweep.iter().any(|o| o == present), "sweep --{present}: {sweep:?}");
        }
        let predict = long_options("predict");
        assert!(!predict.iter().any(|o| o == "faults"), "{predict:?}");
        for present in ["solver", "strategy", "out", "draws", "provisioning"] {
            assert!(predict.iter().any(|o| o == present), "predict --{present}: {predict:?}");
        }
        let replay = long_options("replay");
        assert!(!replay.iter().any(|o| o == "strategy" || o == "provisionings"), "{replay:?}");
    }

    #[test]
    fn an_empty_history_path_is_refused_by_name() {
        let parsed = Cli::try_parse_from(["sched-sim", "replay", "--history", "a,,b"]);
        let message = parsed.unwrap_err().to_string();
        assert!(message.contains("an empty path"), "{message}");
    }

    #[test]
    fn negative_numbers_reach_the_value_check() {
        let parsed = Cli::try_parse_from(["sched-sim", "replay", "--faults", "-1"]).unwrap();
        let Command::Replay(args) = parsed.command else { panic!("not replay") };
        assert_eq!(args.faults, Some(-1.0));
        let seed = Cli::try_parse_from(["sched-sim", "replay", "--seed", "-1"]).unwrap_err();
        assert!(seed.to_string().contains("must be a whole number, 0 or more"), "{seed}");
        let attempts = Cli::try_parse_from(["sched-sim", "replay", "--max-attempts", "5000000000"]);
        assert!(attempts.unwrap_err().to_string().contains("at most 4294967295"));
    }
}
