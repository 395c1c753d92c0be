//! The routes, grouped so each Lambda function mounts only its own.

pub mod account;
pub mod analytics;
pub mod audit;
pub mod device;
pub mod keys;
pub mod mcp_router;
pub mod meta;
pub mod moderation;
pub mod org_catalog;
pub mod org_pages;
pub mod org_reviews;
pub mod orgs;
pub mod owners;
pub mod plugins;
pub mod review_pages;
pub mod reviews;
pub mod sign_in;
pub mod teams;
pub mod trusted_publishing;
pub mod uploads;
pub mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use registry_core::artifact::{PRIVATE_CACHE_CONTROL, SHORT_CACHE_CONTROL};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::problem::ApiError;
use crate::state::AppState;

/// A group of routes together with their OpenAPI description: each route is
/// declared once, by its handler's `#[utoipa::path]`, and `routes!` mounts it.
pub type ApiRoutes = OpenApiRouter<Arc<AppState>>;

/// The routes mounted without an OpenAPI operation, each for a reason:
/// `/index/{*path}` serves the static index's files (a wildcard over the bucket's
/// `index/` prefix, which OpenAPI cannot describe; the files' formats are
/// documented in `registry-index`).
/// `/` and `/search` are the web catalog's home and search pages (HTML for
/// people, not API operations).
pub const UNDOCUMENTED_ROUTES: &[&str] = &[INDEX_FILES_ROUTE, HOME_PAGE_ROUTE, SEARCH_PAGE_ROUTE];

/// The static index's files, as the CDN serves the bucket's `index/` prefix.
const INDEX_FILES_ROUTE: &str = "/index/{*path}";
/// The web catalog's home page.
const HOME_PAGE_ROUTE: &str = "/";
/// The web catalog's search page.
const SEARCH_PAGE_ROUTE: &str = "/search";

/// Public reads: search, details, schema and bundle downloads, index files.
pub fn read_routes() -> ApiRoutes {
    OpenApiRouter::new()
        .routes(routes!(plugins::search::search_plugins))
        .routes(routes!(plugins::details::get_plugin))
        .routes(routes!(plugins::download::download_schema))
        .routes(routes!(plugins::download::download_bundle))
        .route(INDEX_FILES_ROUTE, get(plugins::index_file::get_index_file))
        .route(HOME_PAGE_ROUTE, get(plugins::index_file::get_home_page))
        .route(SEARCH_PAGE_ROUTE, get(plugins::search::search_page))
}

/// What the `search` function serves: the public reads, `/openapi.json` and `/healthz`.
pub fn search_function_routes() -> ApiRoutes {
    read_routes().merge(meta_routes())
}

/// Publishing: `POST /plugins`, `PUT /plugins/{slug}` and `POST /uploads`.
pub fn publish_routes() -> ApiRoutes {
    OpenApiRouter::new()
        .routes(routes!(plugins::publish::publish_plugin))
        .routes(routes!(plugins::publish::update_plugin))
        .routes(routes!(uploads::create_upload))
}

/// Deprecation.
pub fn deprecate_routes() -> ApiRoutes {
    OpenApiRouter::new().routes(routes!(plugins::deprecate::deprecate_version))
}

/// Unpublishing.
pub fn unpublish_routes() -> ApiRoutes {
    OpenApiRouter::new().routes(routes!(plugins::unpublish::unpublish_version))
}

