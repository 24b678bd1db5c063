//! From an experiment's stored results to the statistics engine.
//!
//! The store keeps sufficient statistics per (variant, metric) at two
//! levels and the sessions first seen in each rollout phase; the engine
//! takes an [`ExperimentSummary`]. This module is the one translation
//! between them, shared by `bedrock-tuner experiments analyze` and the
//! admin API, so that both give the report `analyze --summary` would give
//! for the same figures.

use std::collections::BTreeMap;

use crate::experiment::Experiment;
use crate::stats::summary::{
    AnalysisOptions, BinaryCounts, ExperimentSummary, MetricSummary, Moments, RequestLevel,
    SessionSums, SrmPhase, VariantSummary,
};
use crate::stats::{AnalysisReport, analyze};
use crate::store::{ExperimentResults, MetricTotals, Store, StoreError, VariantResults};

/// Metrics recorded as 0 or 1: analysed as proportions at request level.
pub const BINARY_METRICS: [&str; 3] = ["error", "truncated", "thumbs_up"];

/// Metrics where a smaller value is the better one.
pub const LOWER_IS_BETTER: [&str; 8] = [
    "latency_ms",
    "upstream_ms",
    "ttfb_ms",
    "cost_usd",
    "error",
    "truncated",
    "input_tokens",
    "output_tokens",
];

/// Metrics every observed request records (feedback metrics do not), so
/// their request count is the variant's number of requests.
const PER_REQUEST_METRICS: [&str; 3] = ["latency_ms", "error", "truncated"];

/// Whether a metric is a yes/no one.
pub fn is_binary(metric: &str) -> bool {
    BINARY_METRICS.contains(&metric)
}

/// Whether a larger value of the metric is better.
pub fn higher_is_better(metric: &str) -> bool {
    !LOWER_IS_BETTER.contains(&metric)
}

/// The engine's input for an experiment's results. Variants are in the
/// order `analyze --summary` uses (the control, then the others by name);
/// results of variants the experiment no longer has are left out.
pub fn summary_from_results(
    experiment: &Experiment,
    results: &ExperimentResults,
) -> ExperimentSummary {
    let control = experiment.variants[experiment.control].name.clone();
    let empty = VariantResults::default();
    let mut variants: Vec<VariantSummary> = experiment
        .variants
        .iter()
        .map(|v| {
            variant_summary(
                &v.name,
                v.weight,
                results.variants.get(&v.name).unwrap_or(&empty),
            )
        })
        .collect();
    variants.sort_by_key(|v| (v.name != control, v.name.clone()));
    ExperimentSummary {
        control,
        variants,
        srm_phases: srm_phases(experiment, results),
    }
}

/// The analysis settings an experiment implies: its confidence, its
/// primary metric and that metric's direction, and its planned sample
/// size as the point where the sequential test is tightest.
pub fn options_for(experiment: &Experiment) -> AnalysisOptions {
    // 1 − 0.95 is 0.050000000000000044 in binary; keep the report's alpha
    // as the operator wrote it.
    let alpha = ((1.0 - experiment.confidence) * 1e12).round() / 1e12;
    AnalysisOptions {
        alpha,
        primary_metric: Some(experiment.primary_metric.clone()),
        higher_is_better: higher_is_better(&experiment.primary_metric),
        sequential_tuning_n: experiment.min_sample_per_variant.max(1),
        ..AnalysisOptions::default()
    }
}

/// Reads an experiment's results from the store and analyses them.
pub async fn analyze_experiment(
    store: &Store,
    experiment: &Experiment,
) -> Result<AnalysisReport, StoreError> {
    let results = store.results(&experiment.id).await?;
    let summary = summary_from_results(experiment, &results);
    Ok(analyze(&summary, &options_for(experiment)))
}

fn variant_summary(name: &str, weight: f64, results: &VariantResults) -> VariantSummary {
    let metrics: BTreeMap<String, MetricSummary> = results
        .metrics
        .iter()
        .filter_map(|(metric, totals)| Some((metric.clone(), metric_summary(metric, totals)?)))
        .collect();
    let requests = PER_REQUEST_METRICS
        .iter()
        .filter_map(|m| results.metrics.get(*m).map(|t| t.requests.n))
        .max();
    VariantSummary {
        name: name.to_string(),
        expected_share: weight,
        sessions: results.phase_sessions.values().sum(),
        requests,
        metrics,
    }
}

/// Both levels of one metric; `None` when neither has an observation.
fn metric_summary(metric: &str, totals: &MetricTotals) -> Option<MetricSummary> {
    let r = &totals.requests;
    let requests = (r.n > 0).then(|| match is_binary(metric) {
        // Values are 0 or 1, so the sum counts the ones exactly.
        true => RequestLevel::Binary(BinaryCounts {
            trials: r.n,
            successes: (r.sum.round().max(0.0) as u64).min(r.n),
        }),
        false => RequestLevel::Continuous(Moments {
            n: r.n,
            sum: r.sum,
            sum_sq: r.sum_sq,
        }),
    });
    let s = &totals.sessions;
    let sessions = (s.sessions > 0).then_some(SessionSums {
        sessions: s.sessions,
        sum_y: s.sum_y,
        sum_y_sq: s.sum_y2,
        sum_m: s.sum_m as f64,
        sum_m_sq: s.sum_m2 as f64,
        sum_ym: s.sum_ym,
    });
    (requests.is_some() || sessions.is_some()).then_some(MetricSummary { requests, sessions })
}

/// One sample-ratio phase per rollout phase seen, each with the
/// experiment's weights: coverage changes who takes part, never the split.
fn srm_phases(experiment: &Experiment, results: &ExperimentResults) -> Vec<SrmPhase> {
    let weights: BTreeMap<String, f64> = experiment
        .variants
        .iter()
        .map(|v| (v.name.clone(), v.weight))
        .collect();
    let mut phases: BTreeMap<&str, BTreeMap<String, u64>> = BTreeMap::new();
    for variant in &experiment.variants {
        let Some(found) = results.variants.get(&variant.name) else {
            continue;
        };
        for (phase, sessions) in &found.phase_sessions {
            phases
                .entry(phase.as_str())
                .or_default()
                .insert(variant.name.clone(), *sessions);
        }
    }
    phases
        .into_iter()
        .map(|(name, sessions)| SrmPhase {
            name: name.to_string(),
            expected_share: weights.clone(),
            sessions,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{RequestSums, SessionSums as StoredSessions};

    #[test]
    fn binary_metrics_count_successes_and_keep_session_sums() {
        let totals = MetricTotals {
            requests: RequestSums {
                n: 10,
                sum: 3.0,
                sum_sq: 3.0,
            },
            sessions: StoredSessions {
                sessions: 4,
                sum_y: 3.0,
                sum_y2: 5.0,
                sum_m: 10,
                sum_m2: 30,
                sum_ym: 9.0,
            },
        };
        let summary = metric_summary("error", &totals);
        let Some(MetricSummary {
            requests: Some(RequestLevel::Binary(b)),
            sessions: Some(s),
        }) = summary
        else {
            panic!("unexpected {summary:?}");
        };
        assert_eq!((b.trials, b.successes), (10, 3));
        assert_eq!((s.sessions, s.sum_m, s.sum_m_sq), (4, 10.0, 30.0));
        assert!(metric_summary("quality", &MetricTotals::default()).is_none());
    }

    #[test]
    fn directions_follow_the_metric() {
        assert!(higher_is_better("quality"));
        assert!(higher_is_better("thumbs_up"));
        assert!(!higher_is_better("latency_ms"));
        assert!(!higher_is_better("error"));
    }
}
