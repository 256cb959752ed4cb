//! Pricing every bin of a set of candidates at once, exactly, by dynamic
//! programming over a table of (cpu, memory) capacities.
//!
//! For shapes `s` of value `pi_s`, demand `(c_s, m_s)` and at most `u_s`
//! tasks per bin, the table holds, for every capacity `(C, M)` up to the
//! largest candidate's, `V(C, M) = max sum_s pi_s a_s` over counts `a_s <=
//! u_s` that fit: one pass answers every candidate of the group, where a
//! branch and bound ([`super::knapsack`]) searches once per candidate.
//!
//! **Exact in integer units.** Cpu is counted in units of `g_c`, the greatest
//! common divisor of the shapes' cpu demands, and memory in units of `g_m`.
//! A set of tasks fits `C` millicpus exactly when it fits `floor(C / g_c)`
//! units, since its demand is a multiple of `g_c`; so reading the table at
//! `(floor(C / g_c), floor(M / g_m))` is exact, not rounded.
//!
//! **The recursion** is the 0/1 knapsack over items, each shape split into
//! binary chunks `1, 2, 4, ..., rest` of its bound (any count up to `u_s` is
//! a sum of distinct chunks): `V_i(c, m) = max(V_{i-1}(c, m), V_{i-1}(c -
//! w_i, m - h_i) + v_i)`, in place, rows from the top, every item using at
//! least one cpu unit so a row only reads rows below it. The table starts at
//! 0, so each cell is the best over all usage at most its capacity. In the
//! exact (double precision) round, one bit per chunk and cell says whether
//! the chunk improved the cell, and reading them from the last chunk back
//! gives the counts behind any cell. The single-precision rounds skip the
//! bits, which keeps their loop vectorised, and search for the counts
//! instead, bounded by the table.
//!
//! **Its size** is cut to what the shapes can use: no more cpu than all of
//! them need, and no more memory than the most any set of them within the
//! cpu limit needs (itself a small knapsack over cpu), row by row. Shapes
//! that need a GPU, or no cpu or no memory, and tables over a work limit are
//! left to the branch and bound.

use tracing::trace;

use crate::resources::Resources;

/// One chunk of one shape: `count` tasks of it as a single 0/1 item.
#[derive(Debug, Clone, Copy)]
struct Item {
    shape: usize,
    count: u64,
    /// Cpu units.
    cpu: usize,
    /// Memory units.
    memory: usize,
    value: f64,
}

/// Why no table was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Declined {
    /// A shape needs a GPU, or no cpu or no memory: the table does not count
    /// them.
    Shapes,
    /// It would be over the work limit; a smaller largest capacity may fit.
    Size,
}

/// The table of best values for every capacity up to the group's largest.
#[derive(Debug)]
pub(crate) struct Grid {
    cpu_unit: u64,
    memory_unit: u64,
    /// Per cpu level, where its row starts in `values` and how many memory
    /// levels it has: no more than the most memory a set within that cpu
    /// needs, so the table is close to a triangle.
    rows: Vec<(usize, usize)>,
    values: Values,
    /// Per chunk, one bit per cell: the chunk improved the cell (exact
    /// tables only).
    taken: Option<Vec<Vec<u64>>>,
    items: Vec<Item>,
    /// Relative rounding the table's sums may carry (see [`Grid::value`]).
    slack: f64,
    /// Shapes in the problem, for the counts read back.
    shapes: usize,
}

