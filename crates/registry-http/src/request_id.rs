//! Every request gets an id ([`RequestId`]): the one a gateway put in the
//! request's extensions, or a fresh one. Everything logged while it is served
//! carries it, and the response names it in `x-request-id`.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, Request};
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use registry_core::request::RequestId;
use tracing::Instrument;

/// The response header naming the request's id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Middleware: assigns the request its id, serves it within a span that
/// carries the id, and names the id on the response.
pub async fn assign_request_id(mut request: Request, next: Next) -> Response {
    let id = match request.extensions().get::<RequestId>() {
        Some(id) => Some(id.clone()),
        None => RequestId::generate().ok(),
    };
    let Some(id) = id else {
        // Without entropy there is no id to give; the request is still served.
        return next.run(request).await;
    };
    request.extensions_mut().insert(id.clone());
    let span = tracing::info_span!("request", request_id = %id);
    let mut response = next.run(request).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// The id of the request being served, for the services' audit records;
/// `None` only when no id could be made.
#[derive(Debug, Clone)]
pub struct CurrentRequest(pub Option<RequestId>);

impl CurrentRequest {
    /// The id in `parts`' extensions.
    pub fn of(parts: &Parts) -> Option<RequestId> {
        parts.extensions.get::<RequestId>().cloned()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentRequest {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(Self::of(parts)))
    }
}
