//! Plans as bins of patterns, and back.
//!
//! The dive ends with a whole number of bins of each pattern; a pattern
//! names a candidate (or an existing room) and how many tasks of each shape
//! it runs, not which tasks. [`assemble`] hands out the tasks: rooms first,
//! then new bins from the dearest down, each taking at most what is left of
//! every shape (a pattern may hold more of a shape than is left: the model
//! covers the tasks rather than partitioning them), and gives every bin the
//! cheapest candidate of its class that holds what it got. [`bins_of`] goes
//! the other way, for the plans the compact model is warm-started from.

use std::collections::{HashMap, HashSet};

use super::reduction::{Class, Reduced};
use crate::catalog::OfferingId;
use crate::plan::{Placement, Plan};
use crate::pricing::generation::{Owner, Pattern};
use crate::problem::{InstanceId, TaskId};
use crate::resources::Resources;

/// Shape counts of each bin of a plan, in the reduced problem's indices.
pub(crate) struct BinCounts {
    /// Per launch, in the plan's order: its bin kind and its shape counts.
    pub launches: Vec<(usize, Vec<u64>)>,
    /// Per existing room, in the reduced problem's order (zeros where unused).
    pub rooms: Vec<Vec<u64>>,
}

/// The shape counts of every bin of `plan`; fixed tasks are left out. `None`
/// when a bin does not map onto the reduced problem (an empty launch, or a
/// candidate or room the reduction dropped).
pub(crate) fn bin_counts(reduced: &Reduced<'_>, plan: &Plan) -> Option<BinCounts> {
    let shapes = reduced.shapes.len();
    let shape_of: HashMap<TaskId, usize> = reduced
        .shapes
        .iter()
        .enumerate()
        .flat_map(|(s, shape)| shape.tasks.iter().map(move |&t| (t, s)))
        .collect();
    let kind_of: HashMap<(OfferingId, Class), usize> = reduced
        .kinds
        .iter()
        .enumerate()
        .map(|(k, kind)| ((kind.candidate.offering, kind.class), k))
        .collect();
    let room_of: HashMap<InstanceId, usize> =
        reduced.rooms.iter().enumerate().map(|(r, room)| (room.instance, r)).collect();

    let mut launches = vec![vec![0u64; shapes]; plan.launches.len()];
    let mut rooms = vec![vec![0u64; shapes]; reduced.rooms.len()];
    for a in &plan.assignments {
        let Some(&s) = shape_of.get(&a.task) else {
            continue; // a fixed task: not a model quantity
        };
        match a.placement {
            Placement::New(n) => launches.get_mut(n)?[s] += 1,
            Placement::Existing(id) => rooms[*room_of.get(&id)?][s] += 1,
        }
    }
    let launches = plan
        .launches
        .iter()
        .zip(launches)
        .map(|(launch, counts)| {
            // Every task of a bin is of one class; the first names it.
            let s = counts.iter().position(|&n| n > 0)?;
            let k = *kind_of.get(&(launch.offering, reduced.shapes[s].class))?;
            Some((k, counts))
        })
        .collect::<Option<Vec<_>>>()?;
    Some(BinCounts { launches, rooms })
}

/// The bins of `plan` as patterns: one per launch, one per room it uses.
/// `None` when a bin does not map onto the reduced problem.
pub(crate) fn bins_of(reduced: &Reduced<'_>, plan: &Plan) -> Option<Vec<Pattern>> {
    let counts = bin_counts(reduced, plan)?;
    let mut bins: Vec<Pattern> = counts
        .launches
        .into_iter()
        .map(|(k, counts)| Pattern { owner: Owner::Candidate(k), counts })
        .collect();
    for (r, counts) in counts.rooms.into_iter().enumerate() {
        if counts.iter().any(|&n| n > 0) {
            bins.push(Pattern { owner: Owner::Room(r), counts });
        }
    }
    Some(bins)
}

