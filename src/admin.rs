//! The admin listener: `/metrics`, `/healthz` and `/readyz`, loopback by
//! default, separate from the proxy so that scraping never queues behind
//! model calls.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

use crate::proxy::ProxyBody;
use crate::record::Metrics;
use crate::server::Handler;
use crate::sign::CredentialCache;

/// What the admin endpoints read.
pub struct Admin {
    pub metrics: Arc<Metrics>,
    pub credentials: Arc<CredentialCache>,
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
        reply(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            self.metrics.render(),
        )
    }

    /// Ready once configuration is loaded (it is, or this listener would
    /// not run) and credentials resolve. Later control-plane trouble shows
    /// in the details but does not take the sidecar out of service.
    fn readiness(&self) -> Response<ProxyBody> {
        let credentials = self.credentials.is_loaded();
        let body = serde_json::json!({
            "ready": credentials,
            "checks": {
                "config": "ok",
                "credentials": if credentials { "ok" } else { "not loaded" },
            }
        });
        let status = match credentials {
            true => StatusCode::OK,
            false => StatusCode::SERVICE_UNAVAILABLE,
        };
        reply(status, "application/json", body.to_string())
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
