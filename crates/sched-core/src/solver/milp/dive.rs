//! From the pattern LP to an integer plan: a dive with column generation.
//!
//! The LP optimum says how many bins of each pattern to open, in fractions.
//! The dive makes it whole one step at a time, re-solving the LP (and
//! pricing new patterns) after every step, so the rest of the plan adapts to
//! what was fixed:
//!
//! 1. every pattern the LP opens at least once is kept at least that many
//!    times (its column's lower bound raised to the whole part), and the
//!    pricing's per-bin caps shrink to what the kept bins leave to place;
//! 2. when no whole part is left to keep, a fractional pattern (the dearest,
//!    or another pick of [`Rule`]) is tried both ways, capped at its whole part (its upper bound rounded
//!    down) and opened once more (its lower bound rounded up), each followed
//!    by column generation; the cheaper LP is kept (a tie goes down: the
//!    columns rounding up priced stay in the pool, so the capped LP still
//!    gains from them). Rounding up alone is the
//!    textbook dive; here bins are large against the whole plan (a few
//!    192-cpu instances carry most of a batch), and rounding one of them up
//!    can cost far more than spreading its fraction over smaller ones.
//!
//! It ends when the LP's solution is whole, or, at the deadline, with the
//! last LP's solution rounded up (which places every task, if dearly). It
//! proves nothing: the exact solver keeps its plan only when it is cheaper
//! than the best one so far.

use tracing::{debug, trace};

use super::bins::assemble;
use super::reduction::Reduced;
use crate::plan::Plan;
use crate::pricing::generation::{Generator, Owner};

/// Whole-number tolerance on LP values.
const WHOLE: f64 = 1e-6;

/// What the dive did.
#[derive(Debug)]
pub(crate) struct Dive {
    /// Its plan, checked, when it finished.
    pub plan: Option<Plan>,
    /// Fixing steps taken.
    pub steps: usize,
    /// Rounds of column generation.
    pub rounds: usize,
}

/// Why a dive ended early.
enum Halt {
    /// The deadline.
    Stop,
    /// HiGHS failed or called the LP infeasible.
    Lp(String),
}

/// The dive's state: the bounds it put on the pool's columns.
struct Diver<'g, 'i, 'a> {
    generator: &'g mut Generator<'i, 'a>,
    need: Vec<u64>,
    lower: Vec<u64>,
    upper: Vec<Option<u64>>,
    rounds: usize,
}

impl Diver<'_, '_, '_> {
    /// Column generation until nothing prices out; the LP's value.
    fn converge(&mut self, stop: &dyn Fn() -> bool) -> Result<f64, Halt> {
        loop {
            if stop() {
                return Err(Halt::Stop);
            }
            self.rounds += 1;
            let round = self.generator.round(false).map_err(Halt::Lp)?;
            if round.added == 0 {
                return Ok(round.lp_value);
            }
        }
    }

    /// Sets column `c`'s bounds in the LP and here.
    fn bound(&mut self, c: usize, lower: u64, upper: Option<u64>) -> Result<(), Halt> {
        let columns = self.generator.pool().len();
        self.lower.resize(columns, 0);
        self.upper.resize(columns, None);
        self.lower[c] = lower;
        self.upper[c] = upper;
        let top = upper.map_or(f64::INFINITY, |u| u as f64);
        self.generator.set_bounds(c, lower as f64, top).map_err(Halt::Lp)
    }

    /// Prices for what the kept bins leave to place.
    fn recap(&mut self) -> Vec<u64> {
        let mut left = self.need.clone();
        for (p, &l) in self.generator.pool().iter().zip(&self.lower) {
            for (rest, &a) in left.iter_mut().zip(&p.counts) {
                *rest = rest.saturating_sub(a.saturating_mul(l));
            }
        }
        self.generator.set_caps(left.clone());
        left
    }

    fn values(&self) -> Vec<f64> {
        (0..self.generator.pool().len()).map(|c| self.generator.value(c)).collect()
    }
}

/// Which fractional pattern a dive rounds next, when no whole part is left
/// to keep. No one order is best on every batch (on the bundled traces'
/// 200-task batches each of these wins on some), so the solver dives again
/// with the next one while time is left and the gap is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// The dearest pattern.
    Dearest,
    /// The largest price times fractional part: the most money in the
    /// fraction.
    DearestFraction,
    /// The largest price times what rounding up adds.
    DearestRest,
    /// The largest price times the distance to the nearer whole number.
    Balanced,
}

