//! Review in the browser, behind sign-in: the reviews page (what waits for the
//! person's decision, and their own plugins' reviews), one review's page with
//! its downloads, and the forms that decide a review, run one of its checks
//! again, and decide an org's held upload.
//!
//! A session decides exactly what a key would: the registry's reviews with
//! `review` (a session holds it through the `registry:review` permission), an
//! org's with `cadence:org:plugins:review` and membership. The forms appear
//! only for those, and every post is checked again by the same services the
//! API calls.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use registry_core::RegistryError;
use registry_core::auth::Scope;
use registry_core::registry::SessionCaller;
use registry_pages::{ReviewPageView, ReviewQueueView, Site};

use crate::problem::ApiError;
use crate::routes::plugins::search::page_failed;
use crate::routes::reviews::held_artifact_response;
use crate::session::{
    BrowserSession, PostedForm, SignedInForm, browser_answer, personal_page, see_other,
    sign_in_first,
};
use crate::state::AppState;

/// The reviews page: what waits for the signed-in person's decision, and the
/// reviews of their own plugins.
#[utoipa::path(
    get,
    path = "/account/reviews",
    responses(
        (status = 200, description = "For a reviewer, the registry's versions waiting for review; for an org's reviewers, its held uploads with forms to decide them; and the reviews of your own plugins, the longest waiting first", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page, returning here"),
        (status = 404, description = "This registry keeps no owners", content_type = "text/html"),
    ),
    tag = "sign-in"
)]
pub async fn review_queue_page(
    State(state): State<Arc<AppState>>,
    session: BrowserSession,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let site = Site::new(&state.registry.config().public_url);
        let Some(session) = session.0 else {
            return Ok(sign_in_first(&site, "/account/reviews"));
        };
        render_queue(&state, &session, StatusCode::OK, None).await
    }
    .await;
    browser_answer(&state, &headers, result)
}

/// One version under review as a page, for its owners and reviewers: its
/// state, its checks, what was submitted and, once rejected, why; for a
/// reviewer while it is pending, the forms that decide it.
#[utoipa::path(
    get,
    path = "/account/reviews/{review_id}",
    params(("review_id" = String, Path, description = "slug@version")),
    responses(
        (status = 200, description = "The review", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page, returning here"),
        (status = 404, description = "No such review, or not one of your plugins' and you do not review", content_type = "text/html"),
    ),
    tag = "sign-in"
)]
pub async fn review_page(
    State(state): State<Arc<AppState>>,
    session: BrowserSession,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let site = Site::new(&state.registry.config().public_url);
        let Some(session) = session.0 else {
            return Ok(sign_in_first(&site, &format!("/account/reviews/{id}")));
        };
        render_review(&state, &session, &id, StatusCode::OK, None).await
    }
    .await;
    browser_answer(&state, &headers, result)
}

/// The schema a review holds, as submitted, for its owners and reviewers.
#[utoipa::path(
    get,
    path = "/account/reviews/{review_id}/schema",
    params(("review_id" = String, Path, description = "slug@version")),
    responses(
        (status = 200, description = "The document, as application/json or application/yaml, as an attachment"),
        (status = 401, description = "Not signed in"),
        (status = 404, description = "No such review, or not one you may see", content_type = "text/html"),
    ),
    security(("session" = [])),
    tag = "sign-in"
)]
pub async fn review_schema_download(
    State(state): State<Arc<AppState>>,
    session: BrowserSession,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    held_download(&state, session, &id, false, &headers).await
}

/// The bundle a review holds, as submitted, for its owners and reviewers.
#[utoipa::path(
    get,
    path = "/account/reviews/{review_id}/bundle",
    params(("review_id" = String, Path, description = "slug@version")),
    responses(
        (status = 200, description = "The ZIP bundle, as an attachment"),
        (status = 401, description = "Not signed in"),
        (status = 404, description = "No such review, one you may not see, or no bundle", content_type = "text/html"),
    ),
    security(("session" = [])),
    tag = "sign-in"
)]
pub async fn review_bundle_download(
    State(state): State<Arc<AppState>>,
    session: BrowserSession,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    held_download(&state, session, &id, true, &headers).await
}

