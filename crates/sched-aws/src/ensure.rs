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

use std::collections::BTreeSet;

use aws_sdk_autoscaling::types as asg;
use aws_sdk_ec2::types as ec2;
use aws_sdk_ecs::types as ecs;
use sched_core::catalog::{Architecture, CapacityType};
use tracing::{debug, info};

use crate::call;
use crate::clients::Clients;
use crate::config::{AwsConfig, CapacityBackend};
use crate::error::{AwsError, ErrorClass};
use crate::names::OWNER_TAG;

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

/// Trust policy letting `service` assume a role.
fn trust(service: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": service },
            "Action": "sts:AssumeRole"
        }]
    })
    .to_string()
}

fn ok_if(result: Result<(), AwsError>, class: ErrorClass) -> Result<(), AwsError> {
    match result {
        Err(e) if e.class == class => Ok(()),
        other => other,
    }
}

/// Creates what is missing of the cluster, roles, instance profile, log
/// group and (for ASG capacity) the x86_64 launch template.
pub async fn ensure(clients: &Clients, config: &AwsConfig) -> Result<Report, AwsError> {
    let mut report = Report::default();
    ensure_cluster(clients, &mut report).await?;
    ensure_roles(clients, config, &mut report).await?;
    ensure_log_group(clients, &mut report).await?;
    if config.capacity == CapacityBackend::Asg {
        ensure_launch_template(clients, Architecture::X86_64, &mut report).await?;
    }
    Ok(report)
}

async fn ensure_cluster(clients: &Clients, report: &mut Report) -> Result<(), AwsError> {
    let name = clients.names.cluster();
    let found = call!(
        clients.retry,
        "ecs:DescribeClusters",
        clients.ecs.describe_clusters().clusters(&name)
    )?;
    if found.clusters().iter().any(|c| c.status() == Some("ACTIVE")) {
        report.unchanged("cluster", &name);
        return Ok(());
    }
    call!(
        clients.retry,
        "ecs:CreateCluster",
        clients
            .ecs
            .create_cluster()
            .cluster_name(&name)
            .tags(ecs::Tag::builder().key(OWNER_TAG).value(clients.names.prefix()).build())
    )?;
    report.changed("cluster", &name);
    Ok(())
}

/// The AWS managed policies the roles carry, and the only ones the IAM
/// policy lets the scheduler attach.
pub const MANAGED_ROLE_POLICIES: [&str; 4] = [
    EXECUTION_ROLE_POLICY,
    INSTANCE_ROLE_POLICY,
    INFRASTRUCTURE_ROLE_POLICY,
    MANAGED_INSTANCE_ROLE_POLICY,
];
const EXECUTION_ROLE_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";
const INSTANCE_ROLE_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role";
const INFRASTRUCTURE_ROLE_POLICY: &str =
    "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForManagedInstances";
const MANAGED_INSTANCE_ROLE_POLICY: &str =
    "arn:aws:iam::aws:policy/AmazonECSInstanceRolePolicyForManagedInstances";

/// The inline policy of the infrastructure role letting ECS pass our
/// instance role to the instances it launches: the AWS managed policy only
/// allows passing roles named `ecsInstanceRole*`, and ours carry the prefix.
pub const PASS_INSTANCE_ROLE_POLICY: &str = "pass-instance-role";

fn pass_instance_role(instance_role_arn: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": instance_role_arn,
            "Condition": { "StringLike": { "iam:PassedToService": "ec2.*" } }
        }]
    })
    .to_string()
}

