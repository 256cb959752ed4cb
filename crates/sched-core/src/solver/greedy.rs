//! Cost-aware first-fit-decreasing.
//!
//! The greedy solver works in two phases:
//!
//! 1. **Existing room first.** Tasks, largest first, go onto the running or
//!    booting instance where they cost least: room that frees up before the
//!    instance's other tasks end is free; a task expected to outlast them pays
//!    for the extension, and goes to a new instance when that is cheaper.
//!    Ties go to the fullest instance, so free space is consolidated.
//! 2. **Open the cheapest work.** What is left is grouped by shape (demand,
//!    architecture, group, expected runtime). While any task remains, every
//!    candidate that can hold the largest remaining shape is filled, on paper,
//!    first-fit-decreasing with the shapes that may share a bin with it; the
//!    candidate with the lowest price per unit of work it would hold is
//!    opened. When the same fill can be repeated, identical bins are opened in
//!    one step, so the loop runs once per distinct bin pattern, not per bin.
//!
//! "Work" is priced the way the lower bound prices it: a task's value is its
//! largest per-dimension demand times the cheapest allowed price of that
//! dimension, times its expected runtime. A bin lives as long as its lead
//! task, so its score is `price x lead runtime / work held`: a bin that would
//! sit half empty, or hold short tasks beside a long one, pays for the waste.
//! Tasks whose runtime nobody knows yet share a new bin only with their own
//! group (one pipeline process), whose tasks tend to run alike; packing
//! unknown runtimes of different processes together is what makes packed
//! fleets cost more than one instance per task.
//!
//! The cost is `O(T log T)` for sorting, `O(S x I + T x (1 + H) log I)` for
//! phase 1 (`I` existing instances, `S` distinct shapes, `H` shapes seen more
//! than once; see [`rooms`]), plus `O(P * C * S)` for phase 2, where `P` is
//! the number of distinct bin patterns, `C` the candidates left after
//! dominated ones are pruned and `S` the number of distinct shapes. Pruning
//! (`O(C x K)` for `K` candidates kept) is not part of a solve: the
//! [`CandidateSet`](crate::problem::CandidateSet) does it once, when it is
//! built. Real traces have tens of shapes, so 10,000 tasks against the full
//! catalog stays cheap.

mod rooms;

use rustc_hash::FxHashMap;
use std::cmp::Ordering;

use tracing::{debug, trace};

use super::Solver;
use crate::catalog::Architecture;
use crate::plan::{unschedulable_reason, Placement, Plan, Unschedulable};
use crate::policy::{Candidate, SpotRisk};
use crate::pricing::UnitPrices;
use crate::problem::{arch_ok, prune_dominated_by, PendingTask, PlacementProblem, TaskId};
use crate::resources::Resources;
use crate::time::Millis;
use rooms::{RoomIndex, ShapeKey};

/// Cost-aware first-fit-decreasing; fast at any size.
#[derive(Debug, Clone, Copy, Default)]
pub struct Greedy;

impl Solver for Greedy {
    fn name(&self) -> &str {
        "greedy"
    }

