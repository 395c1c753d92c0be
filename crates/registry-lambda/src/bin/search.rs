//! The `search` Lambda function: GET /plugins/search, the other public reads until
//! the static index serves them from S3, `/openapi.json` and `/healthz`.

use registry_http::routes::search_function_routes;
use registry_lambda::runtime::run_function;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_function(search_function_routes).await
}
