//! A lower bound on the cost of any schedule, from the LP relaxation of the
//! pattern (configuration) model, solved by column generation.
//!
//! A *pattern* `p` is one candidate `o(p)` with a multiset of task shapes that
//! fits its capacity together: `a_{p,s}` tasks of shape `s`. Given `D_s`, the
//! work of shape `s` in task-hours, the bound is the optimum of
//!
//! ```text
//! min  sum_p c_p x_p   s.t.  sum_p a_{p,s} x_p >= D_s  (every shape s),  x >= 0
//! ```
//!
//! with `c_p` the candidate's price per hour and `x_p` in hours.
//!
//! **Why it bounds every schedule.** Take any schedule and any instance in it.
//! At each instant the tasks running on the instance fit its capacity, so they
//! form a pattern of its candidate. Let `x_p` be the total time, over all
//! instances, during which an instance runs exactly pattern `p`. The instance
//! is paid for at least that long, so the schedule costs at least
//! `sum_p c_p x_p`. And every task-hour of shape `s` is run inside some
//! pattern, so `sum_p a_{p,s} x_p = D_s`. This `x` is feasible for the LP, so
//! the LP optimum is at most the schedule's cost. Billing minimums, boot time
//! and idle instances only add cost. For one batch, take `D_s` as the task
//! count and `x_p` as the number of bins with pattern `p`: the same argument
//! bounds the cost per hour of any plan that places the batch on new
//! instances (existing free room is not modelled).
//!
//! **Why a truncated run is still valid (Farley's bound).** The LP's dual is
//! `max sum_s D_s pi_s` s.t. `sum_s a_{p,s} pi_s <= c_p` for all patterns and
//! `pi >= 0`. For any `pi >= 0`, let `theta = max_p (sum_s a_{p,s} pi_s) / c_p`
//! over *all* patterns, which the pricing step finds (or over-estimates) by
//! solving, for each candidate, a knapsack over the shapes. Then `pi / theta`
//! is dual feasible (when `theta >= 1`; `pi` itself otherwise), so by weak
//! duality `sum_s D_s pi_s / max(theta, 1)` is a lower bound, whatever the
//! iteration. The function keeps the best such bound over all iterations; at
//! convergence (`theta <= 1`) it equals the LP optimum.
//!
//! It is at least the volume bound of every single dimension `r`,
//! `sum_s D_s d_{s,r} u_r` with `u_r` the cheapest price of one unit of `r`
//! ([`UnitPrices::dimension_bound_usd`](super::UnitPrices::dimension_bound_usd)):
//! `pi_s = d_{s,r} u_r` is dual feasible, since a pattern's tasks use at most
//! `C_{o,r}` of dimension `r` and `C_{o,r} u_r <= c_o`. It is *not* always at
//! least the sum of per-task values ([`UnitPrices::lower_bound_usd`] summed
//! over tasks), because that sum is not itself a bound when a cpu-heavy and a
//! memory-heavy task share an instance; see [`UnitPrices`](super::UnitPrices).

use std::collections::HashMap;

use good_lp::solvers::highs::highs as highs_solver;
use good_lp::{variable, Expression, ProblemVariables, SolverModel, Variable};
use highs::HighsModelStatus;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tracing::debug;

use crate::catalog::Architecture;
use crate::policy::Candidate;
use crate::problem::{arch_ok, PendingTask};
use crate::resources::{Dimension, Resources};
use crate::solver::prune_dominated_candidates;

/// Work of one task shape: a demand, an architecture, and how much of it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DemandShape {
    /// What each task needs.
    pub demand: Resources,
    /// The architecture it needs, if any.
    pub arch: Option<Architecture>,
    /// Total run time of all tasks of this shape, task-seconds. For a batch
    /// bound in USD per hour, give 3600 per task (see [`batch_pattern_bound`]).
    pub task_seconds: f64,
}

/// How much work the column generation may do; the core has no clock, so the
/// limits count iterations and knapsack nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PatternLimits {
    /// Restricted-LP solves at most.
    pub max_iterations: usize,
    /// Branch-and-bound nodes per knapsack; past it the knapsack's upper
    /// bound is used, which keeps the bound valid but looser.
    pub max_knapsack_nodes: u64,
}

