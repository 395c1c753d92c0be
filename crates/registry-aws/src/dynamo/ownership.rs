//! The ownership port on the single DynamoDB table: a roster is one item (its
//! entries and revision), changed by a transaction that also keeps one
//! `ROSTERS_OF#` item per entry, so "my plugins" and "my teams" are one query.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use registry_core::auth::PrincipalId;
use registry_core::ownership::{OwnerInvitation, Roster, RosterEntry, RosterKey};
use registry_core::slug::Slug;
use registry_core::store::codec::{
    from_json, roster_entry_from_stored, roster_key_from_stored, slug_from_stored, to_json,
};
use registry_core::store::{Conflict, OwnershipStore, StorageError};

use super::accounts::TTL_ATTRIBUTE;
use super::item_key::{
    INVITEE_PREFIX, ItemKey, ROSTER_ENTRY_PREFIX, invitations_of_plugin, invitations_to,
    rosters_of_principal,
};
use super::{DynamoStore, GSI1_PK, GSI1_SK, Item, PK, SK, built, get_n, get_s, n, s, timestamp};
use crate::error::{conditional, is_condition_failure, storage_error};

fn invitation_record(item: &Item) -> Result<OwnerInvitation, StorageError> {
    Ok(OwnerInvitation {
        slug: slug_from_stored(get_s(item, "slug")?)?,
        invitee: PrincipalId::from_stored(get_s(item, "invitee")?),
        invited_by: PrincipalId::from_stored(get_s(item, "invited_by")?),
        transfer: get_s(item, "transfer")? == "true",
        created_at: timestamp(item, "created_at")?,
        expires_at: timestamp(item, "expires_at")?,
    })
}

impl DynamoStore {
    /// The transaction item that writes `entries` as roster `key`'s revision
    /// `expected + 1`, only if it is still at `expected`.
    fn roster_put(
        &self,
        key: &RosterKey,
        expected: u64,
        entries: &[RosterEntry],
    ) -> Result<TransactWriteItem, StorageError> {
        let item_key = ItemKey::roster(key);
        let mut put = Put::builder()
            .table_name(&self.table)
            .item(PK, s(item_key.pk))
            .item(SK, s(item_key.sk))
            .item("entries", s(to_json(&entries)?))
            .item("revision", n(expected + 1));
        put = if expected == 0 {
            put.condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
        } else {
            put.condition_expression("#revision = :expected")
                .expression_attribute_names("#revision", "revision")
                .expression_attribute_values(":expected", n(expected))
        };
        Ok(TransactWriteItem::builder()
            .put(built(put.build())?)
            .build())
    }
}

#[async_trait]
impl OwnershipStore for DynamoStore {
    async fn roster(&self, key: &RosterKey) -> Result<Roster, StorageError> {
        let item_key = ItemKey::roster(key);
        let Some(item) = self.get(&item_key.pk, &item_key.sk).await? else {
            return Ok(Roster::default());
        };
        Ok(Roster {
            entries: from_json("roster entries", get_s(&item, "entries")?)?,
            revision: get_n(&item, "revision")?,
        })
    }

