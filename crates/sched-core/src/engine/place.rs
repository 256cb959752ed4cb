//! Placing pending tasks under the provisioning model.
//!
//! Each decision runs the solver once per pool of offerings:
//!
//! - `ondemand` and `spot`: one pass over the allowed offerings.
//! - `spotFirst`: a pass over the spot offerings, then a pass over the
//!   on-demand ones for what no available spot offering holds, and for tasks
//!   that should not wait for spot any more: those refused
//!   `max_spot_attempts` times, and those preempted down to their last attempt.
//!
//! Offerings refused for capacity are left out of every pass until their
//! shortage expires (`spot_shortage_ttl_s`): the solver never sees them. A task
//! that no pass places but some allowed offering could hold waits, with the
//! reason, until the first of those shortages ends; only a task no allowed
//! offering can hold at all is UNSCHEDULABLE.
//!
//! The offerings of each pool are a [`CandidateSet`], prepared (pruned,
//! priced) when the engine is built; while some offerings are short, the
//! pools without them are prepared once per set of short offerings, not per
//! decision.

use std::collections::BTreeMap;

use tracing::{debug, info};

use super::{set_status, Engine, InstanceRecord, InstanceStatus, WaitReason};
use crate::catalog::{Architecture, CapacityType, OfferingId};
use crate::lifecycle::{RunStatus, TaskStatus};
use crate::plan::{unschedulable_reason, Placement};
use crate::policy::{Candidate, ProvisioningModel};
use crate::problem::{
    arch_ok, CandidateSet, ExistingInstance, PendingTask, PlacementProblem, TaskId,
};
use crate::time::Millis;

/// Which offerings one pass may open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pool {
    All,
    Spot,
    OnDemand,
}

impl Pool {
    fn index(self) -> usize {
        match self {
            Pool::All => 0,
            Pool::Spot => 1,
            Pool::OnDemand => 2,
        }
    }
}

/// The offerings each pool may open, prepared once, and the pools without
/// the offerings short of capacity, prepared when that list changes.
#[derive(Debug)]
pub(super) struct Pools {
    /// All, spot and on demand, in [`Pool::index`] order.
    base: [CandidateSet; 3],
    /// Each pool without the offerings it was built without (in id order).
    short_of: [Option<(Vec<OfferingId>, CandidateSet)>; 3],
}

impl Pools {
    pub(super) fn new(all: CandidateSet) -> Self {
        let spot = all.filtered(|c| c.capacity_type == CapacityType::Spot);
        let on_demand = all.filtered(|c| c.capacity_type == CapacityType::OnDemand);
        Pools { base: [all, spot, on_demand], short_of: [None, None, None] }
    }

    /// Every allowed offering.
    pub(super) fn all(&self) -> &CandidateSet {
        &self.base[0]
    }

    /// Prepares `pool` without the offerings in `shortages`, unless it is
    /// prepared for exactly those already.
    fn refresh(&mut self, pool: Pool, shortages: &BTreeMap<OfferingId, Millis>) {
        if shortages.is_empty() {
            return;
        }
        let slot = &mut self.short_of[pool.index()];
        if slot.as_ref().is_some_and(|(short, _)| short.iter().eq(shortages.keys())) {
            return;
        }
        let set = self.base[pool.index()].filtered(|c| !shortages.contains_key(&c.offering));
        debug!(
            short = shortages.len(),
            candidates = set.len(),
            "pool prepared without short offerings"
        );
        *slot = Some((shortages.keys().copied().collect(), set));
    }

    /// `pool` without the offerings in `shortages`, as [`Pools::refresh`]
    /// prepared it (the whole pool when nothing is short).
    fn available(&self, pool: Pool, shortages: &BTreeMap<OfferingId, Millis>) -> &CandidateSet {
        match &self.short_of[pool.index()] {
            Some((short, set)) if !shortages.is_empty() && short.iter().eq(shortages.keys()) => set,
            _ => &self.base[pool.index()],
        }
    }
}

