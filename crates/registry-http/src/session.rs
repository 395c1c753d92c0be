//! Browser sessions at the HTTP edge: the cookies, the signed-in browser
//! extractor, `application/x-www-form-urlencoded` forms and their anti-forgery
//! check, and answering a browser with a page rather than a problem document.
//!
//! Cookies only ever authenticate the pages' own routes; the API takes
//! `Authorization: Bearer` keys alone, so no other site can make a browser call
//! the API with its session.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use registry_core::RegistryError;
use registry_core::artifact::PRIVATE_CACHE_CONTROL;
use registry_core::registry::SessionCaller;
use registry_pages::Site;

use crate::body::{media_type, read_limited};
use crate::problem::ApiError;
use crate::request_id::CurrentRequest;
use crate::state::AppState;

/// The session cookie.
pub const SESSION_COOKIE: &str = "ow_session";

/// The cookie that carries a sign-in from its start to the provider's callback.
pub const SIGN_IN_COOKIE: &str = "ow_sign_in";

/// The largest form body read, in bytes.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// The value of cookie `name` in the request, if it sent one.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
}

/// A `Set-Cookie` value for `name`: readable by no script, sent only over HTTPS
/// (browsers treat `localhost` as secure), not on cross-site subrequests or
/// posts, lasting `max_age_seconds` (0 deletes it).
pub(crate) fn set_cookie(name: &str, value: &str, max_age_seconds: i64) -> HeaderValue {
    let text = format!(
        "{name}={value}; Path=/; Max-Age={}; HttpOnly; Secure; SameSite=Lax",
        max_age_seconds.max(0)
    );
    // Names are constants and values hex, so this is always a valid header.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The signed-in browser, if the request carries a live session's cookie.
pub struct BrowserSession(pub Option<SessionCaller>);

impl FromRequestParts<Arc<AppState>> for BrowserSession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Some(value) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Ok(Self(None));
        };
        let mut session = state.registry.session_caller(value).await?;
        if let Some(session) = &mut session {
            session.caller.request = CurrentRequest::of(parts);
        }
        Ok(Self(session))
    }
}

impl BrowserSession {
    /// The session, or 401 telling the person to sign in.
    pub fn required(self) -> Result<SessionCaller, ApiError> {
        self.0.ok_or_else(|| {
            RegistryError::Unauthenticated {
                detail: "sign in first: your session has ended or you never signed in".to_owned(),
            }
            .into()
        })
    }
}

/// A posted form's fields, in order (a field may repeat).
pub struct PostedForm(Vec<(String, String)>);

impl PostedForm {
    /// Reads an `application/x-www-form-urlencoded` body: 415 for any other type,
    /// 413 past [`MAX_FORM_BYTES`].
    pub async fn read(headers: &HeaderMap, body: Body) -> Result<Self, ApiError> {
        if media_type(headers).as_deref() != Some("application/x-www-form-urlencoded") {
            return Err(ApiError::unsupported_media_type(
                "post this form as application/x-www-form-urlencoded",
            ));
        }
        let bytes = read_limited(headers, body, MAX_FORM_BYTES).await?;
        Ok(Self(
            url::form_urlencoded::parse(&bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }

    /// The first value of field `name`.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of field `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Checks that the form carries `session`'s anti-forgery token (403 if not):
    /// only this registry's own pages know it.
    pub fn check_csrf(&self, session: &SessionCaller) -> Result<(), ApiError> {
        match self.first("csrf") {
            Some(token) if session.secret.csrf_token_matches(token) => Ok(()),
            _ => Err(RegistryError::CsrfRejected.into()),
        }
    }
}

/// A form posted by a signed-in browser from one of this registry's pages: read
/// as a form (415 otherwise), from a live session (401), carrying that session's
/// anti-forgery token (403). A refusal is answered as [`browser_answer`] does.
pub struct SignedInForm {
    /// Who posted it.
    pub session: SessionCaller,
    /// Its fields.
    pub form: PostedForm,
}

impl FromRequest<Arc<AppState>> for SignedInForm {
    type Rejection = Response;

    async fn from_request(
        request: axum::extract::Request,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let result = async {
            let session = BrowserSession::from_request_parts(&mut parts, state).await?;
            // The form is read first: a request that is no form is told so (415)
            // whoever sends it.
            let form = PostedForm::read(&parts.headers, body).await?;
            let session = session.required()?;
            form.check_csrf(&session)?;
            Ok(Self { session, form })
        }
        .await;
        result.map_err(|error| browser_answer(state, &parts.headers, Err(error)))
    }
}

/// A page for a person: HTML, never stored by any cache (it is theirs alone).
pub(crate) fn personal_page(status: StatusCode, html: String) -> Response {
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(registry_pages::HTML_CONTENT_TYPE),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(PRIVATE_CACHE_CONTROL),
    );
    crate::routes::plugins::index_file::page_headers(headers);
    response
}

/// A `303 See Other` to `location`, never cached.
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(PRIVATE_CACHE_CONTROL),
    );
    response
}

/// The address a request asked for, path and query: where signing in comes
/// back to.
pub(crate) fn asked_for(uri: &axum::http::Uri) -> &str {
    uri.path_and_query()
        .map_or_else(|| uri.path(), |p| p.as_str())
}

/// A `303 See Other` to the sign-in page, coming back to `here` (a path on this
/// registry, from its root) once signed in.
pub(crate) fn sign_in_first(site: &Site, here: &str) -> Response {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", here)
        .finish();
    see_other(&format!("{}/auth/login?{query}", site.base()))
}

/// Answers a browser route: `result` itself, or its error as a page for a
/// browser and as a problem document for a program.
pub(crate) fn browser_answer(
    state: &AppState,
    request_headers: &HeaderMap,
    result: Result<Response, ApiError>,
) -> Response {
    let error = match result {
        Ok(response) => return response,
        Err(error) => error,
    };
    let accept = request_headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    if !registry_index::path::prefers_html(accept) {
        return error.into_response();
    }
    let site = Site::new(&state.registry.config().public_url);
    let status = error.status();
    let heading = status.canonical_reason().unwrap_or("Error");
    match registry_pages::refusal_page(&site, heading, error.detail()) {
        Ok(html) => personal_page(status, html),
        Err(e) => {
            tracing::error!(
                error = &e as &dyn std::error::Error,
                "rendering a page failed"
            );
            error.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("ow_session_x=1; ow_session=abc; other=2"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, SIGN_IN_COOKIE), None);
    }

    #[test]
    fn session_cookies_are_closed_to_scripts_and_other_sites() {
        let value = set_cookie(SESSION_COOKIE, "abc", 60);
        let text = value.to_str().unwrap_or_default();
        for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Max-Age=60", "Path=/"] {
            assert!(text.contains(attribute), "{text} lacks {attribute}");
        }
    }
}
