//! Mapping SDK errors onto the ports' `StorageError`, keeping the SDK error whole.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use registry_core::store::StorageError;

/// Error codes that mean "slow down or try again", after the SDK's own retries.
const TRANSIENT_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
    "Throttling",
    "SlowDown",
    "InternalServerError",
    "InternalError",
    "ServiceUnavailable",
    "LimitExceededException",
];

/// Classifies an SDK failure: throttling, timeouts and transport failures become
/// [`StorageError::Unavailable`] (a 503), everything else [`StorageError::Backend`].
pub(crate) fn storage_error<E, R>(error: SdkError<E, R>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let transient = match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => service
            .err()
            .code()
            .is_some_and(|code| TRANSIENT_CODES.contains(&code)),
        _ => false,
    };
    if transient {
        StorageError::Unavailable(Box::new(error))
    } else {
        StorageError::Backend(Box::new(error))
    }
}

/// A stored item that cannot be decoded.
pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(format!("{what}: {detail}"))
}
