//! The running sidecar: everything built from the settings, both listeners
//! started, and an orderly stop on SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use aws_config::BehaviorVersion;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use tokio::sync::watch;

use crate::admin::Admin;
use crate::admin::feedback::Feedback;
use crate::bedrock_client::BedrockClient;
use crate::classify::ModelCall;
use crate::config::Settings;
use crate::forward::Forwarder;
use crate::proxy::Proxy;
use crate::record::{Metrics, Recorder};
use crate::server::{self, Handler};
use crate::sign::CredentialCache;
use crate::tuning::sources::TuningSources;
use crate::tuning::{SharedTuning, Tuning, reload};

/// How long start-up waits for the first credentials before serving
/// anyway (readiness stays down until they load).
const FIRST_CREDENTIALS_WAIT: Duration = Duration::from_secs(10);

mod results;

/// The configuration file to watch for edits, and the flags that keep
/// overriding it.
#[derive(Debug, Clone)]
pub struct Reload {
    pub path: std::path::PathBuf,
    pub overrides: crate::config::Overrides,
}

/// Runs until SIGTERM or SIGINT, then drains in-flight requests within the
/// configured grace period.
pub async fn run(settings: Settings, reload: Option<Reload>) -> Result<(), String> {
    let credentials = load_credentials().await;
    let metrics = Arc::new(Metrics::new().map_err(|e| format!("metrics: {e}"))?);
    let forwarder = Forwarder::new(settings.connect_timeout, settings.ca_file.as_deref())?;
    let own_calls = BedrockClient {
        forwarder: forwarder.clone(),
        credentials: Arc::clone(&credentials),
        upstream: settings.upstream.value.clone(),
    };
    let model_call = classifier_call(&settings, &own_calls);
    let tuning = Tuning::from_settings(&settings.tuning, model_call.clone()).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        format!("invalid configuration:\n{}", lines.join("\n"))
    })?;
    let tuning: SharedTuning = Arc::new(ArcSwap::from_pointee(tuning));
    let sources = TuningSources::new(
        settings.tuning.clone(),
        model_call,
        Arc::clone(&tuning),
        Arc::clone(&metrics),
    );
    if let Some(Reload { path, overrides }) = reload {
        reload::spawn(reload::Watched { path, overrides }, Arc::clone(&sources));
    }
    let results = results::start(&settings.store, sources).await;
    let recorder = Recorder::new(Arc::clone(&metrics))
        .with_observations(Arc::clone(&results.sink), settings.prices.clone());
    let proxy = Arc::new(Proxy::new(
        &settings,
        forwarder,
        Arc::clone(&credentials),
        recorder,
        tuning.clone(),
    ));
    let admin = Arc::new(Admin {
        metrics,
        credentials,
        store_health: Arc::clone(&results.health),
        flusher: results.flusher.clone(),
        feedback: Feedback::new(Arc::clone(&results.sink), tuning.clone()),
        store: results.store.clone(),
        tuning: tuning.clone(),
    });
    if let Some(store) = results.store.clone() {
        let every = settings.store.refresh_interval;
        crate::admin::analysis::spawn_export(store, tuning, Arc::clone(&admin.metrics), every);
    }
    serve_until_signal(&settings, proxy, admin).await?;
    results.finish().await;
    tracing::info!("stopped");
    Ok(())
}

/// Binds both listeners, serves until SIGTERM or SIGINT, then drains.
async fn serve_until_signal(
    settings: &Settings,
    proxy: Arc<Proxy>,
    admin: Arc<Admin>,
) -> Result<(), String> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let (proxy_listener, proxy_addr) = bind("proxy.listen", settings.listen.value).await?;
    let (admin_listener, admin_addr) = bind("admin.listen", settings.admin_listen.value).await?;
    tracing::info!(proxy = %proxy_addr, admin = %admin_addr, "listening");
    let grace = settings.shutdown_grace;
    let proxy_task = tokio::spawn(serve(proxy_listener, proxy, stop_rx.clone(), grace));
    let admin_task = tokio::spawn(serve(admin_listener, admin, stop_rx, grace));
    wait_for_signal().await;
    tracing::info!(grace_secs = grace.as_secs(), "shutting_down");
    let _ = stop_tx.send(true);
    let _ = proxy_task.await;
    let _ = admin_task.await;
    Ok(())
}

/// The classifier's model, reached through the sidecar's own client. The
/// model id is read at each call so a reload that changes it applies.
fn classifier_call(settings: &Settings, client: &BedrockClient) -> Option<ModelCall> {
    let model = settings.tuning.classifier.model_id.clone()?;
    Some(client.clone().model_call(model))
}

async fn serve<H: Handler>(
    listener: tokio::net::TcpListener,
    handler: Arc<H>,
    stop: watch::Receiver<bool>,
    grace: Duration,
) {
    server::serve(listener, handler, stop, grace).await;
}

async fn bind(
    key: &str,
    addr: SocketAddr,
) -> Result<(tokio::net::TcpListener, SocketAddr), String> {
    server::bind(addr)
        .await
        .map_err(|e| format!("{key}: cannot listen on {addr}: {e}"))
}

/// The default AWS credential chain over the sidecar's own rustls client,
/// cached; a first load is attempted now so that the first request does
/// not pay for it.
async fn load_credentials() -> Arc<CredentialCache> {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http_client);
    // Naming the region spares the loader a look-up through the instance
    // metadata service when the environment already says it.
    if let Some(region) = crate::cli::serve::ambient_region() {
        loader = loader.region(aws_config::Region::new(region));
    }
    let sdk = loader.load().await;
    let provider = sdk.credentials_provider().unwrap_or_else(|| {
        aws_credential_types::provider::SharedCredentialsProvider::new(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        )
    });
    let cache = CredentialCache::new(provider);
    match tokio::time::timeout(FIRST_CREDENTIALS_WAIT, cache.get()).await {
        Ok(Ok(_)) => tracing::info!("credentials_loaded"),
        Ok(Err(error)) => tracing::warn!(%error, "credentials_unavailable"),
        Err(_) => tracing::warn!("credentials_slow_to_load"),
    }
    cache.spawn_refresher();
    cache
}

async fn wait_for_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
