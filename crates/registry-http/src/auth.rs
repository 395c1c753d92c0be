//! The `Authorization: Bearer sk_...` extractor.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use registry_core::RegistryError;
use registry_core::auth::Caller;

use registry_index::path::FileKind;

use crate::problem::ApiError;
use crate::request_id::CurrentRequest;
use crate::session::BrowserSession;
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

/// Who reads a route that serves pages as well as JSON: the caller a key names
/// and, on a private registry, the signed-in browser a session cookie names.
///
/// The session counts for the web catalog's pages and what they load (their
/// stylesheet, script and charts) and for nothing else: JSON, downloads, index
/// files and search take a key, as on every other route.
#[derive(Debug, Clone)]
pub struct Reader {
    key: Option<Caller>,
    session: Option<Caller>,
}

impl Reader {
    /// Whether this reader is shown pages: anyone on a public registry, a
    /// signed-in browser on a private one.
    pub fn sees_pages(&self, state: &AppState) -> bool {
        !state.registry.config().private || self.session.is_some()
    }

    /// The caller that may read a file of `kind` (`None`: an answer that is not
    /// an index file, which only a key may read).
    pub fn caller_for(&self, kind: Option<FileKind>) -> Option<&Caller> {
        match kind {
            Some(FileKind::Page | FileKind::Asset | FileKind::Chart) => {
                self.key.as_ref().or(self.session.as_ref())
            }
            _ => self.key.as_ref(),
        }
    }

    /// Whether neither a key nor a session came with the request.
    pub fn is_anonymous(&self) -> bool {
        self.key.is_none() && self.session.is_none()
    }
}

impl FromRequestParts<Arc<AppState>> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let MaybeCaller(key) = MaybeCaller::from_request_parts(parts, state).await?;
        // A public registry's pages are everyone's: no session is looked up.
        let session = if key.is_none() && state.registry.config().private {
            BrowserSession::from_request_parts(parts, state)
                .await?
                .0
                .map(|s| s.caller)
        } else {
            None
        };
        Ok(Self { key, session })
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
