//! SDK errors, classified for the engine, and the retry loop.
//!
//! Every SDK call goes through [`retry`]: a failure is reduced to an
//! [`AwsError`] naming the operation, the AWS error code and message, and a
//! [`ErrorClass`] read off the code (a table, [`classify_code`]). Throttled
//! and transient failures are retried with capped exponential backoff and
//! full jitter; the rest return at once. [`AwsError::to_provider_error`]
//! then maps the class onto the engine's typed
//! [`sched_core::provider::ProviderError`]: capacity and
//! quota errors become the variants the engine acts on (spotFirst falls
//! back), and anything else carries its code and message.

use std::future::Future;
use std::time::Duration;

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use rand::Rng;
use sched_core::catalog::OfferingId;
use sched_core::provider::ProviderError;
use tracing::warn;

/// What kind of failure an AWS error code stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// A request rate limit: retry after a pause.
    Throttled,
    /// A passing fault of the service or the network: retry.
    Transient,
    /// No capacity for the instance type now.
    Capacity,
    /// An account limit.
    Quota,
    /// The named resource does not exist.
    NotFound,
    /// The resource already exists (an idempotent create may ignore it).
    AlreadyExists,
    /// Anything else: a bad request, a missing permission.
    Other,
}

impl ErrorClass {
    /// True when a retry may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorClass::Throttled | ErrorClass::Transient)
    }
}

/// The class of an AWS error code. Codes differ between services for the
/// same condition; the table lists each service's spelling we rely on.
pub fn classify_code(code: &str) -> ErrorClass {
    match code {
        "Throttling"
        | "ThrottlingException"
        | "ThrottledException"
        | "RequestLimitExceeded"
        | "RequestThrottled"
        | "RequestThrottledException"
        | "TooManyRequestsException"
        | "SlowDown"
        | "PriorRequestNotComplete"
        | "EC2ThrottledException" => ErrorClass::Throttled,
        "InternalError"
        | "InternalFailure"
        | "InternalServerError"
        | "ServerException"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "Unavailable"
        | "RequestTimeout"
        | "RequestTimeoutException"
        | "ServiceFailure"
        | "IDPCommunicationError" => ErrorClass::Transient,
        "InsufficientInstanceCapacity"
        | "InsufficientCapacity"
        | "InsufficientHostCapacity"
        | "InsufficientReservedInstanceCapacity"
        | "InsufficientFreeAddressesInSubnet"
        | "SpotMaxPriceTooLow"
        | "UnfulfillableCapacity"
        | "Unsupported" => ErrorClass::Capacity,
        "VcpuLimitExceeded"
        | "InstanceLimitExceeded"
        | "MaxSpotInstanceCountExceeded"
        | "LimitExceeded"
        | "LimitExceededException"
        | "LimitExceededFault"
        | "ServiceQuotaExceededException"
        | "ResourceLimitExceeded" => ErrorClass::Quota,
        "NoSuchEntity"
        | "ClusterNotFoundException"
        | "ResourceNotFoundException"
        | "ParameterNotFound"
        | "InvalidInstanceID.NotFound"
        | "InvalidLaunchTemplateName.NotFoundException"
        | "ValidationError.NotFound" => ErrorClass::NotFound,
        "EntityAlreadyExists"
        | "AlreadyExists"
        | "AlreadyExistsFault"
        | "ResourceAlreadyExistsException"
        | "InvalidLaunchTemplateName.AlreadyExistsException" => ErrorClass::AlreadyExists,
        _ => ErrorClass::Other,
    }
}

/// The class of an error, from its code and, where services share a code
/// for different conditions, its message.
pub fn classify(code: &str, message: &str) -> ErrorClass {
    let by_code = classify_code(code);
    if by_code != ErrorClass::Other {
        return by_code;
    }
    // Some services answer a generic code; the message then tells.
    let lower = message.to_ascii_lowercase();
    if lower.contains("rate exceeded") || lower.contains("throttl") {
        ErrorClass::Throttled
    } else if lower.contains("insufficient") && lower.contains("capacity") {
        ErrorClass::Capacity
    } else if lower.contains("already exists") {
        ErrorClass::AlreadyExists
    } else if lower.contains("not found") || lower.contains("does not exist") {
        ErrorClass::NotFound
    } else {
        ErrorClass::Other
    }
}

/// A failed AWS call, with what was being done and what AWS said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {code}: {message}")]
pub struct AwsError {
    /// The SDK operation, e.g. `ecs:StartTask`.
    pub operation: &'static str,
    /// The AWS error code, or a transport kind (`Timeout`, `Dispatch`).
    pub code: String,
    /// AWS's message.
    pub message: String,
    /// What kind of failure it is.
    pub class: ErrorClass,
}

