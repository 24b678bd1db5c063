//! Results from the request path to the store: an [`Accumulator`] that
//! requests add to without waiting, and a [`Flusher`] that writes it in
//! batches on an interval and on demand ([`Flusher::flush_now`], for
//! SIGTERM).
//!
//! A sealed batch keeps its id and contents until the store has it: a
//! failed or timed-out apply is retried as it was (the store then adds
//! only what the first attempt did not), while new observations gather in
//! the open buffer for the next batch. Nothing is counted twice and
//! nothing is lost unless the bounded buffer is full, which is counted.

mod buffer;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use buffer::bump;
pub use buffer::{Accumulator, Observation};

use super::document::now_ms;
use super::{Applied, Batch, BatchId, Store, StoreConfig, StoreError, StoreHealth};

/// Batches one flush writes at most, so that a flush under steady load
/// still ends.
const MAX_BATCHES_PER_FLUSH: usize = 4;

/// How the flusher runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlushSettings {
    pub interval: Duration,
    /// Longest one batch may take to apply before it is retried later.
    pub deadline: Duration,
}

impl FlushSettings {
    pub fn from_config(config: &StoreConfig) -> Self {
        Self {
            interval: config.flush_interval,
            deadline: config.flush_interval.max(config.timeout.saturating_mul(4)),
        }
    }
}

/// A copy of the flush counters, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FlushStats {
    /// Observations added to the buffer.
    pub recorded: u64,
    /// Observations dropped because the buffer was full.
    pub dropped: u64,
    /// Observations refused (bad name, non-finite value).
    pub rejected: u64,
    /// Batches the store added.
    pub batches_applied: u64,
    /// Batches the store had already added (a retry after a lost reply).
    pub batches_repeated: u64,
    /// Batches the store refused as invalid, dropped with their keys.
    pub batches_discarded: u64,
    /// Keys written in applied batches.
    pub entries_flushed: u64,
    /// Failed or timed-out applies (each retried later).
    pub flush_failures: u64,
    /// Keys waiting now, open and held.
    pub pending_entries: u64,
}

struct State {
    next_sequence: u64,
    /// The sealed batch not yet applied, retried as it is.
    pending: Option<Batch>,
}

/// Writes an accumulator's contents to the store as one writer.
pub struct Flusher {
    store: Store,
    accumulator: Arc<Accumulator>,
    health: Arc<StoreHealth>,
    settings: FlushSettings,
    writer: String,
    state: Mutex<State>,
}

impl Flusher {
    /// A flusher with a fresh writer id (one per process: batch ids must
    /// never repeat with other contents).
    pub fn new(
        store: Store,
        accumulator: Arc<Accumulator>,
        health: Arc<StoreHealth>,
        settings: FlushSettings,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            accumulator,
            health,
            settings,
            writer: new_writer_id(),
            state: Mutex::new(State {
                next_sequence: 1,
                pending: None,
            }),
        })
    }

    /// This process's writer id.
    pub fn writer(&self) -> &str {
        &self.writer
    }

    /// The counters, for metrics.
    pub fn stats(&self) -> FlushStats {
        let c = &self.accumulator.counters;
        let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        FlushStats {
            recorded: get(&c.recorded),
            dropped: get(&c.dropped),
            rejected: get(&c.rejected),
            batches_applied: get(&c.batches_applied),
            batches_repeated: get(&c.batches_repeated),
            batches_discarded: get(&c.batches_discarded),
            entries_flushed: get(&c.entries_flushed),
            flush_failures: get(&c.flush_failures),
            pending_entries: self.accumulator.pending_entries() as u64,
        }
    }

    /// Writes what is buffered now: the held batch first, then new ones.
    /// Returns the keys written, or the error that stopped it (what was
    /// not written stays buffered).
    pub async fn flush_now(&self) -> Result<usize, StoreError> {
        let mut state = self.state.lock().await;
        let mut written = 0;
        for _ in 0..MAX_BATCHES_PER_FLUSH {
            if state.pending.is_none() {
                let id = BatchId {
                    writer: self.writer.clone(),
                    sequence: state.next_sequence,
                };
                let Some(batch) = self.accumulator.seal(id) else {
                    break;
                };
                state.next_sequence += 1;
                state.pending = Some(batch);
            }
            let Some(batch) = state.pending.as_ref() else {
                break;
            };
            let entries = batch.entries();
            let outcome = tokio::time::timeout(self.settings.deadline, self.store.apply(batch))
                .await
                .unwrap_or(Err(StoreError::Timeout(self.settings.deadline)));
            self.settle(batch, &outcome);
            match outcome {
                Ok(_) => written += entries,
                Err(StoreError::Invalid(_)) => {}
                Err(e) => return Err(e),
            }
            // Applied, or refused for good: either way it is done.
            state.pending = None;
            self.accumulator.release(entries);
        }
        Ok(written)
    }

    /// Counts, logs and reports one apply's outcome.
    fn settle(&self, batch: &Batch, outcome: &Result<Applied, StoreError>) {
        let c = &self.accumulator.counters;
        let (sequence, entries) = (batch.id.sequence, batch.entries());
        match outcome {
            Ok(applied) => {
                let repeated = *applied == Applied::AlreadyApplied;
                bump(
                    if repeated {
                        &c.batches_repeated
                    } else {
                        &c.batches_applied
                    },
                    1,
                );
                bump(&c.entries_flushed, entries as u64);
                self.health.flush.record_success();
                tracing::debug!(sequence, entries, repeated, "store_batch_applied");
            }
            Err(StoreError::Invalid(error)) => {
                bump(&c.batches_discarded, 1);
                self.health
                    .flush
                    .record_failure(&StoreError::Invalid(error.clone()));
                tracing::error!(sequence, entries, %error, "store_batch_discarded");
            }
            Err(error) => {
                bump(&c.flush_failures, 1);
                self.health.flush.record_failure(error);
                tracing::warn!(sequence, entries, %error, "store_flush_failed");
            }
        }
    }

    /// Flushes every interval until aborted. On SIGTERM, abort the task,
    /// then await [`Flusher::flush_now`] once more.
    pub fn spawn(self: &Arc<Self>) -> JoinHandle<()> {
        let flusher = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(flusher.settings.interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            let mut dropped_seen = 0;
            loop {
                ticks.tick().await;
                // Failures are counted, logged and in health already.
                let _ = flusher.flush_now().await;
                let dropped = flusher.stats().dropped;
                if dropped > dropped_seen {
                    tracing::warn!(dropped = dropped - dropped_seen, "store_buffer_dropped");
                    dropped_seen = dropped;
                }
            }
        })
    }
}

/// A writer id unique to this process: its pid, start time and random
/// bits, in characters safe inside DynamoDB attribute names.
fn new_writer_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!("w{:x}-{:x}-{:016x}", std::process::id(), now_ms(), random)
}