    fn solve(&self, problem: &PlacementProblem<'_>) -> Plan {
        let mut plan = Plan::default();
        if problem.tasks.is_empty() {
            return plan;
        }
        let prices = problem.candidates.unit_prices();

        // Largest first, by priced value; ties broken by id for determinism.
        let mut order: Vec<&PendingTask> = problem.tasks.iter().collect();
        order.sort_by(|a, b| {
            prices
                .value(&b.demand)
                .total_cmp(&prices.value(&a.demand))
                .then(b.demand.cmp(&a.demand))
                .then(a.id.cmp(&b.id))
        });

        // Phase 1: existing room, fullest instances first.
        // Dominated candidates were pruned when the set was prepared: every
        // dropped one has a kept one of the same architecture, at least its
        // capacity and at most its price, so the cheapest candidate that
        // holds a task alone is among the kept.
        let pruned = problem.candidates.non_dominated();
        let leftover = fill_existing(problem, pruned, order, &prices, &mut plan);
        let on_existing = plan.assignments.len();

        // Phase 2: group the rest by shape and open bins.
        let mut shapes = Shapes::group(&leftover, &prices);
        for shape in shapes.iter_mut() {
            let holds =
                |c: &Candidate| shape.demand.fits_in(&c.capacity) && arch_ok(shape.arch, c.arch);
            if !pruned.iter().any(holds) {
                let probe =
                    PendingTask { arch: shape.arch, ..PendingTask::new(TaskId(0), shape.demand) };
                let reason = unschedulable_reason(&probe, problem.candidates);
                for task in shape.tasks.drain(..) {
                    plan.unschedulable.push(Unschedulable { task, reason: reason.clone() });
                }
            }
        }
        shapes.retain_nonempty();
        let risk =
            problem.candidates.risk().map(|r| (r, problem.candidates.non_dominated_hazards()));
        open_bins(&mut shapes, pruned, &prices, risk, &mut plan);

        debug!(
            tasks = problem.tasks.len(),
            on_existing,
            launches = plan.launches.len(),
            unschedulable = plan.unschedulable.len(),
            cost_per_hour = plan.launch_cost_per_hour().0,
            "greedy plan"
        );
        plan
    }
}

/// How much dearer per hour than running alone an instance may be for a task
/// of unknown runtime to ride on it: 25%.
///
/// A rider with an unknown runtime may outlive the instance's other tasks and
/// hold it alone. Bounding the host's price bounds what that costs, against a
/// certain saving: the boot (billed, and waited for) of an instance of its own.
/// Without the bound, a small task of a long-running process can keep a large
/// instance alive for hours, which on the bundled nf-core/mag trace made a
/// packed fleet dearer than one instance per task.
const RIDER_PRICE_SLACK: f64 = 0.25;

/// Phase 1: puts each task, largest first, on the existing instance where it
/// costs least, and returns the tasks left for new instances.
///
/// Room on a running instance is paid for already, as long as the task ends
/// before the instance's other tasks do. When runtimes are known, a task
/// expected to outlast them pays for the extension, and goes to a new
/// instance instead when running alone would be cheaper, boot included. When
/// they are not known, a task rides only on an instance at most
/// [`RIDER_PRICE_SLACK`] dearer than the cheapest it could have alone.
fn fill_existing<'p>(
    problem: &PlacementProblem<'_>,
    pruned: &[Candidate],
    order: Vec<&'p PendingTask>,
    prices: &UnitPrices,
    plan: &mut Plan,
) -> Vec<&'p PendingTask> {
    if problem.instances.is_empty() {
        return order;
    }
    let mut rooms: Vec<Room> = problem
        .instances
        .iter()
        .map(|inst| Room {
            free: inst.free,
            busy_for: inst.busy_for,
            // An offering the policy no longer allows is priced as unknown: free.
            price: problem.candidates.get(inst.offering).map_or(0.0, |c| c.price.0),
        })
        .collect();
    // Fullest first, so free space is consolidated rather than spread.
    let free_value: Vec<f64> = rooms.iter().map(|r| prices.value(&r.free)).collect();
    let boot_h = problem.launch_overhead.as_secs_f64() / 3600.0;
    let instances = &problem.instances;
    let holds = |rooms: &[Room], i: usize, key: &ShapeKey| {
        key.0.fits_in(&rooms[i].free) && arch_ok(key.1, instances[i].arch)
    };
    // No candidate holds the task alone: existing room is its only chance.
    let cost = |rooms: &[Room], i: usize, key: &ShapeKey, alone: Option<f64>| match alone {
        Some(alone) => rooms[i].rider_cost(key.2, alone, boot_h),
        None => Some(rooms[i].price),
    };

    // One task (most decisions of a replay): the scan's room, without sorting.
    if let [task] = order[..] {
        let key: ShapeKey = (task.demand, task.arch, task.expected_runtime);
        let alone = cheapest_alone(task, pruned);
        let best = rooms::best_unsorted(
            rooms.len(),
            |i| free_value[i],
            |i| holds(&rooms, i, &key),
            |i| cost(&rooms, i, &key, alone),
        );
        return match best {
            Some(i) => {
                plan.assign(task.id, Placement::Existing(problem.instances[i].id));
                Vec::new()
            }
            None => order,
        };
    }

    let mut by_fullness: Vec<usize> = (0..rooms.len()).collect();
    // Indices break ties, so the order is total and an unstable sort gives it.
    by_fullness.sort_unstable_by(|&a, &b| free_value[a].total_cmp(&free_value[b]).then(a.cmp(&b)));
    let mut alone_prices: FxHashMap<(Resources, Option<Architecture>), Option<f64>> =
        FxHashMap::default();
    let mut index = RoomIndex::new(&by_fullness);

    let mut leftover = Vec::new();
    for task in order {
        let key: ShapeKey = (task.demand, task.arch, task.expected_runtime);
        let alone = *alone_prices
            .entry((task.demand, task.arch))
            .or_insert_with(|| cheapest_alone(task, pruned));
        let best = index.best(
            key,
            alone,
            &by_fullness,
            |i| holds(&rooms, i, &key),
            |i, alone| cost(&rooms, i, &key, alone),
        );
        match best {
            Some(i) => {
                let room = &mut rooms[i];
                room.free = room.free.saturating_sub(&task.demand);
                room.busy_for = match (room.busy_for, task.expected_runtime) {
                    (Some(busy), Some(runtime)) => Some(busy.max(runtime)),
                    _ => None,
                };
                index.took(
                    i,
                    |i, key| holds(&rooms, i, key),
                    |i, key, alone| cost(&rooms, i, key, alone),
                );
                plan.assign(task.id, Placement::Existing(problem.instances[i].id));
            }
            None => leftover.push(task),
        }
    }
    leftover
}

