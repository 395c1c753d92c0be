//! The CLI's sign-in from a terminal: `POST /auth/device` and
//! `POST /auth/device/token` for the CLI (JSON), `GET /device` and
//! `POST /device` for the person confirming it in a browser.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use registry_core::api::device::{
    DeviceAuthorizationRequest, DeviceAuthorizationResponse, DeviceTokenRequest,
};
use registry_core::api::keys::CreatedKeyResponse;
use registry_core::registry::SessionCaller;
use registry_pages::{DeviceView, Site};
use serde::Deserialize;

use crate::body::{parse_json, read_limited};
use crate::problem::ApiError;
use crate::request_id::CurrentRequest;
use crate::routes::json_response;
use crate::routes::plugins::search::page_failed;
use crate::session::{BrowserSession, SignedInForm, browser_answer, personal_page, sign_in_first};
use crate::state::AppState;

const MAX_DEVICE_BODY: usize = 4 * 1024;

/// Begins a device sign-in: codes for the CLI to show and poll with.
#[utoipa::path(
    post,
    path = "/auth/device",
    request_body(content = Option<DeviceAuthorizationRequest>, description = "Optional: the key's name"),
    responses(
        (status = 200, description = "Show `user_code` and `verification_uri`, then poll `POST /auth/device/token` every `interval` seconds", body = DeviceAuthorizationResponse),
        (status = 404, description = "This registry has no sign-in provider (`sign_in_unavailable`): use an API key"),
        (status = 422, description = "A key name that is too long or not printable"),
    ),
    tag = "sign-in"
)]
pub async fn start_device_sign_in(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_limited(&headers, body, MAX_DEVICE_BODY).await?;
    let request: DeviceAuthorizationRequest = if bytes.iter().all(u8::is_ascii_whitespace) {
        DeviceAuthorizationRequest::default()
    } else {
        parse_json(&bytes)?
    };
    let started = state
        .registry
        .start_device_sign_in(request.key_name.as_deref())
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &DeviceAuthorizationResponse {
            device_code: started.device_code.expose().to_owned(),
            user_code: started.user_code.to_string(),
            verification_uri: started.verification_uri,
            verification_uri_complete: started.verification_uri_complete,
            expires_in: started.expires_in,
            interval: started.interval,
        },
        true,
    ))
}

/// The CLI's poll: its new key once the person confirmed.
#[utoipa::path(
    post,
    path = "/auth/device/token",
    request_body = DeviceTokenRequest,
    responses(
        (status = 200, description = "Confirmed: the new key, shown this once", body = CreatedKeyResponse),
        (status = 400, description = "Not yet or never, as RFC 8628 says: `authorization_pending` (poll again after `interval`), `slow_down` (add five seconds to it), `expired_token`, `access_denied`, `invalid_grant` (unknown or used device code)"),
        (status = 422, description = "A JSON body of another shape than `{\"device_code\": \"…\"}`"),
        (status = 404, description = "This registry has no sign-in provider (`sign_in_unavailable`)"),
    ),
    tag = "sign-in"
)]
pub async fn poll_device_sign_in(
    State(state): State<Arc<AppState>>,
    CurrentRequest(request_id): CurrentRequest,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_limited(&headers, body, MAX_DEVICE_BODY).await?;
    let request: DeviceTokenRequest = parse_json(&bytes)?;
    let created = state
        .registry
        .poll_device_grant(&request.device_code, request_id)
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &CreatedKeyResponse {
            key: created.secret.expose().to_owned(),
            info: created.info,
        },
        true,
    ))
}

/// The code a device sign-in page was opened with.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DeviceParams {
    /// The code the CLI shows (`BCDF-GHJK`).
    user_code: Option<String>,
}

/// The page a person confirms a device sign-in on.
#[utoipa::path(
    get,
    path = "/device",
    params(DeviceParams),
    responses(
        (status = 200, description = "The confirmation page", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page, returning here"),
    ),
    tag = "sign-in"
)]
pub async fn device_page(
    State(state): State<Arc<AppState>>,
    session: BrowserSession,
    headers: HeaderMap,
    params: Result<Query<DeviceParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let result = async {
        let Query(params) =
            params.map_err(|e| ApiError::bad_request("invalid_parameter", e.body_text()))?;
        let site = Site::new(&state.registry.config().public_url);
        let Some(session) = session.0 else {
            let mut here = "/device".to_owned();
            if let Some(code) = &params.user_code {
                here.push_str("?user_code=");
                here.push_str(code);
            }
            return Ok(sign_in_first(&site, &here));
        };
        let raw = params.user_code.unwrap_or_default();
        let (key_name, error) = if raw.is_empty() {
            (None, None)
        } else {
            match state.registry.pending_device_grant(&raw).await {
                Ok(grant) => (Some(grant.key_name), None),
                Err(e) => (None, Some(ApiError::from(e).detail().to_owned())),
            }
        };
        render(
            &state,
            &session,
            StatusCode::OK,
            &raw,
            key_name.as_deref(),
            None,
            error.as_deref(),
        )
    }
    .await;
    browser_answer(&state, &headers, result)
}

/// Confirms (or refuses) a device sign-in.
#[utoipa::path(
    post,
    path = "/device",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`, `user_code` and `decision` (`approve` or `deny`)"),
    responses(
        (status = 200, description = "Decided: the page says to go back to the terminal", content_type = "text/html"),
        (status = 415, description = "Not a form"),
        (status = 422, description = "No device waits for that code: the page says so", content_type = "text/html"),
    ),
    security(("session" = [])),
    tag = "sign-in"
)]
pub async fn decide_device_sign_in(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    SignedInForm { session, form }: SignedInForm,
) -> Response {
    let result = async {
        let raw = form.first("user_code").unwrap_or_default();
        let approve = match form.first("decision") {
            Some("approve") => true,
            Some("deny") => false,
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_parameter",
                    "decision must be approve or deny",
                ));
            }
        };
        match state.registry.decide_device_grant(&session, raw, approve).await {
            Ok(grant) => {
                let outcome = if approve {
                    format!("Approved. Your terminal now has a key named \u{201c}{}\u{201d}; you can close this page.", grant.key_name)
                } else {
                    "Refused. The terminal gets no key.".to_owned()
                };
                render(&state, &session, StatusCode::OK, raw, None, Some(&outcome), None)
            }
            Err(error @ registry_core::RegistryError::DeviceFlow { .. }) => {
                let message = ApiError::from(error).detail().to_owned();
                render(&state, &session, StatusCode::UNPROCESSABLE_ENTITY, raw, None, None, Some(&message))
            }
            Err(error) => Err(error.into()),
        }
    }
    .await;
    browser_answer(&state, &headers, result)
}

fn render(
    state: &AppState,
    session: &SessionCaller,
    status: StatusCode,
    user_code: &str,
    key_name: Option<&str>,
    outcome: Option<&str>,
    error: Option<&str>,
) -> Result<Response, ApiError> {
    let site = Site::new(&state.registry.config().public_url);
    let csrf_token = session.secret.csrf_token();
    let html = registry_pages::device_page(
        &site,
        &DeviceView {
            login: &session.login,
            csrf_token: &csrf_token,
            user_code,
            key_name,
            outcome,
            error,
        },
    )
    .map_err(page_failed)?;
    Ok(personal_page(status, html))
}
