//! How every resource the backend creates is named and tagged.
//!
//! A resource belongs to a configuration when its name starts with the
//! prefix followed by `-` (the log group: `/prefix/`) and it carries the
//! ownership tag [`OWNER_TAG`] whose value is the prefix. Tear-down removes
//! only what has both.

use sched_core::catalog::CapacityType;
use sched_core::resources::Resources;

/// Key of the ownership tag; its value is the prefix.
pub const OWNER_TAG: &str = "cloud-sched:owner";
/// Key of the tag naming the engine's instance id on an EC2 instance.
pub const INSTANCE_TAG: &str = "cloud-sched:instance";

/// Resource names for one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    prefix: String,
}

impl Names {
    /// Names under `prefix` (validated by the configuration).
    pub fn new(prefix: impl Into<String>) -> Self {
        Names { prefix: prefix.into() }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// True when `name` is one of ours by name (the tag is checked apart).
    pub fn owns_name(&self, name: &str) -> bool {
        name.strip_prefix(&self.prefix).is_some_and(|rest| rest.starts_with('-'))
            || name == self.log_group()
    }

    /// The ECS cluster.
    pub fn cluster(&self) -> String {
        format!("{}-cluster", self.prefix)
    }

    /// The role ECS uses to pull images and write logs.
    pub fn execution_role(&self) -> String {
        format!("{}-task-execution", self.prefix)
    }

    /// The role tasks run as.
    pub fn task_role(&self) -> String {
        format!("{}-task", self.prefix)
    }

    /// The role container instances run as (and its instance profile).
    pub fn instance_role(&self) -> String {
        format!("{}-instance", self.prefix)
    }

    /// The role ECS Managed Instances uses to manage instances.
    pub fn infrastructure_role(&self) -> String {
        format!("{}-infrastructure", self.prefix)
    }

    /// Every role, in creation order.
    pub fn roles(&self) -> [String; 4] {
        [self.execution_role(), self.task_role(), self.instance_role(), self.infrastructure_role()]
    }

    /// The CloudWatch log group for task output.
    pub fn log_group(&self) -> String {
        format!("/{}/tasks", self.prefix)
    }

    /// The launch template of the ASG-backed capacity.
    pub fn launch_template(&self) -> String {
        format!("{}-ecs-al2023", self.prefix)
    }

    /// The Auto Scaling Group (and its capacity provider) of one instance
    /// type and capacity type, e.g. `cloudsched-m5-large-spot`.
    pub fn group(&self, type_name: &str, capacity: CapacityType) -> String {
        let kind = match capacity {
            CapacityType::OnDemand => "od",
            CapacityType::Spot => "spot",
        };
        format!("{}-{}-{kind}", self.prefix, type_name.replace('.', "-"))
    }

    /// The ECS Managed Instances capacity provider of one instance type and
    /// capacity type, e.g. `cloudsched-mi-m5-large-spot`.
    pub fn managed_provider(&self, type_name: &str, capacity: CapacityType) -> String {
        let kind = match capacity {
            CapacityType::OnDemand => "od",
            CapacityType::Spot => "spot",
        };
        format!("{}-mi-{}-{kind}", self.prefix, type_name.replace('.', "-"))
    }

    /// True when `name` is one of our Managed Instances capacity providers.
    pub fn is_managed_provider(&self, name: &str) -> bool {
        name.strip_prefix(&self.prefix).is_some_and(|rest| rest.starts_with("-mi-"))
    }

    /// The task definition family of the anchor task that holds a Managed
    /// Instances instance for the engine (see [`crate::managed`]).
    pub fn anchor_family(&self) -> String {
        format!("{}-anchor", self.prefix)
    }

    /// The `startedBy` of the anchor task of engine instance `instance`.
    pub fn anchor_started_by(&self, instance: u64) -> String {
        format!("{}-i{instance}", self.prefix)
    }

    /// The engine instance an anchor task's `startedBy` names, if it is one of ours.
    pub fn anchor_instance(&self, started_by: &str) -> Option<u64> {
        started_by.strip_prefix(&self.prefix)?.strip_prefix("-i")?.parse().ok()
    }

    /// The engine task a task's `startedBy` names, if it is one of ours.
    pub fn started_task(&self, started_by: &str) -> Option<u64> {
        started_by.strip_prefix(&self.prefix)?.strip_prefix("-t")?.parse().ok()
    }

    /// The task definition family of one image and resource shape; those
    /// for Managed Instances (which need their own compatibility and network
    /// mode) end in `-mi`.
    pub fn task_family(&self, image: &str, shape: Resources, managed: bool) -> String {
        format!(
            "{}-{:016x}-c{}-m{}-g{}{}",
            self.prefix,
            fnv1a(image.as_bytes()),
            shape.millicpus,
            shape.memory_mib,
            shape.gpus,
            if managed { "-mi" } else { "" }
        )
    }

    /// The `startedBy` of the ECS task of engine task `task` (at most 36
    /// characters, as ECS requires), the key that makes starts idempotent.
    pub fn started_by(&self, task: u64) -> String {
        format!("{}-t{task}", self.prefix)
    }
}

/// 64-bit FNV-1a: a stable hash (unlike std's) for names that must be the
/// same in every run.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_prefix() {
        let names = Names::new("cs");
        assert_eq!(names.group("m5.large", CapacityType::Spot), "cs-m5-large-spot");
        assert_eq!(names.log_group(), "/cs/tasks");
        assert!(names.owns_name(&names.cluster()));
        assert!(names.owns_name(&names.log_group()));
        assert!(!names.owns_name("csother-cluster"));
        assert!(!names.owns_name("other-cluster"));
        let mi = names.managed_provider("m5.large", CapacityType::OnDemand);
        assert_eq!(mi, "cs-mi-m5-large-od");
        assert!(names.owns_name(&mi) && names.is_managed_provider(&mi));
        assert!(!names.is_managed_provider(&names.group("m5.large", CapacityType::OnDemand)));
    }

    #[test]
    fn started_by_values_read_back() {
        let names = Names::new("cs");
        assert_eq!(names.anchor_instance(&names.anchor_started_by(42)), Some(42));
        assert_eq!(names.started_task(&names.started_by(7)), Some(7));
        assert_eq!(names.anchor_instance(&names.started_by(7)), None);
        assert_eq!(Names::new("cs2").anchor_instance(&names.anchor_started_by(1)), None);
        assert_eq!(names.anchor_instance("cs-ix"), None);
    }

    #[test]
    fn task_families_are_stable_and_distinct() {
        let names = Names::new("cs");
        let shape = Resources { millicpus: 2000, memory_mib: 4096, gpus: 0 };
        let a = names.task_family("ubuntu:24.04", shape, false);
        assert_eq!(a, names.task_family("ubuntu:24.04", shape, false));
        assert_ne!(a, names.task_family("ubuntu:22.04", shape, false));
        assert_ne!(a, names.task_family("ubuntu:24.04", shape, true));
        assert!(a.len() <= 255);
        assert!(
            names.started_by(u64::MAX).len() <= 36 || Names::new("x").started_by(1).len() <= 36
        );
    }
}
