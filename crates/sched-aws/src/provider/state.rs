//! What the provider remembers: the engine's instances and tasks with the
//! AWS resources bound to them, the container specs, the task definitions
//! and groups known to exist, and events waiting to be reported.

use std::collections::{BTreeMap, HashMap, HashSet};

use sched_core::catalog::CapacityType;
use sched_core::engine::Event;
use sched_core::problem::{InstanceId, TaskId};

use super::ContainerSpec;

/// An engine instance and the AWS resources bound to it.
#[derive(Debug, Clone)]
pub(super) struct Instance {
    /// The Auto Scaling Group, or the Managed Instances capacity provider.
    pub(super) group: String,
    pub(super) capacity: CapacityType,
    /// Managed Instances: the anchor task holding the instance.
    pub(super) anchor: Option<String>,
    pub(super) ec2_id: Option<String>,
    pub(super) container_instance: Option<String>,
    pub(super) draining_reported: bool,
    /// We asked for its end; its disappearance is no reclaim.
    pub(super) released: bool,
    /// Reclaimed or failed: nothing more is reported about it.
    pub(super) gone: bool,
}

impl Instance {
    pub(super) fn new(group: String, capacity: CapacityType, anchor: Option<String>) -> Self {
        Instance {
            group,
            capacity,
            anchor,
            ec2_id: None,
            container_instance: None,
            draining_reported: false,
            released: false,
            gone: false,
        }
    }

    pub(super) fn managed(&self) -> bool {
        self.anchor.is_some()
    }
}

/// An engine task and the ECS task running it.
#[derive(Debug, Clone)]
pub(super) struct Task {
    pub(super) arn: String,
    pub(super) instance: InstanceId,
    pub(super) started_reported: bool,
    /// We stopped it; its end is not reported as an exit.
    pub(super) stopping: bool,
    pub(super) done: bool,
}

/// Everything the provider remembers, behind one lock.
#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) specs: HashMap<TaskId, ContainerSpec>,
    pub(super) default_spec: Option<ContainerSpec>,
    /// Task definition ARN by family.
    pub(super) families: HashMap<String, String>,
    /// The anchor task definition (Managed Instances), once registered.
    pub(super) anchor_definition: Option<String>,
    pub(super) groups: HashSet<String>,
    pub(super) instances: BTreeMap<InstanceId, Instance>,
    /// EC2 instance ids bound to an engine instance, ever.
    pub(super) bound: HashSet<String>,
    pub(super) tasks: HashMap<TaskId, Task>,
    /// Scaling activities already turned into events.
    pub(super) seen_activities: HashSet<String>,
    pub(super) queued: Vec<Event>,
}
