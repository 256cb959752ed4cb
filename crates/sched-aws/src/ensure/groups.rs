//! Auto Scaling Groups, one per instance type and capacity type (at size 0,
//! over the launch template), each with an ECS capacity provider attached
//! to the cluster.

use aws_sdk_autoscaling::types as asg;
use aws_sdk_ecs::types as ecs;
use sched_core::catalog::{Architecture, CapacityType};

use super::{ensure_launch_template, subnets, Report};
use crate::call;
use crate::clients::Clients;
use crate::config::AwsConfig;
use crate::error::AwsError;
use crate::names::OWNER_TAG;

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
