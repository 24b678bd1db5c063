//! A request counted in flight. However its handling ends (answered,
//! refused, or dropped because the app hung up before any answer), it is
//! counted out and recorded exactly once.

use super::context::RequestContext;
use crate::record::usage::Usage;
use crate::record::{Observation, Recorder};

/// Outcome label of a request whose app went away before the answer began.
const ABORTED: &str = "aborted";

/// Owns the request's context until someone takes over recording its end.
/// hyper drops the handler's future when the client disconnects while the
/// upstream has not answered yet; this guard's `Drop` is then the only code
/// that runs for the request.
pub struct InFlight {
    ctx: Option<RequestContext>,
    recorder: Recorder,
}

impl InFlight {
    pub fn enter(ctx: RequestContext, recorder: Recorder) -> Self {
        recorder.metrics.in_flight.inc();
        Self {
            ctx: Some(ctx),
            recorder,
        }
    }

    pub fn ctx(&mut self) -> &mut RequestContext {
        self.ctx
            .as_mut()
            .expect("present until the guard is consumed")
    }

    /// The answer has begun: its body's tap records the end from here on.
    pub fn answered(mut self) -> RequestContext {
        self.ctx
            .take()
            .expect("present until the guard is consumed")
    }

    /// The request ends here, without an upstream answer.
    pub fn unanswered(mut self, outcome: &'static str) -> RequestContext {
        let ctx = self
            .ctx
            .take()
            .expect("present until the guard is consumed");
        record_unanswered(&ctx, outcome, &self.recorder);
        ctx
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(ctx) = self.ctx.take() {
            tracing::info!(request_id = %ctx.id, "client_gone_before_answer");
            record_unanswered(&ctx, ABORTED, &self.recorder);
        }
    }
}

/// Metrics only: a request without an answer is not an experiment
/// observation, so a variant is not charged for an upstream it could not
/// reach or an app that left (README, limitations).
fn record_unanswered(ctx: &RequestContext, outcome: &'static str, recorder: &Recorder) {
    let observation = Observation {
        labels: ctx.labels.clone(),
        outcome,
        retry: ctx.is_retry(),
        total: ctx.times.arrived.elapsed(),
        upstream: None,
        overhead: None,
        time_to_first_byte: None,
        usage: Usage::default(),
    };
    recorder.record(&observation);
    recorder.metrics.in_flight.dec();
}
