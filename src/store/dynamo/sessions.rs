//! Session totals, exactly once, in the sessions table.
//!
//! One item per (experiment, variant, session) holds the session's totals
//! (`n`: requests, `y.<metric>`, `m.<metric>`), its phase, and for each
//! writer that updated it: the sequence of its last batch
//! (`ws.<writer>.<part>`) and the totals that update found
//! (`wo.<writer>.…`). One UpdateItem per session and batch moves the
//! totals and records what it found, in the same atomic step, on the
//! condition that this writer's sequence is older than the batch's. A
//! retry of the batch (its reply was lost) fails that condition, and a
//! GetItem then reads the totals the first attempt found: the derived
//! increments come out the same, however many other writers have updated
//! the session since.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::DynamoStore;
use super::attrs::{Item, Placeholders, count, escape, f, key, n, real, s};
use super::tables::TTL_ATTRIBUTE;
use crate::store::increments::Totals;
use crate::store::{BatchId, Contribution, SessionDelta, SessionKey, StoreError};

// Known shortcoming: the `ws.`/`wo.` attributes of every writer that ever
// updated a session stay on its item until the item expires, so a session
// touched by hundreds of sidecar processes within its TTL would approach
// DynamoDB's 400 KB item limit.

/// Metrics per UpdateItem: an update expression may not exceed 4 KB, and
/// each metric takes about 150 bytes of it. A session with more metrics
/// is updated in parts, each with its own sequence attribute.
const METRICS_PER_UPDATE: usize = 16;

/// What the updates of one session found before they applied.
#[derive(Debug, Default)]
pub(super) struct SessionFound {
    /// The session's phase as stored (the first writer's).
    pub phase: String,
    pub old_requests: u64,
    /// Each updated metric's totals before the update.
    pub metrics: Vec<(String, Totals)>,
}

type Part<'a> = [(&'a String, &'a Contribution)];

impl DynamoStore {
    /// Applies one session's delta and returns what it found.
    pub(super) async fn update_session(
        &self,
        id: &BatchId,
        session: &SessionKey,
        delta: &SessionDelta,
        expires_at: u64,
    ) -> Result<SessionFound, StoreError> {
        let metrics: Vec<(&String, &Contribution)> = delta.metrics.iter().collect();
        let mut parts: Vec<&Part<'_>> = metrics.chunks(METRICS_PER_UPDATE).collect();
        if parts.is_empty() {
            parts.push(&[]);
        }
        let mut found = SessionFound {
            phase: delta.phase.clone(),
            ..SessionFound::default()
        };
        for (index, part) in parts.into_iter().enumerate() {
            let item = self
                .update_part(id, session, delta, index, part, expires_at)
                .await?;
            let writer = &id.writer;
            if index == 0 {
                if let Some(AttributeValue::S(phase)) = item.get("phase") {
                    found.phase = phase.clone();
                }
                found.old_requests = written(&item, &format!("wo.{writer}.n"), count)?;
            }
            for (metric, _) in part {
                let old = Totals {
                    y: written(&item, &format!("wo.{writer}.y.{metric}"), real)?,
                    m: written(&item, &format!("wo.{writer}.m.{metric}"), count)?,
                };
                found.metrics.push(((*metric).clone(), old));
            }
        }
        Ok(found)
    }

