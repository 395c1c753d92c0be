//! The org ports on the single DynamoDB table.
//!
//! Their keys come from [`super::item_key`].
//!
//! Orgs share one partition so listing them is one query; a platform has far
//! fewer orgs than a partition holds. A scope's rows share a partition and their
//! sort key orders them by pid, then by semver. A row and its id pointer are
//! written in one transaction, each with an absence condition.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use registry_core::auth::PrincipalId;
use registry_core::catalog::{CatalogPluginId, CatalogRow, CatalogScope, OrgChoice};
use registry_core::org::{Membership, Org, OrgId, Permission};
use registry_core::review::AutoApproval;
use registry_core::review::ReviewState;
use registry_core::slug::Slug;
use registry_core::store::{Conflict, OrgCatalogStore, OrgStore, StorageError};
use registry_core::timestamp::Timestamp;
use registry_core::version::PluginVersion;

use super::item_key::{
    ENABLED_PREFIX, ItemKey, MEMBER_PREFIX, ORG_PREFIX, ORGS, PERMISSION_PREFIX, ROW_PREFIX,
    memberships_of_principal, org_partition, principal_partition, scope_partition,
};
use super::{
    DynamoStore, GSI1_PK, GSI1_SK, Item, PK, SK, TransactionOutcome, built, from_json, get_s, s,
    timestamp, to_json,
};
use crate::error::{conditional, corrupt, is_condition_failure, storage_error};

fn get_bool(item: &Item, name: &str) -> Result<bool, StorageError> {
    match item.get(name) {
        Some(AttributeValue::Bool(v)) => Ok(*v),
        _ => Err(corrupt(
            "item attribute",
            format!("{name} is missing or not a boolean"),
        )),
    }
}

/// A row item: its record, with the enablement attributes that change after upload.
fn catalog_row(item: &Item) -> Result<CatalogRow, StorageError> {
    let mut row: CatalogRow = from_json("catalog row", get_s(item, "record")?)?;
    row.enabled = get_bool(item, "enabled")?;
    row.updated_at = timestamp(item, "updated_at")?;
    Ok(row)
}

impl DynamoStore {
    /// Writes an item; with `must_be_new`, only if absent (`Ok(false)` when present).
    async fn put_item(&self, item: Item, must_be_new: bool) -> Result<bool, StorageError> {
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        if must_be_new {
            request = request
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK);
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(storage_error(e)),
        }
    }

    /// Deletes an item that exists ([`Conflict::Missing`] otherwise).
    async fn delete_existing(&self, pk: String, sk: String) -> Result<(), StorageError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        conditional(result, Conflict::Missing)
    }

    async fn row_by_key(&self, pk: &str, sk: &str) -> Result<Option<CatalogRow>, StorageError> {
        self.get(pk, sk)
            .await?
            .map(|item| catalog_row(&item))
            .transpose()
    }
}

#[async_trait]
impl OrgStore for DynamoStore {
    async fn create_org(&self, org: &Org) -> Result<(), StorageError> {
        let key = ItemKey::org(&org.id);
        let item = HashMap::from([
            (PK.to_owned(), s(key.pk)),
            (SK.to_owned(), s(key.sk)),
            ("record".to_owned(), s(to_json(org)?)),
        ]);
        if self.put_item(item, true).await? {
            Ok(())
        } else {
            Err(StorageError::Conflict(Conflict::AlreadyExists))
        }
    }

    async fn org(&self, id: &OrgId) -> Result<Option<Org>, StorageError> {
        let key = ItemKey::org(id);
        self.get(&key.pk, &key.sk)
            .await?
            .map(|item| from_json("org", get_s(&item, "record")?))
            .transpose()
    }

    async fn list_orgs(&self) -> Result<Vec<Org>, StorageError> {
        self.query_prefix(ORGS, ORG_PREFIX, &[])
            .await?
            .iter()
            .map(|item| from_json("org", get_s(item, "record")?))
            .collect()
    }

    async fn set_org_review_policy(
        &self,
        org: &OrgId,
        required: bool,
        auto_approve: &AutoApproval,
    ) -> Result<(), StorageError> {
        let key = ItemKey::org(org);
        let Some(item) = self.get(&key.pk, &key.sk).await? else {
            return Err(StorageError::Conflict(Conflict::Missing));
        };
        let before = get_s(&item, "record")?.to_owned();
        let mut stored: Org = from_json("org", &before)?;
        stored.review_required = required;
        stored.review_auto_approve = auto_approve.clone();
        // Written only over the record it read: the org item holds nothing else
        // that changes, so a race is another policy change, and the last wins.
        let result = self
            .update_item_at(&key.pk, &key.sk)
            .update_expression("SET #record = :record")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#record", "record")
            .expression_attribute_values(":record", s(to_json(&stored)?))
            .send()
            .await;
        conditional(result, Conflict::Missing)
    }

