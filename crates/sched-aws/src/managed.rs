//! ECS Managed Instances: capacity providers per offering class, and the
//! anchor tasks that make ECS provision an instance for the engine.
//!
//! Managed Instances has no desired capacity to raise: ECS starts an
//! instance when a task placed through the capacity provider has nowhere
//! to run, and removes instances left idle. So a launch runs one small
//! *anchor* task through the provider of the offering's instance type and
//! capacity type. Each provider allows exactly that type
//! (`allowedInstanceTypes`, with its vCPU and memory as both bounds) and
//! that capacity option (on-demand or spot), and anchors carry a
//! `distinctInstance` constraint in one task group, so every anchor gets
//! an instance of its own. The instance the anchor lands on is the engine's
//! instance: the engine's tasks are started on it with StartTask, and it
//! stays up (never idle) while the anchor runs. Releasing the instance
//! stops the anchor and deregisters the container instance, after which
//! ECS ends the EC2 instance. What the anchor reserves
//! ([`ANCHOR_OVERHEAD`]) is left out of what the engine places there once
//! the policy's overhead includes it (see
//! [`crate::CapacityBackend::instance_overhead`]).
//!
//! The alternative, one provider with broad instance requirements and
//! RunTask for every engine task, would let ECS choose the instance type
//! and the packing, which is the scheduler's job.

use aws_sdk_ecs::types as ecs;
use sched_core::catalog::{CapacityType, OverheadModel};
use tracing::info;

use crate::call;
use crate::clients::Clients;
use crate::config::AwsConfig;
use crate::ensure::{self, Report};
use crate::error::{AwsError, ErrorClass};
use crate::names::OWNER_TAG;

/// The image the anchor task runs: a small public image that can sleep.
pub const ANCHOR_IMAGE: &str = "public.ecr.aws/docker/library/busybox:stable";
/// CPU units (1024ths of a vCPU) the anchor reserves.
pub const ANCHOR_CPU_UNITS: i32 = 128;
/// Memory (MiB) the anchor reserves.
pub const ANCHOR_MEMORY_MIB: i32 = 64;
/// What the anchor reserves on its instance, as an overhead to add to the
/// policy's ([`OverheadModel::plus`]) so the engine never places tasks into
/// it: [`ANCHOR_MEMORY_MIB`], and [`ANCHOR_CPU_UNITS`] in millicpus rounded
/// up (128 units are 125 millicpus, which a task asks ECS for as 128 units
/// again). [`crate::CapacityBackend::instance_overhead`] gives it for the
/// Managed Instances backend.
pub const ANCHOR_OVERHEAD: OverheadModel = OverheadModel::new(
    ANCHOR_MEMORY_MIB as u64,
    0,
    (ANCHOR_CPU_UNITS as u64 * 1000).div_ceil(1024),
);

/// The ARNs a Managed Instances capacity provider is created with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedRoles {
    /// The role ECS assumes to launch and manage the instances.
    pub infrastructure_role_arn: String,
    /// The instance profile the instances run with.
    pub instance_profile_arn: String,
}

impl ManagedRoles {
    /// Reads the ARNs of the prefix's infrastructure role and instance profile.
    pub async fn read(clients: &Clients) -> Result<Self, AwsError> {
        let role = call!(
            clients.retry,
            "iam:GetRole",
            clients.iam.get_role().role_name(clients.names.infrastructure_role())
        )?;
        let profile = call!(
            clients.retry,
            "iam:GetInstanceProfile",
            clients.iam.get_instance_profile().instance_profile_name(clients.names.instance_role())
        )?;
        Ok(ManagedRoles {
            infrastructure_role_arn: role.role().map(|r| r.arn().to_owned()).unwrap_or_default(),
            instance_profile_arn: profile
                .instance_profile()
                .map(|p| p.arn().to_owned())
                .unwrap_or_default(),
        })
    }
}

/// What one Managed Instances capacity provider offers: one instance type
/// (with its shape, which attribute-based selection requires as bounds) and
/// one capacity type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferingClass {
    /// EC2 instance type, e.g. `m5.large`.
    pub type_name: String,
    /// Its vCPUs.
    pub vcpus: u32,
    /// Its memory, MiB.
    pub memory_mib: u64,
    /// On-demand or spot.
    pub capacity: CapacityType,
}

fn capacity_option(capacity: CapacityType) -> ecs::CapacityOptionType {
    match capacity {
        CapacityType::Spot => ecs::CapacityOptionType::Spot,
        CapacityType::OnDemand => ecs::CapacityOptionType::OnDemand,
    }
}

fn owner_tag(clients: &Clients) -> ecs::Tag {
    ecs::Tag::builder().key(OWNER_TAG).value(clients.names.prefix()).build()
}

