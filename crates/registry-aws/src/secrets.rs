//! Reading a secret (the index signing key) from AWS Secrets Manager.

use aws_sdk_secretsmanager::Client;
use registry_core::store::StorageError;

use crate::error::storage_error;

/// The string value of secret `secret_id`, with a client made from `sdk` (only
/// the index builder links the Secrets Manager client).
pub async fn read_secret_with(
    sdk: &aws_config::SdkConfig,
    secret_id: &str,
) -> Result<String, StorageError> {
    read_secret(&Client::new(sdk), secret_id).await
}

/// The string value of secret `secret_id`.
pub async fn read_secret(client: &Client, secret_id: &str) -> Result<String, StorageError> {
    let output = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(storage_error)?;
    output
        .secret_string()
        .map(str::to_owned)
        .ok_or_else(|| StorageError::Corrupt(format!("secret {secret_id} has no string value")))
}
