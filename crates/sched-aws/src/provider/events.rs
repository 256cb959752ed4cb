//! Polling for the engine's events: bindings and failed launches (see
//! `bind`), container instances (ready, draining: a reclaim warning), EC2
//! instance states (an instance gone without our terminate: reclaimed),
//! and task states (running, stopped with the container's exit code).

use std::collections::{HashMap, HashSet};

use sched_core::engine::Event;
use sched_core::problem::{InstanceId, TaskId};
use sched_core::provider::ProviderError;
use tracing::{debug, info, warn};

use super::AwsProvider;
use crate::call;
use crate::error::AwsError;

impl AwsProvider {
    /// Everything that happened since the last poll, queued events first.
    pub(super) async fn poll(&self) -> Result<Vec<Event>, ProviderError> {
        let mut out = std::mem::take(&mut self.state().queued);
        self.bind_instances(&mut out).await?;
        self.bind_managed(&mut out).await?;
        self.container_instances(&mut out).await?;
        self.lost_instances(&mut out).await?;
        self.task_states(&mut out).await?;
        Ok(out)
    }

    /// Reports instances whose container instance registered (ready) or
    /// started draining (a spot interruption notice, with
    /// `ECS_ENABLE_SPOT_INSTANCE_DRAINING`).
    pub(super) async fn container_instances(&self, out: &mut Vec<Event>) -> Result<(), AwsError> {
        let cluster = self.clients.names.cluster();
        let mut arns = Vec::new();
        let mut next = None;
        loop {
            let page = call!(
                self.clients.retry,
                "ecs:ListContainerInstances",
                self.clients
                    .ecs
                    .list_container_instances()
                    .cluster(&cluster)
                    .set_next_token(next.clone())
            )?;
            arns.extend(page.container_instance_arns().iter().cloned());
            next = page.next_token().map(str::to_owned);
            if next.is_none() {
                break;
            }
        }
        for chunk in arns.chunks(100) {
            let described = call!(
                self.clients.retry,
                "ecs:DescribeContainerInstances",
                self.clients
                    .ecs
                    .describe_container_instances()
                    .cluster(&cluster)
                    .set_container_instances(Some(chunk.to_vec()))
            )?;
            let mut state = self.state();
            for ci in described.container_instances() {
                let (Some(ec2_id), Some(arn)) = (ci.ec2_instance_id(), ci.container_instance_arn())
                else {
                    continue;
                };
                let Some((&id, inst)) = state
                    .instances
                    .iter_mut()
                    .find(|(_, i)| i.ec2_id.as_deref() == Some(ec2_id) && !i.released && !i.gone)
                else {
                    continue;
                };
                if inst.container_instance.is_none() && ci.status() == Some("ACTIVE") {
                    inst.container_instance = Some(arn.to_owned());
                    info!(instance = %id, %ec2_id, "instance ready");
                    out.push(Event::InstanceReady { instance: id });
                } else if ci.status() == Some("DRAINING") && !inst.draining_reported {
                    inst.draining_reported = true;
                    out.push(Event::InstanceReclaimWarning { instance: id });
                }
            }
        }
        Ok(())
    }

    /// Reports bound instances that EC2 ended without our terminate.
    async fn lost_instances(&self, out: &mut Vec<Event>) -> Result<(), AwsError> {
        let watched: Vec<(InstanceId, String)> = self
            .state()
            .instances
            .iter()
            .filter(|(_, i)| !i.released && !i.gone)
            .filter_map(|(id, i)| i.ec2_id.clone().map(|e| (*id, e)))
            .collect();
        if watched.is_empty() {
            return Ok(());
        }
        let described = call!(
            self.clients.retry,
            "ec2:DescribeInstances",
            self.clients
                .ec2
                .describe_instances()
                .set_instance_ids(Some(watched.iter().map(|(_, e)| e.clone()).collect()))
        )?;
        let mut alive = HashSet::new();
        for instance in described.reservations().iter().flat_map(|r| r.instances()) {
            let state = instance.state().and_then(|s| s.name()).map(|n| n.as_str().to_owned());
            let ended = matches!(
                state.as_deref(),
                Some("shutting-down" | "terminated" | "stopping" | "stopped")
            );
            if !ended {
                alive.extend(instance.instance_id().map(str::to_owned));
            }
        }
        for (id, ec2_id) in watched {
            if alive.contains(&ec2_id) {
                continue;
            }
            let mut state = self.state();
            let capacity = state.instances.get(&id).map(|i| i.capacity);
            if let Some(inst) = state.instances.get_mut(&id) {
                inst.gone = true;
            }
            for task in state.tasks.values_mut().filter(|t| t.instance == id) {
                task.done = true;
            }
            warn!(instance = %id, %ec2_id, ?capacity, "instance reclaimed");
            out.push(Event::InstanceReclaimed { instance: id });
        }
        Ok(())
    }

    /// Reports tasks that started running or stopped.
    async fn task_states(&self, out: &mut Vec<Event>) -> Result<(), AwsError> {
        let watched: Vec<(TaskId, String)> = self
            .state()
            .tasks
            .iter()
            .filter(|(_, t)| !t.done)
            .map(|(id, t)| (*id, t.arn.clone()))
            .collect();
        let by_arn: HashMap<String, TaskId> =
            watched.iter().map(|(id, arn)| (arn.clone(), *id)).collect();
        let arns: Vec<String> = watched.into_iter().map(|(_, arn)| arn).collect();
        let described = self.clients.describe_tasks(&arns).await?;
        let mut state = self.state();
        for ecs_task in &described {
            let Some(&id) = ecs_task.task_arn().and_then(|arn| by_arn.get(arn)) else {
                continue;
            };
            let Some(task) = state.tasks.get_mut(&id) else { continue };
            let status = ecs_task.last_status().unwrap_or_default();
            if task.stopping {
                task.done |= status == "STOPPED";
                continue;
            }
            let running_or_past = matches!(
                status,
                "RUNNING" | "DEACTIVATING" | "STOPPING" | "DEPROVISIONING" | "STOPPED"
            );
            let started = ecs_task.started_at().is_some() || running_or_past;
            if started && !task.started_reported && status != "STOPPED" {
                task.started_reported = true;
                out.push(Event::TaskStarted { task: id });
            }
            if status == "STOPPED" {
                // A container that never ran has no exit code: -1, so
                // the engine counts a failed attempt.
                let exit_code =
                    ecs_task.containers().iter().find_map(|c| c.exit_code()).unwrap_or(-1);
                if !task.started_reported {
                    task.started_reported = true;
                    out.push(Event::TaskStarted { task: id });
                }
                task.done = true;
                debug!(task = %id, exit_code, "task exited");
                out.push(Event::TaskExited { task: id, exit_code });
            }
        }
        Ok(())
    }
}
