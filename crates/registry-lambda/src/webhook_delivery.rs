//! The `webhook-delivery` function: the functions that change plugins store each
//! event's deliveries in the table and put one message per delivery on an SQS
//! queue; this function reads the queue and makes each delivery's attempt,
//! putting a retry back on the queue with a delay.
//!
//! A message whose delivery could not be attempted or recorded (the table or the
//! queue unavailable) is reported as a partial batch failure, so SQS delivers it
//! alone again, and after the queue's `maxReceiveCount` moves it to the
//! dead-letter queue. A message naming no delivery cannot succeed however often
//! it comes, so it is logged and dropped rather than retried.

use registry_aws::webhook_queue::DeliveryMessage;
use registry_core::Registry;
use registry_core::registry::QueuedDeliveryOutcome;
use serde_json::Value;

use crate::sqs::{SqsBatchResponse, SqsItemFailure};

/// What became of each message of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryBatchOutcome {
    /// What Lambda is answered.
    pub response: SqsBatchResponse,
    /// Each message's id and its delivery's outcome, where it had one.
    pub deliveries: Vec<(String, QueuedDeliveryOutcome)>,
}

/// Handles one SQS batch of delivery messages.
pub async fn deliver_batch(registry: &Registry, event: &Value) -> DeliveryBatchOutcome {
    let mut outcome = DeliveryBatchOutcome {
        response: SqsBatchResponse::default(),
        deliveries: Vec::new(),
    };
    let records = event
        .get("Records")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for record in records {
        let Some(message_id) = record.get("messageId").and_then(Value::as_str) else {
            tracing::error!("an SQS record without a messageId: nothing to report it by");
            continue;
        };
        let body = record
            .get("body")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Ok(message) = serde_json::from_str::<DeliveryMessage>(body) else {
            tracing::error!(
                message = message_id,
                "a message that names no delivery was dropped"
            );
            continue;
        };
        match registry
            .deliver_one(&message.subscription, &message.delivery)
            .await
        {
            Ok(delivered) => {
                tracing::info!(
                    message = message_id,
                    delivery = %message.delivery,
                    outcome = ?delivered,
                    "webhook delivery handled"
                );
                outcome.deliveries.push((message_id.to_owned(), delivered));
            }
            Err(error) => {
                tracing::warn!(
                    message = message_id,
                    delivery = %message.delivery,
                    error = &error as &dyn std::error::Error,
                    "a webhook delivery failed; SQS delivers its message again"
                );
                outcome.response.batch_item_failures.push(SqsItemFailure {
                    item_identifier: message_id.to_owned(),
                });
            }
        }
    }
    outcome
}
