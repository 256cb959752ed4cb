//! [`AwsProvider`]: the engine's [`Provider`] over ECS and Auto Scaling.
//!
//! - `launch` raises the desired capacity of the Auto Scaling Group of the
//!   offering's instance type and capacity type (created on first use).
//!   The next EC2 instance that group starts is bound to the engine's
//!   instance, first come first served, and tagged with its id. Launches
//!   into one group hold that group's lock while they read and set its
//!   desired capacity, so concurrent launches never lose one.
//! - With ECS Managed Instances, `launch` instead runs an anchor task
//!   through the offering's Managed Instances capacity provider (see
//!   [`crate::managed`]); the instance ECS places it on is the engine's.
//! - An instance is ready when its ECS container instance has registered.
//! - `start_task` registers (once) a task definition per container image and
//!   resource shape and starts it with StartTask on the container instance
//!   the plan chose. The ECS task's `startedBy` names the engine task, and a
//!   start first looks for a running task with it, so a retried call (even
//!   from a restarted process) never starts a second one.
//! - `terminate` terminates the EC2 instance through its group, decrementing
//!   the desired capacity (or just decrements it if no instance was bound).
//! - `events` polls: group instances (binding), scaling activities (failed
//!   launches), container instances (ready, draining: a reclaim warning),
//!   EC2 instance states (an instance gone without our terminate: reclaimed),
//!   and task states (running, stopped with the container's exit code).
//!
//! The engine's task spec carries no container image: register one with
//! [`AwsProvider::register_container`] (or set a default) before the engine
//! starts the task.
//!
//! The work is split by job, each a module of `impl AwsProvider` blocks:
//!
//! - `state`: what the provider remembers of instances and tasks;
//! - `launch`: launches through a group or a Managed Instances provider,
//!   within the configured policy;
//! - `capacity`: the groups' desired capacity, read and set under each
//!   group's lock;
//! - `tasks`: task definitions, and starting and stopping tasks;
//! - `release`: terminating instances;
//! - `bind`: binding new EC2 instances to the engine's instances, and
//!   failed launches;
//! - `events`: the polling order, readiness, reclaims and task states;
//! - `recover`: finding what an earlier process left;
//! - `cleanup`: removing what is no longer needed, forgetting it here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use sched_core::catalog::{Catalog, OfferingId, OverheadModel};
use sched_core::engine::Event;
use sched_core::problem::{InstanceId, TaskId};
use sched_core::provider::{Provider, ProviderError};
use sched_core::resources::Resources;
use tracing::debug;

use crate::call;
use crate::clients::Clients;
use crate::config::{AwsConfig, CapacityBackend};
use crate::ensure::{self, Report};
use crate::error::AwsError;
use crate::managed::ManagedRoles;

mod bind;
mod capacity;
mod cleanup;
mod events;
mod launch;
mod recover;
mod release;
mod state;
mod tasks;

use state::State;

/// What a task runs: a container image and, optionally, its command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    /// Image reference, e.g. `public.ecr.aws/docker/library/ubuntu:24.04`.
    pub image: String,
    /// Command overriding the image's; empty keeps the image's.
    pub command: Vec<String>,
}

