//! The replay report: one JSON document per trace, or a table for a person.
//!
//! The JSON schema is documented in `docs/report.md`; field names carry their
//! unit (`_usd`, `_s`) and ratios are plain fractions in `0..=1`.

use std::fmt::Write as _;

use serde::Serialize;

use sched_core::rightsize::RightsizeModel;

use crate::learn::HistorySource;
use crate::metrics::ProcessResources;
use crate::predict::PredictionCheck;
use crate::replay::StrategyReport;
use crate::strategy::Strategy;

/// Which trace was replayed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceSummary {
    /// As given on the command line, or the bundled file's name.
    pub path: String,
    /// Tasks replayed.
    pub tasks: usize,
    /// CACHED rows skipped.
    pub skipped_cached: usize,
    /// Lines whose separator-in-a-tag split was repaired (see docs/traces.md).
    pub repaired_lines: Vec<u64>,
    /// `recorded`, `derived` or `mixed`: where the requests came from.
    pub requests: String,
}

/// Which catalog was used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogSummary {
    /// As given, or the bundled file's name.
    pub path: String,
    /// Offerings in the catalog (every type, spot and on demand).
    pub offerings: usize,
}

/// The resolved settings, so a report says what produced it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicySummary {
    /// `spotFirst`, `spot` or `ondemand`.
    pub provisioning: String,
    /// Allow-list entries, or `None` for the whole catalog.
    pub instance_types: Option<Vec<String>>,
    /// Offerings the policy allows.
    pub allowed_offerings: usize,
    /// Idle release delay, seconds.
    pub idle_release_s: u64,
    /// Boot latency of the simulated cloud, seconds.
    pub boot_s: f64,
    /// Minimum billed period, seconds.
    pub min_billing_s: u64,
    /// Fixed memory reserved per instance, MiB.
    pub reserved_memory_mib: u64,
    /// Proportional memory reserved per instance, parts per million.
    pub reserved_memory_ppm: u64,
    /// Seed of the simulation's random draws.
    pub seed: u64,
    /// Multiplier of the catalog's spot reclaim rates.
    pub interruption_scale: f64,
    /// Spot types refused for the whole run (`--spot-unavailable`), as given.
    pub spot_unavailable: Option<String>,
    /// Starts a task gets in all.
    pub max_attempts: u32,
    /// Capacity refusals before `spotFirst` goes on demand for a task.
    pub max_spot_attempts: u32,
    /// Weight of the expected lost work in spot choices.
    pub spot_risk_weight: f64,
    /// Rate of injected faults (`--faults`), when faults were injected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faults: Option<f64>,
}

/// Everything a replay of one trace produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The trace.
    pub trace: TraceSummary,
    /// The catalog.
    pub catalog: CatalogSummary,
    /// The settings.
    pub policy: PolicySummary,
    /// One entry per strategy, in the order they ran.
    pub strategies: Vec<StrategyReport>,
    /// The right-sizing model the right-sized strategies used.
    pub rightsizing: Option<RightsizingSummary>,
    /// The cost predicted for the trace beside the simulated one.
    pub prediction: Option<PredictionCheck>,
}

/// What the right-sized strategies learned from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RightsizingSummary {
    /// Earlier traces, or the hold-out split of this one.
    pub history: HistorySource,
    /// Usage samples learned from.
    pub samples: usize,
    /// The recommendations per process and how they were made.
    pub model: RightsizeModel,
}

