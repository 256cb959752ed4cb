//! Spot and on demand, reclaims, shortages, heartbeats and cancelling, step by step.

use std::sync::Arc;

use sched_core::catalog::{Architecture, CapacityType, OfferingId, UsdPerHour};
use sched_core::engine::{
    Action, Engine, EngineError, EngineSnapshot, Event, LaunchFailure, TaskSpec, WaitReason,
};
use sched_core::lifecycle::{RunStatus, TaskStatus};
use sched_core::policy::{Candidate, Policy, ProvisioningModel};
use sched_core::solver::Greedy;
use sched_core::{InstanceId, Millis, Resources, TaskId};

fn candidate(id: u32, price: f64, kind: CapacityType) -> Candidate {
    Candidate {
        offering: OfferingId(id),
        capacity: Resources::cpus_mib(4, 15_000),
        price: UsdPerHour(price),
        capacity_type: kind,
        arch: Architecture::X86_64,
        type_name: Arc::from(format!("t{id}.xlarge")),
    }
}

/// Two spot offerings (0 cheapest, 1) and one on-demand offering (2).
fn engine(provisioning: ProvisioningModel) -> Engine {
    let mut policy = Policy::default();
    policy.provisioning = provisioning;
    policy.idle_release_s = 0;
    policy.batch_idle_ms = 0;
    policy.batch_max_ms = 0;
    policy.max_spot_attempts = 2;
    policy.spot_shortage_ttl_s = 100;
    let all = vec![
        candidate(0, 0.05, CapacityType::Spot),
        candidate(1, 0.06, CapacityType::Spot),
        candidate(2, 0.20, CapacityType::OnDemand),
    ];
    let candidates =
        all.into_iter().filter(|c| provisioning.allows(c.capacity_type)).collect::<Vec<_>>();
    Engine::new(policy, candidates, Box::new(Greedy))
}

fn spec(id: u64) -> TaskSpec {
    let demand = Resources::cpus_mib(2, 4096);
    TaskSpec {
        id: TaskId(id),
        process: "P".into(),
        requested: demand,
        allocated: demand,
        arch: None,
    }
}

fn launches(actions: &[Action]) -> Vec<(InstanceId, OfferingId)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Launch { instance, offering } => Some((*instance, *offering)),
            _ => None,
        })
        .collect()
}

/// Launches, readies and starts everything pending; returns the instance.
fn run_on_new_instance(e: &mut Engine, at: u64) -> InstanceId {
    let now = Millis(at);
    let launched = launches(&e.decide(now));
    assert_eq!(launched.len(), 1, "{launched:?}");
    let instance = launched[0].0;
    e.handle(now, Event::InstanceReady { instance }).unwrap();
    for action in e.decide(now) {
        if let Action::StartTask { task, .. } = action {
            e.handle(now, Event::TaskStarted { task }).unwrap();
        }
    }
    instance
}

#[test]
fn a_reclaimed_task_is_preempted_retried_and_failed_after_its_last_attempt() {
    let mut e = engine(ProvisioningModel::Spot);
    e.handle(Millis(0), Event::TaskSubmitted(spec(1))).unwrap();
    for attempt in 1..=3u64 {
        let at = attempt * 1_000;
        let instance = run_on_new_instance(&mut e, at);
        assert_eq!(e.tasks()[&TaskId(1)].status, TaskStatus::Running);
        assert_eq!(e.tasks()[&TaskId(1)].attempts as u64, attempt);
        e.handle(Millis(at + 10), Event::InstanceReclaimWarning { instance }).unwrap();
        e.handle(Millis(at + 500), Event::InstanceReclaimed { instance }).unwrap();
    }
    let record = &e.tasks()[&TaskId(1)];
    assert_eq!(record.status, TaskStatus::Failed);
    assert_eq!(record.preemptions, 3);
    let statuses: Vec<TaskStatus> = record.history.iter().map(|(_, s)| *s).collect();
    use TaskStatus::*;
    assert_eq!(
        statuses,
        [
            Submitted, Running, Preempted, Submitted, Running, Preempted, Submitted, Running,
            Preempted, Failed
        ]
    );
    assert!(record.runs.iter().all(|r| r.outcome == Some(Preempted)));
    e.check_invariants().unwrap();
}

