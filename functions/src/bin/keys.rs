//! The `keys` Lambda function: POST, GET /auth/keys and DELETE /auth/keys/{key_id}.

use registry_functions::lambda::run_function;
use registry_functions::routes::key_routes;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_function(key_routes).await
}
