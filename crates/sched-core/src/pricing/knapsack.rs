//! Pricing one bin by branch and bound: the most valuable set of task
//! shapes that fits one capacity, with an upper bound that stays valid when
//! the search is cut short.
//!
//! The search branches on the count of each shape, most valuable per unit of
//! capacity first. Its bound at a node is the smaller of two valid ones: per
//! dimension, the room left times the best value per unit of that dimension;
//! and the room left priced at per-millicpu and per-MiB prices `(lambda, mu)`
//! under which no shape is worth more than the cpu and memory it uses (a
//! feasible point of the dual of the knapsack's LP relaxation). Past a node
//! limit it returns the largest bound of the nodes left, a valid
//! overestimate. It prices any shapes on any capacity; [`super::grid`] is
//! exact and much faster where its table is small.

use crate::resources::{Dimension, Resources};

/// How many tasks of `demand` fit in `capacity` (demand not all zero).
pub(crate) fn fit_count(demand: &Resources, capacity: &Resources) -> u64 {
    [Dimension::Cpu, Dimension::Memory, Dimension::Gpu]
        .iter()
        .filter(|&&d| demand.get(d) > 0)
        .map(|&d| capacity.get(d) / demand.get(d))
        .min()
        .unwrap_or(0)
}

/// The best pattern found for one bin, and an upper bound on the best
/// pattern's value (equal to `value` when the search finished).
pub(crate) struct Knapsack {
    pub value: f64,
    pub upper_bound: f64,
    pub counts: Vec<u64>,
}

/// Branch and bound over `shapes`: maximise `sum pi_s a_s` with the pattern
/// fitting `capacity` in every dimension and `a_s <= caps[s]`.
pub(crate) fn knapsack(
    demands: &[Resources],
    pi: &[f64],
    caps: Option<&[u64]>,
    shapes: &[usize],
    capacity: &Resources,
    max_nodes: u64,
) -> Knapsack {
    // Most valuable per unit of the capacity it uses first.
    let mut order: Vec<usize> = shapes.to_vec();
    let density = |s: usize| {
        let d = demands[s];
        let used = [Dimension::Cpu, Dimension::Memory, Dimension::Gpu]
            .iter()
            .filter(|&&r| capacity.get(r) > 0)
            .map(|&r| d.get(r) as f64 / capacity.get(r) as f64)
            .sum::<f64>();
        pi[s] / used.max(f64::MIN_POSITIVE)
    };
    order.sort_by(|&a, &b| density(b).total_cmp(&density(a)).then(a.cmp(&b)));

    let mut search = Search {
        demands,
        pi,
        caps,
        order: &order,
        prices: cpu_memory_prices(demands, pi, shapes, capacity),
        best: 0.0,
        best_counts: vec![0; demands.len()],
        counts: vec![0; demands.len()],
        abandoned: 0.0,
        nodes: 0,
        max_nodes,
    };
    search.dfs(0, *capacity, 0.0);
    Knapsack {
        value: search.best,
        upper_bound: search.best.max(search.abandoned),
        counts: search.best_counts,
    }
}

/// Prices `(lambda, mu) >= 0` per millicpu and per MiB with
/// `lambda * cpu_s + mu * mib_s >= pi_s` for every shape, chosen to make
/// `lambda * C_cpu + mu * C_mib` small: a feasible point of the dual of the
/// knapsack's LP relaxation over cpu and memory, so the room left, priced at
/// them, bounds what any set of the shapes can add. The dual objective is
/// convex in `lambda` once `mu` is the least feasible for it, and a ternary
/// search finds it closely; any `lambda` it stops at is feasible, so the bound
/// is valid however close it gets. `None` when some shape uses neither cpu
/// nor memory.
fn cpu_memory_prices(
    demands: &[Resources],
    pi: &[f64],
    shapes: &[usize],
    capacity: &Resources,
) -> Option<(f64, f64)> {
    let mut lambda_low: f64 = 0.0;
    let mut lambda_high: f64 = 0.0;
    for &s in shapes {
        let (a, b) = (demands[s].millicpus as f64, demands[s].memory_mib as f64);
        match (a > 0.0, b > 0.0) {
            (false, false) => return None,
            (true, false) => lambda_low = lambda_low.max(pi[s] / a),
            (true, true) => lambda_high = lambda_high.max(pi[s] / a),
            (false, true) => {}
        }
    }
    let lambda_high = lambda_high.max(lambda_low);
    let mu_for = |lambda: f64| {
        shapes
            .iter()
            .filter(|&&s| demands[s].memory_mib > 0)
            .map(|&s| {
                let d = demands[s];
                ((pi[s] - lambda * d.millicpus as f64) / d.memory_mib as f64).max(0.0)
            })
            .fold(0.0, f64::max)
    };
    let cost = |lambda: f64| {
        lambda * capacity.millicpus as f64 + mu_for(lambda) * capacity.memory_mib as f64
    };
    let (mut lo, mut hi) = (lambda_low, lambda_high);
    for _ in 0..60 {
        let m1 = lo + (hi - lo) / 3.0;
        let m2 = hi - (hi - lo) / 3.0;
        if cost(m1) <= cost(m2) {
            hi = m2;
        } else {
            lo = m1;
        }
    }
    let lambda = (lo + hi) / 2.0;
    // Rounding can leave a shape a hair above its price; a tiny lift covers it.
    Some((lambda * (1.0 + 1e-12), mu_for(lambda) * (1.0 + 1e-12)))
}