impl ContainerSpec {
    /// A spec running `image` with `command`.
    pub fn new(image: impl Into<String>, command: &[&str]) -> Self {
        ContainerSpec {
            image: image.into(),
            command: command.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

/// The AWS backend. Build it with [`AwsProvider::connect`].
#[derive(Debug)]
pub struct AwsProvider {
    clients: Clients,
    config: AwsConfig,
    catalog: Catalog,
    execution_role_arn: String,
    task_role_arn: String,
    region: String,
    /// The roles Managed Instances providers are created with (that backend only).
    managed_roles: Option<ManagedRoles>,
    state: Mutex<State>,
    /// One lock per group or capacity provider, held by a launch while it
    /// reads and raises the desired capacity (or runs the anchor).
    group_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Launches hold it shared and clean-up exclusively, so clean-up never
    /// removes a group or capacity provider a launch is about to use.
    cleanup_gate: tokio::sync::RwLock<()>,
}

impl AwsProvider {
    /// Builds the clients, ensures the shared resources (see
    /// [`ensure::ensure`]) and returns the provider with what was created.
    pub async fn connect(config: AwsConfig, catalog: Catalog) -> Result<(Self, Report), AwsError> {
        let sdk =
            config.sdk_config().await.map_err(|e| AwsError::local("config", e.to_string()))?;
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
        let clients = Clients::from_sdk_config(&sdk, &config);
        Self::with_clients(clients, config, catalog, region).await
    }

    /// Like [`AwsProvider::connect`], over clients built elsewhere.
    pub async fn with_clients(
        clients: Clients,
        config: AwsConfig,
        catalog: Catalog,
        region: String,
    ) -> Result<(Self, Report), AwsError> {
        let report = ensure::ensure(&clients, &config).await?;
        let role_arn = |out: aws_sdk_iam::operation::get_role::GetRoleOutput| {
            out.role().map(|r| r.arn().to_owned()).unwrap_or_default()
        };
        let execution_role_arn = role_arn(call!(
            clients.retry,
            "iam:GetRole",
            clients.iam.get_role().role_name(clients.names.execution_role())
        )?);
        let task_role_arn = role_arn(call!(
            clients.retry,
            "iam:GetRole",
            clients.iam.get_role().role_name(clients.names.task_role())
        )?);
        let managed_roles = match config.capacity {
            CapacityBackend::ManagedInstances => Some(ManagedRoles::read(&clients).await?),
            _ => None,
        };
        debug!(
            capacity = ?config.capacity,
            instance_overhead = ?config.capacity.instance_overhead(),
            "capacity backend"
        );
        let provider = AwsProvider::assemble(
            clients,
            config,
            catalog,
            region,
            (execution_role_arn, task_role_arn),
            managed_roles,
        );
        Ok((provider, report))
    }

    /// The provider over resources known to exist (no ensure, no look-ups):
    /// `roles` are the task execution and task role ARNs.
    pub(crate) fn assemble(
        clients: Clients,
        config: AwsConfig,
        catalog: Catalog,
        region: String,
        roles: (String, String),
        managed_roles: Option<ManagedRoles>,
    ) -> Self {
        AwsProvider {
            clients,
            config,
            catalog,
            execution_role_arn: roles.0,
            task_role_arn: roles.1,
            region,
            managed_roles,
            state: Mutex::new(State::default()),
            group_locks: Mutex::new(HashMap::new()),
            cleanup_gate: tokio::sync::RwLock::new(()),
        }
    }

    /// What the capacity backend keeps on every instance (the anchor task
    /// of Managed Instances; nothing for groups): add it to the policy's
    /// overhead, `policy.overhead = policy.overhead.plus(provider.instance_overhead())`,
    /// so the engine never places tasks into it. See
    /// [`CapacityBackend::instance_overhead`].
    pub fn instance_overhead(&self) -> OverheadModel {
        self.config.capacity.instance_overhead()
    }

    /// The SDK clients (for tests and operator commands).
    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    /// Says what `task` runs; call before the engine starts it.
    pub fn register_container(&self, task: TaskId, spec: ContainerSpec) {
        self.state().specs.insert(task, spec);
    }

    /// What tasks without a registered spec run.
    pub fn set_default_container(&self, spec: ContainerSpec) {
        self.state().default_spec = Some(spec);
    }

    /// The ECS task ARN of an engine task, once started.
    pub fn task_arn(&self, task: TaskId) -> Option<String> {
        self.state().tasks.get(&task).map(|t| t.arn.clone())
    }

    /// The EC2 instance id bound to an engine instance, once bound.
    pub fn ec2_instance_id(&self, instance: InstanceId) -> Option<String> {
        self.state().instances.get(&instance).and_then(|i| i.ec2_id.clone())
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // No lock is held across an await, and every update is a single
        // insert or field write, so a poisoned lock holds a usable state.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl Provider for AwsProvider {
    async fn launch(
        &self,
        instance: InstanceId,
        offering: OfferingId,
    ) -> Result<(), ProviderError> {
        self.launch_instance(instance, offering).await
    }

    async fn start_task(
        &self,
        task: TaskId,
        instance: InstanceId,
        allocated: Resources,
    ) -> Result<(), ProviderError> {
        self.start(task, instance, allocated).await
    }

    async fn stop_task(&self, task: TaskId) -> Result<(), ProviderError> {
        self.stop(task).await
    }

    async fn terminate(&self, instance: InstanceId) -> Result<(), ProviderError> {
        self.release(instance).await
    }

    async fn events(&self) -> Result<Vec<Event>, ProviderError> {
        self.poll().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_spec_keeps_its_command() {
        let spec = ContainerSpec::new("busybox", &["sh", "-c", "exit 3"]);
        assert_eq!(spec.command, ["sh", "-c", "exit 3"]);
    }
}
