//! The ECS cluster, created if missing.

use aws_sdk_ecs::types as ecs;

use super::Report;
use crate::call;
use crate::clients::Clients;
use crate::error::AwsError;
use crate::names::OWNER_TAG;

pub(super) async fn ensure_cluster(clients: &Clients, report: &mut Report) -> Result<(), AwsError> {
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
