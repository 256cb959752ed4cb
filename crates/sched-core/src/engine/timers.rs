//! The instances under a reclaim notice, so a decision releases the ones
//! that have emptied without scanning every live instance.
//!
//! The set is kept lazily: an instance goes in when its notice comes and is
//! checked against its record when a decision looks, which drops it once it
//! is released or gone. (Boots and idle instances are ordered in the
//! decision's copy of the usable instances, `usable`.)

use std::collections::BTreeSet;

use super::{InstanceRecord, InstanceStatus};
use crate::problem::InstanceId;

/// The instances that got a reclaim notice and may not be released yet.
#[derive(Debug, Default)]
pub(super) struct Notices(BTreeSet<InstanceId>);

impl Notices {
    /// `instance` got a reclaim notice.
    pub(super) fn add(&mut self, instance: InstanceId) {
        self.0.insert(instance);
    }

    /// Says why `record` is missing, if it is under a notice and is not in the set.
    pub(super) fn check(&self, record: &InstanceRecord) -> Result<(), String> {
        if record.status == InstanceStatus::Reclaiming && !self.0.contains(&record.id) {
            return Err(format!("{} is under a reclaim notice the engine forgot", record.id));
        }
        Ok(())
    }

    /// The instances under a reclaim notice that hold no task any more, in
    /// id order; they and the instances no longer under notice are dropped.
    pub(super) fn emptied<'a>(
        &mut self,
        record: impl Fn(InstanceId) -> Option<&'a InstanceRecord>,
    ) -> Vec<InstanceId> {
        let mut empty = Vec::new();
        self.0.retain(|&id| match record(id) {
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
