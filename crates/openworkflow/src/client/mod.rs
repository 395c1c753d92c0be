//! The registry's HTTP API, as a typed client.
//!
//! Reads are retried with backoff on 5xx answers, timeouts and dropped
//! connections. Writes that are not safe to repeat (publish, key creation) are
//! retried only when the registry cannot have acted on them: a refused
//! connection, 429 or 503. Every 4xx answer keeps the registry's problem+json body,
//! so a caller sees exactly which field to fix.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use registry_core::api::device::{
    DeviceAuthorizationRequest, DeviceAuthorizationResponse, DeviceTokenRequest,
};
use registry_core::api::keys::{CreateKeyRequest, CreatedKeyResponse, KeyInfo, KeyList};
use registry_core::api::plugins::{
    CreateUploadRequest, DeprecateRequest, DeprecateResponse, PendingReviewResponse,
    PublishResponse, UnpublishResponse, UpdateResponse, UploadTicketResponse,
};
use registry_core::auth::Scope;
use registry_core::manifest::DocumentFormat;
use reqwest::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, ETAG, HeaderMap, IF_NONE_MATCH,
};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

mod analytics;
mod api_key;
mod audit;
mod cache;
mod checksum;
mod error;
mod owners;
mod progress;
mod reports;
mod retry;
mod reviews;
mod trusted_publishing;
mod webhooks;

pub use api_key::ApiKey;
use cache::HttpCache;
pub use checksum::{check_sha256, sha256_hex};
use error::problem_of_status;
pub use error::{ClientError, Problem};
pub use progress::{Direction, ProgressSink};
pub use retry::RetryPolicy;
use retry::{Outcome, Repeatable, backoff, should_retry};

use crate::mcp_router::{
    DeregisterResponse, RegisterRequest, RegisterResponse, Registration, RoutingTableResponse,
};

/// The public community registry.
pub const DEFAULT_REGISTRY: &str = "https://registry.openworkflowspec.org";

/// How long one request may take, start to end.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Upload chunk size when progress is reported.
const UPLOAD_CHUNK: usize = 64 * 1024;
/// Most bytes reserved up front for a download, whatever length it announces.
const MAX_DOWNLOAD_RESERVATION: u64 = 16 * 1024 * 1024;

/// `GET /plugins/{slug}`: the fields the client uses; the rest is kept in `other`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginDetails {
    /// Plugin slug.
    pub slug: String,
    /// This version.
    pub version: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Live versions, newest first.
    #[serde(default)]
    pub versions: Vec<String>,
    /// SHA-256 of the exact bytes the schema download serves.
    pub sha256: String,
    /// Where the schema is served.
    #[serde(default)]
    pub schema_url: String,
    /// The deprecation notice, if any.
    #[serde(default)]
    pub deprecated: Option<DeprecationNotice>,
    /// Where the bundle is served, for versions published as one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_url: Option<String>,
    /// SHA-256 of the bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_sha256: Option<String>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// Why a version is deprecated and what to use instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeprecationNotice {
    /// The author's reason.
    pub reason: String,
    /// The version to move to, if named.
    #[serde(default)]
    pub replacement_version: Option<String>,
    /// When it was deprecated.
    #[serde(default)]
    pub deprecated_at: Option<String>,
}

pub use registry_core::api::{SearchHit, SearchPage};

/// What to publish.
#[derive(Debug, Clone)]
pub enum PublishPayload {
    /// A bare schema document.
    Document {
        /// Its bytes, exactly as they will be served.
        bytes: Bytes,
        /// JSON or YAML.
        format: DocumentFormat,
    },
    /// A ZIP bundle with `plugin.yaml` or `plugin.json` at its root.
    Bundle {
        /// The ZIP.
        bytes: Bytes,
    },
}

impl PublishPayload {
    /// Bytes that will be sent.
    pub fn len(&self) -> usize {
        match self {
            Self::Document { bytes, .. } | Self::Bundle { bytes } => bytes.len(),
        }
    }

    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `schema` or `bundle`, as progress names the upload.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Document { .. } => "schema",
            Self::Bundle { .. } => "bundle",
        }
    }

    fn content_type(&self) -> &'static str {
        match self {
            Self::Document { format, .. } => format.content_type(),
            Self::Bundle { .. } => "application/zip",
        }
    }
}

