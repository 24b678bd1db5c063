//! The embedded backend: one SQLite file in WAL mode, readable with the
//! `sqlite3` shell while sidecars write to it.
//!
//! SQLite calls block, so each runs on tokio's blocking pool behind a
//! mutex on the one connection; several processes may open the same file,
//! and SQLite's own locking (with a busy timeout) orders their writes.
//! A file has no partitions, so results are not sharded here.

mod documents;
mod results;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;

use super::{InitReport, StoreConfig, StoreError};

/// A store in one SQLite file.
#[derive(Clone)]
pub struct EmbeddedStore {
    connection: Arc<Mutex<Connection>>,
    path: Arc<PathBuf>,
    session_ttl: Duration,
}

impl EmbeddedStore {
    /// Opens (or creates) the file, switches it to WAL and creates the
    /// schema when missing.
    pub async fn open(path: &Path, config: &StoreConfig) -> Result<Self, StoreError> {
        let owned = path.to_path_buf();
        let busy = config.timeout;
        let connection = tokio::task::spawn_blocking(move || schema::open(&owned, busy))
            .await
            .map_err(|e| StoreError::Sqlite(format!("open task failed: {e}")))??;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
            path: Arc::new(path.to_path_buf()),
            session_ttl: config.session_ttl,
        })
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) async fn init(&self) -> Result<InitReport, StoreError> {
        let path = self.path.display().to_string();
        let version = self.call(schema::create).await?;
        Ok(InitReport {
            lines: vec![format!("{path}: schema ready (WAL)")],
            schema_version: version,
        })
    }

    pub(super) async fn schema_version(&self) -> Result<u64, StoreError> {
        self.call(|c| schema::read_version(c)).await
    }

    /// Runs `work` on the blocking pool with the connection.
    async fn call<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let connection = Arc::clone(&self.connection);
        tokio::task::spawn_blocking(move || {
            let mut guard = connection
                .lock()
                .map_err(|_| StoreError::Sqlite("connection lock poisoned".into()))?;
            work(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Sqlite(format!("blocking task failed: {e}")))?
    }
}

/// A count as SQLite's signed integer.
fn to_sql_int(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Invalid(format!("{value} is too large")))
}

/// A stored integer as a count; negative values (never written) read as 0.
fn from_sql_int(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
