//! The `router` Lambda function: MCP router registration and routing tables.

use registry_lambda::runtime::run_function;
use registry_http::routes::router_routes;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_function(router_routes).await
}
