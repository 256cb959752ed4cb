//! The desired capacity of the Auto Scaling Groups, read and set under one
//! lock per group, so concurrent launches and give-backs never lose one.

use std::sync::Arc;

use super::AwsProvider;
use crate::call;
use crate::error::{AwsError, ErrorClass};

impl AwsProvider {
    pub(super) fn group_lock(&self, group: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.group_locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(group.to_owned()).or_default().clone()
    }

    /// Gives back one desired instance of `group` (a launch that failed or
    /// was released before it started), under the group's lock.
    pub(super) async fn decrement(&self, group: &str) -> Result<(), AwsError> {
        let lock = self.group_lock(group);
        let _held = lock.lock().await;
        let (desired, _) = self.group_desired(group).await?;
        self.set_desired(group, desired - 1).await
    }

    pub(super) async fn group_desired(&self, group: &str) -> Result<(i32, i32), AwsError> {
        let out = call!(
            self.clients.retry,
            "autoscaling:DescribeAutoScalingGroups",
            self.clients.autoscaling.describe_auto_scaling_groups().auto_scaling_group_names(group)
        )?;
        let found = out.auto_scaling_groups().first().ok_or_else(|| AwsError {
            operation: "autoscaling:DescribeAutoScalingGroups",
            code: "NotFound".into(),
            message: format!("group {group} not found"),
            class: ErrorClass::NotFound,
        })?;
        Ok((found.desired_capacity().unwrap_or(0), found.max_size().unwrap_or(0)))
    }

    pub(super) async fn set_desired(&self, group: &str, desired: i32) -> Result<(), AwsError> {
        call!(
            self.clients.retry,
            "autoscaling:SetDesiredCapacity",
            self.clients
                .autoscaling
                .set_desired_capacity()
                .auto_scaling_group_name(group)
                .desired_capacity(desired.max(0))
                .honor_cooldown(false)
        )?;
        Ok(())
    }
}
