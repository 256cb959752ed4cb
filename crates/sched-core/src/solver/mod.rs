//! Solvers turn a [`PlacementProblem`] into a [`Plan`].
//!
//! Every solver obeys the same laws, which the property tests check: no
//! instance is given more than its capacity, every task some candidate can
//! hold is either placed or deliberately deferred, a task is unschedulable
//! only when no candidate can hold it, and the same input gives the same plan.

mod greedy;

pub use greedy::Greedy;

use crate::plan::Plan;
use crate::problem::PlacementProblem;

/// A placement algorithm.
pub trait Solver: Send + Sync {
    /// Short name for logs and reports, e.g. `greedy`.
    fn name(&self) -> &str;

    /// Decides where every task of `problem` goes.
    fn solve(&self, problem: &PlacementProblem<'_>) -> Plan;
}