impl Grid {
    /// Builds the table for `shapes` (indices into `demands`, values `pi`,
    /// optional per-bin caps) up to capacity `largest`, in double precision
    /// when `exact`, else in single. Declined when a shape needs a GPU, no
    /// cpu or no memory, or the work (cells times binary chunks) is over
    /// `max_work`.
    pub fn build(
        demands: &[Resources],
        pi: &[f64],
        caps: Option<&[u64]>,
        shapes: &[usize],
        largest: &Resources,
        max_work: usize,
        exact: bool,
    ) -> Result<Grid, Declined> {
        let shapes_in: Vec<usize> = shapes.iter().copied().filter(|&s| pi[s] > 0.0).collect();
        if shapes_in.iter().any(|&s| {
            demands[s].gpus > 0 || demands[s].millicpus == 0 || demands[s].memory_mib == 0
        }) {
            return Err(Declined::Shapes);
        }
        let cpu_unit = shapes_in.iter().map(|&s| demands[s].millicpus).fold(0, gcd).max(1);
        let memory_unit = shapes_in.iter().map(|&s| demands[s].memory_mib).fold(0, gcd).max(1);

        // Each shape in units, with its bound within the largest capacity,
        // split into chunks.
        let too_large = |_| Declined::Size;
        let top_cpu = usize::try_from(largest.millicpus / cpu_unit).map_err(too_large)?;
        let top_memory = usize::try_from(largest.memory_mib / memory_unit).map_err(too_large)?;
        let mut items = Vec::new();
        for &s in &shapes_in {
            let c = usize::try_from(demands[s].millicpus / cpu_unit).map_err(too_large)?;
            let m = usize::try_from(demands[s].memory_mib / memory_unit).map_err(too_large)?;
            let fit = (top_cpu / c).min(top_memory / m) as u64;
            let mut left = caps.map_or(fit, |caps| fit.min(caps[s]));
            let mut chunk = 1;
            while left > 0 {
                let count = chunk.min(left);
                let k = usize::try_from(count).map_err(too_large)?;
                items.push(Item {
                    shape: s,
                    count,
                    cpu: c * k,
                    memory: m * k,
                    value: pi[s] * count as f64,
                });
                left -= count;
                chunk *= 2;
            }
        }

        // Rows: up to the cpu all chunks need, each as wide as the most
        // memory a set within its cpu needs.
        let all_cpu: usize = items.iter().map(|item| item.cpu).sum();
        let height = top_cpu.min(all_cpu) + 1;
        let mut rows = Vec::with_capacity(height);
        let mut cells: usize = 0;
        for most in most_memory(&items, height - 1) {
            let width = top_memory.min(most) + 1;
            rows.push((cells, width));
            cells = cells.checked_add(width).ok_or(Declined::Size)?;
        }
        let work = cells.checked_mul(items.len().max(1)).ok_or(Declined::Size)?;
        if work > max_work {
            trace!(cells, items = items.len(), work, max_work, "pricing table too large");
            return Err(Declined::Size);
        }

        let (values, taken, epsilon) = if exact {
            let (values, taken) = fill_traced(&rows, &items, cells);
            (Values::Double(values), Some(taken), f64::EPSILON)
        } else {
            (Values::Single(fill(&rows, &items, cells)), None, f64::from(f32::EPSILON))
        };
        Ok(Grid {
            cpu_unit,
            memory_unit,
            rows,
            values,
            taken,
            slack: (items.len() + 2) as f64 * epsilon,
            items,
            shapes: demands.len(),
        })
    }

    /// The cell of `capacity`: its cpu level clamped to the table (whose
    /// last row is already past what the shapes can use), its memory level
    /// to that row (likewise).
    fn cell(&self, capacity: &Resources) -> (usize, usize) {
        let c = usize::try_from(capacity.millicpus / self.cpu_unit).unwrap_or(usize::MAX);
        let m = usize::try_from(capacity.memory_mib / self.memory_unit).unwrap_or(usize::MAX);
        let c = c.min(self.rows.len() - 1);
        (c, m.min(self.rows[c].1 - 1))
    }

    /// An upper bound on the best value that fits `capacity`, within a
    /// relative `(chunks + 2) * epsilon` of it, `epsilon` that of the
    /// table's precision: every cell is a sum of at most one value per
    /// chunk, each rounded to the table's precision, and every partial sum
    /// rounded once more.
    pub fn value(&self, capacity: &Resources) -> f64 {
        let (c, m) = self.cell(capacity);
        self.at(c, m)
    }

