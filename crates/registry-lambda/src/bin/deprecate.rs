//! The `deprecate` Lambda function: POST /plugins/{slug}/{version}/deprecate.

use registry_http::routes::deprecate_routes;
use registry_lambda::runtime::run_function;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_function(deprecate_routes).await
}