async fn held_download(
    state: &AppState,
    session: BrowserSession,
    id: &str,
    bundle: bool,
    headers: &HeaderMap,
) -> Response {
    let result = async {
        let session = session.required()?;
        let download = state
            .registry
            .review_artifact(Some(&session.caller), id, bundle)
            .await?;
        Ok(held_artifact_response(download))
    }
    .await;
    browser_answer(state, headers, result)
}

/// Approves or rejects a version under review, from its page; the same gate
/// and rules as `POST /reviews/{review_id}/approve|reject`.
#[utoipa::path(
    post,
    path = "/account/reviews/{review_id}/decision",
    params(("review_id" = String, Path, description = "slug@version")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`, `decision` (`approve` or `reject`) and `comment` (needed to reject)"),
    responses(
        (status = 303, description = "Decided: to the reviews page"),
        (status = 403, description = "Not a reviewer (`registry:review`), or a form from another site", content_type = "text/html"),
        (status = 404, description = "No such review", content_type = "text/html"),
        (status = 409, description = "Decided already, or its checks have not all passed: the review's page says which", content_type = "text/html"),
        (status = 415, description = "Not a form"),
        (status = 422, description = "A rejection without a comment, a comment too long, or no decision: the review's page says what to fix", content_type = "text/html"),
    ),
    security(("session" = [])),
    tag = "sign-in"
)]
pub async fn decide_review_form(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    SignedInForm { session, form }: SignedInForm,
) -> Response {
    let result = async {
        let caller = Some(&session.caller);
        let comment = form.first("comment");
        let decided = match decision(&form) {
            Ok(true) => state.registry.approve_review(caller, &id, comment).await,
            Ok(false) => state.registry.reject_review(caller, &id, comment).await,
            Err(error) => Err(error),
        };
        after_decision(&state, decided, async |status, message| {
            render_review(&state, &session, &id, status, Some(message)).await
        })
        .await
    }
    .await;
    browser_answer(&state, &headers, result)
}

/// Runs one check of a review again, from the review's page; the same gate as
/// `POST /reviews/{review_id}/checks/{check}/rerun`.
#[utoipa::path(
    post,
    path = "/account/reviews/{review_id}/checks/{check}/rerun",
    params(
        ("review_id" = String, Path, description = "slug@version"),
        ("check" = String, Path, description = "The check's name"),
    ),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`"),
    responses(
        (status = 303, description = "Asked again: back to the review's page"),
        (status = 403, description = "Not a reviewer (`registry:review`), or a form from another site", content_type = "text/html"),
        (status = 404, description = "No such review, or it waits for no such check", content_type = "text/html"),
        (status = 409, description = "The review was decided already", content_type = "text/html"),
        (status = 415, description = "Not a form"),
    ),
    security(("session" = [])),
    tag = "sign-in"
)]
pub async fn rerun_check_form(
    State(state): State<Arc<AppState>>,
    Path((id, check)): Path<(String, String)>,
    headers: HeaderMap,
    SignedInForm { session, .. }: SignedInForm,
) -> Response {
    let result = async {
        state
            .registry
            .rerun_check(Some(&session.caller), &id, &check)
            .await?;
        let site = Site::new(&state.registry.config().public_url);
        Ok(see_other(&site.review_page_url(&id)))
    }
    .await;
    browser_answer(&state, &headers, result)
}