    /// The counts per shape of a set worth the table's value at `capacity`
    /// (up to its rounding). An exact table reads them from its bits: the
    /// chunks whose bit is set, from the last one back. A single-precision
    /// one searches for them depth first over the chunks, bounded by the
    /// table itself (the table's value for the room left is at least what
    /// the chunks left can add, so the search goes nearly straight to
    /// them); `None` past `max_nodes`.
    pub fn counts(&self, capacity: &Resources, max_nodes: u64) -> Option<Vec<u64>> {
        let (mut c, mut m) = self.cell(capacity);
        let mut counts = vec![0u64; self.shapes];
        if let Some(taken) = &self.taken {
            for (item, bits) in self.items.iter().zip(taken).rev() {
                let cell = self.rows[c].0 + m;
                if bits[cell / 64] & (1 << (cell % 64)) != 0 {
                    counts[item.shape] += item.count;
                    c -= item.cpu;
                    m = (m - item.memory).min(self.rows[c].1 - 1);
                }
            }
            return Some(counts);
        }
        let target = self.at(c, m) * (1.0 - 2.0 * self.slack);
        let mut search = Rebuild { grid: self, target, counts, nodes: 0, max_nodes };
        search.dfs(self.items.len(), c, m, 0.0).then_some(search.counts)
    }

    /// An upper bound on the best value within `c` cpu and `m` memory units
    /// (`m` clamped to the row).
    fn at(&self, c: usize, m: usize) -> f64 {
        let (start, width) = self.rows[c];
        let cell = start + m.min(width - 1);
        let stored = match &self.values {
            Values::Single(values) => f64::from(values[cell]),
            Values::Double(values) => values[cell],
        };
        stored * (1.0 + self.slack)
    }
}

/// The table's cells: single precision while column generation searches
/// (half the memory to stream per chunk, twice the lanes per instruction),
/// double for the round that decides convergence.
#[derive(Debug)]
enum Values {
    Single(Vec<f32>),
    Double(Vec<f64>),
}

/// A number type the table can hold.
trait Cell: Copy + PartialOrd + std::ops::Add<Output = Self> {
    const ZERO: Self;
    fn of(value: f64) -> Self;
}

impl Cell for f32 {
    const ZERO: Self = 0.0;
    fn of(value: f64) -> Self {
        value as f32
    }
}

impl Cell for f64 {
    const ZERO: Self = 0.0;
    fn of(value: f64) -> Self {
        value
    }
}

/// The 0/1 recursion over `items`, one chunk at a time, rows from the top.
fn fill<T: Cell>(rows: &[(usize, usize)], items: &[Item], cells: usize) -> Vec<T> {
    let mut values = vec![T::ZERO; cells];
    let height = rows.len();
    for item in items {
        let (w, h, v) = (item.cpu, item.memory, T::of(item.value));
        for c in (w..height).rev() {
            let (src_start, src_width) = rows[c - w];
            let (dst_start, dst_width) = rows[c];
            if h >= dst_width {
                continue;
            }
            let (below, above) = values.split_at_mut(dst_start);
            let src = &below[src_start..src_start + src_width];
            let dst = &mut above[..dst_width];
            // Memory past the source row's width reads its last cell: no
            // set within its cpu needs more.
            let direct = (dst_width - h).min(src_width);
            // Written as a select, not a branch, so it vectorises.
            for (d, &s) in dst[h..h + direct].iter_mut().zip(src) {
                let with = s + v;
                *d = if with > *d { with } else { *d };
            }
            let with = src[src_width - 1] + v;
            for d in &mut dst[h + direct..] {
                *d = if with > *d { with } else { *d };
            }
        }
    }
    values
}

