//! The `deprecate` Lambda function: POST /plugins/{slug}/{version}/deprecate.

use registry_lambda::runtime::run_function;
use registry_http::routes::deprecate_routes;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_function(deprecate_routes).await
}
