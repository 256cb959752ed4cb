//! Arbitrary event sequences never panic the engine and never break its
//! invariants. Each input byte pair is one step: an event (aimed at a task or
//! instance the engine knows, most of the time, so sequences get deep) or a
//! decision at a later time.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use sched_core::catalog::{Architecture, CapacityType, OfferingId, UsdPerHour};
use sched_core::engine::{Action, Engine, Event, LaunchFailure, TaskSpec};
use sched_core::policy::{Candidate, Policy, ProvisioningModel};
use sched_core::solver::Greedy;
use sched_core::{InstanceId, Millis, Resources, TaskId};

fn engine(provisioning: ProvisioningModel) -> Engine {
    let mut policy = Policy::default();
    policy.provisioning = provisioning;
    policy.batch_idle_ms = 500;
    policy.batch_max_ms = 2_000;
    policy.max_spot_attempts = 2;
    policy.spot_shortage_ttl_s = 5;
    policy.heartbeat_timeout_s = Some(40);
    policy.ready_timeout_s = Some(90);
    let c = |id: u32, cpus: u64, price: f64, kind| Candidate {
        offering: OfferingId(id),
        capacity: Resources::cpus_mib(cpus, cpus * 3_800),
        price: UsdPerHour(price),
        capacity_type: kind,
        arch: Architecture::X86_64,
        type_name: Arc::from(format!("t{id}")),
    };
    let all = vec![
        c(0, 2, 0.03, CapacityType::Spot),
        c(1, 4, 0.05, CapacityType::Spot),
        c(2, 2, 0.10, CapacityType::OnDemand),
        c(3, 8, 0.38, CapacityType::OnDemand),
    ];
    let candidates = all.into_iter().filter(|c| provisioning.allows(c.capacity_type)).collect();
    Engine::new(policy, candidates, Box::new(Greedy))
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, steps)) = data.split_first() else { return };
    let provisioning = match first % 3 {
        0 => ProvisioningModel::SpotFirst,
        1 => ProvisioningModel::Spot,
        _ => ProvisioningModel::OnDemand,
    };
    let mut engine = engine(provisioning);
    let mut now = Millis(0);
    let mut next_task = 0u64;
    let mut launched: Vec<InstanceId> = Vec::new();
    for pair in steps.chunks(2) {
        let (op, arg) = (pair[0], pair.get(1).copied().unwrap_or(0));
        let task = |arg: u8| TaskId(u64::from(arg) % (next_task + 1));
        let instance = |arg: u8| match launched.len() {
            0 => InstanceId(u64::from(arg)),
            n => launched[usize::from(arg) % n],
        };
        let event = match op % 16 {
            0 | 1 => {
                let shapes = [(500, 512), (1_000, 2_048), (2_000, 7_000), (7_000, 29_000), (64_000, 1)];
                let (millicpus, memory_mib) = shapes[usize::from(arg) % shapes.len()];
                let demand = Resources::new(millicpus, memory_mib, 0);
                next_task += 1;
                Event::TaskSubmitted(TaskSpec {
                    id: TaskId(next_task - 1),
                    process: format!("p{}", arg % 3),
                    requested: demand,
                    allocated: demand,
                    arch: None,
                })
            }
            2 | 3 => {
                now = now + Millis(u64::from(arg) * 250);
                for action in engine.decide(now) {
                    if let Action::Launch { instance, .. } = action {
                        launched.push(instance);
                    }
                }
                engine.check_invariants().unwrap_or_else(|e| panic!("after decide: {e}"));
                continue;
            }
            4 => Event::InstanceReady { instance: instance(arg) },
            5 => Event::TaskStarted { task: task(arg) },
            6 => Event::TaskExited { task: task(arg), exit_code: i32::from(arg % 2) },
            7 => Event::InstanceTerminated { instance: instance(arg) },
            8 => Event::InstanceReclaimWarning { instance: instance(arg) },
            9 => Event::InstanceReclaimed { instance: instance(arg) },
            10 => Event::LaunchFailed {
                instance: instance(arg),
                reason: if arg % 2 == 0 { LaunchFailure::Capacity } else { LaunchFailure::Other },
            },
            11 => Event::Heartbeat,
            12 => Event::CancelTask { task: task(arg) },
            13 => Event::TaskStatusUnknown { task: task(arg) },
            14 if arg % 8 == 0 => Event::CancelRun,
            14 => Event::SubmissionsClosed,
            _ => Event::TaskStarted { task: task(arg.wrapping_add(1)) },
        };
        let _ = engine.handle(now, event);
        engine.check_invariants().unwrap_or_else(|e| panic!("after an event: {e}"));
    }
});