#[test]
fn spot_first_puts_the_last_attempt_of_a_preempted_task_on_demand() {
    let mut e = engine(ProvisioningModel::SpotFirst);
    e.handle(Millis(0), Event::TaskSubmitted(spec(1))).unwrap();
    for at in [1_000u64, 2_000] {
        let instance = run_on_new_instance(&mut e, at);
        e.handle(Millis(at + 500), Event::InstanceReclaimed { instance }).unwrap();
    }
    let launched = launches(&e.decide(Millis(3_000)));
    assert_eq!(launched.iter().map(|l| l.1).collect::<Vec<_>>(), [OfferingId(2)]);
}

#[test]
fn a_reclaim_notice_takes_back_tasks_that_have_not_started() {
    let mut e = engine(ProvisioningModel::Spot);
    e.handle(Millis(0), Event::TaskSubmitted(spec(1))).unwrap();
    let first = launches(&e.decide(Millis(0)))[0].0;
    e.handle(Millis(10), Event::InstanceReclaimWarning { instance: first }).unwrap();
    assert_eq!(e.tasks()[&TaskId(1)].instance, None);
    // Ready after the notice: nothing starts there, the task goes elsewhere.
    e.handle(Millis(20), Event::InstanceReady { instance: first }).unwrap();
    let actions = e.decide(Millis(20));
    assert!(actions.iter().all(|a| !matches!(a, Action::StartTask { .. })), "{actions:?}");
    assert!(actions.contains(&Action::Terminate { instance: first }), "{actions:?}");
    assert_eq!(launches(&actions).len(), 1);
    // A reclaim of an on-demand instance is refused.
    let mut od = engine(ProvisioningModel::OnDemand);
    od.handle(Millis(0), Event::TaskSubmitted(spec(1))).unwrap();
    let instance = launches(&od.decide(Millis(0)))[0].0;
    let refused = od.handle(Millis(1), Event::InstanceReclaimed { instance });
    assert_eq!(refused, Err(EngineError::NotSpot(instance)));
}

#[test]
fn spot_first_tries_other_spot_offerings_then_falls_back_and_remembers_the_shortage() {
    let mut e = engine(ProvisioningModel::SpotFirst);
    e.handle(Millis(0), Event::TaskSubmitted(spec(1))).unwrap();
    let mut offered = Vec::new();
    for _ in 0..3 {
        let launched = launches(&e.decide(Millis(0)));
        assert_eq!(launched.len(), 1);
        offered.push(launched[0].1);
        if launched[0].1 != OfferingId(2) {
            let failure =
                Event::LaunchFailed { instance: launched[0].0, reason: LaunchFailure::Capacity };
            e.handle(Millis(0), failure).unwrap();
        }
    }
    assert_eq!(offered, [OfferingId(0), OfferingId(1), OfferingId(2)]);
    let snapshot = e.snapshot();
    let short: Vec<OfferingId> = snapshot.shortages.iter().map(|s| s.offering).collect();
    assert_eq!(short, [OfferingId(0), OfferingId(1)]);

    // A new task within the shortage window goes straight past offering 0.
    e.handle(Millis(50_000), Event::TaskSubmitted(spec(2))).unwrap();
    let next = launches(&e.decide(Millis(50_000)));
    assert!(next.iter().all(|l| l.1 == OfferingId(2)), "{next:?}");
    // After the shortage expires, spot is tried first again.
    e.handle(Millis(200_000), Event::TaskSubmitted(spec(3))).unwrap();
    let later = launches(&e.decide(Millis(200_000)));
    assert_eq!(later.iter().map(|l| l.1).collect::<Vec<_>>(), [OfferingId(0)]);
    e.check_invariants().unwrap();
}

