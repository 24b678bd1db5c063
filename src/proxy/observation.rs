//! One finished request in an experiment, as an observation of its
//! variant: the metric values the statistics compare.

use super::context::RequestContext;
use super::tune::Scoring;
use crate::experiment::Reason;
use crate::observe::{ExperimentObservation, PriceTable, phase_of};
use crate::record::Observation;
use crate::score::{ScoreInput, relevance};

/// The experiment observation of a finished request, when the request was
/// assigned to a variant (sessions outside the coverage are not observed).
pub fn of_request(
    ctx: &RequestContext,
    observation: &Observation,
    answer: Option<&str>,
    prices: &PriceTable,
) -> Option<ExperimentObservation> {
    let tag = ctx
        .tuned
        .experiment
        .as_ref()
        .filter(|t| t.reason == Reason::Assigned)?;
    let usage = &observation.usage;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let stream = ctx.route.operation.is_stream();
    let cost = ctx
        .route
        .model_id
        .as_deref()
        .and_then(|m| prices.cost(m, usage.input_tokens, usage.output_tokens));
    let mut metrics: Vec<(&'static str, f64)> = vec![
        ("latency_ms", ms(observation.total)),
        ("error", f64::from(u8::from(observation.outcome != "ok"))),
        (
            "truncated",
            f64::from(u8::from(is_truncation(usage.stop_reason.as_deref()))),
        ),
    ];
    let optional = [
        ("upstream_ms", observation.upstream.map(ms)),
        (
            "ttfb_ms",
            observation.time_to_first_byte.filter(|_| stream).map(ms),
        ),
        ("input_tokens", usage.input_tokens.map(|n| n as f64)),
        ("output_tokens", usage.output_tokens.map(|n| n as f64)),
        ("cost_usd", cost),
    ];
    metrics.extend(
        optional
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?))),
    );
    // An answer that failed has no text to judge: quality is only scored
    // for answers that arrived.
    if let (Some(scoring), Some(answer), "ok") = (&ctx.tuned.scoring, answer, observation.outcome) {
        metrics.extend(score(scoring, answer, usage.stop_reason.as_deref()));
    }
    Some(ExperimentObservation {
        experiment: tag.experiment.clone(),
        variant: tag.variant.clone(),
        phase: phase_of(ctx.tuned.coverage.unwrap_or(1.0)),
        session: tag.session.clone(),
        metrics,
        invocation: ctx.inbound.invocation_id.clone(),
        retryable: matches!(
            observation.outcome,
            "throttled" | "upstream_error" | "upstream_broken"
        ),
    })
}

fn score(scoring: &Scoring, answer: &str, stop_reason: Option<&str>) -> [(&'static str, f64); 2] {
    let input = ScoreInput {
        intent: &scoring.intent,
        request_text: &scoring.request_text,
        answer_text: answer,
        stop_reason,
    };
    let report = scoring.checks.score(&input);
    // The checks that passed and failed, for an operator asking why.
    tracing::debug!(intent = %scoring.intent, score = report.score, checks = ?report.checks, "quality_scored");
    let relevance = relevance(&scoring.question, &scoring.request_text, answer);
    [("quality", report.score), ("relevance", relevance)]
}

fn is_truncation(stop_reason: Option<&str>) -> bool {
    matches!(stop_reason, Some("max_tokens" | "length"))
}
