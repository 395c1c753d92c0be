//! The `publish` Lambda function: POST /plugins and PUT /plugins/{slug} (documents and bundles).

use registry_http::routes::publish_routes;
use registry_lambda::runtime::run_function;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_function(publish_routes).await
}
