//! Constructors shared by the unit tests of the solvers and bounds.

use std::sync::Arc;

use crate::catalog::{Architecture, CapacityType, OfferingId, UsdPerHour};
use crate::policy::Candidate;
use crate::problem::{PendingTask, TaskId};
use crate::resources::Resources;

/// An on-demand x86-64 candidate named `t{id}.test`.
pub(crate) fn candidate(id: u32, cpus: u64, mib: u64, price: f64) -> Candidate {
    Candidate {
        offering: OfferingId(id),
        capacity: Resources::cpus_mib(cpus, mib),
        price: UsdPerHour(price),
        capacity_type: CapacityType::OnDemand,
        arch: Architecture::X86_64,
        type_name: Arc::from(format!("t{id}.test")),
    }
}

/// A task of group 0 with no runtime estimate.
pub(crate) fn task(id: u64, cpus: u64, mib: u64) -> PendingTask {
    PendingTask::new(TaskId(id), Resources::cpus_mib(cpus, mib))
}