/// What a publish or update answered ([`PublishResponse`] or [`UpdateResponse`]),
/// with the new details' ETag from the headers: what `--json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// `published`, `updated`, or `pending_review` when the registry holds the
    /// version for a reviewer.
    pub status: String,
    /// The plugin.
    pub slug: String,
    /// The new version.
    pub version: String,
    /// The plugin's URL (publish); the review's while the version waits for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The highest version before this one (update).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<String>,
    /// The new details' ETag, when the registry builds its index in process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details_etag: Option<String>,
}

/// A key just created: the only time its secret is shown, kept in an [`ApiKey`]
/// so no `Debug` or log line shows it.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    /// The secret, `sk_...`.
    pub secret: ApiKey,
    /// Everything else about it.
    pub info: KeyInfo,
}

/// Where a device sign-in stands, as one poll found it.
#[derive(Debug)]
pub enum DevicePoll {
    /// Confirmed: the terminal's new key (boxed: the other answers are empty).
    Key(Box<CreatedKey>),
    /// Not confirmed yet: poll again after the interval.
    Pending,
    /// Polled too fast: add five seconds to the interval.
    SlowDown,
}

/// A client for one registry.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    base: Url,
    key: Option<ApiKey>,
    http: reqwest::Client,
    retry: RetryPolicy,
    cache: Option<HttpCache>,
    progress: Option<std::sync::Arc<dyn ProgressSink>>,
}