impl Default for PatternLimits {
    fn default() -> Self {
        PatternLimits { max_iterations: 100, max_knapsack_nodes: 2_000 }
    }
}

impl PatternLimits {
    /// The same limits with at most `n` iterations.
    pub fn with_max_iterations(mut self, n: usize) -> Self {
        self.max_iterations = n;
        self
    }

    /// The same limits with at most `n` nodes per knapsack.
    pub fn with_max_knapsack_nodes(mut self, n: u64) -> Self {
        self.max_knapsack_nodes = n;
        self
    }
}

/// The pattern-LP bound and how it was reached.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PatternBound {
    /// The lower bound, USD (USD per hour for a batch given 3600 s per task).
    pub bound_usd: f64,
    /// Value of the last restricted LP, USD: an upper bound on the LP optimum
    /// (not on the schedule), equal to the bound at convergence.
    pub restricted_lp_usd: f64,
    /// Restricted-LP solves done.
    pub iterations: usize,
    /// True when no pattern could improve the LP: the bound is its optimum.
    pub converged: bool,
    /// Patterns generated.
    pub patterns: usize,
    /// Task-seconds of shapes no candidate holds, left out of the bound.
    pub skipped_task_seconds: f64,
    /// HiGHS' own run time over all restricted LPs, seconds (the pricing
    /// knapsacks run in Rust and are not timed: the core reads no clock).
    pub solver_time_s: f64,
}

/// Why no bound could be computed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BoundError {
    /// A shape's amount of work is negative or not a number.
    #[error(
        "shape {index} ({demand}) has {task_seconds} task-seconds; expected a finite amount >= 0"
    )]
    BadAmount {
        /// Position of the shape in the input.
        index: usize,
        /// Its demand.
        demand: Resources,
        /// The amount given.
        task_seconds: f64,
    },
    /// HiGHS failed on the restricted LP.
    #[error("HiGHS failed on the restricted pattern LP at iteration {iteration}: {message}")]
    Lp {
        /// The iteration, from 0.
        iteration: usize,
        /// What HiGHS said.
        message: String,
    },
}

/// The pattern-LP lower bound on the cost of running `shapes` on
/// `candidates`, USD; see the module docs for the proof.
///
/// # Errors
/// A negative or non-finite amount of work, or a failure of HiGHS on the
/// restricted LP.
pub fn pattern_lp_bound(
    shapes: &[DemandShape],
    candidates: &[Candidate],
    limits: &PatternLimits,
) -> Result<PatternBound, BoundError> {
    // Validate, merge identical shapes, drop those that need nothing or fit nowhere.
    let pruned = prune_dominated_candidates(candidates);
    let mut input = Columns::default();
    let mut index: HashMap<(Resources, Option<Architecture>), usize> = HashMap::new();
    let mut skipped = 0.0;
    for (i, shape) in shapes.iter().enumerate() {
        if !shape.task_seconds.is_finite() || shape.task_seconds < 0.0 {
            return Err(BoundError::BadAmount {
                index: i,
                demand: shape.demand,
                task_seconds: shape.task_seconds,
            });
        }
        if shape.task_seconds == 0.0 || shape.demand.is_zero() {
            continue;
        }
        let holds =
            pruned.iter().any(|c| shape.demand.fits_in(&c.capacity) && arch_ok(shape.arch, c.arch));
        if !holds {
            skipped += shape.task_seconds;
            continue;
        }
        let at = *index.entry((shape.demand, shape.arch)).or_insert_with(|| {
            input.demands.push(shape.demand);
            input.arches.push(shape.arch);
            input.need.push(0.0);
            input.demands.len() - 1
        });
        input.need[at] += shape.task_seconds / 3600.0;
    }
    input.candidates = pruned;
    let out = column_generation(&input, limits)
        .map_err(|(iteration, message)| BoundError::Lp { iteration, message })?;
    Ok(PatternBound {
        bound_usd: out.bound,
        restricted_lp_usd: out.lp_value,
        iterations: out.iterations,
        converged: out.converged,
        patterns: out.patterns,
        skipped_task_seconds: skipped,
        solver_time_s: out.time_s,
    })
}