impl Rule {
    /// Every rule, in the order the solver tries them: on the benchmark's
    /// batches the first is the best alone, and each next one the best
    /// addition to the ones before.
    pub const ALL: [Rule; 4] =
        [Rule::Dearest, Rule::DearestFraction, Rule::DearestRest, Rule::Balanced];

    /// The score of a pattern of this price and fractional part; the
    /// highest is rounded.
    fn score(self, price: f64, fraction: f64) -> f64 {
        match self {
            Rule::Dearest => price,
            Rule::DearestFraction => price * fraction,
            Rule::DearestRest => price * (1.0 - fraction),
            Rule::Balanced => price * fraction.min(1.0 - fraction),
        }
    }
}

/// Dives from the generator's current LP (which should have converged) to a
/// whole plan, rounding by `rule`; gives up, with no plan, once `stop` says
/// so or HiGHS fails. The bounds it puts on the generator's columns stay;
/// [`Generator::release`] lifts them.
pub(crate) fn dive(
    generator: &mut Generator<'_, '_>,
    reduced: &Reduced<'_>,
    stop: &dyn Fn() -> bool,
    rule: Rule,
) -> Dive {
    let need: Vec<u64> = reduced.shapes.iter().map(|s| s.tasks.len() as u64).collect();
    let mut diver = Diver { generator, need, lower: Vec::new(), upper: Vec::new(), rounds: 0 };
    let mut steps = 0;
    let plan = match run(&mut diver, reduced, stop, rule, &mut steps) {
        Ok(plan) => plan,
        Err(Halt::Stop) => {
            // Out of time: every pattern of the last LP rounded up still
            // places every task, at once.
            let counts: Vec<u64> = diver
                .values()
                .iter()
                .zip(diver.lower.iter().chain(std::iter::repeat(&0)))
                .map(|(&v, &l)| ((v - WHOLE).ceil().max(0.0) as u64).max(l))
                .collect();
            let plan = plan_of(diver.generator, reduced, &counts);
            debug!(
                steps,
                rounds = diver.rounds,
                cost = plan.as_ref().map(|p| p.launch_cost_per_hour().0),
                "dive stopped by the deadline; the last LP rounded up"
            );
            plan
        }
        Err(Halt::Lp(message)) => {
            debug!(steps, rounds = diver.rounds, %message, "dive stopped: the restricted LP failed");
            None
        }
    };
    Dive { plan, steps, rounds: diver.rounds }
}

fn run(
    diver: &mut Diver<'_, '_, '_>,
    reduced: &Reduced<'_>,
    stop: &dyn Fn() -> bool,
    rule: Rule,
    steps: &mut usize,
) -> Result<Option<Plan>, Halt> {
    let mut lp = diver.converge(stop)?;
    loop {
        let values = diver.values();
        diver.lower.resize(values.len(), 0);
        diver.upper.resize(values.len(), None);

        // Whole already: that is the plan.
        if values.iter().all(|v| (v - v.round()).abs() <= WHOLE) {
            let counts: Vec<u64> = values.iter().map(|v| v.round().max(0.0) as u64).collect();
            debug!(steps, lp, "dive ended whole");
            return Ok(plan_of(diver.generator, reduced, &counts));
        }
        *steps += 1;

        // Keep the whole parts.
        let mut raised = false;
        for (c, &v) in values.iter().enumerate() {
            let whole = (v + WHOLE).floor().max(0.0) as u64;
            if whole > diver.lower[c] {
                diver.bound(c, whole, diver.upper[c])?;
                raised = true;
            }
        }
        if raised {
            if diver.recap().iter().all(|&n| n == 0) {
                let lower = diver.lower.clone();
                debug!(steps, "dive kept bins that place every task");
                return Ok(plan_of(diver.generator, reduced, &lower));
            }
            lp = diver.converge(stop)?;
            continue;
        }

        // Try the fractional pattern the rule picks both ways; keep the cheaper.
        let prices: Vec<f64> = diver
            .generator
            .pool()
            .iter()
            .map(|p| match p.owner {
                Owner::Candidate(k) => reduced.kinds[k].candidate.price.0,
                Owner::Room(_) => 0.0,
            })
            .collect();
        let score = |c: usize| rule.score(prices[c], values[c] - values[c].floor());
        let pick = (0..values.len())
            .filter(|&c| values[c] - values[c].floor() > WHOLE)
            .max_by(|&a, &b| score(a).total_cmp(&score(b)).then(b.cmp(&a)));
        let Some(c) = pick else {
            return Ok(None);
        };
        let floor = values[c].floor() as u64;
        let (lower, upper) = (diver.lower[c], diver.upper[c]);

        diver.bound(c, floor + 1, upper)?;
        diver.recap();
        let up = match diver.converge(stop) {
            Ok(value) => value,
            Err(Halt::Lp(_)) => f64::INFINITY,
            Err(halt) => return Err(halt),
        };
        diver.bound(c, lower, Some(floor))?;
        diver.recap();
        let down = match diver.converge(stop) {
            Ok(value) => value,
            Err(Halt::Lp(_)) => f64::INFINITY,
            Err(halt) => return Err(halt),
        };
        trace!(column = c, price = prices[c], up, down, "dive rounds a pattern");
        if up < down {
            diver.bound(c, floor + 1, upper)?;
            diver.recap();
            lp = diver.converge(stop)?;
        } else if down.is_finite() {
            lp = down;
        } else {
            return Ok(None);
        }
    }
}

