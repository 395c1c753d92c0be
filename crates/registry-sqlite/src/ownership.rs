//! The ownership port in SQLite: rosters (plugin owners, team members) with
//! their revisions, and invitations to own a plugin.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use registry_core::auth::PrincipalId;
use registry_core::ownership::{OwnerInvitation, Roster, RosterEntry, RosterKey};
use registry_core::slug::Slug;
use registry_core::store::codec::{
    roster_entry_from_stored, roster_key_from_stored, slug_from_stored, timestamp_from_stored,
};
use registry_core::store::{Conflict, OwnershipStore, StorageError};

use crate::{SqliteStore, backend};

const INVITATION_COLUMNS: &str = "slug, invitee, invited_by, transfer, created_at, expires_at";

type InvitationRow = (String, String, String, bool, String, String);

fn invitation_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<InvitationRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

fn invitation_record(
    (slug, invitee, invited_by, transfer, created_at, expires_at): InvitationRow,
) -> Result<OwnerInvitation, StorageError> {
    Ok(OwnerInvitation {
        slug: slug_from_stored(&slug)?,
        invitee: PrincipalId::from_stored(invitee),
        invited_by: PrincipalId::from_stored(invited_by),
        transfer,
        created_at: timestamp_from_stored("created_at", &created_at)?,
        expires_at: timestamp_from_stored("expires_at", &expires_at)?,
    })
}

