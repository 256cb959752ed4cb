//! What the user allows the scheduler to rent, and how.
//!
//! A [`Policy`] is validated against a [`Catalog`] once, by
//! [`Policy::candidates`], which yields the offerings a solver may open with
//! their usable capacity. Solvers only ever see that validated list.

mod allow_list;
mod risk;

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use allow_list::{AllowList, InstancePattern, PolicyError};
pub use risk::{hazard_per_hour, monthly_interruption_rate, SpotRisk};

use crate::catalog::{Architecture, CapacityType, Catalog, OfferingId, OverheadModel, UsdPerHour};
use crate::resources::Resources;

/// Which capacity types the scheduler may rent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ProvisioningModel {
    /// Spot first; on demand where spot capacity is missing.
    #[default]
    SpotFirst,
    /// Spot only.
    Spot,
    /// On demand only.
    #[serde(rename = "ondemand")]
    OnDemand,
}

impl ProvisioningModel {
    /// True when offerings of this capacity type may be opened at all.
    pub fn allows(&self, capacity_type: CapacityType) -> bool {
        match self {
            ProvisioningModel::SpotFirst => true,
            ProvisioningModel::Spot => capacity_type == CapacityType::Spot,
            ProvisioningModel::OnDemand => capacity_type == CapacityType::OnDemand,
        }
    }
}

impl fmt::Display for ProvisioningModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProvisioningModel::SpotFirst => "spotFirst",
            ProvisioningModel::Spot => "spot",
            ProvisioningModel::OnDemand => "ondemand",
        })
    }
}

/// The user's rules for renting capacity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Policy {
    /// Spot, on demand, or spot first.
    pub provisioning: ProvisioningModel,
    /// Instance types allowed; `None` allows the whole catalog.
    pub allowed_types: Option<AllowList>,
    /// Architectures allowed; empty allows all.
    pub architectures: Vec<Architecture>,
    /// How long an instance may sit idle before it is released, seconds.
    pub idle_release_s: u64,
    /// What the OS and agent keep on each instance.
    pub overhead: OverheadModel,
    /// How many times a task is started in all before it is FAILED.
    pub max_attempts: u32,
    /// Expected billed seconds from a launch to a usable instance (its boot);
    /// the greedy solver weighs it when it chooses between extending an
    /// existing instance and opening a new one.
    pub launch_overhead_s: u64,
    /// New launches wait until no task has arrived for this long, ms, so
    /// that tasks arriving together are packed together.
    pub batch_idle_ms: u64,
    /// ... but never longer than this after the first waiting launch, ms.
    pub batch_max_ms: u64,
    /// How many launches refused for capacity a task meets before it stops
    /// waiting for spot: under `spotFirst` it is then placed on demand, under
    /// `spot` it waits [`Policy::spot_shortage_ttl_s`] and tries again.
    pub max_spot_attempts: u32,
    /// How long an offering refused for capacity is left out of placement, seconds.
    pub spot_shortage_ttl_s: u64,
    /// How much the expected work lost to spot reclaims counts when spot
    /// offerings are compared: 0 ignores it, 1 counts it at its expected value
    /// (see [`SpotRisk`]).
    pub spot_risk_weight: f64,
    /// The run becomes DANGLING when no heartbeat came for this long, seconds;
    /// `None` when the launcher sends none.
    pub heartbeat_timeout_s: Option<u64>,
    /// A launched instance not ready this long after its launch is given up
    /// (terminated, its tasks placed again), seconds; `None` waits forever.
    pub ready_timeout_s: Option<u64>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            provisioning: ProvisioningModel::SpotFirst,
            allowed_types: None,
            architectures: Vec::new(),
            idle_release_s: 10,
            overhead: OverheadModel::default(),
            max_attempts: 3,
            launch_overhead_s: 60,
            // Karpenter's defaults for the same trade-off (BATCH_IDLE_DURATION
            // 1 s, BATCH_MAX_DURATION 10 s).
            batch_idle_ms: 1_000,
            batch_max_ms: 10_000,
            max_spot_attempts: 3,
            // Our choice: long enough that one burst of launches does not keep
            // knocking on an empty pool, short enough to see capacity return.
            spot_shortage_ttl_s: 180,
            spot_risk_weight: 1.0,
            heartbeat_timeout_s: None,
            // Our choice: five times a typical EC2 boot plus agent start
            // (about a minute), so only an instance that is stuck is given up.
            ready_timeout_s: Some(300),
        }
    }
}

/// An offering a solver may open, with what it can hold and what it costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The catalog offering.
    pub offering: OfferingId,
    /// Usable capacity after overhead.
    pub capacity: Resources,
    /// Price per hour.
    pub price: UsdPerHour,
    /// Spot or on demand.
    pub capacity_type: CapacityType,
    /// Architecture of the instance type.
    pub arch: Architecture,
    /// Instance type name, for reasons and logs.
    pub type_name: Arc<str>,
}

impl Policy {
    /// The offerings this policy allows in `catalog`, with usable capacity,
    /// sorted by price then offering id.
    ///
    /// # Errors
    /// An allow-list entry that matches no type in the catalog, or a policy
    /// that leaves no offering at all.
    pub fn candidates(&self, catalog: &Catalog) -> Result<Vec<Candidate>, PolicyError> {
        allow_list::candidates(self, catalog)
    }
}
