//! The upstream's answer on its way back: status, headers and body as
//! Bedrock sent them, plus the sidecar's `x-tuner-*` headers, with the body
//! tapped so the request is recorded when it ends.

use std::time::Instant;

use http::{HeaderMap, HeaderName, HeaderValue, Response, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::ProxyBody;
use super::context::RequestContext;
use crate::record::tap::{BodyEnd, TapReport, TappedBody};
use crate::record::usage::Usage;
use crate::record::{Observation, Recorder};

/// Connection-level response headers: hyper sets its own, and HTTP/2
/// forbids them.
const HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::TE,
    header::TRAILER,
];

const REQUEST_ID: HeaderName = HeaderName::from_static("x-tuner-request-id");
const INTENT: HeaderName = HeaderName::from_static("x-tuner-intent");
const PROFILE: HeaderName = HeaderName::from_static("x-tuner-profile");
const EXPERIMENT: HeaderName = HeaderName::from_static("x-tuner-experiment");
const VARIANT: HeaderName = HeaderName::from_static("x-tuner-variant");
const ASSIGNMENT: HeaderName = HeaderName::from_static("x-tuner-assignment");

pub fn stream_back(
    mut ctx: RequestContext,
    upstream: Response<Incoming>,
    recorder: Recorder,
) -> Response<ProxyBody> {
    let (mut parts, body) = upstream.into_parts();
    for name in &HOP_BY_HOP {
        parts.headers.remove(name);
    }
    add_tuner_headers(&mut parts.headers, &ctx);
    let event_stream = ctx.route.operation.is_stream() || is_event_stream(&parts.headers);
    let usage = Usage::from_headers(&parts.headers);
    let status = parts.status;
    let scoring = ctx.tuned.scoring.is_some();
    ctx.times.answered = Some(Instant::now());
    let on_end = Box::new(move |report: TapReport| finish(&ctx, status, report, &recorder));
    let mut body = TappedBody::new(body, event_stream, usage, on_end);
    if scoring {
        body = body.with_answer_text();
    }
    Response::from_parts(parts, body.boxed_unsync())
}

/// Adds the sidecar's own response headers.
pub fn add_tuner_headers(headers: &mut HeaderMap, ctx: &RequestContext) {
    let mut set = |name: &HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    set(&REQUEST_ID, &ctx.id);
    set(&INTENT, &ctx.labels.intent);
    set(&PROFILE, ctx.tuned.profile.as_deref().unwrap_or("none"));
    if let Some(tag) = &ctx.tuned.experiment {
        set(&EXPERIMENT, &tag.experiment);
        set(&VARIANT, &tag.variant);
        set(&ASSIGNMENT, tag.reason.as_str());
    }
}

fn is_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/vnd.amazon.eventstream"))
}

fn finish(ctx: &RequestContext, status: http::StatusCode, report: TapReport, recorder: &Recorder) {
    let times = &ctx.times;
    let outcome = outcome(status, &report);
    let answer = report.answer.clone();
    let observation = Observation {
        labels: ctx.labels.clone(),
        outcome,
        retry: ctx.is_retry(),
        total: report.finished.duration_since(times.arrived),
        upstream: times
            .sent_upstream
            .map(|s| report.finished.duration_since(s)),
        overhead: times.overhead(),
        time_to_first_byte: report.first_byte.map(|f| f.duration_since(times.arrived)),
        usage: report.usage,
    };
    recorder.record(&observation);
    if let Some((sink, prices)) = &recorder.experiments
        && let Some(tag) = &ctx.tuned.experiment
    {
        sink.remember(
            &ctx.id,
            &tag.experiment,
            &tag.variant,
            tag.session.as_deref(),
        );
        if let Some(o) =
            super::observation::of_request(ctx, &observation, answer.as_deref(), prices)
        {
            sink.observe(o);
        }
    }
    recorder.metrics.in_flight.dec();
    tracing::debug!(
        request_id = %ctx.id,
        operation = ctx.labels.operation,
        model = %ctx.labels.model,
        intent = %ctx.labels.intent,
        status = status.as_u16(),
        outcome,
        bytes = report.bytes,
        "request_completed"
    );
}

/// The bounded outcome label of a forwarded request.
fn outcome(status: http::StatusCode, report: &TapReport) -> &'static str {
    match (report.end, status.as_u16()) {
        (BodyEnd::Abandoned, _) => "aborted",
        (BodyEnd::UpstreamFailed, _) => "upstream_broken",
        (_, 429) => "throttled",
        (_, 400..=499) => "client_error",
        (_, 500..) => "upstream_error",
        _ if report.usage.exception.is_some() => "stream_error",
        _ => "ok",
    }
}
