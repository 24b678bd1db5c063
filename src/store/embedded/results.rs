//! Results in SQLite: a batch is one IMMEDIATE transaction that first
//! records its id in `applied_batches` (a second apply of the id finds it
//! and changes nothing), then moves the session totals and adds the
//! derived increments.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::{EmbeddedStore, from_sql_int, to_sql_int};
use crate::store::document::now_ms;
use crate::store::increments::{Increments, Totals};
use crate::store::{
    Applied, Batch, Contribution, ExperimentResults, MetricTotals, RequestSums, SessionDelta,
    SessionKey, SessionSums, StoreError,
};

impl EmbeddedStore {
    pub(crate) async fn apply(&self, batch: &Batch) -> Result<Applied, StoreError> {
        let batch = batch.clone();
        let ttl = self.session_ttl;
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let outcome = apply_in(&tx, &batch, ttl)?;
            tx.commit()?;
            Ok(outcome)
        })
        .await
    }

    pub(crate) async fn results(&self, experiment: &str) -> Result<ExperimentResults, StoreError> {
        let experiment = experiment.to_string();
        self.call(move |c| {
            let mut results = ExperimentResults::empty(&experiment);
            read_metrics(c, &mut results)?;
            read_phases(c, &mut results)?;
            Ok(results)
        })
        .await
    }
}

fn read_metrics(c: &Connection, results: &mut ExperimentResults) -> Result<(), StoreError> {
    let mut statement = c.prepare(
        "SELECT variant, metric, n, sum, sum_sq, sessions, sum_y, sum_y2, sum_m, \
         sum_m2, sum_ym FROM metric_totals WHERE experiment = ?1",
    )?;
    let rows = statement.query_map([&results.experiment], |r| {
        let totals = MetricTotals {
            requests: RequestSums {
                n: from_sql_int(r.get(2)?),
                sum: r.get(3)?,
                sum_sq: r.get(4)?,
            },
            sessions: SessionSums {
                sessions: from_sql_int(r.get(5)?),
                sum_y: r.get(6)?,
                sum_y2: r.get(7)?,
                sum_m: from_sql_int(r.get(8)?),
                sum_m2: from_sql_int(r.get(9)?),
                sum_ym: r.get(10)?,
            },
        };
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, totals))
    })?;
    let rows = rows.collect::<Result<Vec<_>, _>>()?;
    for (variant, metric, totals) in rows {
        results.add_metric(&variant, &metric, &totals);
    }
    Ok(())
}

