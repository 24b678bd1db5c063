//! Recording what happened to each request: metrics now, experiment
//! observations once experiments run.

use std::sync::Arc;
use std::time::Duration;

pub mod metrics;
mod series;
pub mod tap;
pub mod usage;

pub use metrics::Metrics;

use crate::observe::{ObservationSink, PriceTable};
use series::{CallSeries, Direction};
use usage::{Usage, exception_label, stop_reason_label};

/// The bounded labels a request is counted under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Labels {
    pub operation: &'static str,
    pub model: String,
    pub intent: String,
    pub variant: String,
}

/// Everything measured about one request once it is over.
#[derive(Debug, Clone)]
pub struct Observation {
    pub labels: Labels,
    pub outcome: &'static str,
    /// An SDK retry of an earlier attempt of the same invocation.
    pub retry: bool,
    pub total: Duration,
    pub upstream: Option<Duration>,
    pub overhead: Option<Duration>,
    pub time_to_first_byte: Option<Duration>,
    pub usage: Usage,
}

/// Turns observations into metric updates and, for requests in an
/// experiment, into experiment observations.
#[derive(Clone)]
pub struct Recorder {
    pub metrics: Arc<Metrics>,
    pub experiments: Option<(Arc<ObservationSink>, PriceTable)>,
}

impl Recorder {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            metrics,
            experiments: None,
        }
    }

    /// Also sends experiment observations to `sink`, costed with `prices`.
    pub fn with_observations(mut self, sink: Arc<ObservationSink>, prices: PriceTable) -> Self {
        self.experiments = Some((sink, prices));
        self
    }

    pub fn record(&self, o: &Observation) {
        let m = &self.metrics;
        let l = &o.labels;
        let series = m.series.get(l);
        m.requests
            .with_label_values(&[l.operation, &l.model, &l.intent, &l.variant, o.outcome])
            .inc();
        if o.retry {
            m.retries.with_label_values(&[l.operation, &l.model]).inc();
        }
        series.request_duration(m, l).observe(o.total.as_secs_f64());
        if let Some(d) = o.upstream {
            series.upstream_duration(m, l).observe(d.as_secs_f64());
        }
        if let Some(d) = o.overhead {
            series.overhead(m, l).observe(d.as_secs_f64());
        }
        if let Some(d) = o.time_to_first_byte {
            series.time_to_first_byte(m, l).observe(d.as_secs_f64());
        }
        self.record_usage(o, &series);
    }

    fn record_usage(&self, o: &Observation, series: &CallSeries) {
        let m = &self.metrics;
        let l = &o.labels;
        for (direction, count) in [
            (Direction::Input, o.usage.input_tokens),
            (Direction::Output, o.usage.output_tokens),
        ] {
            if let Some(n) = count {
                series.tokens(m, l, direction).inc_by(n);
            }
        }
        if o.usage.stop_reason.is_some() {
            let reason = stop_reason_label(o.usage.stop_reason.as_deref());
            m.stop_reasons
                .with_label_values(&[l.operation, &l.model, reason])
                .inc();
        }
        if let Some(e) = &o.usage.exception {
            m.stream_exceptions
                .with_label_values(&[l.operation, exception_label(e)])
                .inc();
        }
    }
}
