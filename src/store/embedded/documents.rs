//! Versioned documents and the decision log in SQLite. A put reads the
//! latest revision and inserts the next one inside one IMMEDIATE
//! transaction, so writers (threads or processes) are serialised by the
//! file lock and the revision check cannot race.

use rusqlite::{Connection, Row, TransactionBehavior, params};

use super::{EmbeddedStore, from_sql_int, to_sql_int};
use crate::store::document::{decode_body, now_ms};
use crate::store::{Decision, Document, Kind, Page, PageRequest, PageToken, StoreError};

const COLUMNS: &str = "id, revision, body, updated_at_ms, updated_by";

impl EmbeddedStore {
    pub(crate) async fn list_latest(
        &self,
        kind: Kind,
        page: &PageRequest,
    ) -> Result<Page<Document>, StoreError> {
        let after = page.after.as_ref().map(|t| t.0.clone()).unwrap_or_default();
        let limit = page.clamped_limit();
        self.call(move |c| {
            let sql = format!(
                "SELECT {COLUMNS} FROM documents d WHERE kind = ?1 AND id > ?2 \
                 AND revision = (SELECT MAX(revision) FROM documents \
                 WHERE kind = d.kind AND id = d.id) ORDER BY id LIMIT ?3"
            );
            let items = query_documents(c, &sql, params![kind.as_str(), after, limit + 1], kind)?;
            Ok(paginate(items, limit, |d| d.id.clone()))
        })
        .await
    }

    pub(crate) async fn latest(
        &self,
        kind: Kind,
        id: &str,
    ) -> Result<Option<Document>, StoreError> {
        let id = id.to_string();
        self.call(move |c| {
            let sql = format!(
                "SELECT {COLUMNS} FROM documents WHERE kind = ?1 AND id = ?2 \
                 ORDER BY revision DESC LIMIT 1"
            );
            Ok(query_documents(c, &sql, params![kind.as_str(), id], kind)?.pop())
        })
        .await
    }

    pub(crate) async fn revision(
        &self,
        kind: Kind,
        id: &str,
        revision: u64,
    ) -> Result<Option<Document>, StoreError> {
        let id = id.to_string();
        let revision = to_sql_int(revision)?;
        self.call(move |c| {
            let sql = format!(
                "SELECT {COLUMNS} FROM documents WHERE kind = ?1 AND id = ?2 AND revision = ?3"
            );
            Ok(query_documents(c, &sql, params![kind.as_str(), id, revision], kind)?.pop())
        })
        .await
    }

    pub(crate) async fn history(
        &self,
        kind: Kind,
        id: &str,
        page: &PageRequest,
    ) -> Result<Page<Document>, StoreError> {
        let id = id.to_string();
        let after = to_sql_int(number_token(page.after.as_ref())?)?;
        let limit = page.clamped_limit();
        self.call(move |c| {
            let sql = format!(
                "SELECT {COLUMNS} FROM documents WHERE kind = ?1 AND id = ?2 AND revision > ?3 \
                 ORDER BY revision LIMIT ?4"
            );
            let items =
                query_documents(c, &sql, params![kind.as_str(), id, after, limit + 1], kind)?;
            Ok(paginate(items, limit, |d| d.revision.to_string()))
        })
        .await
    }

    pub(crate) async fn put(
        &self,
        kind: Kind,
        id: &str,
        body: &str,
        expected: u64,
        author: &str,
    ) -> Result<u64, StoreError> {
        let (id, body, author) = (id.to_string(), body.to_string(), author.to_string());
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let current: i64 = tx.query_row(
                "SELECT COALESCE(MAX(revision), 0) FROM documents WHERE kind = ?1 AND id = ?2",
                params![kind.as_str(), id],
                |r| r.get(0),
            )?;
            let current = from_sql_int(current);
            if current != expected {
                return Err(StoreError::Conflict { current });
            }
            let next = expected.saturating_add(1);
            tx.execute(
                "INSERT INTO documents (kind, id, revision, body, updated_at_ms, updated_by) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    kind.as_str(),
                    id,
                    to_sql_int(next)?,
                    body,
                    to_sql_int(now_ms())?,
                    author
                ],
            )?;
            tx.commit()?;
            Ok(next)
        })
        .await
    }

    pub(crate) async fn append_decision(
        &self,
        experiment: &str,
        entry: &str,
    ) -> Result<u64, StoreError> {
        let (experiment, entry) = (experiment.to_string(), entry.to_string());
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let last: i64 = tx.query_row(
                "SELECT COALESCE(MAX(sequence), 0) FROM decisions WHERE experiment = ?1",
                [&experiment],
                |r| r.get(0),
            )?;
            let next = from_sql_int(last).saturating_add(1);
            tx.execute(
                "INSERT INTO decisions (experiment, sequence, entry, recorded_at_ms) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![experiment, to_sql_int(next)?, entry, to_sql_int(now_ms())?],
            )?;
            tx.commit()?;
            Ok(next)
        })
        .await
    }

    pub(crate) async fn decisions(
        &self,
        experiment: &str,
        page: &PageRequest,
    ) -> Result<Page<Decision>, StoreError> {
        let experiment = experiment.to_string();
        let after = to_sql_int(number_token(page.after.as_ref())?)?;
        let limit = page.clamped_limit();
        self.call(move |c| {
            let mut statement = c.prepare(
                "SELECT sequence, entry, recorded_at_ms FROM decisions \
                 WHERE experiment = ?1 AND sequence > ?2 ORDER BY sequence LIMIT ?3",
            )?;
            let rows = statement
                .query_map(params![experiment, after, limit + 1], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let items = rows
                .into_iter()
                .map(|(sequence, entry, at)| {
                    Ok(Decision {
                        experiment: experiment.clone(),
                        sequence: from_sql_int(sequence),
                        entry: decode_body(&entry)?,
                        recorded_at_ms: from_sql_int(at),
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok(paginate(items, limit, |d| d.sequence.to_string()))
        })
        .await
    }
}

/// Runs a document query whose columns are [`COLUMNS`].
fn query_documents(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    kind: Kind,
) -> Result<Vec<Document>, StoreError> {
    let mut statement = c.prepare(sql)?;
    let rows = statement
        .query_map(params, read_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(id, revision, body, at, by)| {
            Ok(Document {
                kind,
                id,
                revision: from_sql_int(revision),
                body: decode_body(&body)?,
                updated_at_ms: from_sql_int(at),
                updated_by: by,
            })
        })
        .collect()
}

type DocumentRow = (String, i64, String, i64, String);

fn read_row(r: &Row<'_>) -> rusqlite::Result<DocumentRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

/// Cuts a `limit + 1` result to a page: the extra row says there is more.
fn paginate<T>(mut items: Vec<T>, limit: u32, token: impl Fn(&T) -> String) -> Page<T> {
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next = match more {
        true => items.last().map(|last| PageToken(token(last))),
        false => None,
    };
    Page { items, next }
}

/// A numeric page token (a revision or a sequence), 0 for the first page.
fn number_token(token: Option<&PageToken>) -> Result<u64, StoreError> {
    match token {
        None => Ok(0),
        Some(t) => {
            t.0.parse()
                .map_err(|_| StoreError::Invalid("page token is not one this store issued".into()))
        }
    }
}
