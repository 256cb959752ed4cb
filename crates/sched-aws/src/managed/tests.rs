//! Managed Instances through mocked SDK answers (moto lacks these calls):
//! the requests sent, and how answers and errors are handled.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput;
use aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsOutput;
use aws_sdk_ecs::operation::create_capacity_provider::{
    CreateCapacityProviderError, CreateCapacityProviderInput, CreateCapacityProviderOutput,
};
use aws_sdk_ecs::operation::describe_capacity_providers::DescribeCapacityProvidersOutput;
use aws_sdk_ecs::operation::describe_container_instances::DescribeContainerInstancesOutput;
use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionError;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::list_container_instances::ListContainerInstancesOutput;
use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
use aws_sdk_ecs::operation::register_task_definition::{
    RegisterTaskDefinitionInput, RegisterTaskDefinitionOutput,
};
use aws_sdk_ecs::operation::run_task::{RunTaskInput, RunTaskOutput};
use aws_sdk_ecs::Client as Ecs;
use aws_smithy_mocks::{mock, Rule};
use aws_smithy_types::error::ErrorMetadata;
use sched_core::catalog::{
    Architecture, Catalog, InstanceType, InstanceTypeId, Offering, OfferingId, UsdPerHour,
};
use sched_core::engine::{Event, LaunchFailure};
use sched_core::problem::{InstanceId, TaskId};
use sched_core::provider::{Provider, ProviderError};
use sched_core::resources::Resources;

use super::*;
use crate::config::CapacityBackend;
use crate::provider::{AwsProvider, ContainerSpec};
use crate::test_mocks::{clients, Rules};

const INFRA: &str = "arn:aws:iam::123456789012:role/cs-infrastructure";
const PROFILE: &str = "arn:aws:iam::123456789012:instance-profile/cs-instance";
const ANCHOR_DEF: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/cs-anchor:1";

fn config() -> AwsConfig {
    AwsConfig::new().with_prefix("cs").with_capacity(CapacityBackend::ManagedInstances)
}

fn roles() -> ManagedRoles {
    ManagedRoles { infrastructure_role_arn: INFRA.into(), instance_profile_arn: PROFILE.into() }
}

fn spot_class() -> OfferingClass {
    OfferingClass {
        type_name: "m5.large".into(),
        vcpus: 2,
        memory_mib: 8192,
        capacity: CapacityType::Spot,
    }
}

/// m5.large on demand (offering 0) and spot (offering 1).
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
    .unwrap()
}

fn error(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

fn no_provider() -> Rule {
    mock!(Ecs::describe_capacity_providers)
        .then_output(|| DescribeCapacityProvidersOutput::builder().build())
}

fn default_subnets() -> Rule {
    mock!(aws_sdk_ec2::Client::describe_subnets).then_output(|| {
        DescribeSubnetsOutput::builder()
            .subnets(aws_sdk_ec2::types::Subnet::builder().subnet_id("subnet-a").build())
            .subnets(aws_sdk_ec2::types::Subnet::builder().subnet_id("subnet-b").build())
            .build()
    })
}

type Seen<T> = Arc<Mutex<Vec<T>>>;

fn create_recording(seen: &Seen<CreateCapacityProviderInput>) -> Rule {
    let seen = seen.clone();
    mock!(Ecs::create_capacity_provider)
        .match_requests(move |r| {
            seen.lock().unwrap().push(r.clone());
            true
        })
        .then_output(|| CreateCapacityProviderOutput::builder().build())
}

#[tokio::test]
async fn a_provider_is_created_for_one_type_and_capacity_with_our_roles_and_tag() {
    let seen: Seen<CreateCapacityProviderInput> = Arc::default();
    let (describe, subnets, create) = (no_provider(), default_subnets(), create_recording(&seen));
    let rules = Rules { ecs: vec![&describe, &create], ec2: vec![&subnets], ..Rules::default() };
    let clients = clients(&config(), rules);
    let mut report = Report::default();
    let name =
        ensure_provider(&clients, &config(), &roles(), &spot_class(), &mut report).await.unwrap();
    assert_eq!(name, "cs-mi-m5-large-spot");
    assert_eq!(report.changed, ["capacity-provider cs-mi-m5-large-spot"]);

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let sent = &seen[0];
    assert_eq!(sent.name(), Some("cs-mi-m5-large-spot"));
    assert_eq!(sent.cluster(), Some("cs-cluster"));
    assert!(sent.auto_scaling_group_provider().is_none());
    let tags: Vec<(Option<&str>, Option<&str>)> =
        sent.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, [(Some(OWNER_TAG), Some("cs"))]);
    let mi = sent.managed_instances_provider().expect("managedInstancesProvider");
    assert_eq!(mi.infrastructure_role_arn(), INFRA);
    assert_eq!(mi.propagate_tags(), Some(&ecs::PropagateMiTags::CapacityProvider));
    let template = mi.instance_launch_template().expect("instanceLaunchTemplate");
    assert_eq!(template.ec2_instance_profile_arn(), PROFILE);
    assert_eq!(template.capacity_option_type(), Some(&ecs::CapacityOptionType::Spot));
    assert_eq!(
        template.network_configuration().map(|n| n.subnets().to_vec()),
        Some(vec!["subnet-a".to_owned(), "subnet-b".to_owned()])
    );
    let req = template.instance_requirements().expect("instanceRequirements");
    assert_eq!(req.allowed_instance_types(), ["m5.large"]);
    assert_eq!(req.v_cpu_count().map(|v| (v.min(), v.max())), Some((2, Some(2))));
    assert_eq!(req.memory_mib().map(|m| (m.min(), m.max())), Some((8192, Some(8192))));
}

