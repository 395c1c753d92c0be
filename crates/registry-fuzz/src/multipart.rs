//! The streaming multipart reader every bundle upload goes through.
//!
//! An input is one request: its first byte picks the size of the chunks the body
//! arrives in (the reader must not care where the network splits it), the rest of
//! the first line is the `Content-Type` header, and what follows is the body.
//!
//! Promise: the reader answers a ZIP file part of at most the bundle cap that starts
//! with the ZIP magic, or refuses with a status that blames the client, never one
//! that blames the server.

use std::convert::Infallible;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};
use bytes::Bytes;
use registry_core::bundle::{MAX_BUNDLE_BYTES, check_magic};
use registry_http::multipart::read_zip_part;

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime starts");
}

/// One upload request, as described in the module documentation.
pub(crate) fn read(data: &[u8]) {
    let Some((&chunk_seed, rest)) = data.split_first() else {
        return;
    };
    let (content_type, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(end) => (&rest[..end], &rest[end + 1..]),
        None => (rest, &[][..]),
    };
    let Ok(content_type) = HeaderValue::from_bytes(content_type) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, content_type);
    let chunk = usize::from(chunk_seed % 64) + 1;
    let chunks: Vec<Result<Bytes, Infallible>> = body
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    let read = RUNTIME.with(|runtime| runtime.block_on(read_zip_part(&headers, body)));
    match read {
        Ok(file) => {
            assert!(file.bytes.len() <= MAX_BUNDLE_BYTES);
            assert!(
                check_magic(&file.bytes).is_ok(),
                "answered a file part that is not a ZIP: {:?}",
                &file.bytes[..file.bytes.len().min(8)]
            );
        }
        Err(refused) => assert!(
            refused.status().is_client_error(),
            "refused with {}",
            refused.status()
        ),
    }
}
