//! Laws of the engine under any sequence of events, right or wrong.
//!
//! Whatever a driver feeds it, the engine never puts more on an instance than
//! it holds, never starts a task that is already running, never changes a
//! terminal status, never starts a task more often than the policy allows,
//! and changes nothing when it refuses an event.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use sched_core::catalog::{Architecture, CapacityType, OfferingId, UsdPerHour};
use sched_core::engine::{Action, Engine, Event, LaunchFailure, TaskSpec};
use sched_core::lifecycle::TaskStatus;
use sched_core::policy::{Candidate, Policy, ProvisioningModel};
use sched_core::solver::Greedy;
use sched_core::{InstanceId, Millis, Resources, TaskId};

#[derive(Debug, Clone)]
enum Op {
    Submit(u8),
    Decide(u16),
    Ready(u8),
    Started(u8),
    Exited(u8, bool),
    Warn(u8),
    Reclaim(u8),
    LaunchFail(u8, bool),
    Unknown(u8),
    Heartbeat,
    Cancel(u8),
    CancelRun,
    Close,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..4).prop_map(Op::Submit),
        4 => (0u16..30_000).prop_map(Op::Decide),
        3 => any::<u8>().prop_map(Op::Ready),
        3 => any::<u8>().prop_map(Op::Started),
        2 => (any::<u8>(), any::<bool>()).prop_map(|(i, ok)| Op::Exited(i, ok)),
        1 => any::<u8>().prop_map(Op::Warn),
        1 => any::<u8>().prop_map(Op::Reclaim),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(i, c)| Op::LaunchFail(i, c)),
        1 => any::<u8>().prop_map(Op::Unknown),
        1 => Just(Op::Heartbeat),
        1 => any::<u8>().prop_map(Op::Cancel),
        1 => Just(Op::CancelRun),
        1 => Just(Op::Close),
    ]
}

fn engine(provisioning: ProvisioningModel) -> Engine {
    let mut policy = Policy::default();
    policy.provisioning = provisioning;
    policy.batch_idle_ms = 500;
    policy.batch_max_ms = 2_000;
    policy.max_spot_attempts = 2;
    policy.spot_shortage_ttl_s = 5;
    policy.heartbeat_timeout_s = Some(40);
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

fn pick<T: Copy>(items: &[T], index: u8) -> Option<T> {
    (!items.is_empty()).then(|| items[index as usize % items.len()])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn no_sequence_of_events_breaks_the_engine(
        model in prop_oneof![
            Just(ProvisioningModel::SpotFirst),
            Just(ProvisioningModel::Spot),
            Just(ProvisioningModel::OnDemand),
        ],
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        let mut e = engine(model);
        let mut now = Millis(0);
        let mut next_task = 0u64;
        let mut ended: BTreeMap<TaskId, TaskStatus> = BTreeMap::new();
        for op in ops {
            let tasks: Vec<TaskId> = e.tasks().keys().copied().collect();
            let instances: Vec<InstanceId> = e.instances().keys().copied().collect();
            let event = match op {
                Op::Submit(size) => {
                    next_task += 1;
                    let demand = Resources::cpus_mib(1 + u64::from(size) * 2, 2048);
                    Some(Event::TaskSubmitted(TaskSpec {
                        id: TaskId(next_task),
                        process: format!("P{}", size % 2),
                        requested: demand,
                        allocated: demand,
                        arch: None,
                    }))
                }
                Op::Decide(ms) => {
                    now = now + Millis(u64::from(ms));
                    let before = e.snapshot();
                    for action in e.decide(now) {
                        if let Action::StartTask { task, instance, .. } = action {
                            let record = before.tasks.iter().find(|t| t.spec.id == task).unwrap();
                            prop_assert!(
                                !matches!(record.status, TaskStatus::Running | TaskStatus::Unknown),
                                "{task} started while {}", record.status
                            );
                            prop_assert!(!record.dispatched, "{task} started twice");
                            prop_assert_eq!(e.tasks()[&task].instance, Some(instance));
                        }
                    }
                    None
                }
                Op::Ready(i) => pick(&instances, i).map(|instance| Event::InstanceReady { instance }),
                Op::Started(i) => pick(&tasks, i).map(|task| Event::TaskStarted { task }),
                Op::Exited(i, ok) => pick(&tasks, i)
                    .map(|task| Event::TaskExited { task, exit_code: if ok { 0 } else { 1 } }),
                Op::Warn(i) => {
                    pick(&instances, i).map(|instance| Event::InstanceReclaimWarning { instance })
                }
                Op::Reclaim(i) => {
                    pick(&instances, i).map(|instance| Event::InstanceReclaimed { instance })
                }
                Op::LaunchFail(i, capacity) => pick(&instances, i).map(|instance| {
                    let reason =
                        if capacity { LaunchFailure::Capacity } else { LaunchFailure::Other };
                    Event::LaunchFailed { instance, reason }
                }),
                Op::Unknown(i) => pick(&tasks, i).map(|task| Event::TaskStatusUnknown { task }),
                Op::Heartbeat => Some(Event::Heartbeat),
                Op::Cancel(i) => pick(&tasks, i).map(|task| Event::CancelTask { task }),
                Op::CancelRun => Some(Event::CancelRun),
                Op::Close => Some(Event::SubmissionsClosed),
            };
            if let Some(event) = event {
                let before = e.snapshot();
                if e.handle(now, event.clone()).is_err() {
                    prop_assert_eq!(&e.snapshot(), &before, "a refused {:?} changed the state", event);
                }
            }
            if let Err(broken) = e.check_invariants() {
                return Err(TestCaseError::fail(broken));
            }
            for (id, record) in e.tasks() {
                if let Some(was) = ended.get(id) {
                    prop_assert_eq!(record.status, *was, "{} left a terminal status", id);
                } else if record.status.is_terminal() {
                    ended.insert(*id, record.status);
                }
                let open = record.runs.iter().filter(|r| r.ended_at.is_none()).count();
                prop_assert!(open <= 1, "{} runs {} times at once", id, open);
            }
        }
    }
}
