//! The per-request context carried from one stage of the pipeline to the
//! next: who asked, for what, and when each stage happened.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::headers::InboundFacts;
use super::route::Route;
use super::tune::TuneOutcome;
use crate::record::Labels;

/// Label for requests that named no intent.
pub const NO_INTENT: &str = "none";
/// Label for requests outside any experiment.
pub const NO_VARIANT: &str = "none";

/// One request's state through the pipeline.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// Returned to the app as `x-tuner-request-id`, and the key for
    /// feedback about this answer.
    pub id: String,
    /// The path exactly as the app sent it (no query).
    pub raw_path: String,
    pub route: Route,
    pub inbound: InboundFacts,
    pub labels: Labels,
    pub times: Timeline,
    pub tuned: TuneOutcome,
}

/// When each stage of a request happened.
#[derive(Debug, Clone, Copy)]
pub struct Timeline {
    pub arrived: Instant,
    pub body_read: Option<Instant>,
    pub sent_upstream: Option<Instant>,
    pub upstream_answered: Option<Instant>,
    pub answered: Option<Instant>,
}

impl Timeline {
    fn new() -> Self {
        Self {
            arrived: Instant::now(),
            body_read: None,
            sent_upstream: None,
            upstream_answered: None,
            answered: None,
        }
    }

    /// The sidecar's own time: from the body being read to sending it
    /// upstream, plus from the upstream's response head to ours. The
    /// client's upload and the upstream's work are not the sidecar's.
    pub fn overhead(&self) -> Option<Duration> {
        let before = self
            .sent_upstream?
            .checked_duration_since(self.body_read?)?;
        let after = self
            .answered?
            .checked_duration_since(self.upstream_answered?)?;
        Some(before + after)
    }
}

impl RequestContext {
    pub fn new(raw_path: &str, route: Route, inbound: InboundFacts, labels: Labels) -> Self {
        Self {
            id: next_request_id(),
            raw_path: raw_path.to_string(),
            route,
            inbound,
            labels,
            times: Timeline::new(),
            tuned: TuneOutcome::default(),
        }
    }

    /// Whether this request is an SDK retry of an earlier attempt.
    pub fn is_retry(&self) -> bool {
        self.inbound.attempt.is_some_and(|a| a > 1)
    }
}

/// Unique within the process and, through the process's start time and
/// id, across a fleet: `<start-and-pid>-<sequence>`.
fn next_request_id() -> String {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    static PROCESS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let process = *PROCESS.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        (nanos as u64) ^ (u64::from(std::process::id()) << 40)
    });
    let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    format!("{process:016x}-{n:08x}")
}
