//! Results in the results table: sharded counters written by
//! transactions that each carry a receipt of their own.
//!
//! Counter items: `pk = exp#<shard>#<experiment>`, `sk = m#<variant>#<metric>`
//! (request- and session-level sums) or `p#<variant>#<phase>` (sessions
//! first seen in the phase). A batch's increments are split into
//! transactions of at most [`TRANSACTION_ITEMS`] items, one of them a
//! receipt (`pk = batch#<writer>`, `sk = <sequence>#<chunk>`) put on the
//! condition that it does not exist: a chunk applied before is cancelled
//! whole by its own receipt, so a retried batch adds nothing twice.

use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use futures_util::StreamExt;

use super::attrs::{Item, Placeholders, count, escape, f, key, n, real, s, text};
use super::tables::TTL_ATTRIBUTE;
use super::{DynamoStore, shard_of};
use crate::store::document::now_ms;
use crate::store::increments::{Increments, PhaseKey};
use crate::store::{
    Applied, Batch, BatchId, ExperimentResults, MetricKey, MetricTotals, RequestSums, SessionSums,
    StoreError,
};

/// Items per transaction, the receipt included. DynamoDB accepts 100;
/// moto, the test server, 25. At 25 the receipt is one write in 25.
const TRANSACTION_ITEMS: usize = 25;
/// Session updates and transactions in flight at once for one batch.
const CONCURRENCY: usize = 8;
/// Attempts at a transaction cancelled by a conflicting one.
const CONFLICT_ATTEMPTS: u32 = 6;

impl DynamoStore {
    pub(crate) async fn apply(&self, batch: &Batch) -> Result<Applied, StoreError> {
        self.prepare_writes().await?;
        let expires_at = now_ms() / 1000 + self.session_ttl.as_secs();
        let mut increments = Increments::from_requests(batch);
        // `buffered` keeps input order, so increments are summed in the
        // same order on a retry.
        let updates: Vec<_> = (batch.sessions.iter())
            .map(|(key, delta)| self.update_session(&batch.id, key, delta, expires_at))
            .collect();
        let found: Vec<_> = futures_util::stream::iter(updates)
            .buffered(CONCURRENCY)
            .collect()
            .await;
        for ((key, delta), found) in batch.sessions.iter().zip(found) {
            let found = found?;
            increments.add_phase_if_new(key, &found.phase, found.old_requests, delta.requests);
            for (metric, old) in &found.metrics {
                if let Some(c) = delta.metrics.get(metric) {
                    increments.add_session_metric(key, metric, *old, c);
                }
            }
        }
        let shard = shard_of(&batch.id.writer, self.shards);
        self.write_increments(&batch.id, shard, &increments, expires_at)
            .await
    }

    async fn write_increments(
        &self,
        id: &BatchId,
        shard: u32,
        increments: &Increments,
        expires_at: u64,
    ) -> Result<Applied, StoreError> {
        let mut updates = Vec::with_capacity(increments.len());
        for (k, totals) in &increments.metrics {
            updates.push(self.metric_update(shard, k, totals)?);
        }
        for (k, sessions) in &increments.phases {
            updates.push(self.phase_update(shard, k, *sessions)?);
        }
        let mut chunks: Vec<&[TransactWriteItem]> = updates.chunks(TRANSACTION_ITEMS - 1).collect();
        if chunks.is_empty() {
            // A receipt alone still marks the batch applied.
            chunks.push(&[]);
        }
        let transactions: Vec<_> = (chunks.into_iter().enumerate())
            .map(|(index, chunk)| self.transact_chunk(id, index, chunk, expires_at))
            .collect();
        let outcomes: Vec<_> = futures_util::stream::iter(transactions)
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut added = false;
        for outcome in outcomes {
            added |= outcome?;
        }
        Ok(if added {
            Applied::Added
        } else {
            Applied::AlreadyApplied
        })
    }

    /// One chunk with its receipt; false when the receipt was there.
    async fn transact_chunk(
        &self,
        id: &BatchId,
        index: usize,
        chunk: &[TransactWriteItem],
        expires_at: u64,
    ) -> Result<bool, StoreError> {
        let receipt = self.receipt(id, index, expires_at)?;
        for attempt in 0..CONFLICT_ATTEMPTS {
            let mut request = self
                .client
                .transact_write_items()
                .transact_items(receipt.clone());
            for update in chunk {
                request = request.transact_items(update.clone());
            }
            match request.send().await {
                Ok(_) => return Ok(true),
                Err(e) => match cancellation(&e) {
                    Cancellation::AlreadyApplied => return Ok(false),
                    Cancellation::Contended => {
                        tracing::debug!(attempt, "store_transaction_contended");
                        tokio::time::sleep(backoff(attempt)).await;
                    }
                    Cancellation::Other => return Err(StoreError::dynamo("TransactWriteItems", e)),
                },
            }
        }
        Err(StoreError::DynamoDb {
            operation: "TransactWriteItems",
            message: "still conflicting after retries".into(),
        })
    }

