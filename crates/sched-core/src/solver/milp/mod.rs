//! The exact solver: a pattern LP for the bound, a dive for the plan, and a
//! compact mixed-integer model for the proof, over HiGHS, all inside one
//! time limit.
//!
//! One solve goes through these phases, every one of them under the same
//! deadline, set when [`Solver::solve`] is called ([`deadline`]):
//!
//! 1. **Greedy.** The greedy plan is computed first. It bounds the model,
//!    seeds the compact model as its incumbent, and is the fallback whatever
//!    HiGHS does.
//! 2. **Reduce** ([`reduction`]): shapes grouped, dominated offerings dropped,
//!    bin slots per candidate bounded, existing room kept as free bins.
//! 3. **Pattern LP** (`pricing::generation`): column generation over bin
//!    patterns, priced exactly by dynamic programming, proves a lower bound
//!    far above what the compact model's relaxation gives (the LP of the
//!    configuration model; see `docs/formulation.md`).
//! 4. **Dive** ([`dive`]): the LP rounded to whole bins one step at a time,
//!    with column generation after each step ([`bins`] turns the bins into
//!    tasks' placements). On the bundled traces' batches it lands within a
//!    fraction of a percent of the bound, which ends the solve when that is
//!    within the gap asked for.
//! 5. **Compact model** ([`formulation`], [`warm_start`]): when the gap is
//!    still open and time is left, the aggregated bin model, its slots cut by
//!    the best plan and the pattern duals (reduced-cost fixing), warm-started
//!    from the best plan so far. Its branch and bound is what closes the last
//!    part of the gap on small problems; it is skipped when it is too large
//!    for the time left.
//! 6. **Outcome** ([`outcome`]): plans are checked in integer arithmetic and
//!    kept only if cheaper than the greedy plan; the report says exactly why
//!    the search stopped and what is proven.
//!
//! The configuration lives on the solver ([`MilpConfig`]) rather than in the
//! [`Policy`](crate::policy::Policy): solvers only ever see a validated
//! [`PlacementProblem`], the limits tune the algorithm rather than what may be
//! rented, and a caller that keeps them in its own config maps them here once.

mod bins;
mod deadline;
mod dive;
mod formulation;
mod outcome;
mod reduction;
mod warm_start;

use thiserror::Error;
use tracing::{debug, warn};

use self::deadline::Deadline;
use self::outcome::{plan_from, relative_gap, run_info, status_of, COST_EPSILON};
use self::reduction::{reduce, Reduced};
use super::{Greedy, Solver};
use crate::catalog::UsdPerHour;
use crate::plan::{ModelSize, Plan, SolveReport, SolveStatus, SolverStop};
use crate::pricing::generation::Generator;
use crate::pricing::PatternLimits;
use crate::problem::PlacementProblem;

/// Limits of one exact solve.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct MilpConfig {
    /// Wall time the whole [`Solver::solve`] call may take, milliseconds,
    /// from its start: greedy, reduction, pattern LP, dive, model building
    /// and every HiGHS run share it.
    pub time_limit_ms: u64,
    /// HiGHS stops once `(objective - bound) / objective` is at most this.
    /// 0 asks for a proof of optimality (up to 1e-6 USD/h absolute).
    pub relative_gap: f64,
    /// Compact models with more variables than this are not built: the best
    /// plan of the earlier phases is returned with
    /// [`SolverStop::ModelTooLarge`].
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
/// plan, never worse than it, and inside its time limit as a whole.
#[derive(Debug, Clone, Copy, Default)]
pub struct Milp {
    /// Time limit, gap and size limit.
    pub config: MilpConfig,
}

/// Share of the time limit the pattern LP may run to (it stops between
/// rounds once this much of the limit has passed).
const PATTERN_SHARE: f64 = 0.4;

/// Share of the time limit the dive may take after the pattern LP. Both
/// usually end long before their share (under a tenth of a second each on
/// the benchmark's 200-task batch); the shares matter on large batches, where
/// a dive cut short leaves only the LP rounded up, and the compact model
/// could not be built in what is left anyway.
const DIVE_SHARE: f64 = 0.45;

/// Time kept back at the end for reading HiGHS' answer and assembling the
/// plan: the smaller of this share of the limit and [`RESERVE_MAX_S`].
const RESERVE_SHARE: f64 = 0.05;

/// See [`RESERVE_SHARE`], seconds.
const RESERVE_MAX_S: f64 = 0.05;