struct Search<'a> {
    demands: &'a [Resources],
    pi: &'a [f64],
    caps: Option<&'a [u64]>,
    order: &'a [usize],
    /// Prices `(per millicpu, per MiB)` at which every shape is worth no more
    /// than the cpu and memory it uses, when such prices exist.
    prices: Option<(f64, f64)>,
    best: f64,
    best_counts: Vec<u64>,
    counts: Vec<u64>,
    /// Largest bound of a node left unexplored at the node limit.
    abandoned: f64,
    nodes: u64,
    max_nodes: u64,
}

impl Search<'_> {
    fn most(&self, s: usize, room: &Resources) -> u64 {
        let n = fit_count(&self.demands[s], room);
        self.caps.map_or(n, |c| n.min(c[s]))
    }

    /// An upper bound on what shapes `order[i..]` can add in `room`: per
    /// dimension, the room times the best value per unit of it (plus, in full,
    /// the shapes that do not use that dimension); the smallest over
    /// dimensions, and the room priced at [`Search::prices`] when known.
    fn bound(&self, i: usize, room: &Resources) -> f64 {
        let rest = &self.order[i..];
        let single = [Dimension::Cpu, Dimension::Memory, Dimension::Gpu]
            .iter()
            .map(|&r| {
                let mut best_rate: f64 = 0.0;
                let mut free_riders = 0.0;
                for &s in rest {
                    let need = self.demands[s].get(r);
                    if need > 0 {
                        best_rate = best_rate.max(self.pi[s] / need as f64);
                    } else {
                        free_riders += self.pi[s] * self.most(s, room) as f64;
                    }
                }
                room.get(r) as f64 * best_rate + free_riders
            })
            .fold(f64::INFINITY, f64::min);
        match self.prices {
            Some((lambda, mu)) => {
                single.min(lambda * room.millicpus as f64 + mu * room.memory_mib as f64)
            }
            None => single,
        }
    }

    fn dfs(&mut self, i: usize, room: Resources, value: f64) {
        if value > self.best {
            self.best = value;
            self.best_counts.clone_from(&self.counts);
        }
        if i == self.order.len() {
            return;
        }
        let ceiling = value + self.bound(i, &room);
        if ceiling <= self.best * (1.0 + 1e-12) {
            return;
        }
        if self.nodes >= self.max_nodes {
            self.abandoned = self.abandoned.max(ceiling);
            return;
        }
        self.nodes += 1;
        let s = self.order[i];
        let d = self.demands[s];
        for n in (0..=self.most(s, &room)).rev() {
            let used = Resources {
                millicpus: d.millicpus * n,
                memory_mib: d.memory_mib * n,
                gpus: d.gpus * n as u32,
            };
            let left = room.saturating_sub(&used);
            self.counts[s] = n;
            self.dfs(i + 1, left, value + self.pi[s] * n as f64);
        }
        self.counts[s] = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knapsack_finds_the_best_mix() {
        let demands = [Resources::cpus_mib(3, 1024), Resources::cpus_mib(2, 1024)];
        let k = knapsack(&demands, &[3.0, 2.1], None, &[0, 1], &Resources::cpus_mib(4, 8192), 1000);
        // Two 2-cpu tasks (4.2) beat one 3-cpu task (3.0).
        assert_eq!(k.counts, vec![0, 2]);
        assert!((k.value - 4.2).abs() < 1e-12);
        assert!((k.upper_bound - 4.2).abs() < 1e-12);
    }
}
