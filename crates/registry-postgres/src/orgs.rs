//! The org ports in PostgreSQL: orgs, members, permissions and the org catalog,
//! in the same database as the registry catalog.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use registry_core::auth::PrincipalId;
use registry_core::catalog::{CatalogPluginId, CatalogRow, CatalogScope, OrgChoice};
use registry_core::org::{Membership, Org, OrgId, Permission};
use registry_core::review::AutoApproval;
use registry_core::review::ReviewState;
use registry_core::slug::Slug;
use registry_core::store::codec::timestamp_from_stored;
use registry_core::store::{Conflict, OrgCatalogStore, OrgStore, StorageError};
use registry_core::timestamp::Timestamp;
use registry_core::version::PluginVersion;

use crate::{PostgresStore, backend, corrupt, from_json, to_json};

fn orgs_of_rows(rows: &[Row]) -> Result<Vec<Org>, StorageError> {
    rows.iter().map(|r| from_json("org", r.get(0))).collect()
}

#[async_trait]
impl OrgStore for PostgresStore {
    async fn create_org(&self, org: &Org) -> Result<(), StorageError> {
        self.change_one(
            "INSERT INTO orgs (id, record) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&org.id.as_str(), &to_json(org)?],
            Conflict::AlreadyExists,
        )
        .await
    }

    async fn org(&self, id: &OrgId) -> Result<Option<Org>, StorageError> {
        self.select_one("SELECT record FROM orgs WHERE id = $1", &[&id.as_str()])
            .await?
            .map(|row| from_json("org", row.get(0)))
            .transpose()
    }

    async fn list_orgs(&self) -> Result<Vec<Org>, StorageError> {
        orgs_of_rows(
            &self
                .select_all("SELECT record FROM orgs ORDER BY id", &[])
                .await?,
        )
    }

    async fn set_org_review_policy(
        &self,
        org: &OrgId,
        required: bool,
        auto_approve: &AutoApproval,
    ) -> Result<(), StorageError> {
        self.write(
            (org, required, auto_approve),
            |tx, (org, required, auto_approve)| {
                Box::pin(async move {
                    let Some(row) = tx
                        .query_opt(
                            "SELECT record FROM orgs WHERE id = $1 FOR UPDATE",
                            &[&org.as_str()],
                        )
                        .await
                        .map_err(backend)?
                    else {
                        return Err(StorageError::Conflict(Conflict::Missing));
                    };
                    let mut stored: Org = from_json("org", row.get(0))?;
                    stored.review_required = *required;
                    stored.review_auto_approve = (*auto_approve).clone();
                    tx.execute(
                        "UPDATE orgs SET record = $2 WHERE id = $1",
                        &[&org.as_str(), &to_json(&stored)?],
                    )
                    .await
                    .map_err(backend)?;
                    Ok(())
                })
            },
        )
        .await
    }

