//! Plugin instances on loopback for the router tests: each answers its health
//! checks from a script and counts the calls it got.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One answer to a health check.
#[derive(Debug, Clone)]
pub enum Answer {
    /// The spec's answer for this version.
    Healthy(&'static str),
    /// This status with an empty body.
    Status(u16),
    /// The healthy answer, after this long.
    Slow(Duration),
    /// 200 with this body.
    Body(&'static str),
    /// A redirect to a healthy URL.
    Redirect,
    /// A valid answer padded past the registry's read cap.
    Huge,
}

/// Numbers every health check any instance in this process answers, in the order
/// they arrive, so a test can tell which of its instances a pass called first.
static CHECK_SEQUENCE: AtomicUsize = AtomicUsize::new(1);

/// An instance on loopback.
pub struct FakeInstance {
    /// Its base URL (`http://127.0.0.1:port`).
    pub url: String,
    calls: Arc<AtomicUsize>,
    last_check: Arc<AtomicUsize>,
}

impl FakeInstance {
    /// Starts an instance answering `script` in order, repeating the last answer.
    pub async fn start(script: Vec<Answer>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let calls = Arc::new(AtomicUsize::new(0));
        let script = Arc::new(script);
        let counter = Arc::clone(&calls);
        let last_check = Arc::new(AtomicUsize::new(0));
        let sequenced = Arc::clone(&last_check);
        let app = axum::Router::new()
            .route(
                "/healthz",
                axum::routing::get(move || {
                    sequenced.store(
                        CHECK_SEQUENCE.fetch_add(1, Ordering::SeqCst),
                        Ordering::SeqCst,
                    );
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    let answer = script[n.min(script.len() - 1)].clone();
                    async move { answer_with(answer).await }
                }),
            )
            .route(
                "/ok",
                axum::routing::get(|| answer_with(Answer::Healthy("1.0.0"))),
            );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url,
            calls,
            last_check,
        }
    }

    /// Its health check URL.
    pub fn health_url(&self) -> String {
        format!("{}/healthz", self.url)
    }

    /// Health checks it has answered (or started to).
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Where its latest check came in the process-wide order of checks (0: never).
    pub fn last_check(&self) -> usize {
        self.last_check.load(Ordering::SeqCst)
    }
}

fn json(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn healthy(version: &str) -> String {
    format!(r#"{{"status":"ok","version":"{version}","checks":{{"database":"healthy"}}}}"#)
}

async fn answer_with(answer: Answer) -> Response {
    match answer {
        Answer::Healthy(version) => json(StatusCode::OK, healthy(version)),
        Answer::Status(code) => json(StatusCode::from_u16(code).expect("status"), String::new()),
        Answer::Slow(delay) => {
            tokio::time::sleep(delay).await;
            json(StatusCode::OK, healthy("1.0.0"))
        }
        Answer::Body(body) => json(StatusCode::OK, body.to_owned()),
        Answer::Redirect => {
            let mut response = StatusCode::FOUND.into_response();
            response
                .headers_mut()
                .insert(header::LOCATION, HeaderValue::from_static("/ok"));
            response
        }
        Answer::Huge => json(
            StatusCode::OK,
            format!(
                r#"{{"status":"ok","version":"1.0.0","padding":"{}"}}"#,
                "x".repeat(200 * 1024)
            ),
        ),
    }
}