#[test]
fn on_demand_classes_ask_for_on_demand_capacity() {
    let class = OfferingClass { capacity: CapacityType::OnDemand, ..spot_class() };
    let config = provider_configuration(&class, &roles(), &["subnet-a".to_owned()]).unwrap();
    let template = config.instance_launch_template().unwrap();
    assert_eq!(template.capacity_option_type(), Some(&ecs::CapacityOptionType::OnDemand));
    let huge = OfferingClass { memory_mib: u64::MAX, ..class };
    let err = provider_configuration(&huge, &roles(), &[]).unwrap_err();
    assert!(err.message.contains("m5.large memory MiB"), "{err}");
}

#[tokio::test]
async fn an_existing_provider_is_reused_only_when_it_is_ours() {
    let tagged = |owner: &'static str| {
        mock!(Ecs::describe_capacity_providers).then_output(move || {
            DescribeCapacityProvidersOutput::builder()
                .capacity_providers(
                    ecs::CapacityProvider::builder()
                        .name("cs-mi-m5-large-spot")
                        .status(ecs::CapacityProviderStatus::Active)
                        .tags(ecs::Tag::builder().key(OWNER_TAG).value(owner).build())
                        .build(),
                )
                .build()
        })
    };
    let seen: Seen<CreateCapacityProviderInput> = Arc::default();
    let (ours, create) = (tagged("cs"), create_recording(&seen));
    let mocked = clients(&config(), Rules { ecs: vec![&ours, &create], ..Rules::default() });
    let mut report = Report::default();
    ensure_provider(&mocked, &config(), &roles(), &spot_class(), &mut report).await.unwrap();
    assert_eq!(report.unchanged, ["capacity-provider cs-mi-m5-large-spot"]);
    assert_eq!(create.num_calls(), 0, "nothing created twice");

    let (foreign, create) = (tagged("someone-else"), create_recording(&seen));
    let mocked = clients(&config(), Rules { ecs: vec![&foreign, &create], ..Rules::default() });
    let err = ensure_provider(&mocked, &config(), &roles(), &spot_class(), &mut Report::default())
        .await
        .unwrap_err();
    assert_eq!(err.code, "NotOwned", "{err}");
    assert_eq!(create.num_calls(), 0);
}

