//! A Lambda Runtime API on loopback, enough of it to run a built `bootstrap` for
//! real: it hands out queued events on `GET .../invocation/next` and records what
//! the function posts back, with the instant of every poll and answer.
//! Shared by the tests and the cold-start bench (`#[path]`-included by both).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::mpsc;

/// What the function sent back for an invocation (or for its start-up).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `POST /invocation/{id}/response`
    Response(serde_json::Value),
    /// `POST /invocation/{id}/error`
    Error(serde_json::Value),
    /// `POST /init/error`: the function could not start.
    InitError(serde_json::Value),
}

#[derive(Clone)]
struct Shared {
    events: Arc<Mutex<VecDeque<String>>>,
    polls: mpsc::UnboundedSender<Instant>,
    outcomes: mpsc::UnboundedSender<(Instant, Outcome)>,
}

/// The emulated Runtime API and what it has seen.
pub struct RuntimeApi {
    /// Where it listens (what `AWS_LAMBDA_RUNTIME_API` names).
    pub address: SocketAddr,
    polls: mpsc::UnboundedReceiver<Instant>,
    outcomes: mpsc::UnboundedReceiver<(Instant, Outcome)>,
}

impl RuntimeApi {
    /// Serves `events` (raw JSON), one per poll; later polls wait forever, as a
    /// frozen execution environment does.
    pub async fn start(events: Vec<String>) -> Self {
        let (poll_tx, polls) = mpsc::unbounded_channel();
        let (outcome_tx, outcomes) = mpsc::unbounded_channel();
        let shared = Shared {
            events: Arc::new(Mutex::new(events.into())),
            polls: poll_tx,
            outcomes: outcome_tx,
        };
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(invocation_response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(invocation_error),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            address,
            polls,
            outcomes,
        }
    }

    /// The environment the Lambda service gives a function, pointed at this API.
    pub fn lambda_env(&self, function_name: &str) -> Vec<(String, String)> {
        [
            ("AWS_LAMBDA_RUNTIME_API", self.address.to_string()),
            ("AWS_LAMBDA_FUNCTION_NAME", function_name.to_owned()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function_name}"),
            ),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/11/23/[$LATEST]0".to_owned(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// When the function next polled for work.
    pub async fn next_poll(&mut self) -> Instant {
        self.polls.recv().await.unwrap()
    }

    /// The next thing the function posted back, and when.
    pub async fn next_outcome(&mut self) -> (Instant, Outcome) {
        self.outcomes.recv().await.unwrap()
    }
}

async fn next_invocation(State(shared): State<Shared>) -> Response {
    let _ = shared.polls.send(Instant::now());
    let event = shared.events.lock().unwrap().pop_front();
    let Some(event) = event else {
        return std::future::pending::<Response>().await;
    };
    let mut headers = HeaderMap::new();
    let deadline_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 30_000;
    for (name, value) in [
        (
            "lambda-runtime-aws-request-id",
            "8476a536-e9f4-11e8-9739-2dfe598c3fcd".to_owned(),
        ),
        ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:registry".to_owned(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1".to_owned(),
        ),
    ] {
        headers.insert(name, HeaderValue::from_str(&value).unwrap());
    }
    (StatusCode::OK, headers, event).into_response()
}

fn record(shared: &Shared, outcome: Outcome) -> StatusCode {
    let _ = shared.outcomes.send((Instant::now(), outcome));
    StatusCode::ACCEPTED
}

fn json_of(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(body).into_owned()))
}

async fn invocation_response(
    State(shared): State<Shared>,
    Path(_id): Path<String>,
    body: axum::body::Bytes,
) -> StatusCode {
    record(&shared, Outcome::Response(json_of(&body)))
}

async fn invocation_error(
    State(shared): State<Shared>,
    Path(_id): Path<String>,
    body: axum::body::Bytes,
) -> StatusCode {
    record(&shared, Outcome::Error(json_of(&body)))
}

async fn init_error(State(shared): State<Shared>, body: axum::body::Bytes) -> StatusCode {
    record(&shared, Outcome::InitError(json_of(&body)))
}