/// Time to budget for building and loading the compact model, per variable,
/// seconds: measured at about 2.3 µs on the benchmark machine, with margin.
const BUILD_S_PER_VARIABLE: f64 = 5e-6;

/// The compact model is only built when the time left is at least this many
/// times its build estimate: HiGHS' presolve and first LP take longer than
/// building it, and a run that cannot get past them proves nothing.
const COMPACT_MIN_BUILDS: f64 = 3.0;

/// Share of its time left that the compact model's HiGHS run is given as its
/// limit. HiGHS looks at its clock between steps of its own, and a step on a
/// large model can run past the limit (by a tenth of a second on a
/// 90,000-variable model in the benchmark); the rest is the margin.
const COMPACT_SHARE: f64 = 0.85;

/// One HiGHS phase of a solve: the time it was allowed and the run time HiGHS
/// reports for it, for the debug log and for the tests that hold every phase
/// to its budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Phase {
    pub name: &'static str,
    pub budget_s: f64,
    pub highs_s: f64,
}

/// What the phases found so far.
struct Search {
    best: Plan,
    best_cost: f64,
    bound: f64,
    stop: SolverStop,
    highs_s: Option<f64>,
    size: ModelSize,
    phases: Vec<Phase>,
}

impl Search {
    fn record(&mut self, phase: Phase) {
        self.highs_s = Some(self.highs_s.unwrap_or(0.0) + phase.highs_s);
        self.phases.push(phase);
    }

    fn offer(&mut self, plan: Option<Plan>) {
        if let Some(plan) = plan {
            let cost = plan.launch_cost_per_hour().0;
            if cost < self.best_cost - COST_EPSILON {
                self.best = plan;
                self.best_cost = cost;
            }
        }
    }

    fn closed(&self, relative_gap_limit: f64) -> bool {
        self.best_cost - self.bound <= outcome::ABSOLUTE_GAP_USD_PER_HOUR
            || relative_gap(self.best_cost, self.bound) <= relative_gap_limit
    }
}

impl Milp {
    /// A solver with these limits.
    pub fn new(config: MilpConfig) -> Self {
        Milp { config }
    }

    /// Improves `greedy`, the greedy plan for the problem `reduced` came from,
    /// within `deadline`.
    pub(crate) fn improve(
        &self,
        reduced: &mut Reduced<'_>,
        greedy: Plan,
        deadline: &Deadline,
    ) -> Plan {
        self.improve_traced(reduced, greedy, deadline).0
    }

