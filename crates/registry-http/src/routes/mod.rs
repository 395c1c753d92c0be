//! The routes, grouped so each Lambda function mounts only its own.

pub mod keys;
pub mod mcp_router;
pub mod meta;
pub mod org_catalog;
pub mod orgs;
pub mod plugins;
pub mod uploads;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use registry_core::artifact::{PRIVATE_CACHE_CONTROL, SHORT_CACHE_CONTROL};
use serde::Serialize;

use crate::problem::ApiError;
use crate::state::AppState;

/// Public reads: search, details, schema and bundle downloads, index files.
pub fn read_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/plugins/search", get(plugins::search::search_plugins))
        .route("/plugins/{slug}", get(plugins::details::get_plugin))
        .route(
            "/plugins/{slug}/{version}/schema",
            get(plugins::download::download_schema),
        )
        .route(
            "/plugins/{slug}/{version}/bundle",
            get(plugins::download::download_bundle),
        )
        .route("/index/{*path}", get(plugins::index_file::get_index_file))
}

/// What the `search` function serves: the public reads, `/openapi.json` and `/healthz`.
pub fn search_function_routes() -> Router<Arc<AppState>> {
    read_routes().merge(meta_routes())
}

/// Publishing: `POST /plugins`, `PUT /plugins/{slug}` and `POST /uploads`.
pub fn publish_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/plugins", post(plugins::publish::publish_plugin))
        .route("/uploads", post(uploads::create_upload))
        .route(
            "/plugins/{slug}",
            axum::routing::put(plugins::publish::update_plugin),
        )
}

/// Deprecation.
pub fn deprecate_routes() -> Router<Arc<AppState>> {
    Router::new().route(
        "/plugins/{slug}/{version}/deprecate",
        post(plugins::deprecate::deprecate_version),
    )
}

/// Unpublishing.
pub fn unpublish_routes() -> Router<Arc<AppState>> {
    Router::new().route(
        "/plugins/{slug}/{version}",
        delete(plugins::unpublish::unpublish_version),
    )
}

/// API key management.
pub fn key_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/auth/keys", post(keys::create_key).get(keys::list_keys))
        .route("/auth/keys/{key_id}", delete(keys::revoke_key))
}

/// The org-scoped catalog, the system catalog and their administration: what the
/// `org-catalog` function serves.
pub fn org_catalog_routes() -> Router<Arc<AppState>> {
    use axum::extract::DefaultBodyLimit;
    use axum::routing::patch;
    Router::new()
        .route("/api/orgs", post(orgs::create_org).get(orgs::list_orgs))
        .route("/api/orgs/{org_id}/members", get(orgs::list_members))
        .route(
            "/api/orgs/{org_id}/members/{principal_id}",
            axum::routing::put(orgs::add_member).delete(orgs::remove_member),
        )
        .route(
            "/api/principals/{principal_id}/permissions",
            get(orgs::list_permissions),
        )
        .route(
            "/api/principals/{principal_id}/permissions/{permission}",
            axum::routing::put(orgs::grant_permission).delete(orgs::revoke_permission),
        )
        .route(
            "/api/orgs/{org_id}/plugins",
            get(org_catalog::list_org_plugins),
        )
        .route(
            "/api/orgs/{org_id}/plugins/upload",
            post(org_catalog::upload_org_plugin),
        )
        .route(
            "/api/orgs/{org_id}/plugins/{plugin}",
            patch(org_catalog::patch_org_plugin).delete(org_catalog::delete_org_plugin),
        )
        .route(
            "/api/orgs/{org_id}/plugins/{plugin}/versions",
            get(org_catalog::org_plugin_versions),
        )
        .route(
            "/api/orgs/{org_id}/plugins/{plugin}/settings-schema",
            get(org_catalog::org_plugin_settings_schema),
        )
        .route("/api/system/plugins", get(org_catalog::list_system_plugins))
        .route(
            "/api/system/plugins/upload",
            post(org_catalog::upload_system_plugin),
        )
        .route(
            "/api/system/plugins/{plugin}",
            patch(org_catalog::patch_system_plugin).delete(org_catalog::delete_system_plugin),
        )
        // Uploads count their own bytes while streaming (413 past 5 MB).
        .layer(DefaultBodyLimit::disable())
}

/// MCP router registration and the routing table: what the `router` function serves.
pub fn mcp_router_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/register", post(mcp_router::register_instance))
        .route(
            "/register/{plugin_slug}",
            get(mcp_router::get_routing_table),
        )
        .route(
            "/register/{plugin_slug}/{instance_id}",
            delete(mcp_router::deregister_instance),
        )
}

/// `/openapi.json` and `/healthz`.
pub fn meta_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/openapi.json", get(meta::openapi_document))
        .route("/healthz", get(meta::health))
}

/// Every route, as the local server mounts them, with problem+json for unknown
/// routes and wrong methods.
pub fn all_routes(state: Arc<AppState>) -> Router {
    with_fallbacks(
        Router::new()
            .merge(read_routes())
            .merge(publish_routes())
            .merge(deprecate_routes())
            .merge(unpublish_routes())
            .merge(key_routes())
            .merge(org_catalog_routes())
            .merge(mcp_router_routes())
            .merge(meta_routes()),
    )
    .with_state(state)
}

/// Adds problem+json answers for unknown routes (404) and wrong methods (405).
pub fn with_fallbacks(router: Router<Arc<AppState>>) -> Router<Arc<AppState>> {
    router
        .fallback(|| async { ApiError::not_found("no such route; see /openapi.json for the API") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
}

/// A JSON response with a cache policy: short and shared on a public registry,
/// private on a private one.
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
