//! The ownership port in PostgreSQL: rosters (plugin owners, team members) with
//! their revisions, and invitations to own a plugin.

use async_trait::async_trait;
use tokio_postgres::Row;

use registry_core::auth::PrincipalId;
use registry_core::ownership::{OwnerInvitation, Roster, RosterEntry, RosterKey};
use registry_core::slug::Slug;
use registry_core::store::codec::{
    roster_entry_from_stored, roster_key_from_stored, slug_from_stored, timestamp_from_stored,
};
use registry_core::store::{Conflict, OwnershipStore, StorageError};

use crate::{PostgresStore, backend, signed, unsigned};

const INVITATION_COLUMNS: &str = "slug, invitee, invited_by, transfer, created_at, expires_at";

fn invitation_record(row: &Row) -> Result<OwnerInvitation, StorageError> {
    Ok(OwnerInvitation {
        slug: slug_from_stored(row.get(0))?,
        invitee: PrincipalId::from_stored(row.get::<_, String>(1)),
        invited_by: PrincipalId::from_stored(row.get::<_, String>(2)),
        transfer: row.get(3),
        created_at: timestamp_from_stored("created_at", row.get(4))?,
        expires_at: timestamp_from_stored("expires_at", row.get(5))?,
    })
}

impl PostgresStore {
    /// The invitations whose `column` (`slug` or `invitee`) is `value`, ordered
    /// by the other one.
    async fn invitations_where(
        &self,
        column: &'static str,
        order: &'static str,
        value: &str,
    ) -> Result<Vec<OwnerInvitation>, StorageError> {
        let client = self.client().await?;
        client
            .query(
                &format!(
                    "SELECT {INVITATION_COLUMNS} FROM owner_invitations WHERE {column} = $1 ORDER BY {order}"
                ),
                &[&value],
            )
            .await
            .map_err(backend)?
            .iter()
            .map(invitation_record)
            .collect()
    }
}

#[async_trait]
impl OwnershipStore for PostgresStore {
    async fn roster(&self, key: &RosterKey) -> Result<Roster, StorageError> {
        let name = key.storage_name();
        let rows = self
            .read(name, |tx, name| {
                Box::pin(async move {
                    let Some(revision) = tx
                        .query_opt("SELECT revision FROM rosters WHERE roster = $1", &[name])
                        .await
                        .map_err(backend)?
                    else {
                        return Ok(None);
                    };
                    let entries = tx
                        .query(
                            "SELECT principal, role, since FROM roster_entries
                             WHERE roster = $1 ORDER BY principal",
                            &[name],
                        )
                        .await
                        .map_err(backend)?;
                    Ok(Some((revision.get::<_, i64>(0), entries)))
                })
            })
            .await?;
        let Some((revision, entries)) = rows else {
            return Ok(Roster::default());
        };
        Ok(Roster {
            entries: entries
                .iter()
                .map(|r| roster_entry_from_stored(r.get(0), r.get(1), r.get(2)))
                .collect::<Result<_, _>>()?,
            revision: unsigned(revision),
        })
    }

    async fn replace_roster(
        &self,
        key: &RosterKey,
        expected_revision: u64,
        entries: &[RosterEntry],
    ) -> Result<(), StorageError> {
        self.write(
            (key.storage_name(), expected_revision, entries),
            |tx, (name, expected, entries)| {
                Box::pin(async move {
                    let moved = if *expected == 0 {
                        tx.execute(
                            "INSERT INTO rosters (roster, revision) VALUES ($1, 1) ON CONFLICT DO NOTHING",
                            &[name],
                        )
                        .await
                    } else {
                        tx.execute(
                            "UPDATE rosters SET revision = revision + 1 WHERE roster = $1 AND revision = $2",
                            &[name, &signed(*expected)],
                        )
                        .await
                    }
                    .map_err(backend)?;
                    if moved == 0 {
                        return Err(StorageError::Conflict(Conflict::RevisionChanged));
                    }
                    tx.execute("DELETE FROM roster_entries WHERE roster = $1", &[name])
                        .await
                        .map_err(backend)?;
                    for entry in entries.iter() {
                        tx.execute(
                            "INSERT INTO roster_entries (roster, principal, role, since) VALUES ($1, $2, $3, $4)",
                            &[
                                name,
                                &entry.principal.as_str(),
                                &entry.role.as_str(),
                                &entry.since.to_string(),
                            ],
                        )
                        .await
                        .map_err(backend)?;
                    }
                    Ok(())
                })
            },
        )
        .await
    }

    async fn rosters_of(
        &self,
        principal: &PrincipalId,
    ) -> Result<Vec<(RosterKey, RosterEntry)>, StorageError> {
        let client = self.client().await?;
        client
            .query(
                "SELECT roster, role, since FROM roster_entries WHERE principal = $1 ORDER BY roster",
                &[&principal.as_str()],
            )
            .await
            .map_err(backend)?
            .iter()
            .map(|row| {
                Ok((
                    roster_key_from_stored(row.get(0))?,
                    roster_entry_from_stored(principal.as_str(), row.get(1), row.get(2))?,
                ))
            })
            .collect()
    }

    async fn insert_invitation(&self, invitation: &OwnerInvitation) -> Result<(), StorageError> {
        self.change_one(
                &format!(
                    "INSERT INTO owner_invitations ({INVITATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT DO NOTHING"
                ),
                &[
                    &invitation.slug.as_str(),
                    &invitation.invitee.as_str(),
                    &invitation.invited_by.as_str(),
                    &invitation.transfer,
                    &invitation.created_at.to_string(),
                    &invitation.expires_at.to_string(),
                ],
            Conflict::AlreadyExists,
        )
        .await
    }

    async fn invitation(
        &self,
        slug: &Slug,
        invitee: &PrincipalId,
    ) -> Result<Option<OwnerInvitation>, StorageError> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!(
                    "SELECT {INVITATION_COLUMNS} FROM owner_invitations WHERE slug = $1 AND invitee = $2"
                ),
                &[&slug.as_str(), &invitee.as_str()],
            )
            .await
            .map_err(backend)?
            .as_ref()
            .map(invitation_record)
            .transpose()
    }

    async fn invitations_of_plugin(
        &self,
        slug: &Slug,
    ) -> Result<Vec<OwnerInvitation>, StorageError> {
        self.invitations_where("slug", "invitee", slug.as_str())
            .await
    }

    async fn invitations_for(
        &self,
        invitee: &PrincipalId,
    ) -> Result<Vec<OwnerInvitation>, StorageError> {
        self.invitations_where("invitee", "slug", invitee.as_str())
            .await
    }

    async fn delete_invitation(
        &self,
        slug: &Slug,
        invitee: &PrincipalId,
    ) -> Result<bool, StorageError> {
        let client = self.client().await?;
        let deleted = client
            .execute(
                "DELETE FROM owner_invitations WHERE slug = $1 AND invitee = $2",
                &[&slug.as_str(), &invitee.as_str()],
            )
            .await
            .map_err(backend)?;
        Ok(deleted == 1)
    }
}
