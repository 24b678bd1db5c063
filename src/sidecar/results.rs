//! The store's part in the running sidecar: profiles and experiments
//! refreshed into the tuning state, and experiment observations flushed to
//! the store in batches.
//!
//! None of it is on the request path's critical section: a store that is
//! down or frozen leaves requests served with the last good state, and
//! observations wait in a bounded buffer.

use std::sync::Arc;
use std::time::Duration;

use crate::observe::{ObservationSink, RETRY_WINDOW};
use crate::store::flush::{Accumulator, FlushSettings, Flusher};
use crate::store::refresh::{self, RefreshSettings, Snapshot};
use crate::store::{Store, StoreConfig, StoreHealth};
use crate::tuning::sources::TuningSources;

/// How often held observations are checked for an expired retry window.
const RELEASE_TICK: Duration = Duration::from_secs(2);
/// Longest the final flush at shutdown may take.
const FINAL_FLUSH: Duration = Duration::from_secs(10);

/// Handles the sidecar keeps to report on, and flush at exit.
pub struct Results {
    pub health: Arc<StoreHealth>,
    pub sink: Arc<ObservationSink>,
    pub flusher: Option<Arc<Flusher>>,
    pub store: Option<Store>,
}

/// Opens the store and starts the refresh and flush tasks. A store that
/// cannot be opened is reported and retried by the tasks that need it; the
/// sidecar serves without it meanwhile.
pub async fn start(config: &StoreConfig, sources: Arc<TuningSources>) -> Results {
    let health = Arc::new(StoreHealth::default());
    let accumulator = Arc::new(Accumulator::new(config.buffer_max_entries));
    let sink = Arc::new(ObservationSink::new(Arc::clone(&accumulator), RETRY_WINDOW));
    spawn_release(Arc::clone(&sink));
    let store =
        match tokio::time::timeout(config.timeout.saturating_mul(4), Store::open(config)).await {
            Ok(Ok(store)) => store,
            Ok(Err(error)) => return unavailable(health, sink, &error.to_string()),
            Err(_) => return unavailable(health, sink, "timed out"),
        };
    let settings = RefreshSettings::from_config(config);
    let (mut snapshots, _task) = refresh::spawn(
        store.clone(),
        settings,
        Snapshot::default(),
        Arc::clone(&health),
    );
    tokio::spawn(async move {
        while snapshots.changed().await.is_ok() {
            let snapshot = Arc::clone(&snapshots.borrow_and_update());
            sources.set_store(&snapshot);
        }
    });
    let flusher = Flusher::new(
        store.clone(),
        accumulator,
        Arc::clone(&health),
        FlushSettings::from_config(config),
    );
    flusher.spawn();
    Results {
        health,
        sink,
        flusher: Some(flusher),
        store: Some(store),
    }
}

fn unavailable(health: Arc<StoreHealth>, sink: Arc<ObservationSink>, reason: &str) -> Results {
    // Opening an embedded file or building a DynamoDB client fails only on
    // configuration-level problems (a bad path, no region); those need an
    // operator, so the sidecar reports them and serves without the store.
    tracing::error!(reason, "store_unavailable");
    let error = crate::store::StoreError::Invalid(format!("store unavailable: {reason}"));
    health.refresh.record_failure(&error);
    Results {
        health,
        sink,
        flusher: None,
        store: None,
    }
}

fn spawn_release(sink: Arc<ObservationSink>) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(RELEASE_TICK).await;
            sink.release_expired(false);
        }
    });
}

impl Results {
    /// Records everything still held and writes it, within a bound.
    pub async fn finish(&self) {
        self.sink.release_expired(true);
        let Some(flusher) = &self.flusher else { return };
        match tokio::time::timeout(FINAL_FLUSH, flusher.flush_now()).await {
            Ok(Ok(keys)) => tracing::info!(keys, "results_flushed"),
            Ok(Err(error)) => tracing::warn!(%error, "final_flush_failed"),
            Err(_) => tracing::warn!("final_flush_timed_out"),
        }
    }
}
