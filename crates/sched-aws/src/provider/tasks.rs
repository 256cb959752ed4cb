//! Tasks: the task definition of each image and shape (registered once),
//! and starting and stopping engine tasks with StartTask and StopTask.
//! A start first looks for a running task with its `startedBy`, so a
//! retried start never runs a task twice.

use aws_sdk_ecs::types as ecs;
use sched_core::problem::{InstanceId, TaskId};
use sched_core::provider::ProviderError;
use sched_core::resources::Resources;
use tracing::{debug, info};

use super::state::Task;
use super::{AwsProvider, ContainerSpec};
use crate::call;
use crate::config::CapacityBackend;
use crate::error::{AwsError, ErrorClass};
use crate::names::OWNER_TAG;

impl AwsProvider {
    /// Starts `task` on `instance` with `allocated` resources, or finds it
    /// already running.
    pub(super) async fn start(
        &self,
        task: TaskId,
        instance: InstanceId,
        allocated: Resources,
    ) -> Result<(), ProviderError> {
        // Clean-up must not deregister the task definition this start uses.
        let _no_cleanup = self.cleanup_gate.read().await;
        let (container_instance, spec) = {
            let state = self.state();
            if state.tasks.get(&task).is_some_and(|t| t.instance == instance && !t.done) {
                return Ok(()); // Already started there.
            }
            let ci = state
                .instances
                .get(&instance)
                .filter(|i| !i.released && !i.gone)
                .and_then(|i| i.container_instance.clone())
                .ok_or_else(|| ProviderError::NotFound {
                    what: format!("{instance} (not ready)"),
                })?;
            let spec = state.specs.get(&task).or(state.default_spec.as_ref()).cloned().ok_or_else(
                || ProviderError::Backend {
                    code: "NoContainerSpec".into(),
                    message: format!("{task} has no container spec: call register_container"),
                },
            )?;
            (ci, spec)
        };
        let definition = self.task_definition(&spec, allocated).await?;
        let cluster = self.clients.names.cluster();
        let started_by = self.clients.names.started_by(task.0);

        // A retried start (or one from before a restart) finds its task.
        let running = call!(
            self.clients.retry,
            "ecs:ListTasks",
            self.clients
                .ecs
                .list_tasks()
                .cluster(&cluster)
                .started_by(&started_by)
                .desired_status(ecs::DesiredStatus::Running)
        )?;
        let arn = if let Some(arn) = running.task_arns().first() {
            debug!(%task, arn, "start found a running task");
            arn.clone()
        } else {
            let mut overrides = ecs::ContainerOverride::builder().name("main");
            if !spec.command.is_empty() {
                overrides = overrides.set_command(Some(spec.command.clone()));
            }
            let out = call!(
                self.clients.retry,
                "ecs:StartTask",
                self.clients
                    .ecs
                    .start_task()
                    .cluster(&cluster)
                    .task_definition(&definition)
                    .container_instances(&container_instance)
                    .started_by(&started_by)
                    .overrides(
                        ecs::TaskOverride::builder().container_overrides(overrides.build()).build()
                    )
                    .tags(
                        ecs::Tag::builder()
                            .key(OWNER_TAG)
                            .value(self.clients.names.prefix())
                            .build()
                    )
            )?;
            if let Some(failure) = out.failures().first() {
                return Err(ProviderError::Backend {
                    code: "StartTaskFailure".into(),
                    message: format!(
                        "{task} on {instance}: {} {}",
                        failure.reason().unwrap_or_default(),
                        failure.detail().unwrap_or_default()
                    ),
                });
            }
            let arn = out
                .tasks()
                .first()
                .and_then(|t| t.task_arn())
                .ok_or_else(|| ProviderError::Backend {
                    code: "StartTaskFailure".into(),
                    message: format!("{task} on {instance}: StartTask returned no task"),
                })?
                .to_owned();
            info!(%task, %instance, %arn, "task started");
            arn
        };
        self.state().tasks.insert(
            task,
            Task { arn, instance, started_reported: false, stopping: false, done: false },
        );
        Ok(())
    }

