//! Clean-up: what the prefix owns and no longer needs (idle groups, unused
//! capacity providers and task definitions), short of a full tear-down.

use std::collections::BTreeSet;

use aws_sdk_ecs::types as ecs;
use tracing::debug;

use super::owned::{delete_capacity_provider, ecs_owned, prefixed_task_definitions};
use super::Report;
use crate::call;
use crate::clients::Clients;
use crate::error::{AwsError, ErrorClass};
use crate::names::OWNER_TAG;

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
    for task in clients.describe_tasks(&arns).await? {
        if task.last_status() == Some("STOPPED") {
            continue;
        }
        definitions.extend(task.task_definition_arn().map(str::to_owned));
        providers.extend(task.capacity_provider_name().map(str::to_owned));
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