    async fn add_member(&self, membership: &Membership) -> Result<(), StorageError> {
        let key = ItemKey::member(&membership.org, &membership.principal);
        let listing = memberships_of_principal(&membership.principal);
        let item = HashMap::from([
            (PK.to_owned(), s(&key.pk)),
            (SK.to_owned(), s(&key.sk)),
            ("principal".to_owned(), s(membership.principal.as_str())),
            ("added_at".to_owned(), s(membership.added_at.to_string())),
            (GSI1_PK.to_owned(), s(listing.clone())),
            (GSI1_SK.to_owned(), s(membership.org.as_str())),
        ]);
        if self.put_item(item, true).await? {
            return Ok(());
        }
        // Already a member: keep the original `added_at`, and give a membership
        // stored before memberships were listed by principal its listing keys.
        self.update_item_at(&key.pk, &key.sk)
            .update_expression("SET #gpk = :gpk, #gsk = :gsk")
            .expression_attribute_names("#gpk", GSI1_PK)
            .expression_attribute_names("#gsk", GSI1_SK)
            .expression_attribute_values(":gpk", s(listing))
            .expression_attribute_values(":gsk", s(membership.org.as_str()))
            .send()
            .await
            .map(|_| ())
            .map_err(storage_error)
    }

    async fn remove_member(
        &self,
        org: &OrgId,
        principal: &PrincipalId,
    ) -> Result<(), StorageError> {
        let key = ItemKey::member(org, principal);
        self.delete_existing(key.pk, key.sk).await
    }

    async fn is_member(&self, org: &OrgId, principal: &PrincipalId) -> Result<bool, StorageError> {
        let key = ItemKey::member(org, principal);
        Ok(self.get(&key.pk, &key.sk).await?.is_some())
    }

    async fn members(&self, org: &OrgId) -> Result<Vec<Membership>, StorageError> {
        self.query_prefix(&org_partition(org), MEMBER_PREFIX, &[])
            .await?
            .iter()
            .map(|item| {
                Ok(Membership {
                    org: org.clone(),
                    principal: PrincipalId::from_stored(get_s(item, "principal")?),
                    added_at: timestamp(item, "added_at")?,
                })
            })
            .collect()
    }

    async fn orgs_of(&self, principal: &PrincipalId) -> Result<Vec<Org>, StorageError> {
        let memberships = self
            .query_gsi1(&memberships_of_principal(principal))
            .await?;
        let mut orgs = Vec::with_capacity(memberships.len());
        for item in &memberships {
            let id = OrgId::parse(get_s(item, GSI1_SK)?).map_err(|e| corrupt("org member", e))?;
            // The index lags the table: a membership just removed may still be
            // listed, and an org is never deleted, so re-reading it is enough.
            if self.is_member(&id, principal).await?
                && let Some(org) = self.org(&id).await?
            {
                orgs.push(org);
            }
        }
        Ok(orgs)
    }

    async fn grant_permission(
        &self,
        principal: &PrincipalId,
        permission: Permission,
    ) -> Result<(), StorageError> {
        let key = ItemKey::permission(principal, &permission);
        let item = HashMap::from([
            (PK.to_owned(), s(key.pk)),
            (SK.to_owned(), s(key.sk)),
            ("permission".to_owned(), s(permission.as_str())),
        ]);
        self.put_item(item, false).await.map(|_| ())
    }

    async fn revoke_permission(
        &self,
        principal: &PrincipalId,
        permission: Permission,
    ) -> Result<(), StorageError> {
        let key = ItemKey::permission(principal, &permission);
        self.delete_existing(key.pk, key.sk).await
    }

    async fn permissions(
        &self,
        principal: &PrincipalId,
    ) -> Result<BTreeSet<Permission>, StorageError> {
        self.query_prefix(&principal_partition(principal), PERMISSION_PREFIX, &[])
            .await?
            .iter()
            .map(|item| {
                Permission::parse(get_s(item, "permission")?).map_err(|e| corrupt("permission", e))
            })
            .collect()
    }
}

