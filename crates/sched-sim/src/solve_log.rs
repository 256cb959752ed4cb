//! Per-decision solver outcomes, recorded during a replay and rolled up.
//!
//! [`Recording`] wraps any solver: it forwards each decision and keeps what
//! the exact solver said about it ([`SolveReport`]), plus the wall time of the
//! whole decision as the simulator measured it (the core reads no clock).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sched_core::plan::{Plan, SolveReport};
use sched_core::problem::PlacementProblem;
use sched_core::solver::Solver;
use serde::Serialize;

#[derive(Debug, Default)]
struct Log {
    decisions: usize,
    decision_time_s: f64,
    reports: Vec<SolveReport>,
}

/// A solver that records every decision of the one it wraps.
pub struct Recording {
    inner: Box<dyn Solver>,
    log: Arc<Mutex<Log>>,
}

/// The handle a replay keeps to read the log after the engine is done.
#[derive(Debug, Clone)]
pub struct LogHandle(Arc<Mutex<Log>>);

impl Recording {
    /// Wraps `inner`; the handle reads what it records.
    pub fn wrap(inner: Box<dyn Solver>) -> (Self, LogHandle) {
        let log = Arc::new(Mutex::new(Log::default()));
        (Recording { inner, log: Arc::clone(&log) }, LogHandle(log))
    }
}

impl Solver for Recording {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn solve(&self, problem: &PlacementProblem<'_>) -> Plan {
        let started = Instant::now();
        let plan = self.inner.solve(problem);
        let elapsed = started.elapsed().as_secs_f64();
        let mut log = self.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        log.decisions += 1;
        log.decision_time_s += elapsed;
        if let Some(report) = &plan.solve {
            log.reports.push(report.clone());
        }
        plan
    }
}

/// What the solver did over a whole replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SolveSummary {
    /// Solver name: `greedy`, `milp` or `auto`.
    pub name: String,
    /// Placement decisions made.
    pub decisions: usize,
    /// Decisions the exact solver ran on (the rest were greedy).
    pub exact_decisions: usize,
    /// Exact decisions proven optimal.
    pub proven_optimal: usize,
    /// Exact decisions by outcome (`optimal`, `feasible-at-time-limit`, ...).
    pub outcomes: BTreeMap<String, usize>,
    /// Exact decisions whose plan is cheaper per hour than the greedy one.
    pub improved_on_greedy: usize,
    /// Largest relative gap of an exact decision.
    pub worst_gap: f64,
    /// Mean relative gap over exact decisions.
    pub mean_gap: f64,
    /// HiGHS' own run time, summed, seconds.
    pub solver_time_s: f64,
    /// Wall time of every decision, solver and all, summed, seconds.
    pub decision_time_s: f64,
}

impl LogHandle {
    /// Rolls the log up under the solver's `name`.
    pub fn summary(&self, name: &str) -> SolveSummary {
        let log = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut outcomes = BTreeMap::new();
        for report in &log.reports {
            *outcomes.entry(report.status.name().to_string()).or_insert(0) += 1;
        }
        let gaps: Vec<f64> = log.reports.iter().map(|r| r.relative_gap).collect();
        SolveSummary {
            name: name.to_string(),
            decisions: log.decisions,
            exact_decisions: log.reports.len(),
            proven_optimal: outcomes.get("optimal").copied().unwrap_or(0),
            outcomes,
            improved_on_greedy: log.reports.iter().filter(|r| !r.kept_greedy_cost()).count(),
            worst_gap: gaps.iter().copied().fold(0.0, f64::max),
            mean_gap: if gaps.is_empty() {
                0.0
            } else {
                gaps.iter().sum::<f64>() / gaps.len() as f64
            },
            solver_time_s: log.reports.iter().filter_map(|r| r.solver_time_s).sum(),
            decision_time_s: log.decision_time_s,
        }
    }
}
