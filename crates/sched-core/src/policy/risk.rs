//! What a spot reclaim is expected to cost, per offering.
//!
//! The catalog gives each spot offering an interruption bucket from the AWS
//! Spot Instance Advisor (<https://aws.amazon.com/ec2/spot/instance-advisor/>):
//! the share of instances of that type reclaimed over the trailing month,
//! `<5%`, `5-10%`, `10-15%`, `15-20%` or `>20%`. We take each bucket's midpoint
//! (2.5%, 7.5%, 12.5%, 17.5%, and 25% for the open-ended last one) as the
//! chance `q` that an instance running for a month (730 hours) is reclaimed,
//! and turn it into a constant hourly hazard `lambda = -ln(1 - q) / 730`.
//! An unknown bucket counts as the middle one.
//!
//! A task of `T` hours on an instance of hazard `lambda` is reclaimed with
//! probability about `lambda * T`; it then loses on average half its work,
//! `T / 2`, plus the restart `R` (a replacement's boot). The expected paid
//! time is therefore `T * (1 + lambda * (T / 2 + R))`, and the solver compares
//! spot offerings at the *effective* price `p * (1 + w * lambda * (T / 2 + R))`,
//! with `w` the policy's `spot_risk_weight`. The billed price stays what it is;
//! only the choice between offerings changes. At the catalog's rates the
//! premium is small (25% a month is 0.04% an hour), so it decides between
//! offerings whose prices are close, for long tasks, which is where it should.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::Candidate;
use crate::catalog::{CapacityType, Catalog, InterruptionBucket, OfferingId};
use crate::time::Millis;

/// Hours in a month, as AWS counts them for pricing (365 x 24 / 12).
const HOURS_PER_MONTH: f64 = 730.0;

/// Runtime assumed for a bin whose lead task has no runtime estimate, hours.
const UNKNOWN_RUNTIME_H: f64 = 1.0;

/// The chance that an instance is reclaimed within a month, from its bucket
/// (the bucket's midpoint; 25% for `>20%`; the middle bucket when unknown).
pub fn monthly_interruption_rate(bucket: Option<InterruptionBucket>) -> f64 {
    match bucket.map(|b| b.0) {
        Some(0) => 0.025,
        Some(1) => 0.075,
        None | Some(2) => 0.125,
        Some(3) => 0.175,
        Some(_) => 0.25,
    }
}

/// The constant hourly reclaim hazard that gives the bucket's monthly rate.
pub fn hazard_per_hour(bucket: Option<InterruptionBucket>) -> f64 {
    -(1.0 - monthly_interruption_rate(bucket)).ln() / HOURS_PER_MONTH
}

/// Reclaim hazards of the spot candidates, and how much the risk counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpotRisk {
    /// Hourly hazard of each spot offering; on-demand offerings are absent.
    hazard_per_h: HashMap<OfferingId, f64>,
    /// The policy's `spot_risk_weight`, possibly scaled by the driver.
    weight: f64,
    /// Restart after a reclaim (a replacement's boot), hours.
    restart_h: f64,
}

impl SpotRisk {
    /// The risk of every spot offering among `candidates`, from `catalog`'s
    /// buckets, weighted by `weight`, with `restart` lost per reclaim.
    pub fn new(catalog: &Catalog, candidates: &[Candidate], weight: f64, restart: Millis) -> Self {
        let hazard_per_h = candidates
            .iter()
            .filter(|c| c.capacity_type == CapacityType::Spot)
            .filter(|c| (c.offering.0 as usize) < catalog.offerings().len())
            .map(|c| (c.offering, hazard_per_hour(catalog.offering(c.offering).interruption)))
            .collect();
        SpotRisk {
            hazard_per_h,
            weight: weight.max(0.0),
            restart_h: restart.as_secs_f64() / 3600.0,
        }
    }

    /// A risk model from explicit hazards (per hour), for tests and drivers
    /// that know better than the catalog.
    pub fn from_hazards(
        hazards: impl IntoIterator<Item = (OfferingId, f64)>,
        weight: f64,
        restart: Millis,
    ) -> Self {
        SpotRisk {
            hazard_per_h: hazards.into_iter().collect(),
            weight: weight.max(0.0),
            restart_h: restart.as_secs_f64() / 3600.0,
        }
    }