    fn receipt(
        &self,
        id: &BatchId,
        index: usize,
        expires_at: u64,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut item = key(
            format!("batch#{}", id.writer),
            Some(format!("{:020}#{index:04}", id.sequence)),
        );
        item.insert(TTL_ATTRIBUTE.into(), n(expires_at));
        let put = Put::builder()
            .table_name(&self.tables.results)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn metric_update(
        &self,
        shard: u32,
        k: &MetricKey,
        t: &MetricTotals,
    ) -> Result<TransactWriteItem, StoreError> {
        let sk = format!("m#{}#{}", escape(&k.variant), escape(&k.metric));
        let (r, ss) = (&t.requests, &t.sessions);
        let adds = [
            ("n", n(r.n), r.n != 0),
            ("sum", f(r.sum), r.sum != 0.0),
            ("sum_sq", f(r.sum_sq), r.sum_sq != 0.0),
            ("sessions", n(ss.sessions), ss.sessions != 0),
            ("sum_y", f(ss.sum_y), ss.sum_y != 0.0),
            ("sum_y2", f(ss.sum_y2), ss.sum_y2 != 0.0),
            ("sum_m", n(ss.sum_m), ss.sum_m != 0),
            ("sum_m2", n(ss.sum_m2), ss.sum_m2 != 0),
            ("sum_ym", f(ss.sum_ym), ss.sum_ym != 0.0),
        ];
        let labels = [
            ("variant", k.variant.as_str()),
            ("metric", k.metric.as_str()),
        ];
        self.counter_update(shard, &k.experiment, sk, &labels, &adds)
    }

    fn phase_update(
        &self,
        shard: u32,
        k: &PhaseKey,
        sessions: u64,
    ) -> Result<TransactWriteItem, StoreError> {
        let sk = format!("p#{}#{}", escape(&k.variant), escape(&k.phase));
        let labels = [("variant", k.variant.as_str()), ("phase", k.phase.as_str())];
        self.counter_update(
            shard,
            &k.experiment,
            sk,
            &labels,
            &[("sessions", n(sessions), true)],
        )
    }

    /// `SET` the readable labels, `ADD` the non-zero increments.
    fn counter_update(
        &self,
        shard: u32,
        experiment: &str,
        sk: String,
        labels: &[(&str, &str)],
        adds: &[(&str, AttributeValue, bool)],
    ) -> Result<TransactWriteItem, StoreError> {
        let mut p = Placeholders::default();
        let sets: Vec<String> = labels
            .iter()
            .map(|(name, value)| format!("{} = {}", p.name(name), p.value(s(*value))))
            .collect();
        let adds: Vec<String> = adds
            .iter()
            .filter(|(_, _, nonzero)| *nonzero)
            .map(|(name, value, _)| format!("{} {}", p.name(name), p.value(value.clone())))
            .collect();
        let mut expression = format!("SET {}", sets.join(", "));
        if !adds.is_empty() {
            expression.push_str(&format!(" ADD {}", adds.join(", ")));
        }
        let update = Update::builder()
            .table_name(&self.tables.results)
            .set_key(Some(key(counter_pk(shard, experiment), Some(sk))))
            .update_expression(expression)
            .set_expression_attribute_names(Some(p.names))
            .set_expression_attribute_values(Some(p.values))
            .build()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    pub(crate) async fn results(&self, experiment: &str) -> Result<ExperimentResults, StoreError> {
        let shards = self.read_meta().await?.shards.max(self.shards);
        let queries: Vec<_> = (0..shards)
            .map(|shard| self.query_partition(counter_pk(shard, experiment)))
            .collect();
        let pages: Vec<_> = futures_util::stream::iter(queries)
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut results = ExperimentResults::empty(experiment);
        for items in pages {
            for item in items? {
                add_counter_item(&mut results, &item)?;
            }
        }
        Ok(results)
    }

    /// Every item of one partition, following every page.
    async fn query_partition(&self, pk: String) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.tables.results)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(pk.clone()))
                .set_exclusive_start_key(start.take())
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| StoreError::dynamo("Query", e))?;
            start = out.last_evaluated_key.clone();
            items.extend(out.items.unwrap_or_default());
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

fn counter_pk(shard: u32, experiment: &str) -> String {
    format!("exp#{shard}#{experiment}")
}

/// Adds one counter item to the totals; item kinds a newer build may add
/// are skipped.
fn add_counter_item(results: &mut ExperimentResults, item: &Item) -> Result<(), StoreError> {
    let sk = text(item, "sk")?;
    if sk.starts_with("m#") {
        let totals = MetricTotals {
            requests: RequestSums {
                n: count(item, "n")?,
                sum: real(item, "sum")?,
                sum_sq: real(item, "sum_sq")?,
            },
            sessions: SessionSums {
                sessions: count(item, "sessions")?,
                sum_y: real(item, "sum_y")?,
                sum_y2: real(item, "sum_y2")?,
                sum_m: count(item, "sum_m")?,
                sum_m2: count(item, "sum_m2")?,
                sum_ym: real(item, "sum_ym")?,
            },
        };
        results.add_metric(text(item, "variant")?, text(item, "metric")?, &totals);
    } else if sk.starts_with("p#") {
        let sessions = count(item, "sessions")?;
        results.add_phase(text(item, "variant")?, text(item, "phase")?, sessions);
    }
    Ok(())
}

enum Cancellation {
    /// The chunk's receipt exists: the chunk was applied before.
    AlreadyApplied,
    /// Another transaction held an item, or DynamoDB throttled: retry.
    Contended,
    Other,
}

fn cancellation<R>(error: &SdkError<TransactWriteItemsError, R>) -> Cancellation {
    let Some(TransactWriteItemsError::TransactionCanceledException(c)) = error.as_service_error()
    else {
        return Cancellation::Other;
    };
    let codes: Vec<&str> = c
        .cancellation_reasons()
        .iter()
        .map(|r| r.code().unwrap_or("None"))
        .collect();
    match codes.first() {
        Some(&"ConditionalCheckFailed") => Cancellation::AlreadyApplied,
        _ if codes
            .iter()
            .any(|c| matches!(*c, "TransactionConflict" | "ThrottlingError")) =>
        {
            Cancellation::Contended
        }
        _ => Cancellation::Other,
    }
}

/// 25 ms doubling per attempt, with up to as much again of jitter so that
/// contending writers spread out.
fn backoff(attempt: u32) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let base = 25u64 << attempt.min(6);
    let jitter = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
        % base;
    Duration::from_millis(base + jitter)
}
