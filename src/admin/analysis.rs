//! Experiment analysis on the admin listener: `GET
//! /v1/experiments/{id}/analysis` serves the report as JSON, and a
//! background task exports its key figures as Prometheus gauges.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use serde_json::{Value, json};

use crate::analysis::analyze_experiment;
use crate::experiment::Status;
use crate::record::Metrics;
use crate::store::Store;
use crate::tuning::SharedTuning;

/// The JSON report of one experiment, as `experiments analyze --json`.
pub async fn report(store: Option<&Store>, tuning: &SharedTuning, id: &str) -> (StatusCode, Value) {
    let Some(experiment) = tuning.load().experiments.get(id).cloned() else {
        return (
            StatusCode::NOT_FOUND,
            json!({"message": format!("no experiment `{id}`")}),
        );
    };
    let Some(store) = store else {
        let message = "the store is not available, so no results can be read";
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "message": message }),
        );
    };
    match analyze_experiment(store, &experiment).await {
        Ok(report) => (
            StatusCode::OK,
            serde_json::to_value(&report).unwrap_or(Value::Null),
        ),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"message": error.to_string()}),
        ),
    }
}

/// Recomputes every running or paused experiment's gauges every
/// `interval` until the process ends; a store outage leaves the last
/// figures in place.
pub fn spawn_export(store: Store, tuning: SharedTuning, metrics: Arc<Metrics>, interval: Duration) {
    tokio::spawn(async move {
        loop {
            let experiments: Vec<_> = tuning
                .load()
                .experiments
                .iter()
                .filter(|e| matches!(e.status, Status::Running | Status::Paused))
                .cloned()
                .collect();
            for experiment in experiments {
                match analyze_experiment(&store, &experiment).await {
                    Ok(report) => export(
                        &metrics,
                        &experiment.id,
                        &serde_json::to_value(&report).unwrap_or(Value::Null),
                    ),
                    Err(error) => {
                        tracing::debug!(experiment = %experiment.id, %error, "analysis_export_failed")
                    }
                }
            }
            tokio::time::sleep(interval).await;
        }
    });
}

/// Sets the gauges from a report's JSON: for each variant and metric the
/// mean and interval at the decision level, the fixed-horizon and
/// sequential p-values against the control, and the SRM p-value.
fn export(metrics: &Metrics, experiment: &str, report: &Value) {
    if let Some(p) = report.pointer("/srm/srm_p_value").and_then(Value::as_f64) {
        metrics.analysis_srm.with_label_values(&[experiment]).set(p);
    }
    let variants = report
        .get("variants")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for variant in variants {
        let name = variant.get("name").and_then(Value::as_str).unwrap_or("?");
        let rows = variant
            .get("metrics")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for row in rows {
            export_metric(metrics, experiment, name, row);
        }
    }
}

fn export_metric(metrics: &Metrics, experiment: &str, variant: &str, row: &Value) {
    let metric = row.get("metric").and_then(Value::as_str).unwrap_or("?");
    let level = match row.get("session_level") {
        Some(v) if !v.is_null() => v,
        _ => match row.get("request_level") {
            Some(v) => v,
            None => return,
        },
    };
    let labels = [experiment, variant, metric];
    let f = |pointer: &str| level.pointer(pointer).and_then(Value::as_f64);
    let gauges = [
        ("mean", f("/mean")),
        ("ci_lower", f("/ci/0")),
        ("ci_upper", f("/ci/1")),
    ];
    for (stat, value) in gauges {
        if let Some(v) = value {
            metrics
                .analysis
                .with_label_values(&[labels[0], labels[1], labels[2], stat])
                .set(v);
        }
    }
    let tests = [
        ("fixed", f("/comparison/p_value")),
        ("sequential", f("/comparison/sequential/p_value")),
    ];
    for (test, value) in tests {
        if let Some(p) = value {
            metrics
                .analysis_p
                .with_label_values(&[labels[0], labels[1], labels[2], test])
                .set(p);
        }
    }
}
