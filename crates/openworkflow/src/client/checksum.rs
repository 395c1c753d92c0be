//! SHA-256 checks of what the registry serves.

use sha2::{Digest, Sha256};

use super::ClientError;

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Fails unless `bytes` hash to `expected` (lowercase hex).
pub fn check_sha256(what: &str, bytes: &[u8], expected: &str) -> Result<(), ClientError> {
    let actual = sha256_hex(bytes);
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(ClientError::ChecksumMismatch {
            what: what.to_owned(),
            expected: expected.to_owned(),
            actual,
        })
    }
}
