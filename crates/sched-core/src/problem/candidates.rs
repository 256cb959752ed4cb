//! The offerings a solver may open, prepared once rather than per decision.
//!
//! What a solver needs to know about the candidates does not depend on the
//! tasks: which of them no other candidate beats, the cheapest unit price of
//! each resource, and each offering's price by id. A [`CandidateSet`]
//! works these out when it is built, so a driver that decides thousands of
//! times against one catalog and policy (the engine does) pays for them once.
//! On the full bundled catalog, pruning alone is about 50 µs: more than the
//! greedy solver spends placing 100 tasks.
//!
//! Pruning drops a candidate when another of the same architecture has at
//! least its capacity in every dimension, costs no more, and (with a
//! [`SpotRisk`]) is reclaimed no more often. Every candidate that holds a task
//! alone is then matched or beaten by a kept one, so a solver that looks for
//! the cheapest bin among the kept ones loses nothing.

use std::ops::Deref;
use std::sync::Arc;

use crate::catalog::{Architecture, OfferingId};
use crate::policy::{Candidate, SpotRisk};
use crate::pricing::UnitPrices;
use crate::resources::Resources;

/// Offerings a solver may open, with what every decision reuses: the
/// non-dominated ones in price order, the cheapest unit prices, and a lookup
/// by offering id.
///
/// Build one per catalog and policy (and again when the allowed offerings
/// change), and hand it to every [`PlacementProblem`](super::PlacementProblem).
/// It dereferences to the candidates it was built from, in their order.
///
/// ```
/// use std::sync::Arc;
/// use sched_core::catalog::{Architecture, CapacityType, OfferingId, UsdPerHour};
/// use sched_core::policy::Candidate;
/// use sched_core::problem::CandidateSet;
/// use sched_core::Resources;
///
/// let offering = |id: u32, cpus: u64, price: f64| Candidate {
///     offering: OfferingId(id),
///     capacity: Resources::cpus_mib(cpus, cpus * 4096),
///     price: UsdPerHour(price),
///     capacity_type: CapacityType::OnDemand,
///     arch: Architecture::X86_64,
///     type_name: Arc::from(format!("t{id}.test")),
/// };
/// // The second is smaller and dearer than the first: never worth opening.
/// let set = CandidateSet::new(vec![offering(0, 4, 0.10), offering(1, 2, 0.20)]);
/// assert_eq!(set.len(), 2);
/// assert_eq!(set.non_dominated().len(), 1);
/// assert_eq!(set.get(OfferingId(1)).map(|c| c.price.0), Some(0.20));
/// ```
#[derive(Debug, Clone)]
pub struct CandidateSet {
    /// Every candidate, as given.
    all: Vec<Candidate>,
    /// Reclaim risk the pruning and the scoring of spot bins take into account.
    risk: Option<Arc<SpotRisk>>,
    /// The candidates no other one beats, by price then offering id.
    kept: Vec<Candidate>,
    /// The reclaim hazard of each of `kept` (0 without a risk), per hour.
    kept_hazard: Vec<f64>,
    /// The cheapest unit prices over `all`.
    unit_prices: UnitPrices,
    /// Index into `all` by offering id (ids are dense catalog indices);
    /// `u32::MAX` where the offering is not a candidate.
    by_offering: Vec<u32>,
}

impl CandidateSet {
    /// Prepares `candidates` (as returned by
    /// [`Policy::candidates`](crate::policy::Policy::candidates)), comparing
    /// spot offerings at their billed price.
    pub fn new(candidates: Vec<Candidate>) -> Self {
        Self::prepare(candidates, None)
    }

    /// The same candidates, weighed by their reclaim `risk`: a spot offering
    /// is pruned only by one reclaimed no more often, and solvers that use
    /// the risk score it at [`SpotRisk::effective_price`].
    pub fn with_spot_risk(self, risk: SpotRisk) -> Self {
        Self::prepare(self.all, Some(Arc::new(risk)))
    }

    /// The candidates `keep` accepts, with the same risk, prepared anew
    /// (pruning starts over: a candidate left out may have been the one that
    /// beat others).
    pub fn filtered(&self, mut keep: impl FnMut(&Candidate) -> bool) -> Self {
        let all = self.all.iter().filter(|c| keep(c)).cloned().collect();
        Self::prepare(all, self.risk.clone())
    }

    pub(crate) fn prepare(all: Vec<Candidate>, risk: Option<Arc<SpotRisk>>) -> Self {
        let hazard = |c: &Candidate| risk.as_deref().map_or(0.0, |r| r.hazard(c.offering));
        let kept: Vec<Candidate> = prune_dominated_by(&all, hazard).into_iter().cloned().collect();
        let kept_hazard = kept.iter().map(hazard).collect();
        let mut by_offering: Vec<u32> = Vec::new();
        for (i, c) in all.iter().enumerate() {
            let at = c.offering.0 as usize;
            if at >= by_offering.len() {
                by_offering.resize(at + 1, u32::MAX);
            }
            // The first of duplicates wins, as a search from the front would.
            if by_offering[at] == u32::MAX {
                by_offering[at] = i as u32;
            }
        }
        let unit_prices = UnitPrices::of(&all);
        CandidateSet { all, risk, kept, kept_hazard, unit_prices, by_offering }
    }

    /// Every candidate, in the order given.
    pub fn candidates(&self) -> &[Candidate] {
        &self.all
    }

    /// The candidates no other one beats, by price then offering id.
    pub fn non_dominated(&self) -> &[Candidate] {
        &self.kept
    }

