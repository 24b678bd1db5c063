//! The stage where a request body is tuned for its intent: the resolved
//! profile's parameters written the way the target model family expects.
//!
//! The stage never fails a request on its own account: a body it cannot
//! rewrite is forwarded unchanged and counted, unless the operator chose
//! to fail closed.

use bytes::Bytes;

use super::context::RequestContext;
use super::variant::{self, ExperimentTag};
use crate::error::ProxyError;
use crate::profile::{Profile, UNKNOWN_INTENT};
use crate::proxy::route::Operation;
use crate::record::Metrics;
use crate::rewrite::{self, Api, RewriteError, RewritePlan, RewriteReport};
use crate::tuning::{Tuning, UnknownIntent, Unparseable};

/// How a request's intent was decided, for metrics and headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentSource {
    /// The app named a known intent in the intent header.
    Header,
    /// The app named an intent no profile exists for.
    UnknownHeader,
    /// No intent header, and none could be classified.
    Unclassified,
}

impl IntentSource {
    pub fn label(self) -> &'static str {
        match self {
            IntentSource::Header => "header",
            IntentSource::UnknownHeader => "unknown_header",
            IntentSource::Unclassified => "unclassified",
        }
    }
}

/// What the tune stage decided, kept in the request context.
#[derive(Debug, Clone, Default)]
pub struct TuneOutcome {
    /// `intent@version` of the profile applied, for `x-tuner-profile`.
    pub profile: Option<String>,
    pub report: Option<RewriteReport>,
    pub experiment: Option<ExperimentTag>,
    /// The raw path to send instead of the app's (a variant's model).
    pub path: Option<String>,
}

/// Returns the body to send upstream for this request.
pub fn tune(
    ctx: &mut RequestContext,
    tuning: &Tuning,
    metrics: &Metrics,
    body: Bytes,
) -> Result<Bytes, ProxyError> {
    let Some(api) = api_of(ctx.route.operation) else {
        return Ok(body);
    };
    let Some(model) = ctx.route.model_id.clone() else {
        return Ok(body);
    };
    let (source, profile) = resolve_intent(ctx.inbound.intent.as_deref(), tuning);
    ctx.labels.intent = profile
        .map_or(UNKNOWN_INTENT, |p| p.intent.as_str())
        .to_string();
    let intent = ctx.labels.intent.clone();
    metrics
        .intent_resolutions
        .with_label_values(&[&intent, source.label()])
        .inc();
    let Some(profile) = profile else {
        metrics
            .rewrites
            .with_label_values(&["none", "passthrough"])
            .inc();
        return Ok(body);
    };
    let placed = variant::place(ctx, tuning, metrics, profile, &body);
    let profile = placed.profile;
    let model = match placed.model {
        Some(swapped) => {
            ctx.tuned.path = swapped_path(ctx, swapped);
            swapped.to_string()
        }
        None => model,
    };
    match apply(profile, &model, api, &body, tuning) {
        Ok(rewritten) => {
            record_report(metrics, &rewritten.report);
            ctx.tuned.profile = Some(format!("{}@{}", profile.intent, profile.version));
            ctx.tuned.report = Some(rewritten.report);
            Ok(Bytes::from(rewritten.body))
        }
        Err(error) => unrewritable(tuning, metrics, error, body),
    }
}

/// The path for a variant's model, when the app's path has a model span.
fn swapped_path(ctx: &RequestContext, model: &str) -> Option<String> {
    let span = ctx.route.model_span.clone()?;
    Some(variant::swap_model(&ctx.raw_path, span, model))
}

/// Rewrites `body` with `profile` for `model`.
pub fn apply(
    profile: &Profile,
    model: &str,
    api: Api,
    body: &[u8],
    tuning: &Tuning,
) -> Result<rewrite::Rewritten, RewriteError> {
    rewrite::rewrite(model, api, body, &plan_for(profile), &tuning.limits)
}

/// The body shape an operation carries, if it is one the sidecar tunes.
pub fn api_of(operation: Operation) -> Option<Api> {
    match operation {
        Operation::InvokeModel | Operation::InvokeModelWithResponseStream => Some(Api::InvokeModel),
        Operation::Converse | Operation::ConverseStream => Some(Api::Converse),
        Operation::CountTokens | Operation::Other => None,
    }
}

/// The intent header wins when it names a known profile; an unknown or
/// missing intent gets the conservative profile, or none at all when the
/// operator chose to pass such requests through.
pub fn resolve_intent<'t>(
    intent: Option<&str>,
    tuning: &'t Tuning,
) -> (IntentSource, Option<&'t Profile>) {
    let (source, known) = match intent {
        Some(name) => match tuning.profiles.get(name) {
            Some(profile) => return (IntentSource::Header, Some(profile)),
            None => (IntentSource::UnknownHeader, None::<&Profile>),
        },
        None => (IntentSource::Unclassified, None),
    };
    let fallback = match tuning.policy.unknown_intent {
        UnknownIntent::Conservative => Some(tuning.profiles.conservative().as_ref()),
        UnknownIntent::PassThrough => known,
    };
    (source, fallback)
}

fn plan_for(profile: &Profile) -> RewritePlan {
    RewritePlan {
        params: profile.params.clone(),
        system_prompt: None,
        prompt_mode: profile.prompt_mode,
        few_shots: Vec::new(),
        app_values_win: profile.app_values_win,
    }
}

fn record_report(metrics: &Metrics, report: &RewriteReport) {
    let family = report.family.map_or("converse", |f| f.as_str());
    let outcome = if report.body_changed {
        "rewritten"
    } else {
        "unchanged"
    };
    metrics.rewrites.with_label_values(&[family, outcome]).inc();
    for (param, reason) in report.drop_labels() {
        metrics
            .rewrite_params
            .with_label_values(&[param, "dropped", reason])
            .inc();
    }
    for clamp in &report.clamped {
        metrics
            .rewrite_params
            .with_label_values(&[clamp.param.as_str(), "clamped", clamp.reason.as_str()])
            .inc();
    }
}

/// Fail open by default: the app's call still goes through, unchanged.
fn unrewritable(
    tuning: &Tuning,
    metrics: &Metrics,
    error: RewriteError,
    body: Bytes,
) -> Result<Bytes, ProxyError> {
    metrics
        .rewrites
        .with_label_values(&["none", error.kind()])
        .inc();
    match tuning.policy.unparseable {
        Unparseable::Forward => {
            tracing::debug!(%error, "rewrite_skipped");
            Ok(body)
        }
        Unparseable::Reject => Err(ProxyError::Unrewritable(error.to_string())),
    }
}
