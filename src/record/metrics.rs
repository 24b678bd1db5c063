//! The Prometheus metric families, all under `bedrock_tuner_`.
//!
//! Label values come from closed sets or from [`LabelCap`], so a client
//! sending odd model ids cannot grow the series without bound.

use std::collections::HashSet;
use std::sync::Mutex;

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Label value used once a [`LabelCap`] is full.
pub const OVERFLOW_LABEL: &str = "other";

/// Lets the first `max` distinct values through as labels, then maps every
/// new value to `other`.
#[derive(Debug)]
pub struct LabelCap {
    max: usize,
    seen: Mutex<HashSet<String>>,
}

impl LabelCap {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            seen: Mutex::new(HashSet::new()),
        }
    }

    pub fn label(&self, value: &str) -> String {
        let Ok(mut seen) = self.seen.lock() else {
            return OVERFLOW_LABEL.to_string();
        };
        if seen.contains(value) || (seen.len() < self.max && seen.insert(value.to_string())) {
            value.to_string()
        } else {
            OVERFLOW_LABEL.to_string()
        }
    }
}

/// Every metric family the sidecar exports.
pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub retries: IntCounterVec,
    pub request_duration: HistogramVec,
    pub upstream_duration: HistogramVec,
    pub overhead: HistogramVec,
    pub time_to_first_byte: HistogramVec,
    pub tokens: IntCounterVec,
    pub in_flight: IntGauge,
    pub client_protocol: IntCounterVec,
    pub stop_reasons: IntCounterVec,
    pub stream_exceptions: IntCounterVec,
    pub control_plane: IntGaugeVec,
    pub intent_resolutions: IntCounterVec,
    pub rewrites: IntCounterVec,
    pub rewrite_params: IntCounterVec,
    pub config_reloads: IntCounterVec,
    pub assignments: IntCounterVec,
    pub results: IntGaugeVec,
    pub analysis: GaugeVec,
    pub analysis_p: GaugeVec,
    pub analysis_srm: GaugeVec,
    pub models: LabelCap,
    /// Handles to the per-call series, by label set.
    pub series: super::series::SeriesCache,
}

