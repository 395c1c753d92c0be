//! Trusted publishing: `POST /auth/oidc/exchange` for CI jobs, and
//! `/plugins/{slug}/trusted-publishers` for the owners who register them.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use registry_core::api::trusted_publishing::{
    CiIdentity, ExchangeRequest, IssuedPublishToken, TrustedPublisherView, TrustedPublishing,
};
use registry_core::trusted_publishing::MAX_CI_TOKEN;

use crate::auth::MaybeCaller;
use crate::body::{parse_json, read_limited};
use crate::problem::ApiError;
use crate::request_id::CurrentRequest;
use crate::routes::json_response;
use crate::state::AppState;

const MAX_PUBLISHER_BODY: usize = 8 * 1024;
const MAX_EXCHANGE_BODY: usize = MAX_CI_TOKEN + 1024;

/// Exchanges a CI job's OIDC token (GitHub Actions, GitLab CI) for a publish
/// token that lives at most 15 minutes and publishes only the plugins that
/// trust that job's workflow.
#[utoipa::path(
    post,
    path = "/auth/oidc/exchange",
    request_body = ExchangeRequest,
    responses(
        (status = 200, description = "A publish token, shown once", body = IssuedPublishToken),
        (status = 400, description = "Not JSON"),
        (status = 401, description = "The CI token is malformed (`oidc_token_malformed`), from an issuer this registry does not trust (`oidc_token_issuer`), badly signed (`oidc_token_signature`), for another audience (`oidc_token_audience`), expired (`oidc_token_expired`), not yet valid (`oidc_token_not_yet_valid`) or already exchanged (`oidc_token_replayed`)"),
        (status = 403, description = "The workflow ran from a forbidden trigger such as `pull_request_target` (`forbidden_trigger`), or no plugin trusts it (`no_trusted_publisher`)"),
        (status = 404, description = "This registry has no trusted publishing (`trusted_publishing_unavailable`)"),
        (status = 413, description = "A body over 17 KiB"),
        (status = 415, description = "Not JSON"),
        (status = 422, description = "Not JSON of the form {\"token\": \"…\"} (`invalid_body`)"),
        (status = 503, description = "The token's issuer could not be reached for its keys (`oidc_issuer_unavailable`)"),
    ),
    tag = "trusted publishing"
)]
pub async fn exchange_ci_token(
    State(state): State<Arc<AppState>>,
    request: CurrentRequest,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_limited(&headers, body, MAX_EXCHANGE_BODY).await?;
    let exchange: ExchangeRequest = parse_json(&bytes)?;
    let issued = state
        .registry
        .exchange_ci_token(&exchange.token, request.0)
        .await?;
    Ok(json_response(StatusCode::OK, &issued, true))
}

/// A plugin's trusted publishers and its lock: its owners (and admins) see every
/// one; for a plugin not made yet, the caller's own pending ones.
#[utoipa::path(
    get,
    path = "/plugins/{slug}/trusted-publishers",
    params(("slug" = String, Path, description = "The plugin")),
    responses(
        (status = 200, description = "The publishers, and whether API keys are locked out", body = TrustedPublishing),
        (status = 401, description = "No key"),
        (status = 403, description = "Not an owner of the plugin"),
        (status = 404, description = "Not a slug, or no trusted publishing here"),
    ),
    security(("api_key" = [])),
    tag = "trusted publishing"
)]
pub async fn list_trusted_publishers(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(slug): Path<String>,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let publishing = state.registry.trusted_publishers(caller, &slug).await?;
    Ok(json_response(StatusCode::OK, &publishing, true))
}

/// Locks a plugin to trusted publishing (an owner): API keys then get 403
/// `trusted_publishing_required`. Lifting it needs a fresh sign-in in the
/// browser (the account page), never a key.
#[utoipa::path(
    put,
    path = "/plugins/{slug}/trusted-publishing-lock",
    params(("slug" = String, Path, description = "The plugin")),
    responses(
        (status = 200, description = "Locked (or already locked)", body = TrustedPublishing),
        (status = 401, description = "No key"),
        (status = 403, description = "Not an owner of the plugin, or a key without `publish` or limited to other plugins"),
        (status = 404, description = "No such plugin, or no trusted publishing here"),
        (status = 409, description = "No CI workflow may publish the plugin yet (`lock_needs_publisher`)"),
    ),
    security(("api_key" = [])),
    tag = "trusted publishing"
)]
pub async fn lock_to_trusted_publishing(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(slug): Path<String>,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let publishing = state
        .registry
        .lock_to_trusted_publishing(caller, &slug)
        .await?;
    Ok(json_response(StatusCode::OK, &publishing, true))
}

/// Registers a CI workflow that may publish the plugin: an owner for a plugin
/// that exists; for a slug nobody has taken, anyone with the `publish` scope (a
/// pending publisher: its first release creates the plugin, owned by them).
#[utoipa::path(
    post,
    path = "/plugins/{slug}/trusted-publishers",
    params(("slug" = String, Path, description = "The plugin, or a slug not taken yet")),
    request_body = CiIdentity,
    responses(
        (status = 201, description = "Registered", body = TrustedPublisherView),
        (status = 400, description = "Not JSON"),
        (status = 401, description = "No key"),
        (status = 403, description = "Not an owner of the plugin, or a key without `publish` or limited to other plugins"),
        (status = 404, description = "No trusted publishing here"),
        (status = 409, description = "The plugin trusts this workflow already (`trusted_publisher_exists`), or the slug is confusable with another plugin's (`slug_confusable`)"),
        (status = 413, description = "A body over 8 KiB"),
        (status = 415, description = "Not JSON"),
        (status = 422, description = "A field that is not valid: ids must be numeric, the workflow a file name; or a reserved slug, or 20 publishers already"),
    ),
    security(("api_key" = [])),
    tag = "trusted publishing"
)]
pub async fn add_trusted_publisher(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let bytes = read_limited(&headers, body, MAX_PUBLISHER_BODY).await?;
    let ci: CiIdentity = parse_json(&bytes)?;
    let publisher = state
        .registry
        .add_trusted_publisher(caller, &slug, ci)
        .await?;
    Ok(json_response(StatusCode::CREATED, &publisher, true))
}

/// Removes a trusted publisher: an owner (or admin), or the registrant of a
/// pending one. Publish tokens already issued through it stop publishing.
#[utoipa::path(
    delete,
    path = "/plugins/{slug}/trusted-publishers/{publisher_id}",
    params(
        ("slug" = String, Path, description = "The plugin"),
        ("publisher_id" = String, Path, description = "The publisher (`tp_…`)"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No key"),
        (status = 403, description = "Not an owner of the plugin"),
        (status = 404, description = "No such publisher of the plugin (`trusted_publisher_not_found`)"),
    ),
    security(("api_key" = [])),
    tag = "trusted publishing"
)]
pub async fn remove_trusted_publisher(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path((slug, publisher_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    state
        .registry
        .remove_trusted_publisher(caller, &slug, &publisher_id)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
