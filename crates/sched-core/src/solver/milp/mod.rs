//! The exact solver: a mixed-integer model over good_lp and HiGHS.
//!
//! One solve goes through five phases:
//!
//! 1. **Greedy.** The greedy plan is computed first. It bounds the model, seeds
//!    it as the first incumbent, and is the fallback whatever HiGHS does.
//! 2. **Reduce** ([`reduction`]): shapes grouped, dominated offerings dropped,
//!    bin slots per candidate bounded, existing room kept as free bins.
//! 3. **Formulate** ([`formulation`]): the aggregated bin model. The naive
//!    model, one binary per task and bin, has an LP bound no better than
//!    volume and `K!` symmetric copies of every plan; counting tasks per shape
//!    and ordering the bins of each candidate removes both (see
//!    `docs/formulation.md`).
//! 4. **Warm start and solve** ([`warm_start`]): the greedy plan is passed as a
//!    MIP start; HiGHS runs under the configured time limit and gap.
//! 5. **Outcome** ([`outcome`]): the solution is checked in integer arithmetic
//!    and kept only if cheaper than the greedy plan; the report says exactly
//!    why HiGHS stopped and what is proven.
//!
//! The configuration lives on the solver ([`MilpConfig`]) rather than in the
//! [`Policy`](crate::policy::Policy): solvers only ever see a validated
//! [`PlacementProblem`], the limits tune the algorithm rather than what may be
//! rented, and a caller that keeps them in its own config maps them here once.
//!
//! Time: the core never reads a clock. The time limit is enforced by HiGHS
//! on its own timer, and [`SolveReport::solver_time_s`] is HiGHS' own run
//! time. A caller that needs the latency of the whole decision (greedy,
//! reduction and model building included) measures around [`Solver::solve`].

mod formulation;
mod outcome;
mod reduction;
mod warm_start;

use thiserror::Error;
use tracing::{debug, warn};

use self::outcome::{plan_from, relative_gap, run_info, status_of, COST_EPSILON};
use self::reduction::{reduce, tighten, Reduced};
use super::{Greedy, Solver};
use crate::catalog::UsdPerHour;
use crate::plan::{ModelSize, Plan, SolveReport, SolveStatus, SolverStop};
use crate::pricing::PatternLimits;
use crate::problem::PlacementProblem;

/// Limits of one exact solve.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct MilpConfig {
    /// Wall time HiGHS may spend, milliseconds, as HiGHS measures it.
    pub time_limit_ms: u64,
    /// HiGHS stops once `(objective - bound) / objective` is at most this.
    /// 0 asks for a proof of optimality (up to 1e-6 USD/h absolute).
    pub relative_gap: f64,
    /// Models with more variables than this are not built: the greedy plan is
    /// returned with [`SolverStop::ModelTooLarge`].
    pub max_variables: usize,
    /// Work allowed to the pattern LP that bounds the problem and tightens
    /// the bin slots before the model is built.
    pub pattern: PatternLimits,
}

impl Default for MilpConfig {
    fn default() -> Self {
        MilpConfig {
            time_limit_ms: 2_000,
            relative_gap: 1e-4,
            max_variables: 250_000,
            pattern: PatternLimits::default(),
        }
    }
}

impl MilpConfig {
    /// The same limits with a time limit of `ms` milliseconds.
    pub fn with_time_limit_ms(mut self, ms: u64) -> Self {
        self.time_limit_ms = ms;
        self
    }

    /// The same limits with relative gap `gap` (clamped to `[0, 1]`).
    pub fn with_relative_gap(mut self, gap: f64) -> Self {
        self.relative_gap = if gap.is_finite() { gap.clamp(0.0, 1.0) } else { 0.0 };
        self
    }

    /// The same limits with this much work for the pattern LP.
    pub fn with_pattern_limits(mut self, limits: PatternLimits) -> Self {
        self.pattern = limits;
        self
    }

    /// The same limits with at most `n` model variables.
    pub fn with_max_variables(mut self, n: usize) -> Self {
        self.max_variables = n;
        self
    }
}

