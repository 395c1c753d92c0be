//! The `health-check` Lambda function, run by an EventBridge schedule.

use registry_lambda::runtime::run_scheduled_health_checks;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_scheduled_health_checks().await
}
