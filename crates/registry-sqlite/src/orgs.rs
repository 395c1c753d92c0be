//! The embedded adapter of the org ports: orgs, members, permissions and the org
//! catalog, in the same SQLite file as the registry catalog.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use crate::SqliteStore;
use crate::{backend, corrupt, from_json, to_json};
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

#[async_trait]
impl OrgStore for SqliteStore {
    async fn create_org(&self, org: &Org) -> Result<(), StorageError> {
        let (id, record) = (org.id.to_string(), to_json(org)?);
        self.with_conn(move |conn| {
            let inserted = conn
                .execute(
                    "INSERT OR IGNORE INTO orgs (id, record) VALUES (?1, ?2)",
                    params![id, record],
                )
                .map_err(backend)?;
            if inserted == 0 {
                return Err(StorageError::Conflict(Conflict::AlreadyExists));
            }
            Ok(())
        })
        .await
    }

    async fn org(&self, id: &OrgId) -> Result<Option<Org>, StorageError> {
        let id = id.to_string();
        self.with_conn(move |conn| {
            conn.query_row("SELECT record FROM orgs WHERE id = ?1", [id], |r| {
                r.get::<_, String>(0)
            })
            .optional()
            .map_err(backend)?
            .map(|raw| from_json("org", &raw))
            .transpose()
        })
        .await
    }

    async fn list_orgs(&self) -> Result<Vec<Org>, StorageError> {
        self.with_conn(|conn| {
            let raws = select_all(conn, "SELECT record FROM orgs ORDER BY id", [], |r| {
                r.get::<_, String>(0)
            })?;
            raws.iter().map(|raw| from_json("org", raw)).collect()
        })
        .await
    }

