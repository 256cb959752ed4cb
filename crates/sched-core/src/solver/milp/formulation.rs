//! The aggregated bin model, written with good_lp and handed to HiGHS.
//!
//! For shapes `s`, candidates `o` with slots `k < K_o`, and existing rooms `e`
//! (see `docs/formulation.md` for the full statement):
//!
//! ```text
//! min   sum_{o,k} p_o y_{o,k}
//! s.t.  sum_{o,k} x_{s,o,k} + sum_e z_{s,e} = n_s                  every shape
//!       sum_s d_{s,r} x_{s,o,k} <= C_{o,r} y_{o,k}                 every slot, dimension
//!       x_{s,o,k} <= u_{s,o} y_{o,k}                               every slot, fitting shape
//!       y_{o,k} >= y_{o,k+1}                                       open in order
//!       sum_s w_s x_{s,o,k} >= sum_s w_s x_{s,o,k+1}               fill non-increasing
//!       sum_s d_{s,r} z_{s,e} <= F_{e,r}                           every room, dimension
//!       y binary, x and z integer in [0, u]
//! ```

use good_lp::solvers::highs::highs as highs_solver;
use good_lp::{variable, Expression, ProblemVariables, SolverModel, Variable};

use super::reduction::Reduced;
use super::MilpError;
use crate::plan::ModelSize;
use crate::resources::{Dimension, Resources};

const DIMENSIONS: [Dimension; 3] = [Dimension::Cpu, Dimension::Memory, Dimension::Gpu];

/// Where each quantity of the model sits among HiGHS' columns.
#[derive(Debug, Clone, Default)]
pub(crate) struct Columns {
    /// `open[kind][slot]`: the column of `y`.
    pub open: Vec<Vec<usize>>,
    /// `count[kind][slot][f]`: the column of `x` for the kind's `f`-th fitting shape.
    pub count: Vec<Vec<Vec<usize>>>,
    /// `room[room][f]`: the column of `z` for the room's `f`-th fitting shape.
    pub room: Vec<Vec<usize>>,
    /// Number of columns.
    pub len: usize,
}

/// A model ready to solve, and how to read its solution.
pub(crate) struct Formulation {
    /// The HiGHS model, options not yet set.
    pub model: highs::Model,
    /// Column positions.
    pub columns: Columns,
    /// Sizes, for the report.
    pub size: ModelSize,
}

/// Adds variables while counting columns: good_lp numbers them in order.
struct Builder {
    vars: ProblemVariables,
    handles: Vec<Variable>,
}

impl Builder {
    fn add(&mut self, def: good_lp::VariableDefinition) -> usize {
        self.handles.push(self.vars.add(def));
        self.handles.len() - 1
    }
}

