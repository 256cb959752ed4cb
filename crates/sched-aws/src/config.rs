//! What the operator chooses, and the SDK configuration built from it.

use std::path::PathBuf;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use sched_core::catalog::OverheadModel;
use sched_core::policy::{AllowList, ProvisioningModel};

use crate::error::RetryPolicy;
use crate::managed::ANCHOR_OVERHEAD;

/// Where capacity for the cluster comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CapacityBackend {
    /// One Auto Scaling Group per instance type and capacity type, each an
    /// ECS capacity provider.
    #[default]
    Asg,
    /// ECS Managed Instances: ECS picks and runs instances meeting
    /// instance requirements.
    ManagedInstances,
}

impl CapacityBackend {
    /// What this backend itself keeps on every instance, beyond the OS and
    /// the ECS agent: nothing for Auto Scaling Groups, the anchor task's
    /// reservation ([`crate::managed::ANCHOR_OVERHEAD`]) for Managed
    /// Instances. Add it to the policy's overhead before the engine places
    /// tasks, or the engine fills the anchor's share too and ECS refuses the
    /// last task to start:
    ///
    /// ```
    /// use sched_aws::CapacityBackend;
    /// use sched_core::policy::Policy;
    ///
    /// let mut policy = Policy::default();
    /// policy.overhead = policy.overhead.plus(CapacityBackend::ManagedInstances.instance_overhead());
    /// assert_eq!(policy.overhead.reserved_millicpus, 125);
    /// ```
    pub fn instance_overhead(self) -> OverheadModel {
        match self {
            CapacityBackend::Asg => OverheadModel::NONE,
            CapacityBackend::ManagedInstances => ANCHOR_OVERHEAD,
        }
    }
}

impl std::str::FromStr for CapacityBackend {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "asg" => Ok(CapacityBackend::Asg),
            "managed-instances" | "managedinstances" | "managed" => {
                Ok(CapacityBackend::ManagedInstances)
            }
            other => {
                Err(format!("unknown capacity backend {other:?}: use asg or managed-instances"))
            }
        }
    }
}

/// The backend's configuration.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AwsConfig {
    /// AWS region, e.g. `us-east-1`; `None` takes the one the aws-config
    /// chain finds (environment, profile).
    pub region: Option<String>,
    /// An endpoint URL for every service (an emulator, for tests);
    /// `None` uses the real AWS endpoints.
    pub endpoint: Option<String>,
    /// Prefix of every resource name; also the ownership tag's value.
    pub prefix: String,
    /// Local directory for state the backend keeps between runs.
    pub work_dir: PathBuf,
    /// Which capacity types may be rented.
    pub provisioning: ProvisioningModel,
    /// Instance types that may be rented; `None` allows all.
    pub allow_list: Option<AllowList>,
    /// Auto Scaling Groups or Managed Instances.
    pub capacity: CapacityBackend,
    /// Largest size of each Auto Scaling Group.
    pub max_instances_per_group: i32,
    /// How throttled and transient errors are retried.
    pub retry: RetryPolicy,
    /// Subnets for the Auto Scaling Groups; empty takes the default VPC's.
    pub subnets: Vec<String>,
    /// Fixed credentials (access key id, secret), for emulators; `None`
    /// takes them from the aws-config chain.
    pub static_credentials: Option<(String, String)>,
}

impl AwsConfig {
    /// The default name prefix: short, neutral, and valid in every AWS name.
    pub const DEFAULT_PREFIX: &'static str = "cloudsched";

    /// A configuration with the defaults: the region of the aws-config
    /// chain, real endpoints, the default prefix, spot first, every type
    /// allowed, Auto Scaling Groups.
    pub fn new() -> Self {
        AwsConfig {
            region: None,
            endpoint: None,
            prefix: Self::DEFAULT_PREFIX.to_owned(),
            work_dir: PathBuf::from(".cloud-sched"),
            provisioning: ProvisioningModel::default(),
            allow_list: None,
            capacity: CapacityBackend::default(),
            max_instances_per_group: 20,
            retry: RetryPolicy::default(),
            subnets: Vec::new(),
            static_credentials: None,
        }
    }

