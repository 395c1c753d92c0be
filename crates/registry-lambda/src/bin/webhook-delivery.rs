//! The `webhook-delivery` Lambda function, fed by the SQS queue of webhook
//! deliveries the other functions store.

use registry_lambda::runtime::run_webhook_delivery;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_webhook_delivery().await
}