    /// Stops `task`; its end is then not reported as an exit.
    pub(super) async fn stop(&self, task: TaskId) -> Result<(), ProviderError> {
        let arn = {
            let mut state = self.state();
            let Some(tracked) = state.tasks.get_mut(&task) else { return Ok(()) };
            if tracked.done || tracked.stopping {
                return Ok(());
            }
            tracked.stopping = true;
            tracked.arn.clone()
        };
        call!(
            self.clients.retry,
            "ecs:StopTask",
            self.clients
                .ecs
                .stop_task()
                .cluster(self.clients.names.cluster())
                .task(&arn)
                .reason("stopped by the scheduler")
        )?;
        info!(%task, %arn, "task stopped");
        Ok(())
    }

    /// The task definition of `spec`'s image in `shape`, registered once.
    async fn task_definition(
        &self,
        spec: &ContainerSpec,
        shape: Resources,
    ) -> Result<String, AwsError> {
        let managed = self.config.capacity == CapacityBackend::ManagedInstances;
        let family = self.clients.names.task_family(&spec.image, shape, managed);
        if let Some(arn) = self.state().families.get(&family) {
            return Ok(arn.clone());
        }
        // Found from an earlier run?
        let found = call!(
            self.clients.retry,
            "ecs:DescribeTaskDefinition",
            self.clients.ecs.describe_task_definition().task_definition(&family)
        );
        let existing = match found {
            Ok(out) => out
                .task_definition()
                .filter(|t| t.status() == Some(&ecs::TaskDefinitionStatus::Active))
                .and_then(|t| t.task_definition_arn().map(str::to_owned)),
            Err(e) if e.class == ErrorClass::Other || e.class == ErrorClass::NotFound => None,
            Err(e) => return Err(e),
        };
        let arn = match existing {
            Some(arn) => arn,
            None => {
                let container_units = container_cpu_units(shape.millicpus);
                let memory_mib = ecs_size("memory (MiB)", shape.memory_mib)?;
                let mut container = ecs::ContainerDefinition::builder()
                    .name("main")
                    .image(&spec.image)
                    .essential(true)
                    // The one container gets all of the task's share.
                    .cpu(ecs_size("cpu (units)", container_units)?)
                    .memory(memory_mib)
                    .log_configuration(
                        ecs::LogConfiguration::builder()
                            .log_driver(ecs::LogDriver::Awslogs)
                            .options("awslogs-group", self.clients.names.log_group())
                            .options("awslogs-region", &self.region)
                            .options("awslogs-stream-prefix", "task")
                            .build()
                            .map_err(|e| {
                                AwsError::local("ecs:RegisterTaskDefinition", e.to_string())
                            })?,
                    );
                if shape.gpus > 0 {
                    container = container.resource_requirements(
                        ecs::ResourceRequirement::builder()
                            .r#type(ecs::ResourceType::Gpu)
                            .value(shape.gpus.to_string())
                            .build()
                            .map_err(|e| {
                                AwsError::local("ecs:RegisterTaskDefinition", e.to_string())
                            })?,
                    );
                }
                // Managed Instances needs its compatibility and a network
                // mode; host keeps StartTask free of network configuration.
                // Managed Instances also needs a task-level cpu of at least
                // 128 units: a task under 125 millicpus reserves a few units
                // more than the engine counted there (documented in
                // docs/aws.md); EC2 tasks reserve their container's units only.
                let (compatibility, network, task_units) = if managed {
                    let units = container_units.max(MIN_TASK_CPU_UNITS);
                    ecs_size("cpu (units)", units)?;
                    (
                        ecs::Compatibility::ManagedInstances,
                        Some(ecs::NetworkMode::Host),
                        Some(units),
                    )
                } else {
                    (ecs::Compatibility::Ec2, None, None)
                };
                let out = call!(
                    self.clients.retry,
                    "ecs:RegisterTaskDefinition",
                    self.clients
                        .ecs
                        .register_task_definition()
                        .family(&family)
                        .requires_compatibilities(compatibility)
                        .set_network_mode(network.clone())
                        .set_cpu(task_units.map(|u| u.to_string()))
                        .memory(memory_mib.to_string())
                        .execution_role_arn(&self.execution_role_arn)
                        .task_role_arn(&self.task_role_arn)
                        .container_definitions(container.build())
                        .tags(
                            ecs::Tag::builder()
                                .key(OWNER_TAG)
                                .value(self.clients.names.prefix())
                                .build()
                        )
                )?;
                info!(%family, "registered task definition");
                out.task_definition()
                    .and_then(|t| t.task_definition_arn())
                    .unwrap_or_default()
                    .to_owned()
            }
        };
        self.state().families.insert(family, arn.clone());
        Ok(arn)
    }
}

