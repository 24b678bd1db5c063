//! The in-memory result buffer the request path adds to.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::store::batch::MAX_ABS_VALUE;
use crate::store::document::check_name;
use crate::store::{Batch, BatchId, MetricKey, RequestSums, SessionDelta, SessionKey};

/// Most keys sealed into one batch, so that one apply stays short enough
/// to finish within its deadline; the rest waits for the next batch.
const MAX_BATCH_ENTRIES: usize = 5_000;

/// What one request (or a late metric, such as feedback) adds.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    pub experiment: &'a str,
    pub variant: &'a str,
    /// Rollout phase, for the sample-ratio check.
    pub phase: &'a str,
    /// The session, when the request named one; without it only the
    /// request-level sums grow.
    pub session: Option<&'a str>,
    /// Requests this stands for: 1 for a served request, 0 for a metric
    /// that arrives after its request.
    pub requests: u64,
    /// Metric values by name.
    pub metrics: &'a [(&'a str, f64)],
}

/// Counters for the lead's Prometheus exporter; all only grow.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub recorded: AtomicU64,
    pub dropped: AtomicU64,
    pub rejected: AtomicU64,
    pub batches_applied: AtomicU64,
    pub batches_repeated: AtomicU64,
    pub batches_discarded: AtomicU64,
    pub entries_flushed: AtomicU64,
    pub flush_failures: AtomicU64,
}

pub(super) fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

#[derive(Debug, Default)]
struct Open {
    requests: HashMap<MetricKey, RequestSums>,
    sessions: HashMap<SessionKey, SessionDelta>,
    /// Keys in the maps above (see [`Batch::entries`]).
    entries: usize,
    /// Keys sealed into a batch not yet applied; they count against the
    /// bound until the store has them.
    held: usize,
}

/// Result increments waiting to be flushed, bounded in keys. Adding takes
/// one short mutex and never waits on the store.
#[derive(Debug)]
pub struct Accumulator {
    open: Mutex<Open>,
    max_entries: usize,
    pub(super) counters: Counters,
}

impl Accumulator {
    /// A buffer of at most `max_entries` keys (open and held together).
    pub fn new(max_entries: usize) -> Self {
        Self {
            open: Mutex::new(Open::default()),
            max_entries,
            counters: Counters::default(),
        }
    }

    /// Adds an observation; false when it was dropped (buffer full) or
    /// rejected (a bad name or a non-finite value). Either is counted.
    pub fn record(&self, o: &Observation<'_>) -> bool {
        if !valid(o) {
            bump(&self.counters.rejected, 1);
            return false;
        }
        let session = o.session.map(|s| SessionKey {
            experiment: o.experiment.to_string(),
            variant: o.variant.to_string(),
            session: s.to_string(),
        });
        let Ok(mut open) = self.open.lock() else {
            bump(&self.counters.dropped, 1);
            return false;
        };
        let needed = open.new_entries(o, session.as_ref());
        if open.entries + open.held + needed > self.max_entries {
            drop(open);
            bump(&self.counters.dropped, 1);
            return false;
        }
        open.add(o, session);
        open.entries += needed;
        drop(open);
        bump(&self.counters.recorded, 1);
        true
    }

    /// Moves up to [`MAX_BATCH_ENTRIES`] keys into a batch under `id`;
    /// `None` when there is nothing to flush.
    pub(super) fn seal(&self, id: BatchId) -> Option<Batch> {
        let mut open = self.open.lock().ok()?;
        if open.entries == 0 {
            return None;
        }
        let mut batch = Batch::new(id);
        batch.requests.extend(std::mem::take(&mut open.requests));
        batch.sessions.extend(std::mem::take(&mut open.sessions));
        while batch.entries() > MAX_BATCH_ENTRIES {
            if let Some((k, v)) = batch.sessions.pop_last() {
                open.sessions.insert(k, v);
            } else if let Some((k, v)) = batch.requests.pop_last() {
                open.requests.insert(k, v);
            }
        }
        let sealed = batch.entries();
        open.entries = open.entries.saturating_sub(sealed);
        open.held += sealed;
        Some(batch)
    }

    /// The store has a held batch of `entries` keys (or it was discarded).
    pub(super) fn release(&self, entries: usize) {
        if let Ok(mut open) = self.open.lock() {
            open.held = open.held.saturating_sub(entries);
        }
    }