#[tokio::test]
async fn create_errors_are_classified_and_a_lost_answer_is_no_error() {
    let failing = |code: &'static str, message: &'static str| {
        mock!(Ecs::create_capacity_provider)
            .then_error(move || CreateCapacityProviderError::generic(error(code, message)))
    };
    let mut config = config();
    config.subnets = vec!["subnet-x".into()];
    for (code, message, expected) in [
        ("LimitExceededException", "capacity providers per cluster", Some(ErrorClass::Quota)),
        (
            "AccessDeniedException",
            "not authorized to perform iam:PassRole",
            Some(ErrorClass::Other),
        ),
        ("ClientException", "The specified capacity provider already exists.", None),
    ] {
        let (describe, create) = (no_provider(), failing(code, message));
        let mocked = clients(&config, Rules { ecs: vec![&describe, &create], ..Rules::default() });
        let mut report = Report::default();
        let got = ensure_provider(&mocked, &config, &roles(), &spot_class(), &mut report).await;
        match expected {
            Some(class) => {
                let err = got.unwrap_err();
                assert_eq!((err.class, err.code.as_str()), (class, code), "{err}");
                assert_eq!(err.operation, "ecs:CreateCapacityProvider");
            }
            None => {
                assert_eq!(got.unwrap(), "cs-mi-m5-large-spot");
                assert_eq!(report.unchanged, ["capacity-provider cs-mi-m5-large-spot"]);
            }
        }
    }
}

fn anchor_missing_then_registered(seen: &Seen<RegisterTaskDefinitionInput>) -> [Rule; 2] {
    let describe = mock!(Ecs::describe_task_definition).then_error(|| {
        DescribeTaskDefinitionError::generic(error(
            "ClientException",
            "Unable to describe task definition.",
        ))
    });
    let seen = seen.clone();
    let register = mock!(Ecs::register_task_definition)
        .match_requests(move |r| {
            seen.lock().unwrap().push(r.clone());
            true
        })
        .then_compute_output(|r| {
            let arn = format!(
                "arn:aws:ecs:us-east-1:123456789012:task-definition/{}:1",
                r.family().unwrap_or_default()
            );
            RegisterTaskDefinitionOutput::builder()
                .task_definition(ecs::TaskDefinition::builder().task_definition_arn(arn).build())
                .build()
        });
    [describe, register]
}

fn task(arn: &str, started_by: &str, ci: Option<&str>, status: &str) -> ecs::Task {
    ecs::Task::builder()
        .task_arn(arn)
        .started_by(started_by)
        .set_container_instance_arn(ci.map(str::to_owned))
        .capacity_provider_name("cs-mi-m5-large-spot")
        .last_status(status)
        .build()
}

