//! Shrinks a placement problem before it becomes a model.
//!
//! Four reductions, each of which keeps at least one optimal plan:
//!
//! 1. **Identical shapes grouped.** Tasks of one (demand, architecture) are
//!    interchangeable, so the model counts them instead of naming them.
//! 2. **Dominated offerings dropped.** An offering with no more capacity in any
//!    dimension than a cheaper (or equally priced) one of the same architecture
//!    is never needed: swap each of its bins for the other one.
//! 3. **Bins bounded.** Each candidate gets a fixed number of bin slots, the
//!    smallest of three bounds that some optimal plan meets for every candidate
//!    at once (take an optimal plan with the fewest bins):
//!    - it holds at least one task per bin, so no more bins than tasks it can hold;
//!    - it costs no more than the greedy plan, so no more than
//!      `floor(greedy cost / price)` bins of a candidate;
//!    - no two of its bins of one candidate could be merged (that would drop a
//!      bin at no extra cost), so for any two of them the loads, as fractions of
//!      capacity summed over the dimensions, add up to more than 1; at most one
//!      bin is at or below 1/2, and there are at most `floor(2 * L) + 1` bins,
//!      where `L` is the load fraction of every task the candidate can hold.
//!
//!    The slots are never fewer than the greedy plan uses, so the warm start fits.
//! 4. **Existing room kept, as free bins.** Instances with room that fits some
//!    shape become bins of cost 0; the others are left out.
//!
//! Tasks no candidate can hold are decided as the greedy solver decides them:
//! those it put on existing room stay there (fixed, their room taken), and the
//! rest are unschedulable with the greedy plan's reason.

use std::collections::HashMap;

use crate::catalog::{Architecture, OfferingId};
use crate::plan::{Placement, Plan, Unschedulable};
use crate::policy::Candidate;
use crate::pricing::generation::{Columns, Generated};
use crate::problem::{arch_ok, InstanceId, PendingTask, PlacementProblem, TaskId};
use crate::resources::Resources;
use crate::solver::greedy::{how_many_fit, prune_dominated};

/// Which tasks may share a new instance, as the greedy solver rules it: tasks
/// with a runtime estimate share with one another (the longest sets the
/// bin's life); tasks without one share only with their own group, since
/// nothing says how long another process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Class {
    /// Tasks with an expected runtime.
    Timed,
    /// Tasks of this group without one.
    Group(u32),
}

impl Class {
    fn of(task: &PendingTask) -> Class {
        match task.expected_runtime {
            Some(_) => Class::Timed,
            None => Class::Group(task.group),
        }
    }
}

/// Tasks of one demand, architecture and sharing class.
#[derive(Debug, Clone)]
pub(crate) struct ShapeGroup {
    /// What each task needs.
    pub demand: Resources,
    /// The architecture each task needs, if any.
    pub arch: Option<Architecture>,
    /// Which tasks it may share a new instance with.
    pub class: Class,
    /// The tasks, in submission order.
    pub tasks: Vec<TaskId>,
    /// Positive integer weight used to order the bins of one candidate by
    /// load (symmetry breaking); exact in `f64`.
    pub weight: f64,
}

/// A candidate, for tasks of one sharing class, and the bin slots the model
/// gives it.
#[derive(Debug, Clone)]
pub(crate) struct BinKind<'a> {
    /// The candidate.
    pub candidate: &'a Candidate,
    /// The only class its bins hold.
    pub class: Class,
    /// How many bins of it the model may open: `bound`, raised to `floor`.
    pub slots: usize,
    /// How many bins of it some optimal plan needs at most (the smallest of
    /// the bounds in the module docs).
    pub bound: usize,
    /// How many bins of it the incumbent plan opens: slots never go below.
    pub floor: usize,
    /// Shapes that fit an empty bin, with how many of each fit (capped at the
    /// shape's task count).
    pub fits: Vec<(usize, usize)>,
}

/// Free room on an existing instance, as a bin of cost 0.
#[derive(Debug, Clone)]
pub(crate) struct Room {
    /// The instance.
    pub instance: InstanceId,
    /// Its architecture.
    pub arch: Architecture,
    /// Room left after the fixed tasks.
    pub free: Resources,
    /// Shapes that fit, with how many of each fit.
    pub fits: Vec<(usize, usize)>,
}

/// The problem the model sees, and what was decided before it.
#[derive(Debug, Clone)]
pub(crate) struct Reduced<'a> {
    /// Task shapes left to place.
    pub shapes: Vec<ShapeGroup>,
    /// New-instance bins, per candidate.
    pub kinds: Vec<BinKind<'a>>,
    /// Existing rooms.
    pub rooms: Vec<Room>,
    /// Tasks no candidate holds that the greedy plan put on existing room.
    pub fixed: Vec<(TaskId, InstanceId)>,
    /// Tasks no candidate holds and no room took, as the greedy plan says.
    pub unschedulable: Vec<Unschedulable>,
    /// Candidates before dominated ones were dropped.
    pub candidates_before: usize,
    /// A proven lower bound on the launch cost per hour of every plan, from
    /// the pattern LP (0 until it has run).
    pub pattern_bound: f64,
}

