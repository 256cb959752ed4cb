//! Cost-aware placement of batch pipeline tasks on rented cloud instances.
//!
//! `sched-core` is the pure part of the scheduler: it never does I/O, never
//! reads the wall clock and never depends on an async runtime or a cloud SDK.
//!
//! - [`resources`]: integer resource vectors with exact fit checks.
//! - [`catalog`]: instance types, offerings and the overhead model.
//! - [`policy`]: provisioning model, allow-lists and the candidate offerings.
//! - [`problem`], [`plan`], [`solver`]: one placement decision and the solvers.
//! - [`pricing`]: unit prices and the per-task lower bound on cost.
//! - [`lifecycle`]: task and run statuses with explicit transitions.
//! - [`engine`]: the sans-I/O state machine fed events, answering actions.
//! - [`provider`]: the trait a cloud backend implements.
//! - [`rightsize`]: per-process requests learned from earlier runs' usage.
//!
//! One placement, end to end:
//!
//! ```
//! use std::sync::Arc;
//! use sched_core::catalog::{Architecture, CapacityType, OfferingId, UsdPerHour};
//! use sched_core::policy::Candidate;
//! use sched_core::problem::{CandidateSet, PendingTask, PlacementProblem, TaskId};
//! use sched_core::solver::{Greedy, Solver};
//! use sched_core::Resources;
//!
//! // Prepared once (pruned, priced), then shared by every decision.
//! let candidates = CandidateSet::new(vec![Candidate {
//!     offering: OfferingId(0),
//!     capacity: Resources::cpus_mib(4, 15_000),
//!     price: UsdPerHour(0.192),
//!     capacity_type: CapacityType::OnDemand,
//!     arch: Architecture::X86_64,
//!     type_name: Arc::from("m6i.xlarge"),
//! }]);
//! let tasks = (0..6)
//!     .map(|i| PendingTask::new(TaskId(i), Resources::cpus_mib(1, 2048)))
//!     .collect();
//! let plan = Greedy.solve(&PlacementProblem::new(tasks, &candidates));
//! assert_eq!(plan.launches.len(), 2); // four tasks on the first, two on the second
//! assert_eq!(plan.assignments.len(), 6);
//! ```
#![deny(missing_docs)]

pub mod catalog;
pub mod engine;
pub mod lifecycle;
pub mod plan;
pub mod policy;
pub mod pricing;
pub mod problem;
pub mod provider;
pub mod resources;
pub mod rightsize;
pub mod solver;
pub mod time;

#[cfg(test)]
mod test_support;

pub use catalog::{Catalog, CatalogError, OverheadModel};
pub use engine::{Action, Engine, EngineError, Event, TaskSpec};
pub use lifecycle::{RunStatus, TaskStatus};
pub use plan::Plan;
pub use policy::{Policy, PolicyError, ProvisioningModel};
pub use problem::{InstanceId, PlacementProblem, TaskId};
pub use provider::{Provider, ProviderError, ProviderExt};
pub use resources::Resources;
pub use solver::Solver;
pub use time::Millis;
