//! The pooled HTTP client that carries signed requests to the upstream.
//!
//! There is a connect timeout but no overall deadline: a large model may
//! stream for many minutes. Dropping the response (the app went away)
//! drops the upstream connection with it, which cancels the call.

use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::uri::{Authority, PathAndQuery, Scheme};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use tower_service::Service;

use crate::error::ProxyError;

mod pool;

use pool::{Conn, Pool};

/// Idle upstream connections are not reused after this long; AWS's own
/// load balancers close idle connections after about a minute.
const POOL_IDLE: Duration = Duration::from_secs(50);

/// Sends requests upstream over pooled HTTP/1.1 connections, TLS by rustls.
#[derive(Clone)]
pub struct Forwarder {
    connector: HttpsConnector<HttpConnector>,
    pool: Arc<Pool>,
}

/// Where a request goes, split off its URI.
struct Destination {
    scheme: Scheme,
    authority: Authority,
    uri: http::Uri,
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
        Ok(Self {
            connector,
            pool: Arc::new(Pool::new(POOL_IDLE)),
        })
    }

    /// Sends one signed request (absolute URI, `Host` set) and returns the
    /// upstream's response head with its body still streaming.
    pub async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Incoming>, ProxyError> {
        let (mut parts, body) = request.into_parts();
        let destination = destination(&parts.uri)?;
        // HTTP/1.1 to an origin server names the path alone.
        parts.uri = http::Uri::from(
            parts
                .uri
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/")),
        );
        let mut request = http::Request::from_parts(parts, Full::new(body));
        loop {
            let (mut conn, reused) = match self
                .pool
                .checkout(&destination.scheme, &destination.authority)
            {
                Some(conn) => (conn, true),
                None => (self.connect(&destination).await?, false),
            };
            match conn.sender.try_send_request(request).await {
                Ok(response) => {
                    self.pool
                        .put(&destination.scheme, &destination.authority, conn);
                    return Ok(response);
                }
                Err(mut failed) => match failed.take_message() {
                    // A kept connection the upstream closed before this
                    // request was written: nothing was sent, so another
                    // connection may carry it. Each retry drops one kept
                    // connection and a fresh one is never retried, so this
                    // ends.
                    Some(unsent) if reused => request = unsent,
                    _ => return Err(unreachable(&destination, describe(&failed.into_error()))),
                },
            }
        }
    }

    async fn connect(&self, destination: &Destination) -> Result<Conn, ProxyError> {
        let io = self
            .connector
            .clone()
            .call(destination.uri.clone())
            .await
            .map_err(|e| unreachable(destination, format!("connect failed: {}", deepest(&*e))))?;
        let (sender, connection) = http1::handshake(io)
            .await
            .map_err(|e| unreachable(destination, describe(&e)))?;
        // The connection is driven by its own task; it ends when the
        // upstream closes it or when its sender is dropped and it is idle.
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "upstream connection ended");
            }
        });
        Ok(Conn::new(sender))
    }
}

fn destination(uri: &http::Uri) -> Result<Destination, ProxyError> {
    match (uri.scheme(), uri.authority()) {
        (Some(scheme), Some(authority)) => Ok(Destination {
            scheme: scheme.clone(),
            authority: authority.clone(),
            uri: uri.clone(),
        }),
        _ => Err(ProxyError::UpstreamUnreachable {
            upstream: uri.to_string(),
            reason: "the upstream URL has no scheme or host".into(),
        }),
    }
}

fn unreachable(destination: &Destination, reason: String) -> ProxyError {
    ProxyError::UpstreamUnreachable {
        upstream: destination.authority.to_string(),
        reason,
    }
}

/// The deepest cause is what an operator needs ("connection refused").
fn describe(error: &hyper::Error) -> String {
    deepest(error)
}

fn deepest(error: &(dyn std::error::Error + 'static)) -> String {
    let mut deepest = error;
    while let Some(next) = deepest.source() {
        deepest = next;
    }
    deepest.to_string()
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

#[cfg(test)]
mod tests;
