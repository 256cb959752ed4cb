//! Column generation over bin patterns: the restricted LP, the pricing of
//! every candidate and room, and Farley's bound (see [`super::pattern`] for
//! the model and the proofs).
//!
//! A [`Generator`] keeps the restricted LP in one HiGHS instance, so each
//! round starts from the last basis, and lets a caller go on from where
//! [`Generator::converge`] stopped: the exact solver dives on it (raising
//! the lower bounds of columns and shrinking the per-bin caps) to turn the LP
//! into an integer plan.

use std::collections::HashMap;

use highs::{ColProblem, HighsModelStatus, Row, Sense};
use tracing::debug;

use super::grid::{Declined, Grid};
use super::knapsack::{fit_count, knapsack, Knapsack};
use super::pattern::PatternLimits;
use crate::catalog::Architecture;
use crate::policy::Candidate;
use crate::problem::arch_ok;
use crate::resources::Resources;

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

/// What runs a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Owner {
    /// A new bin of `Columns::candidates[i]`, at its price.
    Candidate(usize),
    /// The free room `Columns::rooms[i]`, at no cost, once.
    Room(usize),
}

/// An owner and how many tasks of each shape it runs together.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Pattern {
    pub owner: Owner,
    /// Tasks per shape, indexed like `Columns::demands`.
    pub counts: Vec<u64>,
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
    /// True when `stop` ended the run before it converged.
    pub stopped: bool,
    /// Patterns in the restricted LP at the end.
    pub patterns: usize,
    /// HiGHS' own run time over all restricted LPs, seconds.
    pub time_s: f64,
    /// At the best iteration, for each candidate, an upper bound on
    /// `max_a pi'.a` over its patterns, with `pi'` the dual-feasible prices
    /// that gave the bound: its reduced cost is at least `price - this`.
    pub candidate_value: Vec<f64>,
}

/// One round: the restricted LP solved, every candidate and room priced,
/// the patterns that price out added.
#[derive(Debug, Clone)]
pub(crate) struct Round {
    /// The restricted LP's value.
    pub lp_value: f64,
    /// Farley's bound from this round's duals, with the candidates' scaled
    /// values behind it (see [`Generated::candidate_value`]). A bound on the
    /// problem only while no column has a raised lower bound and the caps
    /// are the input's.
    pub farley: Option<(f64, Vec<f64>)>,
    /// The largest ratio of a candidate's best pattern value to its price.
    pub theta: f64,
    /// Patterns added.
    pub added: usize,
}

/// Column generation with Farley's bound, from scratch to convergence or
/// `stop`; see [`Generator::converge`].
pub(crate) fn column_generation(
    input: &Columns<'_>,
    limits: &PatternLimits,
    stop: &dyn Fn() -> bool,
) -> Result<Generated, (usize, String)> {
    match Generator::new(input, *limits).map_err(|message| (0, message))? {
        Some(mut generator) => generator.converge(stop),
        None => Ok(Generated {
            bound: 0.0,
            lp_value: 0.0,
            iterations: 0,
            converged: true,
            stopped: false,
            patterns: 0,
            time_s: 0.0,
            candidate_value: vec![0.0; input.candidates.len()],
        }),
    }
}

/// The restricted LP and its patterns, between rounds.
pub(crate) struct Generator<'i, 'a> {
    input: &'i Columns<'a>,
    limits: PatternLimits,
    /// Per-bin caps the pricing uses now.
    caps: Option<Vec<u64>>,
    lp: RestrictedLp,
    pool: Vec<Pattern>,
    index: HashMap<Pattern, usize>,
    /// Column values of the last solve.
    values: Vec<f64>,
    time_s: f64,
}

