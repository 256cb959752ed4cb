//! Terminating instances: through the Auto Scaling Group (terminate with a
//! decrement, or only the decrement before an instance was bound), or for
//! Managed Instances by stopping the anchor and deregistering the container
//! instance.

use sched_core::engine::Event;
use sched_core::problem::InstanceId;
use sched_core::provider::ProviderError;
use tracing::info;

use super::state::Instance;
use super::AwsProvider;
use crate::call;
use crate::error::{AwsError, ErrorClass};

impl AwsProvider {
    /// Releases `instance`; a second release does nothing. Its tasks are
    /// not reported as exited, and `InstanceTerminated` is queued.
    pub(super) async fn release(&self, instance: InstanceId) -> Result<(), ProviderError> {
        let inst = {
            let state = self.state();
            let inst = state
                .instances
                .get(&instance)
                .ok_or_else(|| ProviderError::NotFound { what: instance.to_string() })?;
            if inst.released {
                return Ok(());
            }
            inst.clone()
        };
        if inst.managed() {
            self.release_managed(instance, &inst).await?;
        } else {
            match &inst.ec2_id {
                Some(ec2_id) if !inst.gone => {
                    call!(
                        self.clients.retry,
                        "autoscaling:TerminateInstanceInAutoScalingGroup",
                        self.clients
                            .autoscaling
                            .terminate_instance_in_auto_scaling_group()
                            .instance_id(ec2_id)
                            .should_decrement_desired_capacity(true)
                    )?;
                }
                Some(_) => {}
                // Not yet started: take back the capacity asked for.
                None => self.decrement(&inst.group).await?,
            }
        }
        info!(%instance, ec2_id = ?inst.ec2_id, group = %inst.group, "terminate");
        let mut state = self.state();
        if let Some(inst) = state.instances.get_mut(&instance) {
            inst.released = true;
        }
        for task in state.tasks.values_mut().filter(|t| t.instance == instance) {
            task.done = true;
        }
        state.queued.push(Event::InstanceTerminated { instance });
        Ok(())
    }

    /// Releases a Managed Instances instance: stops our tasks on it and its
    /// anchor, and deregisters its container instance, after which ECS ends
    /// the EC2 instance. Tasks and anchors already gone are no error.
    async fn release_managed(&self, instance: InstanceId, inst: &Instance) -> Result<(), AwsError> {
        let cluster = self.clients.names.cluster();
        let mut arns: Vec<String> = self
            .state()
            .tasks
            .values()
            .filter(|t| t.instance == instance && !t.done)
            .map(|t| t.arn.clone())
            .collect();
        arns.extend(inst.anchor.clone());
        for arn in arns {
            let stopped = call!(
                self.clients.retry,
                "ecs:StopTask",
                self.clients
                    .ecs
                    .stop_task()
                    .cluster(&cluster)
                    .task(&arn)
                    .reason("instance released by the scheduler")
            );
            match stopped {
                Ok(_) => {}
                Err(e) if e.class == ErrorClass::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        if let (Some(ci), false) = (&inst.container_instance, inst.gone) {
            let deregistered = call!(
                self.clients.retry,
                "ecs:DeregisterContainerInstance",
                self.clients
                    .ecs
                    .deregister_container_instance()
                    .cluster(&cluster)
                    .container_instance(ci)
                    .force(true)
            );
            match deregistered {
                Ok(_) => {}
                Err(e) if e.class == ErrorClass::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