/// Builds the model for `reduced`.
pub(crate) fn formulate(reduced: &Reduced<'_>) -> Result<Formulation, MilpError> {
    let mut b =
        Builder { vars: ProblemVariables::new(), handles: Vec::with_capacity(reduced.variables()) };
    let mut columns = Columns::default();
    let mut objective = Expression::with_capacity(reduced.bins());

    // Variables: open flags and counts per slot, counts per room.
    for kind in &reduced.kinds {
        let mut open = Vec::with_capacity(kind.slots);
        let mut count = Vec::with_capacity(kind.slots);
        for _ in 0..kind.slots {
            let y = b.add(variable().binary());
            objective.add_mul(kind.candidate.price.0, b.handles[y]);
            open.push(y);
            count.push(
                kind.fits
                    .iter()
                    .map(|&(_, u)| b.add(variable().integer().min(0).max(u as f64)))
                    .collect(),
            );
        }
        columns.open.push(open);
        columns.count.push(count);
    }
    for room in &reduced.rooms {
        columns.room.push(
            room.fits
                .iter()
                .map(|&(_, u)| b.add(variable().integer().min(0).max(u as f64)))
                .collect(),
        );
    }
    columns.len = b.handles.len();
    let var = |col: usize| b.handles[col];

    let mut rows: Vec<good_lp::Constraint> = Vec::new();

    // Every task of every shape is placed once.
    let mut placed: Vec<Expression> = vec![Expression::default(); reduced.shapes.len()];
    for (kind, count) in reduced.kinds.iter().zip(&columns.count) {
        for slot in count {
            for (&(s, _), &col) in kind.fits.iter().zip(slot) {
                placed[s].add_mul(1.0, var(col));
            }
        }
    }
    for (room, cols) in reduced.rooms.iter().zip(&columns.room) {
        for (&(s, _), &col) in room.fits.iter().zip(cols) {
            placed[s].add_mul(1.0, var(col));
        }
    }
    for (shape, expr) in reduced.shapes.iter().zip(placed) {
        rows.push(expr.eq(shape.tasks.len() as f64));
    }

    // Slots: capacity, linking, and the two symmetry-breaking orders.
    for ((kind, open), count) in reduced.kinds.iter().zip(&columns.open).zip(&columns.count) {
        for (k, (&y, slot)) in open.iter().zip(count).enumerate() {
            for dim in DIMENSIONS {
                let cap = kind.candidate.capacity.get(dim) as f64;
                let mut load = Expression::with_capacity(slot.len() + 1);
                let mut used = false;
                for (&(s, _), &col) in kind.fits.iter().zip(slot) {
                    let need = reduced.shapes[s].demand.get(dim);
                    if need > 0 {
                        load.add_mul(need as f64, var(col));
                        used = true;
                    }
                }
                if used {
                    load.add_mul(-cap, var(y));
                    rows.push(load.leq(0.0));
                }
            }
            for (&(_, u), &col) in kind.fits.iter().zip(slot) {
                rows.push((Expression::from(var(col)) - (u as f64) * var(y)).leq(0.0));
            }
            if k + 1 < open.len() {
                rows.push((Expression::from(var(y)) - var(open[k + 1])).geq(0.0));
                let mut order = Expression::with_capacity(2 * slot.len());
                for (f, &(s, _)) in kind.fits.iter().enumerate() {
                    let w = reduced.shapes[s].weight;
                    order.add_mul(w, var(slot[f]));
                    order.add_mul(-w, var(count[k + 1][f]));
                }
                rows.push(order.geq(0.0));
            }
        }
    }

    // Rooms: capacity only; they cost nothing.
    for (room, cols) in reduced.rooms.iter().zip(&columns.room) {
        for dim in DIMENSIONS {
            let mut load = Expression::with_capacity(cols.len());
            let mut used = false;
            for (&(s, _), &col) in room.fits.iter().zip(cols) {
                let need = reduced.shapes[s].demand.get(dim);
                if need > 0 {
                    load.add_mul(need as f64, var(col));
                    used = true;
                }
            }
            if used {
                rows.push(load.leq(room.free.get(dim) as f64));
            }
        }
    }

    let size = ModelSize {
        shapes: reduced.shapes.len(),
        candidates: reduced.kinds.len(),
        bins: reduced.bins(),
        variables: columns.len,
        constraints: rows.len(),
    };
    let mut problem = b.vars.minimise(objective).using(highs_solver);
    for row in rows {
        problem.add_constraint(row);
    }
    let model = problem.try_into_inner().map_err(|e| MilpError::Build(e.to_string()))?;
    Ok(Formulation { model, columns, size })
}

/// Total demand of `counts[f]` tasks of each fitting shape, for checks.
pub(crate) fn load_of(
    reduced: &Reduced<'_>,
    fits: &[(usize, usize)],
    counts: impl Iterator<Item = u64>,
) -> Option<Resources> {
    let mut total = Resources::ZERO;
    for (&(s, _), n) in fits.iter().zip(counts) {
        let d = reduced.shapes[s].demand;
        let add = Resources {
            millicpus: d.millicpus.checked_mul(n)?,
            memory_mib: d.memory_mib.checked_mul(n)?,
            gpus: d.gpus.checked_mul(u32::try_from(n).ok()?)?,
        };
        total = total.checked_add(&add)?;
    }
    Some(total)
}
