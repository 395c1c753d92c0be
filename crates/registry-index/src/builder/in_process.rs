//! The self-hosted server's indexer: the index updated in process after each write.

use std::sync::Arc;

use registry_core::registry::ChangeListener;
use registry_core::slug::Slug;
use registry_core::store::BackendError;
use registry_core::version::PluginVersion;

use crate::path::IndexPath;
use crate::store::{Fetched, get_path};

use super::IndexBuilder;

/// The local server's listener: updates the index right after each catalog write.
/// Updates are serialised, so the directory store sees one writer.
pub struct InProcessIndexer {
    builder: Arc<IndexBuilder>,
    serial: tokio::sync::Mutex<()>,
}

impl InProcessIndexer {
    /// A listener driving `builder`.
    pub fn new(builder: Arc<IndexBuilder>) -> Self {
        Self {
            builder,
            serial: tokio::sync::Mutex::new(()),
        }
    }
}

#[async_trait::async_trait]
impl ChangeListener for InProcessIndexer {
    async fn plugin_changed(
        &self,
        slug: &Slug,
        version: Option<&PluginVersion>,
    ) -> Result<Option<String>, BackendError> {
        let _one_at_a_time = self.serial.lock().await;
        self.builder
            .update_plugins(std::slice::from_ref(slug))
            .await
            .map_err(|e| Box::new(e) as BackendError)?;
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
