//! Finding the existing room where a task costs least, without scanning
//! every room for every task.
//!
//! Phase 1 of the greedy solver asks, task after task: among the rooms that
//! hold this task, which one costs least (the first, in fullness order, that
//! costs nothing or gains; otherwise the cheapest, the fullest of equals)?
//! A scan answers in `O(I)` per task, so `T` tasks on `I` rooms cost `O(T x I)`:
//! 1.7 s for 100,000 tasks on 10,000 rooms.
//!
//! Tasks of one shape (demand, architecture, expected runtime) ask the same
//! question of the same rooms, and between two of them only the room that
//! took a task has changed. So the first task of a shape scans; from the
//! second on, the shape keeps a min-heap of every room that holds it, keyed
//! by the scan's own preference, and every time a room takes a task, a fresh
//! entry for it goes into every shape's heap (an entry carries the room's
//! version; older ones are dropped when they surface). A task then costs
//! `O(log I)` plus `O(H log I)` for the `H` heaps its room is pushed to, and
//! each shape pays one `O(I)` build. The choice is exactly the scan's.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rustc_hash::FxHashMap;

use crate::catalog::Architecture;
use crate::resources::Resources;
use crate::time::Millis;

/// What makes two tasks ask the same question.
pub(super) type ShapeKey = (Resources, Option<Architecture>, Option<Millis>);

/// How the scan ranks a room that holds the task: one that costs nothing (or
/// gains) wins at the first such room in fullness order; otherwise the lowest
/// cost wins, ties to the fuller room; a room the task must not ride on
/// (no cost) never wins but stays known, since its cost may change.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// 0: costs nothing or gains; 1: costs something; 2: must not ride.
    class: u8,
    /// The cost, for class 1 (0 otherwise).
    cost: f64,
    /// Position in fullness order.
    position: u32,
    /// Index of the room.
    room: u32,
    /// The room's version when this entry was made.
    version: u32,
}

impl Entry {
    fn new(cost: Option<f64>, position: usize, room: usize, version: u32) -> Self {
        let (class, cost) = match cost {
            Some(c) if c <= 0.0 => (0, 0.0),
            Some(c) => (1, c),
            None => (2, 0.0),
        };
        Entry { class, cost, position: position as u32, room: room as u32, version }
    }

    fn rank(&self, other: &Self) -> Ordering {
        self.class
            .cmp(&other.class)
            .then(self.cost.total_cmp(&other.cost))
            .then(self.position.cmp(&other.position))
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.rank(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    /// Reversed, so `BinaryHeap` (a max-heap) yields the preferred room first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.rank(self)
    }
}

/// One shape's heap, and what its cost depends on.
struct ShapeHeap {
    key: ShapeKey,
    /// The cheapest price of running alone, as the cost function takes it.
    alone: Option<f64>,
    heap: BinaryHeap<Entry>,
}

/// Per-shape heaps over the rooms of one phase 1.
pub(super) struct RoomIndex {
    /// Each room's position in fullness order.
    position: Vec<usize>,
    /// Bumped every time a room takes a task.
    version: Vec<u32>,
    /// How many tasks of each shape have asked so far.
    asked: FxHashMap<ShapeKey, u32>,
    heaps: Vec<ShapeHeap>,
    heap_of: FxHashMap<ShapeKey, usize>,
}

impl RoomIndex {
    /// An index over `rooms` rooms visited in `by_fullness` order.
    pub(super) fn new(by_fullness: &[usize]) -> Self {
        let mut position = vec![0; by_fullness.len()];
        for (p, &i) in by_fullness.iter().enumerate() {
            position[i] = p;
        }
        RoomIndex {
            position,
            version: vec![0; by_fullness.len()],
            asked: FxHashMap::default(),
            heaps: Vec::new(),
            heap_of: FxHashMap::default(),
        }
    }

