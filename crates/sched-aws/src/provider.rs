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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use aws_sdk_ecs::types as ecs;
use sched_core::catalog::{CapacityType, Catalog, OfferingId};
use sched_core::engine::{Event, LaunchFailure};
use sched_core::problem::{InstanceId, TaskId};
use sched_core::provider::{Provider, ProviderError};
use sched_core::resources::Resources;
use tracing::{debug, info, warn};

use crate::call;
use crate::clients::Clients;
use crate::config::{AwsConfig, CapacityBackend};
use crate::ensure::{self, Report};
use crate::error::{classify, AwsError, ErrorClass};
use crate::managed::{self, ManagedRoles, OfferingClass};
use crate::names::{INSTANCE_TAG, OWNER_TAG};

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

#[derive(Debug, Clone)]
struct Instance {
    /// The Auto Scaling Group, or the Managed Instances capacity provider.
    group: String,
    capacity: CapacityType,
    /// Managed Instances: the anchor task holding the instance.
    anchor: Option<String>,
    ec2_id: Option<String>,
    container_instance: Option<String>,
    draining_reported: bool,
    /// We asked for its end; its disappearance is no reclaim.
    released: bool,
    /// Reclaimed or failed: nothing more is reported about it.
    gone: bool,
}

impl Instance {
    fn new(group: String, capacity: CapacityType, anchor: Option<String>) -> Self {
        Instance {
            group,
            capacity,
            anchor,
            ec2_id: None,
            container_instance: None,
            draining_reported: false,
            released: false,
            gone: false,
        }
    }

    fn managed(&self) -> bool {
        self.anchor.is_some()
    }
}

#[derive(Debug, Clone)]
struct Task {
    arn: String,
    instance: InstanceId,
    started_reported: bool,
    /// We stopped it; its end is not reported as an exit.
    stopping: bool,
    done: bool,
}

