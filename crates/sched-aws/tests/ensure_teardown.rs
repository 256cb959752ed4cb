//! Ensure-resources and tear-down against moto.

mod common;

use common::Moto;
use sched_aws::clients::Clients;
use sched_aws::ensure::{ensure, ensure_group, teardown, Report};
use sched_aws::names::OWNER_TAG;
use sched_core::catalog::{Architecture, CapacityType};

async fn prefixed_resources(clients: &Clients, prefix: &str) -> Vec<String> {
    let mut found = Vec::new();
    let clusters = clients.ecs.list_clusters().send().await.unwrap();
    found.extend(
        clusters.cluster_arns().iter().filter(|a| a.contains(&format!("/{prefix}-"))).cloned(),
    );
    // DeleteCluster in moto leaves the cluster INACTIVE; only ACTIVE ones count.
    if !found.is_empty() {
        let described =
            clients.ecs.describe_clusters().set_clusters(Some(found.clone())).send().await.unwrap();
        found = described
            .clusters()
            .iter()
            .filter(|c| c.status() == Some("ACTIVE"))
            .filter_map(|c| c.cluster_arn().map(str::to_owned))
            .collect();
    }
    let roles = clients.iam.list_roles().send().await.unwrap();
    found.extend(
        roles
            .roles()
            .iter()
            .map(|r| r.role_name().to_owned())
            .filter(|n| n.starts_with(&format!("{prefix}-"))),
    );
    let profiles = clients.iam.list_instance_profiles().send().await.unwrap();
    found.extend(
        profiles
            .instance_profiles()
            .iter()
            .map(|p| p.instance_profile_name().to_owned())
            .filter(|n| n.starts_with(&format!("{prefix}-"))),
    );
    let groups = clients.autoscaling.describe_auto_scaling_groups().send().await.unwrap();
    found.extend(
        groups
            .auto_scaling_groups()
            .iter()
            .filter_map(|g| g.auto_scaling_group_name())
            .filter(|n| n.starts_with(&format!("{prefix}-")))
            .map(str::to_owned),
    );
    let templates = clients.ec2.describe_launch_templates().send().await.unwrap();
    found.extend(
        templates
            .launch_templates()
            .iter()
            .filter_map(|t| t.launch_template_name())
            .filter(|n| n.starts_with(&format!("{prefix}-")))
            .map(str::to_owned),
    );
    let logs = clients
        .logs
        .describe_log_groups()
        .log_group_name_prefix(format!("/{prefix}/"))
        .send()
        .await
        .unwrap();
    found.extend(logs.log_groups().iter().filter_map(|g| g.log_group_name()).map(str::to_owned));
    let families = clients
        .ecs
        .list_task_definition_families()
        .family_prefix(format!("{prefix}-"))
        .send()
        .await
        .unwrap();
    for family in families.families() {
        let defs = clients.ecs.list_task_definitions().family_prefix(family).send().await.unwrap();
        found.extend(defs.task_definition_arns().iter().cloned());
    }
    found
}

#[tokio::test]
async fn a_second_ensure_creates_nothing() {
    let moto = Moto::start();
    let config = moto.config("cs1");
    let clients = Clients::new(&config).await.unwrap();

    let first = ensure(&clients, &config).await.unwrap();
    assert!(first.changed.contains(&"cluster cs1-cluster".to_owned()), "{first:?}");
    assert!(first.changed.contains(&"role cs1-task-execution".to_owned()), "{first:?}");
    assert!(first.changed.contains(&"instance-profile cs1-instance".to_owned()), "{first:?}");
    assert!(first.changed.contains(&"log-group /cs1/tasks".to_owned()), "{first:?}");
    assert!(first.changed.contains(&"launch-template cs1-ecs-al2023".to_owned()), "{first:?}");
    let mut report = Report::default();
    ensure_group(
        &clients,
        &config,
        "m5.large",
        Architecture::X86_64,
        CapacityType::Spot,
        &mut report,
    )
    .await
    .unwrap();
    assert!(report.changed.contains(&"auto-scaling-group cs1-m5-large-spot".to_owned()));
    assert!(report.changed.contains(&"capacity-provider cs1-m5-large-spot".to_owned()));

    let second = ensure(&clients, &config).await.unwrap();
    assert!(second.changed.is_empty(), "second ensure created {:?}", second.changed);
    assert_eq!(second.unchanged.len(), first.changed.len());
    let mut again = Report::default();
    ensure_group(
        &clients,
        &config,
        "m5.large",
        Architecture::X86_64,
        CapacityType::Spot,
        &mut again,
    )
    .await
    .unwrap();
    assert!(again.changed.is_empty(), "{again:?}");

    // The cluster lists the capacity provider once.
    let cluster = clients.ecs.describe_clusters().clusters("cs1-cluster").send().await.unwrap();
    assert_eq!(cluster.clusters()[0].capacity_providers(), ["cs1-m5-large-spot"]);
}

