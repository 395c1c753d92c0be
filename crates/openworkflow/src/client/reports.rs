//! Reports of plugins.

use registry_core::api::moderation::{
    PluginReport, QuarantineRequest, QuarantineState, ReportList, ReportRequest,
    ResolveReportRequest,
};

use super::{ClientError, RegistryClient, Repeatable};

impl RegistryClient {
    /// `POST /plugins/{slug}/reports`: reports `slug` (or a version) to the admins.
    pub async fn report_plugin(
        &self,
        slug: &str,
        report: &ReportRequest,
    ) -> Result<PluginReport, ClientError> {
        let url = self.url_of(&["plugins", slug, "reports"]);
        let response = self
            .send(Repeatable::OnlyIfUnprocessed, || {
                self.http.post(url.clone()).json(report)
            })
            .await?;
        Self::json(&url, response).await
    }

    /// `GET /reports`: the open reports, or all of them (admins).
    pub async fn reports(&self, all: bool) -> Result<ReportList, ClientError> {
        let mut url = self.url_of(&["reports"]);
        if all {
            url.query_pairs_mut().append_pair("status", "all");
        }
        let response = self
            .send(Repeatable::Yes, || self.http.get(url.clone()))
            .await?;
        Self::json(&url, response).await
    }

    /// `PUT /plugins/{slug}/quarantine`: hides a plugin or a version (admins).
    pub async fn quarantine(
        &self,
        slug: &str,
        request: &QuarantineRequest,
    ) -> Result<QuarantineState, ClientError> {
        let url = self.url_of(&["plugins", slug, "quarantine"]);
        let response = self
            .send(Repeatable::Yes, || self.http.put(url.clone()).json(request))
            .await?;
        Self::json(&url, response).await
    }

    /// `DELETE /plugins/{slug}/quarantine`: shows it again (admins).
    pub async fn lift_quarantine(
        &self,
        slug: &str,
        version: Option<&str>,
    ) -> Result<QuarantineState, ClientError> {
        let mut url = self.url_of(&["plugins", slug, "quarantine"]);
        if let Some(version) = version {
            url.query_pairs_mut().append_pair("version", version);
        }
        let response = self
            .send(Repeatable::Yes, || self.http.delete(url.clone()))
            .await?;
        Self::json(&url, response).await
    }

    /// `POST /reports/{id}/resolve`: closes a report with `note` (admins).
    pub async fn resolve_report(&self, id: &str, note: &str) -> Result<PluginReport, ClientError> {
        let url = self.url_of(&["reports", id, "resolve"]);
        let body = ResolveReportRequest {
            note: note.to_owned(),
        };
        let response = self
            .send(Repeatable::OnlyIfUnprocessed, || {
                self.http.post(url.clone()).json(&body)
            })
            .await?;
        Self::json(&url, response).await
    }
}