#[derive(Debug, Default)]
struct State {
    specs: HashMap<TaskId, ContainerSpec>,
    default_spec: Option<ContainerSpec>,
    /// Task definition ARN by family.
    families: HashMap<String, String>,
    /// The anchor task definition (Managed Instances), once registered.
    anchor_definition: Option<String>,
    groups: HashSet<String>,
    instances: BTreeMap<InstanceId, Instance>,
    /// EC2 instance ids bound to an engine instance, ever.
    bound: HashSet<String>,
    tasks: HashMap<TaskId, Task>,
    /// Scaling activities already turned into events.
    seen_activities: HashSet<String>,
    queued: Vec<Event>,
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
        }
    }

    /// Removes what this prefix owns and no longer needs (see
    /// [`ensure::cleanup`]), keeping the groups and capacity providers of
    /// the instances this provider still holds. With `dry_run`, only lists it.
    pub async fn cleanup(&self, dry_run: bool) -> Result<Report, AwsError> {
        let in_use: BTreeSet<String> = self
            .state()
            .instances
            .values()
            .filter(|i| !i.released && !i.gone)
            .map(|i| i.group.clone())
            .collect();
        let report = ensure::cleanup(&self.clients, &in_use, dry_run).await?;
        if !dry_run {
            // What was removed must be created again on its next use.
            let mut state = self.state();
            for line in &report.changed {
                if let Some(arn) = line.strip_prefix("task-definition ") {
                    state.families.retain(|_, a| a != arn);
                    if state.anchor_definition.as_deref() == Some(arn) {
                        state.anchor_definition = None;
                    }
                } else if let Some(name) = line
                    .strip_prefix("capacity-provider ")
                    .or_else(|| line.strip_prefix("auto-scaling-group "))
                {
                    state.groups.remove(name);
                }
            }
        }
        Ok(report)
    }

    fn group_lock(&self, group: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.group_locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(group.to_owned()).or_default().clone()
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

    /// After a restart: finds the instances and running tasks an earlier
    /// process of this configuration left (group instances by the ownership
    /// and instance tags, Managed Instances by their anchor tasks, tasks by
    /// their `startedBy`), so that they can be stopped, terminated, and not
    /// started twice. Returns how many instances and tasks it found. Their
    /// earlier events are not reported again.
    pub async fn recover(&self) -> Result<(usize, usize), AwsError> {
        let mut found = self.recover_group_instances().await?;
        let running = self.running_tasks().await?;
        found += self.recover_anchors(&running).await?;
        // Their readiness was reported by the earlier process.
        self.container_instances(&mut Vec::new()).await?;

        let names = &self.clients.names;
        let mut tasks = 0;
        let mut state = self.state();
        for ecs_task in &running {
            let Some(id) = ecs_task.started_by().and_then(|s| names.started_task(s)) else {
                continue;
            };
            let Some(instance) = state
                .instances
                .iter()
                .find(|(_, i)| {
                    i.container_instance.is_some()
                        && i.container_instance.as_deref() == ecs_task.container_instance_arn()
                })
                .map(|(id, _)| *id)
            else {
                continue;
            };
            state.tasks.insert(
                TaskId(id),
                Task {
                    arn: ecs_task.task_arn().unwrap_or_default().to_owned(),
                    instance,
                    // Reported by the earlier process once it ran.
                    started_reported: matches!(
                        ecs_task.last_status(),
                        Some("RUNNING" | "DEACTIVATING" | "STOPPING" | "DEPROVISIONING")
                    ),
                    stopping: false,
                    done: false,
                },
            );
            tasks += 1;
        }
        info!(instances = found, tasks, "recovered");
        Ok((found, tasks))
    }

    /// Finds the Auto Scaling Group instances carrying our instance tag.
    async fn recover_group_instances(&self) -> Result<usize, AwsError> {
        use aws_sdk_ec2::types::Filter;
        let names = &self.clients.names;
        let described = call!(
            self.clients.retry,
            "ec2:DescribeInstances",
            self.clients
                .ec2
                .describe_instances()
                .filters(
                    Filter::builder()
                        .name(format!("tag:{OWNER_TAG}"))
                        .values(names.prefix())
                        .build()
                )
                .filters(Filter::builder().name("tag-key").values(INSTANCE_TAG).build())
                .filters(
                    Filter::builder()
                        .name("instance-state-name")
                        .values("pending")
                        .values("running")
                        .build()
                )
        )?;
        let mut found = 0;
        for ec2 in described.reservations().iter().flat_map(|r| r.instances()) {
            let tag = |key: &str| {
                ec2.tags().iter().find(|t| t.key() == Some(key)).and_then(|t| t.value())
            };
            let (Some(id), Some(group), Some(ec2_id)) = (
                tag(INSTANCE_TAG).and_then(|v| v.parse::<u64>().ok()),
                tag("aws:autoscaling:groupName"),
                ec2.instance_id(),
            ) else {
                continue;
            };
            let Some(offering) = self.catalog.offerings().iter().find(|o| {
                names.group(&self.catalog.offering_type(o.id).name, o.capacity_type) == group
            }) else {
                warn!(ec2_id, group, "recovered instance of a group outside the catalog");
                continue;
            };
            let mut state = self.state();
            state.bound.insert(ec2_id.to_owned());
            state.groups.insert(group.to_owned());
            state.instances.insert(
                InstanceId(id),
                Instance::new(group.to_owned(), offering.capacity_type, None),
            );
            if let Some(inst) = state.instances.get_mut(&InstanceId(id)) {
                inst.ec2_id = Some(ec2_id.to_owned());
            }
            found += 1;
        }
        Ok(found)
    }

    /// The cluster's running tasks, described.
    async fn running_tasks(&self) -> Result<Vec<ecs::Task>, AwsError> {
        let cluster = self.clients.names.cluster();
        let mut arns = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = call!(
                self.clients.retry,
                "ecs:ListTasks",
                self.clients
                    .ecs
                    .list_tasks()
                    .cluster(&cluster)
                    .desired_status(ecs::DesiredStatus::Running)
                    .set_next_token(next.clone())
            )?;
            arns.extend(page.task_arns().iter().cloned());
            next = page.next_token().map(str::to_owned);
            if next.is_none() {
                break;
            }
        }
        let mut tasks = Vec::new();
        for chunk in arns.chunks(100) {
            let described = call!(
                self.clients.retry,
                "ecs:DescribeTasks",
                self.clients.ecs.describe_tasks().cluster(&cluster).set_tasks(Some(chunk.to_vec()))
            )?;
            tasks.extend(described.tasks().iter().cloned());
        }
        Ok(tasks)
    }

    /// Finds the Managed Instances instances of an earlier process by their
    /// running anchor tasks.
    async fn recover_anchors(&self, running: &[ecs::Task]) -> Result<usize, AwsError> {
        let names = &self.clients.names;
        let anchors: Vec<(InstanceId, &ecs::Task)> = running
            .iter()
            .filter_map(|t| {
                let id = t.started_by().and_then(|s| names.anchor_instance(s))?;
                Some((InstanceId(id), t))
            })
            .collect();
        let placed: Vec<String> = anchors
            .iter()
            .filter_map(|(_, t)| t.container_instance_arn())
            .map(str::to_owned)
            .collect();
        let ec2_ids = self.ec2_ids_of(&placed).await?;
        let mut state = self.state();
        for (id, anchor) in &anchors {
            let provider = anchor.capacity_provider_name().unwrap_or_default().to_owned();
            let mut inst = Instance::new(provider.clone(), managed::capacity_of(&provider), None);
            inst.anchor = anchor.task_arn().map(str::to_owned);
            if let Some(ci) = anchor.container_instance_arn() {
                if let Some(ec2_id) = ec2_ids.get(ci) {
                    state.bound.insert(ec2_id.clone());
                    inst.ec2_id = Some(ec2_id.clone());
                    inst.container_instance = Some(ci.to_owned());
                }
            }
            state.groups.insert(provider);
            state.instances.insert(*id, inst);
        }
        Ok(anchors.len())
    }

    /// The EC2 instance id of each of `container_instances` (ARNs).
    async fn ec2_ids_of(
        &self,
        container_instances: &[String],
    ) -> Result<HashMap<String, String>, AwsError> {
        let mut out = HashMap::new();
        for chunk in container_instances.chunks(100) {
            let described = call!(
                self.clients.retry,
                "ecs:DescribeContainerInstances",
                self.clients
                    .ecs
                    .describe_container_instances()
                    .cluster(self.clients.names.cluster())
                    .set_container_instances(Some(chunk.to_vec()))
            )?;
            for ci in described.container_instances() {
                if let (Some(arn), Some(ec2_id)) =
                    (ci.container_instance_arn(), ci.ec2_instance_id())
                {
                    out.insert(arn.to_owned(), ec2_id.to_owned());
                }
            }
        }
        Ok(out)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // No lock is held across an await, and every update is a single
        // insert or field write, so a poisoned lock holds a usable state.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn ensure_group(&self, offering: OfferingId) -> Result<String, AwsError> {
        let ty = self.catalog.offering_type(offering);
        let capacity = self.catalog.offering(offering).capacity_type;
        let name = self.clients.names.group(&ty.name, capacity);
        if self.state().groups.contains(&name) {
            return Ok(name);
        }
        let mut report = Report::default();
        ensure::ensure_group(&self.clients, &self.config, &ty.name, ty.arch, capacity, &mut report)
            .await?;
        self.state().groups.insert(name.clone());
        Ok(name)
    }

    /// The Managed Instances capacity provider of `offering`, created on
    /// first use.
    async fn ensure_managed_provider(&self, offering: OfferingId) -> Result<String, AwsError> {
        let ty = self.catalog.offering_type(offering);
        let capacity = self.catalog.offering(offering).capacity_type;
        let name = self.clients.names.managed_provider(&ty.name, capacity);
        if self.state().groups.contains(&name) {
            return Ok(name);
        }
        let roles = self.managed_roles.as_ref().ok_or_else(|| {
            AwsError::local("ecs:CreateCapacityProvider", "Managed Instances roles were not read")
        })?;
        let class = OfferingClass {
            type_name: ty.name.clone(),
            vcpus: ty.vcpus,
            memory_mib: ty.memory_mib,
            capacity,
        };
        let mut report = Report::default();
        managed::ensure_provider(&self.clients, &self.config, roles, &class, &mut report).await?;
        self.state().groups.insert(name.clone());
        Ok(name)
    }

    /// The anchor task definition, registered once.
    async fn anchor_definition(&self) -> Result<String, AwsError> {
        if let Some(arn) = self.state().anchor_definition.clone() {
            return Ok(arn);
        }
        let arn = managed::ensure_anchor_definition(
            &self.clients,
            &self.execution_role_arn,
            &mut Report::default(),
        )
        .await?;
        self.state().anchor_definition = Some(arn.clone());
        Ok(arn)
    }

    /// Launch through an Auto Scaling Group: one more desired instance,
    /// read and set under the group's lock.
    async fn launch_in_group(
        &self,
        instance: InstanceId,
        offering: OfferingId,
    ) -> Result<(), ProviderError> {
        let failed = |e: AwsError| e.to_provider_error(Some(offering));
        let capacity = self.catalog.offering(offering).capacity_type;
        let group = self.ensure_group(offering).await.map_err(failed)?;
        let lock = self.group_lock(&group);
        let _held = lock.lock().await;
        if self.state().instances.contains_key(&instance) {
            return Ok(()); // A concurrent retry of the same launch got here first.
        }
        let (desired, max) = self.group_desired(&group).await.map_err(failed)?;
        if desired + 1 > max {
            return Err(ProviderError::QuotaExceeded {
                message: format!("group {group} is at its maximum size {max}"),
            });
        }
        self.set_desired(&group, desired + 1).await.map_err(failed)?;
        info!(%instance, %group, desired = desired + 1, "launch");
        self.state().instances.insert(instance, Instance::new(group, capacity, None));
        Ok(())
    }

    /// Launch through ECS Managed Instances: an anchor task on the
    /// offering's capacity provider.
    async fn launch_managed(
        &self,
        instance: InstanceId,
        offering: OfferingId,
    ) -> Result<(), ProviderError> {
        let failed = |e: AwsError| e.to_provider_error(Some(offering));
        let capacity = self.catalog.offering(offering).capacity_type;
        let provider = self.ensure_managed_provider(offering).await.map_err(failed)?;
        let definition = self.anchor_definition().await.map_err(failed)?;
        let lock = self.group_lock(&provider);
        let _held = lock.lock().await;
        if self.state().instances.contains_key(&instance) {
            return Ok(());
        }
        let anchor = managed::run_anchor(&self.clients, &provider, &definition, instance.0)
            .await
            .map_err(failed)?;
        info!(%instance, %provider, %anchor, "launch");
        self.state().instances.insert(instance, Instance::new(provider, capacity, Some(anchor)));
        Ok(())
    }

    /// Releases a Managed Instances instance: stops our tasks on it and its
    /// anchor, and deregisters its container instance, after which ECS ends
    /// the EC2 instance. Tasks and anchors already gone are no error.
    async fn release_managed(&self, instance: InstanceId, inst: &Instance) -> Result<(), AwsError> {
        let cluster = self.clients.names.cluster();
        let mut arns: Vec<String> = self
            .state()
            .tasks
            .values()
            .filter(|t| t.instance == instance && !t.done)
            .map(|t| t.arn.clone())
            .collect();
        arns.extend(inst.anchor.clone());
        for arn in arns {
            let stopped = call!(
                self.clients.retry,
                "ecs:StopTask",
                self.clients
                    .ecs
                    .stop_task()
                    .cluster(&cluster)
                    .task(&arn)
                    .reason("instance released by the scheduler")
            );
            match stopped {
                Ok(_) => {}
                Err(e) if e.class == ErrorClass::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        if let (Some(ci), false) = (&inst.container_instance, inst.gone) {
            let deregistered = call!(
                self.clients.retry,
                "ecs:DeregisterContainerInstance",
                self.clients
                    .ecs
                    .deregister_container_instance()
                    .cluster(&cluster)
                    .container_instance(ci)
                    .force(true)
            );
            match deregistered {
                Ok(_) => {}
                Err(e) if e.class == ErrorClass::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Gives back one desired instance of `group` (a launch that failed or
    /// was released before it started), under the group's lock.
    async fn decrement(&self, group: &str) -> Result<(), AwsError> {
        let lock = self.group_lock(group);
        let _held = lock.lock().await;
        let (desired, _) = self.group_desired(group).await?;
        self.set_desired(group, desired - 1).await
    }

    async fn group_desired(&self, group: &str) -> Result<(i32, i32), AwsError> {
        let out = call!(
            self.clients.retry,
            "autoscaling:DescribeAutoScalingGroups",
            self.clients.autoscaling.describe_auto_scaling_groups().auto_scaling_group_names(group)
        )?;
        let found = out.auto_scaling_groups().first().ok_or_else(|| AwsError {
            operation: "autoscaling:DescribeAutoScalingGroups",
            code: "NotFound".into(),
            message: format!("group {group} not found"),
            class: ErrorClass::NotFound,
        })?;
        Ok((found.desired_capacity().unwrap_or(0), found.max_size().unwrap_or(0)))
    }

    async fn set_desired(&self, group: &str, desired: i32) -> Result<(), AwsError> {
        call!(
            self.clients.retry,
            "autoscaling:SetDesiredCapacity",
            self.clients
                .autoscaling
                .set_desired_capacity()
                .auto_scaling_group_name(group)
                .desired_capacity(desired.max(0))
                .honor_cooldown(false)
        )?;
        Ok(())
    }

    /// The task definition of `spec`'s image in `shape`, registered once.
    async fn task_definition(
        &self,
        spec: &ContainerSpec,
        shape: Resources,
    ) -> Result<String, AwsError> {
        let managed = self.config.capacity == CapacityBackend::ManagedInstances;
        let family = self.clients.names.task_family(&spec.image, shape, managed);
        if let Some(arn) = self.state().families.get(&family) {
            return Ok(arn.clone());
        }
        // Found from an earlier run?
        let found = call!(
            self.clients.retry,
            "ecs:DescribeTaskDefinition",
            self.clients.ecs.describe_task_definition().task_definition(&family)
        );
        let existing = match found {
            Ok(out) => out
                .task_definition()
                .filter(|t| t.status() == Some(&ecs::TaskDefinitionStatus::Active))
                .and_then(|t| t.task_definition_arn().map(str::to_owned)),
            Err(e) if e.class == ErrorClass::Other || e.class == ErrorClass::NotFound => None,
            Err(e) => return Err(e),
        };
        let arn = match existing {
            Some(arn) => arn,
            None => {
                // ECS counts CPU in 1024ths of a vCPU.
                let cpu_units = (shape.millicpus * 1024).div_ceil(1000).max(128);
                let mut container = ecs::ContainerDefinition::builder()
                    .name("main")
                    .image(&spec.image)
                    .essential(true)
                    // The one container gets all of the task's share.
                    .cpu(cpu_units as i32)
                    .memory(shape.memory_mib as i32)
                    .log_configuration(
                        ecs::LogConfiguration::builder()
                            .log_driver(ecs::LogDriver::Awslogs)
                            .options("awslogs-group", self.clients.names.log_group())
                            .options("awslogs-region", &self.region)
                            .options("awslogs-stream-prefix", "task")
                            .build()
                            .map_err(|e| {
                                AwsError::local("ecs:RegisterTaskDefinition", e.to_string())
                            })?,
                    );
                if shape.gpus > 0 {
                    container = container.resource_requirements(
                        ecs::ResourceRequirement::builder()
                            .r#type(ecs::ResourceType::Gpu)
                            .value(shape.gpus.to_string())
                            .build()
                            .map_err(|e| {
                                AwsError::local("ecs:RegisterTaskDefinition", e.to_string())
                            })?,
                    );
                }
                // Managed Instances needs its compatibility and a network
                // mode; host keeps StartTask free of network configuration.
                let (compatibility, network) = if managed {
                    (ecs::Compatibility::ManagedInstances, Some(ecs::NetworkMode::Host))
                } else {
                    (ecs::Compatibility::Ec2, None)
                };
                let out = call!(
                    self.clients.retry,
                    "ecs:RegisterTaskDefinition",
                    self.clients
                        .ecs
                        .register_task_definition()
                        .family(&family)
                        .requires_compatibilities(compatibility)
                        .set_network_mode(network.clone())
                        .cpu(cpu_units.to_string())
                        .memory(shape.memory_mib.to_string())
                        .execution_role_arn(&self.execution_role_arn)
                        .task_role_arn(&self.task_role_arn)
                        .container_definitions(container.build())
                        .tags(
                            ecs::Tag::builder()
                                .key(OWNER_TAG)
                                .value(self.clients.names.prefix())
                                .build()
                        )
                )?;
                info!(%family, "registered task definition");
                out.task_definition()
                    .and_then(|t| t.task_definition_arn())
                    .unwrap_or_default()
                    .to_owned()
            }
        };
        self.state().families.insert(family, arn.clone());
        Ok(arn)
    }

    /// Binds new EC2 instances of each group to the engine's pending
    /// instances, oldest first, and reports failed launches.
    async fn bind_instances(&self, out: &mut Vec<Event>) -> Result<(), AwsError> {
        let pending: BTreeMap<String, Vec<InstanceId>> = {
            let state = self.state();
            let mut by_group: BTreeMap<String, Vec<InstanceId>> = BTreeMap::new();
            for (id, inst) in &state.instances {
                if inst.ec2_id.is_none() && !inst.released && !inst.gone && !inst.managed() {
                    by_group.entry(inst.group.clone()).or_default().push(*id);
                }
            }
            by_group
        };
        for (group, waiting) in pending {
            let described = call!(
                self.clients.retry,
                "autoscaling:DescribeAutoScalingGroups",
                self.clients
                    .autoscaling
                    .describe_auto_scaling_groups()
                    .auto_scaling_group_names(&group)
            )?;
            let fresh: Vec<String> = {
                let state = self.state();
                described
                    .auto_scaling_groups()
                    .iter()
                    .flat_map(|g| g.instances())
                    .filter_map(|i| i.instance_id())
                    .filter(|id| !state.bound.contains(*id))
                    .map(str::to_owned)
                    .collect()
            };
            let mut waiting = waiting.into_iter();
            for ec2_id in fresh {
                let Some(instance) = waiting.next() else { break };
                call!(
                    self.clients.retry,
                    "ec2:CreateTags",
                    self.clients.ec2.create_tags().resources(&ec2_id).tags(
                        aws_sdk_ec2::types::Tag::builder()
                            .key(INSTANCE_TAG)
                            .value(instance.0.to_string())
                            .build()
                    )
                )?;
                info!(%instance, %ec2_id, %group, "instance bound");
                let mut state = self.state();
                state.bound.insert(ec2_id.clone());
                if let Some(inst) = state.instances.get_mut(&instance) {
                    inst.ec2_id = Some(ec2_id);
                }
            }

            // Launches the group could not make: one failed activity fails
            // the oldest instance still waiting.
            let still: Vec<InstanceId> = waiting.collect();
            if still.is_empty() {
                continue;
            }
            let activities = call!(
                self.clients.retry,
                "autoscaling:DescribeScalingActivities",
                self.clients
                    .autoscaling
                    .describe_scaling_activities()
                    .auto_scaling_group_name(&group)
            )?;
            let mut still = still.into_iter();
            for activity in activities.activities() {
                let failed = activity.status_code()
                    == Some(&aws_sdk_autoscaling::types::ScalingActivityStatusCode::Failed);
                let id = activity.activity_id().unwrap_or_default().to_owned();
                if !failed || self.state().seen_activities.contains(&id) {
                    continue;
                }
                self.state().seen_activities.insert(id);
                let Some(instance) = still.next() else { break };
                let message = activity.status_message().unwrap_or_default();
                let reason = match classify("", message) {
                    ErrorClass::Capacity => LaunchFailure::Capacity,
                    _ if message.contains("InsufficientInstanceCapacity") => {
                        LaunchFailure::Capacity
                    }
                    _ => LaunchFailure::Other,
                };
                warn!(%instance, %group, message, "launch failed");
                self.decrement(&group).await?;
                if let Some(inst) = self.state().instances.get_mut(&instance) {
                    inst.gone = true;
                }
                out.push(Event::LaunchFailed { instance, reason });
            }
        }
        Ok(())
    }

    /// Binds Managed Instances instances to the container instance their
    /// anchor was placed on, and reports anchors that stopped unplaced as
    /// failed launches.
    async fn bind_managed(&self, out: &mut Vec<Event>) -> Result<(), AwsError> {
        let waiting: Vec<(InstanceId, String)> = self
            .state()
            .instances
            .iter()
            .filter(|(_, i)| i.ec2_id.is_none() && !i.released && !i.gone)
            .filter_map(|(id, i)| i.anchor.clone().map(|a| (*id, a)))
            .collect();
        let cluster = self.clients.names.cluster();
        for chunk in waiting.chunks(100) {
            let described = call!(
                self.clients.retry,
                "ecs:DescribeTasks",
                self.clients
                    .ecs
                    .describe_tasks()
                    .cluster(&cluster)
                    .set_tasks(Some(chunk.iter().map(|(_, a)| a.clone()).collect()))
            )?;
            let mut placed = Vec::new();
            for anchor in described.tasks() {
                let Some(&(id, _)) =
                    chunk.iter().find(|(_, a)| Some(a.as_str()) == anchor.task_arn())
                else {
                    continue;
                };
                if let Some(ci) = anchor.container_instance_arn() {
                    placed.push((id, ci.to_owned()));
                } else if anchor.last_status() == Some("STOPPED") {
                    let message = format!(
                        "{} {}",
                        anchor.stop_code().map(|c| c.as_str()).unwrap_or_default(),
                        anchor.stopped_reason().unwrap_or_default()
                    );
                    let reason = match classify("", &message) {
                        ErrorClass::Capacity => LaunchFailure::Capacity,
                        _ => LaunchFailure::Other,
                    };
                    warn!(instance = %id, message = message.trim(), "launch failed");
                    if let Some(inst) = self.state().instances.get_mut(&id) {
                        inst.gone = true;
                    }
                    out.push(Event::LaunchFailed { instance: id, reason });
                }
            }
            let ec2_ids = self
                .ec2_ids_of(&placed.iter().map(|(_, ci)| ci.clone()).collect::<Vec<_>>())
                .await?;
            let mut state = self.state();
            for (id, ci) in placed {
                let Some(ec2_id) = ec2_ids.get(&ci) else { continue };
                info!(instance = %id, %ec2_id, "instance bound");
                state.bound.insert(ec2_id.clone());
                if let Some(inst) = state.instances.get_mut(&id) {
                    inst.ec2_id = Some(ec2_id.clone());
                }
            }
        }
        Ok(())
    }

    /// Reports instances whose container instance registered (ready) or
    /// started draining (a spot interruption notice, with
    /// `ECS_ENABLE_SPOT_INSTANCE_DRAINING`).
    async fn container_instances(&self, out: &mut Vec<Event>) -> Result<(), AwsError> {
        let cluster = self.clients.names.cluster();
        let mut arns = Vec::new();
        let mut next = None;
        loop {
            let page = call!(
                self.clients.retry,
                "ecs:ListContainerInstances",
                self.clients
                    .ecs
                    .list_container_instances()
                    .cluster(&cluster)
                    .set_next_token(next.clone())
            )?;
            arns.extend(page.container_instance_arns().iter().cloned());
            next = page.next_token().map(str::to_owned);
            if next.is_none() {
                break;
            }
        }
        for chunk in arns.chunks(100) {
            let described = call!(
                self.clients.retry,
                "ecs:DescribeContainerInstances",
                self.clients
                    .ecs
                    .describe_container_instances()
                    .cluster(&cluster)
                    .set_container_instances(Some(chunk.to_vec()))
            )?;
            let mut state = self.state();
            for ci in described.container_instances() {
                let (Some(ec2_id), Some(arn)) = (ci.ec2_instance_id(), ci.container_instance_arn())
                else {
                    continue;
                };
                let Some((&id, inst)) = state
                    .instances
                    .iter_mut()
                    .find(|(_, i)| i.ec2_id.as_deref() == Some(ec2_id) && !i.released && !i.gone)
                else {
                    continue;
                };
                if inst.container_instance.is_none() && ci.status() == Some("ACTIVE") {
                    inst.container_instance = Some(arn.to_owned());
                    info!(instance = %id, %ec2_id, "instance ready");
                    out.push(Event::InstanceReady { instance: id });
                } else if ci.status() == Some("DRAINING") && !inst.draining_reported {
                    inst.draining_reported = true;
                    out.push(Event::InstanceReclaimWarning { instance: id });
                }
            }
        }
        Ok(())
    }

    /// Reports bound instances that EC2 ended without our terminate.
    async fn lost_instances(&self, out: &mut Vec<Event>) -> Result<(), AwsError> {
        let watched: Vec<(InstanceId, String)> = self
            .state()
            .instances
            .iter()
            .filter(|(_, i)| !i.released && !i.gone)
            .filter_map(|(id, i)| i.ec2_id.clone().map(|e| (*id, e)))
            .collect();
        if watched.is_empty() {
            return Ok(());
        }
        let described = call!(
            self.clients.retry,
            "ec2:DescribeInstances",
            self.clients
                .ec2
                .describe_instances()
                .set_instance_ids(Some(watched.iter().map(|(_, e)| e.clone()).collect()))
        )?;
        let mut alive = HashSet::new();
        for instance in described.reservations().iter().flat_map(|r| r.instances()) {
            let state = instance.state().and_then(|s| s.name()).map(|n| n.as_str().to_owned());
            let ended = matches!(
                state.as_deref(),
                Some("shutting-down" | "terminated" | "stopping" | "stopped")
            );
            if !ended {
                alive.extend(instance.instance_id().map(str::to_owned));
            }
        }
        for (id, ec2_id) in watched {
            if alive.contains(&ec2_id) {
                continue;
            }
            let mut state = self.state();
            let capacity = state.instances.get(&id).map(|i| i.capacity);
            if let Some(inst) = state.instances.get_mut(&id) {
                inst.gone = true;
            }
            for task in state.tasks.values_mut().filter(|t| t.instance == id) {
                task.done = true;
            }
            warn!(instance = %id, %ec2_id, ?capacity, "instance reclaimed");
            out.push(Event::InstanceReclaimed { instance: id });
        }
        Ok(())
    }

    /// Reports tasks that started running or stopped.
    async fn task_states(&self, out: &mut Vec<Event>) -> Result<(), AwsError> {
        let watched: Vec<(TaskId, String)> = self
            .state()
            .tasks
            .iter()
            .filter(|(_, t)| !t.done)
            .map(|(id, t)| (*id, t.arn.clone()))
            .collect();
        let by_arn: HashMap<String, TaskId> =
            watched.iter().map(|(id, arn)| (arn.clone(), *id)).collect();
        let cluster = self.clients.names.cluster();
        for chunk in watched.chunks(100) {
            let described = call!(
                self.clients.retry,
                "ecs:DescribeTasks",
                self.clients
                    .ecs
                    .describe_tasks()
                    .cluster(&cluster)
                    .set_tasks(Some(chunk.iter().map(|(_, arn)| arn.clone()).collect()))
            )?;
            let mut state = self.state();
            for ecs_task in described.tasks() {
                let Some(&id) = ecs_task.task_arn().and_then(|arn| by_arn.get(arn)) else {
                    continue;
                };
                let Some(task) = state.tasks.get_mut(&id) else { continue };
                let status = ecs_task.last_status().unwrap_or_default();
                if task.stopping {
                    task.done |= status == "STOPPED";
                    continue;
                }
                let running_or_past = matches!(
                    status,
                    "RUNNING" | "DEACTIVATING" | "STOPPING" | "DEPROVISIONING" | "STOPPED"
                );
                let started = ecs_task.started_at().is_some() || running_or_past;
                if started && !task.started_reported && status != "STOPPED" {
                    task.started_reported = true;
                    out.push(Event::TaskStarted { task: id });
                }
                if status == "STOPPED" {
                    // A container that never ran has no exit code: -1, so
                    // the engine counts a failed attempt.
                    let exit_code =
                        ecs_task.containers().iter().find_map(|c| c.exit_code()).unwrap_or(-1);
                    if !task.started_reported {
                        task.started_reported = true;
                        out.push(Event::TaskStarted { task: id });
                    }
                    task.done = true;
                    debug!(task = %id, exit_code, "task exited");
                    out.push(Event::TaskExited { task: id, exit_code });
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Provider for AwsProvider {
    async fn launch(
        &self,
        instance: InstanceId,
        offering: OfferingId,
    ) -> Result<(), ProviderError> {
        if offering.0 as usize >= self.catalog.offerings().len() {
            return Err(ProviderError::NotFound { what: offering.to_string() });
        }
        if self.state().instances.contains_key(&instance) {
            return Ok(()); // A retried launch of the same instance.
        }
        let ty = self.catalog.offering_type(offering);
        let capacity = self.catalog.offering(offering).capacity_type;
        let allowed = self.config.provisioning.allows(capacity)
            && self.config.allow_list.as_ref().is_none_or(|list| list.allows(ty));
        if !allowed {
            return Err(ProviderError::Backend {
                code: "NotAllowed".into(),
                message: format!("{} {capacity} is outside the configured policy", ty.name),
            });
        }
        match self.config.capacity {
            CapacityBackend::ManagedInstances => self.launch_managed(instance, offering).await,
            _ => self.launch_in_group(instance, offering).await,
        }
    }

    async fn start_task(
        &self,
        task: TaskId,
        instance: InstanceId,
        allocated: Resources,
    ) -> Result<(), ProviderError> {
        let (container_instance, spec) = {
            let state = self.state();
            if state.tasks.get(&task).is_some_and(|t| t.instance == instance && !t.done) {
                return Ok(()); // Already started there.
            }
            let ci = state
                .instances
                .get(&instance)
                .filter(|i| !i.released && !i.gone)
                .and_then(|i| i.container_instance.clone())
                .ok_or_else(|| ProviderError::NotFound {
                    what: format!("{instance} (not ready)"),
                })?;
            let spec = state.specs.get(&task).or(state.default_spec.as_ref()).cloned().ok_or_else(
                || ProviderError::Backend {
                    code: "NoContainerSpec".into(),
                    message: format!("{task} has no container spec: call register_container"),
                },
            )?;
            (ci, spec)
        };
        let definition = self.task_definition(&spec, allocated).await?;
        let cluster = self.clients.names.cluster();
        let started_by = self.clients.names.started_by(task.0);

        // A retried start (or one from before a restart) finds its task.
        let running = call!(
            self.clients.retry,
            "ecs:ListTasks",
            self.clients
                .ecs
                .list_tasks()
                .cluster(&cluster)
                .started_by(&started_by)
                .desired_status(ecs::DesiredStatus::Running)
        )?;
        let arn = if let Some(arn) = running.task_arns().first() {
            debug!(%task, arn, "start found a running task");
            arn.clone()
        } else {
            let mut overrides = ecs::ContainerOverride::builder().name("main");
            if !spec.command.is_empty() {
                overrides = overrides.set_command(Some(spec.command.clone()));
            }
            let out = call!(
                self.clients.retry,
                "ecs:StartTask",
                self.clients
                    .ecs
                    .start_task()
                    .cluster(&cluster)
                    .task_definition(&definition)
                    .container_instances(&container_instance)
                    .started_by(&started_by)
                    .overrides(
                        ecs::TaskOverride::builder().container_overrides(overrides.build()).build()
                    )
                    .tags(
                        ecs::Tag::builder()
                            .key(OWNER_TAG)
                            .value(self.clients.names.prefix())
                            .build()
                    )
            )?;
            if let Some(failure) = out.failures().first() {
                return Err(ProviderError::Backend {
                    code: "StartTaskFailure".into(),
                    message: format!(
                        "{task} on {instance}: {} {}",
                        failure.reason().unwrap_or_default(),
                        failure.detail().unwrap_or_default()
                    ),
                });
            }
            let arn = out
                .tasks()
                .first()
                .and_then(|t| t.task_arn())
                .ok_or_else(|| ProviderError::Backend {
                    code: "StartTaskFailure".into(),
                    message: format!("{task} on {instance}: StartTask returned no task"),
                })?
                .to_owned();
            info!(%task, %instance, %arn, "task started");
            arn
        };
        self.state().tasks.insert(
            task,
            Task { arn, instance, started_reported: false, stopping: false, done: false },
        );
        Ok(())
    }

    async fn stop_task(&self, task: TaskId) -> Result<(), ProviderError> {
        let arn = {
            let mut state = self.state();
            let Some(tracked) = state.tasks.get_mut(&task) else { return Ok(()) };
            if tracked.done || tracked.stopping {
                return Ok(());
            }
            tracked.stopping = true;
            tracked.arn.clone()
        };
        call!(
            self.clients.retry,
            "ecs:StopTask",
            self.clients
                .ecs
                .stop_task()
                .cluster(self.clients.names.cluster())
                .task(&arn)
                .reason("stopped by the scheduler")
        )?;
        info!(%task, %arn, "task stopped");
        Ok(())
    }

    async fn terminate(&self, instance: InstanceId) -> Result<(), ProviderError> {
        let inst = {
            let state = self.state();
            let inst = state
                .instances
                .get(&instance)
                .ok_or_else(|| ProviderError::NotFound { what: instance.to_string() })?;
            if inst.released {
                return Ok(());
            }
            inst.clone()
        };
        if inst.managed() {
            self.release_managed(instance, &inst).await?;
        } else {
            match &inst.ec2_id {
                Some(ec2_id) if !inst.gone => {
                    call!(
                        self.clients.retry,
                        "autoscaling:TerminateInstanceInAutoScalingGroup",
                        self.clients
                            .autoscaling
                            .terminate_instance_in_auto_scaling_group()
                            .instance_id(ec2_id)
                            .should_decrement_desired_capacity(true)
                    )?;
                }
                Some(_) => {}
                // Not yet started: take back the capacity asked for.
                None => self.decrement(&inst.group).await?,
            }
        }
        info!(%instance, ec2_id = ?inst.ec2_id, group = %inst.group, "terminate");
        let mut state = self.state();
        if let Some(inst) = state.instances.get_mut(&instance) {
            inst.released = true;
        }
        for task in state.tasks.values_mut().filter(|t| t.instance == instance) {
            task.done = true;
        }
        state.queued.push(Event::InstanceTerminated { instance });
        Ok(())
    }

    async fn events(&self) -> Result<Vec<Event>, ProviderError> {
        let mut out = std::mem::take(&mut self.state().queued);
        self.bind_instances(&mut out).await?;
        self.bind_managed(&mut out).await?;
        self.container_instances(&mut out).await?;
        self.lost_instances(&mut out).await?;
        self.task_states(&mut out).await?;
        Ok(out)
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
