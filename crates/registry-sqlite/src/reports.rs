//! The report port in SQLite: one row per report, the report whole as JSON.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use registry_core::moderation::{PluginReport, ReportId, Resolution};
use registry_core::store::{Conflict, ReportStore, StorageError};

use crate::{SqliteStore, backend, from_json, to_json};

#[async_trait]
impl ReportStore for SqliteStore {
    async fn insert_report(&self, report: &PluginReport) -> Result<(), StorageError> {
        let (id, created_at, open, json) = (
            report.id.to_string(),
            report.created_at.to_string(),
            report.resolution.is_none(),
            to_json(report)?,
        );
        self.with_conn(move |conn| {
            let added = conn
                .execute(
                    "INSERT OR IGNORE INTO plugin_reports (id, created_at, open, record)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![id, created_at, open, json],
                )
                .map_err(backend)?;
            if added == 0 {
                return Err(StorageError::Conflict(Conflict::AlreadyExists));
            }
            Ok(())
        })
        .await
    }

    async fn report(&self, id: &ReportId) -> Result<Option<PluginReport>, StorageError> {
        let id = id.to_string();
        self.with_conn(move |conn| {
            conn.query_row(
                "SELECT record FROM plugin_reports WHERE id = ?1",
                [id],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(backend)?
            .map(|raw| from_json("report", &raw))
            .transpose()
        })
        .await
    }

    async fn reports(
        &self,
        open_only: bool,
        limit: usize,
    ) -> Result<Vec<PluginReport>, StorageError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_conn(move |conn| {
            let sql = if open_only {
                "SELECT record FROM plugin_reports WHERE open = 1
                 ORDER BY created_at DESC, id DESC LIMIT ?1"
            } else {
                "SELECT record FROM plugin_reports ORDER BY created_at DESC, id DESC LIMIT ?1"
            };
            let mut statement = conn.prepare_cached(sql).map_err(backend)?;
            let rows = statement
                .query_map([limit], |r| r.get::<_, String>(0))
                .map_err(backend)?;
            rows.map(|raw| from_json("report", &raw.map_err(backend)?))
                .collect()
        })
        .await
    }

    async fn resolve_report(
        &self,
        id: &ReportId,
        resolution: &Resolution,
    ) -> Result<(), StorageError> {
        let (id, resolution) = (id.to_string(), to_json(resolution)?);
        self.with_conn(move |conn| {
            // One statement: the condition and the change land together.
            let changed = conn
                .execute(
                    "UPDATE plugin_reports
                     SET open = 0, record = json_set(record, '$.resolution', json(?2))
                     WHERE id = ?1 AND open = 1",
                    params![id, resolution],
                )
                .map_err(backend)?;
            if changed == 0 {
                return Err(StorageError::Conflict(Conflict::Missing));
            }
            Ok(())
        })
        .await
    }
}
