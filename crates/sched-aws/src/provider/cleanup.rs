//! Clean-up through the provider: what [`ensure::cleanup`] removes, keeping
//! the groups and capacity providers of the instances still held, and
//! forgetting what was removed so its next use creates it again.

use std::collections::BTreeSet;

use super::AwsProvider;
use crate::ensure::{self, Report};
use crate::error::AwsError;

impl AwsProvider {
    /// Removes what this prefix owns and no longer needs (see
    /// [`ensure::cleanup`]), keeping the groups and capacity providers of
    /// the instances this provider still holds. With `dry_run`, only lists it.
    /// Launches through this provider wait while it runs.
    pub async fn cleanup(&self, dry_run: bool) -> Result<Report, AwsError> {
        let _no_launches = self.cleanup_gate.write().await;
        let in_use: BTreeSet<String> = self
            .state()
            .instances
            .values()
            .filter(|i| !i.released && !i.gone)
            .map(|i| i.group.clone())
            .collect();
        let report = ensure::cleanup(&self.clients, &in_use, dry_run).await?;
        if !dry_run {
            // What was removed must be created again on its next use.
            let mut state = self.state();
            for line in &report.changed {
                if let Some(arn) = line.strip_prefix("task-definition ") {
                    state.families.retain(|_, a| a != arn);
                    if state.anchor_definition.as_deref() == Some(arn) {
                        state.anchor_definition = None;
                    }
                } else if let Some(name) = line
                    .strip_prefix("capacity-provider ")
                    .or_else(|| line.strip_prefix("auto-scaling-group "))
                {
                    state.groups.remove(name);
                }
            }
        }
        Ok(report)
    }
}
