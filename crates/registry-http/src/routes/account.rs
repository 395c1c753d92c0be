//! The account pages of a signed-in person: `GET /account`, `POST /account/keys`,
//! `POST /account/keys/{key_id}/revoke`. Every form carries the session's
//! anti-forgery token; keys made here are the caller's own, with what a publish
//! key may grant and a person's expiry rules.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use registry_core::RegistryError;
use registry_core::account::EmailAddress;
use registry_core::auth::{Scope, Scopes};
use registry_core::registry::{Answer, NewKey, SessionCaller};
use registry_pages::{AccountView, Site};

use crate::problem::ApiError;
use crate::routes::analytics::AnalyticsParams;
use crate::routes::audit::AuditParams;
use crate::routes::plugins::search::page_failed;
use crate::session::{
    BrowserSession, PostedForm, SESSION_COOKIE, SignedInForm, browser_answer, personal_page,
    see_other, set_cookie, sign_in_first,
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
            return Ok(sign_in_first(&site, "/account"));
        };
        render(&state, &session, StatusCode::OK, Feedback::default()).await
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
                    Feedback::error(&message),
                )
                .await;
            }
        };
        match state.registry.create_key(&session.caller, request).await {
            Ok(created) => {
                let feedback = Feedback {
                    created: Some((&created.info.name, created.secret.expose())),
                    ..Feedback::default()
                };
                render(&state, &session, StatusCode::OK, feedback).await
            }
            Err(error) => render_refusal(&state, &session, error).await,
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
        Ok(see_other(&site.account_url()))
    }
    .await;
    browser_answer(&state, &headers, result)
}

/// A plugin's audit log as a page, for its owners (and admins) signed in.
#[utoipa::path(
    get,
    path = "/account/plugins/{slug}/audit",
    params(("slug" = String, Path, description = "The plugin"), AuditParams),
    responses(
        (status = 200, description = "A page of the plugin's log, newest first, with a link to older changes", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page, returning here"),
        (status = 400, description = "A `before` or `limit` that is not one", content_type = "text/html"),
        (status = 403, description = "Not an owner of the plugin", content_type = "text/html"),
        (status = 404, description = "No such plugin", content_type = "text/html"),
    ),
    tag = "sign-in"
)]
pub async fn plugin_audit_page(
    State(state): State<Arc<AppState>>,
    session: BrowserSession,
    Path(slug): Path<String>,
    params: Result<Query<AuditParams>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let site = Site::new(&state.registry.config().public_url);
        let Some(session) = session.0 else {
            return Ok(sign_in_first(
                &site,
                &format!("/account/plugins/{slug}/audit"),
            ));
        };
        let query = crate::routes::query(params)?;
        let log = state
            .registry
            .plugin_audit(&session.caller, &slug, &query.into())
            .await?;
        let html = registry_pages::audit_page(&site, &slug, &log).map_err(page_failed)?;
        Ok(personal_page(StatusCode::OK, html))
    }
    .await;
    browser_answer(&state, &headers, result)
}

/// A plugin's downloads as a page, for its owners (and analysts) signed in: a
/// stacked chart, one colour a version, and each version's and client's share.
#[utoipa::path(
    get,
    path = "/account/plugins/{slug}/analytics",
    params(("slug" = String, Path, description = "The plugin"), AnalyticsParams),
    responses(
        (status = 200, description = "The plugin's downloads over the range", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page, returning here"),
        (status = 400, description = "A range that is not one", content_type = "text/html"),
        (status = 403, description = "Not an owner of the plugin", content_type = "text/html"),
        (status = 404, description = "No such plugin", content_type = "text/html"),
        (status = 422, description = "Days or weeks before what the registry keeps", content_type = "text/html"),
    ),
    tag = "sign-in"
)]
pub async fn plugin_analytics_page(
    State(state): State<Arc<AppState>>,
    session: BrowserSession,
    Path(slug): Path<String>,
    params: Result<Query<AnalyticsParams>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let site = Site::new(&state.registry.config().public_url);
        let Some(session) = session.0 else {
            return Ok(sign_in_first(
                &site,
                &format!("/account/plugins/{slug}/analytics"),
            ));
        };
        let query = crate::routes::query(params)?.query()?;
        let analytics = state
            .registry
            .plugin_analytics(Some(&session.caller), &slug, query)
            .await?;
        let html = registry_pages::analytics_page(&site, &analytics).map_err(page_failed)?;
        Ok(personal_page(StatusCode::OK, html))
    }
    .await;
    browser_answer(&state, &headers, result)
}

