//! The instance catalog: instance types, the offerings they are sold as, and
//! the overhead model that turns nominal capacity into what tasks can use.
//!
//! An [`InstanceType`] is a machine shape (`m6i.large`). An [`Offering`] is one
//! way to rent it: a capacity type (spot or on demand), optionally a zone, and
//! a price. Solvers never see nominal sizes: [`Catalog::usable_capacity`]
//! applies the [`OverheadModel`] first, so a task asking for an instance's full
//! nominal memory does not fit on it.

mod load;
mod overhead;

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use load::{CatalogError, FieldProblem, MAX_PRICE_USD_HOUR, MIN_PRICE_USD_HOUR};
pub use overhead::OverheadModel;

use crate::resources::Resources;

/// A price in US dollars per hour of use.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UsdPerHour(pub f64);

impl UsdPerHour {
    /// What this rate costs over `seconds`.
    pub fn cost_for_seconds(self, seconds: f64) -> f64 {
        self.0 * seconds / 3600.0
    }
}

impl fmt::Display for UsdPerHour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${:.4}/h", self.0)
    }
}

/// CPU architecture of an instance type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// x86-64 (`amd64` in the catalog file).
    X86_64,
    /// 64-bit ARM (`arm64`).
    Arm64,
}

impl Architecture {
    /// Parses the catalog's spelling (`amd64`, `x86_64`, `arm64`, `aarch64`).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "amd64" | "x86_64" | "x86-64" => Some(Architecture::X86_64),
            "arm64" | "aarch64" => Some(Architecture::Arm64),
            _ => None,
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        })
    }
}

/// How an instance is rented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CapacityType {
    /// Billed at the on-demand price; never reclaimed.
    OnDemand,
    /// Billed at the spot price; may be reclaimed with two minutes' notice.
    Spot,
}

impl fmt::Display for CapacityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CapacityType::OnDemand => "on-demand",
            CapacityType::Spot => "spot",
        })
    }
}

/// AWS Spot Instance Advisor interruption frequency bucket, 0..=4
/// (`<5%`, `5-10%`, `10-15%`, `15-20%`, `>20%` of instances reclaimed a month).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InterruptionBucket(pub u8);

/// Index of an [`InstanceType`] in its [`Catalog`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InstanceTypeId(pub u32);

/// Index of an [`Offering`] in its [`Catalog`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OfferingId(pub u32);

impl fmt::Display for OfferingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "offering#{}", self.0)
    }
}

/// A machine shape as the cloud describes it (nominal sizes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceType {
    /// API name, e.g. `m6i.large`.
    pub name: String,
    /// Family, e.g. `m6i`.
    pub family: String,
    /// Architecture.
    pub arch: Architecture,
    /// Nominal vCPUs.
    pub vcpus: u32,
    /// Nominal memory in MiB.
    pub memory_mib: u64,
    /// GPUs (0 for none).
    pub gpus: u32,
    /// GPU model, where it has any.
    pub gpu_model: Option<String>,
    /// Other accelerators (Inferentia, Trainium); not schedulable yet.
    pub accelerators: u32,
}

impl InstanceType {
    /// The nominal capacity, before any overhead.
    pub fn nominal(&self) -> Resources {
        Resources::new(u64::from(self.vcpus) * 1000, self.memory_mib, self.gpus)
    }
}

/// One way to rent an instance type: capacity type, zone and price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offering {
    /// Its index in the catalog.
    pub id: OfferingId,
    /// The instance type it rents.
    pub instance_type: InstanceTypeId,
    /// Spot or on demand.
    pub capacity_type: CapacityType,
    /// Availability zone, or `None` when the price holds region-wide.
    pub zone: Option<String>,
    /// Price per hour.
    pub price: UsdPerHour,
    /// Spot interruption bucket where known (spot offerings only).
    pub interruption: Option<InterruptionBucket>,
}

/// Instance types and offerings of one region, validated on load.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Catalog {
    /// Region the prices are for, e.g. `us-east-1`.
    pub region: String,
    types: Vec<InstanceType>,
    offerings: Vec<Offering>,
    #[serde(skip)]
    by_name: HashMap<String, InstanceTypeId>,
}

impl Catalog {
    /// Builds a catalog from already validated parts.
    ///
    /// # Errors
    /// A duplicate type name, or an offering that points at no type.
    pub fn new(
        region: impl Into<String>,
        types: Vec<InstanceType>,
        offerings: Vec<Offering>,
    ) -> Result<Self, CatalogError> {
        let mut by_name = HashMap::with_capacity(types.len());
        for (index, ty) in types.iter().enumerate() {
            if by_name.insert(ty.name.clone(), InstanceTypeId(index as u32)).is_some() {
                return Err(CatalogError::DuplicateType { name: ty.name.clone(), line: None });
            }
        }
        let mut offerings = offerings;
        for (index, offering) in offerings.iter_mut().enumerate() {
            if offering.instance_type.0 as usize >= types.len() {
                return Err(CatalogError::DanglingOffering { index });
            }
            offering.id = OfferingId(index as u32);
        }
        Ok(Catalog { region: region.into(), types, offerings, by_name })
    }

    /// All instance types, in catalog order.
    pub fn types(&self) -> &[InstanceType] {
        &self.types
    }

    /// All offerings, in catalog order; `offerings()[id.0]` has that id.
    pub fn offerings(&self) -> &[Offering] {
        &self.offerings
    }

    /// The instance type with this id.
    pub fn instance_type(&self, id: InstanceTypeId) -> &InstanceType {
        &self.types[id.0 as usize]
    }

    /// The offering with this id.
    pub fn offering(&self, id: OfferingId) -> &Offering {
        &self.offerings[id.0 as usize]
    }

    /// The instance type an offering rents.
    pub fn offering_type(&self, id: OfferingId) -> &InstanceType {
        self.instance_type(self.offering(id).instance_type)
    }

    /// Looks a type up by its exact API name.
    pub fn find_type(&self, name: &str) -> Option<InstanceTypeId> {
        if self.by_name.is_empty() && !self.types.is_empty() {
            // A deserialized catalog has no index yet; fall back to a scan.
            return self
                .types
                .iter()
                .position(|t| t.name == name)
                .map(|i| InstanceTypeId(i as u32));
        }
        self.by_name.get(name).copied()
    }

    /// What an instance of this type can give to tasks under `overhead`.
    pub fn usable_capacity(&self, id: InstanceTypeId, overhead: &OverheadModel) -> Resources {
        overhead.usable(&self.instance_type(id).nominal())
    }
}