impl<'i, 'a> Generator<'i, 'a> {
    /// The restricted LP over one homogeneous pattern per shape, on its
    /// cheapest candidate per task; `None` when there are no shapes.
    pub fn new(input: &'i Columns<'a>, limits: PatternLimits) -> Result<Option<Self>, String> {
        let shapes = input.demands.len();
        if shapes == 0 {
            return Ok(None);
        }
        let cap = |s: usize| input.caps.as_ref().map_or(u64::MAX, |c| c[s]);
        let mut pool: Vec<Pattern> = Vec::new();
        for s in 0..shapes {
            let best = input
                .candidates
                .iter()
                .enumerate()
                .filter(|(o, c)| arch_ok(input.arches[s], c.arch) && class_ok(input, s, *o))
                .filter_map(|(o, c)| {
                    let n = fit_count(&input.demands[s], &c.capacity).min(cap(s));
                    (n > 0).then(|| (o, n, c.price.0 / n as f64))
                })
                .min_by(|a, b| a.2.total_cmp(&b.2).then(a.0.cmp(&b.0)));
            if let Some((o, n, _)) = best {
                let mut counts = vec![0u64; shapes];
                counts[s] = n;
                pool.push(Pattern { owner: Owner::Candidate(o), counts });
            }
        }
        let index = pool.iter().enumerate().map(|(i, p)| (p.clone(), i)).collect();
        let price = |owner| owner_price(input, owner);
        // Dearer than any pattern: one task alone on the dearest candidate.
        let dearest = input.candidates.iter().map(|c| c.price.0).fold(0.0, f64::max);
        let artificial = 10.0 * dearest + 1.0;
        let lp = RestrictedLp::new(&input.need, input.rooms.len(), &pool, &price, artificial)?;
        Ok(Some(Generator {
            input,
            limits,
            caps: input.caps.clone(),
            lp,
            pool,
            index,
            values: Vec::new(),
            time_s: 0.0,
        }))
    }

    /// Rounds until no pattern prices out, the iteration limit, or `stop`
    /// (asked before every round after the first), keeping the best Farley
    /// bound. Errors carry the round and HiGHS' message.
    pub fn converge(&mut self, stop: &dyn Fn() -> bool) -> Result<Generated, (usize, String)> {
        let mut out = Generated {
            bound: 0.0,
            lp_value: 0.0,
            iterations: 0,
            converged: false,
            stopped: false,
            patterns: 0,
            time_s: 0.0,
            candidate_value: vec![0.0; self.input.candidates.len()],
        };
        // Rounds price in single precision until nothing prices out, then
        // once in double to decide: the bound is only as tight as that round.
        let mut exact = false;
        for iteration in 0..self.limits.max_iterations.max(1) {
            if iteration > 0 && stop() {
                out.stopped = true;
                break;
            }
            out.iterations = iteration + 1;
            let round = self.round(exact).map_err(|message| (iteration, message))?;
            out.lp_value = round.lp_value;
            if let Some((bound, values)) = round.farley {
                if bound > out.bound {
                    out.bound = bound;
                    out.candidate_value = values;
                }
            }
            if round.added == 0 && !exact {
                exact = true;
            } else if round.added == 0 {
                out.converged = round.theta <= 1.0 + 1e-9;
                break;
            } else {
                exact = false;
            }
        }
        out.patterns = self.pool.len();
        out.time_s = self.time_s;
        debug!(
            bound = out.bound,
            restricted_lp = out.lp_value,
            iterations = out.iterations,
            converged = out.converged,
            stopped = out.stopped,
            patterns = out.patterns,
            shapes = self.input.demands.len(),
            candidates = self.input.candidates.len(),
            rooms = self.input.rooms.len(),
            "pattern lp"
        );
        Ok(out)
    }

    /// Solves the restricted LP, prices every candidate and room (with
    /// tables in double precision when `exact`), adds what prices out.
    pub fn round(&mut self, exact: bool) -> Result<Round, String> {
        let input = self.input;
        let solved = self.lp.solve()?;
        self.time_s = solved.time_s;
        self.values = solved.columns;
        let pi = &solved.covers;
        let caps = self.caps.as_deref();

        // Every candidate: the best pattern for these duals.
        let mut theta: f64 = 0.0;
        let mut values = Vec::with_capacity(input.candidates.len());
        let mut new_patterns = Vec::new();
        let priced = price_candidates(input, pi, caps, &self.limits, exact);
        for ((o, c), knap) in input.candidates.iter().enumerate().zip(priced) {
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
                new_patterns.push(Pattern { owner: Owner::Candidate(o), counts: knap.counts });
            }
        }

