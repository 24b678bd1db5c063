//! Experiment observations: every request placed in an experiment becomes
//! one observation of its variant, added to the store's result buffer.
//!
//! An SDK retries a throttled or failed call under the same invocation id;
//! that is one invocation, so one observation. An observation whose outcome
//! an SDK would retry is held for a short window: a retry that arrives
//! replaces it, and only the last attempt's outcome is recorded.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::store::flush::{Accumulator, Observation as Increment};

pub mod prices;

pub use prices::PriceTable;

/// How long a retryable outcome waits for its retry. SDKs back off for
/// seconds between attempts, with a cap of about 20 s.
pub const RETRY_WINDOW: Duration = Duration::from_secs(25);
/// Held observations at most; beyond it they are recorded at once.
const MAX_HELD: usize = 10_000;

/// One experiment observation, its metric values by name.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentObservation {
    pub experiment: String,
    pub variant: String,
    pub phase: String,
    pub session: Option<String>,
    pub metrics: Vec<(&'static str, f64)>,
    /// The SDK's invocation id, shared by retries of one call.
    pub invocation: Option<String>,
    /// Whether an SDK would retry this outcome (throttling, 5xx).
    pub retryable: bool,
}

/// Which experiment and variant served a recent request, for feedback
/// that names the request id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub experiment: String,
    pub variant: String,
    pub session: Option<String>,
}

/// Recent requests remembered for feedback; the oldest is forgotten first.
const MAX_REMEMBERED: usize = 100_000;

#[derive(Default)]
struct Remembered {
    by_id: HashMap<String, Served>,
    order: VecDeque<String>,
}

struct Held {
    observation: ExperimentObservation,
    until: Instant,
}

/// Turns observations into result increments, one per invocation.
pub struct ObservationSink {
    accumulator: Arc<Accumulator>,
    held: Mutex<HashMap<String, Held>>,
    window: Duration,
    remembered: Mutex<Remembered>,
}

impl ObservationSink {
    pub fn new(accumulator: Arc<Accumulator>, window: Duration) -> Self {
        Self {
            accumulator,
            held: Mutex::new(HashMap::new()),
            window,
            remembered: Mutex::new(Remembered::default()),
        }
    }

    /// Remembers which variant served `request_id`.
    pub fn remember(
        &self,
        request_id: &str,
        experiment: &str,
        variant: &str,
        session: Option<&str>,
    ) {
        let Ok(mut r) = self.remembered.lock() else {
            return;
        };
        let served = Served {
            experiment: experiment.to_string(),
            variant: variant.to_string(),
            session: session.map(str::to_string),
        };
        if r.by_id.insert(request_id.to_string(), served).is_none() {
            r.order.push_back(request_id.to_string());
        }
        while r.order.len() > MAX_REMEMBERED {
            if let Some(oldest) = r.order.pop_front() {
                r.by_id.remove(&oldest);
            }
        }
    }

    /// Which variant served a recent request of this sidecar.
    pub fn served(&self, request_id: &str) -> Option<Served> {
        self.remembered.lock().ok()?.by_id.get(request_id).cloned()
    }

    /// Records an observation now, or holds it for a possible retry.
    pub fn observe(&self, observation: ExperimentObservation) {
        let Some(invocation) = observation.invocation.clone() else {
            self.commit(&observation);
            return;
        };
        let Ok(mut held) = self.held.lock() else {
            self.commit(&observation);
            return;
        };
        // A later attempt of the same invocation supersedes the held one.
        held.remove(&invocation);
        if observation.retryable && held.len() < MAX_HELD {
            let until = Instant::now() + self.window;
            held.insert(invocation, Held { observation, until });
        } else {
            drop(held);
            self.commit(&observation);
        }
    }

    /// Records held observations whose retry window has passed (all of
    /// them with `everything`, at shutdown).
    pub fn release_expired(&self, everything: bool) -> usize {
        let now = Instant::now();
        let expired: Vec<ExperimentObservation> = match self.held.lock() {
            Ok(mut held) => {
                let keys: Vec<String> = held
                    .iter()
                    .filter(|(_, h)| everything || h.until <= now)
                    .map(|(k, _)| k.clone())
                    .collect();
                keys.iter()
                    .filter_map(|k| held.remove(k))
                    .map(|h| h.observation)
                    .collect()
            }
            Err(_) => Vec::new(),
        };
        for observation in &expired {
            self.commit(observation);
        }
        expired.len()
    }

    /// Observations waiting for a retry now.
    pub fn held(&self) -> usize {
        self.held.lock().map(|h| h.len()).unwrap_or(0)
    }

    fn commit(&self, o: &ExperimentObservation) {
        let increment = Increment {
            experiment: &o.experiment,
            variant: &o.variant,
            phase: &o.phase,
            session: o.session.as_deref(),
            requests: 1,
            metrics: &o.metrics,
        };
        self.accumulator.record(&increment);
    }

    /// A metric that arrives after its request (user feedback): no
    /// request is added, only the value.
    pub fn late_metric(
        &self,
        experiment: &str,
        variant: &str,
        session: Option<&str>,
        metric: (&'static str, f64),
    ) -> bool {
        let metrics = [metric];
        self.accumulator.record(&Increment {
            experiment,
            variant,
            phase: "feedback",
            session,
            requests: 0,
            metrics: &metrics,
        })
    }
}

/// The rollout phase label of an experiment's current coverage, so the
/// sample-ratio check can compare each phase with its own split.
pub fn phase_of(coverage: f64) -> String {
    format!("coverage-{coverage}")
}
