//! Telling what follows the catalog (the static index) that a plugin changed.
//!
//! On AWS the DynamoDB stream plays this part and no listener is set; the local
//! server sets one so its index is rebuilt in-process right after each write.

use async_trait::async_trait;

use super::Registry;
use crate::slug::Slug;
use crate::store::BackendError;
use crate::version::PluginVersion;

/// Told of every committed change to a plugin.
#[async_trait]
pub trait ChangeListener: Send + Sync {
    /// Brings what follows the catalog up to date with `slug`; returns the ETag of
    /// `version`'s details document as it now stands, when one was asked for.
    async fn plugin_changed(
        &self,
        slug: &Slug,
        version: Option<&PluginVersion>,
    ) -> Result<Option<String>, BackendError>;
}

impl Registry {
    /// Tells the listener, if any, that `slug` changed. The catalog write has
    /// already succeeded, so a failure here is logged, never returned: the index
    /// catches up at the plugin's next change or at a rebuild.
    pub(super) async fn notify_changed(
        &self,
        slug: &Slug,
        version: Option<&PluginVersion>,
    ) -> Option<String> {
        let listener = self.listener.as_ref()?;
        match listener.plugin_changed(slug, version).await {
            Ok(etag) => etag,
            Err(error) => {
                tracing::error!(%slug, error = &*error as &dyn std::error::Error, "index update failed; it catches up at the next change or rebuild");
                None
            }
        }
    }
}