/// Regression: spot instances reclaimed before they were ready (a reclaim
/// storm during boots) were launched again for ever; they count as capacity
/// refusals, so `spotFirst` moves the task on demand after
/// `max_spot_attempts`. One is reclaimed without notice, one after a notice.
#[test]
fn spot_reclaimed_while_booting_counts_as_a_refusal_and_falls_back() {
    let mut e = engine(ProvisioningModel::SpotFirst);
    e.handle(Millis(0), Event::TaskSubmitted(spec(1))).unwrap();
    let mut offered = Vec::new();
    for (step, at) in [0u64, 1_000, 2_000].into_iter().enumerate() {
        let launched = launches(&e.decide(Millis(at)));
        assert_eq!(launched.len(), 1, "step {step}");
        let (instance, offering) = launched[0];
        offered.push(offering);
        if offering == OfferingId(2) {
            break;
        }
        if step == 1 {
            e.handle(Millis(at), Event::InstanceReclaimWarning { instance }).unwrap();
        }
        e.handle(Millis(at + 10), Event::InstanceReclaimed { instance }).unwrap();
        e.check_invariants().unwrap();
    }
    assert_eq!(offered, [OfferingId(0), OfferingId(1), OfferingId(2)]);
    let snapshot = e.snapshot();
    let short: Vec<OfferingId> = snapshot.shortages.iter().map(|s| s.offering).collect();
    assert_eq!(short, [OfferingId(0), OfferingId(1)]);
}

#[test]
fn spot_under_total_shortage_waits_with_a_reason_and_is_never_lost() {
    let mut e = engine(ProvisioningModel::Spot);
    e.handle(Millis(0), Event::TaskSubmitted(spec(1))).unwrap();
    let mut now = Millis(0);
    for _ in 0..20 {
        for (instance, _) in launches(&e.decide(now)) {
            e.handle(now, Event::LaunchFailed { instance, reason: LaunchFailure::Capacity })
                .unwrap();
        }
        let record = &e.tasks()[&TaskId(1)];
        assert_eq!(record.status, TaskStatus::Submitted, "never FAILED for lack of spot");
        e.check_invariants().unwrap();
        now = e.next_wakeup().unwrap_or(now + Millis(1_000));
    }
    let record = &e.tasks()[&TaskId(1)];
    let Some(WaitReason::CapacityShortage { until }) = record.waiting else {
        panic!("no visible reason: {record:?}");
    };
    assert!(until > now.since(Millis(100_000)));
    assert!(record.waiting.unwrap().to_string().contains("no capacity"));
    // Capacity comes back: the task runs and the run can end.
    let instance = loop {
        let launched = launches(&e.decide(now));
        if let Some(first) = launched.first() {
            break first.0;
        }
        now = e.next_wakeup().unwrap();
    };
    e.handle(now, Event::InstanceReady { instance }).unwrap();
    e.decide(now);
    e.handle(now, Event::TaskStarted { task: TaskId(1) }).unwrap();
    e.handle(now, Event::TaskExited { task: TaskId(1), exit_code: 0 }).unwrap();
    assert_eq!(e.tasks()[&TaskId(1)].status, TaskStatus::Succeeded);
}

#[test]
fn a_run_without_heartbeats_dangles_and_recovers_on_the_next_one() {
    let mut policy = Policy::default();
    policy.heartbeat_timeout_s = Some(60);
    policy.batch_idle_ms = 0;
    policy.batch_max_ms = 0;
    let candidates = vec![candidate(2, 0.2, CapacityType::OnDemand)];
    let mut e = Engine::new(policy, candidates, Box::new(Greedy));
    e.handle(Millis(0), Event::TaskSubmitted(spec(1))).unwrap();
    let instance = run_on_new_instance(&mut e, 0);
    assert_eq!(e.next_wakeup(), Some(Millis(60_000)));
    assert!(e.decide(Millis(59_999)).is_empty());
    assert_eq!(e.run_status(), RunStatus::Active);
    e.decide(Millis(60_000));
    assert_eq!(e.run_status(), RunStatus::Dangling);

    // Dispatched tasks are still tracked, but nothing new is placed.
    e.handle(Millis(61_000), Event::TaskSubmitted(spec(2))).unwrap();
    assert!(launches(&e.decide(Millis(61_000))).is_empty());
    e.handle(Millis(62_000), Event::TaskExited { task: TaskId(1), exit_code: 0 }).unwrap();
    assert_eq!(e.tasks()[&TaskId(1)].status, TaskStatus::Succeeded);

    e.handle(Millis(70_000), Event::Heartbeat).unwrap();
    assert_eq!(e.run_status(), RunStatus::Active);
    let actions = e.decide(Millis(70_000));
    assert!(
        actions.iter().any(|a| matches!(a, Action::StartTask { task: TaskId(2), .. })),
        "task 2 goes on the idle instance: {actions:?}"
    );
    assert_eq!(e.tasks()[&TaskId(2)].instance, Some(instance));
}

