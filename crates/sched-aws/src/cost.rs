//! Cost predictions from Cost Explorer, where the permission exists.
//!
//! A prediction is an `Option`: without the permission (or without data,
//! as in a new account) it is simply absent, logged at debug, and never an
//! error to the user.

use aws_sdk_costexplorer::types::{Expression, Granularity, Metric, TagValues};
use tracing::{debug, warn};

use crate::call;
use crate::error::RetryPolicy;
use crate::names::OWNER_TAG;

/// The predicted unblended cost, USD, of what carries the ownership tag of
/// `prefix` from `start` to `end` (dates `YYYY-MM-DD`, end exclusive);
/// `None` when Cost Explorer is not allowed, has no data, or fails.
pub async fn forecast_usd(
    client: &aws_sdk_costexplorer::Client,
    retry: RetryPolicy,
    prefix: &str,
    start: &str,
    end: &str,
) -> Option<f64> {
    let filter = Expression::builder()
        .tags(TagValues::builder().key(OWNER_TAG).values(prefix).build())
        .build();
    let result = call!(
        retry,
        "ce:GetCostForecast",
        client
            .get_cost_forecast()
            .time_period(
                aws_sdk_costexplorer::types::DateInterval::builder()
                    .start(start)
                    .end(end)
                    .build()
                    .ok()?,
            )
            .metric(Metric::UnblendedCost)
            .granularity(Granularity::Daily)
            .filter(filter)
    );
    match result {
        Ok(out) => {
            let amount = out.total().and_then(|t| t.amount()).and_then(|a| a.parse::<f64>().ok());
            debug!(?amount, start, end, "cost forecast");
            amount
        }
        Err(e)
            if matches!(
                e.code.as_str(),
                "AccessDeniedException"
                    | "AccessDenied"
                    | "UnauthorizedOperation"
                    | "DataUnavailableException"
            ) =>
        {
            debug!(code = %e.code, "no cost forecast: {}", e.message);
            None
        }
        Err(e) => {
            warn!(error = %e, "no cost forecast");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_costexplorer::operation::get_cost_forecast::{
        GetCostForecastError, GetCostForecastOutput,
    };
    use aws_sdk_costexplorer::types::MetricValue;
    use aws_sdk_costexplorer::Client;
    use aws_smithy_mocks::{mock, MockResponseInterceptor, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;

    fn mocked(rules: &[&aws_smithy_mocks::Rule]) -> Client {
        let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::Sequential);
        for rule in rules {
            interceptor = interceptor.with_rule(rule);
        }
        let config = aws_sdk_costexplorer::Config::builder()
            .behavior_version(aws_sdk_costexplorer::config::BehaviorVersion::latest())
            .region(aws_sdk_costexplorer::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_costexplorer::config::Credentials::new(
                "testing", "testing", None, None, "static",
            ))
            // Never sent: the interceptor answers first.
            .endpoint_url("http://127.0.0.1:9")
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .interceptor(interceptor)
            .build();
        Client::from_conf(config)
    }

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 2,
            base_delay: std::time::Duration::from_millis(1),
            max_delay: std::time::Duration::from_millis(1),
        }
    }

    #[tokio::test]
    async fn a_forecast_is_read_when_allowed() {
        let rule = mock!(Client::get_cost_forecast)
            .match_requests(|r| {
                r.filter().and_then(|f| f.tags()).and_then(|t| t.key()) == Some(OWNER_TAG)
            })
            .then_output(|| {
                GetCostForecastOutput::builder()
                    .total(MetricValue::builder().amount("12.5").unit("USD").build())
                    .build()
            });
        let client = mocked(&[&rule]);
        let got = forecast_usd(&client, fast(), "cs", "2026-01-01", "2026-01-08").await;
        assert_eq!(got, Some(12.5));
    }

    #[tokio::test]
    async fn without_permission_the_forecast_is_absent() {
        let rule = mock!(Client::get_cost_forecast).then_error(|| {
            GetCostForecastError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("User is not authorized to perform: ce:GetCostForecast")
                    .build(),
            )
        });
        let client = mocked(&[&rule]);
        assert_eq!(forecast_usd(&client, fast(), "cs", "2026-01-01", "2026-01-08").await, None);
    }
}
