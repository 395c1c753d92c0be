//! The self-hosted delivery side of webhooks: the catalog's delivery table is
//! the queue, and every node runs this worker over it. A new delivery wakes the
//! worker of the node that stored it at once; every node also looks for due
//! deliveries (retries, and what another node stored) each poll interval.
//! Claims lease each delivery to one node, so nodes share the queue safely, and
//! a node that stops mid-attempt leaves its lease to run out: the delivery is
//! made again by whichever node claims it next, restarted or not.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use registry_core::Registry;
use registry_core::store::BackendError;
use registry_core::webhook::{Delivery, DeliveryQueue};
use tokio::sync::Notify;

/// How often the worker looks for due deliveries when nothing wakes it.
pub const DEFAULT_WEBHOOK_POLL: Duration = Duration::from_secs(1);

/// Wakes this node's delivery worker when deliveries are stored.
#[derive(Debug, Default)]
pub struct WakeDeliveryWorker {
    wake: Notify,
}

#[async_trait]
impl DeliveryQueue for WakeDeliveryWorker {
    async fn enqueue(&self, _deliveries: &[Delivery]) -> Result<(), BackendError> {
        // They are stored already: the worker only needs to look.
        self.wake.notify_one();
        Ok(())
    }
}

/// Attempts due deliveries whenever woken or every `poll`, until aborted.
pub async fn deliver_webhooks_continuously(
    registry: Arc<Registry>,
    wake: Arc<WakeDeliveryWorker>,
    poll: Duration,
) {
    loop {
        tokio::select! {
            () = wake.wake.notified() => {}
            () = tokio::time::sleep(poll) => {}
        }
        // A full batch may mean more are due: keep going until one is not.
        loop {
            match registry.deliver_due_webhooks().await {
                Ok(report) if report.attempted == 0 => break,
                Ok(report) => {
                    tracing::debug!(
                        attempted = report.attempted,
                        delivered = report.delivered,
                        retrying = report.retrying,
                        dead = report.dead,
                        "webhook deliveries attempted"
                    );
                }
                Err(error) => {
                    tracing::warn!(
                        error = &error as &dyn std::error::Error,
                        "claiming webhook deliveries failed"
                    );
                    break;
                }
            }
        }
    }
}
