//! The usable instances (booting or ready) as a decision reads them.
//!
//! Every placement offers the solver the free room of every usable
//! instance, with how long its tasks are expected to keep it busy; every
//! decision, and every `next_wakeup`, asks which boot runs past its deadline
//! and which ready instance has been idle long enough to release. Read from
//! the records, that is a lookup per live instance and one per task on it,
//! in maps that hold every instance and task of the run, several times per
//! task of a replay. This copy keeps just those fields, in a map of the
//! usable instances only, with the booting ones in launch order and the
//! idle ready ones in idle order. It is refreshed from the records whenever
//! an instance or a task on it changes (a handful of times per task), and
//! [`Engine::check_invariants`](super::Engine::check_invariants) checks that
//! it matches them.

use std::collections::{BTreeMap, BTreeSet};

use super::{InstanceRecord, InstanceStatus, TaskRecord};
use crate::catalog::{Architecture, CapacityType, OfferingId};
use crate::problem::{InstanceId, TaskId};
use crate::resources::Resources;
use crate::time::Millis;

/// What a decision reads of one usable instance.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Usable {
    pub(super) offering: OfferingId,
    pub(super) arch: Architecture,
    pub(super) capacity_type: CapacityType,
    pub(super) launched_at: Millis,
    pub(super) booting: bool,
    pub(super) free: Resources,
    pub(super) idle_since: Option<Millis>,
    /// The process group and the start (if it started) of each task on it.
    pub(super) tasks: Vec<(u32, Option<Millis>)>,
}

impl Usable {
    /// What `record` reads as, if it is usable.
    fn of(record: &InstanceRecord, tasks: &BTreeMap<TaskId, TaskRecord>) -> Option<Self> {
        if !record.is_usable() {
            return None;
        }
        let mut usable = Usable {
            offering: record.offering,
            arch: record.arch,
            capacity_type: record.capacity_type,
            launched_at: record.launched_at,
            booting: false,
            free: record.free,
            idle_since: None,
            tasks: Vec::new(),
        };
        usable.refill(record, tasks);
        Some(usable)
    }

    /// Refills `self` from `record` and the records of its tasks.
    fn refill(&mut self, record: &InstanceRecord, tasks: &BTreeMap<TaskId, TaskRecord>) {
        self.offering = record.offering;
        self.arch = record.arch;
        self.capacity_type = record.capacity_type;
        self.launched_at = record.launched_at;
        self.booting = record.status == InstanceStatus::Booting;
        self.free = record.free;
        self.idle_since = record.idle_since;
        self.tasks.clear();
        self.tasks.extend(
            record.tasks.iter().filter_map(|id| tasks.get(id)).map(|t| (t.group, t.started_at)),
        );
    }

    /// Its entry in the boot order, while it boots.
    fn boot_key(&self, id: InstanceId) -> Option<(Millis, InstanceId)> {
        self.booting.then_some((self.launched_at, id))
    }

    /// Its entry in the idle order, while it is ready and idle.
    fn idle_key(&self, id: InstanceId) -> Option<(Millis, InstanceId)> {
        self.idle_since.filter(|_| !self.booting).map(|since| (since, id))
    }
}

/// The usable instances by id, the booting ones by launch, the idle ready
/// ones by the start of their idleness.
#[derive(Debug, Default)]
pub(super) struct UsableSet {
    by_id: BTreeMap<InstanceId, Usable>,
    booting: BTreeSet<(Millis, InstanceId)>,
    idle: BTreeSet<(Millis, InstanceId)>,
}

impl UsableSet {
    /// Brings the entries of `id` in line with its record (`None`: no record).
    pub(super) fn sync(
        &mut self,
        id: InstanceId,
        record: Option<&InstanceRecord>,
        tasks: &BTreeMap<TaskId, TaskRecord>,
    ) {
        if let Some(old) = self.by_id.get(&id) {
            if let Some(key) = old.boot_key(id) {
                self.booting.remove(&key);
            }
            if let Some(key) = old.idle_key(id) {
                self.idle.remove(&key);
            }
        }
        let Some(record) = record.filter(|r| r.is_usable()) else {
            self.by_id.remove(&id);
            return;
        };
        let usable = match self.by_id.get_mut(&id) {
            Some(usable) => {
                usable.refill(record, tasks);
                usable
            }
            None => match Usable::of(record, tasks) {
                Some(usable) => self.by_id.entry(id).or_insert(usable),
                None => return,
            },
        };
        if let Some(key) = usable.boot_key(id) {
            self.booting.insert(key);
        }
        if let Some(key) = usable.idle_key(id) {
            self.idle.insert(key);
        }
    }

    /// How many instances are usable.
    pub(super) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// The usable instances in id order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&InstanceId, &Usable)> {
        self.by_id.iter()
    }

    /// When the instance booting longest was launched.
    pub(super) fn first_boot(&self) -> Option<Millis> {
        self.booting.first().map(|&(at, _)| at)
    }

    /// The instances still booting that were launched at or before `by`, in id order.
    pub(super) fn booting_since(&self, by: Millis) -> Vec<InstanceId> {
        let mut late: Vec<InstanceId> =
            self.booting.iter().take_while(|&&(at, _)| at <= by).map(|&(_, id)| id).collect();
        late.sort_unstable();
        late
    }

    /// Since when the ready instance idle longest has been idle.
    pub(super) fn first_idle(&self) -> Option<Millis> {
        self.idle.first().map(|&(since, _)| since)
    }

    /// The ready instances idle since `by` or earlier, in id order.
    pub(super) fn idle_since(&self, by: Millis) -> Vec<InstanceId> {
        let mut due: Vec<InstanceId> =
            self.idle.iter().take_while(|&&(since, _)| since <= by).map(|&(_, id)| id).collect();
        due.sort_unstable();
        due
    }

    /// Says where the copy and the records differ, if they do.
    pub(super) fn check(
        &self,
        instances: &BTreeMap<InstanceId, InstanceRecord>,
        tasks: &BTreeMap<TaskId, TaskRecord>,
    ) -> Result<(), String> {
        let mut usable = 0;
        let (mut booting, mut idle) = (BTreeSet::new(), BTreeSet::new());
        for (&id, record) in instances {
            let expected = Usable::of(record, tasks);
            if let Some(u) = &expected {
                usable += 1;
                booting.extend(u.boot_key(id));
                idle.extend(u.idle_key(id));
            }
            if self.by_id.get(&id) != expected.as_ref() {
                return Err(format!(
                    "{id}: the decision's copy {:?} is not {expected:?}",
                    self.by_id.get(&id)
                ));
            }
        }
        if self.by_id.len() != usable {
            return Err(format!(
                "the decision's copy holds {} instances, {usable} are usable",
                self.by_id.len()
            ));
        }
        if self.booting != booting || self.idle != idle {
            return Err(format!(
                "the boot order {:?} or the idle order {:?} is not {booting:?}, {idle:?}",
                self.booting, self.idle
            ));
        }
        Ok(())
    }
}
