//! What the anchor task of ECS Managed Instances reserves is left out of
//! what the engine places on an instance (placement only: no emulator).

use sched_aws::managed::{ANCHOR_CPU_UNITS, ANCHOR_MEMORY_MIB};
use sched_aws::CapacityBackend;
use sched_core::catalog::{
    Architecture, CapacityType, Catalog, InstanceType, InstanceTypeId, Offering, OfferingId,
    OverheadModel, UsdPerHour,
};
use sched_core::engine::{Action, Engine, Event, TaskSpec};
use sched_core::policy::{Policy, ProvisioningModel};
use sched_core::problem::TaskId;
use sched_core::resources::Resources;
use sched_core::solver::Greedy;
use sched_core::time::Millis;

/// m5.large (2 vCPUs, 8 GiB) on demand.
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
    let offering = Offering {
        id: OfferingId(0),
        instance_type: InstanceTypeId(0),
        capacity_type: CapacityType::OnDemand,
        zone: None,
        price: UsdPerHour(0.096),
        interruption: None,
    };
    Catalog::new("us-east-1", vec![ty], vec![offering]).unwrap()
}

/// The default policy, on demand, with the backend's own overhead added.
fn policy(backend: CapacityBackend) -> Policy {
    let mut policy = Policy::default();
    policy.provisioning = ProvisioningModel::OnDemand;
    policy.overhead = policy.overhead.plus(backend.instance_overhead());
    policy
}

/// How many instances the engine launches for `tasks` tasks of `each`.
fn launches(backend: CapacityBackend, tasks: u64, each: Resources) -> usize {
    let policy = policy(backend);
    let candidates = policy.candidates(&catalog()).unwrap();
    let mut engine = Engine::new(policy, candidates, Box::new(Greedy));
    let now = Millis(0);
    for id in 1..=tasks {
        let spec = TaskSpec {
            id: TaskId(id),
            process: "p".into(),
            requested: each,
            allocated: each,
            arch: None,
        };
        engine.handle(now, Event::TaskSubmitted(spec)).unwrap();
    }
    engine.handle(now, Event::SubmissionsClosed).unwrap();
    // Past any batching window.
    [now, Millis(60_000)]
        .into_iter()
        .flat_map(|t| engine.decide(t))
        .filter(|a| matches!(a, Action::Launch { .. }))
        .count()
}

/// Regression: two tasks of one vCPU each were packed onto one 2-vCPU
/// Managed Instance, where the anchor already holds 128 of its 2048 CPU
/// units, so ECS would refuse the second.
#[test]
fn two_tasks_filling_the_vcpus_are_not_packed_beside_an_anchor() {
    let one_vcpu = Resources::new(1000, 1024, 0);
    assert_eq!(launches(CapacityBackend::Asg, 2, one_vcpu), 1);
    assert_eq!(launches(CapacityBackend::ManagedInstances, 2, one_vcpu), 2);
}

#[test]
fn what_the_engine_offers_plus_the_anchor_fits_the_instance() {
    let nominal = Resources::new(2000, 8192, 0);
    let without = OverheadModel::default().usable(&nominal);
    let capacity = |backend| policy(backend).candidates(&catalog()).unwrap()[0].capacity;

    assert_eq!(capacity(CapacityBackend::Asg), without);
    let managed = capacity(CapacityBackend::ManagedInstances);
    let anchor_mib = u64::try_from(ANCHOR_MEMORY_MIB).unwrap();
    assert_eq!(managed.memory_mib + anchor_mib, without.memory_mib);
    // In ECS CPU units (1024 per vCPU), rounded up as task definitions are.
    let units = (managed.millicpus * 1024).div_ceil(1000);
    let anchor_units = u64::try_from(ANCHOR_CPU_UNITS).unwrap();
    assert_eq!(units + anchor_units, 2 * 1024);
}