    /// The hourly hazard of `offering` (0 for on demand).
    pub fn hazard(&self, offering: OfferingId) -> f64 {
        self.hazard_per_h.get(&offering).copied().unwrap_or(0.0)
    }

    /// The weight the risk is counted with.
    pub fn weight(&self) -> f64 {
        self.weight
    }

    /// `candidate`'s price per hour with the expected lost work of a bin
    /// living `runtime` (unknown: one hour) added; its billed price for on
    /// demand or when the weight is 0.
    pub fn effective_price(&self, candidate: &Candidate, runtime: Option<Millis>) -> f64 {
        self.effective_price_at(candidate.price.0, self.hazard(candidate.offering), runtime)
    }

    /// [`SpotRisk::effective_price`] of a candidate of billed `price` and
    /// hourly `hazard` already looked up (a solver's inner loop has them at hand).
    pub(crate) fn effective_price_at(
        &self,
        price: f64,
        hazard: f64,
        runtime: Option<Millis>,
    ) -> f64 {
        self.effective_price_exposed(price, hazard, self.exposure_h(runtime))
    }

    /// Hours of work a reclaim of a bin living `runtime` costs on average:
    /// half its life, plus the restart.
    pub(crate) fn exposure_h(&self, runtime: Option<Millis>) -> f64 {
        let runtime_h = runtime.map_or(UNKNOWN_RUNTIME_H, |r| r.as_secs_f64() / 3600.0);
        runtime_h / 2.0 + self.restart_h
    }

    /// [`SpotRisk::effective_price_at`] with the exposure
    /// ([`SpotRisk::exposure_h`]) worked out once for many candidates.
    pub(crate) fn effective_price_exposed(&self, price: f64, hazard: f64, exposure_h: f64) -> f64 {
        if hazard <= 0.0 || self.weight <= 0.0 {
            return price;
        }
        price * (1.0 + self.weight * hazard * exposure_h)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::catalog::{Architecture, UsdPerHour};
    use crate::resources::Resources;

    fn spot(id: u32, price: f64) -> Candidate {
        Candidate {
            offering: OfferingId(id),
            capacity: Resources::cpus_mib(4, 16_000),
            price: UsdPerHour(price),
            capacity_type: CapacityType::Spot,
            arch: Architecture::X86_64,
            type_name: Arc::from("t.test"),
        }
    }

    #[test]
    fn buckets_map_to_increasing_hazards() {
        let rates: Vec<f64> =
            (0..5).map(|b| hazard_per_hour(Some(InterruptionBucket(b)))).collect();
        assert!(rates.windows(2).all(|w| w[0] < w[1]), "{rates:?}");
        // 25% a month is about 0.039% an hour.
        assert!((rates[4] - 3.94e-4).abs() < 1e-5, "{}", rates[4]);
        assert_eq!(hazard_per_hour(None), hazard_per_hour(Some(InterruptionBucket(2))));
    }

    #[test]
    fn a_cheaper_but_riskier_offering_loses_for_long_tasks() {
        let risky = spot(0, 0.1000);
        let steady = spot(1, 0.1005);
        let risk = SpotRisk::from_hazards(
            [(OfferingId(0), hazard_per_hour(Some(InterruptionBucket(4)))), (OfferingId(1), 0.0)],
            1.0,
            Millis::from_secs(60),
        );
        let short = Some(Millis::from_secs(600));
        let long = Some(Millis::from_secs(48 * 3600));
        assert!(risk.effective_price(&risky, short) < risk.effective_price(&steady, short));
        assert!(risk.effective_price(&risky, long) > risk.effective_price(&steady, long));
        // No weight, no premium.
        let blind = SpotRisk::from_hazards([(OfferingId(0), 1.0)], 0.0, Millis(0));
        assert_eq!(blind.effective_price(&risky, long), risky.price.0);
    }
}
