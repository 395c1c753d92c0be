//! What a function fed by an SQS queue answers: the messages of the batch that
//! failed, so that Lambda delivers only those again (`ReportBatchItemFailures`).

use serde::{Deserialize, Serialize};

/// The answer to an SQS batch: the messages Lambda must deliver again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqsBatchResponse {
    /// Messages that failed.
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<SqsItemFailure>,
}

/// One message to deliver again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqsItemFailure {
    /// The message's `messageId`.
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}
