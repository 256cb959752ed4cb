//! What tear-down and clean-up share: whether an ECS resource carries our
//! ownership tag, the prefix's task definitions, and deleting a capacity
//! provider.

use aws_sdk_ecs::types as ecs;

use crate::call;
use crate::clients::Clients;
use crate::error::AwsError;
use crate::names::OWNER_TAG;

pub(super) fn ecs_owned(tags: &[ecs::Tag], prefix: &str) -> bool {
    tags.iter().any(|t| t.key() == Some(OWNER_TAG) && t.value() == Some(prefix))
}

/// Deletes a capacity provider; a Managed Instances one is named with its
/// cluster, which it belongs to.
pub(super) async fn delete_capacity_provider(
    clients: &Clients,
    name: &str,
) -> Result<(), AwsError> {
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
pub(super) async fn prefixed_task_definitions(
    clients: &Clients,
) -> Result<Vec<(String, bool)>, AwsError> {
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
