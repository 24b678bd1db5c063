//! The request path, stage by stage:
//!
//! 1. [`route`]: which operation and model, from the raw path;
//! 2. [`headers`]: intent, session and the app's signed region are read;
//! 3. the model allow-list and the target region are checked;
//! 4. [`body`]: the body is read whole within the size limit and budget;
//! 5. [`tune`]: the body is rewritten for the intent's profile;
//! 6. headers are cleaned, the request is signed ([`crate::sign`]) and
//!    forwarded ([`crate::forward`]);
//! 7. [`respond`]: the answer streams back through a tap that records it.
//!
//! From arrival to the answer's head, an [`in_flight::InFlight`] guard owns
//! the request, so it is recorded even when the app hangs up midway.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;

use crate::config::{Settings, UpstreamTarget};
use crate::error::ProxyError;
use crate::forward::Forwarder;
use crate::profile::UNKNOWN_INTENT;
use crate::record::{Labels, Recorder};
use crate::sign::{CredentialCache, sign_request};
use crate::tuning::SharedTuning;

pub mod body;
pub mod context;
pub mod headers;
mod in_flight;
pub mod intent;
mod observation;
mod respond;
pub mod route;
pub mod target;
pub mod tune;
pub mod variant;

use body::BodyBudget;
use context::{NO_INTENT, NO_VARIANT, RequestContext};
use headers::TunerHeaders;
use in_flight::InFlight;
use target::Target;

/// The body type of every response the sidecar sends.
pub type ProxyBody = UnsyncBoxBody<Bytes, hyper::Error>;

/// Everything the request path shares, built once at start.
pub struct Proxy {
    tuner_headers: TunerHeaders,
    upstream: UpstreamTarget,
    allowed_models: Vec<String>,
    max_body_bytes: usize,
    budget: BodyBudget,
    forwarder: Forwarder,
    credentials: Arc<CredentialCache>,
    recorder: Recorder,
    tuning: SharedTuning,
}

impl Proxy {
    pub fn new(
        settings: &Settings,
        forwarder: Forwarder,
        credentials: Arc<CredentialCache>,
        recorder: Recorder,
        tuning: SharedTuning,
    ) -> Self {
        Self {
            tuner_headers: TunerHeaders {
                intent: settings.intent_header.clone(),
                session: settings.session_header.clone(),
            },
            upstream: settings.upstream.value.clone(),
            allowed_models: settings.allowed_models.clone(),
            max_body_bytes: settings.max_body_bytes,
            budget: BodyBudget::new(settings.body_budget_bytes),
            forwarder,
            credentials,
            recorder,
            tuning,
        }
    }

    /// Handles one request from the app; never fails: the sidecar's own
    /// errors become Bedrock-shaped answers.
    pub async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Response<ProxyBody> {
        self.recorder
            .metrics
            .client_protocol
            .with_label_values(&[protocol_label(request.version())])
            .inc();
        let mut in_flight = InFlight::enter(self.context_for(&request), self.recorder.clone());
        match self.forward(request, in_flight.ctx()).await {
            Ok(upstream) => {
                respond::stream_back(in_flight.answered(), upstream, self.recorder.clone())
            }
            Err(error) => {
                let ctx = in_flight.unanswered(error.outcome_label());
                self.refuse(&ctx, &error)
            }
        }
    }

    fn context_for(&self, request: &Request<Incoming>) -> RequestContext {
        let route = route::route(request.method(), request.uri().path());
        let inbound = headers::read_inbound(request.headers(), &self.tuner_headers);
        let metrics = &self.recorder.metrics;
        let labels = Labels {
            operation: route.operation.label(),
            model: route
                .model_id
                .as_deref()
                .map(|m| metrics.models.label(model_label(m)))
                .unwrap_or_else(|| "none".into()),
            intent: self.intent_label(inbound.intent.as_deref()),
            variant: NO_VARIANT.into(),
        };
        RequestContext::new(request.uri().path(), route, inbound, labels)
    }

    /// Stages 3 to 6: the upstream's answer, still streaming.
    async fn forward(
        &self,
        request: Request<Incoming>,
        ctx: &mut RequestContext,
    ) -> Result<Response<Incoming>, ProxyError> {
        self.check_allowed(ctx)?;
        let target = Target::choose(&self.upstream, ctx.inbound.signed_region.as_deref())?;
        let (mut parts, body) = request.into_parts();
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok());
        let (body, budget_hold) =
            body::read(body, declared, self.max_body_bytes, &self.budget).await?;
        ctx.times.body_read = Some(Instant::now());
        // A full Arc, not a guard: the snapshot is held across awaits.
        let tuning = self.tuning.load_full();
        let body = tune::tune(ctx, &tuning, &self.recorder.metrics, body).await?;
        headers::prepare_upstream(&mut parts.headers, &self.tuner_headers, &target.host());
        let mut upstream = target.request(&parts, ctx.tuned.path.as_deref(), body)?;
        let credentials = self.credentials.get().await?;
        sign_request(&mut upstream, &credentials, &target.region)?;
        ctx.times.sent_upstream = Some(Instant::now());
        let response = self.forwarder.send(upstream).await?;
        drop(budget_hold);
        ctx.times.upstream_answered = Some(Instant::now());
        Ok(response)
    }

    /// A known intent labels itself; anything else is `unknown`, so label
    /// values stay bounded by the profiles configured.
    fn intent_label(&self, intent: Option<&str>) -> String {
        match intent {
            None => NO_INTENT.into(),
            Some(i) if self.tuning.load().profiles.get(i).is_some() => i.to_string(),
            Some(_) => UNKNOWN_INTENT.into(),
        }
    }

    fn check_allowed(&self, ctx: &RequestContext) -> Result<(), ProxyError> {
        let (Some(model), false) = (&ctx.route.model_id, self.allowed_models.is_empty()) else {
            return Ok(());
        };
        match self.allowed_models.iter().any(|m| m == model) {
            true => Ok(()),
            false => Err(ProxyError::ModelNotAllowed {
                model: model.clone(),
            }),
        }
    }

    /// The Bedrock-shaped answer to a request the sidecar did not forward
    /// or got no answer for (already recorded by its [`InFlight`] guard).
    fn refuse(&self, ctx: &RequestContext, error: &ProxyError) -> Response<ProxyBody> {
        tracing::info!(
            request_id = %ctx.id,
            operation = ctx.labels.operation,
            model = %ctx.labels.model,
            %error,
            "request_refused"
        );
        let response = error.to_response();
        let mut response = response.map(|b| {
            http_body_util::Full::new(b)
                .map_err(|never| match never {})
                .boxed_unsync()
        });
        respond::add_tuner_headers(response.headers_mut(), ctx);
        response
    }
}

fn protocol_label(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_2 => "h2",
        http::Version::HTTP_11 => "http1.1",
        http::Version::HTTP_10 => "http1.0",
        _ => "other",
    }
}

/// Inference-profile and foundation-model ARNs carry an account id and a
/// region; the label keeps the model part only.
fn model_label(model_id: &str) -> &str {
    match model_id.starts_with("arn:") {
        true => model_id.rsplit('/').next().unwrap_or(model_id),
        false => model_id,
    }
}

impl crate::server::Handler for Proxy {
    async fn call(self: Arc<Self>, request: Request<Incoming>) -> Response<ProxyBody> {
        self.handle(request).await
    }
}
