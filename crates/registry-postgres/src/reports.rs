//! The report port in PostgreSQL: one row per report, the report whole as JSON.

use async_trait::async_trait;

use registry_core::moderation::{PluginReport, ReportId, Resolution};
use registry_core::store::{Conflict, ReportStore, StorageError};

use crate::{PostgresStore, backend, from_json, signed, to_json};

#[async_trait]
impl ReportStore for PostgresStore {
    async fn insert_report(&self, report: &PluginReport) -> Result<(), StorageError> {
        self.change_one(
            "INSERT INTO plugin_reports (id, created_at, open, record) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
            &[
                &report.id.to_string(),
                &report.created_at.to_string(),
                &report.resolution.is_none(),
                &to_json(report)?,
            ],
            Conflict::AlreadyExists,
        )
        .await
    }

    async fn report(&self, id: &ReportId) -> Result<Option<PluginReport>, StorageError> {
        let client = self.client().await?;
        client
            .query_opt(
                "SELECT record FROM plugin_reports WHERE id = $1",
                &[&id.to_string()],
            )
            .await
            .map_err(backend)?
            .map(|row| from_json("report", row.get(0)))
            .transpose()
    }

    async fn reports(
        &self,
        open_only: bool,
        limit: usize,
    ) -> Result<Vec<PluginReport>, StorageError> {
        let client = self.client().await?;
        client
            .query(
                "SELECT record FROM plugin_reports WHERE open OR NOT $1
                 ORDER BY created_at DESC, id DESC LIMIT $2",
                &[&open_only, &signed(limit as u64)],
            )
            .await
            .map_err(backend)?
            .iter()
            .map(|row| from_json("report", row.get(0)))
            .collect()
    }

    async fn resolve_report(
        &self,
        id: &ReportId,
        resolution: &Resolution,
    ) -> Result<(), StorageError> {
        let client = self.client().await?;
        // One statement: the condition and the change land together.
        let changed = client
            .execute(
                "UPDATE plugin_reports
                 SET open = FALSE, record = jsonb_set(record::jsonb, '{resolution}', $2::TEXT::jsonb)::TEXT
                 WHERE id = $1 AND open",
                &[&id.to_string(), &to_json(resolution)?],
            )
            .await
            .map_err(backend)?;
        if changed == 0 {
            return Err(StorageError::Conflict(Conflict::Missing));
        }
        Ok(())
    }
}
