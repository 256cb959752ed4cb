//! Clean-up of what is no longer needed, against moto: idle groups and
//! their capacity providers, unused task definitions; never what lacks the
//! prefix or the tag, nor what runs.

mod common;

use std::time::Duration;

use common::{catalog, register_group_instances, Moto};
use sched_aws::names::OWNER_TAG;
use sched_aws::{AwsProvider, ContainerSpec};
use sched_core::catalog::OfferingId;
use sched_core::engine::Event;
use sched_core::problem::{InstanceId, TaskId};
use sched_core::provider::Provider;
use sched_core::resources::Resources;

const SHAPE: Resources = Resources { millicpus: 1000, memory_mib: 2048, gpus: 0 };

async fn group_names(provider: &AwsProvider) -> Vec<String> {
    let out = provider.clients().autoscaling.describe_auto_scaling_groups().send().await.unwrap();
    let mut names: Vec<String> = out
        .auto_scaling_groups()
        .iter()
        .filter_map(|g| g.auto_scaling_group_name())
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

async fn ready(provider: &AwsProvider, instance: InstanceId) {
    for _ in 0..20 {
        register_group_instances(provider.clients()).await;
        if provider.events().await.unwrap().contains(&Event::InstanceReady { instance }) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{instance} never ready");
}

#[tokio::test]
async fn cleanup_removes_idle_groups_and_unused_definitions_only() {
    let moto = Moto::start();
    moto.tasks_stay_running();
    let (provider, _) = AwsProvider::connect(moto.config("cl1"), catalog()).await.unwrap();
    let clients = provider.clients().clone();

    // Instance 1 (on demand) runs a task; instance 2 (spot) is released.
    provider.launch(InstanceId(1), OfferingId(0)).await.unwrap();
    provider.launch(InstanceId(2), OfferingId(1)).await.unwrap();
    ready(&provider, InstanceId(1)).await;
    provider.register_container(TaskId(1), ContainerSpec::new("busybox", &["sleep", "60"]));
    provider.start_task(TaskId(1), InstanceId(1), SHAPE).await.unwrap();
    provider.terminate(InstanceId(2)).await.unwrap();

    // An idle group of ours whose instances the process no longer holds,
    // an older task definition of ours, and things that are not ours.
    let tag = aws_sdk_autoscaling::types::Tag::builder().key(OWNER_TAG).value("cl1").build();
    let template = aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
        .launch_template_name("cl1-ecs-al2023")
        .build();
    for (name, tagged) in
        [("cl1-handmade", false), ("unrelated-group", true), ("cl1-c5-large-od", true)]
    {
        let mut create = clients
            .autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(name)
            .min_size(0)
            .max_size(1)
            .desired_capacity(0)
            .launch_template(template.clone())
            .availability_zones("us-east-1a");
        if tagged {
            // "unrelated-group" carries our tag but not our prefix.
            create = create.tags(tag.clone());
        }
        create.send().await.unwrap();
    }
    clients.ecs.create_cluster().cluster_name("unrelated-cluster").send().await.unwrap();
    let container = aws_sdk_ecs::types::ContainerDefinition::builder()
        .name("main")
        .image("busybox")
        .cpu(256)
        .memory(512)
        .build();
    let owner = aws_sdk_ecs::types::Tag::builder().key(OWNER_TAG).value("cl1").build();
    let old = clients
        .ecs
        .register_task_definition()
        .family("cl1-old")
        .container_definitions(container.clone())
        .tags(owner)
        .send()
        .await
        .unwrap();
    let old_arn = old.task_definition().unwrap().task_definition_arn().unwrap().to_owned();
    let untagged = clients
        .ecs
        .register_task_definition()
        .family("cl1-untagged")
        .container_definitions(container)
        .send()
        .await
        .unwrap();
    let untagged_arn =
        untagged.task_definition().unwrap().task_definition_arn().unwrap().to_owned();
    let running_definition = {
        let arn = provider.task_arn(TaskId(1)).unwrap();
        let described =
            clients.ecs.describe_tasks().cluster("cl1-cluster").tasks(arn).send().await.unwrap();
        described.tasks()[0].task_definition_arn().unwrap().to_owned()
    };

    // A dry run lists and changes nothing.
    let before = group_names(&provider).await;
    let dry = provider.cleanup(true).await.unwrap();
    let mut expected = vec![
        "auto-scaling-group cl1-c5-large-od".to_owned(),
        "auto-scaling-group cl1-m5-large-spot".to_owned(),
        "capacity-provider cl1-m5-large-spot".to_owned(),
        format!("task-definition {old_arn}"),
    ];
    expected.sort();
    let mut listed = dry.changed.clone();
    listed.sort();
    assert_eq!(listed, expected);
    assert_eq!(group_names(&provider).await, before);

    let done = provider.cleanup(false).await.unwrap();
    assert_eq!(done.changed, dry.changed);
    assert_eq!(
        group_names(&provider).await,
        ["cl1-handmade", "cl1-m5-large-od", "unrelated-group"],
        "the group in use and what is not ours remain"
    );
    let cluster = clients.ecs.describe_clusters().clusters("cl1-cluster").send().await.unwrap();
    assert_eq!(cluster.clusters()[0].capacity_providers(), ["cl1-m5-large-od"]);
    let status = |arn: String| {
        let ecs = clients.ecs.clone();
        async move {
            let out = ecs.describe_task_definition().task_definition(arn).send().await.unwrap();
            out.task_definition().unwrap().status().unwrap().as_str().to_owned()
        }
    };
    assert_eq!(status(old_arn).await, "INACTIVE");
    assert_eq!(status(untagged_arn).await, "ACTIVE", "untagged: not ours");
    assert_eq!(status(running_definition).await, "ACTIVE", "a running task uses it");
    let unrelated =
        clients.ecs.describe_clusters().clusters("unrelated-cluster").send().await.unwrap();
    assert_eq!(unrelated.clusters()[0].status(), Some("ACTIVE"));

    // A second clean-up finds nothing; a new spot launch creates its group again.
    assert!(provider.cleanup(false).await.unwrap().changed.is_empty());
    provider.launch(InstanceId(3), OfferingId(1)).await.unwrap();
    assert!(group_names(&provider).await.contains(&"cl1-m5-large-spot".to_owned()));
}