/// The plan of `counts[c]` bins of each pattern of the generator's pool.
fn plan_of(generator: &Generator<'_, '_>, reduced: &Reduced<'_>, counts: &[u64]) -> Option<Plan> {
    let mut chosen = Vec::new();
    for (p, &n) in generator.pool().iter().zip(counts) {
        if let Owner::Room(_) = p.owner {
            if n > 1 {
                return None;
            }
        }
        for _ in 0..n {
            chosen.push(p);
        }
    }
    assemble(reduced, &chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::generation::Generator;
    use crate::pricing::PatternLimits;
    use crate::problem::{CandidateSet, PlacementProblem};
    use crate::solver::milp::reduction::{pattern_input, reduce};
    use crate::solver::{Greedy, Solver};
    use crate::test_support::{candidate, task};

    #[test]
    fn the_dive_places_every_task_at_no_less_than_the_bound() {
        // Three-cpu and one-cpu tasks pair up on four-cpu bins; the three-cpu
        // tasks left over need a bin each.
        let candidates = CandidateSet::new(vec![
            candidate(0, 4, 16_384, 0.20),
            candidate(1, 16, 65_536, 0.70),
            candidate(2, 2, 8192, 0.11),
        ]);
        let tasks =
            (0..23).map(|i| if i % 3 == 0 { task(i, 1, 2048) } else { task(i, 3, 2048) }).collect();
        let problem = PlacementProblem::new(tasks, &candidates);
        let reduced = reduce(&problem, &Greedy.solve(&problem));
        let input = pattern_input(&reduced).expect("shapes to price");
        let mut generator =
            Generator::new(&input, PatternLimits::default()).unwrap().expect("a restricted LP");
        let generated = generator.converge(&|| false).unwrap();
        assert!(generated.converged, "{generated:?}");
        let run = dive(&mut generator, &reduced, &|| false, Rule::Dearest);
        let plan = run.plan.expect("a whole plan");
        assert_eq!(plan.assignments.len(), 23);
        let cost = plan.launch_cost_per_hour().0;
        assert!(cost >= generated.bound - 1e-9, "{cost} below the bound {}", generated.bound);
        for (n, launch) in plan.launches.iter().enumerate() {
            let used = plan
                .assignments
                .iter()
                .filter(|a| a.placement == crate::plan::Placement::New(n))
                .map(|a| problem.tasks.iter().find(|t| t.id == a.task).unwrap().demand)
                .fold(crate::resources::Resources::ZERO, |sum, d| sum + d);
            assert!(used.fits_in(&launch.capacity), "{used} on {}", launch.capacity);
        }
    }

    #[test]
    fn a_dive_stopped_at_once_still_rounds_the_lp_up_to_a_plan() {
        let candidates =
            CandidateSet::new(vec![candidate(0, 4, 16_384, 0.20), candidate(1, 16, 65_536, 0.70)]);
        let tasks = (0..30).map(|i| task(i, 1 + i % 3, 1024)).collect();
        let problem = PlacementProblem::new(tasks, &candidates);
        let reduced = reduce(&problem, &Greedy.solve(&problem));
        let input = pattern_input(&reduced).expect("shapes to price");
        let mut generator =
            Generator::new(&input, PatternLimits::default()).unwrap().expect("a restricted LP");
        generator.converge(&|| false).unwrap();
        let run = dive(&mut generator, &reduced, &|| true, Rule::Dearest);
        assert_eq!(run.steps, 0);
        let plan = run.plan.expect("the LP rounded up");
        assert_eq!(plan.assignments.len(), 30);
    }
}
