//! Creating the table and bucket (`openworkflow-registry init-aws`), for local
//! testing and self-hosting; production creates them from the SAM template.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType, TableStatus,
    TimeToLiveSpecification, TimeToLiveStatus,
};

use crate::dynamo::accounts::TTL_ATTRIBUTE;
use crate::dynamo::{GSI1, GSI1_PK, GSI1_SK, PK, SK};
use crate::{AwsClients, AwsSettings};

/// Why setting up failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Creating or describing the table failed.
    #[error("creating DynamoDB table {table}")]
    Table {
        /// The table.
        table: String,
        /// The SDK error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The table did not become ACTIVE in time.
    #[error("DynamoDB table {table} did not become ACTIVE")]
    NotActive {
        /// The table.
        table: String,
    },
    /// Creating the bucket failed.
    #[error("creating S3 bucket {bucket}")]
    Bucket {
        /// The bucket.
        bucket: String,
        /// The SDK error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// What `ensure_resources` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetupReport {
    /// Whether the table was created (false: it existed).
    pub table_created: bool,
    /// Whether the bucket was created (false: it existed).
    pub bucket_created: bool,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, BoxError> {
    Ok(KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()?)
}

fn attribute(name: &str) -> Result<AttributeDefinition, BoxError> {
    Ok(AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()?)
}

/// Whether `bucket` exists: `Ok(false)` only when S3 answers that it does not, so a
/// start-up check refuses a mistyped bucket instead of failing every publish later.
pub async fn bucket_exists(clients: &AwsClients, bucket: &str) -> Result<bool, BoxError> {
    match clients.s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(false),
        Err(e) => Err(Box::new(e)),
    }
}

/// Whether `table` exists: `Ok(false)` only when DynamoDB answers that it does not.
pub async fn table_exists(clients: &AwsClients, table: &str) -> Result<bool, BoxError> {
    match clients
        .dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(Box::new(e)),
    }
}

/// Creates the table (on-demand, stream `NEW_AND_OLD_IMAGES`, time-to-live on
/// `ttl`) and the bucket unless they exist, and waits until the table is ACTIVE.
pub async fn ensure_resources(
    clients: &AwsClients,
    settings: &AwsSettings,
) -> Result<SetupReport, SetupError> {
    ensure_resources_with(clients, settings, TimeToLive::On).await
}

/// Whether the table deletes lapsed sessions, sign-in attempts and device
/// sign-ins by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeToLive {
    /// As every deployment runs.
    On,
    /// For suites whose clock is not the real one: DynamoDB (Local too) runs the
    /// time-to-live on the real clock, and would delete what the suite's clock
    /// still calls live.
    Off,
}

/// As [`ensure_resources`], with the time-to-live as `time_to_live` says.
pub async fn ensure_resources_with(
    clients: &AwsClients,
    settings: &AwsSettings,
    time_to_live: TimeToLive,
) -> Result<SetupReport, SetupError> {
    let table_err = |e: BoxError| SetupError::Table {
        table: settings.table.clone(),
        source: e,
    };
    let exists = table_exists(clients, &settings.table)
        .await
        .map_err(table_err)?;
    if !exists {
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(GSI1)
            .key_schema(key(GSI1_PK, KeyType::Hash).map_err(table_err)?)
            .key_schema(key(GSI1_SK, KeyType::Range).map_err(table_err)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(|e| table_err(Box::new(e)))?;
        let created = clients
            .dynamodb
            .create_table()
            .table_name(&settings.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute(PK).map_err(table_err)?)
            .attribute_definitions(attribute(SK).map_err(table_err)?)
            .attribute_definitions(attribute(GSI1_PK).map_err(table_err)?)
            .attribute_definitions(attribute(GSI1_SK).map_err(table_err)?)
            .key_schema(key(PK, KeyType::Hash).map_err(table_err)?)
            .key_schema(key(SK, KeyType::Range).map_err(table_err)?)
            .global_secondary_indexes(gsi)
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build()
                    .map_err(|e| table_err(Box::new(e)))?,
            )
            .send()
            .await;
        match created {
            Ok(_) => {}
            // Someone else created it meanwhile: fine.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) => {}
            Err(e) => return Err(table_err(Box::new(e))),
        }
    }
    wait_until_active(clients, settings).await?;
    if time_to_live == TimeToLive::On {
        enable_time_to_live(clients, &settings.table)
            .await
            .map_err(table_err)?;
    }

    let bucket_created = match clients
        .s3
        .create_bucket()
        .bucket(&settings.bucket)
        .send()
        .await
    {
        Ok(_) => true,
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists()
            }) =>
        {
            false
        }
        Err(e) => {
            return Err(SetupError::Bucket {
                bucket: settings.bucket.clone(),
                source: Box::new(e),
            });
        }
    };
    Ok(SetupReport {
        table_created: !exists,
        bucket_created,
    })
}

async fn wait_until_active(clients: &AwsClients, settings: &AwsSettings) -> Result<(), SetupError> {
    for _ in 0..120 {
        let described = clients
            .dynamodb
            .describe_table()
            .table_name(&settings.table)
            .send()
            .await
            .map_err(|e| SetupError::Table {
                table: settings.table.clone(),
                source: Box::new(e),
            })?;
        let table = described.table();
        let table_active = table.and_then(|t| t.table_status()) == Some(&TableStatus::Active);
        let indexes_active = table
            .map(|t| t.global_secondary_indexes())
            .unwrap_or_default()
            .iter()
            .all(|i| i.index_status().is_none_or(|s| s.as_str() == "ACTIVE"));
        if table_active && indexes_active {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(SetupError::NotActive {
        table: settings.table.clone(),
    })
}

/// Turns on the table's time-to-live on [`TTL_ATTRIBUTE`] (sessions and sign-in
/// attempts), unless it is on already: asking twice is an error.
async fn enable_time_to_live(clients: &AwsClients, table: &str) -> Result<(), BoxError> {
    let described = clients
        .dynamodb
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await?;
    let status = described
        .time_to_live_description()
        .and_then(|d| d.time_to_live_status());
    if matches!(
        status,
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    ) {
        return Ok(());
    }
    clients
        .dynamodb
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()?,
        )
        .send()
        .await?;
    Ok(())
}
