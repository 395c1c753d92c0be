//! Mapping SDK errors onto the ports' `StorageError`, keeping the SDK error whole.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use registry_core::store::{Conflict, StorageError};

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

/// Whether a write was refused because its condition expression did not hold.
pub(crate) fn is_condition_failure<E, R>(error: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    matches!(
        error,
        SdkError::ServiceError(service)
            if service.err().code() == Some("ConditionalCheckFailedException")
    )
}

/// A conditional write's outcome: a failed condition is `Conflict(on_condition)`.
pub(crate) fn conditional<T, E, R>(
    result: Result<T, SdkError<E, R>>,
    on_condition: Conflict,
) -> Result<(), StorageError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_condition_failure(&e) => Err(StorageError::Conflict(on_condition)),
        Err(e) => Err(storage_error(e)),
    }
}

pub(crate) use registry_core::store::codec::corrupt;