    /// [`Milp::improve`], with the HiGHS phases it ran.
    fn improve_traced(
        &self,
        reduced: &mut Reduced<'_>,
        greedy: Plan,
        deadline: &Deadline,
    ) -> (Plan, Vec<Phase>) {
        let greedy_cost = greedy.launch_cost_per_hour().0;
        let gap_limit = self.config.relative_gap;
        let reserve_s = (deadline.limit_s() * RESERVE_SHARE).min(RESERVE_MAX_S);
        let mut search = Search {
            best: greedy,
            best_cost: greedy_cost,
            bound: 0.0,
            stop: SolverStop::NotRun,
            highs_s: None,
            size: sizes(reduced),
            phases: Vec::new(),
        };

        debug!(
            tasks = reduced.tasks(),
            shapes = reduced.shapes.len(),
            candidates = reduced.kinds.len(),
            candidates_before = reduced.candidates_before,
            rooms = reduced.rooms.len(),
            greedy = greedy_cost,
            limit_s = deadline.limit_s(),
            elapsed_s = deadline.elapsed_s(),
            "milp reduced problem"
        );

        // Nothing to buy: the greedy plan launches nothing, which is optimal.
        if greedy_cost <= COST_EPSILON {
            return self.finish(search, greedy_cost);
        }

        // The pattern LP: the bound, and the LP the dive starts from.
        let pattern_until_s = deadline.limit_s() * PATTERN_SHARE;
        let input = if deadline.passed() {
            search.stop = SolverStop::TimeLimit;
            None
        } else {
            reduction::pattern_input(reduced)
        };
        let mut generator = input.as_ref().and_then(|input| {
            Generator::new(input, self.config.pattern)
                .map_err(|message| warn!(%message, "pattern LP refused; no bound, no dive"))
                .ok()
                .flatten()
        });
        let generated = generator.as_mut().and_then(|generator| {
            let stop = || deadline.elapsed_s() >= pattern_until_s;
            generator
                .converge(&stop)
                .map_err(|(round, message)| warn!(round, %message, "pattern LP failed; no bound"))
                .ok()
        });
        if let Some(g) = &generated {
            reduced.pattern_bound = g.bound.max(0.0);
            search.bound = reduced.pattern_bound.min(greedy_cost);
            search.record(Phase {
                name: "pattern-lp",
                budget_s: pattern_until_s,
                highs_s: g.time_s,
            });
            if g.stopped {
                search.stop = SolverStop::TimeLimit;
            }
        }
        if search.closed(gap_limit) {
            debug!(greedy = greedy_cost, bound = search.bound, "the pattern bound closes the gap");
            return self.finish(search, greedy_cost);
        }

        // Dives: the LP made whole, one rounding step at a time, by one rule
        // after another while the gap is open and time is left.
        let dive_until_s = deadline.limit_s() * (PATTERN_SHARE + DIVE_SHARE);
        if let Some(generator) = generator.as_mut().filter(|_| generated.is_some()) {
            let stop = || deadline.elapsed_s() >= dive_until_s;
            for (n, rule) in dive::Rule::ALL.into_iter().enumerate() {
                if n > 0 && (stop() || generator.release().is_err()) {
                    break;
                }
                let before_s = generator.time_s();
                let run = dive::dive(generator, reduced, &stop, rule);
                debug!(
                    ?rule,
                    steps = run.steps,
                    rounds = run.rounds,
                    cost = run.plan.as_ref().map(|p| p.launch_cost_per_hour().0),
                    "dive ran"
                );
                let highs_s = generator.time_s() - before_s;
                search.record(Phase {
                    name: "dive",
                    budget_s: dive_until_s - pattern_until_s,
                    highs_s,
                });
                search.stop = if stop() { SolverStop::TimeLimit } else { SolverStop::NotRun };
                search.offer(run.plan);
                if search.closed(gap_limit) {
                    return self.finish(search, greedy_cost);
                }
            }
        }

        // The compact model, cut down by the best plan so far.
        let floor = warm_start::bins_per_kind(reduced, &search.best);
        reduction::fit_slots(reduced, search.best_cost, generated.as_ref(), &floor);
        drop(generator);
        search.size = sizes(reduced);
        let variables = search.size.variables;
        let build_s = variables as f64 * BUILD_S_PER_VARIABLE;
        if variables > self.config.max_variables {
            debug!(
                variables,
                max_variables = self.config.max_variables,
                "compact model too large; not built"
            );
            search.stop = SolverStop::ModelTooLarge;
            return self.finish(search, greedy_cost);
        }
        if deadline.remaining_s() < reserve_s + COMPACT_MIN_BUILDS * build_s {
            debug!(
                variables,
                remaining_s = deadline.remaining_s(),
                "no time left for the compact model"
            );
            search.stop = SolverStop::TimeLimit;
            return self.finish(search, greedy_cost);
        }
        match self.run_compact(reduced, &search.best, deadline, reserve_s) {
            Ok(run) => {
                search.record(Phase {
                    name: "compact",
                    budget_s: run.budget_s,
                    highs_s: run.time_s,
                });
                search.size = run.size;
                search.stop = run.stop;
                search.bound = search.bound.max(run.bound);
                search.offer(run.plan);
            }
            Err(error) => {
                warn!(%error, "compact model failed; keeping the best plan so far");
                search.stop = SolverStop::SolverError;
            }
        }
        self.finish(search, greedy_cost)
    }

    /// The best plan, with its report.
    fn finish(&self, search: Search, greedy_cost: f64) -> (Plan, Vec<Phase>) {
        let Search { best: mut plan, best_cost, bound, stop, highs_s, size, phases } = search;
        let improved = best_cost < greedy_cost - COST_EPSILON;
        let bound = bound.clamp(0.0, best_cost);
        let status = status_of(stop, improved, best_cost, bound, self.config.relative_gap);
        if matches!(status, SolveStatus::Infeasible) || stop == SolverStop::SolutionRejected {
            warn!(%stop, "HiGHS disagrees with a feasible plan; keeping the best checked one");
        }
        debug!(
            %status,
            %stop,
            objective = best_cost,
            bound,
            greedy = greedy_cost,
            highs_s,
            variables = size.variables,
            constraints = size.constraints,
            ?phases,
            "milp plan"
        );
        plan.solve = Some(SolveReport {
            status,
            stop,
            objective: UsdPerHour(best_cost),
            best_bound: UsdPerHour(bound),
            relative_gap: relative_gap(best_cost, bound),
            greedy_objective: UsdPerHour(greedy_cost),
            solver_time_s: highs_s,
            size,
        });
        (plan, phases)
    }