    /// The room the scan would choose for a task of `key`, given `holds`
    /// (does room `i` hold the task?) and `cost` (the task's cost on room
    /// `i`, `None` when it must not ride there), or `None` when no room may
    /// take it.
    pub(super) fn best(
        &mut self,
        key: ShapeKey,
        alone: Option<f64>,
        by_fullness: &[usize],
        holds: impl Fn(usize) -> bool,
        cost: impl Fn(usize, Option<f64>) -> Option<f64>,
    ) -> Option<usize> {
        let asked = self.asked.entry(key).or_insert(0);
        *asked += 1;
        if *asked == 1 {
            return scan(by_fullness, &holds, |i| cost(i, alone));
        }
        let at = match self.heap_of.get(&key) {
            Some(&at) => at,
            None => {
                let entries: Vec<Entry> = by_fullness
                    .iter()
                    .enumerate()
                    .filter(|&(_, &i)| holds(i))
                    .map(|(p, &i)| Entry::new(cost(i, alone), p, i, self.version[i]))
                    .collect();
                self.heaps.push(ShapeHeap { key, alone, heap: BinaryHeap::from(entries) });
                self.heap_of.insert(key, self.heaps.len() - 1);
                self.heaps.len() - 1
            }
        };
        let heap = &mut self.heaps[at].heap;
        while let Some(top) = heap.peek() {
            if top.version != self.version[top.room as usize] {
                heap.pop();
                continue;
            }
            return (top.class < 2).then_some(top.room as usize);
        }
        None
    }

