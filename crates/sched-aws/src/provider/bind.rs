//! Binding: new EC2 instances of each group go to the engine's pending
//! instances, oldest first, and are tagged with their engine id; Managed
//! Instances are bound to where their anchor was placed. Launches that
//! could not be made (a failed scaling activity, an anchor stopped before
//! it was placed) become `LaunchFailed`.

use std::collections::{BTreeMap, HashMap};

use sched_core::engine::{Event, LaunchFailure};
use sched_core::problem::InstanceId;
use tracing::{info, warn};

use super::AwsProvider;
use crate::call;
use crate::error::{classify, AwsError, ErrorClass};
use crate::names::INSTANCE_TAG;

impl AwsProvider {
    /// Binds new EC2 instances of each group to the engine's pending
    /// instances, oldest first, and reports failed launches.
    pub(super) async fn bind_instances(&self, out: &mut Vec<Event>) -> Result<(), AwsError> {
        let pending: BTreeMap<String, Vec<InstanceId>> = {
            let state = self.state();
            let mut by_group: BTreeMap<String, Vec<InstanceId>> = BTreeMap::new();
            for (id, inst) in &state.instances {
                if inst.ec2_id.is_none() && !inst.released && !inst.gone && !inst.managed() {
                    by_group.entry(inst.group.clone()).or_default().push(*id);
                }
            }
            by_group
        };
        for (group, waiting) in pending {
            let described = call!(
                self.clients.retry,
                "autoscaling:DescribeAutoScalingGroups",
                self.clients
                    .autoscaling
                    .describe_auto_scaling_groups()
                    .auto_scaling_group_names(&group)
            )?;
            let fresh: Vec<String> = {
                let state = self.state();
                described
                    .auto_scaling_groups()
                    .iter()
                    .flat_map(|g| g.instances())
                    .filter_map(|i| i.instance_id())
                    .filter(|id| !state.bound.contains(*id))
                    .map(str::to_owned)
                    .collect()
            };
            let mut waiting = waiting.into_iter();
            for ec2_id in fresh {
                let Some(instance) = waiting.next() else { break };
                call!(
                    self.clients.retry,
                    "ec2:CreateTags",
                    self.clients.ec2.create_tags().resources(&ec2_id).tags(
                        aws_sdk_ec2::types::Tag::builder()
                            .key(INSTANCE_TAG)
                            .value(instance.0.to_string())
                            .build()
                    )
                )?;
                info!(%instance, %ec2_id, %group, "instance bound");
                let mut state = self.state();
                state.bound.insert(ec2_id.clone());
                if let Some(inst) = state.instances.get_mut(&instance) {
                    inst.ec2_id = Some(ec2_id);
                }
            }

            // Launches the group could not make: one failed activity fails
            // the oldest instance still waiting.
            let still: Vec<InstanceId> = waiting.collect();
            if still.is_empty() {
                continue;
            }
            let activities = call!(
                self.clients.retry,
                "autoscaling:DescribeScalingActivities",
                self.clients
                    .autoscaling
                    .describe_scaling_activities()
                    .auto_scaling_group_name(&group)
            )?;
            let mut still = still.into_iter();
            for activity in activities.activities() {
                let failed = activity.status_code()
                    == Some(&aws_sdk_autoscaling::types::ScalingActivityStatusCode::Failed);
                let id = activity.activity_id().unwrap_or_default().to_owned();
                if !failed || self.state().seen_activities.contains(&id) {
                    continue;
                }
                self.state().seen_activities.insert(id);
                let Some(instance) = still.next() else { break };
                let message = activity.status_message().unwrap_or_default();
                let reason = match classify("", message) {
                    ErrorClass::Capacity => LaunchFailure::Capacity,
                    _ if message.contains("InsufficientInstanceCapacity") => {
                        LaunchFailure::Capacity
                    }
                    _ => LaunchFailure::Other,
                };
                warn!(%instance, %group, message, "launch failed");
                self.decrement(&group).await?;
                if let Some(inst) = self.state().instances.get_mut(&instance) {
                    inst.gone = true;
                }
                out.push(Event::LaunchFailed { instance, reason });
            }
        }
        Ok(())
    }

    /// Binds Managed Instances instances to the container instance their
    /// anchor was placed on, and reports anchors that stopped unplaced as
    /// failed launches.
    pub(super) async fn bind_managed(&self, out: &mut Vec<Event>) -> Result<(), AwsError> {
        let waiting: Vec<(InstanceId, String)> = self
            .state()
            .instances
            .iter()
            .filter(|(_, i)| i.ec2_id.is_none() && !i.released && !i.gone)
            .filter_map(|(id, i)| i.anchor.clone().map(|a| (*id, a)))
            .collect();
        let anchors: Vec<String> = waiting.iter().map(|(_, a)| a.clone()).collect();
        let mut placed = Vec::new();
        for anchor in self.clients.describe_tasks(&anchors).await? {
            let Some(&(id, _)) =
                waiting.iter().find(|(_, a)| Some(a.as_str()) == anchor.task_arn())
            else {
                continue;
            };
            if let Some(ci) = anchor.container_instance_arn() {
                placed.push((id, ci.to_owned()));
            } else if anchor.last_status() == Some("STOPPED") {
                let message = format!(
                    "{} {}",
                    anchor.stop_code().map(|c| c.as_str()).unwrap_or_default(),
                    anchor.stopped_reason().unwrap_or_default()
                );
                let reason = match classify("", &message) {
                    ErrorClass::Capacity => LaunchFailure::Capacity,
                    _ => LaunchFailure::Other,
                };
                warn!(instance = %id, message = message.trim(), "launch failed");
                if let Some(inst) = self.state().instances.get_mut(&id) {
                    inst.gone = true;
                }
                out.push(Event::LaunchFailed { instance: id, reason });
            }
        }
        let ec2_ids =
            self.ec2_ids_of(&placed.iter().map(|(_, ci)| ci.clone()).collect::<Vec<_>>()).await?;
        let mut state = self.state();
        for (id, ci) in placed {
            let Some(ec2_id) = ec2_ids.get(&ci) else { continue };
            info!(instance = %id, %ec2_id, "instance bound");
            state.bound.insert(ec2_id.clone());
            if let Some(inst) = state.instances.get_mut(&id) {
                inst.ec2_id = Some(ec2_id.clone());
            }
        }
        Ok(())
    }

    /// The EC2 instance id of each of `container_instances` (ARNs).
    pub(super) async fn ec2_ids_of(
        &self,
        container_instances: &[String],
    ) -> Result<HashMap<String, String>, AwsError> {
        let mut out = HashMap::new();
        for chunk in container_instances.chunks(100) {
            let described = call!(
                self.clients.retry,
                "ecs:DescribeContainerInstances",
                self.clients
                    .ecs
                    .describe_container_instances()
                    .cluster(self.clients.names.cluster())
                    .set_container_instances(Some(chunk.to_vec()))
            )?;
            for ci in described.container_instances() {
                if let (Some(arn), Some(ec2_id)) =
                    (ci.container_instance_arn(), ci.ec2_instance_id())
                {
                    out.insert(arn.to_owned(), ec2_id.to_owned());
                }
            }
        }
        Ok(out)
    }
}