/// API keys, plugin owners, invitations, teams, the audit log, analytics,
/// reviews and webhook subscriptions: what the `keys` function serves.
pub fn key_routes() -> ApiRoutes {
    OpenApiRouter::new()
        .routes(routes!(keys::create_key, keys::list_keys))
        .routes(routes!(keys::revoke_key))
        .routes(routes!(owners::list_owners, owners::invite_owner))
        .routes(routes!(owners::remove_owner))
        .routes(routes!(owners::accept_invitation))
        .routes(routes!(owners::decline_invitation))
        .routes(routes!(owners::list_invitations))
        .routes(routes!(teams::create_team, teams::list_teams))
        .routes(routes!(teams::get_team))
        .routes(routes!(teams::set_team_member, teams::remove_team_member))
        .routes(routes!(analytics::plugin_analytics))
        .routes(routes!(analytics::registry_analytics))
        .routes(routes!(audit::plugin_audit))
        .routes(routes!(audit::audit_log))
        .routes(routes!(moderation::report_plugin))
        .routes(routes!(moderation::list_reports))
        .routes(routes!(moderation::resolve_report))
        .routes(routes!(moderation::quarantine, moderation::lift_quarantine))
        .routes(routes!(
            trusted_publishing::list_trusted_publishers,
            trusted_publishing::add_trusted_publisher
        ))
        .routes(routes!(trusted_publishing::remove_trusted_publisher))
        .routes(routes!(trusted_publishing::lock_to_trusted_publishing))
        .routes(routes!(reviews::list_reviews))
        .routes(routes!(reviews::get_review))
        .routes(routes!(reviews::review_schema))
        .routes(routes!(reviews::review_bundle))
        .routes(routes!(reviews::approve_review))
        .routes(routes!(reviews::reject_review))
        .routes(routes!(reviews::answer_check))
        .routes(routes!(reviews::rerun_check))
        .routes(routes!(webhooks::create_webhook, webhooks::list_webhooks))
        .routes(routes!(webhooks::get_webhook, webhooks::delete_webhook))
        .routes(routes!(webhooks::list_deliveries))
        .routes(routes!(webhooks::redeliver))
}

/// Signing in and out, the account pages and the org catalog's pages: what the
/// `sign-in` function serves.
pub fn sign_in_routes() -> ApiRoutes {
    OpenApiRouter::new()
        .routes(routes!(sign_in::sign_in_page))
        .routes(routes!(sign_in::start_sign_in))
        .routes(routes!(sign_in::finish_sign_in))
        .routes(routes!(sign_in::sign_out))
        .routes(routes!(trusted_publishing::exchange_ci_token))
        .routes(routes!(account::account_page))
        .routes(routes!(account::plugin_audit_page))
        .routes(routes!(account::plugin_analytics_page))
        .routes(routes!(review_pages::review_queue_page))
        .routes(routes!(review_pages::review_page))
        .routes(routes!(review_pages::review_schema_download))
        .routes(routes!(review_pages::review_bundle_download))
        .routes(routes!(review_pages::decide_review_form))
        .routes(routes!(review_pages::rerun_check_form))
        .routes(routes!(review_pages::decide_org_review_form))
        .routes(routes!(account::deliveries_page))
        .routes(routes!(account::create_key_form))
        .routes(routes!(account::revoke_key_form))
        .routes(routes!(account::answer_invitation_form))
        .routes(routes!(account::create_team_form))
        .routes(routes!(account::delete_account_form))
        .routes(routes!(account::lift_publishing_lock_form))
        .routes(routes!(org_pages::org_catalog_page))
        .routes(routes!(org_pages::org_plugin_page))
        .routes(routes!(org_pages::org_enablement_form))
        .routes(routes!(device::start_device_sign_in))
        .routes(routes!(device::poll_device_sign_in))
        .routes(routes!(device::device_page, device::decide_device_sign_in))
}

/// The org-scoped catalog, the system catalog and their administration: what the
/// `org-catalog` function serves.
pub fn org_catalog_routes() -> ApiRoutes {
    OpenApiRouter::new()
        .routes(routes!(orgs::create_org, orgs::list_orgs))
        .routes(routes!(orgs::list_members))
        .routes(routes!(orgs::add_member, orgs::remove_member))
        .routes(routes!(orgs::list_permissions))
        .routes(routes!(orgs::grant_permission, orgs::revoke_permission))
        .routes(routes!(org_catalog::list_org_plugins))
        .routes(routes!(org_catalog::upload_org_plugin))
        .routes(routes!(
            org_catalog::patch_org_plugin,
            org_catalog::delete_org_plugin
        ))
        .routes(routes!(org_catalog::org_plugin_versions))
        .routes(routes!(org_catalog::org_plugin_settings_schema))
        .routes(routes!(org_reviews::set_org_review_policy))
        .routes(routes!(org_reviews::list_org_reviews))
        .routes(routes!(org_reviews::approve_org_review))
        .routes(routes!(org_reviews::reject_org_review))
        .routes(routes!(org_catalog::list_system_plugins))
        .routes(routes!(org_catalog::upload_system_plugin))
        .routes(routes!(
            org_catalog::patch_system_plugin,
            org_catalog::delete_system_plugin
        ))
        // Uploads count their own bytes while streaming (413 past 5 MB).
        .layer(DefaultBodyLimit::disable())
}

