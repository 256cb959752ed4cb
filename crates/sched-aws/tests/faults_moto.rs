//! The AWS provider under the fault-injecting wrapper: throttling,
//! transient errors and lost answers at a seeded rate, every call retried
//! as the engine's driver would. Whatever was injected, each task runs
//! once and nothing is left renting.

mod common;

use std::future::Future;
use std::time::Duration;

use common::{catalog, register_group_instances, Moto};
use sched_aws::ensure::teardown;
use sched_aws::{AwsProvider, ContainerSpec};
use sched_core::catalog::OfferingId;
use sched_core::engine::Event;
use sched_core::problem::{InstanceId, TaskId};
use sched_core::provider::faults::{FaultConfig, FaultKind, FaultyProvider};
use sched_core::provider::retry::RetryPolicy;
use sched_core::provider::{Provider, ProviderError};
use sched_core::resources::Resources;

const SHAPE: Resources = Resources { millicpus: 1000, memory_mib: 1024, gpus: 0 };

/// Calls `call` until it succeeds, retrying what the core's policy says is
/// worth it (no waits: the faults are injected, not real).
async fn retried<T, F, Fut>(what: &str, mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    for _ in 0..40 {
        match call().await {
            Ok(value) => return value,
            Err(e) if RetryPolicy::retryable(&e) => continue,
            Err(e) => panic!("{what}: {e}"),
        }
    }
    panic!("{what}: still failing after 40 calls");
}

async fn poll(faulty: &FaultyProvider<AwsProvider>, seen: &mut Vec<Event>) {
    register_group_instances(faulty.inner().clients()).await;
    seen.extend(retried("events", || faulty.events()).await);
    tokio::time::sleep(Duration::from_millis(10)).await;
}

async fn copies_ever_started(provider: &AwsProvider, task: TaskId) -> usize {
    let clients = provider.clients();
    // Without desiredStatus moto lists stopped tasks too: every copy ever started.
    let listed = clients
        .ecs
        .list_tasks()
        .cluster(clients.names.cluster())
        .started_by(clients.names.started_by(task.0))
        .send()
        .await
        .unwrap();
    listed.task_arns().len()
}

async fn run(seed: u64) {
    let moto = Moto::start();
    moto.tasks_stay_running();
    let prefix = format!("flt{seed}");
    let (provider, _) = AwsProvider::connect(moto.config(&prefix), catalog()).await.unwrap();
    let faults = FaultConfig::none(seed)
        .with_rate(FaultKind::Throttled, 0.3)
        .with_rate(FaultKind::Transient, 0.3)
        .with_rate(FaultKind::LostResponse, 0.6);
    let faulty = FaultyProvider::new(provider, faults);
    let instances = [InstanceId(1), InstanceId(2), InstanceId(3)];
    let tasks = [TaskId(11), TaskId(12), TaskId(13)];

    for &instance in &instances {
        retried("launch", || faulty.launch(instance, OfferingId(0))).await;
    }
    let mut seen = Vec::new();
    for _ in 0..30 {
        if instances.iter().all(|&i| seen.contains(&Event::InstanceReady { instance: i })) {
            break;
        }
        poll(&faulty, &mut seen).await;
    }
    for &instance in &instances {
        let ready = seen.iter().filter(|e| **e == Event::InstanceReady { instance }).count();
        assert_eq!(ready, 1, "{instance} ready once: {seen:?}");
    }

    for (&task, &instance) in tasks.iter().zip(&instances) {
        faulty.inner().register_container(task, ContainerSpec::new("busybox", &["sleep", "60"]));
        retried("start", || faulty.start_task(task, instance, SHAPE)).await;
    }
    retried("stop", || faulty.stop_task(tasks[0])).await;
    for _ in 0..5 {
        poll(&faulty, &mut seen).await;
    }
    for &instance in &instances {
        retried("terminate", || faulty.terminate(instance)).await;
    }
    for _ in 0..3 {
        poll(&faulty, &mut seen).await;
    }

    // Faults of every kind asked for were injected.
    let counts = faulty.counts();
    for kind in [FaultKind::Throttled, FaultKind::Transient, FaultKind::LostResponse] {
        assert!(counts.of(kind) > 0, "seed {seed}: no {kind} injected: {counts:?}");
    }
    // No task ran twice, none exited (one stopped, two ended with their instances).
    let provider = faulty.inner();
    for &task in &tasks {
        assert_eq!(copies_ever_started(provider, task).await, 1, "seed {seed}: {task}");
    }
    assert!(!seen.iter().any(|e| matches!(e, Event::TaskExited { .. })), "{seen:?}");
    for &instance in &instances {
        let terminated = seen.iter().filter(|e| **e == Event::InstanceTerminated { instance });
        assert_eq!(terminated.count(), 1, "{instance} terminated once: {seen:?}");
        assert!(!seen.contains(&Event::InstanceReclaimed { instance }), "{seen:?}");
    }
    // Nothing left renting: the group is back to 0, and the EC2 instances ended.
    let group = provider
        .clients()
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(format!("{prefix}-m5-large-od"))
        .send()
        .await
        .unwrap();
    assert_eq!(group.auto_scaling_groups()[0].desired_capacity(), Some(0), "seed {seed}");
    for &instance in &instances {
        let ec2_id = provider.ec2_instance_id(instance).expect("bound");
        let described =
            provider.clients().ec2.describe_instances().instance_ids(&ec2_id).send().await.unwrap();
        let state = described.reservations()[0].instances()[0].state().unwrap().name().unwrap();
        assert!(
            matches!(state.as_str(), "shutting-down" | "terminated"),
            "seed {seed}: {ec2_id} is {state:?}"
        );
    }
    // And tear-down leaves nothing with the prefix.
    teardown(provider.clients(), false).await.unwrap();
    let left = teardown(provider.clients(), true).await.unwrap();
    assert!(left.changed.is_empty() && left.unchanged.is_empty(), "{left:?}");
}

#[tokio::test]
async fn retried_calls_under_faults_run_each_task_once_and_leak_nothing() {
    for seed in [1, 2] {
        run(seed).await;
    }
}
