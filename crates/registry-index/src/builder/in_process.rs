//! The self-hosted server's indexer: the index updated in process after each write.

use std::sync::Arc;

use registry_core::registry::ChangeListener;
use registry_core::slug::Slug;
use registry_core::store::{BackendError, ChangeJournal};
use registry_core::version::PluginVersion;

use crate::path::IndexPath;
use crate::store::{Fetched, get_path};

use super::IndexBuilder;

/// The local server's listener: updates the index right after each catalog write.
/// Updates are serialised, so the directory store sees one writer.
///
/// With a change journal, each update drains the journal (the write just made is
/// in it, committed with the catalog row), so what an earlier failure or crash
/// left undone is finished too; without one, only the plugin named is updated.
pub struct InProcessIndexer {
    builder: Arc<IndexBuilder>,
    journal: Option<Arc<dyn ChangeJournal>>,
    serial: tokio::sync::Mutex<()>,
}

impl InProcessIndexer {
    /// A listener driving `builder`, draining `journal` when the catalog keeps one.
    pub fn new(builder: Arc<IndexBuilder>, journal: Option<Arc<dyn ChangeJournal>>) -> Self {
        Self {
            builder,
            journal,
            serial: tokio::sync::Mutex::new(()),
        }
    }

    /// Applies whatever the journal holds (at start, what a crash left); a no-op
    /// without a journal.
    pub async fn catch_up(&self) -> Result<(), BackendError> {
        let _one_at_a_time = self.serial.lock().await;
        if let Some(journal) = &self.journal {
            let report = self
                .builder
                .apply_journal(journal.as_ref())
                .await
                .map_err(|e| Box::new(e) as BackendError)?;
            if report.plugins > 0 {
                tracing::info!(
                    plugins = report.plugins,
                    files = report.written.len(),
                    "applied the change journal"
                );
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl ChangeListener for InProcessIndexer {
    async fn plugin_changed(
        &self,
        slug: &Slug,
        version: Option<&PluginVersion>,
    ) -> Result<Option<String>, BackendError> {
        {
            let _one_at_a_time = self.serial.lock().await;
            match &self.journal {
                Some(journal) => self.builder.apply_journal(journal.as_ref()).await,
                None => {
                    self.builder
                        .update_plugins(std::slice::from_ref(slug))
                        .await
                }
            }
            .map_err(|e| Box::new(e) as BackendError)?;
        }
        let Some(version) = version else {
            return Ok(None);
        };
        let path = IndexPath::VersionDetails(slug.clone(), version.clone());
        match get_path(self.builder.index.as_ref(), &path, None).await {
            Ok(Fetched::Found { etag, .. }) => Ok(Some(etag)),
            Ok(_) => Ok(None),
            Err(e) => Err(Box::new(e)),
        }
    }
}
