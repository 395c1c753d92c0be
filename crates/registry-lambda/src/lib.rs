//! The registry on AWS Lambda: each function's `main` (in `src/bin/`) is one call
//! into [`runtime`], which builds the DynamoDB and S3 state once per container and
//! serves that function's routes from `registry-http`; [`scheduled`] holds the
//! handlers EventBridge schedules invoke; [`download_log`] counts the CDN's logs;
//! [`webhook_delivery`] sends the webhook deliveries its SQS queue names.

pub mod download_log;
pub mod runtime;
pub mod scheduled;
pub mod sqs;
pub mod webhook_delivery;
