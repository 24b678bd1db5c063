//! Raw request data and the results computed from it directly, without
//! the store: what every stored sum must equal. Values are small whole
//! numbers so that sums are exact in any order, in f64 and in DynamoDB's
//! decimals alike, and equality can be exact.

use std::collections::BTreeMap;

use bedrock_tuner::store::flush::{Accumulator, Observation};
use bedrock_tuner::store::{
    Batch, BatchId, ExperimentResults, MetricKey, RequestSums, SessionDelta, SessionKey,
    SessionSums,
};

pub const METRICS: [&str; 2] = ["latency_ms", "output_tokens"];

/// One request as the proxy would observe it.
#[derive(Debug, Clone)]
pub struct Request {
    pub variant: String,
    pub session: String,
    /// Each session has one phase: the store keeps the phase of a
    /// session's first applied update, which need not be its first request.
    pub phase: String,
    pub values: Vec<(&'static str, f64)>,
}

impl Request {
    pub fn observation<'a>(
        &'a self,
        experiment: &'a str,
        metrics: &'a [(&'static str, f64)],
    ) -> Observation<'a> {
        Observation {
            experiment,
            variant: &self.variant,
            phase: &self.phase,
            session: Some(&self.session),
            requests: 1,
            metrics,
        }
    }
}

/// A small deterministic generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

/// `sessions` sessions over variants a and b, 1 to 6 requests each, in a
/// shuffled order so that a session's requests are spread out.
pub fn requests(seed: u64, sessions: usize) -> Vec<Request> {
    let mut rng = Rng::new(seed);
    let mut all = Vec::new();
    for s in 0..sessions {
        let variant = if s % 2 == 0 { "a" } else { "b" };
        let phase = if s % 3 == 0 { "ramp" } else { "full" };
        for _ in 0..=rng.below(6) {
            all.push(Request {
                variant: variant.into(),
                session: format!("session-{s}"),
                phase: phase.into(),
                values: vec![
                    (METRICS[0], (100 + rng.below(900)) as f64),
                    (METRICS[1], rng.below(50) as f64),
                ],
            });
        }
    }
    for i in (1..all.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        all.swap(i, j);
    }
    all
}

/// The results computed from the raw requests directly.
pub fn direct(experiment: &str, requests: &[Request]) -> ExperimentResults {
    let mut results = ExperimentResults::empty(experiment);
    let mut sessions: BTreeMap<(String, String, &str), (f64, u64)> = BTreeMap::new();
    let mut phases: BTreeMap<(String, String), String> = BTreeMap::new();
    for r in requests {
        let variant = results.variants.entry(r.variant.clone()).or_default();
        for (metric, value) in &r.values {
            let totals = variant.metrics.entry(metric.to_string()).or_default();
            totals.requests.add(&RequestSums::of(*value));
            let session = sessions
                .entry((r.variant.clone(), r.session.clone(), metric))
                .or_default();
            session.0 += value;
            session.1 += 1;
        }
        phases.insert((r.variant.clone(), r.session.clone()), r.phase.clone());
    }
    for ((variant, _, metric), (y, m)) in sessions {
        let totals = results
            .variants
            .entry(variant)
            .or_default()
            .metrics
            .entry(metric.to_string())
            .or_default();
        totals.sessions.add(&SessionSums {
            sessions: 1,
            sum_y: y,
            sum_y2: y * y,
            sum_m: m,
            sum_m2: m * m,
            sum_ym: y * m as f64,
        });
    }
    for ((variant, _), phase) in phases {
        let variant = results.variants.entry(variant).or_default();
        *variant.phase_sessions.entry(phase).or_default() += 1;
    }
    results
}

/// The batch a writer would flush for these requests.
pub fn batch_of(writer: &str, sequence: u64, experiment: &str, requests: &[Request]) -> Batch {
    let mut batch = Batch::new(BatchId {
        writer: writer.into(),
        sequence,
    });
    for r in requests {
        for (metric, value) in &r.values {
            let key = MetricKey {
                experiment: experiment.into(),
                variant: r.variant.clone(),
                metric: metric.to_string(),
            };
            batch
                .requests
                .entry(key)
                .or_default()
                .add(&RequestSums::of(*value));
        }
        let key = SessionKey {
            experiment: experiment.into(),
            variant: r.variant.clone(),
            session: r.session.clone(),
        };
        let delta = batch.sessions.entry(key).or_insert_with(|| SessionDelta {
            phase: r.phase.clone(),
            ..SessionDelta::default()
        });
        delta.requests += 1;
        for (metric, value) in &r.values {
            let c = delta.metrics.entry(metric.to_string()).or_default();
            c.y += value;
            c.m += 1;
        }
    }
    batch
}

/// Records every request into an accumulator.
pub fn record_all(accumulator: &Accumulator, experiment: &str, requests: &[Request]) {
    for r in requests {
        assert!(
            accumulator.record(&r.observation(experiment, &r.values)),
            "dropped"
        );
    }
}