    /// Builds, warm-starts from `incumbent` and runs the compact model until
    /// `reserve_s` before the deadline.
    fn run_compact(
        &self,
        reduced: &Reduced<'_>,
        incumbent: &Plan,
        deadline: &Deadline,
        reserve_s: f64,
    ) -> Result<CompactRun, MilpError> {
        let built_from_s = deadline.elapsed_s();
        let formulation::Formulation { mut model, columns, size } =
            formulation::formulate(reduced)?;
        debug!(
            variables = size.variables,
            constraints = size.constraints,
            build_s = deadline.elapsed_s() - built_from_s,
            remaining_s = deadline.remaining_s(),
            "compact model built"
        );
        let budget_s = COMPACT_SHARE * (deadline.remaining_s() - reserve_s).max(0.0);
        let options: [(&'static str, f64); 3] = [
            ("mip_rel_gap", self.config.relative_gap),
            ("mip_abs_gap", outcome::ABSOLUTE_GAP_USD_PER_HOUR),
            ("time_limit", budget_s),
        ];
        for (option, value) in options {
            model.try_set_option(option, value).map_err(|_| MilpError::Option { option, value })?;
        }
        // Presolve off: HiGHS' MIP presolve does not look at the clock, and
        // on these models it ran 1.4 s of a 1 s limit on 12,676 variables
        // (the reductions have already done its work: it removed one column
        // of them). It also avoids a HiGHS 1.12 fault: when presolve solved
        // a model outright, it could hand back the MIP start as its solution
        // while reporting the better objective it found.
        model
            .try_set_option("presolve", "off")
            .map_err(|_| MilpError::Option { option: "presolve", value: 0.0 })?;
        let point = warm_start::greedy_point(reduced, &columns, incumbent);
        match &point {
            Some(point) => {
                if model.try_set_solution(Some(point), None, None, None).is_err() {
                    warn!("HiGHS refused the warm start");
                }
            }
            None => warn!("the incumbent does not map onto the model; solving cold"),
        }

        let solved = model.try_solve().map_err(|status| MilpError::Run(format!("{status:?}")))?;
        let info = run_info(&solved);
        let mut stop = info.stop;
        let mut plan = None;
        let mut trusted = true;
        if info.has_solution {
            let values = solved.get_solution();
            // The plan is checked and costed by us; a solution whose claimed
            // objective does not match its columns also casts doubt on the
            // bound HiGHS claims with it.
            let claimed = solved.objective_value();
            let actual = objective_of(reduced, &columns, values.columns());
            if (actual - claimed).abs() > 1e-6 * claimed.abs().max(1.0) {
                warn!(
                    claimed,
                    actual, "HiGHS solution does not match its objective; its bound is not used"
                );
                trusted = false;
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
            _ if !trusted => 0.0,
            _ => info.dual_bound.unwrap_or(0.0),
        };
        Ok(CompactRun { plan, stop, bound, time_s: info.run_time_s, budget_s, size })
    }
}

/// What one run of the compact model gave.
struct CompactRun {
    /// HiGHS' plan, checked, when it has one.
    plan: Option<Plan>,
    stop: SolverStop,
    /// HiGHS' dual bound (0 when it has none).
    bound: f64,
    /// HiGHS' run time, seconds.
    time_s: f64,
    /// The time it was allowed, seconds.
    budget_s: f64,
    size: ModelSize,
}

/// The sizes of the compact model `reduced` would give, before it is built.
fn sizes(reduced: &Reduced<'_>) -> ModelSize {
    ModelSize {
        shapes: reduced.shapes.len(),
        candidates: reduced.kinds.len(),
        bins: reduced.bins(),
        variables: reduced.variables(),
        constraints: 0,
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
        let deadline = Deadline::starting_now(self.config.time_limit_ms);
        let greedy = Greedy.solve(problem);
        let mut reduced = reduce(problem, &greedy);
        self.improve(&mut reduced, greedy, &deadline)
    }
}

/// The exact solver with a smaller compact model.
///
/// Every phase of the exact solver runs under its time limit, so `Auto`
/// differs from [`Milp`] only in the size rule for the compact model (phase
/// 5): after the reductions it has one variable per bin slot and one per
/// (slot, fitting shape) pair, plus one per (existing room, fitting shape)
/// pair. Up to [`Auto::max_milp_variables`] of them it is built and run;
/// above it, the plan is the dive's (or the greedy one), with the gap to the
/// pattern bound, and [`SolveReport::stop`] says `model-too-large`.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Auto {
    /// Limits for the exact solves it runs.
    pub milp: MilpConfig,
    /// Largest compact model, in variables, built and run.
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
        let max_variables = self.milp.max_variables.min(self.max_milp_variables);
        Milp::new(self.milp.with_max_variables(max_variables)).solve(problem)
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
        let milp = Milp::default();
        let run = milp.run_compact(&reduced, &greedy, &Deadline::starting_now(0), 0.0).unwrap();
        let plan = run.plan.expect("the warm start is kept as the incumbent");
        assert!(plan.launch_cost_per_hour().0 <= greedy.launch_cost_per_hour().0 + 1e-9);
        assert!(run.time_s >= 0.0);
        assert_eq!(run.budget_s, 0.0);
        assert!(matches!(run.stop, SolverStop::TimeLimit | SolverStop::Optimal), "{}", run.stop);
    }

