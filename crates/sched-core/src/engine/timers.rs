//! When live instances next need the engine without an event: a boot that
//! may run past its deadline, an idle instance whose release delay ends, an
//! instance under a reclaim notice that may have emptied.
//!
//! Scanning every live instance for these at every decision costs a lookup
//! per instance, and a replay decides a few times per task. These indices
//! answer from their first entries instead. They are kept lazily: an entry
//! goes in whenever an instance starts booting, goes idle or gets a notice,
//! and is checked against the instance's record when it comes up, so an
//! instance that has moved on since (booted, took a task, ended) is dropped
//! then rather than looked for at every change. Every instance the scan would
//! have found has a valid entry, so the answers are the scan's.

use std::collections::BTreeSet;

use super::{InstanceRecord, InstanceStatus};
use crate::problem::InstanceId;
use crate::time::Millis;

/// Time-ordered indices of the instances that may need the engine.
#[derive(Debug, Default)]
pub(super) struct Timers {
    /// `(launched_at, instance)` of every instance launched that may still be booting.
    booting: BTreeSet<(Millis, InstanceId)>,
    /// `(idle_since, instance)` of every instance that went idle, maybe busy again since.
    idle: BTreeSet<(Millis, InstanceId)>,
    /// Instances that got a reclaim notice and may not be released yet.
    reclaiming: BTreeSet<InstanceId>,
}

/// True while `record` is the booting instance its entry was made for.
fn still_booting(record: Option<&InstanceRecord>) -> bool {
    record.is_some_and(|r| r.status == InstanceStatus::Booting)
}

/// True while `record` is ready and idle since `since`, as its entry says.
fn still_idle(record: Option<&InstanceRecord>, since: Millis) -> bool {
    record.is_some_and(|r| r.status == InstanceStatus::Ready && r.idle_since == Some(since))
}

impl Timers {
    /// `instance`, launched at `at`, is booting.
    pub(super) fn booting(&mut self, instance: InstanceId, at: Millis) {
        self.booting.insert((at, instance));
    }

    /// `instance`, launched at `at`, is booting no more.
    pub(super) fn booted(&mut self, instance: InstanceId, at: Millis) {
        self.booting.remove(&(at, instance));
    }

    /// `instance` is idle since `since`.
    pub(super) fn idle(&mut self, instance: InstanceId, since: Millis) {
        self.idle.insert((since, instance));
    }

    /// `instance` got a reclaim notice.
    pub(super) fn reclaiming(&mut self, instance: InstanceId) {
        self.reclaiming.insert(instance);
    }

    /// When the first boot still going started, among the instances `record` finds.
    pub(super) fn first_boot<'a>(
        &self,
        record: impl Fn(InstanceId) -> Option<&'a InstanceRecord>,
    ) -> Option<Millis> {
        self.booting.iter().find(|(_, id)| still_booting(record(*id))).map(|(at, _)| *at)
    }

    /// The instances still booting that were launched at or before `by`
    /// (none when `by` is `None`), in id order; their entries, and those of
    /// instances that booted or ended, are dropped.
    pub(super) fn booting_since<'a>(
        &mut self,
        by: Option<Millis>,
        record: impl Fn(InstanceId) -> Option<&'a InstanceRecord>,
    ) -> Vec<InstanceId> {
        let mut late = Vec::new();
        while let Some(&(at, id)) = self.booting.first() {
            if still_booting(record(id)) {
                if by.is_none_or(|by| at > by) {
                    break;
                }
                late.push(id);
            }
            self.booting.pop_first();
        }
        late.sort_unstable();
        late
    }

    /// Since when the instance idle longest has been idle.
    pub(super) fn first_idle<'a>(
        &self,
        record: impl Fn(InstanceId) -> Option<&'a InstanceRecord>,
    ) -> Option<Millis> {
        self.idle.iter().find(|(since, id)| still_idle(record(*id), *since)).map(|(at, _)| *at)
    }

    /// The instances ready and idle since `by` or earlier, in id order;
    /// their entries, and those of instances busy or gone since, are dropped.
    pub(super) fn idle_since<'a>(
        &mut self,
        by: Millis,
        record: impl Fn(InstanceId) -> Option<&'a InstanceRecord>,
    ) -> Vec<InstanceId> {
        let mut due = Vec::new();
        while let Some(&(since, id)) = self.idle.first() {
            if since > by {
                break;
            }
            if still_idle(record(id), since) {
                due.push(id);
            }
            self.idle.pop_first();
        }
        due.sort_unstable();
        due
    }

    /// Says why `record` is missing an entry it should have, if it is: a
    /// booting instance needs one in `booting`, a ready idle one in `idle`,
    /// one under a reclaim notice in `reclaiming`.
    pub(super) fn check(&self, record: &InstanceRecord) -> Result<(), String> {
        let id = record.id;
        let missing = match record.status {
            InstanceStatus::Booting => !self.booting.contains(&(record.launched_at, id)),
            InstanceStatus::Ready => {
                record.idle_since.is_some_and(|since| !self.idle.contains(&(since, id)))
            }
            InstanceStatus::Reclaiming => !self.reclaiming.contains(&id),
            InstanceStatus::Terminating | InstanceStatus::Terminated => false,
        };
        if missing {
            return Err(format!("{id} ({:?}) is missing from the engine's timers", record.status));
        }
        Ok(())
    }

    /// The instances under a reclaim notice that hold no task any more, in
    /// id order; they and the instances no longer under notice are dropped.
    pub(super) fn emptied_under_notice<'a>(
        &mut self,
        record: impl Fn(InstanceId) -> Option<&'a InstanceRecord>,
    ) -> Vec<InstanceId> {
        let mut empty = Vec::new();
        self.reclaiming.retain(|&id| match record(id) {
            Some(r) if r.status == InstanceStatus::Reclaiming => {
                if r.tasks.is_empty() {
                    empty.push(id);
                    false
                } else {
                    true
                }
            }
            _ => false,
        });
        empty
    }
}
