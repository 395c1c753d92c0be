//! The `router` Lambda function: MCP router registration and routing tables.

use registry_http::routes::mcp_router_routes;
use registry_lambda::runtime::run_function;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_function(mcp_router_routes).await
}
