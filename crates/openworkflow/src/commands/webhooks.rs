//! `openworkflow webhook add|list|deliveries|redeliver|remove`: signed HTTP
//! callbacks for a plugin (its owners), an org catalog (its reviewers) or the
//! whole registry (admins).

use clap::Subcommand;
use registry_core::api::webhooks::{DeliveryView, NewCheck, NewWebhook, WebhookView};
use registry_core::webhook::EventKind;

use crate::output::Output;

use super::Context;
use super::failure::Failure;

#[derive(Debug, Subcommand)]
pub(super) enum WebhookCommand {
    /// Subscribe a URL to events; prints the signing secret, shown once.
    Add {
        /// Where deliveries are POSTed (http or https, a public address).
        url: String,
        /// One plugin's events (its owners).
        #[arg(long, conflicts_with = "org")]
        plugin: Option<String>,
        /// One org catalog's events (its reviewers).
        #[arg(long)]
        org: Option<String>,
        /// An event to receive (repeat; every event when none is named):
        /// version.published, version.pending_review, version.approved,
        /// version.rejected, version.deprecated, version.unpublished,
        /// router.instance_removed.
        #[arg(long = "event", value_name = "EVENT")]
        events: Vec<String>,
        /// Make it a check named NAME: each version submitted for review waits
        /// for its pass or fail (it receives version.pending_review).
        #[arg(long, value_name = "NAME")]
        check: Option<String>,
        /// Seconds the check has to answer before it counts as failed (default 3600).
        #[arg(long, value_name = "SECS", requires = "check")]
        check_timeout: Option<u64>,
    },
    /// A scope's subscriptions: a plugin's, an org's, or (neither) the registry's.
    List {
        /// One plugin's subscriptions.
        #[arg(long, conflicts_with = "org")]
        plugin: Option<String>,
        /// One org catalog's subscriptions.
        #[arg(long)]
        org: Option<String>,
    },
    /// A subscription's deliveries of the last 30 days, newest first.
    Deliveries {
        /// The subscription (`whk_…`).
        id: String,
    },
    /// Send a delivery's event again.
    Redeliver {
        /// The subscription (`whk_…`).
        id: String,
        /// The delivery (`dlv_…`).
        delivery: String,
    },
    /// Remove a subscription and its pending deliveries.
    Remove {
        /// The subscription (`whk_…`).
        id: String,
    },
}

fn describe_webhook(webhook: &WebhookView) -> String {
    let events: Vec<&str> = webhook.events.iter().map(|e| e.as_str()).collect();
    let check = webhook.check.as_ref().map_or_else(String::new, |c| {
        format!("  check {} ({} s)", c.name, c.timeout_secs)
    });
    format!(
        "{}  {}  {}  {}{check}",
        webhook.id,
        webhook.scope,
        webhook.url,
        events.join(",")
    )
}

fn describe_delivery(delivery: &DeliveryView) -> String {
    let answers: Vec<String> = delivery
        .attempts
        .iter()
        .map(|a| match (a.status, &a.error) {
            (Some(status), _) => status.to_string(),
            (None, Some(error)) => format!("{:?}", error),
            (None, None) => "?".to_owned(),
        })
        .collect();
    let next = delivery
        .next_attempt_at
        .map_or_else(String::new, |at| format!(", next at {at}"));
    format!(
        "{}  {}  {}  {} attempt(s) ({}){next}",
        delivery.id,
        delivery.event_type,
        delivery.state.as_str(),
        delivery.attempts.len(),
        answers.join(", ")
    )
}

pub(super) async fn webhook(
    command: WebhookCommand,
    cx: &Context,
    out: &Output,
) -> Result<(), Failure> {
    let client = cx.client()?;
    match command {
        WebhookCommand::Add {
            url,
            plugin,
            org,
            events,
            check,
            check_timeout,
        } => {
            let events = if events.is_empty() && check.is_none() {
                EventKind::ALL
                    .iter()
                    .map(|e| e.as_str().to_owned())
                    .collect()
            } else {
                events
            };
            let created = client
                .add_webhook(&NewWebhook {
                    url,
                    events,
                    plugin,
                    org,
                    check: check.map(|name| NewCheck {
                        name,
                        timeout_secs: check_timeout,
                    }),
                })
                .await?;
            out.result(
                || {
                    format!(
                        "Subscribed {}\nSigning secret (shown once): {}",
                        describe_webhook(&created.webhook),
                        created.secret
                    )
                },
                || &created,
            );
        }
        WebhookCommand::List { plugin, org } => {
            let list = client.webhooks(plugin.as_deref(), org.as_deref()).await?;
            out.result(
                || {
                    if list.webhooks.is_empty() {
                        "No webhook subscriptions".to_owned()
                    } else {
                        list.webhooks
                            .iter()
                            .map(describe_webhook)
                            .collect::<Vec<_>>()
                            .join("\n")
                    }
                },
                || &list,
            );
        }
        WebhookCommand::Deliveries { id } => {
            let log = client.webhook_deliveries(&id).await?;
            out.result(
                || {
                    if log.deliveries.is_empty() {
                        format!("No deliveries to {id} yet")
                    } else {
                        log.deliveries
                            .iter()
                            .map(describe_delivery)
                            .collect::<Vec<_>>()
                            .join("\n")
                    }
                },
                || &log,
            );
        }
        WebhookCommand::Redeliver { id, delivery } => {
            let again = client.redeliver(&id, &delivery).await?;
            out.result(
                || {
                    format!(
                        "Queued {} (event {}) again as {}",
                        delivery, again.event_id, again.id
                    )
                },
                || &again,
            );
        }
        WebhookCommand::Remove { id } => {
            client.remove_webhook(&id).await?;
            let removed = serde_json::json!({ "removed": id });
            out.result(|| format!("Removed {id}"), || &removed);
        }
    }
    Ok(())
}
