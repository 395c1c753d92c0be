//! Reading one ZIP out of a `multipart/form-data` upload, counted while streaming.
//!
//! The body is parsed as it arrives (multer): the file part is refused with 413 the
//! moment it passes the bundle cap and with 400 as soon as its first four bytes are
//! not `PK\x03\x04`, so neither an oversized nor a non-ZIP upload is ever buffered
//! whole, and the client hears the refusal while it is still sending.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use bytes::{Bytes, BytesMut};
use registry_core::bundle::{BundleError, MAX_BUNDLE_BYTES, check_magic};

use crate::deadline::deadline_passed;
use crate::problem::ApiError;

/// The multipart form field that carries the ZIP.
pub const FILE_FIELD: &str = "file";
/// Room for boundaries, part headers and small text fields around the ZIP.
pub const MULTIPART_OVERHEAD_BYTES: usize = 64 * 1024;

/// A ZIP read from a form.
#[derive(Debug)]
pub struct UploadedFile {
    /// The file's bytes.
    pub bytes: Bytes,
    /// The file name the client gave.
    pub file_name: String,
}

/// Reads the `file` part of a `multipart/form-data` body.
pub async fn read_zip_part(headers: &HeaderMap, body: Body) -> Result<UploadedFile, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type).map_err(|_| {
        ApiError::unsupported_media_type(
            "send the ZIP as multipart/form-data with a part named 'file' (curl -F file=@plugin.zip)",
        )
    })?;
    let stream_limit = MAX_BUNDLE_BYTES + MULTIPART_OVERHEAD_BYTES;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > stream_limit as u64) {
        return Err(too_large());
    }
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(stream_limit as u64)
            .per_field(MAX_BUNDLE_BYTES as u64),
    );
    let mut form =
        multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let mut found: Option<UploadedFile> = None;
    while let Some(mut field) = form.next_field().await.map_err(form_error)? {
        if field.name() != Some(FILE_FIELD) {
            // Other fields are allowed (and counted against the stream limit).
            while field.chunk().await.map_err(form_error)?.is_some() {}
            continue;
        }
        if found.is_some() {
            return Err(ApiError::bad_request(
                "multiple_files",
                "send exactly one part named 'file'",
            ));
        }
        let file_name = field.file_name().map(str::to_owned).ok_or_else(|| {
            ApiError::bad_request(
                "missing_file_name",
                "the 'file' part needs a filename ending in .zip (curl -F file=@plugin.zip)",
            )
        })?;
        let mut bytes = BytesMut::new();
        let mut magic_checked = false;
        while let Some(chunk) = field.chunk().await.map_err(form_error)? {
            if bytes.len() + chunk.len() > MAX_BUNDLE_BYTES {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
            if !magic_checked && bytes.len() >= 4 {
                check_magic(&bytes).map_err(bad_magic)?;
                magic_checked = true;
            }
        }
        // A part shorter than the magic never reached the check above.
        if !magic_checked {
            check_magic(&bytes).map_err(bad_magic)?;
        }
        found = Some(UploadedFile {
            bytes: bytes.freeze(),
            file_name,
        });
    }
    found.ok_or_else(|| {
        ApiError::bad_request(
            "missing_file",
            "the form has no part named 'file'; send the ZIP as -F file=@plugin.zip",
        )
    })
}

fn too_large() -> ApiError {
    ApiError::from(registry_core::RegistryError::Bundle(
        BundleError::TooLarge {
            limit: MAX_BUNDLE_BYTES,
        },
    ))
}

fn bad_magic(error: BundleError) -> ApiError {
    ApiError::from(registry_core::RegistryError::Bundle(error))
}

fn form_error(error: multer::Error) -> ApiError {
    match error {
        multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. } => {
            too_large()
        }
        multer::Error::StreamReadFailed(cause) if let Some(passed) = deadline_passed(&*cause) => {
            ApiError::request_timeout(passed)
        }
        other => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_form",
            format!("the multipart form could not be read: {other}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn form(file: &[u8]) -> (HeaderMap, Body) {
        let mut body =
            b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.zip\"\r\n\r\n"
                .to_vec();
        body.extend_from_slice(file);
        body.extend_from_slice(b"\r\n--b--\r\n");
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "multipart/form-data; boundary=b".parse().unwrap(),
        );
        (headers, Body::from(body))
    }

    #[tokio::test]
    async fn a_file_part_shorter_than_the_zip_magic_is_refused() {
        for file in [&b""[..], b"P", b"PK\x03"] {
            let (headers, body) = form(file);
            let refused = read_zip_part(&headers, body).await.unwrap_err();
            assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{file:?}");
        }
        let (headers, body) = form(b"PK\x03\x04");
        assert_eq!(
            read_zip_part(&headers, body).await.unwrap().bytes.as_ref(),
            b"PK\x03\x04"
        );
    }
}