/// The rows `sql` (with one parameter, `?1`) selects, as three text columns.
fn text_triples(
    conn: &rusqlite::Connection,
    sql: &str,
    parameter: &str,
) -> Result<Vec<(String, String, String)>, StorageError> {
    let mut statement = conn.prepare(sql).map_err(backend)?;
    let rows = statement
        .query_map([parameter], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    Ok(rows)
}

impl SqliteStore {
    /// The invitations whose `column` (`slug` or `invitee`) is `value`, ordered
    /// by the other one.
    async fn invitations_where(
        &self,
        column: &'static str,
        order: &'static str,
        value: String,
    ) -> Result<Vec<OwnerInvitation>, StorageError> {
        self.with_conn(move |conn| {
            let mut statement = conn
                .prepare(&format!(
                    "SELECT {INVITATION_COLUMNS} FROM owner_invitations WHERE {column} = ?1 ORDER BY {order}"
                ))
                .map_err(backend)?;
            let rows = statement
                .query_map([value], invitation_row)
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?;
            rows.into_iter().map(invitation_record).collect()
        })
        .await
    }
}

#[async_trait]
impl OwnershipStore for SqliteStore {
    async fn roster(&self, key: &RosterKey) -> Result<Roster, StorageError> {
        let name = key.storage_name();
        self.with_conn(move |conn| {
            let Some(revision) = conn
                .query_row(
                    "SELECT revision FROM rosters WHERE roster = ?1",
                    [&name],
                    |r| r.get::<_, i64>(0),
                )
                .optional()
                .map_err(backend)?
            else {
                return Ok(Roster::default());
            };
            let rows = text_triples(
                conn,
                "SELECT principal, role, since FROM roster_entries
                 WHERE roster = ?1 ORDER BY principal",
                &name,
            )?;
            let entries = rows
                .iter()
                .map(|(principal, role, since)| roster_entry_from_stored(principal, role, since))
                .collect::<Result<_, _>>()?;
            Ok(Roster {
                entries,
                revision: u64::try_from(revision).unwrap_or(0),
            })
        })
        .await
    }

    async fn replace_roster(
        &self,
        key: &RosterKey,
        expected_revision: u64,
        entries: &[RosterEntry],
    ) -> Result<(), StorageError> {
        let (name, entries) = (key.storage_name(), entries.to_vec());
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let moved = if expected_revision == 0 {
                tx.execute(
                    "INSERT OR IGNORE INTO rosters (roster, revision) VALUES (?1, 1)",
                    [&name],
                )
            } else {
                tx.execute(
                    "UPDATE rosters SET revision = revision + 1 WHERE roster = ?1 AND revision = ?2",
                    params![name, i64::try_from(expected_revision).unwrap_or(i64::MAX)],
                )
            }
            .map_err(backend)?;
            if moved == 0 {
                return Err(StorageError::Conflict(Conflict::RevisionChanged));
            }
            tx.execute("DELETE FROM roster_entries WHERE roster = ?1", [&name])
                .map_err(backend)?;
            for entry in &entries {
                tx.execute(
                    "INSERT INTO roster_entries (roster, principal, role, since) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        name,
                        entry.principal.as_str(),
                        entry.role.as_str(),
                        entry.since.to_string()
                    ],
                )
                .map_err(backend)?;
            }
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn rosters_of(
        &self,
        principal: &PrincipalId,
    ) -> Result<Vec<(RosterKey, RosterEntry)>, StorageError> {
        let principal = principal.as_str().to_owned();
        self.with_conn(move |conn| {
            let rows = text_triples(
                conn,
                "SELECT roster, role, since FROM roster_entries
                 WHERE principal = ?1 ORDER BY roster",
                &principal,
            )?;
            rows.iter()
                .map(|(roster, role, since)| {
                    Ok((
                        roster_key_from_stored(roster)?,
                        roster_entry_from_stored(&principal, role, since)?,
                    ))
                })
                .collect()
        })
        .await
    }

    async fn insert_invitation(&self, invitation: &OwnerInvitation) -> Result<(), StorageError> {
        let i = invitation.clone();
        self.with_conn(move |conn| {
            let inserted = conn
                .execute(
                    &format!(
                        "INSERT OR IGNORE INTO owner_invitations ({INVITATION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                    ),
                    params![
                        i.slug.as_str(),
                        i.invitee.as_str(),
                        i.invited_by.as_str(),
                        i.transfer,
                        i.created_at.to_string(),
                        i.expires_at.to_string()
                    ],
                )
                .map_err(backend)?;
            if inserted == 0 {
                return Err(StorageError::Conflict(Conflict::AlreadyExists));
            }
            Ok(())
        })
        .await
    }

    async fn invitation(
        &self,
        slug: &Slug,
        invitee: &PrincipalId,
    ) -> Result<Option<OwnerInvitation>, StorageError> {
        let (slug, invitee) = (slug.as_str().to_owned(), invitee.as_str().to_owned());
        self.with_conn(move |conn| {
            conn.query_row(
                &format!(
                    "SELECT {INVITATION_COLUMNS} FROM owner_invitations WHERE slug = ?1 AND invitee = ?2"
                ),
                [slug, invitee],
                invitation_row,
            )
            .optional()
            .map_err(backend)?
            .map(invitation_record)
            .transpose()
        })
        .await
    }

    async fn invitations_of_plugin(
        &self,
        slug: &Slug,
    ) -> Result<Vec<OwnerInvitation>, StorageError> {
        self.invitations_where("slug", "invitee", slug.as_str().to_owned())
            .await
    }

    async fn invitations_for(
        &self,
        invitee: &PrincipalId,
    ) -> Result<Vec<OwnerInvitation>, StorageError> {
        self.invitations_where("invitee", "slug", invitee.as_str().to_owned())
            .await
    }

    async fn delete_invitation(
        &self,
        slug: &Slug,
        invitee: &PrincipalId,
    ) -> Result<bool, StorageError> {
        let (slug, invitee) = (slug.as_str().to_owned(), invitee.as_str().to_owned());
        self.with_conn(move |conn| {
            let deleted = conn
                .execute(
                    "DELETE FROM owner_invitations WHERE slug = ?1 AND invitee = ?2",
                    [slug, invitee],
                )
                .map_err(backend)?;
            Ok(deleted == 1)
        })
        .await
    }
}
