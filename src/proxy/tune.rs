//! The stage where a request body is tuned for its intent: the resolved
//! profile (or experiment variant) written the way the target model family
//! expects, with its managed system prompt and few-shot examples.
//!
//! The stage never fails a request on its own account: a body it cannot
//! rewrite is forwarded unchanged and counted, unless the operator chose
//! to fail closed.

use std::sync::Arc;

use bytes::Bytes;

use super::context::RequestContext;
use super::intent::{self, BodyView};
use super::variant::{self, ExperimentTag};
use crate::classify::last_user_message;
use crate::error::ProxyError;
use crate::experiment::Reason;
use crate::experiment::session::{self, SessionSource};
use crate::fewshot::Strategy;
use crate::profile::{Profile, UNKNOWN_INTENT};
use crate::proxy::route::Operation;
use crate::record::Metrics;
use crate::rewrite::{self, Api, FewShot, RewriteError, RewritePlan, RewriteReport};
use crate::score::{QualityChecks, request_text_from_json};
use crate::tuning::{Tuning, Unparseable};

/// What the tune stage decided, kept in the request context.
#[derive(Debug, Clone, Default)]
pub struct TuneOutcome {
    /// `intent@version` of the profile applied, for `x-tuner-profile`.
    pub profile: Option<String>,
    pub report: Option<RewriteReport>,
    pub experiment: Option<ExperimentTag>,
    /// The raw path to send instead of the app's (a variant's model).
    pub path: Option<String>,
    /// The experiment's coverage when the request was placed: its phase.
    pub coverage: Option<f64>,
    /// What the answer of an observed request is scored against.
    pub scoring: Option<Arc<Scoring>>,
}

/// The request's side of quality and relevance scoring, kept until the
/// answer has streamed back.
#[derive(Debug)]
pub struct Scoring {
    pub checks: Arc<QualityChecks>,
    pub intent: String,
    /// Everything the app sent, for grounding (bounded).
    pub request_text: String,
    /// The last user message, for relevance.
    pub question: String,
}

/// Returns the body to send upstream for this request.
pub async fn tune(
    ctx: &mut RequestContext,
    tuning: &Tuning,
    metrics: &Metrics,
    body: Bytes,
) -> Result<Bytes, ProxyError> {
    let (Some(api), Some(model)) = (api_of(ctx.route.operation), ctx.route.model_id.clone()) else {
        return Ok(body);
    };
    let view = BodyView::new(&body);
    let (source, profile) = intent::resolve(ctx.inbound.intent.as_deref(), &view, tuning).await;
    ctx.labels.intent = profile
        .map_or(UNKNOWN_INTENT, |p| p.intent.as_str())
        .to_string();
    metrics
        .intent_resolutions
        .with_label_values(&[&ctx.labels.intent, source.label()])
        .inc();
    let Some(profile) = profile else {
        metrics
            .rewrites
            .with_label_values(&["none", "passthrough"])
            .inc();
        return Ok(body);
    };
    let (session, session_source) = session_key(ctx, tuning, &view);
    let placed = variant::place(
        ctx,
        tuning,
        metrics,
        profile,
        (session.clone(), session_source),
    );
    let model = match placed.model {
        Some(swapped) => {
            ctx.tuned.path = swapped_path(ctx, swapped);
            swapped.to_string()
        }
        None => model,
    };
    if ctx
        .tuned
        .experiment
        .as_ref()
        .is_some_and(|t| t.reason == Reason::Assigned)
    {
        ctx.tuned.scoring = scoring(tuning, &placed.profile.intent, &view);
    }
    let plan = plan_for(
        placed.profile,
        tuning,
        session.as_deref().unwrap_or(&ctx.id),
    );
    match rewrite::rewrite(&model, api, &body, &plan, &tuning.limits) {
        Ok(rewritten) => {
            record_report(metrics, &rewritten.report);
            let p = placed.profile;
            ctx.tuned.profile = Some(format!("{}@{}", p.intent, p.version));
            ctx.tuned.report = Some(rewritten.report);
            Ok(Bytes::from(rewritten.body))
        }
        Err(error) => unrewritable(tuning, metrics, error, body),
    }
}

/// The body shape an operation carries, if it is one the sidecar tunes.
pub fn api_of(operation: Operation) -> Option<Api> {
    match operation {
        Operation::InvokeModel | Operation::InvokeModelWithResponseStream => Some(Api::InvokeModel),
        Operation::Converse | Operation::ConverseStream => Some(Api::Converse),
        Operation::CountTokens | Operation::Other => None,
    }
}

/// Only answers of observed requests are scored, so only they pay for it.
fn scoring(tuning: &Tuning, intent: &str, body: &BodyView<'_>) -> Option<Arc<Scoring>> {
    let json = body.json()?;
    Some(Arc::new(Scoring {
        checks: Arc::clone(&tuning.quality),
        intent: intent.to_string(),
        request_text: request_text_from_json(json),
        question: last_user_message(json).unwrap_or_default(),
    }))
}

/// The session header, or a key derived from the conversation.
fn session_key(
    ctx: &RequestContext,
    tuning: &Tuning,
    body: &BodyView<'_>,
) -> (Option<String>, SessionSource) {
    if let Some(session) = &ctx.inbound.session {
        return (Some(session.clone()), SessionSource::Header);
    }
    match tuning
        .policy
        .derive_session
        .then(|| session::derive(body.bytes))
        .flatten()
    {
        Some(key) => (Some(key), SessionSource::Derived),
        None => (None, SessionSource::None),
    }
}

/// The path for a variant's model, when the app's path has a model span.
fn swapped_path(ctx: &RequestContext, model: &str) -> Option<String> {
    let span = ctx.route.model_span.clone()?;
    Some(variant::swap_model(&ctx.raw_path, span, model))
}

/// The rewrite a profile asks for: its parameters, its managed prompt and
/// examples picked for this session (so a conversation keeps its examples).
pub fn plan_for(profile: &Profile, tuning: &Tuning, session: &str) -> RewritePlan {
    let system_prompt = profile
        .system_prompt_key
        .as_deref()
        .and_then(|k| tuning.prompts.get(k));
    let strategy = serde_json::from_value::<Strategy>(profile.few_shot_strategy.clone().into())
        .unwrap_or_default();
    let few_shots = tuning
        .few_shots
        .select(
            &profile.intent,
            strategy,
            profile.few_shot_count as usize,
            session,
        )
        .into_iter()
        .map(|e| FewShot {
            user: e.user,
            assistant: e.assistant,
        })
        .collect();
    RewritePlan {
        params: profile.params.clone(),
        system_prompt: system_prompt.map(str::to_string),
        prompt_mode: profile.prompt_mode,
        few_shots,
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
        let labels = [clamp.param.as_str(), "clamped", clamp.reason.as_str()];
        metrics.rewrite_params.with_label_values(&labels).inc();
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
