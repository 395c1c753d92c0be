//! The MCP router's registration routes: `POST /register`,
//! `DELETE /register/{plugin_slug}/{instance_id}` and `GET /register/{plugin_slug}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use registry_core::mcp_router::{HealthStatus, McpRouterInstance};
use registry_core::registry::NewRegistration;
use serde::{Deserialize, Serialize};

use crate::auth::MaybeCaller;
use crate::body::{parse_json, read_limited};
use crate::problem::ApiError;
use crate::routes::json_response;
use crate::state::AppState;

const MAX_REGISTER_BODY: usize = 64 * 1024;

/// The spec's registration body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The plugin the instance serves.
    plugin_slug: String,
    /// The published version it runs.
    version: String,
    /// Where the router sends calls (http or https).
    url: String,
    /// The actions it serves; each must be declared by that version.
    actions: Vec<String>,
    /// What the health checker calls (http or https).
    health_check_url: String,
    /// The instance's identity.
    metadata: InstanceMetadata,
}

/// An instance's identity and placement.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceMetadata {
    /// Unique within the plugin: letters, digits, `.`, `_`, `-`, `:` (1 to 128).
    instance_id: String,
    /// Where it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    region: Option<String>,
}

/// The spec's registration answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegisterResponse {
    /// `registered`
    status: &'static str,
    /// The plugin.
    plugin_slug: String,
    /// The instance.
    instance_id: String,
    /// When this registration was made (unchanged by an identical re-registration).
    registered_at: String,
}

/// The answer to a deregistration.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeregisterResponse {
    /// `deregistered`
    status: &'static str,
    /// The plugin.
    plugin_slug: String,
    /// The instance removed.
    instance_id: String,
}

/// A plugin's live routing table.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RoutingTableResponse {
    /// The plugin.
    plugin_slug: String,
    /// Consecutive failed checks that take an instance out of the table.
    failure_threshold: u32,
    /// Instances in the table, in id order.
    instances: Vec<InstanceView>,
}

/// One instance in the routing table.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InstanceView {
    /// Its id.
    instance_id: String,
    /// The version it runs.
    version: String,
    /// Where to send calls.
    url: String,
    /// The actions it serves.
    actions: Vec<String>,
    /// What the health checker calls.
    health_check_url: String,
    /// Its identity, as registered.
    metadata: InstanceMetadata,
    /// When it registered.
    registered_at: String,
    /// Its checks so far.
    health: HealthView,
}

/// An instance's health, per check.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HealthView {
    /// `pending` (not checked yet), `passing` or `failing`.
    status: HealthStatus,
    /// Failed checks since the last passing one.
    consecutive_failures: u32,
    /// When it was last checked.
    last_checked_at: Option<String>,
    /// When a check last passed.
    last_ok_at: Option<String>,
    /// Why the last check failed.
    last_error: Option<String>,
    /// The sub-checks of its last passing answer.
    checks: BTreeMap<String, String>,
}

impl From<McpRouterInstance> for InstanceView {
    fn from(i: McpRouterInstance) -> Self {
        Self {
            metadata: InstanceMetadata {
                instance_id: i.instance_id.to_string(),
                region: i.region,
            },
            instance_id: i.instance_id.to_string(),
            version: i.version.to_string(),
            url: i.url.to_string(),
            actions: i.actions,
            health_check_url: i.health_check_url.to_string(),
            registered_at: i.registered_at.to_string(),
            health: HealthView {
                status: i.health.status(),
                consecutive_failures: i.health.consecutive_failures,
                last_checked_at: i.health.last_checked_at.map(|t| t.to_string()),
                last_ok_at: i.health.last_ok_at.map(|t| t.to_string()),
                last_error: i.health.last_error,
                checks: i.health.checks,
            },
        }
    }
}

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
            status: "registered",
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
            status: "deregistered",
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