/// [`fill`], with, per chunk, one bit per cell set where the chunk improved
/// the cell: slower, for the exact round.
fn fill_traced<T: Cell>(
    rows: &[(usize, usize)],
    items: &[Item],
    cells: usize,
) -> (Vec<T>, Vec<Vec<u64>>) {
    let mut values = vec![T::ZERO; cells];
    let mut taken = Vec::with_capacity(items.len());
    let height = rows.len();
    let mut block = [false; 64];
    for item in items {
        let (w, h, v) = (item.cpu, item.memory, T::of(item.value));
        let mut bits = vec![0u64; cells.div_ceil(64) + 1];
        for c in (w..height).rev() {
            let (src_start, src_width) = rows[c - w];
            let (dst_start, dst_width) = rows[c];
            if h >= dst_width {
                continue;
            }
            let (below, above) = values.split_at_mut(dst_start);
            let src = &below[src_start..src_start + src_width];
            let dst = &mut above[..dst_width];
            // Memory past the source row's width reads its last cell: no
            // set within its cpu needs more.
            let direct = (dst_width - h).min(src_width);
            let last = src[src_width - 1];
            // Blocks of 64 cells, one word of bits each. The loops are
            // selects, not branches, so they vectorise; the bits are packed
            // after.
            let mut m = h;
            while m < dst_width {
                let end = (m + 64).min(dst_width);
                let block = &mut block[..end - m];
                let split = (h + direct).clamp(m, end);
                let (near, far) = dst[m..end].split_at_mut(split - m);
                let (near_block, far_block) = block.split_at_mut(split - m);
                let near_src = src.get(m - h..).unwrap_or_default();
                for ((d, &s), b) in near.iter_mut().zip(near_src).zip(near_block) {
                    let with = s + v;
                    *b = with > *d;
                    *d = if *b { with } else { *d };
                }
                let with = last + v;
                for (d, b) in far.iter_mut().zip(far_block) {
                    *b = with > *d;
                    *d = if *b { with } else { *d };
                }
                let mask = block.iter().rev().fold(0u64, |mask, &b| (mask << 1) | u64::from(b));
                let at = dst_start + m;
                bits[at / 64] |= mask << (at % 64);
                if at % 64 != 0 {
                    bits[at / 64 + 1] |= mask >> (64 - at % 64);
                }
                m = end;
            }
        }
        taken.push(bits);
    }
    (values, taken)
}

/// The search that reads a best set back out of a single-precision table.
struct Rebuild<'a> {
    grid: &'a Grid,
    target: f64,
    counts: Vec<u64>,
    nodes: u64,
    max_nodes: u64,
}

impl Rebuild<'_> {
    /// Decides chunks `i - 1` down to 0 within `c` cpu and `m` memory
    /// units; true once `counts` holds a set worth the target.
    fn dfs(&mut self, i: usize, c: usize, m: usize, value: f64) -> bool {
        if value >= self.target {
            return true;
        }
        if i == 0 || self.nodes >= self.max_nodes || value + self.grid.at(c, m) < self.target {
            return false;
        }
        self.nodes += 1;
        let item = self.grid.items[i - 1];
        if item.cpu <= c && item.memory <= m {
            self.counts[item.shape] += item.count;
            let rest = (m - item.memory).min(self.grid.rows[c - item.cpu].1 - 1);
            if self.dfs(i - 1, c - item.cpu, rest, value + item.value) {
                return true;
            }
            self.counts[item.shape] -= item.count;
        }
        self.dfs(i - 1, c, m, value)
    }
}

