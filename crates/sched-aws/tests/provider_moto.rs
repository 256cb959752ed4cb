//! The AWS provider's actions and events against moto.

mod common;

use std::time::Duration;

use common::{catalog, register_group_instances, Moto};
use sched_aws::{AwsProvider, ContainerSpec};
use sched_core::catalog::OfferingId;
use sched_core::engine::Event;
use sched_core::problem::{InstanceId, TaskId};
use sched_core::provider::{Provider, ProviderError};
use sched_core::resources::Resources;

const SHAPE: Resources = Resources { millicpus: 1000, memory_mib: 2048, gpus: 0 };

/// Polls events, playing the ECS agent between polls, until `done` holds
/// for what came (at most 20 polls).
async fn poll_until(provider: &AwsProvider, mut done: impl FnMut(&[Event]) -> bool) -> Vec<Event> {
    let mut seen = Vec::new();
    for _ in 0..20 {
        register_group_instances(provider.clients()).await;
        seen.extend(provider.events().await.unwrap());
        if done(&seen) {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("condition not met; events were {seen:?}");
}

async fn running_copies(provider: &AwsProvider, task: TaskId) -> usize {
    let clients = provider.clients();
    clients
        .ecs
        .list_tasks()
        .cluster(clients.names.cluster())
        .started_by(clients.names.started_by(task.0))
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Running)
        .send()
        .await
        .unwrap()
        .task_arns()
        .len()
}

async fn desired(provider: &AwsProvider, group: &str) -> i32 {
    let out = provider
        .clients()
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(group)
        .send()
        .await
        .unwrap();
    out.auto_scaling_groups()[0].desired_capacity().unwrap()
}

#[tokio::test]
async fn launch_start_exit_stop_and_terminate() {
    let moto = Moto::start();
    let (provider, _) = AwsProvider::connect(moto.config("cp1"), catalog()).await.unwrap();
    let (a, b) = (InstanceId(1), InstanceId(2));

    provider.launch(a, OfferingId(0)).await.unwrap();
    provider.launch(a, OfferingId(0)).await.unwrap(); // retried: no second instance
    provider.launch(b, OfferingId(0)).await.unwrap();
    assert_eq!(desired(&provider, "cp1-m5-large-od").await, 2);
    let events = poll_until(&provider, |e| {
        e.contains(&Event::InstanceReady { instance: a })
            && e.contains(&Event::InstanceReady { instance: b })
    })
    .await;
    assert_eq!(events.len(), 2, "{events:?}");

    // A task without a container spec is refused with a clear error.
    let err = provider.start_task(TaskId(7), a, SHAPE).await.unwrap_err();
    assert!(matches!(err, ProviderError::Backend { ref code, .. } if code == "NoContainerSpec"));

    // Start twice: one ECS task. Task definitions are shared per image and shape.
    let spec = ContainerSpec::new("public.ecr.aws/docker/library/busybox:latest", &["true"]);
    provider.register_container(TaskId(7), spec.clone());
    provider.register_container(TaskId(8), spec);
    provider.start_task(TaskId(7), a, SHAPE).await.unwrap();
    provider.start_task(TaskId(7), a, SHAPE).await.unwrap();
    assert_eq!(running_copies(&provider, TaskId(7)).await, 1);
    provider.start_task(TaskId(8), b, SHAPE).await.unwrap();
    let families = provider
        .clients()
        .ecs
        .list_task_definition_families()
        .family_prefix("cp1-")
        .send()
        .await
        .unwrap();
    assert_eq!(families.families().len(), 1, "one definition for one image and shape");

    // Stop task 8 now: its end is not reported as an exit.
    provider.stop_task(TaskId(8)).await.unwrap();

    // moto moves task 7 one step per DescribeTasks: started, then exited 0.
    let events =
        poll_until(&provider, |e| e.contains(&Event::TaskExited { task: TaskId(7), exit_code: 0 }))
            .await;
    assert_eq!(events[0], Event::TaskStarted { task: TaskId(7) }, "{events:?}");
    assert!(!events.iter().any(|e| matches!(e, Event::TaskExited { task: TaskId(8), .. })));

    provider.terminate(a).await.unwrap();
    provider.terminate(b).await.unwrap();
    let events = provider.events().await.unwrap();
    assert!(events.contains(&Event::InstanceTerminated { instance: a }), "{events:?}");
    assert!(events.contains(&Event::InstanceTerminated { instance: b }), "{events:?}");
    assert_eq!(desired(&provider, "cp1-m5-large-od").await, 0);
    // Terminated instances are not reported as reclaimed.
    let later = provider.events().await.unwrap();
    assert!(later.is_empty(), "{later:?}");
}

#[tokio::test]
async fn an_instance_ended_by_ec2_is_reclaimed() {
    let moto = Moto::start();
    let (provider, _) = AwsProvider::connect(moto.config("cp2"), catalog()).await.unwrap();
    let spot = InstanceId(5);
    provider.launch(spot, OfferingId(1)).await.unwrap();
    poll_until(&provider, |e| e.contains(&Event::InstanceReady { instance: spot })).await;
    let ec2_id = provider.ec2_instance_id(spot).unwrap();

    // The instance carries its engine id, for a restart to find it.
    let tags = provider
        .clients()
        .ec2
        .describe_tags()
        .filters(aws_sdk_ec2::types::Filter::builder().name("resource-id").values(&ec2_id).build())
        .send()
        .await
        .unwrap();
    assert!(tags
        .tags()
        .iter()
        .any(|t| t.key() == Some("cloud-sched:instance") && t.value() == Some("5")));

    provider.clients().ec2.terminate_instances().instance_ids(&ec2_id).send().await.unwrap();
    let events = provider.events().await.unwrap();
    assert_eq!(events, [Event::InstanceReclaimed { instance: spot }]);
    // Once only.
    assert!(provider.events().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_restarted_provider_creates_nothing_and_never_starts_a_task_twice() {
    let moto = Moto::start();
    moto.tasks_stay_running();
    let config = moto.config("cp3");
    let (first, created) = AwsProvider::connect(config.clone(), catalog()).await.unwrap();
    assert!(!created.changed.is_empty());
    first.launch(InstanceId(1), OfferingId(0)).await.unwrap();
    poll_until(&first, |e| e.contains(&Event::InstanceReady { instance: InstanceId(1) })).await;
    first.register_container(TaskId(3), ContainerSpec::new("busybox", &[]));
    first.start_task(TaskId(3), InstanceId(1), SHAPE).await.unwrap();
    let arn = first.task_arn(TaskId(3)).unwrap();

    let (second, report) = AwsProvider::connect(config, catalog()).await.unwrap();
    assert!(report.changed.is_empty(), "restart created {:?}", report.changed);
    assert_eq!(second.recover().await.unwrap(), (1, 1));
    second.register_container(TaskId(3), ContainerSpec::new("busybox", &[]));
    second.start_task(TaskId(3), InstanceId(1), SHAPE).await.unwrap();
    assert_eq!(second.task_arn(TaskId(3)).unwrap(), arn);
    assert_eq!(running_copies(&second, TaskId(3)).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_launches_into_one_group_each_raise_its_capacity() {
    let moto = Moto::start();
    let (provider, _) = AwsProvider::connect(moto.config("cp4"), catalog()).await.unwrap();
    let provider = std::sync::Arc::new(provider);
    // The group exists first, so the launches race on its desired capacity only.
    provider.launch(InstanceId(100), OfferingId(0)).await.unwrap();
    let launches: Vec<_> = (1..=6)
        .map(|i| {
            let provider = provider.clone();
            // Instance 3 twice: a retry racing its own first call.
            let id = if i == 6 { 3 } else { i };
            tokio::spawn(async move { provider.launch(InstanceId(id), OfferingId(0)).await })
        })
        .collect();
    for launch in launches {
        launch.await.unwrap().unwrap();
    }
    assert_eq!(desired(&provider, "cp4-m5-large-od").await, 6, "one per distinct instance");
}
