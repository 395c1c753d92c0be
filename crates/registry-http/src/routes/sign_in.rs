//! Signing in and out: `GET /auth/login`, `GET /auth/login/{provider}`,
//! `GET /auth/callback/{provider}`, `POST /auth/logout`. Browser routes: they
//! answer pages and redirects, and a program asking gets problem documents.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use registry_core::account::{LOGIN_ATTEMPT_LIFETIME, SESSION_LIFETIME};
use registry_core::registry::safe_return_to;
use registry_pages::Site;
use serde::Deserialize;

use crate::problem::ApiError;
use crate::routes::plugins::search::page_failed;
use crate::session::{
    BrowserSession, SESSION_COOKIE, SIGN_IN_COOKIE, SignedInForm, browser_answer, cookie,
    personal_page, see_other, set_cookie,
};
use crate::state::AppState;

/// Where to go after signing in.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ReturnTo {
    /// A path on this registry (default `/account`).
    return_to: Option<String>,
}

/// What a provider sends the browser back with.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CallbackParams {
    /// The authorization code.
    code: Option<String>,
    /// The state this registry sent.
    state: Option<String>,
    /// The provider's error, when the person declined or it failed.
    error: Option<String>,
    /// Its description.
    error_description: Option<String>,
}

/// The sign-in page: a button per provider.
#[utoipa::path(
    get,
    path = "/auth/login",
    params(ReturnTo),
    responses(
        (status = 200, description = "The sign-in page", content_type = "text/html"),
        (status = 303, description = "Already signed in: on to `return_to`"),
    ),
    tag = "sign-in"
)]
pub async fn sign_in_page(
    State(state): State<Arc<AppState>>,
    session: BrowserSession,
    headers: HeaderMap,
    params: Result<Query<ReturnTo>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let result = async {
        let Query(params) =
            params.map_err(|e| ApiError::bad_request("invalid_parameter", e.body_text()))?;
        let return_to = safe_return_to(params.return_to.as_deref());
        let site = Site::new(&state.registry.config().public_url);
        if session.0.is_some() {
            return Ok(see_other(&format!("{}{return_to}", site.base())));
        }
        let html = registry_pages::sign_in_page(
            &site,
            &state.registry.sign_in_providers(),
            &return_to,
            None,
        )
        .map_err(page_failed)?;
        Ok(personal_page(StatusCode::OK, html))
    }
    .await;
    browser_answer(&state, &headers, result)
}

/// Starts signing in with a provider: to the provider, with a sign-in cookie.
#[utoipa::path(
    get,
    path = "/auth/login/{provider}",
    params(("provider" = String, Path, description = "The provider's id (`oidc`, `github`)"), ReturnTo),
    responses(
        (status = 303, description = "To the provider's sign-in, with the sign-in cookie set"),
        (status = 404, description = "No such provider here (`sign_in_unavailable`)"),
        (status = 503, description = "The provider could not be reached (`sign_in_provider_failed`)"),
    ),
    tag = "sign-in"
)]
pub async fn start_sign_in(
    State(state): State<Arc<AppState>>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    params: Result<Query<ReturnTo>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let result = async {
        let Query(params) =
            params.map_err(|e| ApiError::bad_request("invalid_parameter", e.body_text()))?;
        let started = state
            .registry
            .start_sign_in(&provider, params.return_to.as_deref())
            .await?;
        let mut response = see_other(&started.authorize_url);
        response.headers_mut().insert(
            header::SET_COOKIE,
            set_cookie(
                SIGN_IN_COOKIE,
                started.secret.expose(),
                LOGIN_ATTEMPT_LIFETIME.whole_seconds(),
            ),
        );
        Ok(response)
    }
    .await;
    browser_answer(&state, &headers, result)
}

/// The provider's callback: checks the sign-in and starts a session.
#[utoipa::path(
    get,
    path = "/auth/callback/{provider}",
    params(("provider" = String, Path, description = "The provider's id"), CallbackParams),
    responses(
        (status = 303, description = "Signed in: the session cookie is set; on to where the sign-in started"),
        (status = 401, description = "The sign-in failed its checks: no sign-in cookie or a used one (`sign_in_not_started`), too slow (`sign_in_expired`), a wrong `state` (`sign_in_state_mismatch`), a code the provider refused (`code_refused`), an ID token that fails its checks (`id_token_invalid`), or the person declined (`sign_in_declined`)"),
        (status = 404, description = "No such provider here (`sign_in_unavailable`)"),
        (status = 503, description = "The provider could not be reached (`sign_in_provider_failed`)"),
    ),
    tag = "sign-in"
)]
pub async fn finish_sign_in(
    State(state): State<Arc<AppState>>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    params: Result<Query<CallbackParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let result = async {
        let Query(params) =
            params.map_err(|e| ApiError::bad_request("invalid_parameter", e.body_text()))?;
        if let Some(error) = params.error {
            let detail = params.error_description.unwrap_or(error);
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "sign_in_declined",
                format!("the provider did not sign you in ({detail}); sign in again"),
            ));
        }
        let signed_in = state
            .registry
            .finish_sign_in(
                &provider,
                cookie(&headers, SIGN_IN_COOKIE),
                params.state.as_deref().unwrap_or(""),
                params.code.as_deref().unwrap_or(""),
            )
            .await?;
        let site = Site::new(&state.registry.config().public_url);
        let mut response = see_other(&format!("{}{}", site.base(), signed_in.return_to));
        let cookies = response.headers_mut();
        cookies.append(
            header::SET_COOKIE,
            set_cookie(
                SESSION_COOKIE,
                signed_in.secret.expose(),
                SESSION_LIFETIME.whole_seconds(),
            ),
        );
        cookies.append(header::SET_COOKIE, set_cookie(SIGN_IN_COOKIE, "", 0));
        Ok(response)
    }
    .await;
    let mut answer = browser_answer(&state, &headers, result);
    if !answer.status().is_redirection() {
        // A failed sign-in's cookie is spent: the attempt behind it was taken.
        answer
            .headers_mut()
            .append(header::SET_COOKIE, set_cookie(SIGN_IN_COOKIE, "", 0));
    }
    answer
}

/// Signs out this browser, or (`everywhere=1`) every session of the person.
#[utoipa::path(
    post,
    path = "/auth/logout",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf` (the page's anti-forgery token) and optionally `everywhere=1`"),
    responses(
        (status = 303, description = "Signed out: the session cookie is cleared; on to the home page"),
        (status = 415, description = "Not a form"),
    ),
    security(("session" = [])),
    tag = "sign-in"
)]
pub async fn sign_out(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    SignedInForm { session, form }: SignedInForm,
) -> Response {
    let result = async {
        if form.first("everywhere").is_some_and(|v| !v.is_empty()) {
            state.registry.sign_out_everywhere(&session).await?;
        } else {
            state.registry.sign_out(&session).await?;
        }
        let home = format!("{}/", Site::new(&state.registry.config().public_url).base());
        let mut response = see_other(&home);
        response
            .headers_mut()
            .insert(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0));
        Ok(response)
    }
    .await;
    browser_answer(&state, &headers, result)
}