    async fn add_member(&self, membership: &Membership) -> Result<(), StorageError> {
        self.select_all(
            "INSERT INTO org_members (org, principal, added_at) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[
                &membership.org.as_str(),
                &membership.principal.as_str(),
                &membership.added_at.to_string(),
            ],
        )
        .await
        .map(drop)
    }

    async fn remove_member(
        &self,
        org: &OrgId,
        principal: &PrincipalId,
    ) -> Result<(), StorageError> {
        self.change_one(
            "DELETE FROM org_members WHERE org = $1 AND principal = $2",
            &[&org.as_str(), &principal.as_str()],
            Conflict::Missing,
        )
        .await
    }

    async fn is_member(&self, org: &OrgId, principal: &PrincipalId) -> Result<bool, StorageError> {
        Ok(self
            .select_one(
                "SELECT 1 FROM org_members WHERE org = $1 AND principal = $2",
                &[&org.as_str(), &principal.as_str()],
            )
            .await?
            .is_some())
    }

    async fn members(&self, org: &OrgId) -> Result<Vec<Membership>, StorageError> {
        self.select_all(
            "SELECT principal, added_at FROM org_members WHERE org = $1 ORDER BY principal",
            &[&org.as_str()],
        )
        .await?
        .iter()
        .map(|row| {
            Ok(Membership {
                org: org.clone(),
                principal: PrincipalId::from_stored(row.get::<_, String>(0)),
                added_at: timestamp_from_stored("added_at", row.get(1))?,
            })
        })
        .collect()
    }

    async fn orgs_of(&self, principal: &PrincipalId) -> Result<Vec<Org>, StorageError> {
        orgs_of_rows(
            &self
                .select_all(
                    "SELECT o.record FROM org_members m JOIN orgs o ON o.id = m.org
                     WHERE m.principal = $1 ORDER BY o.id",
                    &[&principal.as_str()],
                )
                .await?,
        )
    }

    async fn grant_permission(
        &self,
        principal: &PrincipalId,
        permission: Permission,
    ) -> Result<(), StorageError> {
        self.select_all(
            "INSERT INTO principal_permissions (principal, permission) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
            &[&principal.as_str(), &permission.as_str()],
        )
        .await
        .map(drop)
    }

    async fn revoke_permission(
        &self,
        principal: &PrincipalId,
        permission: Permission,
    ) -> Result<(), StorageError> {
        self.change_one(
            "DELETE FROM principal_permissions WHERE principal = $1 AND permission = $2",
            &[&principal.as_str(), &permission.as_str()],
            Conflict::Missing,
        )
        .await
    }

    async fn permissions(
        &self,
        principal: &PrincipalId,
    ) -> Result<BTreeSet<Permission>, StorageError> {
        self.select_all(
            "SELECT permission FROM principal_permissions WHERE principal = $1",
            &[&principal.as_str()],
        )
        .await?
        .iter()
        .map(|row| Permission::parse(row.get(0)).map_err(|e| corrupt("permission", e)))
        .collect()
    }
}

const ROW_COLUMNS: &str = "record, enabled, updated_at";

/// A stored row ([`ROW_COLUMNS`]): its record, with the enablement columns that
/// change after upload.
fn catalog_row(row: &Row) -> Result<CatalogRow, StorageError> {
    let mut catalog_row: CatalogRow = from_json("catalog row", row.get(0))?;
    catalog_row.enabled = row.get(1);
    catalog_row.updated_at = timestamp_from_stored("updated_at", row.get(2))?;
    Ok(catalog_row)
}

