//! Unit prices of resources, and the per-task lower bound on cost.
//!
//! Any plan pays, for each task, at least the cheapest allowed price of the
//! dimension it needs most, for as long as it runs: an instance of price `p`
//! and capacity `c` gives one unit of dimension `d` for `p / c_d`, and a task
//! needing `r_d` of it occupies `r_d / c_d` of that instance. So
//! `max_d(r_d * min_o p_o / c_{o,d}) * runtime` is a bound no plan beats
//! (ignoring billing minimums and boot time, which only add cost).
//!
//! That holds for one task alone. Summed over tasks that run at the same time
//! it can overshoot: a cpu-heavy and a memory-heavy task that share one
//! balanced instance are each charged for the dimension they use most, so
//! the sum can reach twice the instance's price. A sum that is always a bound
//! is the volume of one dimension at a time,
//! [`UnitPrices::dimension_bound_usd`]; stronger still is the pattern-LP bound
//! (feature `milp`), [`pattern_lp_bound`].

#[cfg(feature = "milp")]
pub(crate) mod generation;
#[cfg(feature = "milp")]
mod grid;
#[cfg(feature = "milp")]
mod knapsack;
#[cfg(feature = "milp")]
pub(crate) mod pattern;

#[cfg(feature = "milp")]
pub use pattern::{
    batch_pattern_bound, pattern_lp_bound, BoundError, DemandShape, PatternBound, PatternLimits,
};

use crate::policy::Candidate;
use crate::resources::Resources;

/// The cheapest allowed price of one unit of each dimension, USD per hour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UnitPrices {
    /// USD per hour of one millicpu.
    pub per_millicpu: f64,
    /// USD per hour of one MiB.
    pub per_mib: f64,
    /// USD per hour of one GPU (0 when no candidate has GPUs).
    pub per_gpu: f64,
}

impl UnitPrices {
    /// The cheapest unit prices over `candidates`.
    pub fn of(candidates: &[Candidate]) -> Self {
        let cheapest = |amount: fn(&Candidate) -> u64| {
            candidates
                .iter()
                .filter(|c| amount(c) > 0)
                .map(|c| c.price.0 / amount(c) as f64)
                .fold(f64::INFINITY, f64::min)
        };
        let finite_or_zero = |x: f64| if x.is_finite() { x } else { 0.0 };
        UnitPrices {
            per_millicpu: finite_or_zero(cheapest(|c| c.capacity.millicpus)),
            per_mib: finite_or_zero(cheapest(|c| c.capacity.memory_mib)),
            per_gpu: finite_or_zero(cheapest(|c| u64::from(c.capacity.gpus))),
        }
    }

    /// A demand's worth per hour: its most expensive dimension at the
    /// cheapest price of that dimension.
    pub fn value(&self, demand: &Resources) -> f64 {
        (demand.millicpus as f64 * self.per_millicpu)
            .max(demand.memory_mib as f64 * self.per_mib)
            .max(f64::from(demand.gpus) * self.per_gpu)
    }

    /// The least any plan can pay to run `demand` for `seconds`, USD, when
    /// the task runs alone (see the module docs before summing these).
    pub fn lower_bound_usd(&self, demand: &Resources, seconds: f64) -> f64 {
        self.value(demand) * seconds / 3600.0
    }

    /// The least any schedule can pay for `work` (demands with their run
    /// time in seconds), USD: the largest, over dimensions, of that
    /// dimension's total use priced at its cheapest unit price. Every instance
    /// of price `p` and capacity `c` supplies at most `c_d` of dimension `d`
    /// for `p >= c_d * per_unit_d`, so no schedule pays less in any dimension.
    pub fn dimension_bound_usd(&self, work: impl IntoIterator<Item = (Resources, f64)>) -> f64 {
        let mut total = [0.0f64; 3];
        for (demand, seconds) in work {
            total[0] += demand.millicpus as f64 * seconds;
            total[1] += demand.memory_mib as f64 * seconds;
            total[2] += f64::from(demand.gpus) * seconds;
        }
        (total[0] * self.per_millicpu).max(total[1] * self.per_mib).max(total[2] * self.per_gpu)
            / 3600.0
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::catalog::{Architecture, CapacityType, OfferingId, UsdPerHour};

    #[test]
    fn bound_prices_the_dominant_dimension() {
        let c = |id, cpus, mib, price| Candidate {
            offering: OfferingId(id),
            capacity: Resources::cpus_mib(cpus, mib),
            price: UsdPerHour(price),
            capacity_type: CapacityType::OnDemand,
            arch: Architecture::X86_64,
            type_name: Arc::from("x"),
        };
        // Cheapest cpu: 0.08/2000 per millicpu; cheapest memory: 0.10/16384 per MiB.
        let prices = UnitPrices::of(&[c(0, 2, 4096, 0.08), c(1, 2, 16384, 0.10)]);
        let one_cpu_hour = prices.lower_bound_usd(&Resources::cpus_mib(1, 1024), 3600.0);
        assert!((one_cpu_hour - 0.04).abs() < 1e-12);
        let memory_heavy = prices.lower_bound_usd(&Resources::cpus_mib(1, 16384), 3600.0);
        assert!((memory_heavy - 0.10).abs() < 1e-12);
    }

    #[test]
    fn per_task_values_overshoot_when_dominant_dimensions_differ() {
        let c = Candidate {
            offering: OfferingId(0),
            capacity: Resources::cpus_mib(4, 16384),
            price: UsdPerHour(1.0),
            capacity_type: CapacityType::OnDemand,
            arch: Architecture::X86_64,
            type_name: Arc::from("x"),
        };
        let prices = UnitPrices::of(std::slice::from_ref(&c));
        // Both fit one instance at 1.0/h, yet each is valued near 1.0/h.
        let cpu_heavy = Resources::cpus_mib(3, 1024);
        let memory_heavy = Resources::new(500, 12_288, 0);
        let summed = prices.lower_bound_usd(&cpu_heavy, 3600.0)
            + prices.lower_bound_usd(&memory_heavy, 3600.0);
        assert!(summed > 1.0, "{summed}");
        let by_dimension =
            prices.dimension_bound_usd([(cpu_heavy, 3600.0), (memory_heavy, 3600.0)]);
        assert!(by_dimension <= 1.0, "{by_dimension}");
    }
}
