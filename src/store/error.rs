//! What can go wrong in the store, in terms a caller can act on.

use std::time::Duration;

/// A store operation that did not do what was asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// A put or rollback lost the race: the document is now at `current`
    /// (0: it does not exist). Re-read, then retry from there.
    #[error("revision conflict: the latest revision is {current}")]
    Conflict { current: u64 },
    /// A named revision or document is not in the store.
    #[error("not found: {0}")]
    NotFound(String),
    /// The store was written by a newer, incompatible layout.
    #[error("the store's schema version {found} is newer than this build's {supported}")]
    SchemaTooNew { found: u64, supported: u64 },
    /// The caller's input cannot be stored (a name, a body, a number).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The embedded SQLite file failed.
    #[error("sqlite: {0}")]
    Sqlite(String),
    /// A DynamoDB call failed (unreachable, throttled, refused).
    #[error("dynamodb {operation}: {message}")]
    DynamoDb {
        operation: &'static str,
        message: String,
    },
    /// Something in the store is not what this build wrote.
    #[error("stored data is malformed: {0}")]
    Corrupt(String),
    /// The whole operation took longer than its deadline.
    #[error("timed out after {} ms", .0.as_millis())]
    Timeout(Duration),
}

impl StoreError {
    /// A DynamoDB failure of `operation`, with the SDK error's full chain
    /// (it names the service's error code and message, never credentials).
    pub(super) fn dynamo(operation: &'static str, error: impl std::error::Error) -> Self {
        let message = aws_sdk_dynamodb::error::DisplayErrorContext(&error).to_string();
        StoreError::DynamoDb { operation, message }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Sqlite(error.to_string())
    }
}
