//! `openworkflow plugin publisher ...`: the CI workflows trusted to publish a
//! plugin with no stored secret.

use clap::{Args, Subcommand};
use registry_core::api::trusted_publishing::{CiIdentity, TrustedPublisherView, TrustedPublishing};

use crate::output::Output;

use super::Context;
use super::failure::{Failure, exit};

#[derive(Debug, Subcommand)]
pub(super) enum PublisherCommand {
    /// List a plugin's trusted publishers (yours, pending, for a slug not taken yet).
    List {
        /// The plugin's slug.
        plugin: String,
    },
    /// Trust a GitHub Actions workflow or a GitLab CI pipeline to publish a plugin;
    /// for a slug nobody has taken yet, a pending publisher whose first release
    /// creates the plugin, owned by you.
    Add(AddPublisher),
    /// Lock a plugin to trusted publishing: API keys may no longer publish it.
    /// Lifting the lock takes a fresh sign-in on the account page.
    Lock {
        /// The plugin's slug.
        plugin: String,
    },
    /// Stop trusting a publisher; its publish tokens stop working at once.
    Remove {
        /// The plugin's slug.
        plugin: String,
        /// The publisher's id (`tp_...`, from `list`).
        id: String,
    },
}

#[derive(Debug, Args)]
pub(super) struct AddPublisher {
    /// The plugin's slug.
    plugin: String,
    /// A GitHub repository, `owner/name`.
    #[arg(long, value_name = "OWNER/NAME", conflicts_with_all = ["gitlab", "project_id", "git_ref"], requires_all = ["repository_id", "owner_id", "workflow"])]
    github: Option<String>,
    /// The repository's numeric id (`gh api repos/OWNER/NAME --jq .id`).
    #[arg(long, value_name = "ID")]
    repository_id: Option<String>,
    /// The repository owner's numeric id (`gh api repos/OWNER/NAME --jq .owner.id`).
    #[arg(long, value_name = "ID")]
    owner_id: Option<String>,
    /// The workflow's file name under .github/workflows/ (`release.yml`).
    #[arg(long, value_name = "FILE")]
    workflow: Option<String>,
    /// A GitLab project, `group/project`.
    #[arg(long, value_name = "GROUP/PROJECT", requires = "project_id")]
    gitlab: Option<String>,
    /// The GitLab project's numeric id (on its overview page).
    #[arg(long, value_name = "ID")]
    project_id: Option<String>,
    /// Only pipelines for this ref (`refs/tags/v1.0.0`, `main`); default any.
    #[arg(long = "ref", value_name = "REF")]
    git_ref: Option<String>,
    /// Only jobs in this deployment environment (recommended: one that needs a
    /// reviewer's approval); default any.
    #[arg(long, value_name = "NAME")]
    environment: Option<String>,
}

impl AddPublisher {
    fn identity(self) -> Result<(String, CiIdentity), Failure> {
        let identity = match (self.github, self.gitlab) {
            (Some(repository), None) => CiIdentity::GithubActions {
                repository,
                repository_id: self.repository_id.unwrap_or_default(),
                repository_owner_id: self.owner_id.unwrap_or_default(),
                workflow: self.workflow.unwrap_or_default(),
                environment: self.environment,
            },
            (None, Some(project_path)) => CiIdentity::GitlabCi {
                project_path,
                project_id: self.project_id.unwrap_or_default(),
                git_ref: self.git_ref,
                environment: self.environment,
            },
            _ => {
                return Err(Failure::new(
                    exit::USAGE,
                    "name the CI: --github OWNER/NAME --repository-id ID --owner-id ID --workflow FILE, or --gitlab GROUP/PROJECT --project-id ID",
                ));
            }
        };
        Ok((self.plugin, identity))
    }
}

fn describe_all(plugin: &str, publishing: &TrustedPublishing) -> String {
    let mut lines: Vec<String> = publishing.publishers.iter().map(describe).collect();
    if lines.is_empty() {
        lines.push(format!("{plugin} trusts no CI workflow"));
    }
    if let Some(lock) = &publishing.locked {
        lines.push(format!(
            "locked to trusted publishing since {} by {}: API keys may not publish it",
            lock.at, lock.by
        ));
    }
    lines.join("\n")
}

fn describe(publisher: &TrustedPublisherView) -> String {
    let pending = if publisher.pending {
        "  (pending: its first release creates the plugin)"
    } else {
        ""
    };
    format!("{}  {}{pending}", publisher.id, publisher.ci)
}

pub(super) async fn publisher(
    command: PublisherCommand,
    cx: &Context,
    out: &Output,
) -> Result<(), Failure> {
    let client = cx.client()?;
    match command {
        PublisherCommand::List { plugin } => {
            let publishing = client.trusted_publishers(&plugin).await?;
            out.result(|| describe_all(&plugin, &publishing), || &publishing);
        }
        PublisherCommand::Lock { plugin } => {
            let publishing = client.lock_to_trusted_publishing(&plugin).await?;
            out.result(|| describe_all(&plugin, &publishing), || &publishing);
        }
        PublisherCommand::Add(add) => {
            let (plugin, identity) = add.identity()?;
            let added = client.add_trusted_publisher(&plugin, &identity).await?;
            out.result(
                || {
                    format!(
                        "Trusted: {}\nIn that workflow, with `permissions: id-token: write`, `openworkflow plugin publish` needs no key.",
                        describe(&added)
                    )
                },
                || &added,
            );
        }
        PublisherCommand::Remove { plugin, id } => {
            client.remove_trusted_publisher(&plugin, &id).await?;
            out.result(
                || format!("{plugin} no longer trusts {id}"),
                || serde_json::json!({"removed": id, "plugin": plugin}),
            );
        }
    }
    Ok(())
}
