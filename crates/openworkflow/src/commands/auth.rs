//! `openworkflow auth ...`: keys and logging in.

use std::path::Path;

use clap::Subcommand;
use openworkflow::ApiKey;
use openworkflow::client::{DevicePoll, RegistryClient};
use registry_core::api::keys::KeyList;
use registry_core::auth::Scope;
use registry_core::timestamp::{Clock, SystemClock};
use serde::Serialize;

use crate::output::Output;

use super::Context;
use super::failure::{Failure, exit};

#[derive(Debug, Subcommand)]
pub(super) enum AuthCommand {
    /// Create an API key for your principal (prints `sk_...` once).
    CreateKey {
        /// A label, such as "CI/CD Pipeline".
        #[arg(long)]
        name: String,
        /// Scopes (`read`, `publish`, `router`, `admin`); default: `publish`.
        #[arg(long = "scope", value_name = "SCOPE", value_parser = Scope::parse)]
        scopes: Vec<Scope>,
        /// Days until the key stops working (1 to 365; default 90; an admin key may
        /// leave it out for a key that never expires).
        #[arg(long, value_name = "DAYS")]
        expires_in_days: Option<u32>,
        /// Limit the key to this plugin (repeat for more), as for one project's CI;
        /// default: every plugin of your principal.
        #[arg(long = "plugin", value_name = "SLUG")]
        plugins: Vec<String>,
    },
    /// List your principal's keys (ids, names, scopes; never secrets).
    ListKeys,
    /// Revoke a key by its id (`key_...`); requests with it fail from then on.
    RevokeKey {
        /// The key's id, as `list-keys` shows it.
        key_id: String,
    },
    /// Sign in and store a key for the registry in the config file (mode 0600): by
    /// default through the registry's device sign-in (open the page it prints,
    /// confirm the code), or with a key you already have.
    Login {
        /// A key to check and store instead of signing in.
        #[arg(long, value_name = "KEY", conflicts_with = "key_stdin")]
        key: Option<String>,
        /// Read the key to store from standard input (keeps it out of shell history).
        #[arg(long)]
        key_stdin: bool,
        /// The name the new key gets (default: "openworkflow CLI on HOSTNAME").
        #[arg(long, value_name = "NAME", conflicts_with_all = ["key", "key_stdin"])]
        key_name: Option<String>,
    },
}

