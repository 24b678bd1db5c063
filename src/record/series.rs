//! The metric series one label set writes to, looked up once per set.
//!
//! Every finished request updates up to six series under the same
//! operation, model, intent and variant. Looking each up by its label
//! values hashes and locks once per series; keeping their handles together
//! makes that one lookup per request. A handle is made on first use, so a
//! series appears in `/metrics` only once something was recorded in it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use prometheus::{Histogram, IntCounter};

use super::{Labels, Metrics};

/// Handles to the series of one label set.
#[derive(Default)]
pub struct CallSeries {
    request_duration: OnceLock<Histogram>,
    upstream_duration: OnceLock<Histogram>,
    overhead: OnceLock<Histogram>,
    time_to_first_byte: OnceLock<Histogram>,
    input_tokens: OnceLock<IntCounter>,
    output_tokens: OnceLock<IntCounter>,
}

/// The label sets seen so far. Their number is bounded by the labels'
/// own bounds (capped models, configured intents and variants).
#[derive(Default)]
pub struct SeriesCache {
    sets: Mutex<HashMap<Labels, Arc<CallSeries>>>,
}

impl SeriesCache {
    pub fn get(&self, labels: &Labels) -> Arc<CallSeries> {
        let Ok(mut sets) = self.sets.lock() else {
            // A panic elsewhere poisoned the map: handles made afresh still
            // count into the same series.
            return Arc::default();
        };
        if let Some(series) = sets.get(labels) {
            return series.clone();
        }
        let series = Arc::<CallSeries>::default();
        sets.insert(labels.clone(), series.clone());
        series
    }
}

impl CallSeries {
    pub fn request_duration(&self, m: &Metrics, l: &Labels) -> &Histogram {
        self.request_duration
            .get_or_init(|| m.request_duration.with_label_values(&call(l)))
    }

    pub fn upstream_duration(&self, m: &Metrics, l: &Labels) -> &Histogram {
        self.upstream_duration.get_or_init(|| {
            m.upstream_duration
                .with_label_values(&[l.operation, &l.model])
        })
    }

    pub fn overhead(&self, m: &Metrics, l: &Labels) -> &Histogram {
        self.overhead
            .get_or_init(|| m.overhead.with_label_values(&[l.operation]))
    }

    pub fn time_to_first_byte(&self, m: &Metrics, l: &Labels) -> &Histogram {
        self.time_to_first_byte
            .get_or_init(|| m.time_to_first_byte.with_label_values(&call(l)))
    }

    pub fn tokens(&self, m: &Metrics, l: &Labels, direction: Direction) -> &IntCounter {
        let (cell, name) = match direction {
            Direction::Input => (&self.input_tokens, "input"),
            Direction::Output => (&self.output_tokens, "output"),
        };
        cell.get_or_init(|| {
            m.tokens
                .with_label_values(&[name, &l.model, &l.intent, &l.variant])
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Direction {
    Input,
    Output,
}

fn call(l: &Labels) -> [&str; 4] {
    [l.operation, &l.model, &l.intent, &l.variant]
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::{Observation, Recorder};
    use super::*;
    use crate::record::usage::Usage;

    fn observation(model: &str, first_byte: Option<Duration>) -> Observation {
        Observation {
            labels: Labels {
                operation: "invoke",
                model: model.into(),
                intent: "chat".into(),
                variant: "none".into(),
            },
            outcome: "ok",
            retry: false,
            total: Duration::from_millis(30),
            upstream: Some(Duration::from_millis(20)),
            overhead: Some(Duration::from_micros(40)),
            time_to_first_byte: first_byte,
            usage: Usage {
                input_tokens: Some(7),
                ..Usage::default()
            },
        }
    }

    fn line<'a>(text: &'a str, prefix: &str, model: &str) -> Option<&'a str> {
        text.lines()
            .find(|l| l.starts_with(prefix) && l.contains(&format!("model=\"{model}\"")))
    }

    #[test]
    fn one_label_set_accumulates_and_unused_series_stay_absent() {
        let metrics = Arc::new(Metrics::new().expect("metrics"));
        let recorder = Recorder::new(metrics.clone());
        recorder.record(&observation("a", None));
        recorder.record(&observation("a", None));
        recorder.record(&observation("b", Some(Duration::from_millis(5))));
        let text = metrics.render();
        let count = |prefix: &str, model: &str| {
            line(&text, prefix, model).map(|l| l.rsplit(' ').next().unwrap_or("").to_string())
        };
        assert_eq!(
            count("bedrock_tuner_request_duration_seconds_count", "a").as_deref(),
            Some("2")
        );
        assert_eq!(
            count("bedrock_tuner_upstream_duration_seconds_count", "a").as_deref(),
            Some("2")
        );
        assert_eq!(
            count("bedrock_tuner_tokens_total{direction=\"input\"", "a").as_deref(),
            Some("14")
        );
        assert_eq!(
            count("bedrock_tuner_request_duration_seconds_count", "b").as_deref(),
            Some("1")
        );
        assert_eq!(
            count("bedrock_tuner_time_to_first_byte_seconds_count", "b").as_deref(),
            Some("1")
        );
        assert_eq!(
            count("bedrock_tuner_time_to_first_byte_seconds_count", "a"),
            None
        );
        assert_eq!(
            count("bedrock_tuner_tokens_total{direction=\"output\"", "a"),
            None
        );
        let overhead = text
            .lines()
            .find(|l| l.starts_with("bedrock_tuner_overhead_seconds_count"))
            .expect("overhead series");
        assert!(overhead.ends_with(" 3"), "{overhead}");
    }
}