/// Turns chosen bins into a checked plan: rooms first, then new bins from
/// the dearest down, each taking at most what is left of every shape; empty
/// bins are dropped and every other one gets the cheapest candidate of its
/// class that holds what it got. `None` when the bins leave a task out or a
/// bin is overfull (the model forbids both; this is the integer check).
pub(crate) fn assemble(reduced: &Reduced<'_>, chosen: &[&Pattern]) -> Option<Plan> {
    let shapes = &reduced.shapes;
    let mut left: Vec<u64> = shapes.iter().map(|s| s.tasks.len() as u64).collect();
    let mut take = |counts: &[u64]| -> Vec<u64> {
        counts
            .iter()
            .zip(left.iter_mut())
            .map(|(&want, have)| {
                let n = want.min(*have);
                *have -= n;
                n
            })
            .collect()
    };

    let mut rooms: Vec<(usize, Vec<u64>)> = Vec::new();
    let mut used_rooms = HashSet::new();
    for p in chosen {
        if let Owner::Room(e) = p.owner {
            if !used_rooms.insert(e) {
                return None; // a room can only be used once
            }
            rooms.push((e, take(&p.counts)));
        }
    }
    let mut bins: Vec<(usize, &Pattern)> = chosen
        .iter()
        .filter_map(|p| match p.owner {
            Owner::Candidate(k) => Some((k, *p)),
            Owner::Room(_) => None,
        })
        .collect();
    bins.sort_by(|a, b| {
        let price = |k: usize| reduced.kinds[k].candidate.price.0;
        price(b.0).total_cmp(&price(a.0)).then_with(|| a.0.cmp(&b.0))
    });
    let filled: Vec<(usize, Vec<u64>)> =
        bins.into_iter().map(|(k, p)| (k, take(&p.counts))).collect();
    if left.iter().any(|&n| n > 0) {
        return None;
    }

    // Assignments in submission order per shape, rooms first.
    let mut plan = Plan { unschedulable: reduced.unschedulable.clone(), ..Plan::default() };
    for &(task, id) in &reduced.fixed {
        plan.assign(task, Placement::Existing(id));
    }
    let mut next = vec![0usize; shapes.len()];
    let mut place = |plan: &mut Plan, counts: &[u64], placement: Placement| -> Option<()> {
        for (s, &n) in counts.iter().enumerate() {
            for _ in 0..n {
                plan.assign(*shapes[s].tasks.get(next[s])?, placement);
                next[s] += 1;
            }
        }
        Some(())
    };
    for (e, counts) in &rooms {
        let room = &reduced.rooms[*e];
        let fits_arch = counts
            .iter()
            .enumerate()
            .all(|(s, &n)| n == 0 || room.fits.iter().any(|&(f, _)| f == s));
        if !fits_arch || !load(reduced, counts)?.fits_in(&room.free) {
            return None;
        }
        place(&mut plan, counts, Placement::Existing(room.instance))?;
    }
    for (k, counts) in &filled {
        if counts.iter().all(|&n| n == 0) {
            continue; // emptied by the shapes' surplus: not launched
        }
        let k = cheapest_kind(reduced, *k, counts)?;
        let launch = plan.push_launch(reduced.kinds[k].candidate);
        place(&mut plan, counts, Placement::New(launch))?;
    }
    Some(plan)
}

/// The cheapest kind of the same class as `kinds[k]` that holds `counts`
/// (every shape in its fitting list, the load within its capacity); `None`
/// when not even `kinds[k]` does.
fn cheapest_kind(reduced: &Reduced<'_>, k: usize, counts: &[u64]) -> Option<usize> {
    let need = load(reduced, counts)?;
    let class = reduced.kinds[k].class;
    let holds = |j: usize| {
        let kind = &reduced.kinds[j];
        kind.class == class
            && need.fits_in(&kind.candidate.capacity)
            && counts
                .iter()
                .enumerate()
                .all(|(s, &n)| n == 0 || kind.fits.iter().any(|&(f, _)| f == s))
    };
    if !holds(k) {
        return None;
    }
    let mut best = k;
    for j in 0..reduced.kinds.len() {
        let (pj, pb) = (reduced.kinds[j].candidate.price.0, reduced.kinds[best].candidate.price.0);
        if pj < pb && holds(j) {
            best = j;
        }
    }
    Some(best)
}