impl RegistryClient {
    /// A client for the registry at `base` (such as `https://registry.example.com`),
    /// sending `key` when given.
    pub fn new(base: &Url, key: Option<ApiKey>) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("openworkflow/", env!("CARGO_PKG_VERSION")))
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(ClientError::Transport)?;
        Ok(Self {
            base: base.clone(),
            key,
            http,
            retry: RetryPolicy::default(),
            cache: None,
            progress: None,
        })
    }

    /// Retries as `policy` says.
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Keeps downloaded documents in `dir` and revalidates them by ETag.
    pub fn with_cache(mut self, dir: PathBuf) -> Self {
        self.cache = Some(HttpCache { dir });
        self
    }

    /// Reports schema and bundle transfers to `sink`.
    pub fn with_progress(mut self, sink: std::sync::Arc<dyn ProgressSink>) -> Self {
        self.progress = Some(sink);
        self
    }

    /// A request body for `bytes` that reports its upload as `what`; sized, so the
    /// request still carries a Content-Length (presigned PUTs require one).
    fn upload_body(&self, what: &str, bytes: &Bytes) -> reqwest::Body {
        let Some(sink) = &self.progress else {
            return reqwest::Body::from(bytes.clone());
        };
        sink.started(what, Direction::Upload, Some(bytes.len() as u64));
        let chunks: Vec<Bytes> = (0..bytes.len())
            .step_by(UPLOAD_CHUNK)
            .map(|at| bytes.slice(at..(at + UPLOAD_CHUNK).min(bytes.len())))
            .collect();
        let (sink, what) = (std::sync::Arc::clone(sink), what.to_owned());
        let stream = futures_util::stream::iter(chunks).map(move |chunk| {
            sink.advanced(&what, chunk.len() as u64);
            Ok::<_, std::io::Error>(chunk)
        });
        reqwest::Body::wrap_stream(stream)
    }

    fn upload_finished(&self, what: &str) {
        if let Some(sink) = &self.progress {
            sink.finished(what);
        }
    }

    /// A response's body, reported as `what` when progress is wanted.
    async fn read_body(
        &self,
        response: Response,
        what: Option<&str>,
    ) -> Result<Bytes, ClientError> {
        let (Some(sink), Some(what)) = (&self.progress, what) else {
            return response.bytes().await.map_err(ClientError::Transport);
        };
        let total = response.content_length();
        sink.started(what, Direction::Download, total);
        let reserve = total.unwrap_or(0).min(MAX_DOWNLOAD_RESERVATION);
        let mut body = bytes::BytesMut::with_capacity(usize::try_from(reserve).unwrap_or(0));
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(ClientError::Transport)?;
            sink.advanced(what, chunk.len() as u64);
            body.extend_from_slice(&chunk);
        }
        sink.finished(what);
        Ok(body.freeze())
    }

    /// The registry's base URL, without the trailing slash.
    pub fn registry_url(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_owned()
    }

    /// Whether a key will be sent.
    pub fn has_key(&self) -> bool {
        self.key.is_some()
    }

    /// The registry URL with `segments` appended, each percent-encoded, so a value
    /// such as `a/b` stays one segment instead of adding a level to the path.
    fn url_of(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Sends the request `build` makes, retrying as `repeatable` allows, and
    /// turns an error status into a [`ClientError`].
    async fn send(
        &self,
        repeatable: Repeatable,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, ClientError> {
        let mut attempt = 1;
        loop {
            let mut request = build();
            if let Some(key) = &self.key {
                request = request.header(AUTHORIZATION, format!("Bearer {}", key.expose()));
            }
            let outcome = request.send().await;
            let retry = should_retry(
                match &outcome {
                    Ok(response) => Outcome::Answered(response.status()),
                    Err(e) if e.is_connect() => Outcome::NotConnected,
                    Err(_) => Outcome::Interrupted,
                },
                repeatable,
            );
            // A registry that says when to come back is taken at its word, for
            // a wait a terminal can sit through; a longer one is reported.
            let asked_wait = match &outcome {
                Ok(response) => retry_after(response.status(), response.headers()),
                Err(_) => None,
            };
            let wait = match asked_wait {
                Some(wait) if wait > MAX_RETRY_AFTER => None,
                Some(wait) => Some(wait),
                None => Some(backoff(self.retry, attempt)),
            };
            if retry
                && attempt < self.retry.attempts
                && let Some(wait) = wait
            {
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            let response = outcome.map_err(ClientError::Transport)?;
            let status = response.status();
            if status.is_success() || status == StatusCode::NOT_MODIFIED {
                return Ok(response);
            }
            let body = response.bytes().await.unwrap_or_default();
            let problem = serde_json::from_slice::<Problem>(&body)
                .ok()
                .filter(|p| p.status != 0)
                .unwrap_or_else(|| problem_of_status(status, &body));
            return Err(ClientError::of_status(status, problem));
        }
    }

    async fn json<T: serde::de::DeserializeOwned>(
        url: &Url,
        response: Response,
    ) -> Result<T, ClientError> {
        let bytes = response.bytes().await.map_err(ClientError::Transport)?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::UnexpectedResponse {
            url: url.to_string(),
            detail: e.to_string(),
        })
    }

    /// A GET that revalidates a cached copy by ETag; answers the body.
    async fn get_cached(&self, url: &Url) -> Result<Bytes, ClientError> {
        self.get_revalidated(url, true, None).await
    }

    /// A download checked against `expected_sha256`. A cached copy that fails the
    /// check (a damaged cache) is dropped and the document fetched again.
    async fn get_checked(
        &self,
        url: &Url,
        what: &str,
        expected_sha256: &str,
    ) -> Result<Bytes, ClientError> {
        let bytes = self.get_revalidated(url, true, Some(what)).await?;
        if check_sha256(what, &bytes, expected_sha256).is_ok() {
            return Ok(bytes);
        }
        let bytes = self.get_revalidated(url, false, Some(what)).await?;
        check_sha256(what, &bytes, expected_sha256)?;
        Ok(bytes)
    }

    async fn get_revalidated(
        &self,
        url: &Url,
        use_cache: bool,
        what: Option<&str>,
    ) -> Result<Bytes, ClientError> {
        let cached = self
            .cache
            .as_ref()
            .filter(|_| use_cache)
            .and_then(|c| c.load(url));
        let response = self
            .send(Repeatable::Yes, || {
                let request = self.http.get(url.clone());
                match &cached {
                    Some((etag, _)) => request.header(IF_NONE_MATCH, etag),
                    None => request,
                }
            })
            .await?;
        if response.status() == StatusCode::NOT_MODIFIED
            && let Some((_, body)) = cached
        {
            return Ok(body);
        }
        let etag = header_text(response.headers(), ETAG);
        let body = self.read_body(response, what).await?;
        if let (Some(cache), Some(etag)) = (&self.cache, etag) {
            // A cache that cannot be written only costs a download next time.
            let _ = cache.store(url, &etag, &body);
        }
        Ok(body)
    }

    /// `GET /plugins/{slug}[?version=]`: a version's details (the latest when
    /// `version` is `None`).
    pub async fn plugin_details(
        &self,
        slug: &str,
        version: Option<&str>,
    ) -> Result<PluginDetails, ClientError> {
        let mut url = self.url_of(&["plugins", slug]);
        if let Some(version) = version {
            url.query_pairs_mut().append_pair("version", version);
        }
        let body = self.get_cached(&url).await?;
        serde_json::from_slice(&body).map_err(|e| ClientError::UnexpectedResponse {
            url: url.to_string(),
            detail: e.to_string(),
        })
    }

    /// `GET /plugins/{slug}/{version}/schema`: the document exactly as published,
    /// checked against `expected_sha256`.
    pub async fn schema(
        &self,
        slug: &str,
        version: &str,
        expected_sha256: &str,
    ) -> Result<Bytes, ClientError> {
        let url = self.url_of(&["plugins", slug, version, "schema"]);
        self.get_checked(&url, &format!("{slug}@{version} schema"), expected_sha256)
            .await
    }

    /// `GET /plugins/{slug}/{version}/bundle`, checked against `expected_sha256`.
    pub async fn bundle(
        &self,
        slug: &str,
        version: &str,
        expected_sha256: &str,
    ) -> Result<Bytes, ClientError> {
        let url = self.url_of(&["plugins", slug, version, "bundle"]);
        self.get_checked(&url, &format!("{slug}@{version} bundle"), expected_sha256)
            .await
    }

    /// `GET /index/{path}`: a file of the registry's signed static index.
    pub async fn index_file(&self, path: &str) -> Result<Bytes, ClientError> {
        let segments: Vec<&str> = std::iter::once("index").chain(path.split('/')).collect();
        let url = self.url_of(&segments);
        self.get_cached(&url).await
    }

    /// `GET /plugins/search`.
    pub async fn search(
        &self,
        q: Option<&str>,
        tag: Option<&str>,
        limit: Option<usize>,
    ) -> Result<SearchPage, ClientError> {
        let url = self.url_of(&["plugins", "search"]);
        let mut query: Vec<(&str, String)> = Vec::new();
        query.extend(q.map(|q| ("q", q.to_owned())));
        query.extend(tag.map(|t| ("tag", t.to_owned())));
        query.extend(limit.map(|l| ("limit", l.to_string())));
        let response = self
            .send(Repeatable::Yes, || self.http.get(url.clone()).query(&query))
            .await?;
        Self::json(&url, response).await
    }

    /// `POST /plugins` (or `PUT /plugins/{slug}` when `update` names the plugin).
    /// A bundle goes through `POST /uploads` when the registry offers it, and in
    /// the request body when it does not.
    pub async fn publish(
        &self,
        payload: &PublishPayload,
        update: Option<&str>,
    ) -> Result<Published, ClientError> {
        let (method, url) = match update {
            Some(slug) => (Method::PUT, self.url_of(&["plugins", slug])),
            None => (Method::POST, self.url_of(&["plugins"])),
        };
        let upload_id = match payload {
            PublishPayload::Bundle { bytes } => self.upload_bundle(bytes).await?,
            PublishPayload::Document { .. } => None,
        };
        let response = match (&upload_id, payload) {
            (Some(id), _) => {
                let mut url = url.clone();
                url.query_pairs_mut().append_pair("upload_id", id);
                self.send(Repeatable::OnlyIfUnprocessed, || {
                    self.http.request(method.clone(), url.clone())
                })
                .await?
            }
            (None, PublishPayload::Document { bytes, .. } | PublishPayload::Bundle { bytes }) => {
                let what = payload.kind();
                let response = self
                    .send(Repeatable::OnlyIfUnprocessed, || {
                        self.http
                            .request(method.clone(), url.clone())
                            .header(CONTENT_TYPE, payload.content_type())
                            .header(CONTENT_LENGTH, bytes.len())
                            .body(self.upload_body(what, bytes))
                    })
                    .await;
                self.upload_finished(what);
                response?
            }
        };
        let details_etag = header_text(response.headers(), ETAG);
        if response.status() == StatusCode::ACCEPTED {
            let answer: PendingReviewResponse = Self::json(&url, response).await?;
            return Ok(Published {
                status: answer.status,
                slug: answer.slug,
                version: answer.version,
                url: Some(answer.review_url),
                previous_version: None,
                details_etag: None,
            });
        }
        Ok(if update.is_some() {
            let answer: UpdateResponse = Self::json(&url, response).await?;
            Published {
                status: answer.status,
                slug: answer.slug,
                version: answer.version,
                url: None,
                previous_version: answer.previous_version,
                details_etag,
            }
        } else {
            let answer: PublishResponse = Self::json(&url, response).await?;
            Published {
                status: answer.status,
                slug: answer.slug,
                version: answer.version,
                url: Some(answer.url),
                previous_version: None,
                details_etag,
            }
        })
    }

    /// Sends a bundle through `POST /uploads` and a presigned PUT; `None` when
    /// the registry takes bundles in the request body instead.
    async fn upload_bundle(&self, bytes: &Bytes) -> Result<Option<String>, ClientError> {
        let url = self.url_of(&["uploads"]);
        let request = CreateUploadRequest {
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(bytes)),
        };
        let ticket: UploadTicketResponse = match self
            .send(Repeatable::OnlyIfUnprocessed, || {
                self.http.post(url.clone()).json(&request)
            })
            .await
        {
            Ok(response) => Self::json(&url, response).await?,
            Err(ClientError::NotFound(problem)) if problem.code == "uploads_unsupported" => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let target = Url::parse(&ticket.url).map_err(|e| ClientError::UnexpectedResponse {
            url: url.to_string(),
            detail: format!("upload URL: {e}"),
        })?;
        // The presigned URL carries its own authorisation: no registry key.
        let what = "bundle";
        let mut put = self
            .http
            .put(target)
            .header(CONTENT_LENGTH, bytes.len())
            .body(self.upload_body(what, bytes));
        for (name, value) in &ticket.headers {
            put = put.header(name, value);
        }
        let response = put.send().await;
        self.upload_finished(what);
        let response = response.map_err(ClientError::Transport)?;
        if !response.status().is_success() {
            let status = response.status();
            let body = response.bytes().await.unwrap_or_default();
            return Err(ClientError::of_status(
                status,
                problem_of_status(status, &body),
            ));
        }
        Ok(Some(ticket.upload_id))
    }

    /// `POST /plugins/{slug}/{version}/deprecate`.
    pub async fn deprecate(
        &self,
        slug: &str,
        version: &str,
        reason: &str,
        replacement_version: Option<&str>,
    ) -> Result<DeprecateResponse, ClientError> {
        let url = self.url_of(&["plugins", slug, version, "deprecate"]);
        let body = DeprecateRequest {
            reason: reason.to_owned(),
            replacement_version: replacement_version.map(str::to_owned),
        };
        let response = self
            .send(Repeatable::Yes, || self.http.post(url.clone()).json(&body))
            .await?;
        Self::json(&url, response).await
    }

    /// `DELETE /plugins/{slug}/{version}`.
    pub async fn unpublish(
        &self,
        slug: &str,
        version: &str,
    ) -> Result<UnpublishResponse, ClientError> {
        let url = self.url_of(&["plugins", slug, version]);
        let response = self
            .send(Repeatable::Yes, || self.http.delete(url.clone()))
            .await?;
        Self::json(&url, response).await
    }

    /// `POST /auth/keys`: a new key for the caller's principal, expiring after
    /// `expires_in_days` (the registry's default when `None`), for only `plugins`
    /// when any are named.
    pub async fn create_key(
        &self,
        name: &str,
        scopes: &[Scope],
        expires_in_days: Option<u32>,
        plugins: &[String],
    ) -> Result<CreatedKey, ClientError> {
        let url = self.url_of(&["auth", "keys"]);
        let body = CreateKeyRequest {
            name: name.to_owned(),
            scopes: (!scopes.is_empty()).then(|| scopes.to_vec()),
            principal: None,
            new_principal: None,
            expires_in_days,
            plugins: (!plugins.is_empty()).then(|| plugins.to_vec()),
        };
        let response = self
            .send(Repeatable::OnlyIfUnprocessed, || {
                self.http.post(url.clone()).json(&body)
            })
            .await?;
        let answer: CreatedKeyResponse = Self::json(&url, response).await?;
        Ok(CreatedKey {
            secret: ApiKey::new(answer.key),
            info: answer.info,
        })
    }

    /// `POST /auth/device`: begins signing this terminal in; a person confirms the
    /// answer's `user_code` at its `verification_uri`.
    pub async fn start_device_sign_in(
        &self,
        key_name: &str,
    ) -> Result<DeviceAuthorizationResponse, ClientError> {
        let url = self.url_of(&["auth", "device"]);
        let body = DeviceAuthorizationRequest {
            key_name: Some(key_name.to_owned()),
        };
        let response = self
            .send(Repeatable::Yes, || self.http.post(url.clone()).json(&body))
            .await?;
        Self::json(&url, response).await
    }

    /// `POST /auth/device/token`: one poll of a device sign-in. Refusals that end
    /// it (`expired_token`, `access_denied`, `invalid_grant`) are errors.
    pub async fn poll_device_sign_in(&self, device_code: &str) -> Result<DevicePoll, ClientError> {
        let url = self.url_of(&["auth", "device", "token"]);
        let body = DeviceTokenRequest {
            device_code: device_code.to_owned(),
        };
        // A key is handed out once: a poll whose answer was lost is not repeated.
        let response = self
            .send(Repeatable::OnlyIfUnprocessed, || {
                self.http.post(url.clone()).json(&body)
            })
            .await;
        match response {
            Ok(response) => {
                let answer: CreatedKeyResponse = Self::json(&url, response).await?;
                Ok(DevicePoll::Key(Box::new(CreatedKey {
                    secret: ApiKey::new(answer.key),
                    info: answer.info,
                })))
            }
            Err(ClientError::Rejected(problem)) if problem.code == "authorization_pending" => {
                Ok(DevicePoll::Pending)
            }
            Err(ClientError::Rejected(problem)) if problem.code == "slow_down" => {
                Ok(DevicePoll::SlowDown)
            }
            Err(other) => Err(other),
        }
    }

    /// `POST /register`: adds (or refreshes) an instance in the MCP router's
    /// routing table. Safe to repeat: the same registration again changes nothing.
    pub async fn register_instance(
        &self,
        registration: &RegisterRequest,
    ) -> Result<Registration, ClientError> {
        let url = self.url_of(&["register"]);
        let response = self
            .send(Repeatable::Yes, || {
                self.http.post(url.clone()).json(registration)
            })
            .await?;
        let changed = response.status() == StatusCode::CREATED;
        let answer: RegisterResponse = Self::json(&url, response).await?;
        Ok(Registration { answer, changed })
    }

    /// `DELETE /register/{plugin_slug}/{instance_id}`: takes an instance out of
    /// the routing table, as it shuts down.
    pub async fn deregister_instance(
        &self,
        plugin_slug: &str,
        instance_id: &str,
    ) -> Result<DeregisterResponse, ClientError> {
        let url = self.url_of(&["register", plugin_slug, instance_id]);
        let response = self
            .send(Repeatable::Yes, || self.http.delete(url.clone()))
            .await?;
        Self::json(&url, response).await
    }

    /// `GET /register/{plugin_slug}`: the plugin's live routing table, with each
    /// instance's health (a `router` key).
    pub async fn routing_table(
        &self,
        plugin_slug: &str,
    ) -> Result<RoutingTableResponse, ClientError> {
        let url = self.url_of(&["register", plugin_slug]);
        let response = self
            .send(Repeatable::Yes, || self.http.get(url.clone()))
            .await?;
        Self::json(&url, response).await
    }

    /// `GET /auth/keys`: the keys of the caller's principal (which also proves the
    /// key is live).
    pub async fn list_keys(&self) -> Result<Vec<KeyInfo>, ClientError> {
        let url = self.url_of(&["auth", "keys"]);
        let response = self
            .send(Repeatable::Yes, || self.http.get(url.clone()))
            .await?;
        Ok(Self::json::<KeyList>(&url, response).await?.keys)
    }

    /// `DELETE /auth/keys/{key_id}`: revokes a key of the caller's principal (an
    /// admin: any key). Revoking a revoked key changes nothing.
    pub async fn revoke_key(&self, key_id: &str) -> Result<KeyInfo, ClientError> {
        let url = self.url_of(&["auth", "keys", key_id]);
        let response = self
            .send(Repeatable::Yes, || self.http.delete(url.clone()))
            .await?;
        Self::json(&url, response).await
    }
}

/// The longest `Retry-After` a request waits out before trying again.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The wait a 429 or 503 asks for in `Retry-After` (seconds; a date is not
/// honoured, the backoff applies then).
fn retry_after(status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
    if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::SERVICE_UNAVAILABLE {
        return None;
    }
    header_text(headers, reqwest::header::RETRY_AFTER)?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

fn header_text(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_limits_retry_after_is_read_in_seconds_and_only_from_429_or_503() {
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(
            retry_after(StatusCode::TOO_MANY_REQUESTS, &headers),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(StatusCode::SERVICE_UNAVAILABLE, &headers),
            Some(Duration::from_secs(7))
        );
        assert_eq!(retry_after(StatusCode::CONFLICT, &headers), None);
        headers.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2026 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(StatusCode::TOO_MANY_REQUESTS, &headers), None);
    }

    #[test]
    fn request_urls_keep_the_base_path_and_each_value_in_one_segment() {
        for base in ["https://r.example/registry", "https://r.example/registry/"] {
            let client = RegistryClient::new(&Url::parse(base).unwrap(), None).unwrap();
            assert_eq!(
                client.url_of(&["plugins", "github", "1.2.0"]).as_str(),
                "https://r.example/registry/plugins/github/1.2.0"
            );
            assert_eq!(
                client.url_of(&["register", "weather", "a/../b c"]).as_str(),
                "https://r.example/registry/register/weather/a%2F..%2Fb%20c"
            );
            assert_eq!(client.registry_url(), "https://r.example/registry");
        }
        let root =
            RegistryClient::new(&Url::parse("http://127.0.0.1:8080").unwrap(), None).unwrap();
        assert_eq!(
            root.url_of(&["auth", "keys"]).as_str(),
            "http://127.0.0.1:8080/auth/keys"
        );
    }

    #[test]
    fn keys_never_show_in_debug_or_display() {
        let key = ApiKey::new("sk_live_0123456789abcdef");
        assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
        assert_eq!(key.to_string(), "sk_liv…");
        assert!(!format!("{key:?} {key}").contains("0123456789"));
    }

    #[test]
    fn a_body_that_is_not_a_problem_still_gives_a_reason() {
        let problem = problem_of_status(StatusCode::BAD_GATEWAY, b"");
        assert_eq!(problem.status, 502);
        assert_eq!(problem.detail, "Bad Gateway");
        let error = ClientError::of_status(StatusCode::BAD_GATEWAY, problem);
        assert!(matches!(error, ClientError::Server(_)), "{error:?}");
    }
}