/// The cheapest price per hour of a candidate that holds `task` alone:
/// the first that does, as `candidates` are in price order.
fn cheapest_alone(task: &PendingTask, candidates: &[Candidate]) -> Option<f64> {
    candidates
        .iter()
        .find(|c| task.demand.fits_in(&c.capacity) && arch_ok(task.arch, c.arch))
        .map(|c| c.price.0)
}

/// Free room on one existing instance, as phase 1 consumes it.
struct Room {
    free: Resources,
    busy_for: Option<Millis>,
    price: f64,
}

impl Room {
    /// What riding here is expected to cost beyond running alone, relative to
    /// the saving (negative is a gain), or `None` when the task must not ride.
    ///
    /// With both runtimes known: the extension this task forces (USD) minus
    /// what running alone would cost (its runtime plus a boot). Otherwise: the
    /// host's price premium over running alone, allowed up to the slack.
    fn rider_cost(&self, runtime: Option<Millis>, alone_per_h: f64, boot_h: f64) -> Option<f64> {
        match (runtime, self.busy_for) {
            (Some(runtime), Some(busy)) => {
                let extension = self.price * runtime.since(busy).as_secs_f64() / 3600.0;
                let alone = alone_per_h * (runtime.as_secs_f64() / 3600.0 + boot_h);
                (extension <= alone).then_some(extension - alone)
            }
            _ => {
                let premium = self.price / alone_per_h.max(f64::MIN_POSITIVE) - 1.0;
                (premium <= RIDER_PRICE_SLACK).then_some(premium)
            }
        }
    }
}

/// Tasks of one (demand, architecture, group, expected runtime).
#[derive(Debug)]
struct Shape {
    demand: Resources,
    arch: Option<Architecture>,
    group: u32,
    runtime: Option<Millis>,
    value: f64,
    /// Tasks not yet placed, in placement order (taken from the front).
    tasks: Vec<TaskId>,
    /// Index of the next task to place.
    next: usize,
}

impl Shape {
    fn remaining(&self) -> usize {
        self.tasks.len() - self.next
    }

    /// The weight of one task of this shape in a bin led by `lead`, or `None`
    /// when it must not share a new instance with it. Tasks with known
    /// runtimes share a bin when they end no later than the lead; tasks with
    /// unknown runtimes share only with their own group, since nothing says
    /// how long another process runs.
    fn runtime_weight(&self, lead: &Shape) -> Option<f64> {
        match (self.runtime, lead.runtime) {
            (Some(mine), Some(lead_runtime)) if mine <= lead_runtime => {
                Some(mine.as_secs_f64().max(1e-3))
            }
            (None, None) if self.group == lead.group => Some(1.0),
            _ => None,
        }
    }