impl Reduced<'_> {
    /// Number of model variables: an open flag per slot, a count per fitting
    /// shape per slot, a count per fitting shape per room.
    pub fn variables(&self) -> usize {
        let new: usize = self.kinds.iter().map(|k| k.slots * (1 + k.fits.len())).sum();
        new + self.rooms.iter().map(|r| r.fits.len()).sum::<usize>()
    }

    /// Number of bins: slots plus rooms.
    pub fn bins(&self) -> usize {
        self.kinds.iter().map(|k| k.slots).sum::<usize>() + self.rooms.len()
    }

    /// Total number of tasks the model places.
    pub fn tasks(&self) -> usize {
        self.shapes.iter().map(|s| s.tasks.len()).sum()
    }
}

/// Reduces `problem`, given the greedy plan for it (used for the cost bound,
/// for the slot floor, and to decide the tasks no candidate holds).
pub(crate) fn reduce<'a>(problem: &PlacementProblem<'a>, greedy: &Plan) -> Reduced<'a> {
    let pruned = prune_dominated(problem.candidates);
    let holds = |demand: &Resources, arch: Option<Architecture>| {
        pruned.iter().any(|c| demand.fits_in(&c.capacity) && arch_ok(arch, c.arch))
    };

    // Tasks no candidate holds: fixed where greedy put them, else unschedulable.
    let greedy_room: HashMap<TaskId, InstanceId> = greedy
        .assignments
        .iter()
        .filter_map(|a| match a.placement {
            Placement::Existing(id) => Some((a.task, id)),
            Placement::New(_) => None,
        })
        .collect();
    let mut room_free: Vec<Resources> = problem.instances.iter().map(|i| i.free).collect();
    let mut fixed = Vec::new();
    let mut index: HashMap<(Resources, Option<Architecture>, Class), usize> = HashMap::new();
    let mut shapes: Vec<ShapeGroup> = Vec::new();
    for task in &problem.tasks {
        if !holds(&task.demand, task.arch) {
            if let Some(&id) = greedy_room.get(&task.id) {
                if let Some(at) = problem.instances.iter().position(|i| i.id == id) {
                    room_free[at] = room_free[at].saturating_sub(&task.demand);
                }
                fixed.push((task.id, id));
            }
            continue;
        }
        let class = Class::of(task);
        let at = *index.entry((task.demand, task.arch, class)).or_insert_with(|| {
            shapes.push(ShapeGroup {
                demand: task.demand,
                arch: task.arch,
                class,
                tasks: Vec::new(),
                weight: weight(&task.demand),
            });
            shapes.len() - 1
        });
        shapes[at].tasks.push(task.id);
    }
    let unschedulable = greedy.unschedulable.clone();

    // Existing rooms that fit some shape.
    let rooms = problem
        .instances
        .iter()
        .zip(&room_free)
        .filter_map(|(inst, free)| {
            let fits = fitting(&shapes, free, inst.arch, None);
            (!fits.is_empty()).then_some(Room {
                instance: inst.id,
                arch: inst.arch,
                free: *free,
                fits,
            })
        })
        .collect();

    // Candidates that fit some shape, with their slot bounds.
    let greedy_cost = greedy.launch_cost_per_hour().0;
    let class_of: HashMap<TaskId, Class> =
        shapes.iter().flat_map(|s| s.tasks.iter().map(move |&t| (t, s.class))).collect();
    let mut launch_class: Vec<Option<Class>> = vec![None; greedy.launches.len()];
    for a in &greedy.assignments {
        if let (Placement::New(n), Some(&class)) = (a.placement, class_of.get(&a.task)) {
            if let Some(slot) = launch_class.get_mut(n) {
                *slot = Some(class);
            }
        }
    }
    let mut greedy_bins: HashMap<(OfferingId, Class), usize> = HashMap::new();
    for (launch, class) in greedy.launches.iter().zip(&launch_class) {
        if let Some(class) = class {
            *greedy_bins.entry((launch.offering, *class)).or_default() += 1;
        }
    }
    let mut classes: Vec<Class> = shapes.iter().map(|s| s.class).collect();
    classes.sort_unstable();
    classes.dedup();
    let kinds = pruned
        .iter()
        .flat_map(|&candidate| classes.iter().map(move |&class| (candidate, class)))
        .filter_map(|(candidate, class)| {
            let fits = fitting(&shapes, &candidate.capacity, candidate.arch, Some(class));
            if fits.is_empty() {
                return None;
            }
            let floor = greedy_bins.get(&(candidate.offering, class)).copied().unwrap_or(0);
            let bound = slot_bound(&shapes, &fits, candidate, greedy_cost);
            let slots = bound.max(floor);
            (slots > 0).then_some(BinKind { candidate, class, slots, bound, floor, fits })
        })
        .collect();

    Reduced {
        shapes,
        kinds,
        rooms,
        fixed,
        unschedulable,
        candidates_before: problem.candidates.len(),
        pattern_bound: 0.0,
    }
}

