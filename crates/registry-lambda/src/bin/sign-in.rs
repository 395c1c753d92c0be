//! The `sign-in` Lambda function: signing in and out (`/auth/login...`,
//! `/auth/callback/{provider}`, `/auth/logout`), the account pages (`/account...`)
//! and the CLI's device sign-in (`/auth/device...`, `/device`).

use registry_http::routes::sign_in_routes;
use registry_lambda::runtime::run_function;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_function(sign_in_routes).await
}