/// The pattern-LP bound for one batch, USD per hour: every task counts as
/// one hour of work. New instances only: existing free room is not modelled,
/// so with free room this is no bound on the problem's plans.
///
/// # Errors
/// As [`pattern_lp_bound`].
pub fn batch_pattern_bound(
    tasks: &[PendingTask],
    candidates: &[Candidate],
    limits: &PatternLimits,
) -> Result<PatternBound, BoundError> {
    let shapes: Vec<DemandShape> = tasks
        .iter()
        .map(|t| DemandShape { demand: t.demand, arch: t.arch, task_seconds: 3600.0 })
        .collect();
    pattern_lp_bound(&shapes, candidates, limits)
}

/// The input of one column generation: shapes (every one held by some
/// candidate, none all-zero), how much of each is needed, optional caps on
/// how many of a shape one bin may hold, candidates and existing free rooms.
#[derive(Debug, Default)]
pub(crate) struct Columns<'a> {
    pub demands: Vec<Resources>,
    pub arches: Vec<Option<Architecture>>,
    pub need: Vec<f64>,
    /// For a batch: no bin holds more tasks of a shape than there are.
    pub caps: Option<Vec<u64>>,
    pub candidates: Vec<&'a Candidate>,
    /// Sharing class of each shape: a pattern of a candidate with a class
    /// holds only shapes of that class; a room holds any.
    pub shape_class: Vec<usize>,
    /// Class of each candidate; `None` holds any shape.
    pub candidate_class: Vec<Option<usize>>,
    /// Free room of existing instances, each usable once at no cost.
    pub rooms: Vec<(Resources, Architecture)>,
}

/// What column generation proved, with the dual prices behind the bound.
#[derive(Debug, Clone)]
pub(crate) struct Generated {
    /// The best Farley bound over all iterations.
    pub bound: f64,
    /// The last restricted LP's value.
    pub lp_value: f64,
    pub iterations: usize,
    pub converged: bool,
    pub patterns: usize,
    /// HiGHS' own run time over all restricted LPs, seconds.
    pub time_s: f64,
    /// At the best iteration, for each candidate, an upper bound on
    /// `max_a pi'.a` over its patterns, with `pi'` the dual-feasible prices
    /// that gave the bound: its reduced cost is at least `price - this`.
    pub candidate_value: Vec<f64>,
}

