//! Cost-aware placement of batch pipeline tasks on rented cloud instances.
//!
//! This facade re-exports the workspace's crates so a user depends on one
//! package:
//!
//! - everything of [`sched_core`] at the top level: resources, catalog,
//!   policy, solvers, the sans-I/O engine and the `Provider` trait;
//! - [`sim`]: the trace readers, simulated cloud and replay of `sched-sim`.
//!
//! ```
//! use cloud_sched::policy::Policy;
//! use cloud_sched::Catalog;
//!
//! let csv = "instance_type,family,vcpus,memory_gib,arch,gpus,ondemand_usd_hour,spot_usd_hour,interruption_bucket,region\n\
//!            m6i.large,m6i,2,8.0,amd64,0,0.096,0.04,1,us-east-1\n";
//! let catalog = Catalog::from_csv_reader(csv.as_bytes(), "inline").unwrap();
//! let candidates = Policy::default().candidates(&catalog).unwrap();
//! assert_eq!(candidates.len(), 2); // spot and on demand
//! ```
#![deny(missing_docs)]

pub use sched_core::*;
pub use sched_sim as sim;

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