    /// How long a bin led by this shape is expected to live, in the same
    /// unit as [`Shape::runtime_weight`].
    fn lifetime_weight(&self) -> f64 {
        self.runtime.map_or(1.0, |r| r.as_secs_f64().max(1e-3))
    }
}

#[derive(Debug)]
struct Shapes(Vec<Shape>);

impl Shapes {
    /// Groups `tasks` (already largest first) by shape, keeping that order.
    fn group(tasks: &[&PendingTask], prices: &UnitPrices) -> Self {
        type Key = (Resources, Option<Architecture>, u32, Option<Millis>);
        let mut index: FxHashMap<Key, usize> = FxHashMap::default();
        let mut shapes: Vec<Shape> = Vec::new();
        for task in tasks {
            let key = (task.demand, task.arch, task.group, task.expected_runtime);
            let at = *index.entry(key).or_insert_with(|| {
                shapes.push(Shape {
                    demand: task.demand,
                    arch: task.arch,
                    group: task.group,
                    runtime: task.expected_runtime,
                    value: prices.value(&task.demand),
                    tasks: Vec::new(),
                    next: 0,
                });
                shapes.len() - 1
            });
            shapes[at].tasks.push(task.id);
        }
        Shapes(shapes)
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = &mut Shape> {
        self.0.iter_mut()
    }

    fn retain_nonempty(&mut self) {
        self.0.retain(|s| s.remaining() > 0);
    }
}

/// Drops candidates that another candidate of the same architecture beats:
/// at least as much of every dimension for no more money (see
/// [`CandidateSet`](crate::problem::CandidateSet), which does this once per
/// set). After sorting by price only earlier (cheaper or equal) candidates
/// can dominate.
pub(crate) fn prune_dominated(candidates: &[Candidate]) -> Vec<&Candidate> {
    prune_dominated_by(candidates, |_| 0.0)
}

/// How many tasks of `demand` fit in `free`, capped at `limit`.
#[inline]
pub(crate) fn how_many_fit(demand: &Resources, free: &Resources, limit: usize) -> usize {
    let per = |have: u64, need: u64| have.checked_div(need).map_or(usize::MAX, |n| n as usize);
    per(free.millicpus, demand.millicpus)
        .min(per(free.memory_mib, demand.memory_mib))
        .min(per(u64::from(free.gpus), u64::from(demand.gpus)))
        .min(limit)
}

/// Fills `capacity` first-fit-decreasing from the shapes that may share a
/// bin with `lead`, writing how many of each it takes into `taken`, and
/// returns the work held: value times expected runtime.
fn fill(
    shapes: &[Shape],
    lead: usize,
    capacity: &Resources,
    candidate: &Candidate,
    taken: &mut [usize],
) -> f64 {
    let mut free = *capacity;
    let mut value = 0.0;
    for (i, shape) in shapes.iter().enumerate() {
        taken[i] = 0;
        let left = shape.remaining();
        if left == 0 || !arch_ok(shape.arch, candidate.arch) {
            continue;
        }
        let Some(weight) = shape.runtime_weight(&shapes[lead]) else {
            continue;
        };
        let n = how_many_fit(&shape.demand, &free, left);
        if n == 0 {
            continue;
        }
        taken[i] = n;
        value += shape.value * weight * n as f64;
        let used = Resources {
            millicpus: shape.demand.millicpus * n as u64,
            memory_mib: shape.demand.memory_mib * n as u64,
            gpus: shape.demand.gpus * n as u32,
        };
        free = free.saturating_sub(&used);
    }
    value
}

/// Phase 2: open bins until every shape is placed.
///
/// With a risk model (and each candidate's hazard, in the same order), a spot
/// candidate is scored at its effective price for a bin living as long as the
/// lead shape's expected runtime (see [`SpotRisk`]).
fn open_bins(
    shapes: &mut Shapes,
    candidates: &[Candidate],
    prices: &UnitPrices,
    risk: Option<(&SpotRisk, &[f64])>,
    plan: &mut Plan,
) {
    let shapes = &mut shapes.0;
    let mut scratch = vec![0usize; shapes.len()];
    let mut best_taken = vec![0usize; shapes.len()];
    let tiny = prices.per_millicpu.min(prices.per_mib).max(f64::MIN_POSITIVE);

    while let Some(first) = shapes.iter().position(|s| s.remaining() > 0) {
        let lead = &shapes[first];
        let lifetime = lead.lifetime_weight();
        let exposure = risk.map(|(r, _)| r.exposure_h(lead.runtime));
        // One task left: every candidate that holds it holds just it, so the
        // work is the lead's alone, as `fill` would find it, without the
        // divisions of fitting it to each candidate.
        let alone = (shapes.iter().map(Shape::remaining).sum::<usize>() == 1)
            .then(|| lead.runtime_weight(lead).map(|weight| lead.value * weight))
            .flatten();
        if alone.is_some() {
            scratch.fill(0);
            scratch[first] = 1;
        }
        let mut chosen: Option<(&Candidate, f64)> = None;
        for (at, candidate) in candidates.iter().enumerate() {
            if !lead.demand.fits_in(&candidate.capacity) || !arch_ok(lead.arch, candidate.arch) {
                continue;
            }
            let work = match alone {
                Some(work) => work,
                None => fill(shapes, first, &candidate.capacity, candidate, &mut scratch),
            };
            let price = match (risk, exposure) {
                (Some((r, hazards)), Some(exposure)) => {
                    r.effective_price_exposed(candidate.price.0, hazards[at], exposure)
                }
                _ => candidate.price.0,
            };
            let score = price * lifetime / work.max(tiny);
            let better = match chosen {
                None => true,
                Some((c, s)) => match score.total_cmp(&s) {
                    Ordering::Less => true,
                    Ordering::Equal => {
                        (candidate.price.0, candidate.offering) < (c.price.0, c.offering)
                    }
                    Ordering::Greater => false,
                },
            };
            if better {
                chosen = Some((candidate, score));
                best_taken.copy_from_slice(&scratch);
            }
        }
        let Some((candidate, score)) = chosen else {
            // Unreachable after the unschedulable sweep; stop rather than spin.
            break;
        };

        // Repeat the same fill while every shape in it still has enough tasks.
        let repeats = best_taken
            .iter()
            .zip(shapes.iter())
            .filter(|(n, _)| **n > 0)
            .map(|(n, s)| s.remaining() / n)
            .min()
            .unwrap_or(1)
            .max(1);
        trace!(offering = %candidate.offering, type_name = %candidate.type_name, repeats, score, "open");
        for _ in 0..repeats {
            let launch = plan.push_launch(candidate);
            for (shape, &n) in shapes.iter_mut().zip(best_taken.iter()) {
                for _ in 0..n {
                    plan.assign(shape.tasks[shape.next], Placement::New(launch));
                    shape.next += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::OfferingId;
    use crate::problem::{CandidateSet, ExistingInstance, InstanceId};
    use crate::test_support::{candidate, task};

    #[test]
    fn packs_small_tasks_onto_one_cheap_bin() {
        let candidates =
            CandidateSet::new(vec![candidate(0, 2, 4096, 0.10), candidate(1, 8, 16384, 0.30)]);
        let tasks = (0..8).map(|i| task(i, 1, 2048)).collect();
        let plan = Greedy.solve(&PlacementProblem::new(tasks, &candidates));
        // One 8-cpu bin at 0.30 holds all eight; four 2-cpu bins would cost 0.40.
        assert_eq!(plan.launches.len(), 1);
        assert_eq!(plan.launches[0].offering, OfferingId(1));
        assert_eq!(plan.assignments.len(), 8);
    }

    #[test]
    fn a_small_remainder_gets_a_small_bin() {
        let candidates =
            CandidateSet::new(vec![candidate(0, 2, 4096, 0.10), candidate(1, 8, 16384, 0.30)]);
        let tasks = vec![task(0, 1, 1024)];
        let plan = Greedy.solve(&PlacementProblem::new(tasks, &candidates));
        assert_eq!(plan.launches.len(), 1);
        assert_eq!(plan.launches[0].offering, OfferingId(0));
    }

    #[test]
    fn existing_room_is_used_before_anything_is_opened() {
        let candidates = CandidateSet::new(vec![candidate(0, 2, 4096, 0.10)]);
        let mut problem =
            PlacementProblem::new(vec![task(0, 1, 1024), task(1, 1, 1024)], &candidates);
        problem.instances.push(ExistingInstance {
            id: InstanceId(7),
            offering: OfferingId(0),
            arch: Architecture::X86_64,
            free: Resources::cpus_mib(1, 2048),
            busy_for: None,
        });
        let plan = Greedy.solve(&problem);
        let on_existing = plan
            .assignments
            .iter()
            .filter(|a| a.placement == Placement::Existing(InstanceId(7)))
            .count();
        assert_eq!(on_existing, 1);
        assert_eq!(plan.launches.len(), 1);
    }

    #[test]
    fn too_large_a_task_is_unschedulable_with_the_closest_offering() {
        let candidates =
            CandidateSet::new(vec![candidate(0, 2, 4096, 0.10), candidate(1, 8, 16384, 0.30)]);
        let plan = Greedy.solve(&PlacementProblem::new(vec![task(0, 4, 65536)], &candidates));
        assert!(plan.launches.is_empty());
        let reason = &plan.unschedulable[0].reason;
        assert_eq!(reason.dimension, crate::resources::Dimension::Memory);
        assert_eq!(reason.largest.as_ref().unwrap().offering, OfferingId(1));
        assert!(reason.to_string().contains("65536 MiB"), "{reason}");
    }

    proptest::proptest! {
        /// With one task left, the work `fill` finds on any candidate that
        /// holds it is the lead's value times its own weight, which is what
        /// `open_bins` uses without calling it.
        #[test]
        fn one_task_left_fills_as_the_shortcut_assumes(
            cpus in 1u64..8, mib in 256u64..16_384, group in 0u32..3,
            runtime in proptest::option::of(1u64..100_000),
            others in proptest::collection::vec((1u64..8, 256u64..16_384, 0u32..3), 0..4),
            bins in proptest::collection::vec((1u64..16, 1u64..64), 1..8),
        ) {
            let prices = UnitPrices::of(&[candidate(0, 4, 16_384, 0.2)]);
            let shape = |cpus: u64, mib: u64, group: u32, left: usize| Shape {
                demand: Resources::cpus_mib(cpus, mib),
                arch: None,
                group,
                runtime: runtime.map(Millis),
                value: prices.value(&Resources::cpus_mib(cpus, mib)),
                tasks: (0..left as u64).map(TaskId).collect(),
                next: 0,
            };
            // The other shapes have nothing left; the lead has one task.
            let mut shapes = vec![shape(cpus, mib, group, 1)];
            shapes.extend(others.iter().map(|&(c, m, g)| shape(c, m, g, 0)));
            let lead = &shapes[0];
            let alone = lead.value * lead.runtime_weight(lead).expect("a lead shares with itself");
            for (i, &(bin_cpus, bin_gib)) in bins.iter().enumerate() {
                let bin = candidate(i as u32, bin_cpus, bin_gib * 1024, 0.1);
                if !lead.demand.fits_in(&bin.capacity) {
                    continue;
                }
                let mut taken = vec![9; shapes.len()];
                let work = fill(&shapes, 0, &bin.capacity, &bin, &mut taken);
                proptest::prop_assert_eq!(work.to_bits(), alone.to_bits());
                proptest::prop_assert_eq!(taken[0], 1);
                proptest::prop_assert!(taken[1..].iter().all(|&n| n == 0));
            }
        }
    }

    #[test]
    fn dominated_candidates_are_pruned() {
        let candidates =
            CandidateSet::new(vec![candidate(0, 4, 8192, 0.10), candidate(1, 2, 4096, 0.20)]);
        let kept = prune_dominated(&candidates);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].offering, OfferingId(0));
    }
}