    /// One conditional UpdateItem; on a repeat of the same batch, the item
    /// as the first attempt left this writer's attributes.
    async fn update_part(
        &self,
        id: &BatchId,
        session: &SessionKey,
        delta: &SessionDelta,
        index: usize,
        part: &Part<'_>,
        expires_at: u64,
    ) -> Result<Item, StoreError> {
        let sequence_attribute = format!("ws.{}.{index}", id.writer);
        let mut p = Placeholders::default();
        let (sets, condition) = update_expression(&mut p, id, delta, index, part, expires_at);
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.sessions)
            .set_key(Some(session_key(session)))
            .update_expression(format!("SET {}", sets.join(", ")))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(p.names))
            .set_expression_attribute_values(Some(p.values))
            // The whole item: DynamoDB (and moto) may leave an attribute
            // whose value did not change out of UPDATED_NEW.
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => Ok(out.attributes.unwrap_or_default()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                self.recover_part(session, &sequence_attribute, id.sequence)
                    .await
            }
            Err(e) => Err(StoreError::dynamo("UpdateItem", e)),
        }
    }

    /// The session item after this writer already applied `sequence`.
    async fn recover_part(
        &self,
        session: &SessionKey,
        sequence_attribute: &str,
        sequence: u64,
    ) -> Result<Item, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.sessions)
            .set_key(Some(session_key(session)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("GetItem", e))?;
        let item = out.item.unwrap_or_default();
        let stored = count(&item, sequence_attribute)?;
        if stored != sequence {
            // Only a writer id reused by another process gets here.
            return Err(StoreError::Corrupt(format!(
                "session update for sequence {sequence} found writer sequence {stored}"
            )));
        }
        tracing::debug!(sequence, "store_session_update_repeated");
        Ok(item)
    }
}

/// The SET clauses and the condition of one part's update. Each total is
/// copied to this writer's `wo.` attribute before it grows: DynamoDB
/// evaluates every operand against the item as it was before the update.
fn update_expression(
    p: &mut Placeholders,
    id: &BatchId,
    delta: &SessionDelta,
    index: usize,
    part: &Part<'_>,
    expires_at: u64,
) -> (Vec<String>, String) {
    let w = &id.writer;
    let seq_name = p.name(&format!("ws.{w}.{index}"));
    let seq = p.value(n(id.sequence));
    let mut sets = vec![
        format!("{seq_name} = {seq}"),
        format!("{} = {}", p.name(TTL_ATTRIBUTE), p.value(n(expires_at))),
    ];
    let mut grow = Grow { p, sets: &mut sets };
    if index == 0 {
        grow.total("n", &format!("wo.{w}.n"), n(delta.requests));
    }
    for (metric, c) in part {
        grow.total(
            &format!("y.{metric}"),
            &format!("wo.{w}.y.{metric}"),
            f(c.y),
        );
        grow.total(
            &format!("m.{metric}"),
            &format!("wo.{w}.m.{metric}"),
            n(c.m),
        );
    }
    if index == 0 {
        let (name, value) = (p.name("phase"), p.value(s(&delta.phase)));
        sets.push(format!("{name} = if_not_exists({name}, {value})"));
    }
    let condition = format!("attribute_not_exists({seq_name}) OR {seq_name} < {seq}");
    (sets, condition)
}

/// Adds the SET clauses that copy a total to its `wo.` attribute and grow
/// it.
struct Grow<'a> {
    p: &'a mut Placeholders,
    sets: &'a mut Vec<String>,
}

impl Grow<'_> {
    fn total(&mut self, total: &str, old: &str, by: AttributeValue) {
        let zero = self.p.value(n(0));
        let (t, o, d) = (self.p.name(total), self.p.name(old), self.p.value(by));
        self.sets.push(format!("{o} = if_not_exists({t}, {zero})"));
        self.sets
            .push(format!("{t} = if_not_exists({t}, {zero}) + {d}"));
    }
}

/// An attribute this update wrote: missing means the item is not what the
/// update left, which must not be read as zero.
fn written<T>(
    item: &Item,
    name: &str,
    read: fn(&Item, &str) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    match item.contains_key(name) {
        true => read(item, name),
        false => Err(StoreError::Corrupt(format!("session item lacks {name}"))),
    }
}

fn session_key(session: &SessionKey) -> Item {
    let pk = format!(
        "{}#{}#{}",
        escape(&session.experiment),
        escape(&session.variant),
        escape(&session.session)
    );
    key(pk, None)
}