fn built<T>(
    operation: &'static str,
    result: Result<T, aws_smithy_types::error::operation::BuildError>,
) -> Result<T, AwsError> {
    result.map_err(|e| AwsError::local(operation, e.to_string()))
}

/// The managed-instances configuration of a capacity provider for `class`.
pub fn provider_configuration(
    class: &OfferingClass,
    roles: &ManagedRoles,
    subnets: &[String],
) -> Result<ecs::CreateManagedInstancesProviderConfiguration, AwsError> {
    const OP: &str = "ecs:CreateCapacityProvider";
    let too_big = |what: &str, value: u64| {
        AwsError::local(OP, format!("{} {what} {value} does not fit the request", class.type_name))
    };
    let vcpus = i32::try_from(class.vcpus).map_err(|_| too_big("vCPUs", class.vcpus.into()))?;
    let memory =
        i32::try_from(class.memory_mib).map_err(|_| too_big("memory MiB", class.memory_mib))?;
    let requirements = ecs::InstanceRequirementsRequest::builder()
        .v_cpu_count(built(
            OP,
            ecs::VCpuCountRangeRequest::builder().min(vcpus).max(vcpus).build(),
        )?)
        .memory_mib(built(OP, ecs::MemoryMiBRequest::builder().min(memory).max(memory).build())?)
        .allowed_instance_types(&class.type_name)
        .build();
    let template = ecs::InstanceLaunchTemplate::builder()
        .ec2_instance_profile_arn(&roles.instance_profile_arn)
        .network_configuration(
            ecs::ManagedInstancesNetworkConfiguration::builder()
                .set_subnets(Some(subnets.to_vec()))
                .build(),
        )
        .capacity_option_type(capacity_option(class.capacity))
        .instance_requirements(requirements);
    built(
        OP,
        ecs::CreateManagedInstancesProviderConfiguration::builder()
            .infrastructure_role_arn(&roles.infrastructure_role_arn)
            .instance_launch_template(built(OP, template.build())?)
            // The instances carry the provider's tags, the ownership tag among them.
            .propagate_tags(ecs::PropagateMiTags::CapacityProvider)
            .build(),
    )
}

/// Creates, if missing, the Managed Instances capacity provider of `class`
/// in the cluster; returns its name. A provider of that name without our
/// ownership tag is refused, not used.
pub async fn ensure_provider(
    clients: &Clients,
    config: &AwsConfig,
    roles: &ManagedRoles,
    class: &OfferingClass,
    report: &mut Report,
) -> Result<String, AwsError> {
    let name = clients.names.managed_provider(&class.type_name, class.capacity);
    let found = call!(
        clients.retry,
        "ecs:DescribeCapacityProviders",
        clients
            .ecs
            .describe_capacity_providers()
            .capacity_providers(&name)
            .include(ecs::CapacityProviderField::Tags)
    );
    let existing = match found {
        Ok(out) => out
            .capacity_providers()
            .iter()
            .find(|p| {
                p.name() == Some(name.as_str())
                    && p.status() == Some(&ecs::CapacityProviderStatus::Active)
            })
            .cloned(),
        Err(e) if e.class == ErrorClass::NotFound => None,
        Err(e) => return Err(e),
    };
    if let Some(provider) = existing {
        let ours = provider
            .tags()
            .iter()
            .any(|t| t.key() == Some(OWNER_TAG) && t.value() == Some(clients.names.prefix()));
        if !ours {
            return Err(AwsError {
                operation: "ecs:DescribeCapacityProviders",
                code: "NotOwned".into(),
                message: format!("capacity provider {name} exists without our ownership tag"),
                class: ErrorClass::Other,
            });
        }
        report.unchanged("capacity-provider", &name);
        return Ok(name);
    }
    let subnets = ensure::subnets(clients, config).await?;
    let created = call!(
        clients.retry,
        "ecs:CreateCapacityProvider",
        clients
            .ecs
            .create_capacity_provider()
            .name(&name)
            .cluster(clients.names.cluster())
            .managed_instances_provider(provider_configuration(class, roles, &subnets)?)
            .tags(owner_tag(clients))
    );
    match created {
        Ok(_) => report.changed("capacity-provider", &name),
        // A retry after a lost answer, or another process of this prefix.
        Err(e) if e.class == ErrorClass::AlreadyExists => {
            report.unchanged("capacity-provider", &name)
        }
        Err(e) => return Err(e),
    }
    Ok(name)
}