#[async_trait]
impl OrgCatalogStore for PostgresStore {
    async fn insert_row(
        &self,
        row: &CatalogRow,
        told: &[registry_core::webhook::Delivery],
    ) -> Result<(), StorageError> {
        let record = to_json(row)?;
        self.write((row, record, told), |tx, (row, record, told)| {
            Box::pin(async move {
                let exists = |sql: &'static str, params: Vec<String>| async move {
                    let params: Vec<&(dyn ToSql + Sync)> =
                        params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
                    tx.query_opt(sql, &params)
                        .await
                        .map(|found| found.is_some())
                        .map_err(backend)
                };
                if exists(
                    "SELECT 1 FROM catalog_rows WHERE plugin_id = $1",
                    vec![row.plugin_id.to_string()],
                )
                .await?
                {
                    return Err(StorageError::Conflict(Conflict::AlreadyExists));
                }
                if exists(
                    "SELECT 1 FROM catalog_rows WHERE scope = $1 AND pid = $2 AND version = $3",
                    vec![
                        row.scope.storage_name(),
                        row.pid.to_string(),
                        row.version.to_string(),
                    ],
                )
                .await?
                {
                    return Err(StorageError::Conflict(Conflict::VersionExists));
                }
                tx.execute(
                    "INSERT INTO catalog_rows (plugin_id, scope, pid, version, sort_key, enabled, updated_at, record)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    &[
                        &row.plugin_id.as_str(),
                        &row.scope.storage_name(),
                        &row.pid.as_str(),
                        &row.version.to_string(),
                        &row.version.sort_key(),
                        &row.enabled,
                        &row.updated_at.to_string(),
                        record,
                    ],
                )
                .await
                .map_err(backend)?;
                crate::webhooks::insert_delivery_rows(tx, told).await
            })
        })
        .await
    }

    async fn row(&self, id: &CatalogPluginId) -> Result<Option<CatalogRow>, StorageError> {
        self.select_one(
            &format!("SELECT {ROW_COLUMNS} FROM catalog_rows WHERE plugin_id = $1"),
            &[&id.as_str()],
        )
        .await?
        .as_ref()
        .map(catalog_row)
        .transpose()
    }

    async fn row_by_version(
        &self,
        scope: &CatalogScope,
        pid: &Slug,
        version: &PluginVersion,
    ) -> Result<Option<CatalogRow>, StorageError> {
        self.select_one(
            &format!(
                "SELECT {ROW_COLUMNS} FROM catalog_rows WHERE scope = $1 AND pid = $2 AND version = $3"
            ),
            &[&scope.storage_name(), &pid.as_str(), &version.to_string()],
        )
        .await?
        .as_ref()
        .map(catalog_row)
        .transpose()
    }

    async fn rows(&self, scope: &CatalogScope) -> Result<Vec<CatalogRow>, StorageError> {
        self.select_all(
            &format!(
                "SELECT {ROW_COLUMNS} FROM catalog_rows WHERE scope = $1 ORDER BY pid, sort_key"
            ),
            &[&scope.storage_name()],
        )
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
        self.change_one(
            "UPDATE catalog_rows SET enabled = $2, updated_at = $3 WHERE plugin_id = $1",
            &[&id.as_str(), &enabled, &at.to_string()],
            Conflict::Missing,
        )
        .await
    }

    async fn decide_row_review(
        &self,
        id: &CatalogPluginId,
        decision: Option<&ReviewState>,
        at: Timestamp,
        told: &[registry_core::webhook::Delivery],
    ) -> Result<(), StorageError> {
        self.write((id, decision, at, told), |tx, (id, decision, at, told)| {
            Box::pin(async move {
                let Some(found) = tx
                    .query_opt(
                        "SELECT record, enabled, updated_at FROM catalog_rows WHERE plugin_id = $1 FOR UPDATE",
                        &[&id.as_str()],
                    )
                    .await
                    .map_err(backend)?
                else {
                    return Err(StorageError::Conflict(Conflict::Missing));
                };
                let mut row = catalog_row(&found)?;
                row.decide_review(*decision).map_err(StorageError::Conflict)?;
                row.updated_at = *at;
                tx.execute(
                    "UPDATE catalog_rows SET record = $2, updated_at = $3 WHERE plugin_id = $1",
                    &[&id.as_str(), &to_json(&row)?, &at.to_string()],
                )
                .await
                .map_err(backend)?;
                crate::webhooks::insert_delivery_rows(tx, told).await
            })
        })
        .await
    }

    async fn org_enablements(
        &self,
        org: &OrgId,
    ) -> Result<BTreeMap<CatalogPluginId, OrgChoice>, StorageError> {
        self.select_all(
            "SELECT plugin_id, enabled, updated_at FROM org_enablements WHERE org = $1",
            &[&org.as_str()],
        )
        .await?
        .iter()
        .map(|row| {
            let at = timestamp_from_stored("updated_at", row.get(2))?;
            Ok((
                CatalogPluginId::from_stored(row.get::<_, String>(0)),
                OrgChoice {
                    enabled: row.get(1),
                    at,
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
        self.select_all(
            "INSERT INTO org_enablements (org, plugin_id, enabled, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (org, plugin_id) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at",
            &[&org.as_str(), &id.as_str(), &enabled, &at.to_string()],
        )
        .await
        .map(drop)
    }
}
