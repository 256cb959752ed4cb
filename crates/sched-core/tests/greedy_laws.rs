//! Laws every plan of the greedy solver obeys, checked on random problems.

use std::collections::HashMap;
use std::sync::Arc;

use proptest::prelude::*;
use sched_core::catalog::{Architecture, CapacityType, OfferingId, UsdPerHour};
use sched_core::plan::{Placement, Plan};
use sched_core::policy::{Candidate, SpotRisk};
use sched_core::problem::{
    CandidateSet, ExistingInstance, InstanceId, PendingTask, PlacementProblem, TaskId,
};
use sched_core::solver::{Greedy, Solver};
use sched_core::{Millis, Resources};

fn arch() -> impl Strategy<Value = Architecture> {
    prop_oneof![Just(Architecture::X86_64), Just(Architecture::Arm64)]
}

fn candidates() -> impl Strategy<Value = Vec<Candidate>> {
    prop::collection::vec((1u64..=16, 1u64..=64, 1u32..=200, arch()), 1..6).prop_map(|specs| {
        specs
            .into_iter()
            .enumerate()
            .map(|(i, (cpus, gib, cents, arch))| Candidate {
                offering: OfferingId(i as u32),
                capacity: Resources::cpus_mib(cpus, gib * 1024),
                price: UsdPerHour(f64::from(cents) / 100.0),
                capacity_type: CapacityType::OnDemand,
                arch,
                type_name: Arc::from(format!("t{i}.gen")),
            })
            .collect()
    })
}

fn tasks() -> impl Strategy<Value = Vec<PendingTask>> {
    let one = (250u64..=20_000, 128u64..=80_000, prop::option::of(arch()));
    prop::collection::vec(one, 0..60).prop_map(|specs| {
        specs
            .into_iter()
            .enumerate()
            .map(|(i, (millicpus, mib, arch))| PendingTask {
                id: TaskId(i as u64),
                demand: Resources::new(millicpus, mib, 0),
                arch,
                group: 0,
                expected_runtime: None,
            })
            .collect()
    })
}

fn existing() -> impl Strategy<Value = Vec<ExistingInstance>> {
    prop::collection::vec((0u64..=8_000, 0u64..=32_768, arch()), 0..4).prop_map(|specs| {
        specs
            .into_iter()
            .enumerate()
            .map(|(i, (millicpus, mib, arch))| ExistingInstance {
                id: InstanceId(100 + i as u64),
                offering: OfferingId(0),
                arch,
                free: Resources::new(millicpus, mib, 0),
                busy_for: None,
            })
            .collect()
    })
}

fn holdable(task: &PendingTask, candidates: &[Candidate]) -> bool {
    candidates
        .iter()
        .any(|c| task.demand.fits_in(&c.capacity) && task.arch.is_none_or(|a| a == c.arch))
}