/// Latency buckets from 5 ms to 15 minutes: generations are long.
const CALL_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0,
];
/// The sidecar's own time per request: microseconds to tens of ms.
const OVERHEAD_BUCKETS: &[f64] = &[
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.1,
];

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let call = ["operation", "model", "intent", "variant"];
        let metrics = Self {
            requests: counter(
                &registry,
                "requests_total",
                "Requests handled, by outcome.",
                &["operation", "model", "intent", "variant", "outcome"],
            )?,
            retries: counter(
                &registry,
                "retries_total",
                "Requests that were an SDK retry of an earlier attempt (amz-sdk-request attempt > 1).",
                &["operation", "model"],
            )?,
            request_duration: histogram(
                &registry,
                "request_duration_seconds",
                "The whole call as the app sees it, to the last byte of the answer.",
                &call,
                CALL_BUCKETS,
            )?,
            upstream_duration: histogram(
                &registry,
                "upstream_duration_seconds",
                "From sending upstream to the end of the upstream answer.",
                &["operation", "model"],
                CALL_BUCKETS,
            )?,
            overhead: histogram(
                &registry,
                "overhead_seconds",
                "Time spent in the sidecar itself, excluding the client's upload and the upstream.",
                &["operation"],
                OVERHEAD_BUCKETS,
            )?,
            time_to_first_byte: histogram(
                &registry,
                "time_to_first_byte_seconds",
                "From the request's arrival to the first answer byte passed to the app.",
                &call,
                CALL_BUCKETS,
            )?,
            tokens: counter(
                &registry,
                "tokens_total",
                "Model tokens, by direction (input or output).",
                &["direction", "model", "intent", "variant"],
            )?,
            in_flight: gauge(
                &registry,
                "in_flight_requests",
                "Requests being handled now.",
            )?,
            client_protocol: counter(
                &registry,
                "client_protocol_requests_total",
                "Requests from apps by HTTP version (h2 is cleartext HTTP/2, prior knowledge).",
                &["protocol"],
            )?,
            stop_reasons: counter(
                &registry,
                "stop_reasons_total",
                "Answers by stop reason.",
                &["operation", "model", "reason"],
            )?,
            stream_exceptions: counter(
                &registry,
                "stream_exceptions_total",
                "Exception frames seen inside event streams.",
                &["operation", "exception"],
            )?,
            control_plane: gauge_vec(
                &registry,
                "control_plane_healthy",
                "1 while a control-plane component (credentials, store) is healthy, else 0.",
                &["component"],
            )?,
            intent_resolutions: counter(
                &registry,
                "intent_resolutions_total",
                "How each request's intent was decided (header, classifier, unknown).",
                &["intent", "source"],
            )?,
            rewrites: counter(
                &registry,
                "rewrites_total",
                "Request bodies by rewrite outcome (rewritten, unchanged, passthrough, or why skipped).",
                &["family", "outcome"],
            )?,
            rewrite_params: counter(
                &registry,
                "rewrite_params_total",
                "Profile parameters dropped or clamped for the target model, by reason.",
                &["param", "action", "reason"],
            )?,
            config_reloads: counter(
                &registry,
                "config_reloads_total",
                "Configuration reloads by outcome; a rejected one leaves the last good state serving.",
                &["outcome"],
            )?,
            assignments: counter(
                &registry,
                "experiment_assignments_total",
                "Requests placed in an experiment, by variant, reason and where the session key came from.",
                &["experiment", "variant", "reason", "session_source"],
            )?,
            results: gauge_vec(
                &registry,
                "experiment_results",
                "Experiment observations: recorded, dropped (buffer full), rejected, batches applied or \
                 repeated, flush failures, and entries pending; counts since start except pending.",
                &["state"],
            )?,
            analysis: float_gauges(
                &registry,
                "experiment_metric",
                "Each variant's mean and confidence interval bounds per metric, at the decision level.",
                &["experiment", "variant", "metric", "stat"],
            )?,
            analysis_p: float_gauges(
                &registry,
                "experiment_p_value",
                "p-value of each variant against the control per metric (fixed-horizon or sequential).",
                &["experiment", "variant", "metric", "test"],
            )?,
            analysis_srm: float_gauges(
                &registry,
                "experiment_srm_p_value",
                "Sample ratio mismatch p-value of each experiment (flagged below 0.001).",
                &["experiment"],
            )?,
            models: LabelCap::new(64),
            series: Default::default(),
            registry,
        };
        Ok(metrics)
    }

    /// The Prometheus text exposition of every family.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let families = self.registry.gather();
        if TextEncoder::new().encode(&families, &mut buffer).is_err() {
            return String::new();
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

fn name(short: &str) -> String {
    format!("bedrock_tuner_{short}")
}

fn counter(
    r: &Registry,
    short: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    let c = IntCounterVec::new(Opts::new(name(short), help), labels)?;
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

fn histogram(
    r: &Registry,
    short: &str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) -> prometheus::Result<HistogramVec> {
    let opts = HistogramOpts::new(name(short), help).buckets(buckets.to_vec());
    let h = HistogramVec::new(opts, labels)?;
    r.register(Box::new(h.clone()))?;
    Ok(h)
}

fn gauge(r: &Registry, short: &str, help: &str) -> prometheus::Result<IntGauge> {
    let g = IntGauge::new(name(short), help)?;
    r.register(Box::new(g.clone()))?;
    Ok(g)
}

fn float_gauges(
    r: &Registry,
    short: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<GaugeVec> {
    let g = GaugeVec::new(Opts::new(name(short), help), labels)?;
    r.register(Box::new(g.clone()))?;
    Ok(g)
}

fn gauge_vec(
    r: &Registry,
    short: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntGaugeVec> {
    let g = IntGaugeVec::new(Opts::new(name(short), help), labels)?;
    r.register(Box::new(g.clone()))?;
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_cap_bounds_distinct_values() {
        let cap = LabelCap::new(2);
        assert_eq!(cap.label("a"), "a");
        assert_eq!(cap.label("b"), "b");
        assert_eq!(cap.label("c"), OVERFLOW_LABEL);
        assert_eq!(cap.label("a"), "a");
    }
}
