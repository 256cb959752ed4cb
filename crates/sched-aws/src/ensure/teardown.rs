//! Tear-down: everything whose name has the prefix and which carries the
//! ownership tag, in dependency order (the cluster's tasks, instances and
//! providers, the cluster, task definitions, groups, launch templates, the
//! log group, the instance profile, the roles).

use aws_sdk_ecs::types as ecs;

use super::owned::{delete_capacity_provider, ecs_owned, prefixed_task_definitions};
use super::Report;
use crate::call;
use crate::clients::Clients;
use crate::error::{AwsError, ErrorClass};
use crate::names::OWNER_TAG;

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