/// Checks every law and returns a description of the first broken one.
fn check(problem: &PlacementProblem<'_>, plan: &Plan) -> Result<(), String> {
    let by_id: HashMap<TaskId, &PendingTask> = problem.tasks.iter().map(|t| (t.id, t)).collect();

    // Every task is decided exactly once.
    let mut seen = HashMap::new();
    let decided = plan
        .assignments
        .iter()
        .map(|a| a.task)
        .chain(plan.unschedulable.iter().map(|u| u.task))
        .chain(plan.deferred.iter().copied());
    for task in decided {
        *seen.entry(task).or_insert(0) += 1;
    }
    if seen.len() != problem.tasks.len() || seen.values().any(|&n| n != 1) {
        return Err(format!(
            "tasks decided {seen:?}, expected each of {} once",
            problem.tasks.len()
        ));
    }
    if !plan.deferred.is_empty() {
        return Err("greedy never defers".into());
    }

    // No instance, existing or new, holds more than its room; architectures match.
    let mut load: HashMap<Placement, Resources> = HashMap::new();
    for a in &plan.assignments {
        let task = by_id[&a.task];
        let room_arch = match a.placement {
            Placement::Existing(id) => {
                problem.instances.iter().find(|i| i.id == id).map(|i| i.arch)
            }
            Placement::New(n) => plan.launches.get(n).and_then(|l| {
                problem.candidates.iter().find(|c| c.offering == l.offering).map(|c| c.arch)
            }),
        };
        let Some(room_arch) = room_arch else {
            return Err(format!("{a:?} points nowhere"));
        };
        if task.arch.is_some_and(|need| need != room_arch) {
            return Err(format!("{a:?} runs on the wrong architecture"));
        }
        *load.entry(a.placement).or_default() += task.demand;
    }
    for (placement, used) in &load {
        let room = match placement {
            Placement::Existing(id) => problem.instances.iter().find(|i| i.id == *id).unwrap().free,
            Placement::New(n) => plan.launches[*n].capacity,
        };
        if !used.fits_in(&room) {
            return Err(format!("{placement:?} holds {used} but has {room}"));
        }
    }

    // Unschedulable exactly when no candidate can hold the task.
    for u in &plan.unschedulable {
        if holdable(by_id[&u.task], problem.candidates) {
            return Err(format!("{} called unschedulable but some candidate holds it", u.task));
        }
    }
    for a in &plan.assignments {
        let task = by_id[&a.task];
        if matches!(a.placement, Placement::New(_)) && !holdable(task, problem.candidates) {
            return Err(format!("{} placed on a new instance no candidate could hold", a.task));
        }
    }

    // Every launch is used.
    for n in 0..plan.launches.len() {
        if !load.contains_key(&Placement::New(n)) {
            return Err(format!("launch {n} holds no task"));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn greedy_plans_obey_the_laws(candidates in candidates(), tasks in tasks(), existing in existing()) {
        let candidates = CandidateSet::new(candidates);
        let problem = PlacementProblem { tasks, instances: existing, candidates: &candidates, launch_overhead: Default::default() };
        let plan = Greedy.solve(&problem);
        if let Err(broken) = check(&problem, &plan) {
            prop_assert!(false, "{}", broken);
        }
    }

    #[test]
    fn greedy_is_deterministic(candidates in candidates(), tasks in tasks(), existing in existing()) {
        let candidates = CandidateSet::new(candidates);
        let problem = PlacementProblem { tasks, instances: existing, candidates: &candidates, launch_overhead: Default::default() };
        prop_assert_eq!(Greedy.solve(&problem), Greedy.solve(&problem));
    }

    #[test]
    fn candidate_order_does_not_change_the_cost(candidates in candidates(), tasks in tasks()) {
        let mut reversed = candidates.clone();
        reversed.reverse();
        let a = Greedy.solve(&PlacementProblem::new(tasks.clone(), &CandidateSet::new(candidates)));
        let b = Greedy.solve(&PlacementProblem::new(tasks, &CandidateSet::new(reversed)));
        prop_assert!((a.launch_cost_per_hour().0 - b.launch_cost_per_hour().0).abs() < 1e-9);
    }

    /// The candidates a set prunes never matter: a set of only the kept
    /// ones, under the same reclaim risk, gives the same plan. This is what
    /// lets the pruning happen once per set instead of once per solve.
    #[test]
    fn pruned_candidates_never_change_the_plan(
        candidates in candidates(),
        spot in prop::collection::vec((any::<bool>(), 0u32..=20), 6),
        weight in prop_oneof![Just(0.0), 0.5f64..2.0],
        tasks in tasks(),
        existing in existing(),
    ) {
        let candidates: Vec<Candidate> = candidates
            .into_iter()
            .zip(&spot)
            .map(|(mut c, &(is_spot, _))| {
                if is_spot {
                    c.capacity_type = sched_core::catalog::CapacityType::Spot;
                }
                c
            })
            .collect();
        let hazards = candidates
            .iter()
            .zip(&spot)
            .filter(|(c, _)| c.capacity_type == sched_core::catalog::CapacityType::Spot)
            .map(|(c, &(_, per_mille))| (c.offering, f64::from(per_mille) / 1000.0));
        let risk = SpotRisk::from_hazards(hazards, weight, Millis::from_secs(60));
        let full = CandidateSet::new(candidates).with_spot_risk(risk.clone());
        let kept = CandidateSet::new(full.non_dominated().to_vec()).with_spot_risk(risk);
        prop_assert_eq!(kept.non_dominated(), full.non_dominated());
        // Rooms of an offering both sets know, so both price them alike.
        let offering = full.non_dominated()[0].offering;
        let existing: Vec<ExistingInstance> =
            existing.into_iter().map(|i| ExistingInstance { offering, ..i }).collect();
        let solve = |set: &CandidateSet| {
            let mut problem = PlacementProblem::new(tasks.clone(), set);
            problem.instances = existing.clone();
            problem.launch_overhead = Millis::from_secs(60);
            Greedy.solve(&problem)
        };
        let (a, b) = (solve(&full), solve(&kept));
        prop_assert_eq!(&a.assignments, &b.assignments);
        prop_assert_eq!(&a.launches, &b.launches);
        // Only the closest offering named for an unschedulable task may differ.
        let ids = |plan: &Plan| plan.unschedulable.iter().map(|u| u.task).collect::<Vec<_>>();
        prop_assert_eq!(ids(&a), ids(&b));
    }
}