/// Accepts or declines an invitation to own a plugin, from the account page.
#[utoipa::path(
    post,
    path = "/account/invitations/{slug}/{invitee}/{answer}",
    params(
        ("slug" = String, Path, description = "The plugin"),
        ("invitee" = String, Path, description = "The invitee: the person, or a team they maintain"),
        ("answer" = String, Path, description = "`accept` or `decline`"),
    ),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`"),
    responses(
        (status = 200, description = "Answered: the account page says so", content_type = "text/html"),
        (status = 404, description = "No pending invitation this person may answer, or another answer", content_type = "text/html"),
        (status = 415, description = "Not a form"),
    ),
    security(("session" = [])),
    tag = "sign-in"
)]
pub async fn answer_invitation_form(
    State(state): State<Arc<AppState>>,
    Path((slug, invitee, answer)): Path<(String, String, String)>,
    headers: HeaderMap,
    SignedInForm { session, .. }: SignedInForm,
) -> Response {
    let result = async {
        let (answer, done) = match answer.as_str() {
            "accept" => (
                Answer::Accept,
                "Invitation accepted: the plugin is yours to publish.",
            ),
            "decline" => (Answer::Decline, "Invitation declined."),
            _ => return Err(ApiError::no_such_route()),
        };
        state
            .registry
            .answer_invitation(&session.caller, &slug, &invitee, answer)
            .await?;
        render(&state, &session, StatusCode::OK, Feedback::notice(done)).await
    }
    .await;
    browser_answer(&state, &headers, result)
}

/// Makes a team with the signed-in person as its maintainer.
#[utoipa::path(
    post,
    path = "/account/teams",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf` and `name`"),
    responses(
        (status = 200, description = "Made: the account page lists it", content_type = "text/html"),
        (status = 415, description = "Not a form"),
        (status = 422, description = "A name to fix: the account page says so", content_type = "text/html"),
    ),
    security(("session" = [])),
    tag = "sign-in"
)]
pub async fn create_team_form(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    SignedInForm { session, form }: SignedInForm,
) -> Response {
    let result = async {
        let name = form.first("name").unwrap_or_default();
        match state.registry.create_team(&session.caller, name).await {
            Ok(team) => {
                let done = format!("Team {} made; its id is {}.", team.name, team.id);
                render(&state, &session, StatusCode::OK, Feedback::notice(&done)).await
            }
            Err(error) => render_refusal(&state, &session, error).await,
        }
    }
    .await;
    browser_answer(&state, &headers, result)
}

