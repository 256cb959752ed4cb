//! Solvers turn a [`PlacementProblem`] into a [`Plan`].
//!
//! Every solver obeys the same laws, which the property tests check: no
//! instance is given more than its capacity, every task some candidate can
//! hold is either placed or deliberately deferred, a task is unschedulable
//! only when no candidate can hold it, and the same input gives the same plan.
//!
//! - [`Greedy`]: cost-aware first-fit-decreasing, fast at any size.
//! - [`Milp`] (feature `milp`, on by default): the exact model over good_lp and
//!   HiGHS, warm-started from the greedy plan, never worse than it, with a
//!   [`SolveReport`](crate::plan::SolveReport) saying what is proven.
//! - [`Auto`] (feature `milp`): the exact solver where the reduced model is
//!   small, the greedy one elsewhere.

mod greedy;
#[cfg(feature = "milp")]
mod milp;

#[cfg(feature = "milp")]
pub(crate) use greedy::prune_dominated as prune_dominated_candidates;
pub use greedy::Greedy;
#[cfg(feature = "milp")]
pub use milp::{Auto, Milp, MilpConfig};

use crate::plan::Plan;
use crate::problem::PlacementProblem;

/// A placement algorithm.
pub trait Solver: Send + Sync {
    /// Short name for logs and reports, e.g. `greedy`.
    fn name(&self) -> &str;

    /// Decides where every task of `problem` goes.
    fn solve(&self, problem: &PlacementProblem<'_>) -> Plan;
}