/// Column generation with Farley's bound; see the module docs. Errors carry
/// the iteration and HiGHS' message.
pub(crate) fn column_generation(
    input: &Columns<'_>,
    limits: &PatternLimits,
) -> Result<Generated, (usize, String)> {
    let shapes = input.demands.len();
    let mut out = Generated {
        bound: 0.0,
        lp_value: 0.0,
        iterations: 0,
        converged: true,
        patterns: 0,
        time_s: 0.0,
        candidate_value: vec![0.0; input.candidates.len()],
    };
    if shapes == 0 {
        return Ok(out);
    }
    let cap = |s: usize| input.caps.as_ref().map_or(u64::MAX, |c| c[s]);
    let class_ok = |s: usize, class: Option<usize>| {
        class.is_none_or(|c| input.shape_class.get(s).copied().unwrap_or(0) == c)
    };
    let candidate_class = |o: usize| input.candidate_class.get(o).copied().flatten();
    let knapsack_of =
        |pi: &[f64], capacity: &Resources, arch: Architecture, class: Option<usize>| {
            let here: Vec<usize> = (0..shapes)
                .filter(|&s| pi[s] > 0.0 && arch_ok(input.arches[s], arch) && class_ok(s, class))
                .filter(|&s| input.demands[s].fits_in(capacity))
                .collect();
            knapsack(
                &input.demands,
                pi,
                input.caps.as_deref(),
                &here,
                capacity,
                limits.max_knapsack_nodes,
            )
        };

    // Start from one homogeneous pattern per shape, on its cheapest candidate per task.
    let mut patterns: Vec<Pattern> = Vec::new();
    for s in 0..shapes {
        let best = input
            .candidates
            .iter()
            .enumerate()
            .filter(|(o, c)| arch_ok(input.arches[s], c.arch) && class_ok(s, candidate_class(*o)))
            .filter_map(|(o, c)| {
                let n = fit_count(&input.demands[s], &c.capacity).min(cap(s));
                (n > 0).then(|| (o, n, c.price.0 / n as f64))
            })
            .min_by(|a, b| a.2.total_cmp(&b.2).then(a.0.cmp(&b.0)));
        if let Some((o, n, _)) = best {
            let mut counts = vec![0u64; shapes];
            counts[s] = n;
            patterns.push(Pattern { candidate: o, counts });
        }
    }

    let mut converged = false;
    for iteration in 0..limits.max_iterations.max(1) {
        out.iterations = iteration + 1;
        let lp = solve_restricted(&patterns, &input.candidates, &input.need)
            .map_err(|message| (iteration, message))?;
        out.lp_value = lp.value;
        out.time_s += lp.time_s;

        // Pricing: the best pattern of every candidate for these duals.
        let mut theta: f64 = 0.0;
        let mut values = Vec::with_capacity(input.candidates.len());
        let mut new_patterns = Vec::new();
        for (o, c) in input.candidates.iter().enumerate() {
            let knap = knapsack_of(&lp.duals, &c.capacity, c.arch, candidate_class(o));
            let ratio = if c.price.0 > 0.0 {
                knap.upper_bound / c.price.0
            } else if knap.upper_bound > 0.0 {
                f64::INFINITY
            } else {
                0.0
            };
            theta = theta.max(ratio);
            values.push(knap.upper_bound);
            if knap.value > c.price.0 * (1.0 + 1e-9) {
                new_patterns.push(Pattern { candidate: o, counts: knap.counts });
            }
        }

        // Farley: pi / max(theta, 1) is dual feasible, whatever the iteration;
        // free rooms can take at most their best knapsack off the demand.
        if theta.is_finite() {
            let scale = theta.max(1.0);
            let covered: f64 = input.need.iter().zip(&lp.duals).map(|(d, p)| d * p).sum();
            let rooms: f64 = input
                .rooms
                .iter()
                .map(|(free, arch)| knapsack_of(&lp.duals, free, *arch, None).upper_bound)
                .sum();
            let farley = (covered - rooms) / scale * (1.0 - 1e-9);
            if farley > out.bound {
                out.bound = farley;
                out.candidate_value = values.iter().map(|v| v / scale).collect();
            }
        }

        let before = patterns.len();
        for p in new_patterns {
            if !patterns.contains(&p) {
                patterns.push(p);
            }
        }
        if patterns.len() == before {
            converged = theta <= 1.0 + 1e-9;
            break;
        }
    }
    out.converged = converged;
    out.patterns = patterns.len();
    debug!(
        bound = out.bound,
        restricted_lp = out.lp_value,
        iterations = out.iterations,
        converged,
        patterns = out.patterns,
        shapes,
        candidates = input.candidates.len(),
        rooms = input.rooms.len(),
        "pattern lp"
    );
    Ok(out)
}

/// A candidate and how many tasks of each shape it runs together.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    candidate: usize,
    counts: Vec<u64>,
}

/// One restricted LP: its value, the duals of its cover rows (clamped at 0)
/// and HiGHS' run time.
struct Restricted {
    value: f64,
    duals: Vec<f64>,
    time_s: f64,
}

