//! The account pages of a signed-in person: `GET /account`, `POST /account/keys`,
//! `POST /account/keys/{key_id}/revoke`. Every form carries the session's
//! anti-forgery token; keys made here are the caller's own, with what a publish
//! key may grant and a person's expiry rules.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use registry_core::RegistryError;
use registry_core::auth::{Scope, Scopes};
use registry_core::registry::{NewKey, SessionCaller};
use registry_pages::{AccountView, Site};

use crate::problem::ApiError;
use crate::routes::plugins::search::page_failed;
use crate::session::{
    BrowserSession, PostedForm, SignedInForm, browser_answer, personal_page, see_other,
};
use crate::state::AppState;

/// The account page, or the sign-in page for a browser that is not signed in.
#[utoipa::path(
    get,
    path = "/account",
    responses(
        (status = 200, description = "The account page: keys, a form to make one, sign-out", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page, returning here"),
    ),
    tag = "sign-in"
)]
pub async fn account_page(
    State(state): State<Arc<AppState>>,
    session: BrowserSession,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let site = Site::new(&state.registry.config().public_url);
        let Some(session) = session.0 else {
            return Ok(see_other(&format!(
                "{}/auth/login?return_to=%2Faccount",
                site.base()
            )));
        };
        render(&state, &session, StatusCode::OK, None, None).await
    }
    .await;
    browser_answer(&state, &headers, result)
}

/// Makes a key for the signed-in person; the page shows its secret once.
#[utoipa::path(
    post,
    path = "/account/keys",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`, `name`, `scope` (repeated: `publish`, `read`), `expires_in_days` and optionally `plugins` (slugs, comma-separated)"),
    responses(
        (status = 200, description = "Made: the account page with the new key's secret, shown this once", content_type = "text/html"),
        (status = 415, description = "Not a form"),
        (status = 422, description = "A field to fix: the account page says which", content_type = "text/html"),
    ),
    security(("session" = [])),
    tag = "sign-in"
)]
pub async fn create_key_form(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    SignedInForm { session, form }: SignedInForm,
) -> Response {
    let result = async {
        let request = match key_request(&form) {
            Ok(request) => request,
            Err(message) => {
                return render(
                    &state,
                    &session,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    Some(&message),
                )
                .await;
            }
        };
        match state.registry.create_key(&session.caller, request).await {
            Ok(created) => {
                render(
                    &state,
                    &session,
                    StatusCode::OK,
                    Some((&created.info.name, created.secret.expose())),
                    None,
                )
                .await
            }
            Err(error @ (RegistryError::Invalid { .. } | RegistryError::Forbidden { .. })) => {
                let message = error.to_string();
                render(
                    &state,
                    &session,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    Some(&message),
                )
                .await
            }
            Err(error) => Err(error.into()),
        }
    }
    .await;
    browser_answer(&state, &headers, result)
}

/// Revokes one of the signed-in person's keys.
#[utoipa::path(
    post,
    path = "/account/keys/{key_id}/revoke",
    params(("key_id" = String, Path, description = "The key's id (key_...)")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`"),
    responses(
        (status = 303, description = "Revoked: back to the account page"),
        (status = 404, description = "No such key of this person's"),
        (status = 415, description = "Not a form"),
    ),
    security(("session" = [])),
    tag = "sign-in"
)]
pub async fn revoke_key_form(
    State(state): State<Arc<AppState>>,
    Path(key_id): Path<String>,
    headers: HeaderMap,
    SignedInForm { session, .. }: SignedInForm,
) -> Response {
    let result = async {
        state.registry.revoke_key(&session.caller, &key_id).await?;
        let site = Site::new(&state.registry.config().public_url);
        Ok(see_other(&format!("{}/account", site.base())))
    }
    .await;
    browser_answer(&state, &headers, result)
}

/// The key the form asks for, or what to fix.
fn key_request(form: &PostedForm) -> Result<NewKey, String> {
    let scopes = form
        .all("scope")
        .map(|raw| match Scope::parse(raw) {
            Ok(scope @ (Scope::Read | Scope::Publish)) => Ok(scope),
            _ => Err(format!(
                "A key made here may have the publish or read scope, not {raw:?}."
            )),
        })
        .collect::<Result<Scopes, _>>()?;
    if scopes.is_empty() {
        return Err("Choose at least one scope.".to_owned());
    }
    let days = form
        .first("expires_in_days")
        .map(|raw| {
            raw.trim()
                .parse::<u32>()
                .ok()
                .filter(|d| *d > 0)
                .ok_or_else(|| format!("The expiry must be a whole number of days, not {raw:?}."))
        })
        .transpose()?;
    // Slugs separated by commas or spaces; none given: every plugin.
    let plugins: Vec<String> = form
        .first("plugins")
        .unwrap_or_default()
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(NewKey {
        name: form.first("name").unwrap_or_default().to_owned(),
        scopes,
        principal: None,
        new_principal: None,
        expires_in_days: days,
        plugins: (!plugins.is_empty()).then_some(plugins),
    })
}

async fn render(
    state: &AppState,
    session: &SessionCaller,
    status: StatusCode,
    created: Option<(&str, &str)>,
    error: Option<&str>,
) -> Result<Response, ApiError> {
    let keys = state.registry.list_keys(&session.caller, None).await?;
    let site = Site::new(&state.registry.config().public_url);
    let csrf_token = session.secret.csrf_token();
    let html = registry_pages::account_page(
        &site,
        &AccountView {
            login: &session.login,
            csrf_token: &csrf_token,
            keys: &keys,
            created,
            error,
            now: state.registry.now(),
        },
    )
    .map_err(page_failed)?;
    Ok(personal_page(status, html))
}