#[test]
fn cancelling_the_run_stops_what_runs_and_releases_every_instance() {
    let mut e = engine(ProvisioningModel::OnDemand);
    e.handle(Millis(0), Event::TaskSubmitted(spec(1))).unwrap();
    let instance = run_on_new_instance(&mut e, 0);
    e.handle(Millis(5), Event::TaskSubmitted(spec(2))).unwrap();
    e.handle(Millis(5), Event::TaskSubmitted(spec(3))).unwrap();
    e.handle(Millis(5), Event::TaskSubmitted(spec(4))).unwrap();
    e.handle(Millis(10), Event::CancelRun).unwrap();
    let actions = e.decide(Millis(10));
    assert!(actions.contains(&Action::StopTask { task: TaskId(1) }), "{actions:?}");
    assert!(actions.contains(&Action::Terminate { instance }), "{actions:?}");
    assert!(e.tasks().values().all(|t| t.status == TaskStatus::Cancelled));
    assert_eq!(e.run_status(), RunStatus::Terminating);
    // A late exit of the stopped task changes nothing.
    e.handle(Millis(11), Event::TaskExited { task: TaskId(1), exit_code: 0 }).unwrap();
    e.handle(Millis(12), Event::InstanceTerminated { instance }).unwrap();
    e.decide(Millis(12));
    assert_eq!(e.run_status(), RunStatus::Terminated);
    e.check_invariants().unwrap();
}

#[test]
fn an_unknown_task_is_resolved_by_the_next_report() {
    let mut e = engine(ProvisioningModel::OnDemand);
    e.handle(Millis(0), Event::TaskSubmitted(spec(1))).unwrap();
    e.handle(Millis(0), Event::TaskSubmitted(spec(2))).unwrap();
    run_on_new_instance(&mut e, 0);
    e.handle(Millis(5), Event::TaskStatusUnknown { task: TaskId(1) }).unwrap();
    assert_eq!(e.tasks()[&TaskId(1)].status, TaskStatus::Unknown);
    e.handle(Millis(6), Event::TaskStarted { task: TaskId(1) }).unwrap();
    assert_eq!(e.tasks()[&TaskId(1)].status, TaskStatus::Running);
    e.handle(Millis(7), Event::TaskStatusUnknown { task: TaskId(2) }).unwrap();
    e.handle(Millis(8), Event::TaskExited { task: TaskId(2), exit_code: 0 }).unwrap();
    assert_eq!(e.tasks()[&TaskId(2)].status, TaskStatus::Succeeded);
    // Only a running task can become unknown.
    let refused = e.handle(Millis(9), Event::TaskStatusUnknown { task: TaskId(2) });
    assert!(matches!(refused, Err(EngineError::Transition { .. })), "{refused:?}");
    assert_eq!(e.tasks()[&TaskId(1)].runs.len(), 1, "one start, not two");
}

#[test]
fn the_snapshot_is_the_whole_state_and_round_trips_through_json() {
    let mut e = engine(ProvisioningModel::SpotFirst);
    e.handle(Millis(0), Event::TaskSubmitted(spec(1))).unwrap();
    e.handle(Millis(0), Event::TaskSubmitted(spec(2))).unwrap();
    run_on_new_instance(&mut e, 0);
    let snapshot = e.snapshot();
    assert_eq!(snapshot.tasks.len(), 2);
    assert_eq!(snapshot.instances.len(), 1);
    let json = serde_json::to_string(&snapshot).unwrap();
    assert!(json.contains("\"RUNNING\""), "{json}");
    let back: EngineSnapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back, snapshot);
}