/// Solves the restricted LP through good_lp's model and HiGHS directly, for
/// the duals and the run time.
fn solve_restricted(
    patterns: &[Pattern],
    candidates: &[&Candidate],
    need: &[f64],
) -> Result<Restricted, String> {
    let mut vars = ProblemVariables::new();
    let x: Vec<Variable> = patterns.iter().map(|_| vars.add(variable().min(0.0))).collect();
    let mut objective = Expression::with_capacity(patterns.len());
    for (p, &v) in patterns.iter().zip(&x) {
        objective.add_mul(candidates[p.candidate].price.0, v);
    }
    let mut problem = vars.minimise(objective).using(highs_solver);
    for (s, &d) in need.iter().enumerate() {
        let mut cover = Expression::with_capacity(patterns.len());
        for (p, &v) in patterns.iter().zip(&x) {
            if p.counts[s] > 0 {
                cover.add_mul(p.counts[s] as f64, v);
            }
        }
        problem.add_constraint(cover.geq(d));
    }
    let model = problem.try_into_inner().map_err(|e| e.to_string())?;
    let solved = model.try_solve().map_err(|status| format!("{status:?}"))?;
    let status = solved.status();
    if status != HighsModelStatus::Optimal {
        return Err(format!("restricted LP ended {status:?}"));
    }
    // SAFETY: `as_ptr` is the live HiGHS instance owned by `solved`, which
    // outlives the call; `Highs_getRunTime` only reads its timer.
    let time_s = unsafe { highs_sys::Highs_getRunTime(solved.as_ptr()) };
    let solution = solved.get_solution();
    let value = patterns
        .iter()
        .zip(solution.columns())
        .map(|(p, v)| candidates[p.candidate].price.0 * v)
        .sum();
    let duals = solution.dual_rows().iter().map(|d| d.max(0.0)).collect();
    Ok(Restricted { value, duals, time_s })
}

/// How many tasks of `demand` fit in `capacity` (demand not all zero).
fn fit_count(demand: &Resources, capacity: &Resources) -> u64 {
    [Dimension::Cpu, Dimension::Memory, Dimension::Gpu]
        .iter()
        .filter(|&&d| demand.get(d) > 0)
        .map(|&d| capacity.get(d) / demand.get(d))
        .min()
        .unwrap_or(0)
}

/// The best pattern found for one bin, and an upper bound on the best
/// pattern's value (equal to `value` when the search finished).
struct Knapsack {
    value: f64,
    upper_bound: f64,
    counts: Vec<u64>,
}

/// Branch and bound over `shapes`: maximise `sum pi_s a_s` with the pattern
/// fitting `capacity` in every dimension and `a_s <= caps[s]`.
fn knapsack(
    demands: &[Resources],
    pi: &[f64],
    caps: Option<&[u64]>,
    shapes: &[usize],
    capacity: &Resources,
    max_nodes: u64,
) -> Knapsack {
    // Most valuable per unit of the capacity it uses first.
    let mut order: Vec<usize> = shapes.to_vec();
    let density = |s: usize| {
        let d = demands[s];
        let used = [Dimension::Cpu, Dimension::Memory, Dimension::Gpu]
            .iter()
            .filter(|&&r| capacity.get(r) > 0)
            .map(|&r| d.get(r) as f64 / capacity.get(r) as f64)
            .sum::<f64>();
        pi[s] / used.max(f64::MIN_POSITIVE)
    };
    order.sort_by(|&a, &b| density(b).total_cmp(&density(a)).then(a.cmp(&b)));

    let mut search = Search {
        demands,
        pi,
        caps,
        order: &order,
        prices: cpu_memory_prices(demands, pi, shapes, capacity),
        best: 0.0,
        best_counts: vec![0; demands.len()],
        counts: vec![0; demands.len()],
        abandoned: 0.0,
        nodes: 0,
        max_nodes,
    };
    search.dfs(0, *capacity, 0.0);
    Knapsack {
        value: search.best,
        upper_bound: search.best.max(search.abandoned),
        counts: search.best_counts,
    }
}

