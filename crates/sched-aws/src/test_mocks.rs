//! Clients answered by aws-smithy-mocks rules, for unit tests of the calls
//! moto lacks. Every client points at an unused loopback port and never
//! sends: the interceptor answers first, and a request no rule matches
//! fails the test.

use aws_smithy_mocks::Rule;

use crate::clients::Clients;
use crate::config::AwsConfig;
use crate::error::RetryPolicy;
use crate::names::Names;

/// A client of SDK crate `$sdk` answered by `$rules` (a slice of `&Rule`),
/// the first matching rule answering each request.
macro_rules! mocked {
    ($sdk:ident, $rules:expr) => {{
        let mut interceptor = aws_smithy_mocks::MockResponseInterceptor::new()
            .rule_mode(aws_smithy_mocks::RuleMode::MatchAny);
        for rule in $rules {
            interceptor = interceptor.with_rule(rule);
        }
        $sdk::Client::from_conf(
            $sdk::Config::builder()
                .behavior_version($sdk::config::BehaviorVersion::latest())
                .region($sdk::config::Region::new("us-east-1"))
                .credentials_provider($sdk::config::Credentials::new(
                    "testing", "testing", None, None, "static",
                ))
                .endpoint_url("http://127.0.0.1:9")
                .http_client(aws_smithy_mocks::create_mock_http_client())
                .interceptor(interceptor)
                .build(),
        )
    }};
}

/// Rules per service; services without rules answer nothing.
#[derive(Default)]
pub struct Rules<'a> {
    pub ecs: Vec<&'a Rule>,
    pub ec2: Vec<&'a Rule>,
    pub iam: Vec<&'a Rule>,
}

/// Fast retries for tests.
pub fn fast() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: std::time::Duration::from_millis(1),
        max_delay: std::time::Duration::from_millis(1),
    }
}

/// Clients of prefix `config.prefix` answered by `rules`.
pub fn clients(config: &AwsConfig, rules: Rules<'_>) -> Clients {
    let none: [&Rule; 0] = [];
    Clients {
        ecs: mocked!(aws_sdk_ecs, rules.ecs),
        ec2: mocked!(aws_sdk_ec2, rules.ec2),
        autoscaling: mocked!(aws_sdk_autoscaling, none),
        iam: mocked!(aws_sdk_iam, rules.iam),
        ssm: mocked!(aws_sdk_ssm, none),
        logs: mocked!(aws_sdk_cloudwatchlogs, none),
        cost_explorer: mocked!(aws_sdk_costexplorer, none),
        pricing: mocked!(aws_sdk_pricing, none),
        names: Names::new(config.prefix.clone()),
        retry: fast(),
    }
}
