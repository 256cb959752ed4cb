//! Cost-aware first-fit-decreasing.
//!
//! The greedy solver works in two phases:
//!
//! 1. **Existing room first.** Tasks, largest first, go onto the first running
//!    or booting instance with room, trying the fullest instances first so
//!    free space is consolidated rather than spread.
//! 2. **Open the cheapest work.** What is left is grouped by shape. While any
//!    task remains, every candidate that can hold the largest remaining shape
//!    is filled, on paper, first-fit-decreasing with the remaining shapes; the
//!    candidate with the lowest price per unit of work it would hold is
//!    opened. When the same fill can be repeated, identical bins are opened in
//!    one step, so the loop runs once per distinct bin pattern, not per bin.
//!
//! "Work" is priced the way the lower bound prices it: a task's value is its
//! largest per-dimension demand times the cheapest allowed price of that
//! dimension. A candidate's score is `price / value held`, so a bin that
//! would sit half empty pays for its empty half.
//!
//! The cost is `O(T log T)` for sorting plus `O(P * C * S)` where `P` is the
//! number of distinct bin patterns, `C` the candidates left after dominated
//! ones are pruned and `S` the number of distinct task shapes. Real traces
//! have tens of shapes, so 10,000 tasks against the full catalog stays cheap.

use std::cmp::Ordering;
use std::collections::HashMap;

use tracing::{debug, trace};

use super::Solver;
use crate::catalog::Architecture;
use crate::plan::{unschedulable_reason, Placement, Plan, Unschedulable};
use crate::policy::Candidate;
use crate::pricing::UnitPrices;
use crate::problem::{arch_ok, PendingTask, PlacementProblem, TaskId};
use crate::resources::Resources;

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
        let prices = UnitPrices::of(problem.candidates);

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
        let mut rooms: Vec<(usize, Resources)> = problem
            .instances
            .iter()
            .enumerate()
            .map(|(i, inst)| (i, inst.free))
            .collect();
        rooms.sort_by(|a, b| {
            prices
                .value(&a.1)
                .total_cmp(&prices.value(&b.1))
                .then(a.0.cmp(&b.0))
        });
        let mut leftover = Vec::new();
        for task in order {
            let room = rooms.iter_mut().find(|(i, free)| {
                task.demand.fits_in(free) && arch_ok(task.arch, problem.instances[*i].arch)
            });
            match room {
                Some((i, free)) => {
                    *free = free.saturating_sub(&task.demand);
                    plan.assign(task.id, Placement::Existing(problem.instances[*i].id));
                }
                None => leftover.push(task),
            }
        }
        let on_existing = plan.assignments.len();

        // Phase 2: group the rest by shape and open bins.
        let mut shapes = Shapes::group(&leftover, &prices);
        let pruned = prune_dominated(problem.candidates);
        for shape in shapes.iter_mut() {
            let holds =
                |c: &&Candidate| shape.demand.fits_in(&c.capacity) && arch_ok(shape.arch, c.arch);
            if !pruned.iter().any(holds) {
                let probe = PendingTask {
                    id: TaskId(0),
                    demand: shape.demand,
                    arch: shape.arch,
                };
                let reason = unschedulable_reason(&probe, problem.candidates);
                for task in shape.tasks.drain(..) {
                    plan.unschedulable.push(Unschedulable {
                        task,
                        reason: reason.clone(),
                    });
                }
            }
        }
        shapes.retain_nonempty();
        open_bins(&mut shapes, &pruned, &prices, &mut plan);

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

/// Tasks of one (demand, architecture), largest shapes first.
#[derive(Debug)]
struct Shape {
    demand: Resources,
    arch: Option<Architecture>,
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
}

#[derive(Debug)]
struct Shapes(Vec<Shape>);

