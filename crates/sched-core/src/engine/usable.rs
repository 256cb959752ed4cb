//! The usable instances (booting or ready) as a placement reads them.
//!
//! Every placement offers the solver the free room of every usable
//! instance, with how long its tasks are expected to keep it busy. Read from
//! the records, that is a lookup per live instance and one per task on it,
//! in maps that hold every instance and task of the run, at every placement
//! (a replay places a few times per task). This copy keeps just those
//! fields, in a map of the usable instances only, and is refreshed from the
//! records whenever an instance or a task on it changes, a handful of times
//! per task. [`Engine::check_invariants`](super::Engine::check_invariants)
//! checks that it matches the records.

use std::collections::BTreeMap;

use super::{InstanceRecord, InstanceStatus, TaskRecord};
use crate::catalog::{Architecture, CapacityType, OfferingId};
use crate::problem::{InstanceId, TaskId};
use crate::resources::Resources;
use crate::time::Millis;

/// What a placement reads of one usable instance.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Usable {
    pub(super) offering: OfferingId,
    pub(super) arch: Architecture,
    pub(super) capacity_type: CapacityType,
    pub(super) launched_at: Millis,
    pub(super) booting: bool,
    pub(super) free: Resources,
    /// The process group and the start (if it started) of each task on it.
    pub(super) tasks: Vec<(u32, Option<Millis>)>,
}

impl Usable {
    /// Refills `self` from `record` and the records of its tasks.
    fn refill(&mut self, record: &InstanceRecord, tasks: &BTreeMap<TaskId, TaskRecord>) {
        self.offering = record.offering;
        self.arch = record.arch;
        self.capacity_type = record.capacity_type;
        self.launched_at = record.launched_at;
        self.booting = record.status == InstanceStatus::Booting;
        self.free = record.free;
        self.tasks.clear();
        self.tasks.extend(
            record.tasks.iter().filter_map(|id| tasks.get(id)).map(|t| (t.group, t.started_at)),
        );
    }

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
            tasks: Vec::new(),
        };
        usable.refill(record, tasks);
        Some(usable)
    }
}

/// The usable instances, by id.
#[derive(Debug, Default)]
pub(super) struct UsableSet(BTreeMap<InstanceId, Usable>);

impl UsableSet {
    /// Brings the entry of `id` in line with its record (`None`: no record).
    pub(super) fn sync(
        &mut self,
        id: InstanceId,
        record: Option<&InstanceRecord>,
        tasks: &BTreeMap<TaskId, TaskRecord>,
    ) {
        match record.filter(|r| r.is_usable()) {
            Some(record) => match self.0.get_mut(&id) {
                Some(usable) => usable.refill(record, tasks),
                None => {
                    if let Some(usable) = Usable::of(record, tasks) {
                        self.0.insert(id, usable);
                    }
                }
            },
            None => {
                self.0.remove(&id);
            }
        }
    }

    /// How many instances are usable.
    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    /// The usable instances in id order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&InstanceId, &Usable)> {
        self.0.iter()
    }

    /// Says where the copy and the records differ, if they do.
    pub(super) fn check(
        &self,
        instances: &BTreeMap<InstanceId, InstanceRecord>,
        tasks: &BTreeMap<TaskId, TaskRecord>,
    ) -> Result<(), String> {
        let mut usable = 0;
        for (id, record) in instances {
            let expected = Usable::of(record, tasks);
            usable += usize::from(expected.is_some());
            if self.0.get(id) != expected.as_ref() {
                return Err(format!(
                    "{id}: the placement's copy {:?} is not {expected:?}",
                    self.0.get(id)
                ));
            }
        }
        if self.0.len() != usable {
            return Err(format!(
                "the placement's copy holds {} instances, {usable} are usable",
                self.0.len()
            ));
        }
        Ok(())
    }
}