fn read_phases(c: &Connection, results: &mut ExperimentResults) -> Result<(), StoreError> {
    let mut statement =
        c.prepare("SELECT variant, phase, sessions FROM phase_sessions WHERE experiment = ?1")?;
    let rows = statement.query_map([&results.experiment], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let rows = rows.collect::<Result<Vec<_>, _>>()?;
    for (variant, phase, sessions) in rows {
        results.add_phase(&variant, &phase, from_sql_int(sessions));
    }
    Ok(())
}

fn apply_in(tx: &Transaction<'_>, batch: &Batch, ttl: Duration) -> Result<Applied, StoreError> {
    let now_secs = to_sql_int(now_ms() / 1000)?;
    let expires_at = now_secs.saturating_add(to_sql_int(ttl.as_secs())?);
    let receipt = tx.execute(
        "INSERT INTO applied_batches (writer, sequence, expires_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (writer, sequence) DO NOTHING",
        params![batch.id.writer, to_sql_int(batch.id.sequence)?, expires_at],
    )?;
    if receipt == 0 {
        return Ok(Applied::AlreadyApplied);
    }
    let mut increments = Increments::from_requests(batch);
    for (key, delta) in &batch.sessions {
        apply_session(tx, key, delta, expires_at, &mut increments)?;
    }
    write_increments(tx, &increments)?;
    purge_expired(tx, now_secs)?;
    Ok(Applied::Added)
}

/// Moves one session's totals and notes what that adds to the counters.
fn apply_session(
    tx: &Transaction<'_>,
    key: &SessionKey,
    delta: &SessionDelta,
    expires_at: i64,
    increments: &mut Increments,
) -> Result<(), StoreError> {
    let (phase, old_requests) = move_session(tx, key, delta, expires_at)?;
    increments.add_phase_if_new(key, &phase, old_requests, delta.requests);
    for (metric, contribution) in &delta.metrics {
        let old = move_session_metric(tx, key, metric, contribution)?;
        increments.add_session_metric(key, metric, old, contribution);
    }
    Ok(())
}

/// Grows the session's request count; returns its phase as stored (the
/// first writer's) and the count before.
fn move_session(
    tx: &Transaction<'_>,
    key: &SessionKey,
    delta: &SessionDelta,
    expires_at: i64,
) -> Result<(String, u64), StoreError> {
    let found: Option<(String, i64)> = tx
        .query_row(
            "SELECT phase, requests FROM sessions WHERE experiment = ?1 AND variant = ?2 \
             AND session = ?3",
            params![key.experiment, key.variant, key.session],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (phase, old_requests) = found
        .map(|(p, n)| (p, from_sql_int(n)))
        .unwrap_or_else(|| (delta.phase.clone(), 0));
    tx.execute(
        "INSERT INTO sessions (experiment, variant, session, phase, requests, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (experiment, variant, session) \
         DO UPDATE SET requests = requests + excluded.requests, expires_at = excluded.expires_at",
        params![
            key.experiment,
            key.variant,
            key.session,
            phase,
            to_sql_int(delta.requests)?,
            expires_at
        ],
    )?;
    Ok((phase, old_requests))
}

/// Grows one metric's session totals; returns the totals before.
fn move_session_metric(
    tx: &Transaction<'_>,
    key: &SessionKey,
    metric: &str,
    contribution: &Contribution,
) -> Result<Totals, StoreError> {
    let ids = params![key.experiment, key.variant, key.session, metric];
    let found: Option<(f64, i64)> = tx
        .query_row(
            "SELECT y, m FROM session_metrics WHERE experiment = ?1 AND variant = ?2 \
             AND session = ?3 AND metric = ?4",
            ids,
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let old = found
        .map(|(y, m)| Totals {
            y,
            m: from_sql_int(m),
        })
        .unwrap_or_default();
    let new = old.plus(contribution);
    tx.execute(
        "INSERT INTO session_metrics (experiment, variant, session, metric, y, m) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (experiment, variant, session, metric) \
         DO UPDATE SET y = excluded.y, m = excluded.m",
        params![
            key.experiment,
            key.variant,
            key.session,
            metric,
            new.y,
            to_sql_int(new.m)?
        ],
    )?;
    Ok(old)
}

fn write_increments(tx: &Transaction<'_>, increments: &Increments) -> Result<(), StoreError> {
    let mut metric = tx.prepare_cached(
        "INSERT INTO metric_totals (experiment, variant, metric, n, sum, sum_sq, sessions, \
         sum_y, sum_y2, sum_m, sum_m2, sum_ym) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, \
         ?11, ?12) ON CONFLICT (experiment, variant, metric) DO UPDATE SET \
         n = n + excluded.n, sum = sum + excluded.sum, sum_sq = sum_sq + excluded.sum_sq, \
         sessions = sessions + excluded.sessions, sum_y = sum_y + excluded.sum_y, \
         sum_y2 = sum_y2 + excluded.sum_y2, sum_m = sum_m + excluded.sum_m, \
         sum_m2 = sum_m2 + excluded.sum_m2, sum_ym = sum_ym + excluded.sum_ym",
    )?;
    for (key, t) in &increments.metrics {
        let (r, s) = (&t.requests, &t.sessions);
        metric.execute(params![
            key.experiment,
            key.variant,
            key.metric,
            to_sql_int(r.n)?,
            r.sum,
            r.sum_sq,
            to_sql_int(s.sessions)?,
            s.sum_y,
            s.sum_y2,
            to_sql_int(s.sum_m)?,
            to_sql_int(s.sum_m2)?,
            s.sum_ym
        ])?;
    }
    write_phases(tx, increments)
}

fn write_phases(tx: &Transaction<'_>, increments: &Increments) -> Result<(), StoreError> {
    let mut phase = tx.prepare_cached(
        "INSERT INTO phase_sessions (experiment, variant, phase, sessions) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (experiment, variant, phase) DO UPDATE SET sessions = sessions + excluded.sessions",
    )?;
    for (key, sessions) in &increments.phases {
        phase.execute(params![
            key.experiment,
            key.variant,
            key.phase,
            to_sql_int(*sessions)?
        ])?;
    }
    Ok(())
}

/// SQLite has no TTL: expired session totals and batch receipts are
/// deleted on each apply, found through the expiry indexes.
fn purge_expired(tx: &Transaction<'_>, now_secs: i64) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM session_metrics WHERE (experiment, variant, session) IN \
         (SELECT experiment, variant, session FROM sessions WHERE expires_at < ?1)",
        [now_secs],
    )?;
    tx.execute("DELETE FROM sessions WHERE expires_at < ?1", [now_secs])?;
    tx.execute(
        "DELETE FROM applied_batches WHERE expires_at < ?1",
        [now_secs],
    )?;
    Ok(())
}
