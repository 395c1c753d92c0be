//! A plugin's usage analytics.

use registry_core::api::analytics::{Granularity, PluginAnalytics};

use super::{ClientError, RegistryClient, Repeatable};

impl RegistryClient {
    /// `GET /plugins/{slug}/analytics`: downloads from `from` to `to` (days as
    /// `YYYY-MM-DD`; the server's defaults when absent), grouped by `granularity`.
    pub async fn plugin_analytics(
        &self,
        slug: &str,
        from: Option<&str>,
        to: Option<&str>,
        granularity: Granularity,
    ) -> Result<PluginAnalytics, ClientError> {
        let mut url = self.url_of(&["plugins", slug, "analytics"]);
        {
            let mut query = url.query_pairs_mut();
            if let Some(from) = from {
                query.append_pair("from", from);
            }
            if let Some(to) = to {
                query.append_pair("to", to);
            }
            query.append_pair("granularity", granularity.as_str());
        }
        let response = self
            .send(Repeatable::Yes, || self.http.get(url.clone()))
            .await?;
        Self::json(&url, response).await
    }
}
