//! Faults between the sidecar and its store: down at start, down mid-run,
//! replies lost after the store acted, a store that accepts and never
//! answers, and (embedded) a file another process keeps locked.

mod store_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bedrock_tuner::store::flush::{Accumulator, FlushSettings, Flusher, Observation};
use bedrock_tuner::store::refresh::{self, RefreshSettings, Snapshot};
use bedrock_tuner::store::{BackendConfig, Document, Kind, Store, StoreHealth};
use serde_json::json;
use store_support::fault_proxy::{FaultProxy, Mode};
use store_support::raw::{direct, record_all, requests};
use store_support::{Backend, Fixture, moto, ok};

const EXPERIMENT: &str = "exp-f";

/// Fresh tables in moto, and a second client that reaches them through a
/// fault proxy with the given call timeout.
async fn behind_proxy(timeout: Duration) -> (Fixture, FaultProxy, Store) {
    let f = Fixture::new(Backend::DynamoDb).await;
    let proxy = FaultProxy::start(moto().port).await;
    let mut config = f.config.clone();
    if let BackendConfig::DynamoDb(d) = &mut config.backend {
        d.endpoint_url = Some(proxy.endpoint());
    }
    config.timeout = timeout;
    let store = ok(store_support::open(&config).await, "open");
    (f, proxy, store)
}

fn flusher(
    store: &Store,
    deadline: Duration,
) -> (Arc<Accumulator>, Arc<Flusher>, Arc<StoreHealth>) {
    let accumulator = Arc::new(Accumulator::new(100_000));
    let health = Arc::new(StoreHealth::default());
    let settings = FlushSettings {
        interval: Duration::from_secs(3600),
        deadline,
    };
    let flusher = Flusher::new(store.clone(), accumulator.clone(), health.clone(), settings);
    (accumulator, flusher, health)
}

