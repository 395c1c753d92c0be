//! Versions held for review.

use registry_core::api::reviews::{ReviewDecisionRequest, ReviewList, ReviewOutcome, ReviewView};

use super::{ClientError, RegistryClient, Repeatable};

impl RegistryClient {
    /// `GET /reviews`: every pending review (reviewers), or one plugin's pending
    /// and rejected ones (its owners too).
    pub async fn reviews(&self, plugin: Option<&str>) -> Result<ReviewList, ClientError> {
        let mut url = self.url_of(&["reviews"]);
        if let Some(plugin) = plugin {
            url.query_pairs_mut().append_pair("plugin", plugin);
        }
        let response = self
            .send(Repeatable::Yes, || self.http.get(url.clone()))
            .await?;
        Self::json(&url, response).await
    }

    /// `GET /reviews/{id}`.
    pub async fn review(&self, id: &str) -> Result<ReviewView, ClientError> {
        let url = self.url_of(&["reviews", id]);
        let response = self
            .send(Repeatable::Yes, || self.http.get(url.clone()))
            .await?;
        Self::json(&url, response).await
    }

    /// `POST /reviews/{id}/approve` or `.../reject` (reviewers).
    pub async fn decide_review(
        &self,
        id: &str,
        approve: bool,
        comment: Option<&str>,
    ) -> Result<ReviewOutcome, ClientError> {
        let verb = if approve { "approve" } else { "reject" };
        let url = self.url_of(&["reviews", id, verb]);
        let body = ReviewDecisionRequest {
            comment: comment.map(str::to_owned),
        };
        let response = self
            .send(Repeatable::OnlyIfUnprocessed, || {
                self.http.post(url.clone()).json(&body)
            })
            .await?;
        Self::json(&url, response).await
    }
}
