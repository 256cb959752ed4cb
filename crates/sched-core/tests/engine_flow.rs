//! The engine's event/action protocol, step by step.

use std::sync::Arc;

use sched_core::catalog::{Architecture, CapacityType, OfferingId, UsdPerHour};
use sched_core::engine::{Action, Engine, EngineError, Event, TaskSpec};
use sched_core::lifecycle::{RunStatus, TaskStatus};
use sched_core::policy::{Candidate, Policy};
use sched_core::solver::Greedy;
use sched_core::{InstanceId, Millis, Resources, TaskId};

fn engine(idle_release_s: u64) -> Engine {
    let mut policy = Policy::default();
    policy.idle_release_s = idle_release_s;
    policy.batch_idle_ms = 0;
    policy.batch_max_ms = 0;
    let candidates = vec![Candidate {
        offering: OfferingId(3),
        capacity: Resources::cpus_mib(4, 15_000),
        price: UsdPerHour(0.2),
        capacity_type: CapacityType::OnDemand,
        arch: Architecture::X86_64,
        type_name: Arc::from("m6i.xlarge"),
    }];
    Engine::new(policy, candidates, Box::new(Greedy))
}

fn spec(id: u64, cpus: u64, mib: u64) -> TaskSpec {
    let demand = Resources::cpus_mib(cpus, mib);
    TaskSpec {
        id: TaskId(id),
        process: "P".into(),
        requested: demand,
        allocated: demand,
        arch: None,
    }
}

#[test]
fn a_task_goes_from_submission_to_release() {
    let mut e = engine(30);
    e.handle(Millis(0), Event::TaskSubmitted(spec(1, 2, 4096))).unwrap();
    e.handle(Millis(0), Event::TaskSubmitted(spec(2, 2, 4096))).unwrap();
    let actions = e.decide(Millis(0));
    assert_eq!(actions, vec![Action::Launch { instance: InstanceId(0), offering: OfferingId(3) }]);

    // Nothing starts before the instance is ready.
    assert!(e.decide(Millis(1_000)).is_empty());
    e.handle(Millis(60_000), Event::InstanceReady { instance: InstanceId(0) }).unwrap();
    let starts = e.decide(Millis(60_000));
    assert_eq!(starts.len(), 2);
    assert!(starts.iter().all(|a| matches!(a, Action::StartTask { instance: InstanceId(0), .. })));

    for id in [1, 2] {
        e.handle(Millis(60_000), Event::TaskStarted { task: TaskId(id) }).unwrap();
    }
    e.handle(Millis(70_000), Event::TaskExited { task: TaskId(1), exit_code: 0 }).unwrap();
    e.handle(Millis(80_000), Event::TaskExited { task: TaskId(2), exit_code: 3 }).unwrap();
    assert_eq!(e.tasks()[&TaskId(1)].status, TaskStatus::Succeeded);
    assert_eq!(e.tasks()[&TaskId(2)].status, TaskStatus::Failed);

    // Idle release after 30 s, not before.
    assert_eq!(e.next_wakeup(), Some(Millis(110_000)));
    assert!(e.decide(Millis(109_999)).is_empty());
    assert_eq!(e.decide(Millis(110_000)), vec![Action::Terminate { instance: InstanceId(0) }]);

    e.handle(Millis(110_000), Event::InstanceTerminated { instance: InstanceId(0) }).unwrap();
    e.handle(Millis(110_000), Event::SubmissionsClosed).unwrap();
    assert!(e.decide(Millis(110_000)).is_empty());
    assert_eq!(e.run_status(), RunStatus::Terminated);
}

#[test]
fn a_task_no_offering_holds_is_unschedulable_with_a_reason() {
    let mut e = engine(30);
    e.handle(Millis(0), Event::TaskSubmitted(spec(1, 2, 16_384))).unwrap();
    assert!(e.decide(Millis(0)).is_empty());
    let record = &e.tasks()[&TaskId(1)];
    assert_eq!(record.status, TaskStatus::Unschedulable);
    let reason = record.unschedulable.as_ref().unwrap().to_string();
    assert!(reason.contains("m6i.xlarge") && reason.contains("memory"), "{reason}");
}

