//! The `unpublish` Lambda function: DELETE /plugins/{slug}/{version}.

use registry_http::routes::unpublish_routes;
use registry_lambda::runtime::run_function;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_function(unpublish_routes).await
}
