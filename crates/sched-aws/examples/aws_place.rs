//! Drives one placement through the AWS provider against an endpoint given
//! on the command line (an emulator on loopback, say):
//!
//! ```sh
//! cargo run -p sched-aws --example aws_place -- http://127.0.0.1:5000
//! ```
//!
//! It connects (creating the cluster, roles, log group and launch template
//! if missing), submits one task to the engine, and carries out the engine's
//! actions until the task has a home and has started: the engine picks the
//! offering, the provider launches it, and the task is started on it when
//! the instance is ready. Against moto, which never registers instances with
//! ECS, the example plays the ECS agent itself, so it runs end to end.

use std::time::Duration;

use sched_aws::{AwsConfig, AwsProvider, ContainerSpec};
use sched_core::catalog::{
    Architecture, CapacityType, Catalog, InstanceType, InstanceTypeId, Offering, OfferingId,
    UsdPerHour,
};
use sched_core::engine::{Action, Engine, Event, TaskSpec};
use sched_core::policy::{Policy, ProvisioningModel};
use sched_core::problem::TaskId;
use sched_core::provider::{Provider, ProviderExt};
use sched_core::resources::Resources;
use sched_core::solver::Greedy;
use sched_core::time::Millis;

fn catalog() -> Catalog {
    let ty = InstanceType {
        name: "m5.large".into(),
        family: "m5".into(),
        arch: Architecture::X86_64,
        vcpus: 2,
        memory_mib: 8192,
        gpus: 0,
        gpu_model: None,
        accelerators: 0,
    };
    let offering = |capacity_type, price| Offering {
        id: OfferingId(0),
        instance_type: InstanceTypeId(0),
        capacity_type,
        zone: None,
        price: UsdPerHour(price),
        interruption: None,
    };
    Catalog::new(
        "us-east-1",
        vec![ty],
        vec![offering(CapacityType::OnDemand, 0.096), offering(CapacityType::Spot, 0.04)],
    )
    .expect("a valid catalog")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::args().nth(1).ok_or("usage: aws_place ENDPOINT_URL")?;
    let config = AwsConfig::new()
        .with_region("us-east-1")
        .with_endpoint(endpoint)
        .with_static_credentials("testing", "testing")
        .with_prefix("example");
    let (provider, created) = AwsProvider::connect(config, catalog()).await?;
    println!("created {:?}", created.changed);

    let task = TaskId(1);
    provider.register_container(task, ContainerSpec::new("busybox", &["echo", "hello"]));
    // On demand only: the example places one task, with no spot fallback to show.
    let mut policy = Policy::default();
    policy.provisioning = ProvisioningModel::OnDemand;
    // What the capacity backend keeps on each instance (nothing for groups,
    // the anchor task for Managed Instances) is not for tasks.
    policy.overhead = policy.overhead.plus(provider.instance_overhead());
    let candidates = policy.candidates(&catalog())?;
    let mut engine = Engine::new(policy, candidates, Box::new(Greedy));
    let requested = Resources { millicpus: 1000, memory_mib: 2048, gpus: 0 };
    let mut now = Millis(0);
    engine.handle(
        now,
        Event::TaskSubmitted(TaskSpec {
            id: task,
            process: "hello".into(),
            requested,
            allocated: requested,
            arch: None,
        }),
    )?;
    engine.handle(now, Event::SubmissionsClosed)?;

    for _ in 0..60 {
        for action in engine.decide(now) {
            println!("action {action:?}");
            if let Some(event) = provider.carry_out(&action).await? {
                engine.handle(now, event)?;
            }
            if let Action::StartTask { .. } = action {
                println!("placed and started");
            }
        }
        play_agent(&provider).await?;
        for event in provider.events().await? {
            println!("event {event:?}");
            let started = matches!(event, Event::TaskStarted { .. });
            engine.handle(now, event)?;
            if started {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        now = now + Millis(200);
    }
    Err("the task did not start".into())
}

/// Registers the groups' new EC2 instances with ECS, as the agent on them
/// would (an emulator has no agent; real instances register themselves).
async fn play_agent(provider: &AwsProvider) -> Result<(), Box<dyn std::error::Error>> {
    let clients = provider.clients();
    let cluster = clients.names.cluster();
    let listed = clients.ecs.list_container_instances().cluster(&cluster).send().await?;
    let mut registered = Vec::new();
    if !listed.container_instance_arns().is_empty() {
        let described = clients
            .ecs
            .describe_container_instances()
            .cluster(&cluster)
            .set_container_instances(Some(listed.container_instance_arns().to_vec()))
            .send()
            .await?;
        registered.extend(
            described
                .container_instances()
                .iter()
                .filter_map(|c| c.ec2_instance_id())
                .map(str::to_owned),
        );
    }
    let groups = clients.autoscaling.describe_auto_scaling_groups().send().await?;
    for group in groups.auto_scaling_groups() {
        if !group.auto_scaling_group_name().unwrap_or_default().starts_with("example-") {
            continue;
        }
        for instance in group.instances() {
            let Some(id) = instance.instance_id() else { continue };
            if registered.iter().any(|r| r == id) {
                continue;
            }
            let document = serde_json::json!({
                "instanceId": id, "region": "us-east-1", "availabilityZone": "us-east-1a",
                "instanceType": "m5.large", "accountId": "123456789012", "imageId": "ami-12345678",
                "privateIp": "10.0.0.1", "architecture": "x86_64", "version": "2017-09-30"
            });
            clients
                .ecs
                .register_container_instance()
                .cluster(&cluster)
                .instance_identity_document(document.to_string())
                .send()
                .await?;
        }
    }
    Ok(())
}
