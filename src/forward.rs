//! The pooled HTTP client that carries signed requests to the upstream.
//!
//! There is a connect timeout but no overall deadline: a large model may
//! stream for many minutes. Dropping the response (the app went away)
//! drops the upstream connection with it, which cancels the call.

use std::io::BufReader;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::error::ProxyError;

/// Idle upstream connections are closed after this long; AWS's own load
/// balancers close idle connections after about a minute.
const POOL_IDLE: Duration = Duration::from_secs(50);

/// Sends requests upstream over pooled HTTP/1.1 connections, TLS by rustls.
#[derive(Clone)]
pub struct Forwarder {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl Forwarder {
    /// Builds the client; `ca_file` adds PEM roots for private endpoints.
    pub fn new(connect_timeout: Duration, ca_file: Option<&Path>) -> Result<Self, String> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(connect_timeout));
        http.set_nodelay(true);
        let tls = tls_config(ca_file)?;
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .build(connector);
        Ok(Self { client })
    }

    /// Sends one signed request and returns the upstream's response head
    /// with its body still streaming.
    pub async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Incoming>, ProxyError> {
        let upstream = request
            .uri()
            .authority()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let request = request.map(Full::new);
        self.client
            .request(request)
            .await
            .map_err(|e| ProxyError::UpstreamUnreachable {
                upstream,
                reason: describe(&e),
            })
    }
}

/// The deepest cause is what an operator needs ("connection refused").
fn describe(error: &hyper_util::client::legacy::Error) -> String {
    let mut deepest: &dyn std::error::Error = error;
    while let Some(next) = deepest.source() {
        deepest = next;
    }
    if error.is_connect() {
        format!("connect failed: {deepest}")
    } else {
        deepest.to_string()
    }
}

fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        add_pem_roots(&mut roots, path)?;
    }
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}

fn add_pem_roots(roots: &mut rustls::RootCertStore, path: &Path) -> Result<(), String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("proxy.ca_file {}: {e}", path.display()))?;
    let mut added = 0;
    for cert in rustls_pemfile::certs(&mut BufReader::new(file)) {
        let cert = cert.map_err(|e| format!("proxy.ca_file {}: {e}", path.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("proxy.ca_file {}: {e}", path.display()))?;
        added += 1;
    }
    match added {
        0 => Err(format!(
            "proxy.ca_file {} holds no PEM certificate",
            path.display()
        )),
        _ => Ok(()),
    }
}
