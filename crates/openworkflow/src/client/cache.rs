//! The on-disk HTTP cache: bodies with their ETags, revalidated by conditional GET.

use std::path::PathBuf;

use bytes::Bytes;
use url::Url;

use super::sha256_hex;

/// Downloaded documents kept on disk with their ETags, so a repeated download is a
/// conditional GET answered by 304.
#[derive(Debug, Clone)]
pub(crate) struct HttpCache {
    pub(crate) dir: PathBuf,
}

impl HttpCache {
    fn paths(&self, url: &Url) -> (PathBuf, PathBuf) {
        let name = sha256_hex(url.as_str().as_bytes());
        (
            self.dir.join(format!("{name}.body")),
            self.dir.join(format!("{name}.etag")),
        )
    }

    pub(crate) fn load(&self, url: &Url) -> Option<(String, Bytes)> {
        let (body, etag) = self.paths(url);
        let etag = std::fs::read_to_string(etag).ok()?;
        let body = std::fs::read(body).ok()?;
        Some((etag, Bytes::from(body)))
    }

    pub(crate) fn store(&self, url: &Url, etag: &str, body: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let (body_path, etag_path) = self.paths(url);
        // Body first: an ETag beside a stale body would make a wrong copy current.
        let _ = std::fs::remove_file(&etag_path);
        std::fs::write(&body_path, body)?;
        std::fs::write(etag_path, etag)
    }
}
