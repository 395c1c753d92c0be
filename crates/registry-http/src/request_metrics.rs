//! Every request counted by method, route and status, and timed by method and
//! route, under the route's template (`/plugins/{slug}`), so the series stay as
//! few as the routes whatever paths clients send.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

/// Requests answered: `method`, `route`, `status`.
pub const REQUESTS_TOTAL: &str = "http_requests_total";
/// Seconds from a request's arrival to its response's head: `method`, `route`.
pub const REQUEST_SECONDS: &str = "http_request_duration_seconds";
/// The `route` of requests no route matched.
const UNMATCHED: &str = "unmatched";

/// Records the request's count and latency once its response is ready.
pub(crate) async fn record_request(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_owned();
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    metrics::histogram!(REQUEST_SECONDS, "method" => method, "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(
        REQUESTS_TOTAL,
        "method" => method,
        "route" => route,
        "status" => response.status().as_str().to_owned()
    )
    .increment(1);
    response
}

/// The method as a label; any method HTTP does not define is `other`, so a client
/// cannot mint series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
