//! The registry's HTTP API (axum), shared by the Lambda functions and the
//! self-hosted server. Nothing here knows Lambda or AWS. Handlers parse HTTP, call a `registry-core` service, and render the result
//! or an RFC 9457 problem; they never touch storage directly.

pub mod auth;
pub mod body;
pub mod deadline;
pub mod multipart;
pub mod openapi;
pub mod problem;
pub mod request_id;
pub mod request_metrics;
pub mod routes;
pub mod session;
pub mod state;

pub use routes::all_routes;
pub use state::AppState;