    /// Keys waiting, open and held.
    pub fn pending_entries(&self) -> usize {
        self.open.lock().map(|o| o.entries + o.held).unwrap_or(0)
    }
}

impl Open {
    fn new_entries(&self, o: &Observation<'_>, session: Option<&SessionKey>) -> usize {
        let mut needed = 0;
        let delta = session.and_then(|s| self.sessions.get(s));
        if session.is_some() && delta.is_none() {
            needed += 1;
        }
        for (metric, _) in o.metrics {
            let key = metric_key(o, metric);
            needed += usize::from(!self.requests.contains_key(&key));
            if session.is_some() {
                needed += usize::from(delta.is_none_or(|d| !d.metrics.contains_key(*metric)));
            }
        }
        needed
    }

    fn add(&mut self, o: &Observation<'_>, session: Option<SessionKey>) {
        for (metric, value) in o.metrics {
            let sums = self.requests.entry(metric_key(o, metric)).or_default();
            sums.add(&RequestSums::of(*value));
        }
        let Some(session) = session else { return };
        let delta = self
            .sessions
            .entry(session)
            .or_insert_with(|| SessionDelta {
                phase: o.phase.to_string(),
                ..SessionDelta::default()
            });
        delta.requests = delta.requests.saturating_add(o.requests);
        for (metric, value) in o.metrics {
            let c = delta.metrics.entry((*metric).to_string()).or_default();
            c.y += value;
            c.m = c.m.saturating_add(1);
        }
    }
}

fn metric_key(o: &Observation<'_>, metric: &str) -> MetricKey {
    MetricKey {
        experiment: o.experiment.to_string(),
        variant: o.variant.to_string(),
        metric: metric.to_string(),
    }
}

/// Only what the store will accept enters the buffer: a batch the store
/// refused would otherwise be retried for ever.
fn valid(o: &Observation<'_>) -> bool {
    let names = [
        Some(o.experiment),
        Some(o.variant),
        Some(o.phase),
        o.session,
    ];
    names
        .into_iter()
        .flatten()
        .all(|n| check_name("name", n).is_ok())
        && o.metrics.iter().all(|(name, value)| {
            check_name("metric", name).is_ok() && value.is_finite() && value.abs() <= MAX_ABS_VALUE
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observation<'a>(session: &'a str, metrics: &'a [(&'a str, f64)]) -> Observation<'a> {
        Observation {
            experiment: "e",
            variant: "a",
            phase: "p1",
            session: Some(session),
            requests: 1,
            metrics,
        }
    }

    #[test]
    fn drops_new_keys_past_the_bound_and_counts_them() {
        let acc = Accumulator::new(6);
        // 1 request key + 1 session + 1 session metric = 3 keys each.
        assert!(acc.record(&observation("s1", &[("latency", 1.0)])));
        assert!(acc.record(&observation("s2", &[("latency", 2.0)])));
        assert!(!acc.record(&observation("s3", &[("latency", 3.0)])));
        // Existing keys still merge.
        assert!(acc.record(&observation("s1", &[("latency", 4.0)])));
        assert_eq!(acc.counters.dropped.load(Ordering::Relaxed), 1);
        assert_eq!(acc.pending_entries(), 5);
    }

    #[test]
    fn rejects_values_the_store_cannot_hold() {
        let acc = Accumulator::new(100);
        assert!(!acc.record(&observation("s", &[("latency", f64::NAN)])));
        assert!(!acc.record(&observation("", &[("latency", 1.0)])));
        assert_eq!(acc.counters.rejected.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn sealed_keys_count_until_released() {
        let acc = Accumulator::new(100);
        acc.record(&observation("s1", &[("latency", 1.0), ("tokens", 5.0)]));
        let id = BatchId {
            writer: "w".into(),
            sequence: 1,
        };
        let batch = acc
            .seal(id.clone())
            .unwrap_or_else(|| panic!("nothing sealed"));
        assert_eq!(batch.entries(), 5);
        assert_eq!(acc.pending_entries(), 5);
        assert!(acc.seal(id).is_none());
        acc.release(batch.entries());
        assert_eq!(acc.pending_entries(), 0);
        let delta = batch.sessions.values().next().cloned().unwrap_or_default();
        assert_eq!((delta.requests, delta.metrics.len()), (1, 2));
    }
}
