//! A flush batch: the result increments one writer sends in one go, under
//! an id that makes a retry harmless.

use std::collections::BTreeMap;

use super::document::check_name;
use super::{RequestSums, StoreError};

/// Identifies a batch: the writer (one per sidecar process) and its
/// sequence number, which grows by one per batch. Applying the same id
/// twice adds once; a writer must not reuse an id for other contents.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BatchId {
    pub writer: String,
    pub sequence: u64,
}

/// Where request-level sums are kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricKey {
    pub experiment: String,
    pub variant: String,
    pub metric: String,
}

/// One session of one experiment's variant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey {
    pub experiment: String,
    pub variant: String,
    pub session: String,
}

/// What some requests add to one metric of one session.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Contribution {
    /// Sum of the metric's values (the session total y grows by this).
    pub y: f64,
    /// Number of values (the session's count m grows by this).
    pub m: u64,
}

/// What some requests add to one session's running totals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionDelta {
    /// Rollout phase the session is counted in for the sample-ratio check
    /// when these are its first requests; later phases do not move it.
    pub phase: String,
    /// Requests of the session in this batch.
    pub requests: u64,
    pub metrics: BTreeMap<String, Contribution>,
}

/// One flush: request-level increments and per-session deltas. Ordered
/// maps keep the store's derived writes in the same order on a retry.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub id: BatchId,
    pub requests: BTreeMap<MetricKey, RequestSums>,
    pub sessions: BTreeMap<SessionKey, SessionDelta>,
}

impl Batch {
    /// An empty batch under `id`.
    pub fn new(id: BatchId) -> Self {
        Self {
            id,
            requests: BTreeMap::new(),
            sessions: BTreeMap::new(),
        }
    }

    /// Whether the batch adds nothing.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty() && self.sessions.is_empty()
    }

    /// Keys the batch touches: one per request key, one per session and
    /// one per session metric.
    pub fn entries(&self) -> usize {
        let sessions: usize = self.sessions.values().map(|s| 1 + s.metrics.len()).sum();
        self.requests.len() + sessions
    }

    /// Refuses names a key cannot hold and numbers a store cannot add.
    pub(super) fn validate(&self) -> Result<(), StoreError> {
        check_name("writer", &self.id.writer)?;
        if self.id.sequence == 0 {
            return Err(StoreError::Invalid("batch sequence starts at 1".into()));
        }
        for (key, sums) in &self.requests {
            check_key(&key.experiment, &key.variant, &key.metric, "metric")?;
            check_finite(&[sums.sum, sums.sum_sq])?;
        }
        for (key, delta) in &self.sessions {
            check_key(&key.experiment, &key.variant, &key.session, "session")?;
            check_name("phase", &delta.phase)?;
            for (metric, c) in &delta.metrics {
                check_name("metric", metric)?;
                check_finite(&[c.y])?;
            }
        }
        Ok(())
    }
}

fn check_key(experiment: &str, variant: &str, last: &str, what: &str) -> Result<(), StoreError> {
    check_name("experiment", experiment)?;
    check_name("variant", variant)?;
    check_name(what, last)
}

/// Metric values beyond this size are refused: DynamoDB numbers stop near
/// 1e125, and a squared value must still fit.
pub(super) const MAX_ABS_VALUE: f64 = 1e60;

fn check_finite(values: &[f64]) -> Result<(), StoreError> {
    match values
        .iter()
        .all(|v| v.is_finite() && v.abs() <= MAX_ABS_VALUE * MAX_ABS_VALUE)
    {
        true => Ok(()),
        false => Err(StoreError::Invalid(
            "a metric value is not a finite number in range".into(),
        )),
    }
}
