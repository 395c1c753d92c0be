//! Webhook subscriptions and their delivery log.

use registry_core::api::webhooks::{
    CreatedWebhook, DeliveryList, DeliveryView, NewWebhook, WebhookList,
};

use super::{ClientError, RegistryClient, Repeatable};

impl RegistryClient {
    /// `POST /webhooks`: a new subscription, with its signing secret.
    pub async fn add_webhook(&self, request: &NewWebhook) -> Result<CreatedWebhook, ClientError> {
        let url = self.url_of(&["webhooks"]);
        let response = self
            .send(Repeatable::OnlyIfUnprocessed, || {
                self.http.post(url.clone()).json(request)
            })
            .await?;
        Self::json(&url, response).await
    }

    /// `GET /webhooks`: a plugin's, an org's or (neither) the registry's subscriptions.
    pub async fn webhooks(
        &self,
        plugin: Option<&str>,
        org: Option<&str>,
    ) -> Result<WebhookList, ClientError> {
        let mut url = self.url_of(&["webhooks"]);
        if let Some(plugin) = plugin {
            url.query_pairs_mut().append_pair("plugin", plugin);
        }
        if let Some(org) = org {
            url.query_pairs_mut().append_pair("org", org);
        }
        let response = self
            .send(Repeatable::Yes, || self.http.get(url.clone()))
            .await?;
        Self::json(&url, response).await
    }

    /// `DELETE /webhooks/{id}`.
    pub async fn remove_webhook(&self, id: &str) -> Result<(), ClientError> {
        let url = self.url_of(&["webhooks", id]);
        self.send(Repeatable::Yes, || self.http.delete(url.clone()))
            .await?;
        Ok(())
    }

    /// `GET /webhooks/{id}/deliveries`: the delivery log, newest first.
    pub async fn webhook_deliveries(&self, id: &str) -> Result<DeliveryList, ClientError> {
        let url = self.url_of(&["webhooks", id, "deliveries"]);
        let response = self
            .send(Repeatable::Yes, || self.http.get(url.clone()))
            .await?;
        Self::json(&url, response).await
    }

    /// `POST /webhooks/{id}/deliveries/{delivery}/redeliver`: the new delivery.
    pub async fn redeliver(&self, id: &str, delivery: &str) -> Result<DeliveryView, ClientError> {
        let url = self.url_of(&["webhooks", id, "deliveries", delivery, "redeliver"]);
        let response = self
            .send(Repeatable::OnlyIfUnprocessed, || {
                self.http.post(url.clone())
            })
            .await?;
        Self::json(&url, response).await
    }
}
