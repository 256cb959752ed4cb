//! One SDK client per service, built once from the configuration.

use aws_sdk_ecs::types as ecs;

use crate::config::{AwsConfig, ConfigError};
use crate::error::{AwsError, RetryPolicy};
use crate::names::Names;

/// The SDK clients the backend uses, with the names and retry policy they
/// serve.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Clients {
    /// ECS.
    pub ecs: aws_sdk_ecs::Client,
    /// EC2.
    pub ec2: aws_sdk_ec2::Client,
    /// EC2 Auto Scaling.
    pub autoscaling: aws_sdk_autoscaling::Client,
    /// IAM.
    pub iam: aws_sdk_iam::Client,
    /// SSM Parameter Store.
    pub ssm: aws_sdk_ssm::Client,
    /// CloudWatch Logs.
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// Cost Explorer.
    pub cost_explorer: aws_sdk_costexplorer::Client,
    /// The Price List API, in [`crate::pricing::PRICING_REGION`].
    pub pricing: aws_sdk_pricing::Client,
    /// Resource names under the configured prefix.
    pub names: Names,
    /// How failed calls are retried.
    pub retry: RetryPolicy,
}

impl Clients {
    /// Clients for `config` (credentials and region from the aws-config chain).
    pub async fn new(config: &AwsConfig) -> Result<Self, ConfigError> {
        let sdk = config.sdk_config().await?;
        Ok(Clients::from_sdk_config(&sdk, config))
    }

    /// Clients over an SDK configuration built elsewhere (tests with
    /// mocked clients build theirs directly).
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, config: &AwsConfig) -> Self {
        Clients {
            ecs: aws_sdk_ecs::Client::new(sdk),
            ec2: aws_sdk_ec2::Client::new(sdk),
            autoscaling: aws_sdk_autoscaling::Client::new(sdk),
            iam: aws_sdk_iam::Client::new(sdk),
            ssm: aws_sdk_ssm::Client::new(sdk),
            logs: aws_sdk_cloudwatchlogs::Client::new(sdk),
            cost_explorer: aws_sdk_costexplorer::Client::new(sdk),
            pricing: aws_sdk_pricing::Client::from_conf(
                aws_sdk_pricing::config::Builder::from(sdk)
                    .region(aws_config::Region::new(crate::pricing::PRICING_REGION))
                    .build(),
            ),
            names: Names::new(config.prefix.clone()),
            retry: config.retry,
        }
    }

    /// The cluster's tasks of `arns`, described 100 at a time (the most one
    /// DescribeTasks call takes). Tasks ECS no longer knows are left out.
    pub async fn describe_tasks(&self, arns: &[String]) -> Result<Vec<ecs::Task>, AwsError> {
        let cluster = self.names.cluster();
        let mut tasks = Vec::with_capacity(arns.len());
        for chunk in arns.chunks(100) {
            let described = crate::call!(
                self.retry,
                "ecs:DescribeTasks",
                self.ecs.describe_tasks().cluster(&cluster).set_tasks(Some(chunk.to_vec()))
            )?;
            tasks.extend(described.tasks.unwrap_or_default());
        }
        Ok(tasks)
    }
}

/// Sends an SDK fluent builder through [`crate::error::retry`], naming the
/// operation in errors and logs: `call!(clients, "ecs:CreateCluster", builder)`.
#[macro_export]
#[doc(hidden)]
macro_rules! call {
    ($retry:expr, $op:literal, $builder:expr) => {{
        let builder = $builder;
        $crate::error::retry($retry, || {
            let builder = builder.clone();
            async move { builder.send().await.map_err(|e| $crate::error::AwsError::from_sdk($op, e)) }
        })
        .await
    }};
}