/// Registers, if missing, the anchor task definition; returns its ARN.
pub async fn ensure_anchor_definition(
    clients: &Clients,
    execution_role_arn: &str,
    report: &mut Report,
) -> Result<String, AwsError> {
    let family = clients.names.anchor_family();
    let found = call!(
        clients.retry,
        "ecs:DescribeTaskDefinition",
        clients.ecs.describe_task_definition().task_definition(&family)
    );
    match found {
        Ok(out) => {
            let active = out
                .task_definition()
                .filter(|t| t.status() == Some(&ecs::TaskDefinitionStatus::Active))
                .and_then(|t| t.task_definition_arn());
            if let Some(arn) = active {
                report.unchanged("task-definition", &family);
                return Ok(arn.to_owned());
            }
        }
        // ECS answers a missing family with a generic client error.
        Err(e) if matches!(e.class, ErrorClass::NotFound | ErrorClass::Other) => {}
        Err(e) => return Err(e),
    }
    let container = ecs::ContainerDefinition::builder()
        .name("anchor")
        .image(ANCHOR_IMAGE)
        .essential(true)
        .command("sleep")
        .command("2147483647")
        .cpu(ANCHOR_CPU_UNITS)
        .memory(ANCHOR_MEMORY_MIB)
        .build();
    let out = call!(
        clients.retry,
        "ecs:RegisterTaskDefinition",
        clients
            .ecs
            .register_task_definition()
            .family(&family)
            .requires_compatibilities(ecs::Compatibility::ManagedInstances)
            .network_mode(ecs::NetworkMode::Host)
            .cpu(ANCHOR_CPU_UNITS.to_string())
            .memory(ANCHOR_MEMORY_MIB.to_string())
            .execution_role_arn(execution_role_arn)
            .container_definitions(container)
            .tags(owner_tag(clients))
    )?;
    report.changed("task-definition", &family);
    out.task_definition()
        .and_then(|t| t.task_definition_arn())
        .map(str::to_owned)
        .ok_or_else(|| AwsError::local("ecs:RegisterTaskDefinition", "no task definition ARN"))
}

/// The running anchor of engine instance `instance`, if any (a retried
/// launch, or one from before a restart, finds it).
pub async fn find_anchor(clients: &Clients, instance: u64) -> Result<Option<String>, AwsError> {
    let running = call!(
        clients.retry,
        "ecs:ListTasks",
        clients
            .ecs
            .list_tasks()
            .cluster(clients.names.cluster())
            .started_by(clients.names.anchor_started_by(instance))
            .desired_status(ecs::DesiredStatus::Running)
    )?;
    Ok(running.task_arns().first().cloned())
}

/// Runs the anchor of engine instance `instance` through `provider`;
/// returns its task ARN. A refusal ECS reports in `failures` becomes an
/// error: of class capacity when its reason speaks of capacity (the engine
/// then falls back from spot), else `Other` with the reason.
pub async fn run_anchor(
    clients: &Clients,
    provider: &str,
    definition: &str,
    instance: u64,
) -> Result<String, AwsError> {
    if let Some(arn) = find_anchor(clients, instance).await? {
        return Ok(arn);
    }
    const OP: &str = "ecs:RunTask";
    let out = call!(
        clients.retry,
        "ecs:RunTask",
        clients
            .ecs
            .run_task()
            .cluster(clients.names.cluster())
            .task_definition(definition)
            .count(1)
            .capacity_provider_strategy(built(
                OP,
                ecs::CapacityProviderStrategyItem::builder()
                    .capacity_provider(provider)
                    .weight(1)
                    .build(),
            )?)
            .started_by(clients.names.anchor_started_by(instance))
            .group(format!("{}-anchors", clients.names.prefix()))
            .placement_constraints(
                ecs::PlacementConstraint::builder()
                    .r#type(ecs::PlacementConstraintType::DistinctInstance)
                    .build(),
            )
            .tags(owner_tag(clients))
    )?;
    if let Some(failure) = out.failures().first() {
        let reason = format!(
            "{} {}",
            failure.reason().unwrap_or_default(),
            failure.detail().unwrap_or_default()
        );
        let lower = reason.to_ascii_lowercase();
        let class = if lower.contains("capacity") || lower.contains("resource:") {
            ErrorClass::Capacity
        } else {
            ErrorClass::Other
        };
        return Err(AwsError {
            operation: OP,
            code: "RunTaskFailure".into(),
            message: format!("anchor of instance {instance} on {provider}: {}", reason.trim()),
            class,
        });
    }
    let arn = out
        .tasks()
        .first()
        .and_then(|t| t.task_arn())
        .ok_or_else(|| AwsError::local(OP, format!("anchor of instance {instance}: no task")))?
        .to_owned();
    info!(instance, provider, %arn, "anchor task run");
    Ok(arn)
}

/// The capacity type a Managed Instances provider name stands for.
pub fn capacity_of(provider: &str) -> CapacityType {
    if provider.ends_with("-spot") {
        CapacityType::Spot
    } else {
        CapacityType::OnDemand
    }
}

#[cfg(test)]
mod tests;
