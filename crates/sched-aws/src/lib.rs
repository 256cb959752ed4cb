//! The scheduler's [`sched_core::provider::Provider`] over AWS: an
//! ECS cluster whose capacity comes from Auto Scaling Groups (one per
//! instance type and capacity type, over a launch template of the
//! ECS-optimized Amazon Linux 2023 AMI) or from ECS Managed Instances.
//!
//! The crate is split by job:
//!
//! - [`config`]: what the operator chooses (region, endpoint, name prefix,
//!   provisioning model, allow-list, capacity backend) and the SDK
//!   configuration built from it.
//! - [`error`]: SDK errors classified into the engine's
//!   [`sched_core::provider::ProviderError`], and the retry
//!   loop with backoff and jitter for the throttled and transient ones.
//! - [`iam_policy`]: the least-privilege IAM policy for the features enabled.
//! - [`names`]: how every resource is named and tagged.
//! - [`clients`]: one SDK client per service, built once.
//! - [`ensure`]: idempotent creation of the cluster, roles, log group,
//!   launch template and Auto Scaling Groups; clean-up of what is no longer
//!   needed and tear-down of everything the prefix and the ownership tag mark.
//! - [`managed`]: ECS Managed Instances capacity providers and the anchor
//!   tasks that hold their instances.
//! - [`pricing`]: on-demand prices from the AWS Price List API.
//! - [`catalog`]: the live catalog and its CSV snapshot.
//! - [`cost`]: cost predictions from Cost Explorer, absent without permission.
//! - [`provider`]: [`provider::AwsProvider`], the `Provider`
//!   implementation.
//!
//! Nothing here is needed by `sched-core`, which stays free of the SDK.

#![deny(missing_docs)]

pub mod catalog;
pub mod clients;
pub mod config;
pub mod cost;
pub mod ensure;
pub mod error;
pub mod iam_policy;
pub mod managed;
pub mod names;
pub mod pricing;
pub mod provider;

#[cfg(test)]
mod test_mocks;

pub use config::{AwsConfig, CapacityBackend};
pub use error::AwsError;
pub use provider::{AwsProvider, ContainerSpec};