#[tokio::test]
async fn a_managed_launch_runs_one_anchor_and_the_instance_it_lands_on_is_used() {
    let registered: Seen<RegisterTaskDefinitionInput> = Arc::default();
    let runs: Seen<RunTaskInput> = Arc::default();
    let started: Seen<String> = Arc::default();
    let stopped: Seen<String> = Arc::default();
    let reclaimed = Arc::new(AtomicBool::new(false));

    let (describe, subnets) = (no_provider(), default_subnets());
    let create = create_recording(&Arc::default());
    let [describe_def, register] = anchor_missing_then_registered(&registered);
    let list_tasks = mock!(Ecs::list_tasks).then_output(|| ListTasksOutput::builder().build());
    let record_runs = runs.clone();
    let run = mock!(Ecs::run_task)
        .match_requests(move |r| {
            record_runs.lock().unwrap().push(r.clone());
            true
        })
        .then_compute_output(|r| {
            let arn =
                format!("arn:aws:ecs:us-east-1:1:task/cs-cluster/{}", r.started_by().unwrap());
            RunTaskOutput::builder().tasks(ecs::Task::builder().task_arn(arn).build()).build()
        });
    let describe_tasks = mock!(Ecs::describe_tasks).then_compute_output(|r| {
        let tasks = r
            .tasks()
            .iter()
            .map(|arn| task(arn, "cs-i1", Some("arn:ci/1"), "RUNNING"))
            .collect::<Vec<_>>();
        DescribeTasksOutput::builder().set_tasks(Some(tasks)).build()
    });
    let instance = ecs::ContainerInstance::builder()
        .container_instance_arn("arn:ci/1")
        .ec2_instance_id("i-0001")
        .status("ACTIVE")
        .build();
    let described_ci = instance.clone();
    let describe_ci = mock!(Ecs::describe_container_instances).then_output(move || {
        DescribeContainerInstancesOutput::builder()
            .container_instances(described_ci.clone())
            .build()
    });
    let list_ci = mock!(Ecs::list_container_instances).then_output(|| {
        ListContainerInstancesOutput::builder().container_instance_arns("arn:ci/1").build()
    });
    let record_start = started.clone();
    let start = mock!(Ecs::start_task)
        .match_requests(move |r| {
            record_start.lock().unwrap().push(r.container_instances().join(","));
            true
        })
        .then_output(|| {
            aws_sdk_ecs::operation::start_task::StartTaskOutput::builder()
                .tasks(ecs::Task::builder().task_arn("arn:task/7").build())
                .build()
        });
    let record_stop = stopped.clone();
    let stop = mock!(Ecs::stop_task)
        .match_requests(move |r| {
            record_stop.lock().unwrap().push(r.task().unwrap_or_default().to_owned());
            true
        })
        .then_output(|| aws_sdk_ecs::operation::stop_task::StopTaskOutput::builder().build());
    let gone = reclaimed.clone();
    let ec2_state = mock!(aws_sdk_ec2::Client::describe_instances).then_compute_output(move |r| {
        let state = if gone.load(Ordering::SeqCst) { "terminated" } else { "running" };
        let instances = r.instance_ids().iter().map(|id| {
            aws_sdk_ec2::types::Instance::builder()
                .instance_id(id)
                .state(aws_sdk_ec2::types::InstanceState::builder().name(state.into()).build())
                .build()
        });
        DescribeInstancesOutput::builder()
            .reservations(
                aws_sdk_ec2::types::Reservation::builder()
                    .set_instances(Some(instances.collect()))
                    .build(),
            )
            .build()
    });
    let rules = Rules {
        ecs: vec![
            &describe,
            &create,
            &describe_def,
            &register,
            &list_tasks,
            &run,
            &describe_tasks,
            &describe_ci,
            &list_ci,
            &start,
            &stop,
        ],
        ec2: vec![&subnets, &ec2_state],
        ..Rules::default()
    };
    let provider = AwsProvider::assemble(
        clients(&config(), rules),
        config(),
        catalog(),
        "us-east-1".into(),
        ("arn:exec".into(), "arn:task-role".into()),
        Some(roles()),
    );

    // Launch (and a retry): one provider, one anchor definition, one anchor.
    provider.launch(InstanceId(1), OfferingId(1)).await.unwrap();
    provider.launch(InstanceId(1), OfferingId(1)).await.unwrap();
    assert_eq!((create.num_calls(), register.num_calls(), run.num_calls()), (1, 1, 1));
    {
        let anchor = &registered.lock().unwrap()[0];
        assert_eq!(anchor.family(), Some("cs-anchor"));
        assert_eq!(anchor.requires_compatibilities(), [ecs::Compatibility::ManagedInstances]);
        assert_eq!(anchor.network_mode(), Some(&ecs::NetworkMode::Host));
        assert_eq!(anchor.execution_role_arn(), Some("arn:exec"));
        // The overhead the engine is told to leave free covers what the anchor asks for.
        let overhead = provider.instance_overhead();
        let cpu_units: u64 = anchor.cpu().unwrap().parse().unwrap();
        let memory_mib: u64 = anchor.memory().unwrap().parse().unwrap();
        assert_eq!((cpu_units, memory_mib), (128, 64));
        assert_eq!(overhead.reserved_memory_mib, memory_mib);
        assert!(overhead.reserved_millicpus * 1024 >= cpu_units * 1000, "{overhead:?}");
        let runs = runs.lock().unwrap();
        let run = &runs[0];
        assert_eq!(run.cluster(), Some("cs-cluster"));
        assert_eq!(run.task_definition(), Some(ANCHOR_DEF));
        let strategy: Vec<&str> =
            run.capacity_provider_strategy().iter().map(|s| s.capacity_provider()).collect();
        assert_eq!(strategy, ["cs-mi-m5-large-spot"]);
        assert_eq!(run.started_by(), Some("cs-i1"));
        assert_eq!(run.group(), Some("cs-anchors"));
        assert_eq!(
            run.placement_constraints()[0].r#type(),
            Some(&ecs::PlacementConstraintType::DistinctInstance)
        );
        assert_eq!(run.tags()[0].key(), Some(OWNER_TAG));
        assert!(run.launch_type().is_none(), "capacity comes from the provider");
    }

    // The anchor's container instance registers: the engine's instance is ready.
    let events = provider.events().await.unwrap();
    assert_eq!(events, [Event::InstanceReady { instance: InstanceId(1) }]);
    assert_eq!(provider.ec2_instance_id(InstanceId(1)).as_deref(), Some("i-0001"));

    // A task starts on that container instance, with a Managed Instances definition.
    provider.register_container(TaskId(7), ContainerSpec::new("busybox", &["true"]));
    let shape = Resources { millicpus: 1000, memory_mib: 1024, gpus: 0 };
    provider.start_task(TaskId(7), InstanceId(1), shape).await.unwrap();
    assert_eq!(*started.lock().unwrap(), ["arn:ci/1"]);
    {
        let definitions = registered.lock().unwrap();
        let task_def = definitions.last().unwrap();
        assert!(task_def.family().unwrap().ends_with("-mi"), "{:?}", task_def.family());
        assert_eq!(task_def.requires_compatibilities(), [ecs::Compatibility::ManagedInstances]);
        assert_eq!(task_def.network_mode(), Some(&ecs::NetworkMode::Host));
    }

    // EC2 ends the spot instance: reclaimed once; releasing it then stops
    // what was left and deregisters nothing (it is gone).
    reclaimed.store(true, Ordering::SeqCst);
    let events = provider.events().await.unwrap();
    assert!(events.contains(&Event::InstanceReclaimed { instance: InstanceId(1) }), "{events:?}");
    assert!(provider
        .events()
        .await
        .unwrap()
        .iter()
        .all(|e| !matches!(e, Event::InstanceReclaimed { .. })));
    provider.terminate(InstanceId(1)).await.unwrap();
    assert_eq!(*stopped.lock().unwrap(), ["arn:aws:ecs:us-east-1:1:task/cs-cluster/cs-i1"]);
    let events = provider.events().await.unwrap();
    assert_eq!(events, [Event::InstanceTerminated { instance: InstanceId(1) }]);
}