#[tokio::test]
async fn teardown_removes_only_what_prefix_and_tag_mark() {
    let moto = Moto::start();
    let config = moto.config("cs2");
    let clients = Clients::new(&config).await.unwrap();
    ensure(&clients, &config).await.unwrap();
    let mut report = Report::default();
    ensure_group(
        &clients,
        &config,
        "m5.large",
        Architecture::X86_64,
        CapacityType::OnDemand,
        &mut report,
    )
    .await
    .unwrap();

    // Unrelated: another cluster and role; and one with our prefix but no tag.
    clients.ecs.create_cluster().cluster_name("unrelated-cluster").send().await.unwrap();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    clients
        .iam
        .create_role()
        .role_name("unrelated-role")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    clients
        .iam
        .create_role()
        .role_name("cs2-handmade")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    // A role named like ours, tagged for another owner.
    let other_tag =
        aws_sdk_iam::types::Tag::builder().key(OWNER_TAG).value("someone-else").build().unwrap();
    clients
        .iam
        .create_role()
        .role_name("cs2-foreign")
        .assume_role_policy_document(trust)
        .tags(other_tag)
        .send()
        .await
        .unwrap();

    // A task definition of ours, and one with our prefix but no tag.
    let container = aws_sdk_ecs::types::ContainerDefinition::builder()
        .name("main")
        .image("busybox")
        .cpu(256)
        .memory(512)
        .build();
    let owner = aws_sdk_ecs::types::Tag::builder().key(OWNER_TAG).value("cs2").build();
    clients
        .ecs
        .register_task_definition()
        .family("cs2-owned")
        .container_definitions(container.clone())
        .tags(owner)
        .send()
        .await
        .unwrap();
    let untagged = clients
        .ecs
        .register_task_definition()
        .family("cs2-untagged")
        .container_definitions(container)
        .send()
        .await
        .unwrap();
    let untagged_arn =
        untagged.task_definition().unwrap().task_definition_arn().unwrap().to_owned();

    // A dry run changes nothing.
    let before = prefixed_resources(&clients, "cs2").await;
    let dry = teardown(&clients, true).await.unwrap();
    assert!(dry.changed.contains(&"cluster cs2-cluster".to_owned()), "{dry:?}");
    assert!(dry.changed.contains(&"auto-scaling-group cs2-m5-large-od".to_owned()), "{dry:?}");
    assert_eq!(prefixed_resources(&clients, "cs2").await, before);

    let done = teardown(&clients, false).await.unwrap();
    assert_eq!(done.changed, dry.changed);
    let mut left = prefixed_resources(&clients, "cs2").await;
    left.sort();
    assert_eq!(
        left,
        [untagged_arn.as_str(), "cs2-foreign", "cs2-handmade"],
        "only what lacks our tag remains"
    );

    let clusters =
        clients.ecs.describe_clusters().clusters("unrelated-cluster").send().await.unwrap();
    assert_eq!(clusters.clusters()[0].status(), Some("ACTIVE"));
    clients.iam.get_role().role_name("unrelated-role").send().await.unwrap();
}
