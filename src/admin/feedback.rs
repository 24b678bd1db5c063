//! `POST /v1/feedback`: user satisfaction for an answer, recorded against
//! the variant that served it.
//!
//! The app names the answer by its `x-tuner-request-id` (remembered by the
//! sidecar that served it) or by session and intent, from which the
//! variant follows through the same hash the request path used.

use std::sync::Arc;

use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::observe::{ObservationSink, Served};
use crate::tuning::SharedTuning;

/// The feedback body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackBody {
    request_id: Option<String>,
    session_id: Option<String>,
    intent: Option<String>,
    /// `up` or `down`.
    thumbs: Option<String>,
    /// A rating from 1 to 5.
    rating: Option<f64>,
}

/// Records feedback into the experiment results.
pub struct Feedback {
    sink: Arc<ObservationSink>,
    tuning: SharedTuning,
}

impl Feedback {
    pub fn new(sink: Arc<ObservationSink>, tuning: SharedTuning) -> Self {
        Self { sink, tuning }
    }

    /// Handles one feedback body; the answer says what was recorded or why
    /// nothing could be.
    pub fn record(&self, body: &[u8]) -> (StatusCode, Value) {
        let body: FeedbackBody = match serde_json::from_slice(body) {
            Ok(b) => b,
            Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("feedback body: {e}")),
        };
        let values = match values(&body) {
            Ok(v) => v,
            Err(message) => return refuse(StatusCode::BAD_REQUEST, message),
        };
        let served = match self.attribute(&body) {
            Ok(served) => served,
            Err((status, message)) => return refuse(status, message),
        };
        for metric in &values {
            self.sink.late_metric(
                &served.experiment,
                &served.variant,
                served.session.as_deref(),
                *metric,
            );
        }
        let recorded: Vec<&str> = values.iter().map(|(name, _)| *name).collect();
        let answer = json!({"recorded": recorded, "experiment": served.experiment, "variant": served.variant});
        (StatusCode::ACCEPTED, answer)
    }

    fn attribute(&self, body: &FeedbackBody) -> Result<Served, (StatusCode, String)> {
        if let Some(id) = &body.request_id {
            return self.sink.served(id).ok_or_else(|| {
                let message = format!(
                    "request {id} is not one this sidecar served in an experiment (or it was \
                     forgotten); send session_id and intent instead"
                );
                (StatusCode::NOT_FOUND, message)
            });
        }
        let (Some(session), Some(intent)) = (&body.session_id, &body.intent) else {
            let message = "name the answer by request_id, or by session_id and intent".to_string();
            return Err((StatusCode::BAD_REQUEST, message));
        };
        let tuning = self.tuning.load();
        let Some(experiment) = tuning.experiments.active_for(intent) else {
            return Err((
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("no experiment runs on intent `{intent}`"),
            ));
        };
        let assignment = experiment.assign(Some(session));
        if !assignment.observed() {
            let message = format!(
                "session {session} is not observed in experiment {} ({})",
                experiment.id,
                assignment.reason.as_str()
            );
            return Err((StatusCode::UNPROCESSABLE_ENTITY, message));
        }
        Ok(Served {
            experiment: experiment.id.clone(),
            variant: assignment.variant.name.clone(),
            session: Some(session.clone()),
        })
    }
}

fn values(body: &FeedbackBody) -> Result<Vec<(&'static str, f64)>, String> {
    let mut values = Vec::new();
    match body.thumbs.as_deref() {
        Some("up") => values.push(("thumbs_up", 1.0)),
        Some("down") => values.push(("thumbs_up", 0.0)),
        Some(other) => return Err(format!("thumbs is `{other}`; use up or down")),
        None => {}
    }
    if let Some(rating) = body.rating {
        if !(1.0..=5.0).contains(&rating) {
            return Err(format!("rating {rating} is outside 1 to 5"));
        }
        values.push(("rating", rating));
    }
    match values.is_empty() {
        true => Err("give thumbs (up or down) or a rating (1 to 5)".into()),
        false => Ok(values),
    }
}

fn refuse(status: StatusCode, message: String) -> (StatusCode, Value) {
    (status, json!({ "message": message }))
}