#[test]
fn refused_events_change_nothing() {
    let mut e = engine(30);
    e.handle(Millis(0), Event::TaskSubmitted(spec(1, 1, 1024))).unwrap();
    let dup = e.handle(Millis(0), Event::TaskSubmitted(spec(1, 1, 1024)));
    assert_eq!(dup, Err(EngineError::DuplicateTask(TaskId(1))));
    let unknown = e.handle(Millis(0), Event::TaskExited { task: TaskId(9), exit_code: 0 });
    assert_eq!(unknown, Err(EngineError::UnknownTask(TaskId(9))));
    let empty = e.handle(Millis(0), Event::TaskSubmitted(spec(2, 0, 1024)));
    assert!(matches!(empty, Err(EngineError::EmptyDemand { .. })));

    // Exiting a task that never started is an illegal transition, and is refused.
    let early = e.handle(Millis(0), Event::TaskExited { task: TaskId(1), exit_code: 0 });
    assert!(matches!(early, Err(EngineError::Transition { .. })), "{early:?}");
    assert_eq!(e.tasks()[&TaskId(1)].status, TaskStatus::Submitted);
    assert_eq!(e.tasks().len(), 1);
}

#[test]
fn cancelling_a_waiting_task_releases_its_room() {
    let mut e = engine(0);
    e.handle(Millis(0), Event::TaskSubmitted(spec(1, 4, 8192))).unwrap();
    e.decide(Millis(0));
    e.handle(Millis(5), Event::CancelTask { task: TaskId(1) }).unwrap();
    e.handle(Millis(10), Event::InstanceReady { instance: InstanceId(0) }).unwrap();
    e.handle(Millis(10), Event::SubmissionsClosed).unwrap();
    let actions = e.decide(Millis(10));
    assert_eq!(actions, vec![Action::Terminate { instance: InstanceId(0) }]);
    assert_eq!(e.tasks()[&TaskId(1)].status, TaskStatus::Cancelled);
}

#[test]
fn launches_wait_for_the_batch_window_and_pack_what_arrived() {
    let mut policy = Policy::default();
    policy.batch_idle_ms = 1_000;
    policy.batch_max_ms = 10_000;
    let candidates = vec![Candidate {
        offering: OfferingId(3),
        capacity: Resources::cpus_mib(4, 15_000),
        price: UsdPerHour(0.2),
        capacity_type: CapacityType::OnDemand,
        arch: Architecture::X86_64,
        type_name: Arc::from("m6i.xlarge"),
    }];
    let mut e = Engine::new(policy, candidates, Box::new(Greedy));

    // Arrivals 600 ms apart keep the window open; nothing launches meanwhile.
    for (i, at) in [0u64, 600, 1_200, 1_800].into_iter().enumerate() {
        e.handle(Millis(at), Event::TaskSubmitted(spec(i as u64, 1, 2048))).unwrap();
        assert!(e.decide(Millis(at)).is_empty(), "held at {at} ms");
    }
    // One second after the last arrival, all four go onto one instance.
    assert_eq!(e.next_wakeup(), Some(Millis(2_800)));
    let actions = e.decide(Millis(2_800));
    assert_eq!(actions, vec![Action::Launch { instance: InstanceId(0), offering: OfferingId(3) }]);
    assert!(e.tasks().values().all(|t| t.instance == Some(InstanceId(0))));
}

#[test]
fn a_steady_stream_cannot_hold_launches_past_the_batch_maximum() {
    let mut policy = Policy::default();
    policy.batch_idle_ms = 1_000;
    policy.batch_max_ms = 3_000;
    let candidates = vec![Candidate {
        offering: OfferingId(0),
        capacity: Resources::cpus_mib(64, 262_144),
        price: UsdPerHour(2.0),
        capacity_type: CapacityType::OnDemand,
        arch: Architecture::X86_64,
        type_name: Arc::from("big.16xlarge"),
    }];
    let mut e = Engine::new(policy, candidates, Box::new(Greedy));
    let mut launched_at = None;
    for i in 0..20u64 {
        let at = Millis(i * 500);
        e.handle(at, Event::TaskSubmitted(spec(i, 1, 1024))).unwrap();
        if !e.decide(at).is_empty() {
            launched_at = Some(at);
            break;
        }
    }
    assert_eq!(launched_at, Some(Millis(3_000)));
}
