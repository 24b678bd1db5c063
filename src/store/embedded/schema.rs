//! The SQLite schema and its version record.
//!
//! Every statement names its columns, so a newer build may add columns
//! (with defaults) or tables without an older one noticing.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};

use crate::store::{SCHEMA_VERSION, StoreError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    body TEXT NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (kind, id, revision)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS decisions (
    experiment TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    entry TEXT NOT NULL,
    recorded_at_ms INTEGER NOT NULL,
    PRIMARY KEY (experiment, sequence)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS metric_totals (
    experiment TEXT NOT NULL,
    variant TEXT NOT NULL,
    metric TEXT NOT NULL,
    n INTEGER NOT NULL DEFAULT 0,
    sum REAL NOT NULL DEFAULT 0,
    sum_sq REAL NOT NULL DEFAULT 0,
    sessions INTEGER NOT NULL DEFAULT 0,
    sum_y REAL NOT NULL DEFAULT 0,
    sum_y2 REAL NOT NULL DEFAULT 0,
    sum_m INTEGER NOT NULL DEFAULT 0,
    sum_m2 INTEGER NOT NULL DEFAULT 0,
    sum_ym REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (experiment, variant, metric)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS phase_sessions (
    experiment TEXT NOT NULL,
    variant TEXT NOT NULL,
    phase TEXT NOT NULL,
    sessions INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (experiment, variant, phase)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions (
    experiment TEXT NOT NULL,
    variant TEXT NOT NULL,
    session TEXT NOT NULL,
    phase TEXT NOT NULL,
    requests INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (experiment, variant, session)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at);
CREATE TABLE IF NOT EXISTS session_metrics (
    experiment TEXT NOT NULL,
    variant TEXT NOT NULL,
    session TEXT NOT NULL,
    metric TEXT NOT NULL,
    y REAL NOT NULL,
    m INTEGER NOT NULL,
    PRIMARY KEY (experiment, variant, session, metric)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS applied_batches (
    writer TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (writer, sequence)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS applied_batches_expiry ON applied_batches (expires_at);
";

/// Opens the file in WAL mode with a busy timeout, creating the schema
/// when missing, and refuses a newer layout.
pub(super) fn open(path: &Path, busy: Duration) -> Result<Connection, StoreError> {
    let mut connection = Connection::open(path)?;
    connection.busy_timeout(busy)?;
    let mode: String = connection.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(mode, "store_sqlite_not_wal");
    }
    // WAL with NORMAL sync survives a process crash; a power cut may
    // lose the last transactions, which a sidecar's counters can afford.
    connection.execute_batch("PRAGMA synchronous = NORMAL;")?;
    create(&mut connection)?;
    Ok(connection)
}

/// Creates missing tables and records the schema version; returns it.
pub(super) fn create(connection: &mut Connection) -> Result<u64, StoreError> {
    let tx = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(SCHEMA)?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?1) ON CONFLICT (key) DO NOTHING",
        [SCHEMA_VERSION.to_string()],
    )?;
    let version = read_version(&tx)?;
    tx.commit()?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(version)
}

/// The recorded schema version, 0 when none is.
pub(super) fn read_version(connection: &Connection) -> Result<u64, StoreError> {
    let text: Option<String> = connection
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    match text {
        None => Ok(0),
        Some(t) => t
            .trim()
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("schema_version {t:?}"))),
    }
}
