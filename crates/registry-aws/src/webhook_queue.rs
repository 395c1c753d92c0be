//! The webhook delivery queue on SQS: what the AWS deployment uses where the
//! self-hosted server wakes its delivery worker. Each message names one stored
//! delivery (never its body, which stays in the table); the `webhook-delivery`
//! function reads the queue, and retries go back on it with a delay.
//!
//! SQS delays a message by at most 15 minutes, so a retry due later is sent
//! with the longest delay and sent again, undelivered, when it comes early
//! (the function checks the delivery's own due time). A message that the
//! function fails on is delivered again by SQS, and after the queue's
//! `maxReceiveCount` lands in its dead-letter queue.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use registry_core::store::BackendError;
use registry_core::timestamp::Timestamp;
use registry_core::webhook::{Delivery, DeliveryQueue};
use serde::{Deserialize, Serialize};

/// The longest delay SQS gives a message.
pub const MAX_MESSAGE_DELAY: Duration = Duration::from_secs(900);

/// What a message says: the delivery it is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryMessage {
    /// The subscription (`whk_…`).
    pub subscription: String,
    /// The delivery (`dlv_…`).
    pub delivery: String,
}

impl DeliveryMessage {
    /// The message for `delivery`.
    pub fn of(delivery: &Delivery) -> Self {
        Self {
            subscription: delivery.subscription.to_string(),
            delivery: delivery.id.to_string(),
        }
    }

    fn body(&self) -> Result<String, BackendError> {
        Ok(serde_json::to_string(self)?)
    }
}

/// Seconds until `delivery` is due from `now`, as an SQS delay (0 to 900).
pub fn delay_seconds(delivery: &Delivery, now: Timestamp) -> i32 {
    let wait = delivery
        .next_attempt_at
        .map_or(0, |due| due.since(now).whole_seconds());
    let longest = i64::try_from(MAX_MESSAGE_DELAY.as_secs()).unwrap_or(900);
    i32::try_from(wait.clamp(0, longest)).unwrap_or(0)
}

/// The queue at `queue_url`.
#[derive(Debug, Clone)]
pub struct SqsDeliveryQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsDeliveryQueue {
    /// The queue at `queue_url`, through `client`.
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl DeliveryQueue for SqsDeliveryQueue {
    async fn enqueue(&self, deliveries: &[Delivery]) -> Result<(), BackendError> {
        // A batch holds at most ten messages.
        for chunk in deliveries.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(n, delivery)| {
                    Ok(SendMessageBatchRequestEntry::builder()
                        .id(n.to_string())
                        .message_body(DeliveryMessage::of(delivery).body()?)
                        .build()?)
                })
                .collect::<Result<Vec<_>, BackendError>>()?;
            let sent = self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await?;
            if let Some(failed) = sent.failed.first() {
                return Err(format!(
                    "SQS refused {} of {} messages: {} {}",
                    sent.failed.len(),
                    chunk.len(),
                    failed.code,
                    failed.message.as_deref().unwrap_or_default()
                )
                .into());
            }
        }
        Ok(())
    }

    async fn enqueue_retry(&self, delivery: &Delivery, now: Timestamp) -> Result<(), BackendError> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(DeliveryMessage::of(delivery).body()?)
            .delay_seconds(delay_seconds(delivery, now))
            .send()
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use registry_core::webhook::{EventData, EventKind, SubscriptionId, WebhookEvent};

    #[test]
    fn delays_are_the_wait_until_due_within_what_sqs_allows() {
        let now = Timestamp::parse("2026-12-04T10:00:00Z").unwrap_or_else(|e| panic!("{e}"));
        let event = WebhookEvent::new(EventKind::VersionPublished, now, EventData::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let to = SubscriptionId::from_stored("whk_0123456789abcdef");
        let mut delivery =
            Delivery::of(&event, &event.body(), &to, now).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(delay_seconds(&delivery, now), 0);
        delivery.next_attempt_at = Some(now.plus(time::Duration::seconds(90)));
        assert_eq!(delay_seconds(&delivery, now), 90);
        delivery.next_attempt_at = Some(now.plus(time::Duration::hours(2)));
        assert_eq!(delay_seconds(&delivery, now), 900);
        delivery.next_attempt_at = Some(now.plus(time::Duration::seconds(-5)));
        assert_eq!(delay_seconds(&delivery, now), 0);
        assert_eq!(
            DeliveryMessage::of(&delivery).body().ok(),
            Some(format!(
                r#"{{"subscription":"whk_0123456789abcdef","delivery":"{}"}}"#,
                delivery.id
            ))
        );
    }
}
