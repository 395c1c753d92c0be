//! `openworkflow router ...`: MCP router registration and routing tables.

use clap::Subcommand;
use openworkflow::mcp_router::{
    InstanceMetadata, RegisterRequest, RegisterResponse, Registration, RoutingTableResponse,
};

use crate::output::Output;

use super::failure::Failure;
use super::{Context, exact_version};

#[derive(Debug, Subcommand)]
pub(super) enum RouterCommand {
    /// Add an instance to a plugin's routing table, or refresh it (safe to repeat:
    /// the same registration again changes nothing).
    Register {
        /// `slug@version`: the published version the instance runs.
        plugin: String,
        /// The instance's id, unique within the plugin (letters, digits, `.`, `_`,
        /// `-`, `:`).
        #[arg(long, value_name = "ID")]
        instance_id: String,
        /// Where the router sends calls (http or https).
        #[arg(long, value_name = "URL")]
        url: String,
        /// What the registry's health checker calls (http or https).
        #[arg(long, value_name = "URL")]
        health_check_url: String,
        /// An action the instance serves, declared by that version (repeat for more).
        #[arg(long = "action", value_name = "ACTION", required = true)]
        actions: Vec<String>,
        /// Where the instance runs.
        #[arg(long)]
        region: Option<String>,
    },
    /// Take an instance out of a plugin's routing table (on shutdown).
    Deregister {
        /// The plugin's slug.
        plugin: String,
        /// The instance's id.
        instance_id: String,
    },
    /// Show a plugin's routing table: every instance, its actions and its health.
    Table {
        /// The plugin's slug.
        plugin: String,
    },
}

pub(super) async fn router(
    command: RouterCommand,
    cx: &Context,
    out: &Output,
) -> Result<(), Failure> {
    let client = cx.client()?;
    match command {
        RouterCommand::Register {
            plugin,
            instance_id,
            url,
            health_check_url,
            actions,
            region,
        } => {
            let (plugin_slug, version) = exact_version(&plugin)?;
            let registration = client
                .register_instance(&RegisterRequest {
                    plugin_slug,
                    version,
                    url,
                    actions,
                    health_check_url,
                    metadata: InstanceMetadata {
                        instance_id,
                        region,
                    },
                })
                .await?;
            out.result(
                || {
                    let Registration { answer, changed } = &registration;
                    let RegisterResponse {
                        plugin_slug,
                        instance_id,
                        registered_at,
                        ..
                    } = answer;
                    if *changed {
                        format!(
                            "Registered {plugin_slug} instance {instance_id} at {registered_at}"
                        )
                    } else {
                        format!(
                            "{plugin_slug} instance {instance_id} was already registered so \
                             (since {registered_at}); nothing changed"
                        )
                    }
                },
                || &registration,
            );
        }
        RouterCommand::Deregister {
            plugin,
            instance_id,
        } => {
            let removed = client.deregister_instance(&plugin, &instance_id).await?;
            out.result(
                || {
                    format!(
                        "Deregistered {} instance {}",
                        removed.plugin_slug, removed.instance_id
                    )
                },
                || &removed,
            );
        }
        RouterCommand::Table { plugin } => {
            let table = client.routing_table(&plugin).await?;
            out.result(|| routing_table_text(&table), || &table);
        }
    }
    Ok(())
}

/// A routing table for people: a heading, then one line per instance, with the
/// last error under a failing one.
fn routing_table_text(table: &RoutingTableResponse) -> String {
    let mut lines = vec![format!(
        "{}: {} instance(s); {} failed checks in a row remove one",
        table.plugin_slug,
        table.instances.len(),
        table.failure_threshold
    )];
    for instance in &table.instances {
        let health = &instance.health;
        let status = match health.consecutive_failures {
            0 => health.status.as_str().to_owned(),
            n => format!(
                "{} ({n} of {})",
                health.status.as_str(),
                table.failure_threshold
            ),
        };
        lines.push(format!(
            "{}  {}  {status}  {}  [{}]",
            instance.instance_id,
            instance.version,
            instance.url,
            instance.actions.join(", ")
        ));
        if let Some(error) = &health.last_error {
            lines.push(format!("    last error: {error}"));
        }
    }
    lines.join("\n")
}