    /// Sets the region.
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sets the endpoint override.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Sets the name prefix (validated by [`AwsConfig::validate`]).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the capacity backend.
    pub fn with_capacity(mut self, capacity: CapacityBackend) -> Self {
        self.capacity = capacity;
        self
    }

    /// Sets the provisioning model.
    pub fn with_provisioning(mut self, provisioning: ProvisioningModel) -> Self {
        self.provisioning = provisioning;
        self
    }

    /// Sets the allow-list.
    pub fn with_allow_list(mut self, allow_list: AllowList) -> Self {
        self.allow_list = Some(allow_list);
        self
    }

    /// Uses fixed credentials instead of the aws-config chain.
    pub fn with_static_credentials(mut self, key_id: &str, secret: &str) -> Self {
        self.static_credentials = Some((key_id.to_owned(), secret.to_owned()));
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Checks the prefix: 1 to 20 characters, ASCII letters, digits and
    /// `-`, starting with a letter (the strictest of the names it is used
    /// in, ECS cluster and IAM role names, allow that, and the longest
    /// derived name stays under IAM's 64).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let p = &self.prefix;
        let ok = (1..=20).contains(&p.len())
            && p.starts_with(|c: char| c.is_ascii_alphabetic())
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok {
            return Err(ConfigError::BadPrefix { prefix: p.clone() });
        }
        if self.max_instances_per_group < 1 {
            return Err(ConfigError::BadGroupSize { value: self.max_instances_per_group });
        }
        Ok(())
    }

    /// The SDK configuration: credentials and region from the standard
    /// aws-config chain, the region and endpoint overridden when set.
    /// The SDK's own retries are off: [`crate::error::retry`] does them, so
    /// that every retry is classified and logged.
    pub async fn sdk_config(&self) -> Result<aws_config::SdkConfig, ConfigError> {
        self.validate()?;
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_secs(30))
                    .build(),
            );
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some((key_id, secret)) = &self.static_credentials {
            loader = loader.credentials_provider(aws_sdk_ecs::config::Credentials::new(
                key_id, secret, None, None, "static",
            ));
        }
        if let Some(endpoint) = &self.endpoint {
            loader = loader.endpoint_url(endpoint.clone());
        }
        let config = loader.load().await;
        if config.region().is_none() {
            return Err(ConfigError::NoRegion);
        }
        Ok(config)
    }
}

impl Default for AwsConfig {
    fn default() -> Self {
        AwsConfig::new()
    }
}

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The name prefix is not usable in AWS names.
    #[error(
        "name prefix {prefix:?}: use 1 to 20 ASCII letters, digits or '-', starting with a letter"
    )]
    BadPrefix {
        /// The prefix given.
        prefix: String,
    },
    /// The group size is not positive.
    #[error("max instances per group {value}: must be at least 1")]
    BadGroupSize {
        /// The value given.
        value: i32,
    },
    /// Neither the configuration nor the aws-config chain names a region.
    #[error("no AWS region: set one in the configuration, AWS_REGION or the profile")]
    NoRegion,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_prefix_is_valid_and_neutral() {
        let config = AwsConfig::new();
        assert_eq!(config.validate(), Ok(()));
        assert!(!config.prefix.to_ascii_lowercase().contains("aws"));
    }

    #[test]
    fn bad_prefixes_are_refused_with_the_value() {
        for bad in ["", "1abc", "has_underscore", "a-very-long-prefix-over-twenty", "sp ace"] {
            let err = AwsConfig::new().with_prefix(bad).validate().unwrap_err();
            assert_eq!(err, ConfigError::BadPrefix { prefix: bad.to_owned() });
        }
    }

    #[test]
    fn only_managed_instances_keep_something_on_every_instance() {
        assert_eq!(CapacityBackend::Asg.instance_overhead(), OverheadModel::NONE);
        // The anchor: 64 MiB and 128 CPU units, 125 millicpus.
        assert_eq!(
            CapacityBackend::ManagedInstances.instance_overhead(),
            OverheadModel::new(64, 0, 125)
        );
    }

    #[test]
    fn capacity_backend_parses() {
        assert_eq!("asg".parse(), Ok(CapacityBackend::Asg));
        assert_eq!("managed-instances".parse(), Ok(CapacityBackend::ManagedInstances));
        assert!("fargate".parse::<CapacityBackend>().is_err());
    }
}