/// The ECS CPU units (1024ths of a vCPU) the container of a task of
/// `millicpus` reserves: rounded down, so that the units of the tasks the
/// engine packs onto an instance never add up to more than the instance has
/// (rounding up added a unit per task, and many tasks overcommitted it).
pub(super) fn container_cpu_units(millicpus: u64) -> u64 {
    millicpus.saturating_mul(1024) / 1000
}

/// ECS's smallest task-level CPU, in units. EC2 task definitions may leave
/// the task level out, so only Managed Instances ones are held to it.
pub(super) const MIN_TASK_CPU_UNITS: u64 = 128;

/// A task definition's size field as ECS takes it (an `i32`), or an error
/// naming the field and value instead of a silently truncated number.
fn ecs_size(field: &str, value: u64) -> Result<i32, AwsError> {
    i32::try_from(value).map_err(|_| {
        AwsError::local(
            "ecs:RegisterTaskDefinition",
            format!("{field} {value} is larger than ECS takes ({})", i32::MAX),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::managed::{ANCHOR_CPU_UNITS, ANCHOR_OVERHEAD};

    #[test]
    fn container_units_round_down_and_never_overflow() {
        assert_eq!(container_cpu_units(1000), 1024);
        assert_eq!(container_cpu_units(1001), 1025);
        assert_eq!(container_cpu_units(1), 1);
        assert_eq!(container_cpu_units(u64::MAX), u64::MAX / 1000);
    }

    /// Regression: rounding each task up let three tasks of 1,333
    /// millicpus (4,000 counted by the engine on a 4-vCPU instance) ask ECS
    /// for 4,098 units, more than the instance's 4,096.
    #[test]
    fn tasks_the_engine_packs_never_reserve_more_units_than_the_instance_has() {
        for vcpus in 1..=64u64 {
            for tasks in 1..=8u64 {
                let each = vcpus * 1000 / tasks;
                assert!(tasks * container_cpu_units(each) <= vcpus * 1024, "{vcpus} {tasks}");
            }
        }
    }

    #[test]
    fn sizes_ecs_cannot_take_are_errors_naming_the_value() {
        assert_eq!(ecs_size("memory (MiB)", 2048).unwrap(), 2048);
        let e = ecs_size("memory (MiB)", u64::MAX).unwrap_err();
        assert!(e.to_string().contains(&u64::MAX.to_string()), "{e}");
    }

    /// Regression: the anchor's CPU was not left out of what the engine
    /// places on a Managed Instance, so tasks filling its vCPUs plus the
    /// anchor asked ECS for more units than the instance has.
    #[test]
    fn tasks_filling_what_the_anchor_overhead_leaves_fit_beside_the_anchor() {
        let anchor = u64::try_from(ANCHOR_CPU_UNITS).unwrap();
        assert_eq!(
            container_cpu_units(ANCHOR_OVERHEAD.reserved_millicpus).max(MIN_TASK_CPU_UNITS),
            anchor
        );
        for vcpus in 1..=448u64 {
            let left = vcpus * 1000 - ANCHOR_OVERHEAD.reserved_millicpus;
            assert!(container_cpu_units(left) + anchor <= vcpus * 1024, "{vcpus} vCPUs");
            // Without the overhead, all of the vCPUs would be placed: too much.
            assert!(container_cpu_units(vcpus * 1000) + anchor > vcpus * 1024);
        }
    }
}
