//! Recovery after a restart: the instances (group instances by their tags,
//! Managed Instances by their anchor tasks) and running tasks (by their
//! `startedBy`) an earlier process of the same configuration left.

use aws_sdk_ecs::types as ecs;
use sched_core::problem::{InstanceId, TaskId};
use tracing::{info, warn};

use super::state::{Instance, Task};
use super::AwsProvider;
use crate::call;
use crate::error::AwsError;
use crate::managed;
use crate::names::{INSTANCE_TAG, OWNER_TAG};

impl AwsProvider {
    /// After a restart: finds the instances and running tasks an earlier
    /// process of this configuration left (group instances by the ownership
    /// and instance tags, Managed Instances by their anchor tasks, tasks by
    /// their `startedBy`), so that they can be stopped, terminated, and not
    /// started twice. Returns how many instances and tasks it found. Their
    /// earlier events are not reported again.
    pub async fn recover(&self) -> Result<(usize, usize), AwsError> {
        let mut found = self.recover_group_instances().await?;
        let running = self.running_tasks().await?;
        found += self.recover_anchors(&running).await?;
        // Their readiness was reported by the earlier process.
        self.container_instances(&mut Vec::new()).await?;

        let names = &self.clients.names;
        let mut tasks = 0;
        let mut state = self.state();
        for ecs_task in &running {
            let Some(id) = ecs_task.started_by().and_then(|s| names.started_task(s)) else {
                continue;
            };
            let Some(instance) = state
                .instances
                .iter()
                .find(|(_, i)| {
                    i.container_instance.is_some()
                        && i.container_instance.as_deref() == ecs_task.container_instance_arn()
                })
                .map(|(id, _)| *id)
            else {
                continue;
            };
            state.tasks.insert(
                TaskId(id),
                Task {
                    arn: ecs_task.task_arn().unwrap_or_default().to_owned(),
                    instance,
                    // Reported by the earlier process once it ran.
                    started_reported: matches!(
                        ecs_task.last_status(),
                        Some("RUNNING" | "DEACTIVATING" | "STOPPING" | "DEPROVISIONING")
                    ),
                    stopping: false,
                    done: false,
                },
            );
            tasks += 1;
        }
        info!(instances = found, tasks, "recovered");
        Ok((found, tasks))
    }

    /// Finds the Auto Scaling Group instances carrying our instance tag.
    async fn recover_group_instances(&self) -> Result<usize, AwsError> {
        use aws_sdk_ec2::types::Filter;
        let names = &self.clients.names;
        let described = call!(
            self.clients.retry,
            "ec2:DescribeInstances",
            self.clients
                .ec2
                .describe_instances()
                .filters(
                    Filter::builder()
                        .name(format!("tag:{OWNER_TAG}"))
                        .values(names.prefix())
                        .build()
                )
                .filters(Filter::builder().name("tag-key").values(INSTANCE_TAG).build())
                .filters(
                    Filter::builder()
                        .name("instance-state-name")
                        .values("pending")
                        .values("running")
                        .build()
                )
        )?;
        let mut found = 0;
        for ec2 in described.reservations().iter().flat_map(|r| r.instances()) {
            let tag = |key: &str| {
                ec2.tags().iter().find(|t| t.key() == Some(key)).and_then(|t| t.value())
            };
            let (Some(id), Some(group), Some(ec2_id)) = (
                tag(INSTANCE_TAG).and_then(|v| v.parse::<u64>().ok()),
                tag("aws:autoscaling:groupName"),
                ec2.instance_id(),
            ) else {
                continue;
            };
            let Some(offering) = self.catalog.offerings().iter().find(|o| {
                names.group(&self.catalog.offering_type(o.id).name, o.capacity_type) == group
            }) else {
                warn!(ec2_id, group, "recovered instance of a group outside the catalog");
                continue;
            };
            let mut state = self.state();
            state.bound.insert(ec2_id.to_owned());
            state.groups.insert(group.to_owned());
            state.instances.insert(
                InstanceId(id),
                Instance::new(group.to_owned(), offering.capacity_type, None),
            );
            if let Some(inst) = state.instances.get_mut(&InstanceId(id)) {
                inst.ec2_id = Some(ec2_id.to_owned());
            }
            found += 1;
        }
        Ok(found)
    }

    /// The cluster's running tasks, described.
    async fn running_tasks(&self) -> Result<Vec<ecs::Task>, AwsError> {
        let cluster = self.clients.names.cluster();
        let mut arns = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = call!(
                self.clients.retry,
                "ecs:ListTasks",
                self.clients
                    .ecs
                    .list_tasks()
                    .cluster(&cluster)
                    .desired_status(ecs::DesiredStatus::Running)
                    .set_next_token(next.clone())
            )?;
            arns.extend(page.task_arns().iter().cloned());
            next = page.next_token().map(str::to_owned);
            if next.is_none() {
                break;
            }
        }
        self.clients.describe_tasks(&arns).await
    }

    /// Finds the Managed Instances instances of an earlier process by their
    /// running anchor tasks.
    async fn recover_anchors(&self, running: &[ecs::Task]) -> Result<usize, AwsError> {
        let names = &self.clients.names;
        let anchors: Vec<(InstanceId, &ecs::Task)> = running
            .iter()
            .filter_map(|t| {
                let id = t.started_by().and_then(|s| names.anchor_instance(s))?;
                Some((InstanceId(id), t))
            })
            .collect();
        let placed: Vec<String> = anchors
            .iter()
            .filter_map(|(_, t)| t.container_instance_arn())
            .map(str::to_owned)
            .collect();
        let ec2_ids = self.ec2_ids_of(&placed).await?;
        let mut state = self.state();
        for (id, anchor) in &anchors {
            let provider = anchor.capacity_provider_name().unwrap_or_default().to_owned();
            let mut inst = Instance::new(provider.clone(), managed::capacity_of(&provider), None);
            inst.anchor = anchor.task_arn().map(str::to_owned);
            if let Some(ci) = anchor.container_instance_arn() {
                if let Some(ec2_id) = ec2_ids.get(ci) {
                    state.bound.insert(ec2_id.clone());
                    inst.ec2_id = Some(ec2_id.clone());
                    inst.container_instance = Some(ci.to_owned());
                }
            }
            state.groups.insert(provider);
            state.instances.insert(*id, inst);
        }
        Ok(anchors.len())
    }
}