impl Report {
    /// A fixed-width table for a terminal.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let derived = match self.trace.requests.as_str() {
            "recorded" => "",
            "derived" => "; requests DERIVED from recorded usage (the trace has none)",
            _ => "; some requests DERIVED from recorded usage",
        };
        let repaired = match self.trace.repaired_lines.len() {
            0 => String::new(),
            n => format!("; {n} row(s) with the separator in a tag repaired"),
        };
        let _ = writeln!(
            out,
            "{}: {} tasks ({} cached skipped{derived}{repaired})",
            self.trace.path, self.trace.tasks, self.trace.skipped_cached
        );
        let _ = writeln!(
            out,
            "catalog {} ({} offerings, {} allowed), provisioning {}",
            self.catalog.path,
            self.catalog.offerings,
            self.policy.allowed_offerings,
            self.policy.provisioning
        );
        let _ = writeln!(
            out,
            "{:<25} {:>10} {:>8} {:>6} {:>6} {:>10} {:>9} {:>9} {:>5} {:>5} {:>5} {:>6}",
            "strategy",
            "cost $",
            "x bound",
            "cpu%",
            "mem%",
            "makespan",
            "queue s",
            "instances",
            "ok",
            "fail",
            "unsch",
            "cancel"
        );
        for s in &self.strategies {
            // Cost over the valid (pattern-LP) bound; the per-task one is not a
            // bound in general, so it is only the fallback.
            let bound = s.pattern_bound_usd.unwrap_or(s.lower_bound_usd);
            let _ = writeln!(
                out,
                "{:<25} {:>10.4} {:>8} {:>6.1} {:>6.1} {:>10} {:>9.1} {:>9} {:>5} {:>5} {:>5} {:>6}",
                s.name,
                shown(s.cost_usd),
                times_bound(s.cost_usd, bound),
                shown(s.cpu_utilization * 100.0),
                shown(s.memory_utilization * 100.0),
                format_duration(s.makespan_s),
                shown(s.mean_queue_s),
                s.instances_launched,
                s.tasks.succeeded,
                s.tasks.failed,
                s.tasks.unschedulable,
                s.tasks.cancelled,
            );
        }
        incomplete_lines(&mut out, &self.strategies);
        for s in &self.strategies {
            let Some(solver) = &s.solver else { continue };
            let _ = writeln!(
                out,
                "{}: {} decisions, {} exact ({} proven optimal, {} cheaper than greedy), \
                 gap worst {:.2}% mean {:.2}%, HiGHS {:.1}s, decisions {:.1}s",
                s.name,
                solver.decisions,
                solver.exact_decisions,
                solver.proven_optimal,
                solver.improved_on_greedy,
                solver.worst_gap * 100.0,
                solver.mean_gap * 100.0,
                solver.solver_time_s,
                solver.decision_time_s,
            );
        }
        if let Some(first) = self.strategies.first() {
            let _ = writeln!(
                out,
                "lower bounds: per-task ${:.4} (each task at the cheapest price of its dominant \
                 resource); pattern LP {}",
                shown(first.lower_bound_usd),
                first
                    .pattern_bound_usd
                    .map_or_else(|| "unavailable".to_string(), |b| format!("${:.4}", shown(b))),
            );
        }
        self.spot_lines(&mut out);
        self.rightsize_lines(&mut out);
        crate::report_faults::unschedulable_lines(&mut out, &self.strategies);
        crate::report_faults::fault_lines(&mut out, self.policy.faults, &self.strategies);
        if let Some(first) = self.strategies.first() {
            process_lines(&mut out, &first.processes);
        }
        out
    }

    /// The right-sizing source, kills and retries, and the prediction check.
    fn rightsize_lines(&self, out: &mut String) {
        if let Some(r) = &self.rightsizing {
            let from = match &r.history {
                HistorySource::HoldOut => {
                    "hold-out: first half of each process's tasks of this trace".to_string()
                }
                HistorySource::Traces { paths } => paths.join(", "),
            };
            let _ = writeln!(
                out,
                "right-sizing from {from} ({} samples, {} processes):",
                r.samples,
                r.model.per_process.len()
            );
            for s in self.strategies.iter().filter(|s| s.oom.rightsized_tasks > 0) {
                let _ = writeln!(
                    out,
                    "  {:<25} {} tasks right-sized, {} OOM kills, {} retried, {} failed by OOM, \
                     killed work ${:.4}",
                    s.name,
                    s.oom.rightsized_tasks,
                    s.oom.kills,
                    s.oom.retries,
                    s.oom.failed,
                    s.oom.killed_work_usd,
                );
            }
        }
        if let Some(p) = &self.prediction {
            let _ = writeln!(
                out,
                "predicted {}: ${:.4} [{:.4}, {:.4}] ({:.0}% of {} draws), simulated ${:.4}, \
                 error {:+.1}%{}",
                p.prediction.strategy,
                p.prediction.predicted_cost_usd,
                p.prediction.interval_usd[0],
                p.prediction.interval_usd[1],
                p.prediction.confidence * 100.0,
                p.prediction.draws,
                p.simulated_cost_usd,
                p.error_pct,
                if p.within_interval { "" } else { " (outside the interval)" },
            );
        }
    }

    /// One line per strategy on reclaims, retries and the on-demand share.
    fn spot_lines(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "spot (reclaim rates x{}, seed {}{}):",
            self.policy.interruption_scale,
            self.policy.seed,
            self.policy
                .spot_unavailable
                .as_ref()
                .map_or_else(String::new, |types| format!(", spot refused for {types}")),
        );
        for s in &self.strategies {
            let spot = &s.spot;
            let _ = writeln!(
                out,
                "  {:<25} {} reclaimed, {} preemptions, {} retries, {} failed after retries, \
                 lost work ${:.4}, on demand {:.1}% of cost",
                s.name,
                spot.reclaimed_instances,
                spot.preemptions,
                spot.retries,
                spot.failed_after_retries,
                shown(spot.lost_work_usd),
                shown(spot.on_demand_cost_share * 100.0),
            );
        }
    }
}

