//! `DELETE /plugins/{slug}/{version}`

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::auth::MaybeCaller;
use crate::problem::ApiError;
use crate::routes::json_response;
use crate::state::AppState;
use registry_core::api::plugins::UnpublishResponse;

/// Unpublishes a version: within 72 hours of publication, or once deprecated and
/// not downloaded for 7 days.
#[utoipa::path(
    delete,
    path = "/plugins/{slug}/{version}",
    params(("slug" = String, Path, description = "Plugin slug"), ("version" = String, Path, description = "Version")),
    responses(
        (status = 200, description = "Unpublished", body = UnpublishResponse),
        (status = 403, description = "Not the owner"),
        (status = 404, description = "No such plugin or version"),
        (status = 409, description = "Refused, with the reason"),
        (status = 410, description = "Already unpublished"),
    ),
    security(("api_key" = [])),
    tag = "publishing"
)]
pub async fn unpublish_version(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path((slug, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let done = state
        .registry
        .unpublish_version(caller, &slug, &version)
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &UnpublishResponse {
            status: "unpublished".to_owned(),
            slug: done.slug,
            version: done.version,
            unpublished_at: done.unpublished_at.to_string(),
        },
        true,
    ))
}
