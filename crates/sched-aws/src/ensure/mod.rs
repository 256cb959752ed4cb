//! Idempotent creation of everything the backend needs, and tear-down.
//!
//! [`ensure`] looks each resource up by name before creating it, so a
//! second start finds what the first created and creates nothing twice;
//! its [`Report`] says which were created and which found. Auto Scaling
//! Groups (and their capacity providers) are per instance type and
//! capacity type, so [`ensure_group`] creates them on the first launch of
//! that offering. [`teardown`] removes only what carries both the prefix
//! and the ownership tag, and can merely list it (`dry_run`); [`cleanup`]
//! removes, under the same rule, only what is no longer needed (idle
//! groups, unused capacity providers and task definitions).
//!
//! One module per kind of resource: `cluster`, `roles` (IAM roles, their
//! policies and the instance profile), `logs`, `templates` (launch
//! templates of the ECS-optimized AMI), `subnets`, `groups` (Auto Scaling
//! Groups and their capacity providers); then `teardown`, `cleanup`, and
//! `owned`, the look-ups of what the prefix owns that both share.

use sched_core::catalog::Architecture;
use tracing::{debug, info};

use crate::clients::Clients;
use crate::config::{AwsConfig, CapacityBackend};
use crate::error::AwsError;

mod cleanup;
mod cluster;
mod groups;
mod logs;
mod owned;
mod roles;
mod subnets;
mod teardown;
mod templates;

pub use cleanup::cleanup;
pub use groups::ensure_group;
pub use roles::{MANAGED_ROLE_POLICIES, PASS_INSTANCE_ROLE_POLICY};
pub(crate) use subnets::subnets;
pub use teardown::teardown;
pub use templates::{ami_parameter, ensure_launch_template};

/// What [`ensure`] or [`teardown`] did, by resource (`kind name`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Created now (or, for a tear-down, removed; in a dry run, would be).
    pub changed: Vec<String>,
    /// Found as they were (for a tear-down: prefixed but not tagged, so kept).
    pub unchanged: Vec<String>,
}

impl Report {
    pub(crate) fn changed(&mut self, kind: &str, name: &str) {
        info!(kind, name, "changed");
        self.changed.push(format!("{kind} {name}"));
    }

    pub(crate) fn unchanged(&mut self, kind: &str, name: &str) {
        debug!(kind, name, "unchanged");
        self.unchanged.push(format!("{kind} {name}"));
    }
}

/// Creates what is missing of the cluster, roles, instance profile, log
/// group and (for ASG capacity) the x86_64 launch template.
pub async fn ensure(clients: &Clients, config: &AwsConfig) -> Result<Report, AwsError> {
    let mut report = Report::default();
    cluster::ensure_cluster(clients, &mut report).await?;
    roles::ensure_roles(clients, config, &mut report).await?;
    logs::ensure_log_group(clients, &mut report).await?;
    if config.capacity == CapacityBackend::Asg {
        ensure_launch_template(clients, Architecture::X86_64, &mut report).await?;
    }
    Ok(report)
}