fn fallback() -> Snapshot {
    Snapshot {
        profiles: vec![Document {
            kind: Kind::Profile,
            id: "from-config".into(),
            revision: 0,
            body: json!({"temperature": 0.3}),
            updated_at_ms: 0,
            updated_by: "config".into(),
        }],
        experiments: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_keeps_its_fallback_while_the_store_is_down() {
    let (f, proxy, store) = behind_proxy(Duration::from_millis(500)).await;
    proxy.set(Mode::Refuse);
    let health = Arc::new(StoreHealth::default());
    let settings = RefreshSettings {
        interval: Duration::from_millis(300),
        deadline: Duration::from_secs(3),
    };
    let (mut snapshots, task) = refresh::spawn(store, settings, fallback(), health.clone());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(**snapshots.borrow(), fallback());
    let state = health.report().refresh;
    assert!(state.consecutive_failures >= 1, "{state:?}");
    assert!(
        state.last_success_ms.is_none() && state.last_error.is_some(),
        "{state:?}"
    );
    // The store comes back, with a profile written meanwhile.
    ok(
        f.store
            .put(Kind::Profile, "orders", &json!({"t": 1}), 0, "ana")
            .await,
        "put",
    );
    proxy.set(Mode::Pass);
    let changed = tokio::time::timeout(Duration::from_secs(10), snapshots.changed()).await;
    ok(ok(changed, "no change in time"), "channel");
    let ids: Vec<String> = snapshots
        .borrow()
        .profiles
        .iter()
        .map(|d| d.id.clone())
        .collect();
    assert_eq!(ids, ["orders"]);
    let state = health.report().refresh;
    assert!(
        state.consecutive_failures == 0 && state.last_success_ms.is_some(),
        "{state:?}"
    );
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_wait_out_a_store_outage_and_land_once() {
    let (f, proxy, store) = behind_proxy(Duration::from_secs(3)).await;
    let (accumulator, flusher, health) = flusher(&store, Duration::from_secs(10));
    let raw = requests(13, 12);
    let parts: Vec<_> = raw.chunks(raw.len() / 3 + 1).collect();
    record_all(&accumulator, EXPERIMENT, parts[0]);
    flush_with_retries(&flusher).await;
    proxy.set(Mode::Refuse);
    record_all(&accumulator, EXPERIMENT, parts[1]);
    assert!(flusher.flush_now().await.is_err(), "flushed while down");
    assert!(health.report().flush.consecutive_failures >= 1);
    // New results join the buffer while the failed batch is held.
    record_all(&accumulator, EXPERIMENT, parts[2]);
    assert!(flusher.stats().pending_entries > 0);
    proxy.set(Mode::Pass);
    flush_with_retries(&flusher).await;
    let stats = flusher.stats();
    assert_eq!((stats.pending_entries, stats.dropped), (0, 0));
    assert_eq!(
        ok(f.store.results(EXPERIMENT).await, "results"),
        direct(EXPERIMENT, &raw)
    );
}

/// The store applies each request, but the reply never reaches the
/// sidecar: the SDK's retry or the next flush sends the same batch again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_lost_after_the_store_acted_count_once() {
    let (f, proxy, store) = behind_proxy(Duration::from_secs(2)).await;
    let (accumulator, flusher, _) = flusher(&store, Duration::from_secs(20));
    let raw = requests(17, 12);
    let parts: Vec<_> = raw.chunks(raw.len() / 3 + 1).collect();
    let flush = || flush_with_retries(&flusher);
    // A transaction's reply: the retry meets the chunk's receipt.
    record_all(&accumulator, EXPERIMENT, parts[0]);
    proxy.lose_replies(Some("TransactWriteItems"), 1);
    flush().await;
    assert_eq!(flusher.stats().batches_repeated, 1);
    // Session updates' replies: the retries read what the first found.
    record_all(&accumulator, EXPERIMENT, parts[1]);
    proxy.lose_replies(Some("UpdateItem"), 3);
    flush().await;
    // Every reply, until the flush gives up; then the network heals.
    record_all(&accumulator, EXPERIMENT, parts[2]);
    proxy.lose_replies(None, 10_000);
    assert!(flusher.flush_now().await.is_err());
    proxy.lose_replies(None, 0);
    flush_with_retries(&flusher).await;
    assert_eq!(
        ok(f.store.results(EXPERIMENT).await, "results"),
        direct(EXPERIMENT, &raw)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_store_times_out_and_never_blocks_the_request_path() {
    let (f, proxy, store) = behind_proxy(Duration::from_millis(500)).await;
    let (accumulator, flusher, health) = flusher(&store, Duration::from_millis(1500));
    let raw = requests(19, 10);
    record_all(&accumulator, EXPERIMENT, &raw[..raw.len() / 2]);
    proxy.set(Mode::Freeze);
    let started = Instant::now();
    let hung = tokio::spawn({
        let flusher = flusher.clone();
        async move { flusher.flush_now().await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The request path records while the flush waits on the store.
    let recording = Instant::now();
    record_all(&accumulator, EXPERIMENT, &raw[raw.len() / 2..]);
    record_elsewhere(&accumulator, 5_000);
    assert!(
        recording.elapsed() < Duration::from_millis(500),
        "{:?}",
        recording.elapsed()
    );
    assert!(
        ok(hung.await, "join").is_err(),
        "a frozen store accepted a batch"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    // The refresh gives up within its deadline too, and says so.
    let settings = RefreshSettings {
        interval: Duration::from_secs(60),
        deadline: Duration::from_secs(1),
    };
    let (snapshots, task) = refresh::spawn(store.clone(), settings, fallback(), health.clone());
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(health.report().refresh.consecutive_failures, 1);
    assert_eq!(**snapshots.borrow(), fallback());
    task.abort();
    // Thawed, everything lands once. Short timeouts against a shared,
    // serialised moto may need the flusher's usual retries.
    proxy.set(Mode::Pass);
    flush_with_retries(&flusher).await;
    assert_eq!(
        ok(f.store.results(EXPERIMENT).await, "results"),
        direct(EXPERIMENT, &raw)
    );
    let other = ok(f.store.results("exp-other").await, "other");
    assert_eq!(other.variants["a"].metrics["latency_ms"].requests.n, 5_000);
}

/// Observations of another experiment, over two sessions.
fn record_elsewhere(accumulator: &Accumulator, count: usize) {
    let values = [("latency_ms", 1.0)];
    for i in 0..count {
        let o = Observation {
            experiment: "exp-other",
            variant: "a",
            phase: "full",
            session: Some(if i % 2 == 0 { "x" } else { "y" }),
            requests: 1,
            metrics: &values,
        };
        assert!(accumulator.record(&o));
    }
}

/// Flushes as the periodic task would, a few times if need be.
async fn flush_with_retries(flusher: &Flusher) {
    let mut attempts = 0;
    while let Err(e) = flusher.flush_now().await {
        attempts += 1;
        assert!(attempts < 10, "flush: {e}");
    }
}

/// Another process holds the SQLite file's write lock for a while.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_sqlite_file_delays_the_flush_not_the_requests() {
    let f = Fixture::new(Backend::Embedded).await;
    let mut config = f.config.clone();
    config.timeout = Duration::from_millis(300);
    let store = ok(store_support::open(&config).await, "open");
    let (accumulator, flusher, health) = flusher(&store, Duration::from_secs(5));
    let BackendConfig::Embedded { path } = &config.backend else {
        panic!("embedded");
    };
    let other_process = ok(rusqlite::Connection::open(path), "open file");
    ok(other_process.execute_batch("BEGIN EXCLUSIVE;"), "lock");
    let raw = requests(23, 10);
    let recording = Instant::now();
    record_all(&accumulator, EXPERIMENT, &raw);
    assert!(recording.elapsed() < Duration::from_millis(100));
    assert!(
        flusher.flush_now().await.is_err(),
        "wrote through an exclusive lock"
    );
    assert_eq!(health.report().flush.consecutive_failures, 1);
    ok(other_process.execute_batch("COMMIT;"), "unlock");
    flush_with_retries(&flusher).await;
    assert_eq!(
        ok(f.store.results(EXPERIMENT).await, "results"),
        direct(EXPERIMENT, &raw)
    );
}