    /// The hourly reclaim hazard of each of [`CandidateSet::non_dominated`],
    /// in the same order (0 without a risk, and for on-demand offerings).
    pub(crate) fn non_dominated_hazards(&self) -> &[f64] {
        &self.kept_hazard
    }

    /// The reclaim risk the set was prepared with, if any.
    pub fn risk(&self) -> Option<&SpotRisk> {
        self.risk.as_deref()
    }

    /// The cheapest price of one unit of each resource over every candidate.
    pub fn unit_prices(&self) -> UnitPrices {
        self.unit_prices
    }

    /// The candidate of `offering`, if it is one.
    pub fn get(&self, offering: OfferingId) -> Option<&Candidate> {
        let at = *self.by_offering.get(offering.0 as usize)?;
        self.all.get(at as usize)
    }
}

impl Deref for CandidateSet {
    type Target = [Candidate];

    fn deref(&self) -> &[Candidate] {
        &self.all
    }
}

impl From<Vec<Candidate>> for CandidateSet {
    fn from(candidates: Vec<Candidate>) -> Self {
        CandidateSet::new(candidates)
    }
}

/// Drops candidates that another candidate of the same architecture beats:
/// at least as much of every dimension for no more money, and a reclaim
/// hazard (per hour, from `hazard`) no higher (a cheaper offering that is
/// reclaimed more often may still cost more for a long task). Returns the
/// kept ones by price then offering id; after that sort only earlier
/// (cheaper or equal) candidates can dominate.
pub(crate) fn prune_dominated_by(
    candidates: &[Candidate],
    hazard: impl Fn(&Candidate) -> f64,
) -> Vec<&Candidate> {
    let mut sorted: Vec<&Candidate> = candidates.iter().collect();
    sorted.sort_by(|a, b| a.price.0.total_cmp(&b.price.0).then(a.offering.cmp(&b.offering)));
    // The kept candidates of each architecture as compact copies (capacity,
    // price, hazard): the test runs once per pair, so it reads 40 bytes
    // rather than chasing a pointer to a whole candidate and recomputing its
    // hazard.
    let mut fronts: Vec<(Architecture, Vec<Kept>)> = Vec::new();
    let mut kept: Vec<&Candidate> = Vec::new();
    for c in sorted {
        let h = hazard(c);
        let at = match fronts.iter().position(|(arch, _)| *arch == c.arch) {
            Some(at) => at,
            None => {
                fronts.push((c.arch, Vec::new()));
                fronts.len() - 1
            }
        };
        let front = &mut fronts[at].1;
        let dominated = front.iter().any(|(capacity, price, hazard)| {
            c.capacity.fits_in(capacity) && *price <= c.price.0 && *hazard <= h
        });
        if !dominated {
            front.push((c.capacity, c.price.0, h));
            kept.push(c);
        }
    }
    kept
}

/// A kept candidate's capacity, price and hazard, for the dominance test.
type Kept = (Resources, f64, f64);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::CapacityType;
    use crate::test_support::candidate;
    use crate::time::Millis;

    fn spot(mut c: Candidate) -> Candidate {
        c.capacity_type = CapacityType::Spot;
        c
    }

    #[test]
    fn the_kept_ones_are_the_undominated_by_price() {
        let set = CandidateSet::new(vec![
            candidate(2, 8, 16_384, 0.30),
            candidate(0, 4, 8_192, 0.10),
            candidate(1, 2, 4_096, 0.20), // beaten by offering 0
        ]);
        let kept: Vec<u32> = set.non_dominated().iter().map(|c| c.offering.0).collect();
        assert_eq!(kept, [0, 2]);
        // The set itself keeps every candidate in the order given.
        let all: Vec<u32> = set.iter().map(|c| c.offering.0).collect();
        assert_eq!(all, [2, 0, 1]);
    }

    #[test]
    fn a_riskier_cheaper_offering_does_not_prune_a_safer_one() {
        let cheap = spot(candidate(0, 4, 8_192, 0.10));
        let safe = candidate(1, 4, 8_192, 0.20);
        let risk = SpotRisk::from_hazards([(OfferingId(0), 0.01)], 1.0, Millis(0));
        let plain = CandidateSet::new(vec![cheap.clone(), safe.clone()]);
        assert_eq!(plain.non_dominated().len(), 1);
        let weighed = plain.with_spot_risk(risk);
        assert_eq!(weighed.non_dominated().len(), 2);
        assert!(weighed.risk().is_some());
    }

    #[test]
    fn filtering_prunes_again() {
        let set =
            CandidateSet::new(vec![candidate(0, 4, 8_192, 0.10), candidate(1, 2, 4_096, 0.20)]);
        assert_eq!(set.non_dominated().len(), 1);
        // Without the offering that beat it, the small one is kept.
        let rest = set.filtered(|c| c.offering != OfferingId(0));
        let kept: Vec<u32> = rest.non_dominated().iter().map(|c| c.offering.0).collect();
        assert_eq!(kept, [1]);
        assert!(rest.get(OfferingId(0)).is_none());
        assert_eq!(rest.get(OfferingId(1)).map(|c| c.offering), Some(OfferingId(1)));
    }

    #[test]
    fn lookups_by_offering_and_unit_prices_match_a_scan() {
        let candidates = vec![
            candidate(5, 4, 8_192, 0.40),
            candidate(3, 2, 16_384, 0.10),
            candidate(9, 8, 1_024, 0.30),
        ];
        let set = CandidateSet::new(candidates.clone());
        for id in 0..12 {
            let scan = candidates.iter().find(|c| c.offering == OfferingId(id));
            assert_eq!(set.get(OfferingId(id)), scan);
        }
        assert_eq!(set.unit_prices(), UnitPrices::of(&candidates));
    }
}
