//! Telling a plugin's owners, by e-mail, of a change they must know about.
//!
//! Every person who acts as an owner gets their own message: owners named on
//! the roster, and every member of an owning team. Only a verified address a
//! provider gave at sign-in is used; a person without one reads the change in
//! the plugin's audit log, which records how many were told.

use std::collections::BTreeSet;
use std::time::Duration;

use super::Registry;
use crate::account::EmailAddress;
use crate::auth::{Caller, PrincipalId};
use crate::error::RegistryError;
use crate::notice::Notice;
use crate::ownership::{Roster, RosterKey};

/// The longest a request waits for the relay to accept its notices: a slow
/// relay delays the answer this much at most, and never undoes the change.
pub(crate) const NOTICE_WAIT: Duration = Duration::from_secs(15);

/// How many of the people told of a change a message reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct NoticeOutcome {
    /// Messages the relay accepted.
    pub sent: usize,
    /// People with no verified address (or none that could be sent to).
    pub unreachable: usize,
    /// Messages the relay refused or did not accept in time.
    pub failed: usize,
}

impl Registry {
    /// Whether this registry e-mails notices (a mail relay is configured).
    pub fn sends_notices(&self) -> bool {
        self.mailer.is_some()
    }

    /// The verified address notices to `caller` go to: the one its provider
    /// gave at its last sign-in, if any.
    pub async fn notice_address(
        &self,
        caller: &Caller,
    ) -> Result<Option<EmailAddress>, RegistryError> {
        let Some(parts) = &self.sign_in else {
            return Ok(None);
        };
        Ok(parts
            .store
            .account_of(&caller.principal)
            .await?
            .and_then(|account| account.email))
    }

    /// Everyone who acts as an owner of a plugin with `owners`: each owner, or
    /// for a team, each of its members.
    async fn people_owning(&self, owners: &Roster) -> Result<BTreeSet<PrincipalId>, RegistryError> {
        let mut people = BTreeSet::new();
        for entry in &owners.entries {
            let team = match &self.ownership {
                Some(store) => {
                    store
                        .roster(&RosterKey::TeamMembers(entry.principal.clone()))
                        .await?
                }
                None => Roster::default(),
            };
            if team.exists() {
                people.extend(team.entries.iter().map(|m| m.principal.clone()));
            } else {
                people.insert(entry.principal.clone());
            }
        }
        Ok(people)
    }

    /// Sends each person owning a plugin with `owners` the notice `write` makes
    /// for their address; `None` when no mail relay is configured. Nothing here
    /// fails the change it tells of: every failure is logged and counted.
    pub(super) async fn tell_owners(
        &self,
        owners: &Roster,
        write: impl Fn(EmailAddress) -> Notice,
    ) -> Option<NoticeOutcome> {
        let (Some(mailer), Some(parts)) = (&self.mailer, &self.sign_in) else {
            return None;
        };
        let people = match self.people_owning(owners).await {
            Ok(people) => people,
            Err(error) => {
                tracing::error!(%error, "could not read who owns the plugin; nobody was told");
                return Some(NoticeOutcome {
                    failed: owners.entries.len(),
                    ..NoticeOutcome::default()
                });
            }
        };
        let mut outcome = NoticeOutcome::default();
        let mut notices = Vec::new();
        for person in &people {
            match parts.store.account_of(person).await {
                Ok(Some(account)) => match account.email {
                    Some(address) => notices.push(write(address)),
                    None => outcome.unreachable += 1,
                },
                Ok(None) => outcome.unreachable += 1,
                Err(error) => {
                    tracing::error!(%error, principal = %person, "could not read an owner's account");
                    outcome.failed += 1;
                }
            }
        }
        // Sent side by side, each bounded: the whole wait is one NOTICE_WAIT.
        let sending = notices
            .iter()
            .map(|notice| tokio::time::timeout(NOTICE_WAIT, mailer.send(notice)));
        let results = futures_util::future::join_all(sending).await;
        for (notice, result) in notices.iter().zip(results) {
            match result {
                Ok(Ok(())) => outcome.sent += 1,
                Ok(Err(error)) => {
                    tracing::error!(%error, to = %notice.to, subject = %notice.subject, "a notice was not sent");
                    outcome.failed += 1;
                }
                Err(_) => {
                    tracing::error!(to = %notice.to, subject = %notice.subject, "the mail relay did not accept a notice in time");
                    outcome.failed += 1;
                }
            }
        }
        Some(outcome)
    }
}

/// What the audit log says of the notices a change sent.
pub(super) fn notices_note(outcome: Option<NoticeOutcome>) -> String {
    match outcome {
        Some(NoticeOutcome {
            sent,
            unreachable,
            failed,
        }) => format!(
            "owners told by e-mail: {sent} sent, {unreachable} without a verified address, {failed} failed"
        ),
        None => "no mail relay is configured; owners were not told by e-mail".to_owned(),
    }
}
