//! Experiment results as sufficient statistics: what the statistics
//! engine needs, in a few numbers per variant and metric.

use std::collections::BTreeMap;

/// Request-level sums of one metric: count, sum and sum of squares.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RequestSums {
    pub n: u64,
    pub sum: f64,
    pub sum_sq: f64,
}

impl RequestSums {
    /// The sums of one value.
    pub fn of(value: f64) -> Self {
        Self {
            n: 1,
            sum: value,
            sum_sq: value * value,
        }
    }

    /// Adds another set of sums to these.
    pub fn add(&mut self, other: &RequestSums) {
        self.n = self.n.saturating_add(other.n);
        self.sum += other.sum;
        self.sum_sq += other.sum_sq;
    }
}

/// Session-level sums of one metric for the ratio estimator Σy / Σm,
/// where y is a session's metric total and m its number of values.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SessionSums {
    pub sessions: u64,
    pub sum_y: f64,
    pub sum_y2: f64,
    pub sum_m: u64,
    pub sum_m2: u64,
    pub sum_ym: f64,
}

impl SessionSums {
    /// Adds another set of sums (or an increment) to these.
    pub fn add(&mut self, other: &SessionSums) {
        self.sessions = self.sessions.saturating_add(other.sessions);
        self.sum_y += other.sum_y;
        self.sum_y2 += other.sum_y2;
        self.sum_m = self.sum_m.saturating_add(other.sum_m);
        self.sum_m2 = self.sum_m2.saturating_add(other.sum_m2);
        self.sum_ym += other.sum_ym;
    }
}

/// Both levels of one metric of one variant.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MetricTotals {
    pub requests: RequestSums,
    pub sessions: SessionSums,
}

impl MetricTotals {
    pub fn add(&mut self, other: &MetricTotals) {
        self.requests.add(&other.requests);
        self.sessions.add(&other.sessions);
    }
}

/// One variant's results.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VariantResults {
    /// By metric name.
    pub metrics: BTreeMap<String, MetricTotals>,
    /// Sessions first seen in each rollout phase, for the sample-ratio
    /// check.
    pub phase_sessions: BTreeMap<String, u64>,
}

/// Every result of one experiment, summed over shards and writers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExperimentResults {
    pub experiment: String,
    /// By variant name.
    pub variants: BTreeMap<String, VariantResults>,
}

impl ExperimentResults {
    /// An experiment with nothing recorded yet.
    pub fn empty(experiment: &str) -> Self {
        Self {
            experiment: experiment.to_string(),
            variants: BTreeMap::new(),
        }
    }

    /// Adds one stored metric row (one shard's share) to the totals.
    pub(super) fn add_metric(&mut self, variant: &str, metric: &str, totals: &MetricTotals) {
        let variant = self.variants.entry(variant.to_string()).or_default();
        variant
            .metrics
            .entry(metric.to_string())
            .or_default()
            .add(totals);
    }

    /// Adds one stored phase row (one shard's share) to the totals.
    pub(super) fn add_phase(&mut self, variant: &str, phase: &str, sessions: u64) {
        let variant = self.variants.entry(variant.to_string()).or_default();
        let count = variant.phase_sessions.entry(phase.to_string()).or_default();
        *count = count.saturating_add(sessions);
    }
}