/// Prices `(lambda, mu) >= 0` per millicpu and per MiB with
/// `lambda * cpu_s + mu * mib_s >= pi_s` for every shape, chosen to make
/// `lambda * C_cpu + mu * C_mib` small: a feasible point of the dual of the
/// knapsack's LP relaxation over cpu and memory, so the room left, priced at
/// them, bounds what any set of the shapes can add. The dual objective is
/// convex in `lambda` once `mu` is the least feasible for it, and a ternary
/// search finds it closely; any `lambda` it stops at is feasible, so the bound
/// is valid however close it gets. `None` when some shape uses neither cpu
/// nor memory.
fn cpu_memory_prices(
    demands: &[Resources],
    pi: &[f64],
    shapes: &[usize],
    capacity: &Resources,
) -> Option<(f64, f64)> {
    let mut lambda_low: f64 = 0.0;
    let mut lambda_high: f64 = 0.0;
    for &s in shapes {
        let (a, b) = (demands[s].millicpus as f64, demands[s].memory_mib as f64);
        match (a > 0.0, b > 0.0) {
            (false, false) => return None,
            (true, false) => lambda_low = lambda_low.max(pi[s] / a),
            (true, true) => lambda_high = lambda_high.max(pi[s] / a),
            (false, true) => {}
        }
    }
    let lambda_high = lambda_high.max(lambda_low);
    let mu_for = |lambda: f64| {
        shapes
            .iter()
            .filter(|&&s| demands[s].memory_mib > 0)
            .map(|&s| {
                let d = demands[s];
                ((pi[s] - lambda * d.millicpus as f64) / d.memory_mib as f64).max(0.0)
            })
            .fold(0.0, f64::max)
    };
    let cost = |lambda: f64| {
        lambda * capacity.millicpus as f64 + mu_for(lambda) * capacity.memory_mib as f64
    };
    let (mut lo, mut hi) = (lambda_low, lambda_high);
    for _ in 0..60 {
        let m1 = lo + (hi - lo) / 3.0;
        let m2 = hi - (hi - lo) / 3.0;
        if cost(m1) <= cost(m2) {
            hi = m2;
        } else {
            lo = m1;
        }
    }
    let lambda = (lo + hi) / 2.0;
    // Rounding can leave a shape a hair above its price; a tiny lift covers it.
    Some((lambda * (1.0 + 1e-12), mu_for(lambda) * (1.0 + 1e-12)))
}

struct Search<'a> {
    demands: &'a [Resources],
    pi: &'a [f64],
    caps: Option<&'a [u64]>,
    order: &'a [usize],
    /// Prices `(per millicpu, per MiB)` at which every shape is worth no more
    /// than the cpu and memory it uses, when such prices exist.
    prices: Option<(f64, f64)>,
    best: f64,
    best_counts: Vec<u64>,
    counts: Vec<u64>,
    /// Largest bound of a node left unexplored at the node limit.
    abandoned: f64,
    nodes: u64,
    max_nodes: u64,
}