/// Tasks a replay did not carry to the end their trace recorded: CANCELLED
/// ones, those FAILED because a spot reclaim came on their last attempt,
/// and those FAILED by an out-of-memory kill the guard could not retry. The
/// kills of `greedy-rightsized`, which runs without the guard to show what
/// they cost, are reported but not counted here; tasks the trace recorded
/// as failed are replayed as failed and not counted either. Any such task
/// makes `sched-sim` exit with [`EXIT_TASKS_INCOMPLETE`](crate::cli::EXIT_TASKS_INCOMPLETE).
pub fn incomplete_tasks(report: &StrategyReport) -> usize {
    let oom = if report.name == Strategy::GreedyRightsized.name() { 0 } else { report.oom.failed };
    report.tasks.cancelled + report.spot.failed_after_retries + oom
}

/// How many processes the table shows.
const PROCESS_ROWS: usize = 10;

/// Requested, Allocated and Used of the largest processes, with a reading.
fn process_lines(out: &mut String, processes: &[ProcessResources]) {
    if processes.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "requested / allocated / used by process (cpu-hours | GiB-hours), largest {}:",
        PROCESS_ROWS.min(processes.len())
    );
    let gib_h = |mib_s: f64| mib_s / 1024.0 / 3600.0;
    for p in processes.iter().take(PROCESS_ROWS) {
        let used = p.used.map_or_else(
            || "-".to_string(),
            |u| format!("{:.1} | {:.1}", u.cpu_s / 3600.0, gib_h(u.memory_mib_s)),
        );
        // The tail names the step; the head is the pipeline, the same for all.
        let chars: Vec<char> = p.process.chars().collect();
        let name: String = chars[chars.len().saturating_sub(36)..].iter().collect();
        let _ = writeln!(
            out,
            "  {name:<36} {:>5} tasks  req {:>8.1} | {:>8.1}  alloc {:>8.1} | {:>8.1}  used {:>15}  {}",
            p.tasks,
            p.requested.cpu_s / 3600.0,
            gib_h(p.requested.memory_mib_s),
            p.allocated.cpu_s / 3600.0,
            gib_h(p.allocated.memory_mib_s),
            used,
            p.reading.words(),
        );
    }
}

/// The tasks each strategy did not carry to the end their trace recorded,
/// said before anything else below the table; nothing when there are none.
fn incomplete_lines(out: &mut String, strategies: &[StrategyReport]) {
    if strategies.iter().all(|s| incomplete_tasks(s) == 0) {
        return;
    }
    let _ = writeln!(
        out,
        "INCOMPLETE: tasks the replay did not carry to the end their trace recorded \
         (exit code {}):",
        crate::cli::EXIT_TASKS_INCOMPLETE
    );
    for s in strategies.iter().filter(|s| incomplete_tasks(s) > 0) {
        let oom = if s.name == Strategy::GreedyRightsized.name() { 0 } else { s.oom.failed };
        let mut parts = Vec::new();
        if s.tasks.cancelled > 0 {
            let why = if s.abandoned > 0 {
                " (no task started or ended for a day: no capacity came)"
            } else {
                ""
            };
            parts.push(format!("{} CANCELLED{why}", s.tasks.cancelled));
        }
        if s.spot.failed_after_retries > 0 {
            parts.push(format!(
                "{} FAILED by spot reclaims on every attempt",
                s.spot.failed_after_retries
            ));
        }
        if oom > 0 {
            parts.push(format!("{oom} FAILED by out-of-memory kills"));
        }
        let _ = writeln!(out, "  {:<25} {}", s.name, parts.join(", "));
    }
}

/// A figure as the table prints it: `-0` as `0`, so an empty sum (which is
/// `-0.0` in floating point) does not print a minus sign.
fn shown(value: f64) -> f64 {
    if value == 0.0 {
        0.0
    } else {
        value
    }
}

/// Cost over the lower bound, or `n/a` when there is no positive bound or
/// no finite ratio (an empty trace, prices too small to divide by).
fn times_bound(cost: f64, bound: f64) -> String {
    let ratio = cost / bound;
    if bound > 0.0 && ratio.is_finite() {
        format!("{ratio:.2}")
    } else {
        "n/a".to_string()
    }
}

/// `3725.0` as `1h02m05s`.
fn format_duration(seconds: f64) -> String {
    let total = seconds.round() as u64;
    let (h, m, s) = (total / 3600, total % 3600 / 60, total % 60);
    if h > 0 {
        format!("{h}h{m:02}m{s:02}s")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::format_duration;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(3725.0), "1h02m05s");
        assert_eq!(format_duration(65.4), "1m05s");
        assert_eq!(format_duration(9.6), "10s");
    }
}