#[tokio::test]
async fn releasing_a_managed_instance_stops_its_tasks_and_anchor_and_deregisters_it() {
    let stopped: Seen<String> = Arc::default();
    let deregistered: Seen<String> = Arc::default();
    let (describe, subnets, create) =
        (no_provider(), default_subnets(), create_recording(&Arc::default()));
    let [describe_def, register] = anchor_missing_then_registered(&Arc::default());
    let list_tasks = mock!(Ecs::list_tasks).then_output(|| ListTasksOutput::builder().build());
    let run = mock!(Ecs::run_task).then_output(|| {
        RunTaskOutput::builder()
            .tasks(ecs::Task::builder().task_arn("arn:anchor/2").build())
            .build()
    });
    let describe_tasks = mock!(Ecs::describe_tasks).then_compute_output(|r| {
        let tasks = r.tasks().iter().map(|arn| task(arn, "cs-i2", Some("arn:ci/2"), "RUNNING"));
        DescribeTasksOutput::builder().set_tasks(Some(tasks.collect())).build()
    });
    let describe_ci = mock!(Ecs::describe_container_instances).then_output(|| {
        DescribeContainerInstancesOutput::builder()
            .container_instances(
                ecs::ContainerInstance::builder()
                    .container_instance_arn("arn:ci/2")
                    .ec2_instance_id("i-0002")
                    .status("ACTIVE")
                    .build(),
            )
            .build()
    });
    let list_ci = mock!(Ecs::list_container_instances).then_output(|| {
        ListContainerInstancesOutput::builder().container_instance_arns("arn:ci/2").build()
    });
    let record_stop = stopped.clone();
    let stop = mock!(Ecs::stop_task)
        .match_requests(move |r| {
            record_stop.lock().unwrap().push(r.task().unwrap_or_default().to_owned());
            true
        })
        .then_output(|| aws_sdk_ecs::operation::stop_task::StopTaskOutput::builder().build());
    let record_dereg = deregistered.clone();
    let deregister = mock!(Ecs::deregister_container_instance)
        .match_requests(move |r| {
            assert_eq!(r.force(), Some(true));
            record_dereg.lock().unwrap().push(r.container_instance().unwrap_or_default().to_owned());
            true
        })
        .then_output(|| {
            aws_sdk_ecs::operation::deregister_container_instance::DeregisterContainerInstanceOutput::builder().build()
        });
    let ec2_state = mock!(aws_sdk_ec2::Client::describe_instances).then_compute_output(|r| {
        let instances = r.instance_ids().iter().map(|id| {
            aws_sdk_ec2::types::Instance::builder()
                .instance_id(id)
                .state(aws_sdk_ec2::types::InstanceState::builder().name("running".into()).build())
                .build()
        });
        DescribeInstancesOutput::builder()
            .reservations(
                aws_sdk_ec2::types::Reservation::builder()
                    .set_instances(Some(instances.collect()))
                    .build(),
            )
            .build()
    });
    let rules = Rules {
        ecs: vec![
            &describe,
            &create,
            &describe_def,
            &register,
            &list_tasks,
            &run,
            &describe_tasks,
            &describe_ci,
            &list_ci,
            &stop,
            &deregister,
        ],
        ec2: vec![&subnets, &ec2_state],
        ..Rules::default()
    };
    let provider = AwsProvider::assemble(
        clients(&config(), rules),
        config(),
        catalog(),
        "us-east-1".into(),
        ("arn:exec".into(), "arn:task-role".into()),
        Some(roles()),
    );
    provider.launch(InstanceId(2), OfferingId(0)).await.unwrap();
    assert_eq!(
        provider.events().await.unwrap(),
        [Event::InstanceReady { instance: InstanceId(2) }]
    );
    provider.terminate(InstanceId(2)).await.unwrap();
    provider.terminate(InstanceId(2)).await.unwrap(); // retried: nothing more
    assert_eq!(*stopped.lock().unwrap(), ["arn:anchor/2"]);
    assert_eq!(*deregistered.lock().unwrap(), ["arn:ci/2"]);
    let events = provider.events().await.unwrap();
    assert_eq!(events, [Event::InstanceTerminated { instance: InstanceId(2) }]);
}