        // Every room: its row is `<= 1`, its dual at most 0 prices it.
        let mut room_values = 0.0;
        for (e, (free, arch)) in input.rooms.iter().enumerate() {
            let here = eligible(input, pi, *arch, None, free);
            let knap =
                knapsack(&input.demands, pi, caps, &here, free, self.limits.max_knapsack_nodes);
            room_values += knap.upper_bound;
            let room_price = -solved.rooms[e];
            if knap.value > room_price * (1.0 + 1e-9) + 1e-12 {
                new_patterns.push(Pattern { owner: Owner::Room(e), counts: knap.counts });
            }
        }

        // Farley: pi / max(theta, 1) is dual feasible, whatever the round;
        // free rooms can take at most their best pattern off the demand.
        let farley = theta.is_finite().then(|| {
            let scale = theta.max(1.0);
            let covered: f64 = input.need.iter().zip(pi).map(|(d, p)| d * p).sum();
            let bound = (covered - room_values) / scale * (1.0 - 1e-9);
            (bound, values.iter().map(|v| v / scale).collect())
        });

        let mut added = 0;
        for p in new_patterns {
            if !self.index.contains_key(&p) {
                self.lp.add(&p, owner_price(input, p.owner))?;
                self.index.insert(p.clone(), self.pool.len());
                self.pool.push(p);
                added += 1;
            }
        }
        Ok(Round { lp_value: solved.value, farley, theta, added })
    }

    /// Every pattern of the restricted LP, in column order.
    pub fn pool(&self) -> &[Pattern] {
        &self.pool
    }

    /// The column values of the last solve (patterns added since are 0).
    pub fn value(&self, column: usize) -> f64 {
        self.values.get(column).copied().unwrap_or(0.0)
    }

    /// HiGHS' run time over every restricted LP so far, seconds.
    pub fn time_s(&self) -> f64 {
        self.time_s
    }

    /// Bounds a column to `lower..=upper` bins (`upper` may be infinite).
    pub fn set_bounds(&mut self, column: usize, lower: f64, upper: f64) -> Result<(), String> {
        self.lp.set_bounds(column, lower, upper)
    }

    /// Prices with these per-bin caps from now on.
    pub fn set_caps(&mut self, caps: Vec<u64>) {
        self.caps = Some(caps);
    }

    /// Lifts every bound a dive put on the columns and goes back to the
    /// input's caps; the patterns found stay in the pool.
    pub fn release(&mut self) -> Result<(), String> {
        for column in 0..self.pool.len() {
            self.lp.set_bounds(column, 0.0, f64::INFINITY)?;
        }
        self.caps = self.input.caps.clone();
        Ok(())
    }
}

/// True when shape `s` may share a bin of candidate `o`.
fn class_ok(input: &Columns<'_>, s: usize, o: usize) -> bool {
    let class = input.candidate_class.get(o).copied().flatten();
    class.is_none_or(|c| input.shape_class.get(s).copied().unwrap_or(0) == c)
}

/// What a pattern's owner costs per hour.
fn owner_price(input: &Columns<'_>, owner: Owner) -> f64 {
    match owner {
        Owner::Candidate(o) => input.candidates[o].price.0,
        Owner::Room(_) => 0.0,
    }
}

/// Shapes worth something that fit `capacity` on `arch`, of `class` when given.
fn eligible(
    input: &Columns<'_>,
    pi: &[f64],
    arch: Architecture,
    class: Option<usize>,
    capacity: &Resources,
) -> Vec<usize> {
    (0..input.demands.len())
        .filter(|&s| pi[s] > 0.0 && arch_ok(input.arches[s], arch))
        .filter(|&s| class.is_none_or(|c| input.shape_class.get(s).copied().unwrap_or(0) == c))
        .filter(|&s| input.demands[s].fits_in(capacity))
        .collect()
}

