//! The admin listener: `/metrics`, `/healthz` and `/readyz`, loopback by
//! default, separate from the proxy so that scraping never queues behind
//! model calls.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;

use crate::proxy::ProxyBody;
use crate::record::Metrics;
use crate::server::Handler;
use crate::sign::CredentialCache;
use crate::store::flush::Flusher;
use crate::store::{Store, StoreHealth};
use crate::tuning::SharedTuning;
use feedback::Feedback;

pub mod analysis;
pub mod feedback;

/// Feedback bodies larger than this are refused.
const MAX_FEEDBACK_BYTES: usize = 64 * 1024;

/// What the admin endpoints read.
pub struct Admin {
    pub metrics: Arc<Metrics>,
    pub credentials: Arc<CredentialCache>,
    pub store_health: Arc<StoreHealth>,
    pub flusher: Option<Arc<Flusher>>,
    pub feedback: Feedback,
    pub store: Option<Store>,
    pub tuning: SharedTuning,
}

impl Handler for Admin {
    async fn call(self: Arc<Self>, request: Request<Incoming>) -> Response<ProxyBody> {
        match (request.method(), request.uri().path()) {
            (&Method::GET, "/metrics") => self.metrics_page(),
            (&Method::GET, "/healthz") => reply(
                StatusCode::OK,
                "application/json",
                r#"{"status":"ok"}"#.into(),
            ),
            (&Method::GET, "/readyz") => self.readiness(),
            (&Method::POST, "/v1/feedback") => self.feedback(request).await,
            (&Method::GET, path)
                if path.starts_with("/v1/experiments/") && path.ends_with("/analysis") =>
            {
                let id = path
                    .trim_start_matches("/v1/experiments/")
                    .trim_end_matches("/analysis")
                    .to_string();
                let (status, body) = analysis::report(self.store.as_ref(), &self.tuning, &id).await;
                reply(status, "application/json", body.to_string())
            }
            _ => reply(
                StatusCode::NOT_FOUND,
                "application/json",
                r#"{"message":"not found"}"#.into(),
            ),
        }
    }
}

impl Admin {
    fn metrics_page(&self) -> Response<ProxyBody> {
        self.metrics
            .control_plane
            .with_label_values(&["credentials"])
            .set(i64::from(self.credentials.is_loaded()));
        self.export_store_state();
        reply(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            self.metrics.render(),
        )
    }

    async fn feedback(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        let body = Limited::new(request.into_body(), MAX_FEEDBACK_BYTES)
            .collect()
            .await;
        let (status, answer) = match body {
            Ok(collected) => self.feedback.record(&collected.to_bytes()),
            Err(e) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                serde_json::json!({"message": e.to_string()}),
            ),
        };
        reply(status, "application/json", answer.to_string())
    }

    /// Ready once configuration is loaded (it is, or this listener would
    /// not run) and credentials resolve. Later control-plane trouble shows
    /// in the details but does not take the sidecar out of service.
    fn readiness(&self) -> Response<ProxyBody> {
        let credentials = self.credentials.is_loaded();
        // The store is reported, never required: requests are served with
        // the last good state while it is away.
        let body = serde_json::json!({
            "ready": credentials,
            "checks": {
                "config": "ok",
                "credentials": if credentials { "ok" } else { "not loaded" },
                "store": self.store_health.report(),
            }
        });
        let status = match credentials {
            true => StatusCode::OK,
            false => StatusCode::SERVICE_UNAVAILABLE,
        };
        reply(status, "application/json", body.to_string())
    }
}

impl Admin {
    /// Store health and flush counters, read at scrape time.
    fn export_store_state(&self) {
        let m = &self.metrics;
        let report = self.store_health.report();
        for (component, state) in [
            ("store_refresh", &report.refresh),
            ("store_flush", &report.flush),
        ] {
            let healthy = state.consecutive_failures == 0 && state.last_success_ms.is_some();
            m.control_plane
                .with_label_values(&[component])
                .set(i64::from(healthy));
        }
        let Some(flusher) = &self.flusher else { return };
        let s = flusher.stats();
        let counters = [
            ("recorded", s.recorded),
            ("dropped", s.dropped),
            ("rejected", s.rejected),
            ("batches_applied", s.batches_applied),
            ("batches_repeated", s.batches_repeated),
            ("flush_failures", s.flush_failures),
            ("pending_entries", s.pending_entries),
        ];
        for (name, value) in counters {
            m.results
                .with_label_values(&[name])
                .set(i64::try_from(value).unwrap_or(i64::MAX));
        }
    }
}

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response<ProxyBody> {
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    response
}
