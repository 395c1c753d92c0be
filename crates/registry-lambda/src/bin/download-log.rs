//! The `download-log` Lambda function, fed by the SQS queue the CloudFront log
//! bucket's notifications go to.

use registry_lambda::runtime::run_download_log_counter;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_download_log_counter().await
}