    async fn set_org_review_policy(
        &self,
        org: &OrgId,
        required: bool,
        auto_approve: &AutoApproval,
    ) -> Result<(), StorageError> {
        let (id, auto_approve) = (org.to_string(), auto_approve.clone());
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let raw: Option<String> = tx
                .query_row("SELECT record FROM orgs WHERE id = ?1", [&id], |r| r.get(0))
                .optional()
                .map_err(backend)?;
            let Some(raw) = raw else {
                return Err(StorageError::Conflict(Conflict::Missing));
            };
            let mut org: Org = from_json("org", &raw)?;
            org.review_required = required;
            org.review_auto_approve = auto_approve;
            tx.execute(
                "UPDATE orgs SET record = ?2 WHERE id = ?1",
                params![id, to_json(&org)?],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn add_member(&self, membership: &Membership) -> Result<(), StorageError> {
        let m = membership.clone();
        self.with_conn(move |conn| {
            conn.execute(
                "INSERT OR IGNORE INTO org_members (org, principal, added_at) VALUES (?1, ?2, ?3)",
                params![m.org.as_str(), m.principal.as_str(), m.added_at.to_string()],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn remove_member(
        &self,
        org: &OrgId,
        principal: &PrincipalId,
    ) -> Result<(), StorageError> {
        let (org, principal) = (org.to_string(), principal.to_string());
        self.with_conn(move |conn| {
            let removed = conn
                .execute(
                    "DELETE FROM org_members WHERE org = ?1 AND principal = ?2",
                    params![org, principal],
                )
                .map_err(backend)?;
            if removed == 0 {
                return Err(StorageError::Conflict(Conflict::Missing));
            }
            Ok(())
        })
        .await
    }

    async fn is_member(&self, org: &OrgId, principal: &PrincipalId) -> Result<bool, StorageError> {
        let (org, principal) = (org.to_string(), principal.to_string());
        self.with_conn(move |conn| {
            conn.query_row(
                "SELECT 1 FROM org_members WHERE org = ?1 AND principal = ?2",
                params![org, principal],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(backend)
        })
        .await
    }

    async fn members(&self, org: &OrgId) -> Result<Vec<Membership>, StorageError> {
        let org = org.clone();
        self.with_conn(move |conn| {
            let rows = select_all(
                conn,
                "SELECT principal, added_at FROM org_members WHERE org = ?1 ORDER BY principal",
                [org.as_str()],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )?;
            rows.into_iter()
                .map(|(principal, added_at)| {
                    Ok(Membership {
                        org: org.clone(),
                        principal: PrincipalId::from_stored(principal),
                        added_at: timestamp_from_stored("added_at", &added_at)?,
                    })
                })
                .collect()
        })
        .await
    }

    async fn orgs_of(&self, principal: &PrincipalId) -> Result<Vec<Org>, StorageError> {
        let principal = principal.to_string();
        self.with_conn(move |conn| {
            let raws = select_all(
                conn,
                "SELECT o.record FROM org_members m JOIN orgs o ON o.id = m.org \
                 WHERE m.principal = ?1 ORDER BY o.id",
                [principal.as_str()],
                |r| r.get::<_, String>(0),
            )?;
            raws.iter().map(|raw| from_json("org", raw)).collect()
        })
        .await
    }

    async fn grant_permission(
        &self,
        principal: &PrincipalId,
        permission: Permission,
    ) -> Result<(), StorageError> {
        let principal = principal.to_string();
        self.with_conn(move |conn| {
            conn.execute(
                "INSERT OR IGNORE INTO principal_permissions (principal, permission) VALUES (?1, ?2)",
                params![principal, permission.as_str()],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn revoke_permission(
        &self,
        principal: &PrincipalId,
        permission: Permission,
    ) -> Result<(), StorageError> {
        let principal = principal.to_string();
        self.with_conn(move |conn| {
            let removed = conn
                .execute(
                    "DELETE FROM principal_permissions WHERE principal = ?1 AND permission = ?2",
                    params![principal, permission.as_str()],
                )
                .map_err(backend)?;
            if removed == 0 {
                return Err(StorageError::Conflict(Conflict::Missing));
            }
            Ok(())
        })
        .await
    }

    async fn permissions(
        &self,
        principal: &PrincipalId,
    ) -> Result<BTreeSet<Permission>, StorageError> {
        let principal = principal.to_string();
        self.with_conn(move |conn| {
            let raws = select_all(
                conn,
                "SELECT permission FROM principal_permissions WHERE principal = ?1",
                [principal],
                |r| r.get::<_, String>(0),
            )?;
            raws.iter()
                .map(|raw| Permission::parse(raw).map_err(|e| corrupt("permission", e)))
                .collect()
        })
        .await
    }
}

/// Every row `sql` selects with `params`, each read by `read`.
pub(crate) fn select_all<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
    read: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StorageError> {
    let mut stmt = conn.prepare(sql).map_err(backend)?;
    stmt.query_map(params, read)
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)
}

/// A stored row: its record, with the enablement columns that change after upload.
fn catalog_row(raw: &str, enabled: bool, updated_at: &str) -> Result<CatalogRow, StorageError> {
    let mut row: CatalogRow = from_json("catalog row", raw)?;
    row.enabled = enabled;
    row.updated_at = timestamp_from_stored("updated_at", updated_at)?;
    Ok(row)
}

const ROW_COLUMNS: &str = "record, enabled, updated_at";

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, bool, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

#[async_trait]
impl OrgCatalogStore for SqliteStore {
    async fn insert_row(
        &self,
        row: &CatalogRow,
        told: &[registry_core::webhook::Delivery],
    ) -> Result<(), StorageError> {
        let row = row.clone();
        let record = to_json(&row)?;
        let told = crate::webhooks::delivery_rows(told)?;
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let exists = |sql: &str, params: &[&dyn rusqlite::ToSql]| {
                tx.query_row(sql, params, |_| Ok(()))
                    .optional()
                    .map(|found| found.is_some())
                    .map_err(backend)
            };
            if exists(
                "SELECT 1 FROM catalog_rows WHERE plugin_id = ?1",
                &[&row.plugin_id.as_str()],
            )? {
                return Err(StorageError::Conflict(Conflict::AlreadyExists));
            }
            if exists(
                "SELECT 1 FROM catalog_rows WHERE scope = ?1 AND pid = ?2 AND version = ?3",
                &[&row.scope.storage_name(), &row.pid.as_str(), &row.version.to_string()],
            )? {
                return Err(StorageError::Conflict(Conflict::VersionExists));
            }
            tx.execute(
                "INSERT INTO catalog_rows (plugin_id, scope, pid, version, sort_key, enabled, updated_at, record)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    row.plugin_id.as_str(),
                    row.scope.storage_name(),
                    row.pid.as_str(),
                    row.version.to_string(),
                    row.version.sort_key(),
                    row.enabled,
                    row.updated_at.to_string(),
                    record
                ],
            )
            .map_err(backend)?;
            crate::webhooks::insert_delivery_rows(&tx, &told)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn row(&self, id: &CatalogPluginId) -> Result<Option<CatalogRow>, StorageError> {
        let id = id.to_string();
        self.with_conn(move |conn| {
            conn.query_row(
                &format!("SELECT {ROW_COLUMNS} FROM catalog_rows WHERE plugin_id = ?1"),
                [id],
                read_row,
            )
            .optional()
            .map_err(backend)?
            .map(|(raw, enabled, at)| catalog_row(&raw, enabled, &at))
            .transpose()
        })
        .await
    }

    async fn row_by_version(
        &self,
        scope: &CatalogScope,
        pid: &Slug,
        version: &PluginVersion,
    ) -> Result<Option<CatalogRow>, StorageError> {
        let (scope, pid, version) = (scope.storage_name(), pid.to_string(), version.to_string());
        self.with_conn(move |conn| {
            conn.query_row(
                &format!(
                    "SELECT {ROW_COLUMNS} FROM catalog_rows WHERE scope = ?1 AND pid = ?2 AND version = ?3"
                ),
                params![scope, pid, version],
                read_row,
            )
            .optional()
            .map_err(backend)?
            .map(|(raw, enabled, at)| catalog_row(&raw, enabled, &at))
            .transpose()
        })
        .await
    }

    async fn rows(&self, scope: &CatalogScope) -> Result<Vec<CatalogRow>, StorageError> {
        let scope = scope.storage_name();
        self.with_conn(move |conn| {
            let raws = select_all(
                conn,
                &format!(
                    "SELECT {ROW_COLUMNS} FROM catalog_rows WHERE scope = ?1 ORDER BY pid, sort_key"
                ),
                [scope],
                read_row,
            )?;
            raws.iter()
                .map(|(raw, enabled, at)| catalog_row(raw, *enabled, at))
                .collect()
        })
        .await
    }

    async fn set_enabled(
        &self,
        id: &CatalogPluginId,
        enabled: bool,
        at: Timestamp,
    ) -> Result<(), StorageError> {
        let id = id.to_string();
        self.with_conn(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE catalog_rows SET enabled = ?2, updated_at = ?3 WHERE plugin_id = ?1",
                    params![id, enabled, at.to_string()],
                )
                .map_err(backend)?;
            if changed == 0 {
                return Err(StorageError::Conflict(Conflict::Missing));
            }
            Ok(())
        })
        .await
    }

    async fn decide_row_review(
        &self,
        id: &CatalogPluginId,
        decision: Option<&ReviewState>,
        at: Timestamp,
        told: &[registry_core::webhook::Delivery],
    ) -> Result<(), StorageError> {
        let (id, decision) = (id.to_string(), decision.cloned());
        let told = crate::webhooks::delivery_rows(told)?;
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let found = tx
                .query_row(
                    &format!("SELECT {ROW_COLUMNS} FROM catalog_rows WHERE plugin_id = ?1"),
                    [&id],
                    read_row,
                )
                .optional()
                .map_err(backend)?;
            let Some((raw, enabled, updated_at)) = found else {
                return Err(StorageError::Conflict(Conflict::Missing));
            };
            let mut row = catalog_row(&raw, enabled, &updated_at)?;
            row.decide_review(decision.as_ref())
                .map_err(StorageError::Conflict)?;
            row.updated_at = at;
            tx.execute(
                "UPDATE catalog_rows SET record = ?2, updated_at = ?3 WHERE plugin_id = ?1",
                params![id, to_json(&row)?, at.to_string()],
            )
            .map_err(backend)?;
            crate::webhooks::insert_delivery_rows(&tx, &told)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn org_enablements(
        &self,
        org: &OrgId,
    ) -> Result<BTreeMap<CatalogPluginId, OrgChoice>, StorageError> {
        let org = org.to_string();
        self.with_conn(move |conn| {
            let raws = select_all(
                conn,
                "SELECT plugin_id, enabled, updated_at FROM org_enablements WHERE org = ?1",
                [org],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, bool>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                },
            )?;
            raws.into_iter()
                .map(|(id, enabled, at)| {
                    let at = timestamp_from_stored("updated_at", &at)?;
                    Ok((CatalogPluginId::from_stored(id), OrgChoice { enabled, at }))
                })
                .collect()
        })
        .await
    }

    async fn set_org_enablement(
        &self,
        org: &OrgId,
        id: &CatalogPluginId,
        enabled: bool,
        at: Timestamp,
    ) -> Result<(), StorageError> {
        let (org, id) = (org.to_string(), id.to_string());
        self.with_conn(move |conn| {
            conn.execute(
                "INSERT INTO org_enablements (org, plugin_id, enabled, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (org, plugin_id) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at",
                params![org, id, enabled, at.to_string()],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }
}