/// The pattern LP's input for the reduced problem: counts capped per bin at
/// the shape's count, the kept candidates per sharing class (in the order of
/// `kinds`, so `Owner::Candidate(k)` is kind `k`), the existing rooms as free
/// bins (in the order of `rooms`). `None` when there is nothing to price.
pub(crate) fn pattern_input<'a>(reduced: &Reduced<'a>) -> Option<Columns<'a>> {
    if reduced.shapes.is_empty() || reduced.kinds.is_empty() {
        return None;
    }
    let mut classes: Vec<Class> = reduced.shapes.iter().map(|s| s.class).collect();
    classes.sort_unstable();
    classes.dedup();
    Some(Columns {
        demands: reduced.shapes.iter().map(|s| s.demand).collect(),
        arches: reduced.shapes.iter().map(|s| s.arch).collect(),
        need: reduced.shapes.iter().map(|s| s.tasks.len() as f64).collect(),
        caps: Some(reduced.shapes.iter().map(|s| s.tasks.len() as u64).collect()),
        candidates: reduced.kinds.iter().map(|k| k.candidate).collect(),
        shape_class: reduced.shapes.iter().map(|s| class_index(&classes, s.class)).collect(),
        candidate_class: reduced
            .kinds
            .iter()
            .map(|k| Some(class_index(&classes, k.class)))
            .collect(),
        rooms: reduced.rooms.iter().map(|r| (r.free, r.arch)).collect(),
    })
}

/// Bounds the bin slots again once a plan costing `upper` USD/h is known,
/// with the pattern LP's duals when there are any (`docs/formulation.md`).
///
/// Every plan no dearer than `upper` opens at most `floor(upper / p_o)` bins
/// of candidate `o`, and, by reduced-cost fixing, at most
/// `(upper - LB) / rc_o`, where `LB` is the pattern bound and `rc_o = p_o -
/// max_a pi'.a >= 0` the candidate's least reduced cost under the
/// dual-feasible prices `pi'` behind it: every plan costs at least `LB +
/// sum_o n_o rc_o`. Candidates left with no slot drop out. `floor[k]` is
/// how many bins of kind `k` the incumbent opens: slots never go below it,
/// so the incumbent stays a point of the model.
pub(crate) fn fit_slots(
    reduced: &mut Reduced<'_>,
    upper: f64,
    generated: Option<&Generated>,
    floor: &[usize],
) {
    let slack = (upper - reduced.pattern_bound).max(0.0);
    let values = generated.map(|g| g.candidate_value.as_slice()).unwrap_or(&[]);
    for (k, kind) in reduced.kinds.iter_mut().enumerate() {
        let price = kind.candidate.price.0;
        let mut bound = kind.bound;
        if price > 0.0 {
            // The epsilon keeps a plan made only of this candidate inside.
            bound = bound.min(((upper / price) + 1e-9).floor() as usize);
        }
        if let Some(value) = values.get(k) {
            let reduced_cost = price - value;
            if reduced_cost > 1e-12 {
                let by_cost = (slack / reduced_cost * (1.0 + 1e-9) + 1e-9).floor();
                if by_cost < bound as f64 {
                    bound = by_cost as usize;
                }
            }
        }
        kind.floor = floor.get(k).copied().unwrap_or(0);
        kind.slots = bound.max(kind.floor);
    }
    reduced.kinds.retain(|k| k.slots > 0);
}

/// Position of `class` in the sorted, deduplicated `classes`.
fn class_index(classes: &[Class], class: Class) -> usize {
    classes.binary_search(&class).unwrap_or(0)
}

/// A positive integer weight for ordering bins by load. Any fixed positive
/// weights are valid for symmetry breaking; these are exact in `f64`.
fn weight(demand: &Resources) -> f64 {
    (demand.millicpus + demand.memory_mib + 1_000_000 * u64::from(demand.gpus) + 1) as f64
}

/// Shapes that fit `capacity` on `arch` (of `class`, when given), with how
/// many of each fit.
fn fitting(
    shapes: &[ShapeGroup],
    capacity: &Resources,
    arch: Architecture,
    class: Option<Class>,
) -> Vec<(usize, usize)> {
    shapes
        .iter()
        .enumerate()
        .filter(|(_, s)| arch_ok(s.arch, arch) && class.is_none_or(|c| c == s.class))
        .filter_map(|(i, s)| {
            let n = how_many_fit(&s.demand, capacity, s.tasks.len());
            (n > 0).then_some((i, n))
        })
        .collect()
}

