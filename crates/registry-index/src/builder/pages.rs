//! The web catalog's shared files: the stylesheet, the script and the not-found
//! page (signed in the config bin, rewritten only by a rebuild), and the home
//! page, rewritten from every plugin's search entry after each change.
//!
//! The home page stays outside the signed chain: it summarises the whole
//! registry, so every update rewrites it, and two updates of different shards
//! would otherwise race on one signed list. It is written last, after the
//! timestamp, with a conditional write from entries read after the write's
//! condition was taken, so whichever update writes it last saw every change
//! committed before it.

use registry_core::search::SearchHit;
use registry_core::store::{Conflict, StorageError};
use registry_pages::{HomeSummary, home_page, not_found_page, site_assets};

use crate::path::{AssetName, HTML_CONTENT_TYPE, IndexPath};
use crate::render::RenderedFile;
use crate::store::{Fetched, WriteCondition, get_path_uncached, object_at, put_path};

use super::{CAS_ATTEMPTS, ChangeReport, IndexBuilder, IndexError, format_error};

impl IndexBuilder {
    /// The stylesheet, the script and the not-found page; none without pages.
    pub(super) fn site_files(&self) -> Result<Vec<RenderedFile>, IndexError> {
        let Some(site) = &self.site else {
            return Ok(Vec::new());
        };
        let mut files = Vec::with_capacity(3);
        for asset in site_assets() {
            let path = AssetName::parse(&asset.name)
                .map(IndexPath::Asset)
                .ok_or_else(|| IndexError::Format {
                    path: asset.key(),
                    detail: "not a plain asset name".to_owned(),
                })?;
            files.push(RenderedFile::bytes(
                path,
                asset.bytes.to_vec(),
                asset.content_type,
                200,
            ));
        }
        let not_found =
            not_found_page(site).map_err(|e| format_error(&IndexPath::NotFoundPage, e))?;
        files.push(RenderedFile::bytes(
            IndexPath::NotFoundPage,
            not_found.into_bytes(),
            HTML_CONTENT_TYPE,
            404,
        ));
        Ok(files)
    }

    /// The home page of `hits`, every plugin's search entry; `None` without pages.
    pub(super) fn home_page_bytes<'h>(
        &self,
        hits: impl IntoIterator<Item = &'h SearchHit>,
    ) -> Result<Option<Vec<u8>>, IndexError> {
        let Some(site) = &self.site else {
            return Ok(None);
        };
        let html = home_page(site, &HomeSummary::of(hits))
            .map_err(|e| format_error(&IndexPath::HomePage, e))?;
        Ok(Some(html.into_bytes()))
    }

    /// Writes the home page `bytes` ([`IndexBuilder::home_page_bytes`] of every
    /// entry, which a full rebuild holds) unless it already has them.
    pub(super) async fn write_home_page(
        &self,
        bytes: Option<Vec<u8>>,
        report: &mut ChangeReport,
    ) -> Result<(), IndexError> {
        let Some(bytes) = bytes else {
            return Ok(());
        };
        let path = IndexPath::HomePage;
        if let Fetched::Found { object, .. } =
            get_path_uncached(self.index.as_ref(), &path, None).await?
            && object.bytes.as_ref() == bytes.as_slice()
        {
            return Ok(());
        }
        let size = bytes.len();
        let object = object_at(&path, bytes, HTML_CONTENT_TYPE, 200);
        put_path(self.index.as_ref(), &path, &object, &WriteCondition::Always).await?;
        report.wrote(&path, size);
        Ok(())
    }

    /// Rewrites the home page from the search entries as they are now, after an
    /// update committed its timestamp.
    pub(super) async fn update_home_page(
        &self,
        report: &mut ChangeReport,
    ) -> Result<(), IndexError> {
        let Some(entries) = &self.entries else {
            return Ok(());
        };
        let path = IndexPath::HomePage;
        for _ in 0..CAS_ATTEMPTS {
            // The condition first, the entries second: a writer that read older
            // entries took its condition earlier, and loses to this one.
            let (stored, etag) = match get_path_uncached(self.index.as_ref(), &path, None).await? {
                Fetched::Found { object, etag } => (Some(object.bytes), Some(etag)),
                Fetched::Missing | Fetched::NotModified => (None, None),
            };
            let index = entries.current_index().await?;
            let Some(bytes) = self.home_page_bytes(index.hits())? else {
                return Ok(());
            };
            if stored.as_deref() == Some(bytes.as_slice()) {
                return Ok(());
            }
            let size = bytes.len();
            let object = object_at(&path, bytes, HTML_CONTENT_TYPE, 200);
            match put_path(
                self.index.as_ref(),
                &path,
                &object,
                &WriteCondition::unchanged_since(etag.as_deref()),
            )
            .await
            {
                Ok(_) => {
                    report.wrote(&path, size);
                    return Ok(());
                }
                Err(StorageError::Conflict(Conflict::RevisionChanged)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(IndexError::Contended(path.relative()))
    }
}