/// Approves or rejects an upload held for review in an org's catalog, from the
/// reviews page; the same gate and rules as
/// `POST /api/orgs/{org_id}/reviews/{plugin_id}/approve|reject`.
#[utoipa::path(
    post,
    path = "/account/orgs/{org_id}/reviews/{plugin_id}/decision",
    params(
        ("org_id" = String, Path, description = "The org"),
        ("plugin_id" = String, Path, description = "The held upload (`plg_…`)"),
    ),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`, `decision` (`approve` or `reject`) and `comment` (needed to reject)"),
    responses(
        (status = 303, description = "Decided: back to the reviews page"),
        (status = 403, description = "Missing cadence:org:plugins:review, not a member, or a form from another site", content_type = "text/html"),
        (status = 404, description = "No such org, or no such upload waiting in it", content_type = "text/html"),
        (status = 409, description = "Decided already: the reviews page says so", content_type = "text/html"),
        (status = 415, description = "Not a form"),
        (status = 422, description = "A rejection without a comment, a comment too long, or no decision: the reviews page says what to fix", content_type = "text/html"),
    ),
    security(("session" = [])),
    tag = "org catalog"
)]
pub async fn decide_org_review_form(
    State(state): State<Arc<AppState>>,
    Path((org_id, plugin_id)): Path<(String, String)>,
    headers: HeaderMap,
    SignedInForm { session, form }: SignedInForm,
) -> Response {
    let result = async {
        let decided = match decision(&form) {
            Ok(approve) => {
                state
                    .registry
                    .decide_org_review(
                        Some(&session.caller),
                        &org_id,
                        &plugin_id,
                        approve,
                        form.first("comment"),
                    )
                    .await
            }
            Err(error) => Err(error),
        };
        after_decision(&state, decided, async |status, message| {
            render_queue(&state, &session, status, Some(message)).await
        })
        .await
    }
    .await;
    browser_answer(&state, &headers, result)
}

/// The form's decision: `true` to approve.
fn decision(form: &PostedForm) -> Result<bool, RegistryError> {
    match form.first("decision") {
        Some("approve") => Ok(true),
        Some("reject") => Ok(false),
        other => Err(RegistryError::invalid_field(
            "decision",
            format!("approve or reject, not {:?}", other.unwrap_or_default()),
        )),
    }
}

/// Where a decision's form leads: the reviews page once decided; a refusal
/// the page explains, rendered by `refused` with its status and message; any
/// other refusal as an error page.
async fn after_decision<T>(
    state: &AppState,
    decided: Result<T, RegistryError>,
    refused: impl AsyncFnOnce(StatusCode, &str) -> Result<Response, ApiError>,
) -> Result<Response, ApiError> {
    match decided {
        Ok(_) => {
            let site = Site::new(&state.registry.config().public_url);
            Ok(see_other(&site.review_queue_url()))
        }
        Err(error) => match said_on_the_page(&error) {
            Some(status) => refused(status, &error.to_string()).await,
            None => Err(error.into()),
        },
    }
}

/// The status of a refusal the page itself explains (a field to fix, a
/// decision made already, checks still open); `None` for one answered with an
/// error page (no permission, nothing there).
fn said_on_the_page(error: &RegistryError) -> Option<StatusCode> {
    match error {
        RegistryError::Invalid { .. } => Some(StatusCode::UNPROCESSABLE_ENTITY),
        RegistryError::ReviewDecided { .. } | RegistryError::ChecksNotPassed { .. } => {
            Some(StatusCode::CONFLICT)
        }
        _ => None,
    }
}

async fn render_queue(
    state: &AppState,
    session: &SessionCaller,
    status: StatusCode,
    error: Option<&str>,
) -> Result<Response, ApiError> {
    let caller = &session.caller;
    let own = state.registry.my_reviews(caller).await?;
    let decisions = state.registry.awaiting_decision(caller).await?;
    let csrf_token = session.secret.csrf_token();
    let site = Site::new(&state.registry.config().public_url);
    let html = registry_pages::review_queue_page(
        &site,
        &ReviewQueueView {
            own: &own.reviews,
            decisions: &decisions,
            csrf_token: &csrf_token,
            error,
        },
    )
    .map_err(page_failed)?;
    Ok(personal_page(status, html))
}

async fn render_review(
    state: &AppState,
    session: &SessionCaller,
    id: &str,
    status: StatusCode,
    error: Option<&str>,
) -> Result<Response, ApiError> {
    let review = state.registry.review(Some(&session.caller), id).await?;
    let csrf_token = session.secret.csrf_token();
    let decides = session.caller.can(Scope::Review) && review.decision.is_none();
    let site = Site::new(&state.registry.config().public_url);
    let html = registry_pages::review_page(
        &site,
        &review,
        ReviewPageView {
            decide_csrf: decides.then_some(csrf_token.as_str()),
            error,
        },
    )
    .map_err(page_failed)?;
    Ok(personal_page(status, html))
}