    /// A batch of many shapes on many candidates of uneven prices: too
    /// large to prove in the limits below, so every phase meets its budget.
    fn hard_problem() -> (CandidateSet, Vec<PendingTask>) {
        let mut seed: u64 = 0x2486;
        let mut next = move |n: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        let candidates = (0..300)
            .map(|i| {
                let cpus = 1 << next(7);
                let gib = cpus * (1 + next(8));
                let price =
                    0.01 * (cpus as f64 + gib as f64 / 8.0) * (0.6 + next(80) as f64 / 100.0);
                candidate(i, cpus, gib * 1024, price)
            })
            .collect();
        let candidates = CandidateSet::new(candidates);
        let shapes: Vec<Resources> = (0..40)
            .map(|_| Resources::new(250 * (1 + next(16)), 256 * (1 + next(64)), 0))
            .collect();
        let tasks = (0..400)
            .map(|i| PendingTask::new(TaskId(i), shapes[next(shapes.len() as u64) as usize]))
            .collect();
        (candidates, tasks)
    }

    #[test]
    fn every_phase_keeps_to_its_budget_and_the_whole_to_the_limit() {
        let (candidates, tasks) = hard_problem();
        let problem = PlacementProblem::new(tasks, &candidates);
        for limit_ms in [50, 300] {
            // Exact optimality asked for, so nothing ends early but the clock.
            let milp = Milp::new(
                MilpConfig::default().with_time_limit_ms(limit_ms).with_relative_gap(0.0),
            );
            let deadline = Deadline::starting_now(limit_ms);
            let greedy = Greedy.solve(&problem);
            let mut reduced = reduce(&problem, &greedy);
            let (plan, phases) = milp.improve_traced(&mut reduced, greedy, &deadline);
            let report = plan.solve.expect("report");
            // HiGHS checks its limit between steps of its own; a step may run
            // over. Gross overruns (a fresh clock, a phase given the whole
            // limit again) are what this catches.
            let slack_s = 0.1;
            for phase in &phases {
                assert!(phase.highs_s <= phase.budget_s + slack_s, "{limit_ms} ms: {phase:?}");
            }
            let highs_s: f64 = phases.iter().map(|p| p.highs_s).sum();
            assert!(highs_s <= limit_ms as f64 / 1000.0 + slack_s, "{limit_ms} ms: {phases:?}");
            assert_eq!(report.solver_time_s.unwrap_or(0.0), highs_s);
            assert!(report.objective.0 <= report.greedy_objective.0 + 1e-9);
        }
    }

    #[test]
    fn a_spent_deadline_keeps_the_greedy_plan_without_running_highs() {
        let (candidates, tasks) = hard_problem();
        let problem = PlacementProblem::new(tasks, &candidates);
        let greedy = Greedy.solve(&problem);
        let plan = Milp::new(MilpConfig::default().with_time_limit_ms(0)).solve(&problem);
        let report = plan.solve.as_ref().expect("report");
        assert_eq!(report.stop, SolverStop::TimeLimit);
        assert_eq!(report.status, SolveStatus::GreedyKept);
        assert_eq!(report.solver_time_s, None);
        assert_eq!(report.best_bound.0, 0.0);
        assert_eq!(plan.launches, greedy.launches);
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