/// Why a model could not be built or run; mapped to a
/// [`SolveStatus::GreedyKept`] report, never to a failed decision.
#[derive(Debug, Error)]
pub(crate) enum MilpError {
    /// good_lp or HiGHS refused the model.
    #[error("HiGHS refused the model ({0})")]
    Build(String),
    /// An option was refused.
    #[error("HiGHS refused option {option} = {value}")]
    Option { option: &'static str, value: f64 },
    /// The run itself failed.
    #[error("HiGHS failed to run the model: {0}")]
    Run(String),
}

/// Exact placement by mixed-integer programming, warm-started from the greedy
/// plan and never worse than it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Milp {
    /// Time limit, gap and size limit.
    pub config: MilpConfig,
}

impl Milp {
    /// A solver with these limits.
    pub fn new(config: MilpConfig) -> Self {
        Milp { config }
    }

    /// Improves `greedy`, the greedy plan for the problem `reduced` came from.
    pub(crate) fn improve(&self, reduced: &Reduced<'_>, greedy: Plan) -> Plan {
        let greedy_cost = greedy.launch_cost_per_hour().0;
        let mut size = ModelSize {
            shapes: reduced.shapes.len(),
            candidates: reduced.kinds.len(),
            bins: reduced.bins(),
            variables: reduced.variables(),
            constraints: 0,
        };
        let report = |status, stop, objective: f64, bound: f64, time, size| SolveReport {
            status,
            stop,
            objective: UsdPerHour(objective),
            best_bound: UsdPerHour(bound),
            relative_gap: relative_gap(objective, bound),
            greedy_objective: UsdPerHour(greedy_cost),
            solver_time_s: time,
            size,
        };

        // Nothing to buy: the greedy plan launches nothing, which is optimal.
        if greedy_cost <= COST_EPSILON {
            let mut plan = greedy;
            plan.solve =
                Some(report(SolveStatus::Optimal, SolverStop::NotRun, 0.0, 0.0, None, size));
            return plan;
        }
        let pattern_bound = reduced.pattern_bound.min(greedy_cost);
        if greedy_cost - pattern_bound <= outcome::ABSOLUTE_GAP_USD_PER_HOUR {
            debug!(
                greedy = greedy_cost,
                pattern_bound, "the pattern bound proves the greedy plan optimal"
            );
            let mut plan = greedy;
            plan.solve = Some(report(
                SolveStatus::Optimal,
                SolverStop::NotRun,
                greedy_cost,
                pattern_bound,
                None,
                size,
            ));
            return plan;
        }
        if size.variables > self.config.max_variables {
            debug!(
                variables = size.variables,
                max_variables = self.config.max_variables,
                "milp model too large, keeping the greedy plan"
            );
            let mut plan = greedy;
            plan.solve = Some(report(
                SolveStatus::GreedyKept,
                SolverStop::ModelTooLarge,
                greedy_cost,
                pattern_bound,
                None,
                size,
            ));
            return plan;
        }

        match self.run(reduced, &greedy) {
            Ok((candidate, stop, bound, time, built)) => {
                size = built;
                let milp_cost = candidate.as_ref().map(|p| p.launch_cost_per_hour().0);
                let improved = milp_cost.is_some_and(|c| c < greedy_cost - COST_EPSILON);
                let mut plan = match candidate {
                    Some(p) if improved => p,
                    _ => greedy,
                };
                let objective = plan.launch_cost_per_hour().0;
                let bound = bound.max(pattern_bound).clamp(0.0, objective);
                let status = status_of(stop, improved, objective, bound);
                if matches!(status, SolveStatus::Infeasible) || stop == SolverStop::SolutionRejected
                {
                    warn!(%stop, "HiGHS disagrees with a feasible greedy plan; keeping it");
                }
                debug!(
                    %status,
                    %stop,
                    objective,
                    bound,
                    greedy = greedy_cost,
                    time_s = time,
                    variables = size.variables,
                    constraints = size.constraints,
                    "milp plan"
                );
                plan.solve = Some(report(status, stop, objective, bound, Some(time), size));
                plan
            }
            Err(error) => {
                warn!(%error, "milp solve failed, keeping the greedy plan");
                let mut plan = greedy;
                plan.solve = Some(report(
                    SolveStatus::GreedyKept,
                    SolverStop::SolverError,
                    greedy_cost,
                    pattern_bound,
                    None,
                    size,
                ));
                plan
            }
        }
    }

