//! Webhook subscriptions and their delivery log: `POST|GET /webhooks`,
//! `GET|DELETE /webhooks/{webhook_id}`, `GET /webhooks/{webhook_id}/deliveries`
//! and `POST /webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver`. A
//! subscription names its scope (a plugin, an org, or neither for the whole
//! registry); only those who manage that scope see it.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use registry_core::api::webhooks::{
    CreatedWebhook, DeliveryList, DeliveryView, NewWebhook, WebhookList, WebhookView,
};
use serde::Deserialize;

use crate::auth::MaybeCaller;
use crate::body::{media_type, parse_json, read_limited};
use crate::problem::ApiError;
use crate::routes::{json_response, query};
use crate::state::AppState;

const MAX_WEBHOOK_BODY: usize = 8 * 1024;

/// Whose subscriptions to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct WebhookScopeParams {
    /// A plugin's subscriptions (its owners and admins).
    plugin: Option<String>,
    /// An org catalog's subscriptions (its reviewers and platform admins).
    org: Option<String>,
}

/// Subscribes a URL to events: of a plugin (its owners), an org catalog (its
/// reviewers) or, naming neither, the whole registry (admins). The answer
/// carries the signing secret, shown this once.
#[utoipa::path(
    post,
    path = "/webhooks",
    request_body = NewWebhook,
    responses(
        (status = 201, description = "Subscribed; `secret` signs every delivery", body = CreatedWebhook),
        (status = 400, description = "Not JSON"),
        (status = 401, description = "No key or session"),
        (status = 403, description = "Not an owner of the plugin, not a reviewer of the org, or (for the registry) not an admin"),
        (status = 404, description = "No such plugin or org, or no webhooks here (`webhooks_unavailable`)"),
        (status = 409, description = "The scope has 20 subscriptions already (`too_many_webhooks`)"),
        (status = 413, description = "A body over 8 KiB"),
        (status = 415, description = "A body that is not `application/json`"),
        (status = 422, description = "A URL that is not http(s), names a private, loopback or metadata address, or does not resolve; an unknown event; no event"),
    ),
    security(("api_key" = [])),
    tag = "webhooks"
)]
pub async fn create_webhook(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    if media_type(&headers).is_some_and(|t| t != "application/json") {
        return Err(ApiError::unsupported_media_type(
            "send the subscription as application/json",
        ));
    }
    let bytes = read_limited(&headers, body, MAX_WEBHOOK_BODY).await?;
    let request: NewWebhook = parse_json(&bytes)?;
    let created = state.registry.add_webhook(Some(caller), &request).await?;
    Ok(json_response(StatusCode::CREATED, &created, true))
}

/// The subscriptions of a plugin, an org catalog or (naming neither) the registry.
#[utoipa::path(
    get,
    path = "/webhooks",
    params(WebhookScopeParams),
    responses(
        (status = 200, description = "The subscriptions, oldest first, without their secrets", body = WebhookList),
        (status = 400, description = "Both a plugin and an org, or an unknown parameter"),
        (status = 401, description = "No key or session"),
        (status = 403, description = "Not one who manages that scope"),
        (status = 404, description = "No such plugin or org"),
        (status = 422, description = "Both `plugin` and `org`"),
    ),
    security(("api_key" = [])),
    tag = "webhooks"
)]
pub async fn list_webhooks(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    params: Result<Query<WebhookScopeParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let params = query(params)?;
    let list = state
        .registry
        .list_webhooks(
            Some(caller),
            params.plugin.as_deref(),
            params.org.as_deref(),
        )
        .await?;
    Ok(json_response(StatusCode::OK, &list, true))
}

/// One subscription.
#[utoipa::path(
    get,
    path = "/webhooks/{webhook_id}",
    params(("webhook_id" = String, Path, description = "The subscription (`whk_…`)")),
    responses(
        (status = 200, description = "The subscription", body = WebhookView),
        (status = 401, description = "No key or session"),
        (status = 404, description = "No such subscription that the caller manages (`webhook_not_found`)"),
    ),
    security(("api_key" = [])),
    tag = "webhooks"
)]
pub async fn get_webhook(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let webhook = state.registry.webhook(Some(caller), &id).await?;
    Ok(json_response(StatusCode::OK, &webhook, true))
}

/// Removes a subscription, with its deliveries still pending; the log of its
/// finished deliveries ages out.
#[utoipa::path(
    delete,
    path = "/webhooks/{webhook_id}",
    params(("webhook_id" = String, Path, description = "The subscription (`whk_…`)")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No key or session"),
        (status = 404, description = "No such subscription that the caller manages (`webhook_not_found`)"),
    ),
    security(("api_key" = [])),
    tag = "webhooks"
)]
pub async fn delete_webhook(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    state.registry.remove_webhook(Some(caller), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A subscription's deliveries of the last 30 days, newest first, each with its
/// attempts.
#[utoipa::path(
    get,
    path = "/webhooks/{webhook_id}/deliveries",
    params(("webhook_id" = String, Path, description = "The subscription (`whk_…`)")),
    responses(
        (status = 200, description = "The delivery log", body = DeliveryList),
        (status = 401, description = "No key or session"),
        (status = 404, description = "No such subscription that the caller manages (`webhook_not_found`)"),
    ),
    security(("api_key" = [])),
    tag = "webhooks"
)]
pub async fn list_deliveries(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let deliveries = state.registry.webhook_deliveries(Some(caller), &id).await?;
    Ok(json_response(StatusCode::OK, &deliveries, true))
}

/// Sends a delivery's event again: a new delivery, due at once, with the same
/// event id (`webhook-id`), retried like any other.
#[utoipa::path(
    post,
    path = "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    params(
        ("webhook_id" = String, Path, description = "The subscription (`whk_…`)"),
        ("delivery_id" = String, Path, description = "The delivery to send again (`dlv_…`)"),
    ),
    responses(
        (status = 202, description = "Queued: the new delivery", body = DeliveryView),
        (status = 401, description = "No key or session"),
        (status = 404, description = "No such subscription that the caller manages (`webhook_not_found`), or no such delivery of it (`delivery_not_found`)"),
    ),
    security(("api_key" = [])),
    tag = "webhooks"
)]
pub async fn redeliver(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let again = state
        .registry
        .redeliver(Some(caller), &id, &delivery)
        .await?;
    Ok(json_response(StatusCode::ACCEPTED, &again, true))
}