async fn ensure_roles(
    clients: &Clients,
    config: &AwsConfig,
    report: &mut Report,
) -> Result<(), AwsError> {
    let names = &clients.names;
    let managed = config.capacity == CapacityBackend::ManagedInstances;
    let mut roles = vec![
        (names.execution_role(), "ecs-tasks.amazonaws.com", vec![EXECUTION_ROLE_POLICY]),
        (names.task_role(), "ecs-tasks.amazonaws.com", vec![]),
        (
            names.instance_role(),
            "ec2.amazonaws.com",
            if managed {
                vec![INSTANCE_ROLE_POLICY, MANAGED_INSTANCE_ROLE_POLICY]
            } else {
                vec![INSTANCE_ROLE_POLICY]
            },
        ),
    ];
    if managed {
        roles.push((
            names.infrastructure_role(),
            "ecs.amazonaws.com",
            vec![INFRASTRUCTURE_ROLE_POLICY],
        ));
    }
    let tag = aws_sdk_iam::types::Tag::builder()
        .key(OWNER_TAG)
        .value(names.prefix())
        .build()
        .map_err(|e| AwsError::local("iam:Tag", e.to_string()))?;
    for (role, service, managed) in roles {
        let found = call!(clients.retry, "iam:GetRole", clients.iam.get_role().role_name(&role));
        match found {
            Ok(_) => report.unchanged("role", &role),
            Err(e) if e.class == ErrorClass::NotFound => {
                call!(
                    clients.retry,
                    "iam:CreateRole",
                    clients
                        .iam
                        .create_role()
                        .role_name(&role)
                        .assume_role_policy_document(trust(service))
                        .tags(tag.clone())
                )?;
                for policy in managed {
                    call!(
                        clients.retry,
                        "iam:AttachRolePolicy",
                        clients.iam.attach_role_policy().role_name(&role).policy_arn(policy)
                    )?;
                }
                if role == names.infrastructure_role() {
                    let instance_role = call!(
                        clients.retry,
                        "iam:GetRole",
                        clients.iam.get_role().role_name(names.instance_role())
                    )?;
                    let arn = instance_role.role().map(|r| r.arn().to_owned()).unwrap_or_default();
                    call!(
                        clients.retry,
                        "iam:PutRolePolicy",
                        clients
                            .iam
                            .put_role_policy()
                            .role_name(&role)
                            .policy_name(PASS_INSTANCE_ROLE_POLICY)
                            .policy_document(pass_instance_role(&arn))
                    )?;
                }
                report.changed("role", &role);
            }
            Err(e) => return Err(e),
        }
    }

    let profile = names.instance_role();
    let found = call!(
        clients.retry,
        "iam:GetInstanceProfile",
        clients.iam.get_instance_profile().instance_profile_name(&profile)
    );
    match found {
        Ok(_) => report.unchanged("instance-profile", &profile),
        Err(e) if e.class == ErrorClass::NotFound => {
            call!(
                clients.retry,
                "iam:CreateInstanceProfile",
                clients
                    .iam
                    .create_instance_profile()
                    .instance_profile_name(&profile)
                    .tags(tag.clone())
            )?;
            call!(
                clients.retry,
                "iam:AddRoleToInstanceProfile",
                clients
                    .iam
                    .add_role_to_instance_profile()
                    .instance_profile_name(&profile)
                    .role_name(&profile)
            )?;
            report.changed("instance-profile", &profile);
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

async fn ensure_log_group(clients: &Clients, report: &mut Report) -> Result<(), AwsError> {
    let name = clients.names.log_group();
    let found = call!(
        clients.retry,
        "logs:DescribeLogGroups",
        clients.logs.describe_log_groups().log_group_name_prefix(&name)
    )?;
    if found.log_groups().iter().any(|g| g.log_group_name() == Some(name.as_str())) {
        report.unchanged("log-group", &name);
        return Ok(());
    }
    let created = call!(
        clients.retry,
        "logs:CreateLogGroup",
        clients
            .logs
            .create_log_group()
            .log_group_name(&name)
            .tags(OWNER_TAG, clients.names.prefix())
    )
    .map(|_| ());
    ok_if(created, ErrorClass::AlreadyExists)?;
    report.changed("log-group", &name);
    Ok(())
}

/// The SSM parameter holding the recommended ECS-optimized AL2023 AMI.
pub fn ami_parameter(arch: Architecture) -> &'static str {
    match arch {
        Architecture::Arm64 => {
            "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id"
        }
        _ => "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id",
    }
}

fn template_name(clients: &Clients, arch: Architecture) -> String {
    match arch {
        Architecture::Arm64 => format!("{}-arm64", clients.names.launch_template()),
        _ => clients.names.launch_template(),
    }
}

/// Creates the launch template for `arch` if missing; returns its name.
pub async fn ensure_launch_template(
    clients: &Clients,
    arch: Architecture,
    report: &mut Report,
) -> Result<String, AwsError> {
    let name = template_name(clients, arch);
    let found = call!(
        clients.retry,
        "ec2:DescribeLaunchTemplates",
        clients.ec2.describe_launch_templates().launch_template_names(&name)
    );
    match found {
        Ok(out) if !out.launch_templates().is_empty() => {
            report.unchanged("launch-template", &name);
            return Ok(name);
        }
        Ok(_) => {}
        Err(e) if e.class == ErrorClass::NotFound || e.code.contains("NotFound") => {}
        Err(e) => return Err(e),
    }
    let ami = call!(
        clients.retry,
        "ssm:GetParameter",
        clients.ssm.get_parameter().name(ami_parameter(arch))
    )?
    .parameter()
    .and_then(|p| p.value())
    .map(str::to_owned)
    .ok_or_else(|| AwsError::local("ssm:GetParameter", "ECS-optimized AMI parameter is empty"))?;
    let user_data = format!(
        "#!/bin/bash\necho ECS_CLUSTER={} >> /etc/ecs/ecs.config\necho ECS_ENABLE_SPOT_INSTANCE_DRAINING=true >> /etc/ecs/ecs.config\n",
        clients.names.cluster()
    );
    let tag = ec2::Tag::builder().key(OWNER_TAG).value(clients.names.prefix()).build();
    let data = ec2::RequestLaunchTemplateData::builder()
        .image_id(&ami)
        .iam_instance_profile(
            ec2::LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                .name(clients.names.instance_role())
                .build(),
        )
        .user_data(aws_smithy_types::base64::encode(user_data))
        .tag_specifications(
            ec2::LaunchTemplateTagSpecificationRequest::builder()
                .resource_type(ec2::ResourceType::Instance)
                .tags(tag.clone())
                .build(),
        )
        .build();
    call!(
        clients.retry,
        "ec2:CreateLaunchTemplate",
        clients
            .ec2
            .create_launch_template()
            .launch_template_name(&name)
            .launch_template_data(data)
            .tag_specifications(
                ec2::TagSpecification::builder()
                    .resource_type(ec2::ResourceType::LaunchTemplate)
                    .tags(tag)
                    .build(),
            )
    )?;
    report.changed("launch-template", &name);
    Ok(name)
}

pub(crate) async fn subnets(
    clients: &Clients,
    config: &AwsConfig,
) -> Result<Vec<String>, AwsError> {
    if !config.subnets.is_empty() {
        return Ok(config.subnets.clone());
    }
    let out = call!(
        clients.retry,
        "ec2:DescribeSubnets",
        clients
            .ec2
            .describe_subnets()
            .filters(ec2::Filter::builder().name("default-for-az").values("true").build())
    )?;
    let ids: Vec<String> =
        out.subnets().iter().filter_map(|s| s.subnet_id().map(str::to_owned)).collect();
    if ids.is_empty() {
        return Err(AwsError::local(
            "ec2:DescribeSubnets",
            "no default subnets: configure subnets for the Auto Scaling Groups",
        ));
    }
    Ok(ids)
}

/// Creates, if missing, the Auto Scaling Group for one instance type and
/// capacity type (at size 0), its capacity provider, and adds the provider
/// to the cluster. Returns the group's name.
pub async fn ensure_group(
    clients: &Clients,
    config: &AwsConfig,
    type_name: &str,
    arch: Architecture,
    capacity: CapacityType,
    report: &mut Report,
) -> Result<String, AwsError> {
    let name = clients.names.group(type_name, capacity);
    let found = call!(
        clients.retry,
        "autoscaling:DescribeAutoScalingGroups",
        clients.autoscaling.describe_auto_scaling_groups().auto_scaling_group_names(&name)
    )?;
    let arn = match found.auto_scaling_groups().first() {
        Some(group) => {
            report.unchanged("auto-scaling-group", &name);
            group.auto_scaling_group_arn().unwrap_or_default().to_owned()
        }
        None => {
            let template = ensure_launch_template(clients, arch, report).await?;
            let spot = capacity == CapacityType::Spot;
            let policy = asg::MixedInstancesPolicy::builder()
                .launch_template(
                    asg::LaunchTemplate::builder()
                        .launch_template_specification(
                            asg::LaunchTemplateSpecification::builder()
                                .launch_template_name(&template)
                                .version("$Latest")
                                .build(),
                        )
                        .overrides(
                            asg::LaunchTemplateOverrides::builder()
                                .instance_type(type_name)
                                .build(),
                        )
                        .build(),
                )
                .instances_distribution(
                    asg::InstancesDistribution::builder()
                        .on_demand_base_capacity(0)
                        .on_demand_percentage_above_base_capacity(if spot { 0 } else { 100 })
                        .spot_allocation_strategy("price-capacity-optimized")
                        .build(),
                )
                .build();
            let tag = asg::Tag::builder()
                .key(OWNER_TAG)
                .value(clients.names.prefix())
                .propagate_at_launch(true)
                .build();
            call!(
                clients.retry,
                "autoscaling:CreateAutoScalingGroup",
                clients
                    .autoscaling
                    .create_auto_scaling_group()
                    .auto_scaling_group_name(&name)
                    .min_size(0)
                    .max_size(config.max_instances_per_group)
                    .desired_capacity(0)
                    .mixed_instances_policy(policy)
                    .vpc_zone_identifier(subnets(clients, config).await?.join(","))
                    .new_instances_protected_from_scale_in(false)
                    .tags(tag)
            )?;
            report.changed("auto-scaling-group", &name);
            let found = call!(
                clients.retry,
                "autoscaling:DescribeAutoScalingGroups",
                clients.autoscaling.describe_auto_scaling_groups().auto_scaling_group_names(&name)
            )?;
            found
                .auto_scaling_groups()
                .first()
                .and_then(|g| g.auto_scaling_group_arn())
                .unwrap_or_default()
                .to_owned()
        }
    };
    ensure_capacity_provider(clients, &name, &arn, report).await?;
    Ok(name)
}

async fn ensure_capacity_provider(
    clients: &Clients,
    name: &str,
    group_arn: &str,
    report: &mut Report,
) -> Result<(), AwsError> {
    let found = call!(
        clients.retry,
        "ecs:DescribeCapacityProviders",
        clients.ecs.describe_capacity_providers().capacity_providers(name)
    )?;
    if found.capacity_providers().iter().any(|c| c.name() == Some(name)) {
        report.unchanged("capacity-provider", name);
    } else {
        call!(
            clients.retry,
            "ecs:CreateCapacityProvider",
            clients
                .ecs
                .create_capacity_provider()
                .name(name)
                .auto_scaling_group_provider(
                    ecs::AutoScalingGroupProvider::builder()
                        .auto_scaling_group_arn(group_arn)
                        // The scheduler sets desired capacity itself.
                        .managed_scaling(
                            ecs::ManagedScaling::builder()
                                .status(ecs::ManagedScalingStatus::Disabled)
                                .build(),
                        )
                        .managed_termination_protection(ecs::ManagedTerminationProtection::Disabled)
                        .build()
                        .map_err(|e| AwsError::local(
                            "ecs:CreateCapacityProvider",
                            e.to_string()
                        ))?,
                )
                .tags(ecs::Tag::builder().key(OWNER_TAG).value(clients.names.prefix()).build())
        )?;
        report.changed("capacity-provider", name);
    }

    // Attach it to the cluster, keeping the ones already there.
    let cluster = clients.names.cluster();
    let described = call!(
        clients.retry,
        "ecs:DescribeClusters",
        clients.ecs.describe_clusters().clusters(&cluster)
    )?;
    let mut providers: Vec<String> =
        described.clusters().first().map(|c| c.capacity_providers().to_vec()).unwrap_or_default();
    if !providers.iter().any(|p| p == name) {
        providers.push(name.to_owned());
        call!(
            clients.retry,
            "ecs:PutClusterCapacityProviders",
            clients
                .ecs
                .put_cluster_capacity_providers()
                .cluster(&cluster)
                .set_capacity_providers(Some(providers.clone()))
                .set_default_capacity_provider_strategy(Some(Vec::new()))
        )?;
    }
    Ok(())
}

fn ecs_owned(tags: &[ecs::Tag], prefix: &str) -> bool {
    tags.iter().any(|t| t.key() == Some(OWNER_TAG) && t.value() == Some(prefix))
}

/// Removes everything whose name has the prefix and which carries the
/// ownership tag; with `dry_run`, only lists it. Resources with the prefix
/// but without the tag are listed as kept.
pub async fn teardown(clients: &Clients, dry_run: bool) -> Result<Report, AwsError> {
    let mut report = Report::default();
    let names = &clients.names;
    let prefix = names.prefix().to_owned();

    // Auto Scaling Groups, listed first: capacity providers are named after them.
    // A known limit: one page (up to 100 groups) is read; a NextToken loop would lift it.
    let groups = call!(
        clients.retry,
        "autoscaling:DescribeAutoScalingGroups",
        clients.autoscaling.describe_auto_scaling_groups().max_records(100)
    )?;

    // The cluster first: its tasks, container instances and providers.
    let cluster = names.cluster();
    let described = call!(
        clients.retry,
        "ecs:DescribeClusters",
        clients.ecs.describe_clusters().clusters(&cluster).include(ecs::ClusterField::Tags)
    )?;
    let cluster_providers: Vec<String> = described
        .clusters()
        .iter()
        .filter(|c| c.status() == Some("ACTIVE"))
        .flat_map(|c| c.capacity_providers().iter().cloned())
        .collect();
    if let Some(found) = described.clusters().iter().find(|c| c.status() == Some("ACTIVE")) {
        if !ecs_owned(found.tags(), &prefix) {
            report.unchanged("cluster", &cluster);
        } else {
            if !dry_run {
                let tasks = call!(
                    clients.retry,
                    "ecs:ListTasks",
                    clients
                        .ecs
                        .list_tasks()
                        .cluster(&cluster)
                        .desired_status(ecs::DesiredStatus::Running)
                )?;
                for task in tasks.task_arns() {
                    call!(
                        clients.retry,
                        "ecs:StopTask",
                        clients.ecs.stop_task().cluster(&cluster).task(task).reason("teardown")
                    )?;
                }
                let instances = call!(
                    clients.retry,
                    "ecs:ListContainerInstances",
                    clients.ecs.list_container_instances().cluster(&cluster)
                )?;
                for arn in instances.container_instance_arns() {
                    call!(
                        clients.retry,
                        "ecs:DeregisterContainerInstance",
                        clients
                            .ecs
                            .deregister_container_instance()
                            .cluster(&cluster)
                            .container_instance(arn)
                            .force(true)
                    )?;
                }
                call!(
                    clients.retry,
                    "ecs:PutClusterCapacityProviders",
                    clients
                        .ecs
                        .put_cluster_capacity_providers()
                        .cluster(&cluster)
                        .set_capacity_providers(Some(Vec::new()))
                        .set_default_capacity_provider_strategy(Some(Vec::new()))
                )?;
            }
            report.changed("cluster", &cluster);
        }
    }

    // Capacity providers, looked up by the names they can have (moto
    // cannot describe all of them, and ours are named after our groups).
    let mut candidates: Vec<String> = cluster_providers;
    candidates.extend(
        groups
            .auto_scaling_groups()
            .iter()
            .filter_map(|g| g.auto_scaling_group_name())
            .filter(|n| names.owns_name(n))
            .map(str::to_owned),
    );
    candidates.sort();
    candidates.dedup();
    let providers = call!(
        clients.retry,
        "ecs:DescribeCapacityProviders",
        clients
            .ecs
            .describe_capacity_providers()
            .set_capacity_providers(Some(candidates))
            .include(ecs::CapacityProviderField::Tags)
    )?;
    for provider in providers.capacity_providers() {
        let Some(name) = provider.name() else { continue };
        if !names.owns_name(name) {
            continue;
        }
        if !ecs_owned(provider.tags(), &prefix) {
            report.unchanged("capacity-provider", name);
            continue;
        }
        if !dry_run {
            delete_capacity_provider(clients, name).await?;
        }
        report.changed("capacity-provider", name);
    }

    // The cluster itself, once empty.
    if !dry_run && report.changed.iter().any(|c| c == &format!("cluster {cluster}")) {
        call!(clients.retry, "ecs:DeleteCluster", clients.ecs.delete_cluster().cluster(&cluster))?;
    }

    // Task definitions.
    for (arn, tagged) in prefixed_task_definitions(clients).await? {
        if !tagged {
            report.unchanged("task-definition", &arn);
            continue;
        }
        if !dry_run {
            call!(
                clients.retry,
                "ecs:DeregisterTaskDefinition",
                clients.ecs.deregister_task_definition().task_definition(&arn)
            )?;
        }
        report.changed("task-definition", &arn);
    }

    // Auto Scaling Groups (with their instances).
    for group in groups.auto_scaling_groups() {
        let Some(name) = group.auto_scaling_group_name() else { continue };
        if !names.owns_name(name) {
            continue;
        }
        let tagged = group
            .tags()
            .iter()
            .any(|t| t.key() == Some(OWNER_TAG) && t.value() == Some(prefix.as_str()));
        if !tagged {
            report.unchanged("auto-scaling-group", name);
            continue;
        }
        if !dry_run {
            call!(
                clients.retry,
                "autoscaling:DeleteAutoScalingGroup",
                clients
                    .autoscaling
                    .delete_auto_scaling_group()
                    .auto_scaling_group_name(name)
                    .force_delete(true)
            )?;
        }
        report.changed("auto-scaling-group", name);
    }

    // Launch templates.
    let templates = call!(
        clients.retry,
        "ec2:DescribeLaunchTemplates",
        clients.ec2.describe_launch_templates()
    )?;
    for template in templates.launch_templates() {
        let Some(name) = template.launch_template_name() else { continue };
        if !names.owns_name(name) {
            continue;
        }
        let tagged = template
            .tags()
            .iter()
            .any(|t| t.key() == Some(OWNER_TAG) && t.value() == Some(prefix.as_str()));
        if !tagged {
            report.unchanged("launch-template", name);
            continue;
        }
        if !dry_run {
            call!(
                clients.retry,
                "ec2:DeleteLaunchTemplate",
                clients.ec2.delete_launch_template().launch_template_name(name)
            )?;
        }
        report.changed("launch-template", name);
    }

    // The log group.
    let log_group = names.log_group();
    let groups = call!(
        clients.retry,
        "logs:DescribeLogGroups",
        clients.logs.describe_log_groups().log_group_name_prefix(&log_group)
    )?;
    let found = groups.log_groups().iter().find(|g| g.log_group_name() == Some(log_group.as_str()));
    if let Some(found) = found {
        // DescribeLogGroups gives the ARN with a trailing `:*`; tagging wants it bare.
        let arn = found.arn().unwrap_or_default().trim_end_matches(":*").to_owned();
        let tags = call!(
            clients.retry,
            "logs:ListTagsForResource",
            clients.logs.list_tags_for_resource().resource_arn(&arn)
        )?;
        let tagged = tags.tags().and_then(|t| t.get(OWNER_TAG)).is_some_and(|v| *v == prefix);
        if !tagged {
            report.unchanged("log-group", &log_group);
        } else {
            if !dry_run {
                call!(
                    clients.retry,
                    "logs:DeleteLogGroup",
                    clients.logs.delete_log_group().log_group_name(&log_group)
                )?;
            }
            report.changed("log-group", &log_group);
        }
    }

    // The instance profile, then the roles.
    let profile = names.instance_role();
    match call!(
        clients.retry,
        "iam:GetInstanceProfile",
        clients.iam.get_instance_profile().instance_profile_name(&profile)
    ) {
        Ok(out) => {
            let found = out.instance_profile();
            let tagged = found.is_some_and(|p| {
                p.tags().iter().any(|t| t.key() == OWNER_TAG && t.value() == prefix)
            });
            if !tagged {
                report.unchanged("instance-profile", &profile);
            } else {
                if !dry_run {
                    for role in found.map(|p| p.roles()).unwrap_or_default() {
                        call!(
                            clients.retry,
                            "iam:RemoveRoleFromInstanceProfile",
                            clients
                                .iam
                                .remove_role_from_instance_profile()
                                .instance_profile_name(&profile)
                                .role_name(role.role_name())
                        )?;
                    }
                    call!(
                        clients.retry,
                        "iam:DeleteInstanceProfile",
                        clients.iam.delete_instance_profile().instance_profile_name(&profile)
                    )?;
                }
                report.changed("instance-profile", &profile);
            }
        }
        Err(e) if e.class == ErrorClass::NotFound => {}
        Err(e) => return Err(e),
    }
    for role in names.roles() {
        let found =
            match call!(clients.retry, "iam:GetRole", clients.iam.get_role().role_name(&role)) {
                Ok(out) => out,
                Err(e) if e.class == ErrorClass::NotFound => continue,
                Err(e) => return Err(e),
            };
        let tagged = found
            .role()
            .is_some_and(|r| r.tags().iter().any(|t| t.key() == OWNER_TAG && t.value() == prefix));
        if !tagged {
            report.unchanged("role", &role);
            continue;
        }
        if !dry_run {
            let attached = call!(
                clients.retry,
                "iam:ListAttachedRolePolicies",
                clients.iam.list_attached_role_policies().role_name(&role)
            )?;
            for policy in attached.attached_policies() {
                if let Some(arn) = policy.policy_arn() {
                    call!(
                        clients.retry,
                        "iam:DetachRolePolicy",
                        clients.iam.detach_role_policy().role_name(&role).policy_arn(arn)
                    )?;
                }
            }
            let inline = call!(
                clients.retry,
                "iam:ListRolePolicies",
                clients.iam.list_role_policies().role_name(&role)
            )?;
            for policy in inline.policy_names() {
                call!(
                    clients.retry,
                    "iam:DeleteRolePolicy",
                    clients.iam.delete_role_policy().role_name(&role).policy_name(policy)
                )?;
            }
            call!(clients.retry, "iam:DeleteRole", clients.iam.delete_role().role_name(&role))?;
        }
        report.changed("role", &role);
    }
    Ok(report)
}

/// Deletes a capacity provider; a Managed Instances one is named with its
/// cluster, which it belongs to.
async fn delete_capacity_provider(clients: &Clients, name: &str) -> Result<(), AwsError> {
    let mut request = clients.ecs.delete_capacity_provider().capacity_provider(name);
    if clients.names.is_managed_provider(name) {
        request = request.cluster(clients.names.cluster());
    }
    call!(clients.retry, "ecs:DeleteCapacityProvider", request)?;
    Ok(())
}

/// Every ACTIVE task definition revision of a family with our prefix, and
/// whether it carries our ownership tag. ListTaskDefinitions filters by one
/// whole family name, so the families are listed first.
async fn prefixed_task_definitions(clients: &Clients) -> Result<Vec<(String, bool)>, AwsError> {
    let names = &clients.names;
    let prefix = names.prefix();
    let mut families = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = call!(
            clients.retry,
            "ecs:ListTaskDefinitionFamilies",
            clients
                .ecs
                .list_task_definition_families()
                .family_prefix(format!("{prefix}-"))
                .status(ecs::TaskDefinitionFamilyStatus::Active)
                .set_next_token(next.clone())
        )?;
        families.extend(page.families().iter().filter(|f| names.owns_name(f)).cloned());
        next = page.next_token().map(str::to_owned);
        if next.is_none() {
            break;
        }
    }
    let mut out = Vec::new();
    for family in families {
        let mut next: Option<String> = None;
        loop {
            let page = call!(
                clients.retry,
                "ecs:ListTaskDefinitions",
                clients
                    .ecs
                    .list_task_definitions()
                    .family_prefix(&family)
                    .status(ecs::TaskDefinitionStatus::Active)
                    .set_next_token(next.clone())
            )?;
            for arn in page.task_definition_arns() {
                let described = call!(
                    clients.retry,
                    "ecs:DescribeTaskDefinition",
                    clients
                        .ecs
                        .describe_task_definition()
                        .task_definition(arn)
                        .include(ecs::TaskDefinitionField::Tags)
                )?;
                out.push((arn.clone(), ecs_owned(described.tags(), prefix)));
            }
            next = page.next_token().map(str::to_owned);
            if next.is_none() {
                break;
            }
        }
    }
    Ok(out)
}

/// What the cluster's live tasks use: task definition ARNs and capacity
/// provider names. A missing cluster uses nothing.
async fn in_use_by_tasks(
    clients: &Clients,
) -> Result<(BTreeSet<String>, BTreeSet<String>), AwsError> {
    let cluster = clients.names.cluster();
    let mut arns = Vec::new();
    // PENDING tasks (ECS still provisioning for them) are live too.
    for status in [ecs::DesiredStatus::Running, ecs::DesiredStatus::Pending] {
        let mut next: Option<String> = None;
        loop {
            let page = call!(
                clients.retry,
                "ecs:ListTasks",
                clients
                    .ecs
                    .list_tasks()
                    .cluster(&cluster)
                    .desired_status(status.clone())
                    .set_next_token(next.clone())
            );
            let page = match page {
                Ok(page) => page,
                Err(e) if e.class == ErrorClass::NotFound => break,
                Err(e) => return Err(e),
            };
            arns.extend(page.task_arns().iter().cloned());
            next = page.next_token().map(str::to_owned);
            if next.is_none() {
                break;
            }
        }
    }
    arns.sort();
    arns.dedup();
    let (mut definitions, mut providers) = (BTreeSet::new(), BTreeSet::new());
    for chunk in arns.chunks(100) {
        let described = call!(
            clients.retry,
            "ecs:DescribeTasks",
            clients.ecs.describe_tasks().cluster(&cluster).set_tasks(Some(chunk.to_vec()))
        )?;
        for task in described.tasks() {
            if task.last_status() == Some("STOPPED") {
                continue;
            }
            definitions.extend(task.task_definition_arn().map(str::to_owned));
            providers.extend(task.capacity_provider_name().map(str::to_owned));
        }
    }
    Ok((definitions, providers))
}

/// Removes what the prefix owns (prefix and ownership tag) and no longer
/// needs, short of a full tear-down:
///
/// - Auto Scaling Groups with no instance and desired capacity 0, with
///   their capacity providers;
/// - Managed Instances capacity providers no live task runs through;
/// - task definition revisions no live task uses.
///
/// Groups and providers named in `in_use` are kept whatever their state
/// (the provider passes those of the instances it holds). With `dry_run`,
/// only lists what would go. Nothing without both the prefix and the tag
/// is touched; such resources are not listed.
pub async fn cleanup(
    clients: &Clients,
    in_use: &BTreeSet<String>,
    dry_run: bool,
) -> Result<Report, AwsError> {
    let mut report = Report::default();
    let names = &clients.names;
    let prefix = names.prefix().to_owned();
    let (used_definitions, used_providers) = in_use_by_tasks(clients).await?;
    let keep = |name: &str| in_use.contains(name) || used_providers.contains(name);

    // Idle groups, paged.
    let mut idle_groups = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = call!(
            clients.retry,
            "autoscaling:DescribeAutoScalingGroups",
            clients
                .autoscaling
                .describe_auto_scaling_groups()
                .max_records(100)
                .set_next_token(next.clone())
        )?;
        for group in page.auto_scaling_groups() {
            let Some(name) = group.auto_scaling_group_name() else { continue };
            let tagged = group
                .tags()
                .iter()
                .any(|t| t.key() == Some(OWNER_TAG) && t.value() == Some(prefix.as_str()));
            let idle = group.desired_capacity() == Some(0) && group.instances().is_empty();
            if names.owns_name(name) && tagged && idle && !keep(name) {
                idle_groups.push(name.to_owned());
            } else {
                debug!(group = name, tagged, idle, "group kept");
            }
        }
        next = page.next_token().map(str::to_owned);
        if next.is_none() {
            break;
        }
    }

    // The capacity providers to remove: those of idle groups, and unused
    // Managed Instances ones, each only if tagged as ours.
    let cluster = names.cluster();
    let described = call!(
        clients.retry,
        "ecs:DescribeClusters",
        clients.ecs.describe_clusters().clusters(&cluster)
    )?;
    let attached: Vec<String> = described
        .clusters()
        .iter()
        .filter(|c| c.status() == Some("ACTIVE"))
        .flat_map(|c| c.capacity_providers().iter().cloned())
        .collect();
    let mut candidates: Vec<String> = idle_groups.clone();
    candidates
        .extend(attached.iter().filter(|p| names.is_managed_provider(p) && !keep(p)).cloned());
    let mut providers = Vec::new();
    if !candidates.is_empty() {
        let found = call!(
            clients.retry,
            "ecs:DescribeCapacityProviders",
            clients
                .ecs
                .describe_capacity_providers()
                .set_capacity_providers(Some(candidates))
                .include(ecs::CapacityProviderField::Tags)
        )?;
        providers.extend(
            found
                .capacity_providers()
                .iter()
                .filter(|p| ecs_owned(p.tags(), &prefix))
                .filter(|p| p.status() == Some(&ecs::CapacityProviderStatus::Active))
                .filter_map(|p| p.name().map(str::to_owned)),
        );
    }
    if !dry_run && attached.iter().any(|p| providers.contains(p)) {
        let remaining: Vec<String> =
            attached.iter().filter(|p| !providers.contains(p)).cloned().collect();
        call!(
            clients.retry,
            "ecs:PutClusterCapacityProviders",
            clients
                .ecs
                .put_cluster_capacity_providers()
                .cluster(&cluster)
                .set_capacity_providers(Some(remaining))
                .set_default_capacity_provider_strategy(Some(Vec::new()))
        )?;
    }
    for provider in &providers {
        if !dry_run {
            delete_capacity_provider(clients, provider).await?;
        }
        report.changed("capacity-provider", provider);
    }
    for group in &idle_groups {
        if !dry_run {
            call!(
                clients.retry,
                "autoscaling:DeleteAutoScalingGroup",
                clients.autoscaling.delete_auto_scaling_group().auto_scaling_group_name(group)
            )?;
        }
        report.changed("auto-scaling-group", group);
    }

    // Task definitions no live task uses.
    for (arn, tagged) in prefixed_task_definitions(clients).await? {
        if !tagged || used_definitions.contains(&arn) {
            continue;
        }
        if !dry_run {
            call!(
                clients.retry,
                "ecs:DeregisterTaskDefinition",
                clients.ecs.deregister_task_definition().task_definition(&arn)
            )?;
        }
        report.changed("task-definition", &arn);
    }
    Ok(report)
}