/// Lifts a plugin's lock to trusted publishing: its owner, signed in within the
/// last ten minutes; an older session is sent to sign in again first.
#[utoipa::path(
    post,
    path = "/account/plugins/{slug}/unlock",
    params(("slug" = String, Path, description = "The plugin")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`"),
    responses(
        (status = 303, description = "Lifted: back to the account page; or the sign-in is older than ten minutes: to the sign-in page, returning to the account page"),
        (status = 403, description = "Not an owner of the plugin", content_type = "text/html"),
        (status = 404, description = "No such plugin", content_type = "text/html"),
        (status = 415, description = "Not a form"),
    ),
    security(("session" = [])),
    tag = "sign-in"
)]
pub async fn lift_publishing_lock_form(
    State(state): State<Arc<AppState>>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    SignedInForm { session, .. }: SignedInForm,
) -> Response {
    let result = async {
        let site = Site::new(&state.registry.config().public_url);
        match state.registry.lift_publishing_lock(&session, &slug).await {
            Ok(()) => Ok(see_other(&site.account_url())),
            Err(RegistryError::FreshSignInRequired { .. }) => Ok(sign_in_first(&site, "/account")),
            Err(error) => Err(error.into()),
        }
    }
    .await;
    browser_answer(&state, &headers, result)
}

/// What the deletion form must be sent with, typed by the person.
const DELETE_CONFIRMATION: &str = "delete my account";

/// Deletes the signed-in person's account and signs them out everywhere.
#[utoipa::path(
    post,
    path = "/account/delete",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf` and `confirm` = `delete my account`"),
    responses(
        (status = 303, description = "Deleted: the session cookie is cleared; on to the home page"),
        (status = 415, description = "Not a form"),
        (status = 422, description = "Not confirmed: the account page says how", content_type = "text/html"),
    ),
    security(("session" = [])),
    tag = "sign-in"
)]
pub async fn delete_account_form(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    SignedInForm { session, form }: SignedInForm,
) -> Response {
    let result = async {
        if form.first("confirm").map(str::trim) != Some(DELETE_CONFIRMATION) {
            let message =
                format!("Type \"{DELETE_CONFIRMATION}\" to confirm; nothing was deleted.");
            return render(
                &state,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                Feedback::error(&message),
            )
            .await;
        }
        state.registry.delete_account(&session).await?;
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

/// What the last form did, for the page to say.
#[derive(Debug, Default, Clone, Copy)]
struct Feedback<'a> {
    /// A key just made: (its name, its secret).
    created: Option<(&'a str, &'a str)>,
    /// What was done.
    notice: Option<&'a str>,
    /// What to fix.
    error: Option<&'a str>,
}

impl<'a> Feedback<'a> {
    fn error(message: &'a str) -> Self {
        Self {
            error: Some(message),
            ..Self::default()
        }
    }

    fn notice(message: &'a str) -> Self {
        Self {
            notice: Some(message),
            ..Self::default()
        }
    }
}

/// What a registry without owners and teams shows of them: nothing.
fn none_without_ownership<T>(
    found: Result<Vec<T>, RegistryError>,
) -> Result<Vec<T>, RegistryError> {
    match found {
        Err(RegistryError::OwnershipUnavailable) => Ok(Vec::new()),
        other => other,
    }
}

/// The account page saying what to fix, for a refusal that is the person's to
/// fix (a field, a rule); any other failure as it is.
async fn render_refusal(
    state: &AppState,
    session: &SessionCaller,
    error: RegistryError,
) -> Result<Response, ApiError> {
    match error {
        RegistryError::Invalid { .. } | RegistryError::Forbidden { .. } => {
            let message = error.to_string();
            render(
                state,
                session,
                StatusCode::UNPROCESSABLE_ENTITY,
                Feedback::error(&message),
            )
            .await
        }
        other => Err(other.into()),
    }
}

async fn render(
    state: &AppState,
    session: &SessionCaller,
    status: StatusCode,
    feedback: Feedback<'_>,
) -> Result<Response, ApiError> {
    let caller = &session.caller;
    let keys = state.registry.list_keys(caller, None).await?;
    let plugins = none_without_ownership(state.registry.my_plugins(caller).await)?;
    let invitations = none_without_ownership(state.registry.my_invitations(caller).await)?;
    let teams = none_without_ownership(state.registry.my_teams(caller).await)?;
    let orgs = state.registry.orgs_of_caller(caller).await?;
    let email = state.registry.notice_address(caller).await?;
    let decisions = state.registry.awaiting_decision(caller).await?;
    let site = Site::new(&state.registry.config().public_url);
    let csrf_token = session.secret.csrf_token();
    let html = registry_pages::account_page(
        &site,
        &AccountView {
            login: &session.login,
            principal: caller.principal.as_str(),
            csrf_token: &csrf_token,
            keys: &keys,
            created: feedback.created,
            plugins: &plugins,
            invitations: &invitations,
            teams: &teams,
            orgs: &orgs,
            email: email.as_ref().map(EmailAddress::as_str),
            sends_notices: state.registry.sends_notices(),
            notice: feedback.notice,
            error: feedback.error,
            awaiting_review: decisions.reviews_anything().then(|| decisions.waiting()),
            now: state.registry.now(),
        },
    )
    .map_err(page_failed)?;
    Ok(personal_page(status, html))
}

/// A webhook subscription's deliveries as a page, for who manages its scope.
#[utoipa::path(
    get,
    path = "/account/webhooks/{webhook_id}",
    params(("webhook_id" = String, Path, description = "The subscription (`whk_…`)")),
    responses(
        (status = 200, description = "Its deliveries of the last 30 days, newest first", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page, returning here"),
        (status = 404, description = "No such subscription that you manage", content_type = "text/html"),
    ),
    tag = "sign-in"
)]
pub async fn deliveries_page(
    State(state): State<Arc<AppState>>,
    session: BrowserSession,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let site = Site::new(&state.registry.config().public_url);
        let Some(session) = session.0 else {
            return Ok(sign_in_first(&site, &format!("/account/webhooks/{id}")));
        };
        let caller = Some(&session.caller);
        let webhook = state.registry.webhook(caller, &id).await?;
        let log = state.registry.webhook_deliveries(caller, &id).await?;
        let html = registry_pages::deliveries_page(&site, &webhook, &log).map_err(page_failed)?;
        Ok(personal_page(StatusCode::OK, html))
    }
    .await;
    browser_answer(&state, &headers, result)
}