impl Engine {
    pub(super) fn place_pending(&mut self, now: Millis, actions: &mut Vec<super::Action>) {
        self.expire(now);
        // A DANGLING run launches nothing and places nothing new: the launcher
        // may be gone. What was dispatched keeps running and is tracked.
        if self.pending.is_empty() || self.run_status == RunStatus::Dangling {
            return;
        }
        let ready: Vec<TaskId> = self
            .pending
            .iter()
            .map(|&(_, id)| id)
            .filter(|id| self.tasks[id].waiting.is_none())
            .collect();
        if ready.is_empty() {
            return;
        }
        let window_open = now < self.batch_deadline(self.batch_started.unwrap_or(now));
        let mut held = false;
        let left = match self.policy.provisioning {
            ProvisioningModel::OnDemand => {
                self.place_pass(now, &ready, Pool::All, window_open, &mut held, actions)
            }
            ProvisioningModel::Spot => {
                self.place_pass(now, &ready, Pool::Spot, window_open, &mut held, actions)
            }
            ProvisioningModel::SpotFirst => {
                let (fallback, first): (Vec<TaskId>, Vec<TaskId>) =
                    ready.into_iter().partition(|id| self.wants_on_demand(*id));
                let mut second =
                    self.place_pass(now, &first, Pool::Spot, window_open, &mut held, actions);
                if !second.is_empty() {
                    debug!(
                        tasks = second.len(),
                        "no available spot offering holds these; on demand"
                    );
                }
                second.extend(fallback);
                second.sort_by_key(|id| (self.tasks[id].submitted_at, *id));
                self.place_pass(now, &second, Pool::OnDemand, window_open, &mut held, actions)
            }
        };
        self.settle(now, left);
        if !held {
            self.batch_started = None;
        }
    }

    /// True when a task should go on demand under `spotFirst`: spot refused
    /// it too often, or a reclaim took it to its last attempt.
    fn wants_on_demand(&self, id: TaskId) -> bool {
        let record = &self.tasks[&id];
        record.launch_failures >= self.policy.max_spot_attempts
            || (record.preemptions > 0 && record.attempts + 1 >= self.policy.max_attempts)
    }

    /// Forgets shortages that have expired and ends waits that are over.
    fn expire(&mut self, now: Millis) {
        self.shortages.retain(|_, until| *until > now);
        for (_, id) in &self.pending {
            let Some(record) = self.tasks.get_mut(id) else { continue };
            if let Some(WaitReason::CapacityShortage { until }) = record.waiting {
                if until <= now {
                    record.waiting = None;
                    record.launch_failures = 0;
                }
            }
        }
    }

    /// One solver call over `ids` and `pool`; returns the tasks it could not
    /// place. Launches are held while the batch window is open, so tasks that
    /// arrive moments apart are packed together; placements on existing
    /// instances need no wait.
    fn place_pass(
        &mut self,
        now: Millis,
        ids: &[TaskId],
        pool: Pool,
        window_open: bool,
        held: &mut bool,
        actions: &mut Vec<super::Action>,
    ) -> Vec<TaskId> {
        if ids.is_empty() {
            return Vec::new();
        }
        self.pools.refresh(pool, &self.shortages);
        let plan = {
            let problem = PlacementProblem {
                tasks: ids.iter().map(|id| self.pending_task(*id)).collect(),
                instances: self.open_room(now, pool),
                candidates: self.pools.available(pool, &self.shortages),
                launch_overhead: Millis::from_secs(self.policy.launch_overhead_s),
            };
            self.solver.solve(&problem)
        };

        let hold = !plan.launches.is_empty() && window_open;
        if hold {
            *held = true;
            self.batch_started.get_or_insert(now);
        }
        let mut launched = Vec::with_capacity(plan.launches.len());
        for launch in plan.launches.iter().filter(|_| !hold) {
            let id = super::InstanceId(self.next_instance);
            self.next_instance += 1;
            let known = self.pools.all().get(launch.offering);
            let arch = known.map_or(Architecture::X86_64, |c| c.arch);
            let capacity_type = known.map_or(CapacityType::OnDemand, |c| c.capacity_type);
            self.instances.insert(
                id,
                InstanceRecord {
                    id,
                    offering: launch.offering,
                    arch,
                    capacity: launch.capacity,
                    free: launch.capacity,
                    status: InstanceStatus::Booting,
                    tasks: Default::default(),
                    launched_at: now,
                    idle_since: None,
                    capacity_type,
                    ended: None,
                },
            );
            self.live.insert(id);
            self.sync_usable(id);
            info!(%id, offering = %launch.offering, ?capacity_type, price = launch.price.0, "launch");
            actions.push(super::Action::Launch { instance: id, offering: launch.offering });
            launched.push(id);
        }
        for assignment in &plan.assignments {
            let instance = match assignment.placement {
                Placement::Existing(id) => id,
                Placement::New(_) if hold => continue,
                Placement::New(index) => match launched.get(index) {
                    Some(id) => *id,
                    None => continue, // A solver bug; the task stays pending.
                },
            };
            self.place(assignment.task, instance);
        }
        plan.unschedulable.into_iter().map(|u| u.task).collect()
    }