/// For every cpu level up to `cpu`, the most memory units a set of the
/// chunks within it needs: a knapsack over cpu levels alone.
fn most_memory(items: &[Item], cpu: usize) -> Vec<usize> {
    let mut best = vec![0usize; cpu + 1];
    for item in items {
        for level in (item.cpu..=cpu).rev() {
            best[level] = best[level].max(best[level - item.cpu] + item.memory);
        }
    }
    best
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::knapsack::knapsack;
    use proptest::prelude::*;

    #[test]
    fn the_table_reads_the_best_mix_back() {
        let demands = [Resources::cpus_mib(3, 1024), Resources::cpus_mib(2, 1024)];
        let grid = Grid::build(
            &demands,
            &[3.0, 2.1],
            None,
            &[0, 1],
            &Resources::cpus_mib(8, 8192),
            1 << 20,
            false,
        )
        .expect("small table");
        // Two 2-cpu tasks (4.2) beat one 3-cpu task (3.0) on 4 cpus.
        let four = Resources::cpus_mib(4, 8192);
        assert!((grid.value(&four) - 4.2).abs() < 1e-5);
        assert_eq!(grid.counts(&four, 100), Some(vec![0, 2]));
        // 5 cpus: one of each.
        let five = Resources::cpus_mib(5, 8192);
        assert!((grid.value(&five) - 5.1).abs() < 1e-5);
        assert_eq!(grid.counts(&five, 100), Some(vec![1, 1]));
    }

    #[test]
    fn gpus_and_oversized_tables_are_left_to_the_search() {
        let gpu = [Resources::new(1000, 1024, 1)];
        let big = Resources::new(8000, 65_536, 1);
        let declined = Grid::build(&gpu, &[1.0], None, &[0], &big, 1 << 30, true).err();
        assert_eq!(declined, Some(Declined::Shapes));
        let odd = [Resources::new(1, 1, 0)];
        let wide = Resources::new(10_000, 10_000, 0);
        let declined = Grid::build(&odd, &[1.0], None, &[0], &wide, 100, true).err();
        assert_eq!(declined, Some(Declined::Size));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The table agrees with an exhaustive branch and bound on every
        /// capacity it is read at, and the counts read back fit, keep to the
        /// caps and are worth its value.
        #[test]
        fn the_table_equals_branch_and_bound(
            specs in prop::collection::vec((1u64..=6, 1u64..=12, 1u32..=500, 1u64..=5), 1..=5),
            capacities in prop::collection::vec((1u64..=16, 1u64..=48), 1..=4),
            exact in any::<bool>(),
        ) {
            let demands: Vec<Resources> = specs
                .iter()
                .map(|&(c, m, _, _)| Resources::new(c * 500, m * 768, 0))
                .collect();
            let pi: Vec<f64> = specs.iter().map(|&(_, _, v, _)| f64::from(v) / 100.0).collect();
            let caps: Vec<u64> = specs.iter().map(|&(_, _, _, n)| n).collect();
            let shapes: Vec<usize> = (0..demands.len()).collect();
            let largest = Resources::new(16 * 1000, 48 * 1024, 0);
            let grid = Grid::build(&demands, &pi, Some(&caps), &shapes, &largest, 1 << 24, exact)
                .expect("small table");
            let tolerance = if exact { 1e-12 } else { 1e-5 };
            for (c, m) in capacities {
                let capacity = Resources::new(c * 1000, m * 1024, 0);
                let here: Vec<usize> =
                    shapes.iter().copied().filter(|&s| demands[s].fits_in(&capacity)).collect();
                let best = knapsack(&demands, &pi, Some(&caps), &here, &capacity, u64::MAX);
                // An upper bound, within its rounding.
                let value = grid.value(&capacity);
                prop_assert!(value >= best.value && value <= best.value * (1.0 + tolerance) + 1e-12,
                    "{} vs {}", value, best.value);
                let counts = grid.counts(&capacity, u64::MAX).expect("a set worth the value");
                let mut used = Resources::ZERO;
                let mut worth = 0.0;
                for (s, &n) in counts.iter().enumerate() {
                    prop_assert!(n <= caps[s]);
                    used += Resources::new(demands[s].millicpus * n, demands[s].memory_mib * n, 0);
                    worth += pi[s] * n as f64;
                }
                prop_assert!(used.fits_in(&capacity), "{used} in {capacity}");
                prop_assert!(worth >= best.value * (1.0 - tolerance) - 1e-12, "{worth} vs {}", best.value);
            }
        }
    }
}