/// The best pattern of every candidate for duals `pi`: one [`Grid`] per
/// group of candidates that see the same shapes (architecture and class),
/// read at each capacity; a branch and bound per candidate where the table
/// would be too large for it or the shapes need what it does not count.
fn price_candidates(
    input: &Columns<'_>,
    pi: &[f64],
    caps: Option<&[u64]>,
    limits: &PatternLimits,
    exact: bool,
) -> Vec<Knapsack> {
    let everything = Resources::new(u64::MAX, u64::MAX, u32::MAX);
    let class_of = |o: usize| input.candidate_class.get(o).copied().flatten();
    // Candidates that see the same shapes share a table (x86 and arm ones,
    // when no shape asks for an architecture).
    let mut groups: Vec<(Vec<usize>, Vec<usize>)> = Vec::new();
    for (o, c) in input.candidates.iter().enumerate() {
        let shapes = eligible(input, pi, c.arch, class_of(o), &everything);
        match groups.iter_mut().find(|(seen, _)| *seen == shapes) {
            Some((_, members)) => members.push(o),
            None => groups.push((shapes, vec![o])),
        }
    }
    let mut out: Vec<Option<Knapsack>> = (0..input.candidates.len()).map(|_| None).collect();
    for (shapes, mut members) in groups {
        // The table covers the group up to its largest capacity. When that
        // is over the work limit, the members with the most cpu are left to
        // the branch and bound until the rest fits: a few large bins are
        // cheap to search one by one, and the table is what many small ones
        // need.
        members.sort_by_key(|&o| input.candidates[o].capacity.millicpus);
        let mut tabled = members.len();
        let grid = loop {
            if tabled == 0 {
                break None;
            }
            let largest = members[..tabled].iter().fold(Resources::ZERO, |top, &o| {
                let cap = input.candidates[o].capacity;
                Resources::new(
                    top.millicpus.max(cap.millicpus),
                    top.memory_mib.max(cap.memory_mib),
                    top.gpus.max(cap.gpus),
                )
            });
            let built = Grid::build(
                &input.demands,
                pi,
                caps,
                &shapes,
                &largest,
                limits.max_grid_work,
                exact,
            );
            match built {
                Ok(grid) => break Some(grid),
                Err(Declined::Shapes) => break None,
                Err(Declined::Size) => {
                    let top = largest.millicpus;
                    while tabled > 0
                        && input.candidates[members[tabled - 1]].capacity.millicpus == top
                    {
                        tabled -= 1;
                    }
                }
            }
        };
        if grid.is_none() {
            tabled = 0;
        }
        for (at, &o) in members.iter().enumerate() {
            let c = input.candidates[o];
            out[o] = Some(match grid.as_ref().filter(|_| at < tabled) {
                Some(grid) => {
                    let best = grid.value(&c.capacity);
                    let upper_bound = best;
                    let prices_out = best > c.price.0 * (1.0 + 1e-9);
                    let counts = prices_out
                        .then(|| grid.counts(&c.capacity, limits.max_knapsack_nodes))
                        .flatten()
                        .unwrap_or_else(|| vec![0; input.demands.len()]);
                    let value = counts.iter().zip(pi).map(|(&n, p)| n as f64 * p).sum();
                    Knapsack { value, upper_bound, counts }
                }
                None => {
                    let here = eligible(input, pi, c.arch, class_of(o), &c.capacity);
                    knapsack(
                        &input.demands,
                        pi,
                        caps,
                        &here,
                        &c.capacity,
                        limits.max_knapsack_nodes,
                    )
                }
            });
        }
    }
    out.into_iter()
        .map(|k| k.unwrap_or(Knapsack { value: 0.0, upper_bound: 0.0, counts: Vec::new() }))
        .collect()
}

