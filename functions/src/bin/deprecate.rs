//! The `deprecate` Lambda function: POST /plugins/{slug}/{version}/deprecate.

use registry_functions::lambda::run_function;
use registry_functions::routes::deprecate_routes;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_function(deprecate_routes).await
}
