//! What a cloud backend must do for the engine.
//!
//! The [`Provider`] trait asks only for primitives: launch, start, stop,
//! terminate, and report what happened. Conveniences, such as carrying out
//! an engine [`Action`], live in [`ProviderExt`], implemented for every
//! provider, so a backend never has to write them.
//!
//! - [`faults`]: a wrapper that injects failures into any provider.
//! - [`retry`]: which failed calls to retry, and the backoff.
//! - [`inventory`]: what a provider rents and runs, for reconciliation.

pub mod faults;
pub mod inventory;
pub mod retry;

#[cfg(feature = "conformance")]
pub mod conformance;

use async_trait::async_trait;
use thiserror::Error;

use crate::catalog::OfferingId;
use crate::engine::{Action, Event, LaunchFailure};
use crate::problem::{InstanceId, TaskId};
use crate::resources::Resources;

/// What any provider can run into. The engine acts on the typed variants;
/// [`ProviderError::Backend`] carries anything else opaquely.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The cloud has no capacity for this offering right now.
    #[error("no capacity for {offering}: {message}")]
    CapacityUnavailable {
        /// The offering that was refused.
        offering: OfferingId,
        /// The backend's words.
        message: String,
    },
    /// A request rate limit was hit; retry later.
    #[error("throttled: {message}")]
    Throttled {
        /// The backend's words.
        message: String,
    },
    /// An account limit (vCPU quota, say) forbids the request.
    #[error("quota exceeded: {message}")]
    QuotaExceeded {
        /// The backend's words.
        message: String,
    },
    /// The instance or task is not known to the backend.
    #[error("not found: {what}")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// Any other failure, with the backend's code and message.
    #[error("backend error {code}: {message}")]
    Backend {
        /// The backend's error code.
        code: String,
        /// The backend's message.
        message: String,
    },
}

/// A cloud backend: the simulated cloud, AWS, or a fault-injecting wrapper.
#[async_trait]
pub trait Provider: Send + Sync {
    /// Starts renting an instance of `offering`, known to the engine as `instance`.
    async fn launch(&self, instance: InstanceId, offering: OfferingId)
        -> Result<(), ProviderError>;

    /// Starts `task` on `instance` with `allocated` resources. Must be
    /// idempotent: a retried call never runs the task twice.
    async fn start_task(
        &self,
        task: TaskId,
        instance: InstanceId,
        allocated: Resources,
    ) -> Result<(), ProviderError>;

    /// Stops `task`, wherever it runs.
    async fn stop_task(&self, task: TaskId) -> Result<(), ProviderError>;

    /// Stops renting `instance`.
    async fn terminate(&self, instance: InstanceId) -> Result<(), ProviderError>;

    /// What happened since the last call: instances ready, tasks started and exited.
    async fn events(&self) -> Result<Vec<Event>, ProviderError>;
}

/// Conveniences over [`Provider`], for every provider.
#[async_trait]
pub trait ProviderExt: Provider {
    /// Carries out one engine action.
    async fn execute(&self, action: &Action) -> Result<(), ProviderError> {
        match *action {
            Action::Launch { instance, offering } => self.launch(instance, offering).await,
            Action::StartTask { task, instance, allocated } => {
                self.start_task(task, instance, allocated).await
            }
            Action::StopTask { task } => self.stop_task(task).await,
            Action::Terminate { instance } => self.terminate(instance).await,
        }
    }

    /// Carries out one engine action and turns a failed launch into the
    /// [`Event::LaunchFailed`] the engine acts on (capacity refusals as
    /// [`LaunchFailure::Capacity`], anything else as
    /// [`LaunchFailure::Other`]). Other failures are returned as they are.
    async fn carry_out(&self, action: &Action) -> Result<Option<Event>, ProviderError> {
        match (action, self.execute(action).await) {
            (_, Ok(())) => Ok(None),
            (Action::Launch { instance, .. }, Err(error)) => {
                let reason = match error {
                    ProviderError::CapacityUnavailable { .. } => LaunchFailure::Capacity,
                    _ => LaunchFailure::Other,
                };
                Ok(Some(Event::LaunchFailed { instance: *instance, reason }))
            }
            (_, Err(error)) => Err(error),
        }
    }
}

impl<P: Provider + ?Sized> ProviderExt for P {}
