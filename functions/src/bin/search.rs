//! The `search` Lambda function: GET /plugins/search, and until the static index lands the other public reads.

use registry_functions::lambda::run_function;
use registry_functions::routes::read_routes;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_function(read_routes).await
}