    /// Builds, warm-starts and runs the model. Returns the checked plan HiGHS
    /// found (if any), its stop reason, its dual bound (0 when it has none),
    /// its run time and the model's size.
    #[allow(clippy::type_complexity)]
    fn run(
        &self,
        reduced: &Reduced<'_>,
        greedy: &Plan,
    ) -> Result<(Option<Plan>, SolverStop, f64, f64, ModelSize), MilpError> {
        let formulation::Formulation { mut model, columns, size } =
            formulation::formulate(reduced)?;

        // Limits, then the warm start.
        let limit_s = self.config.time_limit_ms as f64 / 1000.0;
        let options: [(&'static str, f64); 2] = [
            ("mip_rel_gap", self.config.relative_gap),
            ("mip_abs_gap", outcome::ABSOLUTE_GAP_USD_PER_HOUR),
        ];
        for (option, value) in options {
            model.try_set_option(option, value).map_err(|_| MilpError::Option { option, value })?;
        }
        let point = warm_start::greedy_point(reduced, &columns, greedy);
        if point.is_none() {
            warn!("the greedy plan does not map onto the model; solving cold");
        }

        // HiGHS 1.12 can hand back the MIP start instead of its own optimum
        // when presolve solves the model outright (its objective then does
        // not match the columns). Such a run is repeated once without presolve.
        let mut spent = 0.0;
        for presolve in [true, false] {
            let time_limit = (limit_s - spent).max(0.0);
            model
                .try_set_option("time_limit", time_limit)
                .map_err(|_| MilpError::Option { option: "time_limit", value: time_limit })?;
            if !presolve {
                model
                    .try_set_option("presolve", "off")
                    .map_err(|_| MilpError::Option { option: "presolve", value: 0.0 })?;
            }
            if let Some(point) = &point {
                if model.try_set_solution(Some(point), None, None, None).is_err() {
                    warn!("HiGHS refused the greedy warm start");
                }
            }
            let solved =
                model.try_solve().map_err(|status| MilpError::Run(format!("{status:?}")))?;
            let info = run_info(&solved);
            spent += info.run_time_s;
            let mut stop = info.stop;
            let mut plan = None;
            if info.has_solution {
                let values = solved.get_solution();
                let claimed = solved.objective_value();
                let actual = objective_of(reduced, &columns, values.columns());
                if presolve && (actual - claimed).abs() > 1e-6 * claimed.abs().max(1.0) {
                    warn!(claimed, actual, "HiGHS solution does not match its objective; solving again without presolve");
                    model = highs::Model::from(solved);
                    continue;
                }
                plan = plan_from(reduced, &columns, values.columns());
                if plan.is_none() {
                    stop = SolverStop::SolutionRejected;
                }
            }
            let bound = match info.stop {
                SolverStop::Infeasible
                | SolverStop::UnboundedOrInfeasible
                | SolverStop::Unbounded
                | SolverStop::SolverError => 0.0,
                _ => info.dual_bound.unwrap_or(0.0),
            };
            return Ok((plan, stop, bound, spent, size));
        }
        Err(MilpError::Run("HiGHS returned inconsistent solutions twice".into()))
    }
}

/// The model's objective at `values`: the price of every open slot.
fn objective_of(reduced: &Reduced<'_>, columns: &formulation::Columns, values: &[f64]) -> f64 {
    reduced
        .kinds
        .iter()
        .zip(&columns.open)
        .map(|(kind, open)| {
            open.iter()
                .map(|&col| kind.candidate.price.0 * values.get(col).copied().unwrap_or(0.0))
                .sum::<f64>()
        })
        .sum()
}

impl Solver for Milp {
    fn name(&self) -> &str {
        "milp"
    }