/// MCP router registration and the routing table: what the `router` function serves.
pub fn mcp_router_routes() -> ApiRoutes {
    OpenApiRouter::new()
        .routes(routes!(mcp_router::register_instance))
        .routes(routes!(mcp_router::get_routing_table))
        .routes(routes!(mcp_router::deregister_instance))
}

/// `/openapi.json`, `/healthz`, `/readyz` and `/metrics`.
pub fn meta_routes() -> ApiRoutes {
    OpenApiRouter::new()
        .routes(routes!(meta::openapi_document))
        .routes(routes!(meta::health))
        .routes(routes!(meta::readiness))
        .routes(routes!(meta::metrics))
}

/// Every route with its description: what the self-hosted server mounts, and what
/// `/openapi.json` describes whichever function serves it.
pub fn api_routes() -> ApiRoutes {
    OpenApiRouter::new()
        .merge(read_routes())
        .merge(publish_routes())
        .merge(deprecate_routes())
        .merge(unpublish_routes())
        .merge(key_routes())
        .merge(sign_in_routes())
        .merge(org_catalog_routes())
        .merge(mcp_router_routes())
        .merge(meta_routes())
}

/// Every route, as the local server mounts them, with problem+json for unknown
/// routes and wrong methods.
pub fn all_routes(state: Arc<AppState>) -> Router {
    serve_routes(api_routes(), state)
}

/// `routes` ready to serve: problem+json answers for unknown routes (404) and wrong
/// methods (405), on a private registry no answer a shared cache may keep, and
/// every request with its id (`x-request-id`).
pub fn serve_routes(routes: ApiRoutes, state: Arc<AppState>) -> Router {
    Router::from(routes)
        .fallback(no_such_route)
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .layer(axum::middleware::map_response_with_state(
            Arc::clone(&state),
            keep_private_answers_private,
        ))
        .layer(axum::middleware::from_fn(
            crate::request_metrics::record_request,
        ))
        .layer(axum::middleware::from_fn(
            crate::request_id::assign_request_id,
        ))
        .with_state(state)
}

/// A route nobody serves: the not-found page for a browser on a registry with
/// pages, a problem document for everyone else.
async fn no_such_route(
    State(state): State<Arc<AppState>>,
    request_headers: axum::http::HeaderMap,
) -> Response {
    let accept = request_headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let answer = if !state.registry.config().private
        && registry_index::path::prefers_html(accept)
        && let Ok(page) = plugins::index_file::not_found_page(&state).await
    {
        page
    } else {
        ApiError::no_such_route().into_response()
    };
    plugins::details::vary_on_accept(answer)
}

/// On a private registry even a 404 tells whether a plugin exists, so every answer,
/// refusals included, is `private, no-store`, whatever its handler chose.
async fn keep_private_answers_private(
    State(state): State<Arc<AppState>>,
    mut response: Response,
) -> Response {
    if state.registry.config().private {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(PRIVATE_CACHE_CONTROL),
        );
    }
    response
}

/// A JSON response with a cache policy: short and shared on a public registry,
/// private on a private one.
/// A route's query parameters, or 400 `invalid_parameter` saying what is wrong.
pub(crate) fn query<T>(
    params: Result<axum::extract::Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ApiError> {
    params
        .map(|axum::extract::Query(p)| p)
        .map_err(|e| ApiError::bad_request("invalid_parameter", e.body_text()))
}

pub(crate) fn json_response<T: Serialize>(status: StatusCode, body: &T, private: bool) -> Response {
    let bytes = match serde_json::to_vec(body) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(
                error = &e as &dyn std::error::Error,
                "response serialisation failed"
            );
            return ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "response serialisation failed",
            )
            .into_response();
        }
    };
    let mut response = (status, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let cache = if private || status != StatusCode::OK {
        PRIVATE_CACHE_CONTROL
    } else {
        SHORT_CACHE_CONTROL
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}