impl Search<'_> {
    fn most(&self, s: usize, room: &Resources) -> u64 {
        let n = fit_count(&self.demands[s], room);
        self.caps.map_or(n, |c| n.min(c[s]))
    }

    /// An upper bound on what shapes `order[i..]` can add in `room`: per
    /// dimension, the room times the best value per unit of it (plus, in full,
    /// the shapes that do not use that dimension); the smallest over
    /// dimensions, and the room priced at [`Search::prices`] when known.
    fn bound(&self, i: usize, room: &Resources) -> f64 {
        let rest = &self.order[i..];
        let single = [Dimension::Cpu, Dimension::Memory, Dimension::Gpu]
            .iter()
            .map(|&r| {
                let mut best_rate: f64 = 0.0;
                let mut free_riders = 0.0;
                for &s in rest {
                    let need = self.demands[s].get(r);
                    if need > 0 {
                        best_rate = best_rate.max(self.pi[s] / need as f64);
                    } else {
                        free_riders += self.pi[s] * self.most(s, room) as f64;
                    }
                }
                room.get(r) as f64 * best_rate + free_riders
            })
            .fold(f64::INFINITY, f64::min);
        match self.prices {
            Some((lambda, mu)) => {
                single.min(lambda * room.millicpus as f64 + mu * room.memory_mib as f64)
            }
            None => single,
        }
    }

    fn dfs(&mut self, i: usize, room: Resources, value: f64) {
        if value > self.best {
            self.best = value;
            self.best_counts.clone_from(&self.counts);
        }
        if i == self.order.len() {
            return;
        }
        let ceiling = value + self.bound(i, &room);
        if ceiling <= self.best * (1.0 + 1e-12) {
            return;
        }
        if self.nodes >= self.max_nodes {
            self.abandoned = self.abandoned.max(ceiling);
            return;
        }
        self.nodes += 1;
        let s = self.order[i];
        let d = self.demands[s];
        for n in (0..=self.most(s, &room)).rev() {
            let used = Resources {
                millicpus: d.millicpus * n,
                memory_mib: d.memory_mib * n,
                gpus: d.gpus * n as u32,
            };
            let left = room.saturating_sub(&used);
            self.counts[s] = n;
            self.dfs(i + 1, left, value + self.pi[s] * n as f64);
        }
        self.counts[s] = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::UnitPrices;
    use crate::test_support::candidate;

    fn shape(cpus: u64, mib: u64, seconds: f64) -> DemandShape {
        DemandShape { demand: Resources::cpus_mib(cpus, mib), arch: None, task_seconds: seconds }
    }

    #[test]
    fn knapsack_finds_the_best_mix() {
        let demands = [Resources::cpus_mib(3, 1024), Resources::cpus_mib(2, 1024)];
        let k = knapsack(&demands, &[3.0, 2.1], None, &[0, 1], &Resources::cpus_mib(4, 8192), 1000);
        // Two 2-cpu tasks (4.2) beat one 3-cpu task (3.0).
        assert_eq!(k.counts, vec![0, 2]);
        assert!((k.value - 4.2).abs() < 1e-12);
        assert!((k.upper_bound - 4.2).abs() < 1e-12);
    }

    #[test]
    fn bound_beats_volume_when_tasks_do_not_pair() {
        // Tasks of 3 cpus on 4-cpu bins: volume says 3/4 bin each, patterns say 1.
        let candidates = vec![candidate(0, 4, 16384, 1.0)];
        let shapes = [shape(3, 1024, 3600.0 * 10.0)];
        let b = pattern_lp_bound(&shapes, &candidates, &PatternLimits::default()).unwrap();
        assert!(b.converged);
        assert!((b.bound_usd - 10.0).abs() < 1e-6, "{b:?}");
        let volume = UnitPrices::of(&candidates)
            .lower_bound_usd(&Resources::cpus_mib(3, 1024), 3600.0 * 10.0);
        assert!((volume - 7.5).abs() < 1e-9);
    }

    #[test]
    fn mixed_shapes_share_bins_in_the_bound() {
        // 1-cpu and 3-cpu tasks pair perfectly on 4-cpu bins: 10 bins, not 15.
        let candidates = vec![candidate(0, 4, 16384, 1.0)];
        let shapes = [shape(3, 1024, 36_000.0), shape(1, 1024, 36_000.0)];
        let b = pattern_lp_bound(&shapes, &candidates, &PatternLimits::default()).unwrap();
        assert!(b.converged, "{b:?}");
        assert!((b.bound_usd - 10.0).abs() < 1e-6, "{b:?}");
    }

    #[test]
    fn a_truncated_run_still_bounds_the_optimum() {
        let candidates = vec![candidate(0, 4, 16384, 1.0), candidate(1, 16, 32768, 3.5)];
        let shapes = [shape(3, 1024, 36_000.0), shape(1, 4096, 36_000.0), shape(2, 8192, 7200.0)];
        let full = pattern_lp_bound(&shapes, &candidates, &PatternLimits::default()).unwrap();
        let short = pattern_lp_bound(
            &shapes,
            &candidates,
            &PatternLimits::default().with_max_iterations(1),
        )
        .unwrap();
        assert!(short.bound_usd <= full.bound_usd + 1e-9, "{short:?} {full:?}");
        assert!(short.bound_usd > 0.0);
    }

    #[test]
    fn bad_amounts_are_refused_with_their_index() {
        let candidates = vec![candidate(0, 4, 16384, 1.0)];
        let err =
            pattern_lp_bound(&[shape(1, 1, f64::NAN)], &candidates, &PatternLimits::default())
                .unwrap_err();
        assert!(err.to_string().contains("shape 0"), "{err}");
    }
}