/// Total demand of `counts[s]` tasks of each shape, in exact integers.
fn load(reduced: &Reduced<'_>, counts: &[u64]) -> Option<Resources> {
    let mut total = Resources::ZERO;
    for (shape, &n) in reduced.shapes.iter().zip(counts) {
        let d = shape.demand;
        let add = Resources {
            millicpus: d.millicpus.checked_mul(n)?,
            memory_mib: d.memory_mib.checked_mul(n)?,
            gpus: d.gpus.checked_mul(u32::try_from(n).ok()?)?,
        };
        total = total.checked_add(&add)?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::{CandidateSet, ExistingInstance, PlacementProblem};
    use crate::solver::milp::reduction::reduce;
    use crate::solver::{Greedy, Solver};
    use crate::test_support::{candidate, task};

    #[test]
    fn surplus_is_dropped_and_each_bin_gets_its_cheapest_candidate() {
        let candidates =
            CandidateSet::new(vec![candidate(0, 2, 4096, 0.10), candidate(1, 8, 16_384, 0.30)]);
        // Five one-cpu tasks.
        let tasks = (0..5).map(|i| task(i, 1, 1024)).collect();
        let problem = PlacementProblem::new(tasks, &candidates);
        let reduced = reduce(&problem, &Greedy.solve(&problem));
        let big = reduced.kinds.iter().position(|k| k.candidate.offering.0 == 1).expect("kept");
        // Two big bins of four each: eight places for five tasks.
        let four = Pattern { owner: Owner::Candidate(big), counts: vec![4] };
        let plan = assemble(&reduced, &[&four, &four]).expect("a plan");
        assert_eq!(plan.assignments.len(), 5);
        // The dearer bin is filled first; the one task left needs only the small one.
        let mut prices: Vec<f64> = plan.launches.iter().map(|l| l.price.0).collect();
        prices.sort_by(f64::total_cmp);
        assert_eq!(prices, vec![0.10, 0.30]);
    }

    #[test]
    fn a_plan_that_leaves_a_task_out_or_uses_a_room_twice_is_refused() {
        let candidates = CandidateSet::new(vec![candidate(0, 4, 8192, 0.10)]);
        let tasks = (0..3).map(|i| task(i, 1, 1024)).collect();
        let mut problem = PlacementProblem::new(tasks, &candidates);
        problem.instances.push(ExistingInstance {
            id: InstanceId(7),
            offering: OfferingId(0),
            arch: crate::catalog::Architecture::X86_64,
            free: Resources::cpus_mib(2, 4096),
            busy_for: None,
        });
        let reduced = reduce(&problem, &Greedy.solve(&problem));
        let two = Pattern { owner: Owner::Candidate(0), counts: vec![2] };
        assert!(assemble(&reduced, &[&two]).is_none(), "one task left out");
        let room = Pattern { owner: Owner::Room(0), counts: vec![2] };
        assert!(assemble(&reduced, &[&room, &room]).is_none(), "the room twice");
        let plan = assemble(&reduced, &[&room, &two]).expect("room and bin");
        assert_eq!(plan.assignments.len(), 3);
        assert_eq!(plan.launches.len(), 1);
        // Round trip: the plan's bins are the room's two tasks and one bin of one.
        let bins = bins_of(&reduced, &plan).expect("maps back");
        assert_eq!(bins.len(), 2);
        assert!(bins.iter().any(|b| b.owner == Owner::Room(0) && b.counts == vec![2]));
        assert!(bins.iter().any(|b| b.owner == Owner::Candidate(0) && b.counts == vec![1]));
    }
}