#[tokio::test]
async fn refused_and_unplaced_anchors_are_failed_launches() {
    let (describe, subnets, create) =
        (no_provider(), default_subnets(), create_recording(&Arc::default()));
    let [describe_def, register] = anchor_missing_then_registered(&Arc::default());
    let list_tasks = mock!(Ecs::list_tasks).then_output(|| ListTasksOutput::builder().build());
    // Instance 1's anchor is refused at once; instance 2's is accepted, then stops unplaced.
    let run = mock!(Ecs::run_task).then_compute_output(|r| match r.started_by() {
        Some("cs-i1") => RunTaskOutput::builder()
            .failures(
                ecs::Failure::builder()
                    .reason("RESOURCE:CAPACITY")
                    .detail("no spot capacity for m5.large")
                    .build(),
            )
            .build(),
        _ => RunTaskOutput::builder()
            .tasks(ecs::Task::builder().task_arn("arn:anchor/2").build())
            .build(),
    });
    let describe_tasks = mock!(Ecs::describe_tasks).then_output(|| {
        DescribeTasksOutput::builder()
            .tasks(
                ecs::Task::builder()
                    .task_arn("arn:anchor/2")
                    .started_by("cs-i2")
                    .last_status("STOPPED")
                    .stop_code(ecs::TaskStopCode::TaskFailedToStart)
                    .stopped_reason("Insufficient capacity: no spot m5.large in the subnets")
                    .build(),
            )
            .build()
    });
    let describe_ci = mock!(Ecs::describe_container_instances)
        .then_output(|| DescribeContainerInstancesOutput::builder().build());
    let list_ci = mock!(Ecs::list_container_instances)
        .then_output(|| ListContainerInstancesOutput::builder().build());
    let rules = Rules {
        ecs: vec![
            &describe,
            &create,
            &describe_def,
            &register,
            &list_tasks,
            &run,
            &describe_tasks,
            &describe_ci,
            &list_ci,
        ],
        ec2: vec![&subnets],
        ..Rules::default()
    };
    let provider = AwsProvider::assemble(
        clients(&config(), rules),
        config(),
        catalog(),
        "us-east-1".into(),
        ("arn:exec".into(), "arn:task-role".into()),
        Some(roles()),
    );
    let err = provider.launch(InstanceId(1), OfferingId(1)).await.unwrap_err();
    match err {
        ProviderError::CapacityUnavailable { offering, message } => {
            assert_eq!(offering, OfferingId(1));
            assert!(message.contains("RESOURCE:CAPACITY"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    provider.launch(InstanceId(2), OfferingId(1)).await.unwrap();
    let events = provider.events().await.unwrap();
    assert_eq!(
        events,
        [Event::LaunchFailed { instance: InstanceId(2), reason: LaunchFailure::Capacity }]
    );
    assert!(provider.events().await.unwrap().is_empty(), "reported once");
}

#[tokio::test]
async fn a_restarted_provider_finds_its_anchors_and_tasks() {
    let list_tasks = mock!(Ecs::list_tasks).then_output(|| {
        ListTasksOutput::builder().task_arns("arn:anchor/1").task_arns("arn:task/7").build()
    });
    let describe_tasks = mock!(Ecs::describe_tasks).then_output(|| {
        DescribeTasksOutput::builder()
            .tasks(task("arn:anchor/1", "cs-i1", Some("arn:ci/1"), "RUNNING"))
            .tasks(task("arn:task/7", "cs-t7", Some("arn:ci/1"), "RUNNING"))
            .tasks(task("arn:other", "someone-else", Some("arn:ci/1"), "RUNNING"))
            .build()
    });
    let describe_ci = mock!(Ecs::describe_container_instances).then_output(|| {
        DescribeContainerInstancesOutput::builder()
            .container_instances(
                ecs::ContainerInstance::builder()
                    .container_instance_arn("arn:ci/1")
                    .ec2_instance_id("i-0001")
                    .status("ACTIVE")
                    .build(),
            )
            .build()
    });
    let list_ci = mock!(Ecs::list_container_instances).then_output(|| {
        ListContainerInstancesOutput::builder().container_instance_arns("arn:ci/1").build()
    });
    let start = mock!(Ecs::start_task)
        .then_output(|| aws_sdk_ecs::operation::start_task::StartTaskOutput::builder().build());
    let no_group_instances = mock!(aws_sdk_ec2::Client::describe_instances)
        .match_requests(|r| !r.filters().is_empty())
        .then_output(|| DescribeInstancesOutput::builder().build());
    let rules = Rules {
        ecs: vec![&list_tasks, &describe_tasks, &describe_ci, &list_ci, &start],
        ec2: vec![&no_group_instances],
        ..Rules::default()
    };
    let provider = AwsProvider::assemble(
        clients(&config(), rules),
        config(),
        catalog(),
        "us-east-1".into(),
        ("arn:exec".into(), "arn:task-role".into()),
        Some(roles()),
    );
    assert_eq!(provider.recover().await.unwrap(), (1, 1));
    assert_eq!(provider.ec2_instance_id(InstanceId(1)).as_deref(), Some("i-0001"));
    assert_eq!(provider.task_arn(TaskId(7)).as_deref(), Some("arn:task/7"));
    provider.register_container(TaskId(7), ContainerSpec::new("busybox", &[]));
    let shape = Resources { millicpus: 1000, memory_mib: 1024, gpus: 0 };
    provider.start_task(TaskId(7), InstanceId(1), shape).await.unwrap();
    assert_eq!(start.num_calls(), 0, "the running task is adopted, not started again");
}
