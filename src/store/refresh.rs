//! Profiles and experiments from the store to the proxy: a background task
//! re-reads both kinds every interval and publishes them as one
//! [`Snapshot`] on a `tokio::sync::watch` channel, from which the proxy
//! builds its immutable state (with arc-swap).
//!
//! When the store is unreachable, at start or later, the channel keeps the
//! last good snapshot (at first: the fallback the caller gave), health
//! says what failed, and the task retries sooner, backing off up to the
//! interval. Readiness never waits on it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{Document, Kind, Store, StoreConfig, StoreError, StoreHealth};

/// Profiles and experiments as the store had them at one refresh.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Latest revision of every profile, by id.
    pub profiles: Vec<Document>,
    /// Latest revision of every experiment, by id.
    pub experiments: Vec<Document>,
}

/// How the refresh runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshSettings {
    pub interval: Duration,
    /// Longest one refresh (every page of both kinds) may take.
    pub deadline: Duration,
}

impl RefreshSettings {
    pub fn from_config(config: &StoreConfig) -> Self {
        Self {
            interval: config.refresh_interval,
            deadline: config.timeout.saturating_mul(4),
        }
    }
}

/// Reads both kinds, every page. The two listings are not one atomic
/// read: a put landing between them shows at the next refresh.
pub async fn load(store: &Store) -> Result<Snapshot, StoreError> {
    Ok(Snapshot {
        profiles: store.list_all_latest(Kind::Profile).await?,
        experiments: store.list_all_latest(Kind::Experiment).await?,
    })
}

/// Starts the refresh task: a first read now, then one per interval. The
/// receiver starts with `fallback`; it changes only when the store's
/// contents do. The task ends when every receiver is dropped.
pub fn spawn(
    store: Store,
    settings: RefreshSettings,
    fallback: Snapshot,
    health: Arc<StoreHealth>,
) -> (watch::Receiver<Arc<Snapshot>>, JoinHandle<()>) {
    let (sender, receiver) = watch::channel(Arc::new(fallback));
    let task = tokio::spawn(run(store, settings, sender, health));
    (receiver, task)
}

async fn run(
    store: Store,
    settings: RefreshSettings,
    sender: watch::Sender<Arc<Snapshot>>,
    health: Arc<StoreHealth>,
) {
    let mut failures: u32 = 0;
    loop {
        let outcome = tokio::time::timeout(settings.deadline, load(&store))
            .await
            .unwrap_or(Err(StoreError::Timeout(settings.deadline)));
        match outcome {
            Ok(snapshot) => {
                health.refresh.record_success();
                if failures > 0 {
                    tracing::info!(failures, "store_refresh_recovered");
                }
                failures = 0;
                publish(&sender, snapshot);
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                health.refresh.record_failure(&error);
                tracing::warn!(failures, %error, "store_refresh_failed");
            }
        }
        if sender.is_closed() {
            return;
        }
        tokio::time::sleep(next_delay(settings.interval, failures)).await;
    }
}

/// Sends the snapshot only when it differs, so that the proxy rebuilds
/// its state only on a change.
fn publish(sender: &watch::Sender<Arc<Snapshot>>, snapshot: Snapshot) {
    sender.send_if_modified(|current| {
        if **current == snapshot {
            return false;
        }
        tracing::info!(
            profiles = snapshot.profiles.len(),
            experiments = snapshot.experiments.len(),
            "store_snapshot_changed"
        );
        *current = Arc::new(snapshot);
        true
    });
}

/// The interval after a success; after failures, a first retry at an
/// eighth of it (between 50 ms and 1 s), doubling up to the interval.
fn next_delay(interval: Duration, failures: u32) -> Duration {
    if failures == 0 {
        return interval;
    }
    let base = (interval / 8).clamp(Duration::from_millis(50), Duration::from_secs(1));
    base.saturating_mul(1 << (failures - 1).min(16))
        .min(interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_up_to_the_interval() {
        let interval = Duration::from_secs(30);
        let delays: Vec<u64> = (0..8).map(|f| next_delay(interval, f).as_secs()).collect();
        assert_eq!(delays, [30, 1, 2, 4, 8, 16, 30, 30]);
    }
}