    /// Records that room `i` took a task: its old entries go stale, and every
    /// shape's heap gets a fresh one where the room still holds that shape.
    pub(super) fn took(
        &mut self,
        i: usize,
        holds: impl Fn(usize, &ShapeKey) -> bool,
        cost: impl Fn(usize, &ShapeKey, Option<f64>) -> Option<f64>,
    ) {
        self.version[i] += 1;
        for shape in &mut self.heaps {
            if holds(i, &shape.key) {
                let entry = Entry::new(
                    cost(i, &shape.key, shape.alone),
                    self.position[i],
                    i,
                    self.version[i],
                );
                shape.heap.push(entry);
            }
        }
    }
}

/// The room [`scan`] would choose over the rooms in fullness order, found
/// without sorting them: the least by the scan's own preference (see
/// [`Entry`]), with fullness order given by `fullness` (then the index). For
/// a decision with one task, where sorting the rooms costs more than the
/// scan. Costs are finite.
pub(super) fn best_unsorted(
    rooms: usize,
    fullness: impl Fn(usize) -> f64,
    holds: impl Fn(usize) -> bool,
    cost: impl Fn(usize) -> Option<f64>,
) -> Option<usize> {
    let key = |i: usize, cost: f64| {
        let (class, cost) = if cost <= 0.0 { (0u8, 0.0) } else { (1, cost) };
        (class, cost, fullness(i), i)
    };
    let mut best: Option<(u8, f64, f64, usize)> = None;
    for i in (0..rooms).filter(|&i| holds(i)) {
        let Some(cost) = cost(i) else { continue };
        let here = key(i, cost);
        let better = best.is_none_or(|b| {
            here.0
                .cmp(&b.0)
                .then(here.1.total_cmp(&b.1))
                .then(here.2.total_cmp(&b.2))
                .then(here.3.cmp(&b.3))
                .is_lt()
        });
        if better {
            best = Some(here);
        }
    }
    best.map(|b| b.3)
}

/// The scan itself, for a shape's first task.
fn scan(
    by_fullness: &[usize],
    holds: impl Fn(usize) -> bool,
    cost: impl Fn(usize) -> Option<f64>,
) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for &i in by_fullness {
        if !holds(i) {
            continue;
        }
        let Some(cost) = cost(i) else { continue };
        if best.is_none_or(|(_, best_cost)| cost < best_cost) {
            best = Some((i, cost));
            if cost <= 0.0 {
                break;
            }
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heap_agrees_with_the_scan_as_rooms_fill() {
        // Rooms with free cpus and a cost per room; a task of 1 cpu each time.
        let costs = [Some(0.3), None, Some(0.1), Some(-0.2), Some(0.1), Some(-0.5)];
        let mut free = [2u32, 5, 1, 1, 3, 2];
        let by_fullness: Vec<usize> = vec![2, 3, 0, 5, 4, 1];
        let key: ShapeKey = (Resources::cpus_mib(1, 1), None, None);
        let mut index = RoomIndex::new(&by_fullness);
        loop {
            let holds = |i: usize| free[i] >= 1;
            let cost = |i: usize, _| costs[i];
            let expected = scan(&by_fullness, holds, |i| costs[i]);
            let got = index.best(key, None, &by_fullness, holds, cost);
            assert_eq!(got, expected);
            let Some(i) = got else { break };
            free[i] -= 1;
            index.took(i, |i, _| free[i] >= 1, |i, _, _| costs[i]);
        }
        // Room 1 never takes a task; every other room is full.
        assert_eq!(free, [0, 5, 0, 0, 0, 0]);
    }

    proptest::proptest! {
        /// Rooms whose cost for a shape falls or rises, or becomes allowed,
        /// as they take tasks of interleaved shapes: the index chooses what
        /// the scan chooses at every step.
        #[test]
        fn the_heap_agrees_with_the_scan_under_changing_costs(
            rooms in proptest::collection::vec((0u64..8, proptest::option::of(-3i32..6), 0u8..3), 1..12),
            tasks in proptest::collection::vec(0usize..3, 0..60),
        ) {
            let mut free: Vec<u64> = rooms.iter().map(|r| r.0).collect();
            let mut taken = vec![0i32; rooms.len()];
            let mut by_fullness: Vec<usize> = (0..rooms.len()).collect();
            by_fullness.sort_by_key(|&i| (rooms[i].2, i));
            let keys: Vec<ShapeKey> =
                (1..=3).map(|c| (Resources::cpus_mib(c, 1), None, None)).collect();
            // A room's cost for shape s: its base plus s, minus what it has
            // taken; a room refuses riders until it has taken one when its
            // base is unknown.
            let cost_of = |taken: &[i32], i: usize, s: usize| -> Option<f64> {
                match rooms[i].1 {
                    Some(base) => Some(f64::from(base + s as i32 - taken[i])),
                    None => (taken[i] > 0).then_some(f64::from(s as i32)),
                }
            };
            // The first task's room, without the sort, is the scan's too.
            if let Some(&s) = tasks.first() {
                let need = s as u64 + 1;
                let fullness = |i: usize| f64::from(rooms[i].2);
                let expected =
                    scan(&by_fullness, |i| free[i] >= need, |i| cost_of(&taken, i, s));
                let got = best_unsorted(rooms.len(), fullness, |i| free[i] >= need, |i| cost_of(&taken, i, s));
                proptest::prop_assert_eq!(got, expected);
            }
            let mut index = RoomIndex::new(&by_fullness);
            for s in tasks {
                let need = s as u64 + 1;
                let expected =
                    scan(&by_fullness, |i| free[i] * 1000 >= need * 1000, |i| cost_of(&taken, i, s));
                let got = index.best(
                    keys[s],
                    None,
                    &by_fullness,
                    |i| free[i] >= need,
                    |i, _| cost_of(&taken, i, s),
                );
                proptest::prop_assert_eq!(got, expected);
                if let Some(i) = got {
                    free[i] -= need;
                    taken[i] += 1;
                    let shape = |key: &ShapeKey| (key.0.millicpus / 1000) as usize - 1;
                    index.took(
                        i,
                        |i, key| free[i] > shape(key) as u64,
                        |i, key, _| cost_of(&taken, i, shape(key)),
                    );
                }
            }
        }
    }
}