/// When each offering is left out until, in seconds, from the snapshot.
fn left_out_until(e: &Engine) -> Vec<(OfferingId, u64)> {
    e.snapshot().shortages.iter().map(|s| (s.offering, s.until.0 / 1000)).collect()
}

/// Refuses every launch `e` decides at `at` for capacity; returns the offerings tried.
fn refuse_all(e: &mut Engine, at: u64) -> Vec<OfferingId> {
    let mut tried = Vec::new();
    loop {
        let launched = launches(&e.decide(Millis::from_secs(at)));
        if launched.is_empty() {
            return tried;
        }
        for (instance, offering) in launched {
            tried.push(offering);
            let failure = Event::LaunchFailed { instance, reason: LaunchFailure::Capacity };
            e.handle(Millis::from_secs(at), failure).unwrap();
        }
    }
}

#[test]
fn a_refused_offering_is_left_out_twice_as_long_after_each_refusal_up_to_a_cap() {
    let mut e = engine(ProvisioningModel::Spot);
    e.handle(Millis(0), Event::TaskSubmitted(spec(1))).unwrap();
    // The ttl is 100 s: 100, 200, 400, ... up to 32 x 100 s.
    let mut at = 0;
    for round in 0..8u32 {
        assert_eq!(refuse_all(&mut e, at), [OfferingId(0), OfferingId(1)], "round {round}");
        let left_out = 100 * (1u64 << round).min(sched_core::engine::SHORTAGE_BACKOFF_MAX);
        assert_eq!(
            left_out_until(&e),
            [(OfferingId(0), at + left_out), (OfferingId(1), at + left_out)]
        );
        // The task waits as long: it is not placed before an offering is back.
        let Some(WaitReason::CapacityShortage { until }) = e.tasks()[&TaskId(1)].waiting else {
            panic!("round {round}: not waiting");
        };
        assert_eq!(until, Millis::from_secs(at + left_out), "round {round}");
        assert_eq!(e.next_wakeup(), Some(until));
        at += left_out;
    }
    e.check_invariants().unwrap();
}

#[test]
fn a_ready_instance_ends_its_offerings_backoff_and_a_start_ends_the_tasks_waits() {
    let mut e = engine(ProvisioningModel::Spot);
    e.handle(Millis(0), Event::TaskSubmitted(spec(1))).unwrap();
    refuse_all(&mut e, 0);
    refuse_all(&mut e, 100);
    assert_eq!(left_out_until(&e), [(OfferingId(0), 300), (OfferingId(1), 300)]);
    // Offering 0 has capacity again at 300 s: the task runs.
    let instance = run_on_new_instance(&mut e, 300_000);
    assert_eq!(e.tasks()[&TaskId(1)].status, TaskStatus::Running);
    assert_eq!(e.tasks()[&TaskId(1)].shortage_waits, 0);
    e.handle(Millis::from_secs(400), Event::InstanceReclaimed { instance }).unwrap();
    // Refused again: offering 0 starts over at the ttl, offering 1 goes on doubling.
    assert_eq!(refuse_all(&mut e, 400), [OfferingId(0), OfferingId(1)]);
    assert_eq!(left_out_until(&e), [(OfferingId(0), 500), (OfferingId(1), 800)]);
    e.check_invariants().unwrap();
}

#[test]
fn launches_of_one_decision_refused_together_count_as_one_refusal() {
    let mut e = engine(ProvisioningModel::Spot);
    // Tasks of different processes with unknown runtimes get one instance each.
    for (id, process) in [(1, "A"), (2, "B"), (3, "C")] {
        let task = TaskSpec { process: process.into(), ..spec(id) };
        e.handle(Millis(0), Event::TaskSubmitted(task)).unwrap();
    }
    let launched = launches(&e.decide(Millis(0)));
    assert_eq!(launched.len(), 3, "{launched:?}");
    assert!(launched.iter().all(|l| l.1 == OfferingId(0)), "{launched:?}");
    for (instance, _) in launched {
        let failure = Event::LaunchFailed { instance, reason: LaunchFailure::Capacity };
        e.handle(Millis(0), failure).unwrap();
    }
    assert_eq!(left_out_until(&e), [(OfferingId(0), 100)]);
}
