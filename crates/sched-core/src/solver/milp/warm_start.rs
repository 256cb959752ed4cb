//! The incumbent plan (the greedy one, or the dive's when it is cheaper),
//! written as a point of the compact model.
//!
//! HiGHS takes it as its first incumbent, so the search starts with its
//! cost as the cutoff and a time-limited run never ends without a plan. The bins of each candidate are ordered by load (heaviest first) so
//! the point meets the symmetry-breaking rows; an infeasible start would be
//! silently ignored by HiGHS, so the tests check that it is feasible.

use super::bins::bin_counts;
use super::formulation::Columns;
use super::reduction::Reduced;
use crate::plan::Plan;
use crate::pricing::generation::Owner;

/// Column values of `greedy` (any plan of the problem), or `None` when the
/// plan does not map onto the model (a launch of a candidate the model
/// dropped, say).
pub(crate) fn greedy_point(
    reduced: &Reduced<'_>,
    columns: &Columns,
    greedy: &Plan,
) -> Option<Vec<f64>> {
    let counts = bin_counts(reduced, greedy)?;
    let per_room = counts.rooms;
    // Launches grouped by candidate, heaviest first.
    let mut bins: Vec<Vec<Vec<u64>>> = vec![Vec::new(); reduced.kinds.len()];
    for (k, counts) in counts.launches {
        bins[k].push(counts);
    }
    let load = |counts: &Vec<u64>| -> f64 {
        counts.iter().zip(&reduced.shapes).map(|(&n, s)| n as f64 * s.weight).sum()
    };
    let mut point = vec![0.0; columns.len];
    for (k, kind) in reduced.kinds.iter().enumerate() {
        let list = &mut bins[k];
        list.sort_by(|a, b| load(b).total_cmp(&load(a)).then_with(|| b.cmp(a)));
        if list.len() > kind.slots {
            return None;
        }
        for (slot, counts) in list.iter().enumerate() {
            point[columns.open[k][slot]] = 1.0;
            for (f, &(s, _)) in kind.fits.iter().enumerate() {
                point[columns.count[k][slot][f]] = counts[s] as f64;
            }
            if counts.iter().enumerate().any(|(s, &n)| n > 0 && !kind.fits.iter().any(|f| f.0 == s))
            {
                return None;
            }
        }
    }
    for (r, room) in reduced.rooms.iter().enumerate() {
        for (f, &(s, _)) in room.fits.iter().enumerate() {
            point[columns.room[r][f]] = per_room[r][s] as f64;
        }
    }
    Some(point)
}

/// How many bins of each kind `plan` opens (all zero when the plan does not
/// map onto the model): the floor of the kinds' slots, so the plan stays a
/// point of the model.
pub(crate) fn bins_per_kind(reduced: &Reduced<'_>, plan: &Plan) -> Vec<usize> {
    let mut per_kind = vec![0; reduced.kinds.len()];
    for bin in super::bins::bins_of(reduced, plan).unwrap_or_default() {
        if let Owner::Candidate(k) = bin.owner {
            per_kind[k] += 1;
        }
    }
    per_kind
}