    /// Tasks no pass placed: waiting when some allowed offering could hold
    /// them once its shortage ends, UNSCHEDULABLE otherwise.
    fn settle(&mut self, now: Millis, left: Vec<TaskId>) {
        let ttl = Millis::from_secs(self.policy.spot_shortage_ttl_s.max(1));
        for id in left {
            let probe = self.pending_task(id);
            let holds =
                |c: &&Candidate| probe.demand.fits_in(&c.capacity) && arch_ok(probe.arch, c.arch);
            let fitting: Vec<&Candidate> = self.pools.all().iter().filter(holds).collect();
            if fitting.is_empty() {
                let reason = unschedulable_reason(&probe, self.pools.all());
                let Some(record) = self.tasks.get_mut(&id) else { continue };
                debug!(task = %id, %reason, "unschedulable");
                if set_status(record, now, TaskStatus::Unschedulable).is_ok() {
                    record.ended_at = Some(now);
                    record.unschedulable = Some(reason);
                    self.pending.remove(&(record.submitted_at, id));
                }
                continue;
            }
            let until = fitting
                .iter()
                .filter_map(|c| self.shortages.get(&c.offering).copied())
                .min()
                .unwrap_or(now + ttl);
            if let Some(record) = self.tasks.get_mut(&id) {
                let reason = WaitReason::CapacityShortage { until };
                debug!(task = %id, %reason, "waiting for capacity");
                record.waiting = Some(reason);
            }
        }
    }

    fn pending_task(&self, id: TaskId) -> PendingTask {
        let record = &self.tasks[&id];
        PendingTask {
            id,
            demand: record.spec.allocated,
            arch: record.spec.arch,
            group: record.group,
            expected_runtime: self.history.expected(record.group),
        }
    }

    /// Free room on instances that can take tasks. The on-demand pass is
    /// for tasks that must not meet a reclaim: it offers no spot room.
    fn open_room(&self, now: Millis, pool: Pool) -> Vec<ExistingInstance> {
        let spot_ok = pool != Pool::OnDemand;
        let mut rooms = Vec::with_capacity(self.usable.len());
        rooms.extend(
            self.usable
                .iter()
                .filter(|(_, i)| !i.free.is_zero())
                .filter(|(_, i)| spot_ok || i.capacity_type != CapacityType::Spot)
                .map(|(&id, i)| ExistingInstance {
                    id,
                    offering: i.offering,
                    arch: i.arch,
                    free: i.free,
                    busy_for: self.busy_for(now, i),
                }),
        );
        rooms
    }

    pub(super) fn batch_deadline(&self, started: Millis) -> Millis {
        let idle_end = self.last_submit + Millis(self.policy.batch_idle_ms);
        let max_end = started + Millis(self.policy.batch_max_ms);
        idle_end.min(max_end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::candidate;

    proptest::proptest! {
        /// Whatever the sequence of short lists, a pool offers exactly what
        /// preparing it afresh without the short offerings would.
        #[test]
        fn prepared_pools_match_a_fresh_preparation(
            specs in proptest::collection::vec((1u64..8, 1u64..16, 1u32..100, proptest::bool::ANY), 1..12),
            steps in proptest::collection::vec(proptest::collection::btree_set(0u32..12, 0..5), 1..8),
        ) {
            let all: Vec<Candidate> = specs
                .iter()
                .enumerate()
                .map(|(i, &(cpus, gib, cents, spot))| {
                    let mut c = candidate(i as u32, cpus, gib * 1024, f64::from(cents) / 100.0);
                    if spot {
                        c.capacity_type = CapacityType::Spot;
                    }
                    c
                })
                .collect();
            let mut pools = Pools::new(CandidateSet::new(all.clone()));
            for short in steps {
                let shortages: BTreeMap<OfferingId, Millis> =
                    short.iter().map(|&id| (OfferingId(id), Millis(1))).collect();
                for (pool, kind) in [
                    (Pool::All, None),
                    (Pool::Spot, Some(CapacityType::Spot)),
                    (Pool::OnDemand, Some(CapacityType::OnDemand)),
                ] {
                    pools.refresh(pool, &shortages);
                    let fresh = CandidateSet::new(
                        all.iter()
                            .filter(|c| kind.is_none_or(|k| c.capacity_type == k))
                            .filter(|c| !shortages.contains_key(&c.offering))
                            .cloned()
                            .collect(),
                    );
                    let got = pools.available(pool, &shortages);
                    proptest::prop_assert_eq!(got.candidates(), fresh.candidates());
                    proptest::prop_assert_eq!(got.non_dominated(), fresh.non_dominated());
                }
            }
        }
    }
}