#[async_trait]
impl OrgCatalogStore for DynamoStore {
    async fn insert_row(
        &self,
        row: &CatalogRow,
        told: &[registry_core::webhook::Delivery],
    ) -> Result<(), StorageError> {
        let ItemKey { pk, sk } = ItemKey::catalog_row(&row.scope, &row.pid, &row.version);
        let pointer_key = ItemKey::catalog_row_pointer(&row.plugin_id);
        let row_item = HashMap::from([
            (PK.to_owned(), s(&pk)),
            (SK.to_owned(), s(&sk)),
            ("plugin_id".to_owned(), s(row.plugin_id.as_str())),
            ("enabled".to_owned(), AttributeValue::Bool(row.enabled)),
            ("updated_at".to_owned(), s(row.updated_at.to_string())),
            ("record".to_owned(), s(to_json(row)?)),
        ]);
        let pointer = HashMap::from([
            (PK.to_owned(), s(pointer_key.pk)),
            (SK.to_owned(), s(pointer_key.sk)),
            ("row_pk".to_owned(), s(pk)),
            ("row_sk".to_owned(), s(sk)),
        ]);
        // The id pointer first: when both conditions fail, the first is reported,
        // and a taken id is what the contract names first.
        let mut items = vec![
            self.conditional_put(pointer, "attribute_not_exists")?,
            self.conditional_put(row_item, "attribute_not_exists")?,
        ];
        items.extend(self.delivery_puts(told)?);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TransactionOutcome::ConditionFailed(0)) => {
                Err(StorageError::Conflict(Conflict::AlreadyExists))
            }
            Err(TransactionOutcome::ConditionFailed(_)) => {
                Err(StorageError::Conflict(Conflict::VersionExists))
            }
            Err(TransactionOutcome::Failed(e)) => Err(e),
        }
    }

    async fn row(&self, id: &CatalogPluginId) -> Result<Option<CatalogRow>, StorageError> {
        let pointer_key = ItemKey::catalog_row_pointer(id);
        let Some(pointer) = self.get(&pointer_key.pk, &pointer_key.sk).await? else {
            return Ok(None);
        };
        self.row_by_key(get_s(&pointer, "row_pk")?, get_s(&pointer, "row_sk")?)
            .await
    }

    async fn row_by_version(
        &self,
        scope: &CatalogScope,
        pid: &Slug,
        version: &PluginVersion,
    ) -> Result<Option<CatalogRow>, StorageError> {
        let key = ItemKey::catalog_row(scope, pid, version);
        self.row_by_key(&key.pk, &key.sk).await
    }

    async fn rows(&self, scope: &CatalogScope) -> Result<Vec<CatalogRow>, StorageError> {
        self.query_prefix(&scope_partition(scope), ROW_PREFIX, &[])
            .await?
            .iter()
            .map(catalog_row)
            .collect()
    }

    async fn set_enabled(
        &self,
        id: &CatalogPluginId,
        enabled: bool,
        at: Timestamp,
    ) -> Result<(), StorageError> {
        let pointer_key = ItemKey::catalog_row_pointer(id);
        let Some(pointer) = self.get(&pointer_key.pk, &pointer_key.sk).await? else {
            return Err(StorageError::Conflict(Conflict::Missing));
        };
        let result = self
            .update_item_at(get_s(&pointer, "row_pk")?, get_s(&pointer, "row_sk")?)
            .update_expression("SET #enabled = :enabled, #updated = :at")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#enabled", "enabled")
            .expression_attribute_names("#updated", "updated_at")
            .expression_attribute_values(":enabled", AttributeValue::Bool(enabled))
            .expression_attribute_values(":at", s(at.to_string()))
            .send()
            .await;
        conditional(result, Conflict::Missing)
    }

    async fn decide_row_review(
        &self,
        id: &CatalogPluginId,
        decision: Option<&ReviewState>,
        at: Timestamp,
        told: &[registry_core::webhook::Delivery],
    ) -> Result<(), StorageError> {
        let pointer_key = ItemKey::catalog_row_pointer(id);
        let Some(pointer) = self.get(&pointer_key.pk, &pointer_key.sk).await? else {
            return Err(StorageError::Conflict(Conflict::Missing));
        };
        let (pk, sk) = (get_s(&pointer, "row_pk")?, get_s(&pointer, "row_sk")?);
        let Some(item) = self.get(pk, sk).await? else {
            return Err(StorageError::Conflict(Conflict::Missing));
        };
        let before = get_s(&item, "record")?.to_owned();
        let mut row = catalog_row(&item)?;
        row.decide_review(decision)
            .map_err(StorageError::Conflict)?;
        // Conditional on the record read: a decision made meanwhile changed it.
        let update = built(
            Update::builder()
                .table_name(&self.table)
                .key(PK, s(pk))
                .key(SK, s(sk))
                .update_expression("SET #record = :record, #updated = :at")
                .condition_expression("#record = :before")
                .expression_attribute_names("#record", "record")
                .expression_attribute_names("#updated", "updated_at")
                .expression_attribute_values(":record", s(to_json(&row)?))
                .expression_attribute_values(":before", s(before))
                .expression_attribute_values(":at", s(at.to_string()))
                .build(),
        )?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        items.extend(self.delivery_puts(told)?);
        self.transact_or(items, Conflict::RevisionChanged).await
    }

    async fn org_enablements(
        &self,
        org: &OrgId,
    ) -> Result<BTreeMap<CatalogPluginId, OrgChoice>, StorageError> {
        self.query_prefix(&org_partition(org), ENABLED_PREFIX, &[])
            .await?
            .iter()
            .map(|item| {
                Ok((
                    CatalogPluginId::from_stored(get_s(item, "plugin_id")?),
                    OrgChoice {
                        enabled: get_bool(item, "enabled")?,
                        at: timestamp(item, "updated_at")?,
                    },
                ))
            })
            .collect()
    }

    async fn set_org_enablement(
        &self,
        org: &OrgId,
        id: &CatalogPluginId,
        enabled: bool,
        at: Timestamp,
    ) -> Result<(), StorageError> {
        let key = ItemKey::enablement(org, id);
        let item = HashMap::from([
            (PK.to_owned(), s(key.pk)),
            (SK.to_owned(), s(key.sk)),
            ("plugin_id".to_owned(), s(id.as_str())),
            ("enabled".to_owned(), AttributeValue::Bool(enabled)),
            ("updated_at".to_owned(), s(at.to_string())),
        ]);
        self.put_item(item, false).await.map(|_| ())
    }
}
