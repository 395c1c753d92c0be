//! The MCP router's registration routes: `POST /register`,
//! `DELETE /register/{plugin_slug}/{instance_id}` and `GET /register/{plugin_slug}`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use registry_core::registry::NewRegistration;

use crate::auth::MaybeCaller;
use crate::body::{parse_json, read_limited};
use crate::problem::ApiError;
use crate::routes::json_response;
use crate::state::AppState;
use registry_core::api::mcp_router::{
    DeregisterResponse, InstanceView, RegisterRequest, RegisterResponse, RoutingTableResponse,
};

const MAX_REGISTER_BODY: usize = 64 * 1024;

/// Registers an instance with the MCP router (a `router` key). The plugin version
/// must be published and declare every action; both URLs must be http(s) and
/// resolve only to addresses the registry may call. Registering the same thing
/// again is a no-op answered 200.
#[utoipa::path(
    post,
    path = "/register",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered (or re-registered with changes)", body = RegisterResponse),
        (status = 200, description = "Already registered exactly so; nothing changed", body = RegisterResponse),
        (status = 400, description = "Body is not the registration JSON"),
        (status = 403, description = "The key lacks the router scope"),
        (status = 409, description = "Another principal registered this instance_id"),
        (status = 413, description = "Body over 64 KiB"),
        (status = 422, description = "Unknown plugin, version or action, or a URL the registry will not call"),
    ),
    security(("api_key" = [])),
    tag = "router"
)]
pub async fn register_instance(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let bytes = read_limited(&headers, body, MAX_REGISTER_BODY).await?;
    let request: RegisterRequest = parse_json(&bytes)?;
    let registered = state
        .registry
        .register_instance(
            caller,
            NewRegistration {
                plugin_slug: request.plugin_slug,
                version: request.version,
                url: request.url,
                actions: request.actions,
                health_check_url: request.health_check_url,
                instance_id: request.metadata.instance_id,
                region: request.metadata.region,
            },
        )
        .await?;
    let instance = registered.instance;
    Ok(json_response(
        if registered.changed {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        &RegisterResponse {
            status: "registered".to_owned(),
            plugin_slug: instance.slug.to_string(),
            instance_id: instance.instance_id.to_string(),
            registered_at: instance.registered_at.to_string(),
        },
        true,
    ))
}

/// Removes an instance from the routing table (called on shutdown): the principal
/// that registered it, or an admin key.
#[utoipa::path(
    delete,
    path = "/register/{plugin_slug}/{instance_id}",
    params(
        ("plugin_slug" = String, Path, description = "Plugin slug"),
        ("instance_id" = String, Path, description = "The instance's metadata.instance_id"),
    ),
    responses(
        (status = 200, description = "Deregistered", body = DeregisterResponse),
        (status = 403, description = "Lacks the router scope, or registered by another principal"),
        (status = 404, description = "No such instance"),
    ),
    security(("api_key" = [])),
    tag = "router"
)]
pub async fn deregister_instance(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path((plugin_slug, instance_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let removed = state
        .registry
        .deregister_instance(caller, &plugin_slug, &instance_id)
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &DeregisterResponse {
            status: "deregistered".to_owned(),
            plugin_slug: removed.slug.to_string(),
            instance_id: removed.instance_id.to_string(),
        },
        true,
    ))
}

/// A plugin's live routing table, for routers (a `router` key): every instance not
/// yet removed by failed health checks, with its actions and per-check health.
#[utoipa::path(
    get,
    path = "/register/{plugin_slug}",
    params(("plugin_slug" = String, Path, description = "Plugin slug")),
    responses(
        (status = 200, description = "The routing table", body = RoutingTableResponse),
        (status = 403, description = "The key lacks the router scope"),
        (status = 404, description = "No such plugin"),
    ),
    security(("api_key" = [])),
    tag = "router"
)]
pub async fn get_routing_table(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(plugin_slug): Path<String>,
) -> Result<Response, ApiError> {
    let table = state
        .registry
        .routing_table(caller.0.as_ref(), &plugin_slug)
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &RoutingTableResponse {
            plugin_slug: table.slug.to_string(),
            failure_threshold: table.failure_threshold,
            instances: table
                .instances
                .into_iter()
                .map(InstanceView::from)
                .collect(),
        },
        true,
    ))
}