/// The smallest of the three slot bounds in the module docs.
fn slot_bound(
    shapes: &[ShapeGroup],
    fits: &[(usize, usize)],
    candidate: &Candidate,
    greedy_cost: f64,
) -> usize {
    let holdable: usize = fits.iter().map(|&(s, _)| shapes[s].tasks.len()).sum();

    let by_price = if candidate.price.0 > 0.0 {
        // The epsilon keeps a greedy plan made only of this candidate inside.
        ((greedy_cost / candidate.price.0) + 1e-9).floor() as usize
    } else {
        usize::MAX
    };

    let cap = candidate.capacity;
    let fraction = |need: u64, have: u64| {
        if have == 0 {
            0.0
        } else {
            need as f64 / have as f64
        }
    };
    let load: f64 = fits
        .iter()
        .map(|&(s, _)| {
            let d = shapes[s].demand;
            let n = shapes[s].tasks.len() as f64;
            n * (fraction(d.millicpus, cap.millicpus)
                + fraction(d.memory_mib, cap.memory_mib)
                + fraction(u64::from(d.gpus), u64::from(cap.gpus)))
        })
        .sum();
    // The small slack absorbs rounding in the float sum; it only loosens the bound.
    let by_merging = (2.0 * load * (1.0 + 1e-12) + 1e-9).floor() as usize + 1;

    holdable.min(by_price).min(by_merging)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::{CandidateSet, ExistingInstance};
    use crate::solver::{Greedy, Solver};
    use crate::test_support::{candidate, task};

    #[test]
    fn shapes_are_grouped_and_dominated_candidates_dropped() {
        let candidates = CandidateSet::new(vec![
            candidate(0, 4, 8192, 0.10),
            candidate(1, 2, 4096, 0.20),
            candidate(2, 8, 16384, 0.30),
        ]);
        let tasks = vec![task(0, 1, 1024), task(1, 1, 1024), task(2, 2, 2048)];
        let problem = PlacementProblem::new(tasks, &candidates);
        let greedy = Greedy.solve(&problem);
        let reduced = reduce(&problem, &greedy);
        assert_eq!(reduced.shapes.len(), 2);
        assert_eq!(reduced.shapes[0].tasks, vec![TaskId(0), TaskId(1)]);
        let kept: Vec<u32> = reduced.kinds.iter().map(|k| k.candidate.offering.0).collect();
        // 1 is dominated by 0; 2 costs more than the whole greedy plan (0.10).
        assert_eq!(kept, vec![0]);
    }

    #[test]
    fn slots_are_bounded_by_the_greedy_cost_and_by_merging() {
        let candidates =
            CandidateSet::new(vec![candidate(0, 4, 8192, 0.10), candidate(1, 16, 65536, 0.25)]);
        // Forty one-cpu tasks: greedy opens 3 big bins (0.75) and maybe a small one.
        let tasks = (0..40).map(|i| task(i, 1, 1024)).collect();
        let problem = PlacementProblem::new(tasks, &candidates);
        let greedy = Greedy.solve(&problem);
        let reduced = reduce(&problem, &greedy);
        let cost = greedy.launch_cost_per_hour().0;
        for kind in &reduced.kinds {
            let by_price = (cost / kind.candidate.price.0 + 1e-9).floor() as usize;
            assert!(kind.slots <= by_price.max(1), "{kind:?}");
            assert!(kind.slots < 40, "{kind:?}");
        }
        // Load on the big one: 40 * (1/16 + 1/64) = 3.125, so at most 7 bins.
        let big = reduced.kinds.iter().find(|k| k.candidate.offering.0 == 1).unwrap();
        assert!(big.slots <= 7, "{big:?}");
    }

    #[test]
    fn tasks_no_candidate_holds_are_fixed_or_unschedulable_as_greedy_says() {
        let candidates = CandidateSet::new(vec![candidate(0, 2, 4096, 0.10)]);
        let mut problem =
            PlacementProblem::new(vec![task(0, 8, 1024), task(1, 8, 1024)], &candidates);
        problem.instances.push(ExistingInstance {
            id: InstanceId(9),
            offering: OfferingId(0),
            arch: Architecture::X86_64,
            free: Resources::cpus_mib(8, 2048),
            busy_for: None,
        });
        let greedy = Greedy.solve(&problem);
        let reduced = reduce(&problem, &greedy);
        assert_eq!(reduced.fixed.len(), 1);
        assert_eq!(reduced.unschedulable.len(), 1);
        assert!(reduced.shapes.is_empty());
        assert!(reduced.rooms.is_empty());
    }
}
