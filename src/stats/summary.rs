//! What the engine is given: per-variant sufficient statistics and the
//! options of one analysis.
//!
//! These types say nothing about where the figures come from (a JSON file,
//! the experiment store, an admin request), so every source can feed the
//! same [`crate::stats::analyze`]. Every figure is a count or a running sum,
//! so a source only adds to them as requests arrive.

use std::collections::BTreeMap;

/// Sufficient statistics of one experiment, one entry per variant.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentSummary {
    /// Name of the control variant, the baseline of every comparison.
    pub control: String,
    /// All variants, the control included, in display order.
    pub variants: Vec<VariantSummary>,
    /// Rollout phases with their own traffic split. Empty means one phase
    /// with each variant's `expected_share` and `sessions`.
    pub srm_phases: Vec<SrmPhase>,
}

/// One arm of the experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantSummary {
    pub name: String,
    /// Share of sessions the router is meant to send here; only the ratios
    /// between variants matter.
    pub expected_share: f64,
    /// Sessions assigned to this variant (the randomisation unit).
    pub sessions: u64,
    /// Requests served, when the source counts them.
    pub requests: Option<u64>,
    /// Metrics by name.
    pub metrics: BTreeMap<String, MetricSummary>,
}

/// One metric of one variant, at request level, session level, or both.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricSummary {
    /// Figures over individual requests. Requests within a session are not
    /// independent, so these are shown but not decided on when session
    /// sums exist.
    pub requests: Option<RequestLevel>,
    /// Per-session sums for the ratio estimator, the basis of decisions.
    pub sessions: Option<SessionSums>,
}

/// Request-level sufficient statistics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RequestLevel {
    /// A real-valued metric (a quality score, a latency).
    Continuous(Moments),
    /// A yes/no metric (thumbs up, a fallback taken).
    Binary(BinaryCounts),
}

/// Count, sum and sum of squares of a real-valued metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    pub n: u64,
    pub sum: f64,
    pub sum_sq: f64,
}

/// Trials and successes of a yes/no metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinaryCounts {
    pub trials: u64,
    pub successes: u64,
}

/// Sums over sessions for a ratio metric Σy / Σm, where y is a session's
/// metric total and m its request count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionSums {
    pub sessions: u64,
    pub sum_y: f64,
    pub sum_y_sq: f64,
    pub sum_m: f64,
    pub sum_m_sq: f64,
    pub sum_ym: f64,
}

/// One rollout phase for the sample-ratio check: its intended split and
/// the sessions it assigned. Variants missing from `sessions` had none.
#[derive(Debug, Clone, PartialEq)]
pub struct SrmPhase {
    pub name: String,
    pub expected_share: BTreeMap<String, f64>,
    pub sessions: BTreeMap<String, u64>,
}

/// How to analyse: levels, thresholds and the metric decisions rest on.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisOptions {
    /// Significance level; intervals are at confidence 1 − alpha.
    pub alpha: f64,
    /// Metric the recommendation rests on; `None` picks the first metric
    /// by name, and the report says which one it used.
    pub primary_metric: Option<String>,
    /// Whether a larger primary metric is better (a quality score) or worse
    /// (a latency, a cost).
    pub higher_is_better: bool,
    /// Fewest observations per arm (sessions at session level) for a test.
    pub min_sample: u64,
    /// Observations per arm at which the sequential boundary is tightest;
    /// fix it before launch, usually to the planned sample size.
    pub sequential_tuning_n: u64,
    /// p-value below which the sample ratio is declared mismatched.
    pub srm_threshold: f64,
    /// Yates' continuity correction in the 2-arm chi-squared test.
    pub yates_correction: bool,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        Self {
            alpha: 0.05,
            primary_metric: None,
            higher_is_better: true,
            min_sample: 30,
            sequential_tuning_n: 10_000,
            srm_threshold: 0.001,
            yates_correction: false,
        }
    }
}

impl ExperimentSummary {
    /// The control variant, if the summary has it.
    pub fn control_variant(&self) -> Option<&VariantSummary> {
        self.variants.iter().find(|v| v.name == self.control)
    }

    /// All metric names across variants, sorted.
    pub fn metric_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .variants
            .iter()
            .flat_map(|v| v.metrics.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

impl VariantSummary {
    /// Requests served: the explicit count, else Σm of a session-level
    /// metric, which counts the same requests.
    pub fn requests_served(&self) -> Option<u64> {
        self.requests.or_else(|| {
            self.metrics
                .values()
                .find_map(|m| m.sessions)
                .and_then(|s| float_to_count(s.sum_m))
        })
    }
}

/// A non-negative whole float as a count, `None` otherwise.
fn float_to_count(x: f64) -> Option<u64> {
    // u64::MAX as f64 rounds up to 2^64, so stay strictly below it.
    let fits = x.is_finite() && x >= 0.0 && x < u64::MAX as f64;
    (fits && x.fract() == 0.0).then_some(x as u64)
}
