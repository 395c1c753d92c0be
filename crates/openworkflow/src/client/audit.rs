//! The audit log.

use registry_core::api::audit::AuditLog;

use super::{ClientError, RegistryClient, Repeatable};

impl RegistryClient {
    /// A page of the audit log, newest first: `GET /plugins/{slug}/audit` for
    /// one plugin, `GET /audit` (admins) for all of it; older than `before`,
    /// at most `limit` records.
    pub async fn audit(
        &self,
        slug: Option<&str>,
        before: Option<&str>,
        limit: Option<usize>,
    ) -> Result<AuditLog, ClientError> {
        let mut url = match slug {
            Some(slug) => self.url_of(&["plugins", slug, "audit"]),
            None => self.url_of(&["audit"]),
        };
        if let Some(before) = before {
            url.query_pairs_mut().append_pair("before", before);
        }
        if let Some(limit) = limit {
            url.query_pairs_mut()
                .append_pair("limit", &limit.to_string());
        }
        let response = self
            .send(Repeatable::Yes, || self.http.get(url.clone()))
            .await?;
        Self::json(&url, response).await
    }
}
