//! Launches: within the configured policy, through the offering's Auto
//! Scaling Group (one more desired instance) or its ECS Managed Instances
//! capacity provider (an anchor task), each created on first use.

use sched_core::catalog::OfferingId;
use sched_core::problem::InstanceId;
use sched_core::provider::ProviderError;
use tracing::info;

use super::state::Instance;
use super::AwsProvider;
use crate::config::CapacityBackend;
use crate::ensure::{self, Report};
use crate::error::AwsError;
use crate::managed::{self, OfferingClass};

impl AwsProvider {
    /// Launches `instance` of `offering` if the policy allows that offering;
    /// a retried launch of the same instance does nothing.
    pub(super) async fn launch_instance(
        &self,
        instance: InstanceId,
        offering: OfferingId,
    ) -> Result<(), ProviderError> {
        if offering.0 as usize >= self.catalog.offerings().len() {
            return Err(ProviderError::NotFound { what: offering.to_string() });
        }
        if self.state().instances.contains_key(&instance) {
            return Ok(()); // A retried launch of the same instance.
        }
        let _no_cleanup = self.cleanup_gate.read().await;
        let ty = self.catalog.offering_type(offering);
        let capacity = self.catalog.offering(offering).capacity_type;
        let allowed = self.config.provisioning.allows(capacity)
            && self.config.allow_list.as_ref().is_none_or(|list| list.allows(ty));
        if !allowed {
            return Err(ProviderError::Backend {
                code: "NotAllowed".into(),
                message: format!("{} {capacity} is outside the configured policy", ty.name),
            });
        }
        match self.config.capacity {
            CapacityBackend::ManagedInstances => self.launch_managed(instance, offering).await,
            _ => self.launch_in_group(instance, offering).await,
        }
    }

    async fn ensure_group(&self, offering: OfferingId) -> Result<String, AwsError> {
        let ty = self.catalog.offering_type(offering);
        let capacity = self.catalog.offering(offering).capacity_type;
        let name = self.clients.names.group(&ty.name, capacity);
        if self.state().groups.contains(&name) {
            return Ok(name);
        }
        let mut report = Report::default();
        ensure::ensure_group(&self.clients, &self.config, &ty.name, ty.arch, capacity, &mut report)
            .await?;
        self.state().groups.insert(name.clone());
        Ok(name)
    }

    /// The Managed Instances capacity provider of `offering`, created on
    /// first use.
    async fn ensure_managed_provider(&self, offering: OfferingId) -> Result<String, AwsError> {
        let ty = self.catalog.offering_type(offering);
        let capacity = self.catalog.offering(offering).capacity_type;
        let name = self.clients.names.managed_provider(&ty.name, capacity);
        if self.state().groups.contains(&name) {
            return Ok(name);
        }
        let roles = self.managed_roles.as_ref().ok_or_else(|| {
            AwsError::local("ecs:CreateCapacityProvider", "Managed Instances roles were not read")
        })?;
        let class = OfferingClass {
            type_name: ty.name.clone(),
            vcpus: ty.vcpus,
            memory_mib: ty.memory_mib,
            capacity,
        };
        let mut report = Report::default();
        managed::ensure_provider(&self.clients, &self.config, roles, &class, &mut report).await?;
        self.state().groups.insert(name.clone());
        Ok(name)
    }

    /// The anchor task definition, registered once.
    async fn anchor_definition(&self) -> Result<String, AwsError> {
        if let Some(arn) = self.state().anchor_definition.clone() {
            return Ok(arn);
        }
        let arn = managed::ensure_anchor_definition(
            &self.clients,
            &self.execution_role_arn,
            &mut Report::default(),
        )
        .await?;
        self.state().anchor_definition = Some(arn.clone());
        Ok(arn)
    }

    /// Launch through an Auto Scaling Group: one more desired instance,
    /// read and set under the group's lock.
    async fn launch_in_group(
        &self,
        instance: InstanceId,
        offering: OfferingId,
    ) -> Result<(), ProviderError> {
        let failed = |e: AwsError| e.to_provider_error(Some(offering));
        let capacity = self.catalog.offering(offering).capacity_type;
        let group = self.ensure_group(offering).await.map_err(failed)?;
        let lock = self.group_lock(&group);
        let _held = lock.lock().await;
        if self.state().instances.contains_key(&instance) {
            return Ok(()); // A concurrent retry of the same launch got here first.
        }
        let (desired, max) = self.group_desired(&group).await.map_err(failed)?;
        if desired + 1 > max {
            return Err(ProviderError::QuotaExceeded {
                message: format!("group {group} is at its maximum size {max}"),
            });
        }
        self.set_desired(&group, desired + 1).await.map_err(failed)?;
        info!(%instance, %group, desired = desired + 1, "launch");
        self.state().instances.insert(instance, Instance::new(group, capacity, None));
        Ok(())
    }

    /// Launch through ECS Managed Instances: an anchor task on the
    /// offering's capacity provider.
    async fn launch_managed(
        &self,
        instance: InstanceId,
        offering: OfferingId,
    ) -> Result<(), ProviderError> {
        let failed = |e: AwsError| e.to_provider_error(Some(offering));
        let capacity = self.catalog.offering(offering).capacity_type;
        let provider = self.ensure_managed_provider(offering).await.map_err(failed)?;
        let definition = self.anchor_definition().await.map_err(failed)?;
        let lock = self.group_lock(&provider);
        let _held = lock.lock().await;
        if self.state().instances.contains_key(&instance) {
            return Ok(());
        }
        let anchor = managed::run_anchor(&self.clients, &provider, &definition, instance.0)
            .await
            .map_err(failed)?;
        info!(%instance, %provider, %anchor, "launch");
        self.state().instances.insert(instance, Instance::new(provider, capacity, Some(anchor)));
        Ok(())
    }
}
