//! The `Authorization: Bearer sk_...` extractor.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use registry_core::RegistryError;
use registry_core::auth::Caller;

use crate::problem::ApiError;
use crate::request_id::CurrentRequest;
use crate::state::AppState;

/// The authenticated caller, if the request carried a key. A key that is present
/// but invalid is refused (401) rather than silently treated as anonymous.
#[derive(Debug, Clone)]
pub struct MaybeCaller(pub Option<Caller>);

impl MaybeCaller {
    /// The caller, or 401 when the request carried no key.
    pub fn required(&self) -> Result<&Caller, ApiError> {
        self.0.as_ref().ok_or_else(|| {
            RegistryError::Unauthenticated {
                detail: "this request needs an API key: send 'Authorization: Bearer sk_...'"
                    .to_owned(),
            }
            .into()
        })
    }
}

impl FromRequestParts<Arc<AppState>> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let caller = bearer_caller(parts, state).await?;
        if caller
            .as_ref()
            .is_some_and(|c| c.publish_token_publishers().is_some())
        {
            return Err(RegistryError::Forbidden {
                detail: "a publish token from trusted publishing only publishes (POST /plugins, PUT /plugins/{slug}, POST /uploads); use an API key for anything else".to_owned(),
            }
            .into());
        }
        Ok(Self(caller))
    }
}

/// The caller of a publishing route: like [`MaybeCaller`], and a publish token
/// from trusted publishing is accepted too.
#[derive(Debug, Clone)]
pub struct PublishingCaller(pub MaybeCaller);

impl FromRequestParts<Arc<AppState>> for PublishingCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(MaybeCaller(bearer_caller(parts, state).await?)))
    }
}

/// The caller the `Authorization` header names, if any; a header that is
/// present but names no live credential is refused.
async fn bearer_caller(parts: &Parts, state: &Arc<AppState>) -> Result<Option<Caller>, ApiError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let unauthenticated = |detail: &str| {
        ApiError::from(RegistryError::Unauthenticated {
            detail: detail.to_owned(),
        })
    };
    let text = value
        .to_str()
        .map_err(|_| unauthenticated("the Authorization header is not valid text"))?;
    let secret = text
        .strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("bearer "))
        .ok_or_else(|| unauthenticated("use 'Authorization: Bearer sk_...'"))?;
    let caller = state.registry.authenticate(secret.trim()).await?;
    Ok(Some(caller.in_request(CurrentRequest::of(parts))))
}
