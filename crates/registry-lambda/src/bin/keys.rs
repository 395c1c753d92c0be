//! The `keys` Lambda function: POST, GET /auth/keys and DELETE /auth/keys/{key_id}.

use registry_http::routes::key_routes;
use registry_lambda::runtime::run_function;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_function(key_routes).await
}