impl Shapes {
    /// Groups `tasks` (already largest first) by shape, keeping that order.
    fn group(tasks: &[&PendingTask], prices: &UnitPrices) -> Self {
        let mut index: HashMap<(Resources, Option<Architecture>), usize> = HashMap::new();
        let mut shapes: Vec<Shape> = Vec::new();
        for task in tasks {
            let key = (task.demand, task.arch);
            let at = *index.entry(key).or_insert_with(|| {
                shapes.push(Shape {
                    demand: task.demand,
                    arch: task.arch,
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
/// at least as much of every dimension for no more money. After sorting by
/// price only earlier (cheaper or equal) candidates can dominate.
pub(crate) fn prune_dominated(candidates: &[Candidate]) -> Vec<&Candidate> {
    let mut sorted: Vec<&Candidate> = candidates.iter().collect();
    sorted.sort_by(|a, b| {
        a.price
            .0
            .total_cmp(&b.price.0)
            .then(a.offering.cmp(&b.offering))
    });
    let mut kept: Vec<&Candidate> = Vec::new();
    for c in sorted {
        let dominated = kept
            .iter()
            .any(|k| k.arch == c.arch && c.capacity.fits_in(&k.capacity) && k.price.0 <= c.price.0);
        if !dominated {
            kept.push(c);
        }
    }
    kept
}

/// How many tasks of `demand` fit in `free`, capped at `limit`.
#[inline]
pub(crate) fn how_many_fit(demand: &Resources, free: &Resources, limit: usize) -> usize {
    let per = |have: u64, need: u64| {
        if need == 0 {
            usize::MAX
        } else {
            (have / need) as usize
        }
    };
    per(free.millicpus, demand.millicpus)
        .min(per(free.memory_mib, demand.memory_mib))
        .min(per(u64::from(free.gpus), u64::from(demand.gpus)))
        .min(limit)
}

/// Fills `capacity` first-fit-decreasing from the shapes, writing how many of
/// each shape it takes into `taken`, and returns the value held.
fn fill(shapes: &[Shape], capacity: &Resources, candidate: &Candidate, taken: &mut [usize]) -> f64 {
    let mut free = *capacity;
    let mut value = 0.0;
    for (i, shape) in shapes.iter().enumerate() {
        taken[i] = 0;
        let left = shape.remaining();
        if left == 0 || !arch_ok(shape.arch, candidate.arch) {
            continue;
        }
        let n = how_many_fit(&shape.demand, &free, left);
        if n == 0 {
            continue;
        }
        taken[i] = n;
        value += shape.value * n as f64;
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
fn open_bins(shapes: &mut Shapes, candidates: &[&Candidate], prices: &UnitPrices, plan: &mut Plan) {
    let shapes = &mut shapes.0;
    let mut scratch = vec![0usize; shapes.len()];
    let mut best_taken = vec![0usize; shapes.len()];
    let tiny = prices
        .per_millicpu
        .min(prices.per_mib)
        .max(f64::MIN_POSITIVE);

    while let Some(first) = shapes.iter().position(|s| s.remaining() > 0) {
        let lead = &shapes[first];
        let mut chosen: Option<(&Candidate, f64)> = None;
        for &candidate in candidates {
            if !lead.demand.fits_in(&candidate.capacity) || !arch_ok(lead.arch, candidate.arch) {
                continue;
            }
            let value = fill(shapes, &candidate.capacity, candidate, &mut scratch);
            let score = candidate.price.0 / value.max(tiny);
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
    use std::sync::Arc;

    use super::*;
    use crate::catalog::{CapacityType, OfferingId, UsdPerHour};
    use crate::problem::{ExistingInstance, InstanceId};

    fn candidate(id: u32, cpus: u64, mib: u64, price: f64) -> Candidate {
        Candidate {
            offering: OfferingId(id),
            capacity: Resources::cpus_mib(cpus, mib),
            price: UsdPerHour(price),
            capacity_type: CapacityType::OnDemand,
            arch: Architecture::X86_64,
            type_name: Arc::from(format!("t{id}.test")),
        }
    }

    fn task(id: u64, cpus: u64, mib: u64) -> PendingTask {
        PendingTask {
            id: TaskId(id),
            demand: Resources::cpus_mib(cpus, mib),
            arch: None,
        }
    }

    #[test]
    fn packs_small_tasks_onto_one_cheap_bin() {
        let candidates = vec![candidate(0, 2, 4096, 0.10), candidate(1, 8, 16384, 0.30)];
        let tasks = (0..8).map(|i| task(i, 1, 2048)).collect();
        let plan = Greedy.solve(&PlacementProblem::new(tasks, &candidates));
        // One 8-cpu bin at 0.30 holds all eight; four 2-cpu bins would cost 0.40.
        assert_eq!(plan.launches.len(), 1);
        assert_eq!(plan.launches[0].offering, OfferingId(1));
        assert_eq!(plan.assignments.len(), 8);
    }

    #[test]
    fn a_small_remainder_gets_a_small_bin() {
        let candidates = vec![candidate(0, 2, 4096, 0.10), candidate(1, 8, 16384, 0.30)];
        let tasks = vec![task(0, 1, 1024)];
        let plan = Greedy.solve(&PlacementProblem::new(tasks, &candidates));
        assert_eq!(plan.launches.len(), 1);
        assert_eq!(plan.launches[0].offering, OfferingId(0));
    }

    #[test]
    fn existing_room_is_used_before_anything_is_opened() {
        let candidates = vec![candidate(0, 2, 4096, 0.10)];
        let mut problem =
            PlacementProblem::new(vec![task(0, 1, 1024), task(1, 1, 1024)], &candidates);
        problem.instances.push(ExistingInstance {
            id: InstanceId(7),
            offering: OfferingId(0),
            arch: Architecture::X86_64,
            free: Resources::cpus_mib(1, 2048),
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
        let candidates = vec![candidate(0, 2, 4096, 0.10), candidate(1, 8, 16384, 0.30)];
        let plan = Greedy.solve(&PlacementProblem::new(vec![task(0, 4, 65536)], &candidates));
        assert!(plan.launches.is_empty());
        let reason = &plan.unschedulable[0].reason;
        assert_eq!(reason.dimension, crate::resources::Dimension::Memory);
        assert_eq!(reason.largest.as_ref().unwrap().offering, OfferingId(1));
        assert!(reason.to_string().contains("65536 MiB"), "{reason}");
    }

    #[test]
    fn dominated_candidates_are_pruned() {
        let candidates = vec![candidate(0, 4, 8192, 0.10), candidate(1, 2, 4096, 0.20)];
        let kept = prune_dominated(&candidates);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].offering, OfferingId(0));
    }
}
