//! The `unpublish` Lambda function: DELETE /plugins/{slug}/{version}.

use registry_lambda::runtime::run_function;
use registry_http::routes::unpublish_routes;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_function(unpublish_routes).await
}
