//! `POST /uploads` and resolving a named upload into a bundle at publish time.

use super::{Registry, require_publish_right};
use crate::auth::{Caller, PrincipalId};
use crate::bundle::{BundleError, MAX_BUNDLE_BYTES};
use crate::checksum::Sha256Digest;
use crate::error::RegistryError;
use crate::store::UploadStore;
use crate::upload::{UPLOAD_EXPIRY, UploadId, UploadKey, UploadRequest, UploadTicket};

/// A named upload, fetched and checked against what its client declared.
pub(super) struct ResolvedUpload {
    pub(super) key: UploadKey,
    pub(super) bytes: bytes::Bytes,
}

impl Registry {
    /// Opens an upload slot: a presigned PUT for exactly the declared size and digest.
    pub async fn create_upload(
        &self,
        caller: &Caller,
        request: UploadRequest,
    ) -> Result<UploadTicket, RegistryError> {
        require_publish_right(Some(caller))?;
        let uploads = self.upload_store()?;
        if request.size == 0 {
            return Err(RegistryError::InvalidParameter {
                name: "size",
                detail: "must be the ZIP's size in bytes, at least 1".into(),
            });
        }
        if request.size > MAX_BUNDLE_BYTES as u64 {
            return Err(BundleError::TooLarge {
                limit: MAX_BUNDLE_BYTES,
            }
            .into());
        }
        let upload_id = UploadId::generate()?;
        let key = UploadKey::new(&caller.principal, &upload_id);
        let put = uploads.presign_put(&key, &request, UPLOAD_EXPIRY).await?;
        tracing::info!(upload = %upload_id, size = request.size, principal = %caller.principal, "upload opened");
        Ok(UploadTicket {
            upload_id,
            put,
            expires_at: self
                .clock
                .now()
                .plus(time::Duration::seconds(UPLOAD_EXPIRY.as_secs() as i64)),
        })
    }

    /// Reads the caller's upload back and checks it is what was declared.
    pub(super) async fn resolve_upload(
        &self,
        principal: &PrincipalId,
        upload_id: &UploadId,
    ) -> Result<ResolvedUpload, RegistryError> {
        let uploads = self.upload_store()?;
        let key = UploadKey::new(principal, upload_id);
        let fetched = uploads
            .fetch(&key, MAX_BUNDLE_BYTES as u64)
            .await?
            .ok_or_else(|| RegistryError::UploadNotFound {
                upload_id: upload_id.to_string(),
            })?;
        if fetched.bytes.len() > MAX_BUNDLE_BYTES {
            return Err(BundleError::TooLarge {
                limit: MAX_BUNDLE_BYTES,
            }
            .into());
        }
        let Some(declared) = fetched.declared_sha256 else {
            return Err(RegistryError::UploadMismatch {
                detail: format!(
                    "upload {upload_id} was stored without its declared sha256; send every header POST /uploads returned"
                ),
            });
        };
        let actual = Sha256Digest::of(&fetched.bytes);
        if actual != declared {
            return Err(RegistryError::UploadMismatch {
                detail: format!(
                    "upload {upload_id} has sha256 {actual}, not the declared {declared}; request a new upload"
                ),
            });
        }
        Ok(ResolvedUpload {
            key,
            bytes: fetched.bytes,
        })
    }

    /// Removes a published upload from quarantine; a failure only delays the
    /// bucket's expiry rule, so it is logged, never returned.
    pub(super) async fn discard_upload(&self, key: &UploadKey) {
        if let Ok(uploads) = self.upload_store()
            && let Err(e) = uploads.discard(key).await
        {
            tracing::warn!(error = &e as &dyn std::error::Error, %key, "could not discard a published upload");
        }
    }

    fn upload_store(&self) -> Result<&dyn UploadStore, RegistryError> {
        self.uploads
            .as_deref()
            .ok_or(RegistryError::UploadsUnsupported)
    }
}