pub(super) async fn auth(command: AuthCommand, cx: &Context, out: &Output) -> Result<(), Failure> {
    match command {
        AuthCommand::CreateKey {
            name,
            scopes,
            expires_in_days,
            plugins,
        } => {
            let client = cx.client()?;
            if !client.has_key() {
                return Err(Failure::new(exit::AUTH, "creating a key needs an existing key")
                    .hint("an admin key is in the registry's data directory (admin.key) on a self-hosted registry"));
            }
            let created = client
                .create_key(&name, &scopes, expires_in_days, &plugins)
                .await?;
            // The one place a secret is printed: the user asked for it.
            out.result(
                || created.secret.expose().to_owned(),
                || CreatedKeyReport {
                    key: created.secret.expose(),
                    id: created.info.id.as_str(),
                    name: &created.info.name,
                    scopes: &created.info.scopes,
                    expires_at: created.info.expires_at.map(|t| t.to_string()),
                    plugins: created.info.plugins.as_deref(),
                },
            );
            out.note(&match created.info.expires_at {
                Some(at) => {
                    format!("Store it now: the registry cannot show it again. It expires at {at}.")
                }
                None => {
                    "Store it now: the registry cannot show it again. It never expires.".to_owned()
                }
            });
            Ok(())
        }
        AuthCommand::ListKeys => {
            let keys = cx.client()?.list_keys().await?;
            out.result(
                || {
                    keys.iter()
                        .map(|k| {
                            let state = match (k.revoked_at, k.expires_at) {
                                (Some(t), _) => format!("revoked {t}"),
                                (None, Some(t)) if t <= SystemClock.now() => format!("expired {t}"),
                                (None, Some(t)) => format!("live until {t}"),
                                (None, None) => "live, never expires".to_owned(),
                            };
                            let used = k
                                .last_used_at
                                .map_or_else(|| "never used".to_owned(), |t| format!("used {t}"));
                            let only = k
                                .plugins
                                .as_ref()
                                .map(|p| format!("  only {}", p.join(", ")))
                                .unwrap_or_default();
                            format!(
                                "{}  {}  [{}]{only}  created {}  {used}  {state}",
                                k.id,
                                k.name,
                                k.scopes
                                    .iter()
                                    .map(|s| s.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", "),
                                k.created_at
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                },
                || KeyList { keys: keys.clone() },
            );
            Ok(())
        }
        AuthCommand::RevokeKey { key_id } => {
            let revoked = cx.client()?.revoke_key(&key_id).await?;
            out.result(
                || format!("Revoked {} ({})", revoked.id, revoked.name),
                || &revoked,
            );
            Ok(())
        }
        AuthCommand::Login {
            key,
            key_stdin,
            key_name,
        } => {
            let key = match (key, key_stdin) {
                (Some(key), _) => ApiKey::new(key),
                (None, true) => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line).map_err(|e| {
                        Failure::new(exit::FAILED, format!("reading the key from stdin: {e}"))
                    })?;
                    ApiKey::new(line)
                }
                (None, false) => device_sign_in(cx, out, key_name).await?,
            };
            if key.expose().is_empty() {
                return Err(Failure::new(exit::USAGE, "no key given"));
            }
            let registry = cx.settings.registry_text();
            // A key that does not work is not worth storing.
            RegistryClient::new(&cx.settings.registry, Some(key.clone()))?
                .list_keys()
                .await?;
            let mut config = cx.config.clone();
            config
                .keys
                .insert(registry.clone(), key.expose().to_owned());
            config.save(&cx.config_path)?;
            out.result(
                || {
                    format!(
                        "Logged in to {registry}; key {key} stored in {}",
                        cx.config_path.display()
                    )
                },
                || LoginReport {
                    registry: &registry,
                    config: &cx.config_path,
                },
            );
            Ok(())
        }
    }
}

/// Signs this terminal in through the registry's device sign-in: prints where to
/// confirm which code, then polls until the person confirms, refuses or the
/// codes lapse.
async fn device_sign_in(
    cx: &Context,
    out: &Output,
    key_name: Option<String>,
) -> Result<ApiKey, Failure> {
    let client = RegistryClient::new(&cx.settings.registry, None)?;
    let key_name = key_name.unwrap_or_else(default_key_name);
    let started = client.start_device_sign_in(&key_name).await.map_err(|e| {
        let no_sign_in = e.problem().is_some_and(|p| p.code == "sign_in_unavailable");
        let failure = Failure::from(e);
        if no_sign_in {
            failure.hint("this registry takes keys only: get one from its operator, then `openworkflow auth login --key-stdin`")
        } else {
            failure
        }
    })?;
    out.instruct(&format!(
        "To sign in, open {}\nand confirm the code {} (it lapses in {} minutes).",
        started.verification_uri_complete,
        started.user_code,
        started.expires_in / 60
    ));
    let mut interval = std::time::Duration::from_secs(u64::from(started.interval.max(1)));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(started.expires_in);
    loop {
        tokio::time::sleep(interval).await;
        match client.poll_device_sign_in(&started.device_code).await {
            Ok(DevicePoll::Key(created)) => {
                out.note(&format!(
                    "Confirmed: key {} ({}) made for you.",
                    created.info.id, created.info.name
                ));
                return Ok(created.secret);
            }
            Ok(DevicePoll::Pending) => {}
            Ok(DevicePoll::SlowDown) => interval += std::time::Duration::from_secs(5),
            Err(e) => {
                let hint = match e.problem().map(|p| p.code.as_str()) {
                    Some("access_denied") => "the sign-in was refused in the browser",
                    Some("expired_token") => {
                        "nobody confirmed the code in time; run `openworkflow auth login` again"
                    }
                    _ => "run `openworkflow auth login` again",
                };
                return Err(Failure::from(e).hint(hint));
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(
                Failure::new(exit::AUTH, "nobody confirmed the code in time")
                    .hint("run `openworkflow auth login` again"),
            );
        }
    }
}

/// "openworkflow CLI on HOSTNAME", so the key list says which machine a key is on.
fn default_key_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    if host.is_empty() {
        registry_core::registry::DEFAULT_DEVICE_KEY_NAME.to_owned()
    } else {
        format!(
            "{} on {host}",
            registry_core::registry::DEFAULT_DEVICE_KEY_NAME
        )
    }
}

/// `auth create-key --json`: the one time a secret is printed.
#[derive(Debug, Serialize)]
struct CreatedKeyReport<'a> {
    /// The secret, `sk_...`.
    key: &'a str,
    /// Its public id.
    id: &'a str,
    /// Its label.
    name: &'a str,
    /// Its scopes.
    scopes: &'a [Scope],
    /// When it expires; `null` when it never does.
    expires_at: Option<String>,
    /// The only plugins it may act on; `null`: every plugin of the principal.
    plugins: Option<&'a [String]>,
}

/// `auth login --json`.
#[derive(Debug, Serialize)]
struct LoginReport<'a> {
    /// The registry the key is stored for.
    registry: &'a str,
    /// The config file it is stored in.
    config: &'a Path,
}
