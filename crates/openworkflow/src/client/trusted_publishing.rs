//! Trusted publishing: a plugin's trusted publishers, and the exchange of a CI
//! job's OIDC token for a publish token.

use registry_core::api::trusted_publishing::{
    CiIdentity, ExchangeRequest, IssuedPublishToken, TrustedPublisherView, TrustedPublishing,
};

use super::{ApiKey, ClientError, RegistryClient, Repeatable};

impl RegistryClient {
    /// The same client, sending `key` from now on (a publish token after an
    /// exchange).
    #[must_use]
    pub fn with_key(mut self, key: ApiKey) -> Self {
        self.key = Some(key);
        self
    }

    /// `GET /plugins/{slug}/trusted-publishers`: the publishers and the lock.
    pub async fn trusted_publishers(&self, slug: &str) -> Result<TrustedPublishing, ClientError> {
        let url = self.url_of(&["plugins", slug, "trusted-publishers"]);
        let response = self
            .send(Repeatable::Yes, || self.http.get(url.clone()))
            .await?;
        Self::json(&url, response).await
    }

    /// `POST /plugins/{slug}/trusted-publishers`: trusts a CI workflow to publish
    /// `slug` (a pending publisher when `slug` does not exist yet).
    pub async fn add_trusted_publisher(
        &self,
        slug: &str,
        ci: &CiIdentity,
    ) -> Result<TrustedPublisherView, ClientError> {
        let url = self.url_of(&["plugins", slug, "trusted-publishers"]);
        let response = self
            .send(Repeatable::OnlyIfUnprocessed, || {
                self.http.post(url.clone()).json(ci)
            })
            .await?;
        Self::json(&url, response).await
    }

    /// `PUT /plugins/{slug}/trusted-publishing-lock`: API keys may no longer
    /// publish `slug`.
    pub async fn lock_to_trusted_publishing(
        &self,
        slug: &str,
    ) -> Result<TrustedPublishing, ClientError> {
        let url = self.url_of(&["plugins", slug, "trusted-publishing-lock"]);
        let response = self
            .send(Repeatable::Yes, || self.http.put(url.clone()))
            .await?;
        Self::json(&url, response).await
    }

    /// `DELETE /plugins/{slug}/trusted-publishers/{id}`.
    pub async fn remove_trusted_publisher(&self, slug: &str, id: &str) -> Result<(), ClientError> {
        let url = self.url_of(&["plugins", slug, "trusted-publishers", id]);
        self.send(Repeatable::Yes, || self.http.delete(url.clone()))
            .await?;
        Ok(())
    }

    /// `POST /auth/oidc/exchange` (at `exchange_url`, which must be on this
    /// registry): a publish token for a CI job's OIDC token.
    pub async fn exchange_ci_token(
        &self,
        exchange_url: &str,
        token: &str,
    ) -> Result<IssuedPublishToken, ClientError> {
        let url = url::Url::parse(exchange_url).map_err(|e| ClientError::UnexpectedResponse {
            url: exchange_url.to_owned(),
            detail: format!("the exchange URL is not a URL: {e}"),
        })?;
        // A CI token goes to the registry it names as audience, nowhere else.
        if url.origin() != self.base.origin() {
            return Err(ClientError::UnexpectedResponse {
                url: exchange_url.to_owned(),
                detail: format!(
                    "the registry's config.json names an exchange URL on another origin than {}",
                    self.registry_url()
                ),
            });
        }
        let body = ExchangeRequest {
            token: token.to_owned(),
        };
        // A CI token is accepted once: an exchange whose answer was lost is not repeated.
        let response = self
            .send(Repeatable::OnlyIfUnprocessed, || {
                self.http.post(url.clone()).json(&body)
            })
            .await?;
        Self::json(&url, response).await
    }
}
