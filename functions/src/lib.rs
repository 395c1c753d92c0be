//! The registry's HTTP routes (axum), shared by the Lambda functions and the local
//! server. Handlers parse HTTP, call a `registry-core` service, and render the result
//! or an RFC 9457 problem; they never touch storage directly.

pub mod auth;
pub mod body;
pub mod health_probe;
pub mod lambda;
pub mod multipart;
pub mod openapi;
pub mod problem;
pub mod routes;
pub mod scheduled;
pub mod state;

pub use routes::all_routes;
pub use state::AppState;
