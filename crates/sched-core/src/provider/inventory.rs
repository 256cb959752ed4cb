//! What a provider holds right now: the ground truth reconciliation and
//! restarts work from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalog::OfferingId;
use crate::problem::{InstanceId, TaskId};

/// One instance the provider rents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldInstance {
    /// What is rented.
    pub offering: OfferingId,
    /// True once it can start tasks.
    pub ready: bool,
}

/// Everything a provider rents and runs, as it reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// Instances rented and not released, by the engine's id.
    pub instances: BTreeMap<InstanceId, HeldInstance>,
    /// Tasks running, and where.
    pub running: BTreeMap<TaskId, InstanceId>,
    /// The highest instance id the provider was ever asked to launch,
    /// released ones included: a restarted engine numbers its launches after
    /// it, so a new launch is never taken for a retry of an old one.
    pub last_instance: Option<InstanceId>,
}