/// The restricted LP, kept in one HiGHS instance between rounds so each
/// solve starts from the last basis: cover rows `sum_p a_{p,s} x_p >= need_s`,
/// then one row `sum_{p of e} x_p <= 1` per room.
///
/// Its first columns are artificial: one per shape, covering one task at a
/// price no pattern reaches. They keep the LP feasible whatever bounds a
/// dive puts on the patterns (a shape whose only patterns are capped can
/// still be priced), and they are never part of a plan; the patterns'
/// columns follow them.
struct RestrictedLp {
    /// `None` only while a solve holds it.
    model: Option<highs::Model>,
    covers: Vec<Row>,
    rooms: Vec<Row>,
    /// Artificial columns before the patterns'.
    artificial: usize,
}

/// One restricted-LP solve: its value, its column values, the duals of its
/// cover rows (clamped at 0) and of its room rows (clamped at 0 from above),
/// and HiGHS' run time over every solve so far.
struct RestrictedSolution {
    value: f64,
    columns: Vec<f64>,
    covers: Vec<f64>,
    rooms: Vec<f64>,
    time_s: f64,
}

impl RestrictedLp {
    fn new(
        need: &[f64],
        rooms: usize,
        patterns: &[Pattern],
        price: &dyn Fn(Owner) -> f64,
        artificial_price: f64,
    ) -> Result<Self, String> {
        let mut problem = ColProblem::default();
        let covers: Vec<Row> = need.iter().map(|&d| problem.add_row(d..)).collect();
        let room_rows: Vec<Row> = (0..rooms).map(|_| problem.add_row(..=1.0)).collect();
        for &row in &covers {
            problem.add_column(artificial_price, 0.0.., [(row, 1.0)]);
        }
        for p in patterns {
            problem.add_column(price(p.owner), 0.0.., factors(p, &covers, &room_rows));
        }
        let mut model = problem
            .try_optimise(Sense::Minimise)
            .map_err(|status| format!("HiGHS refused the restricted LP: {status:?}"))?;
        model.make_quiet();
        Ok(RestrictedLp { model: Some(model), artificial: covers.len(), covers, rooms: room_rows })
    }

    fn add(&mut self, pattern: &Pattern, price: f64) -> Result<(), String> {
        let row_factors = factors(pattern, &self.covers, &self.rooms);
        let model = self.model.as_mut().ok_or("the restricted LP was lost")?;
        model
            .try_add_column(price, 0.0.., row_factors)
            .map(|_| ())
            .map_err(|status| format!("HiGHS refused a pattern column: {status:?}"))
    }

    fn set_bounds(&mut self, column: usize, lower: f64, upper: f64) -> Result<(), String> {
        let model = self.model.as_mut().ok_or("the restricted LP was lost")?;
        let index = i32::try_from(self.artificial + column)
            .map_err(|_| format!("column {column} out of range"))?;
        // SAFETY: the pointer is the live HiGHS instance `model` owns, and
        // HiGHS checks the index against its columns.
        let status =
            unsafe { highs_sys::Highs_changeColBounds(model.as_mut_ptr(), index, lower, upper) };
        if status == highs_sys::STATUS_ERROR {
            return Err(format!("HiGHS refused bounds {lower}..={upper} on column {column}"));
        }
        Ok(())
    }

    fn solve(&mut self) -> Result<RestrictedSolution, String> {
        let model = self.model.take().ok_or("the restricted LP was lost")?;
        let solved = model.try_solve().map_err(|status| format!("{status:?}"))?;
        let status = solved.status();
        if status != HighsModelStatus::Optimal {
            self.model = Some(highs::Model::from(solved));
            return Err(format!("restricted LP ended {status:?}"));
        }
        // SAFETY: `as_ptr` is the live HiGHS instance owned by `solved`, which
        // outlives the call; `Highs_getRunTime` only reads its timer, which
        // accumulates over every run of the instance.
        let time_s = unsafe { highs_sys::Highs_getRunTime(solved.as_ptr()) };
        let solution = solved.get_solution();
        let value = solved.objective_value();
        let duals = solution.dual_rows();
        let covers = duals.iter().take(self.covers.len()).map(|d| d.max(0.0)).collect();
        let rooms = duals.iter().skip(self.covers.len()).map(|d| d.min(0.0)).collect();
        let columns = solution.columns().get(self.artificial..).unwrap_or_default().to_vec();
        self.model = Some(highs::Model::from(solved));
        Ok(RestrictedSolution { value, columns, covers, rooms, time_s })
    }
}