    async fn replace_roster(
        &self,
        key: &RosterKey,
        expected_revision: u64,
        entries: &[RosterEntry],
    ) -> Result<(), StorageError> {
        // The index items to change are those that differ from the roster as it
        // stands; if it moves on meanwhile, the roster's condition fails and
        // none of them is written.
        let current = self.roster(key).await?;
        if current.revision != expected_revision {
            return Err(StorageError::Conflict(Conflict::RevisionChanged));
        }
        let before: BTreeMap<&PrincipalId, &RosterEntry> =
            current.entries.iter().map(|e| (&e.principal, e)).collect();
        let after: BTreeMap<&PrincipalId, &RosterEntry> =
            entries.iter().map(|e| (&e.principal, e)).collect();
        let mut items = vec![self.roster_put(key, expected_revision, entries)?];
        for (principal, entry) in &after {
            if before.get(principal) == Some(entry) {
                continue;
            }
            let index = ItemKey::roster_entry_of(principal, key);
            let put = Put::builder()
                .table_name(&self.table)
                .item(PK, s(index.pk))
                .item(SK, s(index.sk))
                .item("role", s(entry.role.as_str()))
                .item("since", s(entry.since.to_string()))
                .build();
            items.push(TransactWriteItem::builder().put(built(put)?).build());
        }
        for principal in before.keys().filter(|p| !after.contains_key(*p)) {
            let index = ItemKey::roster_entry_of(principal, key);
            let delete = Delete::builder()
                .table_name(&self.table)
                .key(PK, s(index.pk))
                .key(SK, s(index.sk))
                .build();
            items.push(TransactWriteItem::builder().delete(built(delete)?).build());
        }
        self.transact_or(items, Conflict::RevisionChanged).await
    }

    async fn rosters_of(
        &self,
        principal: &PrincipalId,
    ) -> Result<Vec<(RosterKey, RosterEntry)>, StorageError> {
        let items = self
            .query_prefix(&rosters_of_principal(principal), ROSTER_ENTRY_PREFIX, &[])
            .await?;
        items
            .iter()
            .map(|item| {
                Ok((
                    roster_key_from_stored(
                        get_s(item, SK)?
                            .strip_prefix(ROSTER_ENTRY_PREFIX)
                            .unwrap_or_default(),
                    )?,
                    roster_entry_from_stored(
                        principal.as_str(),
                        get_s(item, "role")?,
                        get_s(item, "since")?,
                    )?,
                ))
            })
            .collect()
    }

    async fn insert_invitation(&self, invitation: &OwnerInvitation) -> Result<(), StorageError> {
        let key = ItemKey::invitation(&invitation.slug, &invitation.invitee);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(key.pk))
            .item(SK, s(key.sk))
            .item(GSI1_PK, s(invitations_to(&invitation.invitee)))
            .item(GSI1_SK, s(invitation.slug.as_str()))
            .item("slug", s(invitation.slug.as_str()))
            .item("invitee", s(invitation.invitee.as_str()))
            .item("invited_by", s(invitation.invited_by.as_str()))
            .item("transfer", s(invitation.transfer.to_string()))
            .item("created_at", s(invitation.created_at.to_string()))
            .item("expires_at", s(invitation.expires_at.to_string()))
            .item(
                TTL_ATTRIBUTE,
                n(u64::try_from(invitation.expires_at.unix_seconds()).unwrap_or(0)),
            )
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        conditional(result, Conflict::AlreadyExists)
    }

    async fn invitation(
        &self,
        slug: &Slug,
        invitee: &PrincipalId,
    ) -> Result<Option<OwnerInvitation>, StorageError> {
        let key = ItemKey::invitation(slug, invitee);
        self.get(&key.pk, &key.sk)
            .await?
            .map(|item| invitation_record(&item))
            .transpose()
    }

    async fn invitations_of_plugin(
        &self,
        slug: &Slug,
    ) -> Result<Vec<OwnerInvitation>, StorageError> {
        self.query_prefix(&invitations_of_plugin(slug), INVITEE_PREFIX, &[])
            .await?
            .iter()
            .map(invitation_record)
            .collect()
    }

    async fn invitations_for(
        &self,
        invitee: &PrincipalId,
    ) -> Result<Vec<OwnerInvitation>, StorageError> {
        self.query_gsi1(&invitations_to(invitee))
            .await?
            .iter()
            .map(invitation_record)
            .collect()
    }

    async fn delete_invitation(
        &self,
        slug: &Slug,
        invitee: &PrincipalId,
    ) -> Result<bool, StorageError> {
        let key = ItemKey::invitation(slug, invitee);
        // Conditional, so of racing removals exactly one is told it removed it.
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(key.pk))
            .key(SK, s(key.sk))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(storage_error(e)),
        }
    }
}