    fn solve(&self, problem: &PlacementProblem<'_>) -> Plan {
        let greedy = Greedy.solve(problem);
        let mut reduced = reduce(problem, &greedy);
        tighten(&mut reduced, greedy.launch_cost_per_hour().0, &self.config.pattern);
        self.improve(&reduced, greedy)
    }
}

/// The exact solver where the reduced model is small, the greedy one elsewhere.
///
/// The size rule: after the reductions, the model has one variable per bin
/// slot and one per (slot, fitting shape) pair, plus one per (existing room,
/// fitting shape) pair. Up to [`Auto::max_milp_variables`] of them, HiGHS
/// usually proves optimality, or gets close, well inside a one- to two-second
/// limit on one core (see `benches/milp.rs`); above it the greedy plan is
/// returned as is, without a [`SolveReport`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Auto {
    /// Limits for the exact solves it runs.
    pub milp: MilpConfig,
    /// Largest reduced model, in variables, solved exactly.
    pub max_milp_variables: usize,
}

impl Default for Auto {
    fn default() -> Self {
        Auto { milp: MilpConfig::default(), max_milp_variables: 20_000 }
    }
}

impl Auto {
    /// Auto with these exact-solve limits and size threshold.
    pub fn new(milp: MilpConfig, max_milp_variables: usize) -> Self {
        Auto { milp, max_milp_variables }
    }
}

impl Solver for Auto {
    fn name(&self) -> &str {
        "auto"
    }

    fn solve(&self, problem: &PlacementProblem<'_>) -> Plan {
        let greedy = Greedy.solve(problem);
        let mut reduced = reduce(problem, &greedy);
        tighten(&mut reduced, greedy.launch_cost_per_hour().0, &self.milp.pattern);
        let variables = reduced.variables();
        let exact = variables <= self.max_milp_variables;
        debug!(
            choice = if exact { "milp" } else { "greedy" },
            tasks = reduced.tasks(),
            shapes = reduced.shapes.len(),
            candidates = reduced.kinds.len(),
            candidates_before = reduced.candidates_before,
            bins = reduced.bins(),
            variables,
            max_milp_variables = self.max_milp_variables,
            "auto solver choice"
        );
        if exact {
            Milp::new(self.milp).improve(&reduced, greedy)
        } else {
            greedy
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::{CandidateSet, PendingTask, TaskId};
    use crate::resources::Resources;
    use crate::test_support::candidate;

    #[test]
    fn the_greedy_warm_start_is_a_feasible_incumbent() {
        let candidates =
            CandidateSet::new(vec![candidate(0, 4, 16_384, 0.20), candidate(1, 16, 65_536, 0.70)]);
        let tasks: Vec<PendingTask> = (0..30)
            .map(|i| {
                PendingTask::new(
                    TaskId(i),
                    Resources::new(500 + 250 * (i % 4), 1024 * (1 + i % 3), 0),
                )
            })
            .collect();
        let problem = PlacementProblem::new(tasks, &candidates);
        let greedy = Greedy.solve(&problem);
        let reduced = reduce(&problem, &greedy);
        // No time at all: whatever HiGHS holds is the start it was given.
        let milp = Milp::new(MilpConfig::default().with_time_limit_ms(0));
        let (plan, stop, _, time, _) = milp.run(&reduced, &greedy).unwrap();
        let plan = plan.expect("the warm start is kept as the incumbent");
        assert!(plan.launch_cost_per_hour().0 <= greedy.launch_cost_per_hour().0 + 1e-9);
        assert!(time >= 0.0);
        assert!(matches!(stop, SolverStop::TimeLimit | SolverStop::Optimal), "{stop}");
    }

    #[test]
    fn an_empty_problem_is_optimal_without_running() {
        let candidates = CandidateSet::new(vec![candidate(0, 4, 16_384, 0.20)]);
        let plan = Milp::default().solve(&PlacementProblem::new(Vec::new(), &candidates));
        let report = plan.solve.expect("report");
        assert_eq!(report.status, SolveStatus::Optimal);
        assert_eq!(report.stop, SolverStop::NotRun);
    }
}
