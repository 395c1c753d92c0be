//! Direct-to-storage bundle uploads (`POST /uploads`).
//!
//! On AWS a Lambda request cannot carry a 5 MB ZIP, so the client asks for an upload
//! slot, PUTs the bytes straight to object storage with a presigned request whose
//! size and digest are signed, then names the upload in `POST /plugins`. The upload
//! lands under a quarantine prefix keyed by the caller's principal, so one principal
//! can never publish another's upload, and nothing there is ever served.

use std::fmt;
use std::time::Duration;

use crate::auth::{PrincipalId, random_hex};
use crate::checksum::Sha256Digest;
use crate::error::RegistryError;
use crate::timestamp::Timestamp;

/// Object-key prefix of uploads awaiting validation. Never served, expired by a
/// bucket lifecycle rule.
pub const UPLOAD_PREFIX: &str = "uploads/";
/// How long a presigned upload stays usable: long enough for a 5 MB PUT from CI,
/// short enough that a leaked URL is soon worthless.
pub const UPLOAD_EXPIRY: Duration = Duration::from_secs(10 * 60);
/// Object metadata key holding the declared SHA-256 (hex); it is a signed header.
pub const UPLOAD_SHA256_METADATA: &str = "sha256";

/// Identifier of one upload (`upl_` + 32 hex characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UploadId(String);

impl UploadId {
    /// A fresh random id.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self(format!("upl_{}", random_hex(16)?)))
    }

    /// Parses an id a client sent back, refusing anything not of our shape.
    pub fn parse(raw: &str) -> Result<Self, RegistryError> {
        let valid = raw.strip_prefix("upl_").is_some_and(|hex| {
            hex.len() == 32
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(RegistryError::InvalidParameter {
                name: "upload_id",
                detail: format!(
                    "{raw:?} is not an upload id (upl_ followed by 32 lowercase hex digits, as POST /uploads returns)"
                ),
            })
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an upload's bytes live: `uploads/{principal}/{upload_id}.zip`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UploadKey(String);

impl UploadKey {
    /// The key of `upload` made by `owner`.
    pub fn new(owner: &PrincipalId, upload: &UploadId) -> Self {
        Self(format!("{UPLOAD_PREFIX}{owner}/{upload}.zip"))
    }

    /// The key as an object key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UploadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a client declares before uploading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRequest {
    /// The exact size of the ZIP in bytes.
    pub size: u64,
    /// The SHA-256 of the ZIP.
    pub sha256: Sha256Digest,
}

/// A presigned HTTP request the client sends the bytes with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedPut {
    /// The URL, signature included.
    pub url: String,
    /// Headers the client must send exactly as given (they are signed).
    pub headers: Vec<(String, String)>,
}

/// The answer to `POST /uploads`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadTicket {
    /// The id to name in `POST /plugins?upload_id=`.
    pub upload_id: UploadId,
    /// The request to send the bytes with.
    pub put: PresignedPut,
    /// When the presigned request stops working.
    pub expires_at: Timestamp,
}

/// An upload read back for validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedUpload {
    /// The bytes stored.
    pub bytes: bytes::Bytes,
    /// The SHA-256 the client declared when it asked for the upload, if recorded.
    pub declared_sha256: Option<Sha256Digest>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_and_foreign_shapes_do_not() {
        let id = UploadId::generate().unwrap();
        assert_eq!(UploadId::parse(id.as_str()).unwrap(), id);
        for bad in [
            "",
            "upl_",
            "upl_0123",
            "key_0123456789abcdef0123456789abcdef",
            "upl_0123456789ABCDEF0123456789ABCDEF",
            "upl_0123456789abcdef0123456789abcde/",
            "upl_../../artifacts/x/1.0.0/0000000",
        ] {
            assert!(UploadId::parse(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn upload_keys_sit_under_the_quarantine_prefix_per_principal() {
        let owner = PrincipalId::from_stored("prn_0011223344556677");
        let id = UploadId::parse("upl_00112233445566778899aabbccddeeff").unwrap();
        assert_eq!(
            UploadKey::new(&owner, &id).as_str(),
            "uploads/prn_0011223344556677/upl_00112233445566778899aabbccddeeff.zip"
        );
    }
}