/// The matrix entries of one pattern's column.
fn factors(pattern: &Pattern, covers: &[Row], rooms: &[Row]) -> Vec<(Row, f64)> {
    let mut out: Vec<(Row, f64)> = pattern
        .counts
        .iter()
        .zip(covers)
        .filter(|(&n, _)| n > 0)
        .map(|(&n, &row)| (row, n as f64))
        .collect();
    if let Owner::Room(e) = pattern.owner {
        out.push((rooms[e], 1.0));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::candidate;

    fn input<'a>(candidates: &[&'a Candidate], shapes: &[(u64, u64, f64)]) -> Columns<'a> {
        Columns {
            demands: shapes.iter().map(|&(c, m, _)| Resources::cpus_mib(c, m)).collect(),
            arches: vec![None; shapes.len()],
            need: shapes.iter().map(|&(_, _, n)| n).collect(),
            caps: Some(shapes.iter().map(|&(_, _, n)| n as u64).collect()),
            candidates: candidates.to_vec(),
            shape_class: vec![0; shapes.len()],
            candidate_class: vec![Some(0); candidates.len()],
            rooms: Vec::new(),
        }
    }

    #[test]
    fn free_rooms_take_their_share_off_the_bound() {
        let four = candidate(0, 4, 16_384, 1.0);
        let mut columns = input(&[&four], &[(1, 1024, 10.0)]);
        let without = column_generation(&columns, &PatternLimits::default(), &|| false).unwrap();
        assert!(without.converged);
        assert!((without.bound - 2.5).abs() < 1e-6, "{without:?}");
        // A room of four cpus holds four of the ten tasks for nothing.
        columns.rooms.push((Resources::cpus_mib(4, 8192), Architecture::X86_64));
        let with = column_generation(&columns, &PatternLimits::default(), &|| false).unwrap();
        assert!(with.converged, "{with:?}");
        assert!((with.bound - 1.5).abs() < 1e-6, "{with:?}");
    }

    #[test]
    fn a_run_stopped_early_keeps_a_valid_weaker_bound() {
        let small = candidate(0, 4, 16_384, 0.2);
        let big = candidate(1, 16, 32_768, 0.7);
        let columns = input(&[&small, &big], &[(3, 1024, 10.0), (1, 4096, 10.0), (2, 8192, 2.0)]);
        let full = column_generation(&columns, &PatternLimits::default(), &|| false).unwrap();
        let stopped = column_generation(&columns, &PatternLimits::default(), &|| true).unwrap();
        assert!(full.converged);
        assert!(stopped.stopped && !stopped.converged);
        assert_eq!(stopped.iterations, 1);
        assert!(stopped.bound <= full.bound + 1e-9, "{stopped:?} {full:?}");
    }

    #[test]
    fn bounds_on_columns_steer_the_lp_and_keep_it_feasible() {
        let four = candidate(0, 4, 16_384, 1.0);
        let columns = input(&[&four], &[(1, 1024, 6.0)]);
        let mut generator = Generator::new(&columns, PatternLimits::default()).unwrap().unwrap();
        generator.converge(&|| false).unwrap();
        // Six tasks, four per bin: 1.5 bins.
        let full = (0..generator.pool().len()).find(|&c| generator.pool()[c].counts == vec![4]);
        let full = full.expect("the four-task pattern");
        assert!((generator.value(full) - 1.5).abs() < 1e-9);
        // At most one bin of it: the LP must cover two tasks some other way.
        generator.set_bounds(full, 0.0, 1.0).unwrap();
        let round = generator.round(true).unwrap();
        assert!(generator.value(full) <= 1.0 + 1e-9);
        assert!(round.lp_value >= 1.5 - 1e-9);
    }
}