impl AwsError {
    /// An error the backend itself found (not from an SDK call).
    pub fn local(operation: &'static str, message: impl Into<String>) -> Self {
        AwsError {
            operation,
            code: "Local".to_owned(),
            message: message.into(),
            class: ErrorClass::Other,
        }
    }

    /// Reduces an SDK error: service errors by code and message, timeouts
    /// and dispatch failures as transient, an unparseable response by its
    /// HTTP status (5xx transient, 429 throttled).
    pub fn from_sdk<E, R>(
        operation: &'static str,
        error: aws_smithy_runtime_api::client::result::SdkError<E, R>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + HttpStatus,
    {
        use aws_smithy_runtime_api::client::result::SdkError;
        let (code, message, class) = match &error {
            SdkError::ServiceError(service) => {
                let err = service.err();
                let code = err.code().unwrap_or("Unknown").to_owned();
                let message = err.message().unwrap_or("").to_owned();
                let mut class = classify(&code, &message);
                if class == ErrorClass::Other {
                    class = class_of_status(service.raw().status());
                }
                (code, message, class)
            }
            SdkError::TimeoutError(_) => {
                ("Timeout".to_owned(), format!("{error:?}"), ErrorClass::Transient)
            }
            SdkError::DispatchFailure(failure) => {
                let class =
                    if failure.is_user() { ErrorClass::Other } else { ErrorClass::Transient };
                ("Dispatch".to_owned(), format!("{failure:?}"), class)
            }
            SdkError::ResponseError(response) => (
                "ResponseError".to_owned(),
                format!("{error:?}"),
                class_of_status(response.raw().status()),
            ),
            _ => ("Unknown".to_owned(), format!("{error:?}"), ErrorClass::Other),
        };
        AwsError { operation, code, message, class }
    }

    /// The engine's view. `offering` is the offering a launch was for, so
    /// that a capacity refusal names it.
    pub fn to_provider_error(&self, offering: Option<OfferingId>) -> ProviderError {
        let message = format!("{}: {}", self.operation, self.message);
        match (self.class, offering) {
            (ErrorClass::Throttled, _) => ProviderError::Throttled { message },
            (ErrorClass::Capacity, Some(offering)) => {
                ProviderError::CapacityUnavailable { offering, message }
            }
            (ErrorClass::Quota, _) => ProviderError::QuotaExceeded { message },
            (ErrorClass::NotFound, _) => ProviderError::NotFound { what: message },
            _ => ProviderError::Backend { code: self.code.clone(), message },
        }
    }
}

impl From<AwsError> for ProviderError {
    fn from(error: AwsError) -> Self {
        error.to_provider_error(None)
    }
}

/// The HTTP status of a raw response, for errors without a usable code.
pub trait HttpStatus {
    /// The status code.
    fn status(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    fn status(&self) -> u16 {
        self.status().as_u16()
    }
}

fn class_of_status(status: u16) -> ErrorClass {
    match status {
        429 => ErrorClass::Throttled,
        500..=599 => ErrorClass::Transient,
        _ => ErrorClass::Other,
    }
}

/// How throttled and transient failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Backoff cap before the first retry; doubled each retry.
    pub base_delay: Duration,
    /// Largest backoff cap.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Five attempts, 200 ms doubling to at most 10 s (with full jitter the
    /// expected total wait is under 4 s).
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The backoff cap before retry `retry` (0 for the first retry):
    /// `base * 2^retry`, at most `max_delay`.
    pub fn cap(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// The wait before retry `retry`: uniform in `[0, cap]` ("full jitter"),
    /// so that many clients throttled together do not retry together.
    pub fn delay(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let cap = self.cap(retry).as_millis() as u64;
        Duration::from_millis(rng.gen_range(0..=cap))
    }
}

/// Runs `call` until it succeeds, fails for good, or the attempts run out.
pub async fn retry<T, F, Fut>(policy: RetryPolicy, mut call: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(error) if error.class.is_retryable() && attempt < policy.max_attempts => {
                let delay = policy.delay(attempt - 1, &mut rand::thread_rng());
                warn!(
                    operation = error.operation,
                    code = %error.code,
                    attempt,
                    max = policy.max_attempts,
                    delay_ms = delay.as_millis() as u64,
                    "retrying AWS call"
                );
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_classify_as_the_table_says() {
        let table = [
            ("ThrottlingException", "Rate exceeded", ErrorClass::Throttled),
            ("RequestLimitExceeded", "Request limit exceeded.", ErrorClass::Throttled),
            ("Throttling", "Rate exceeded", ErrorClass::Throttled),
            ("ServerException", "Service unavailable", ErrorClass::Transient),
            ("InternalError", "An internal error has occurred", ErrorClass::Transient),
            ("ServiceUnavailable", "", ErrorClass::Transient),
            ("InsufficientInstanceCapacity", "no c5.large", ErrorClass::Capacity),
            ("SpotMaxPriceTooLow", "price", ErrorClass::Capacity),
            ("VcpuLimitExceeded", "You have requested more vCPU", ErrorClass::Quota),
            ("LimitExceededException", "capacity providers", ErrorClass::Quota),
            ("MaxSpotInstanceCountExceeded", "", ErrorClass::Quota),
            ("ClusterNotFoundException", "Cluster not found.", ErrorClass::NotFound),
            ("NoSuchEntity", "role x", ErrorClass::NotFound),
            ("EntityAlreadyExists", "Role with name x already exists.", ErrorClass::AlreadyExists),
            ("ResourceAlreadyExistsException", "", ErrorClass::AlreadyExists),
            ("AccessDeniedException", "not authorized", ErrorClass::Other),
            ("InvalidParameterException", "bad cpu", ErrorClass::Other),
            // Generic codes with telling messages.
            ("ValidationError", "Rate exceeded", ErrorClass::Throttled),
            ("ClientException", "Insufficient capacity for m5.large", ErrorClass::Capacity),
            ("ValidationError", "AutoScalingGroup name not found", ErrorClass::NotFound),
            ("ValidationError", "Launch template x already exists", ErrorClass::AlreadyExists),
        ];
        for (code, message, class) in table {
            assert_eq!(classify(code, message), class, "{code}: {message}");
        }
    }

    #[test]
    fn classes_map_onto_provider_errors() {
        let offering = OfferingId(3);
        let error = |class| AwsError {
            operation: "autoscaling:SetDesiredCapacity",
            code: "Code".to_owned(),
            message: "words".to_owned(),
            class,
        };
        let message = "autoscaling:SetDesiredCapacity: words".to_owned();
        let table = [
            (ErrorClass::Throttled, ProviderError::Throttled { message: message.clone() }),
            (
                ErrorClass::Capacity,
                ProviderError::CapacityUnavailable { offering, message: message.clone() },
            ),
            (ErrorClass::Quota, ProviderError::QuotaExceeded { message: message.clone() }),
            (ErrorClass::NotFound, ProviderError::NotFound { what: message.clone() }),
            (
                ErrorClass::Other,
                ProviderError::Backend { code: "Code".to_owned(), message: message.clone() },
            ),
            (
                ErrorClass::Transient,
                ProviderError::Backend { code: "Code".to_owned(), message: message.clone() },
            ),
        ];
        for (class, expected) in table {
            assert_eq!(error(class).to_provider_error(Some(offering)), expected, "{class:?}");
        }
        // Without an offering a capacity error cannot name one: it stays opaque.
        assert!(matches!(
            error(ErrorClass::Capacity).to_provider_error(None),
            ProviderError::Backend { .. }
        ));
    }

    #[test]
    fn backoff_caps_double_up_to_the_maximum() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.cap(0), Duration::from_millis(200));
        assert_eq!(policy.cap(1), Duration::from_millis(400));
        assert_eq!(policy.cap(5), Duration::from_millis(6400));
        assert_eq!(policy.cap(6), Duration::from_secs(10));
        assert_eq!(policy.cap(u32::MAX), Duration::from_secs(10));
        let mut rng = rand::thread_rng();
        for retry in 0..10 {
            assert!(policy.delay(retry, &mut rng) <= policy.cap(retry));
        }
    }

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        }
    }

    #[tokio::test]
    async fn throttled_calls_are_retried_until_they_succeed() {
        let mut calls = 0;
        let result = retry(fast(), || {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    Err(AwsError {
                        operation: "ecs:StartTask",
                        code: "ThrottlingException".into(),
                        message: "Rate exceeded".into(),
                        class: ErrorClass::Throttled,
                    })
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(result, Ok(3));
    }

    #[tokio::test]
    async fn retries_stop_at_the_limit_and_on_permanent_errors() {
        let mut calls = 0;
        let result: Result<(), _> = retry(fast(), || {
            calls += 1;
            async {
                Err(AwsError::local("x", "m"))
                    .map_err(|e| AwsError { class: ErrorClass::Transient, ..e })
            }
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls, 4);

        let mut calls = 0;
        let result: Result<(), _> = retry(fast(), || {
            calls += 1;
            async { Err(AwsError::local("x", "denied")) }
        })
        .await;
        assert_eq!(result.unwrap_err().message, "denied");
        assert_eq!(calls, 1);
    }
}
