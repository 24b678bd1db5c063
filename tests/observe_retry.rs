//! An SDK's retries of one invocation are one observation: the retried
//! attempt is replaced by the attempt that retried it, and only that one
//! reaches the store.

use std::sync::Arc;
use std::time::Duration;

use bedrock_tuner::observe::{ExperimentObservation, ObservationSink};
use bedrock_tuner::store::flush::{Accumulator, FlushSettings, Flusher};
use bedrock_tuner::store::{RawStoreConfig, Store, StoreHealth};

fn attempt(invocation: &str, retryable: bool, latency: f64) -> ExperimentObservation {
    ExperimentObservation {
        experiment: "exp".into(),
        variant: "A".into(),
        phase: "coverage-1".into(),
        session: Some("s1".into()),
        metrics: vec![
            ("latency_ms", latency),
            ("error", f64::from(u8::from(retryable))),
        ],
        invocation: Some(invocation.into()),
        retryable,
    }
}

#[tokio::test]
async fn a_retried_invocation_is_observed_once_with_its_last_outcome() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("s.sqlite").display().to_string();
    let raw: RawStoreConfig = toml::from_str(&format!("backend = \"embedded\"\npath = {path:?}"))
        .unwrap_or_else(|e| panic!("{e}"));
    let config = raw.validate().unwrap_or_else(|e| panic!("{e:?}"));
    let store = Store::open(&config).await.unwrap_or_else(|e| panic!("{e}"));
    store.init().await.unwrap_or_else(|e| panic!("{e}"));
    let accumulator = Arc::new(Accumulator::new(10_000));
    let sink = ObservationSink::new(Arc::clone(&accumulator), Duration::from_secs(60));
    let health = Arc::new(StoreHealth::default());
    let flusher = Flusher::new(
        store.clone(),
        accumulator,
        health,
        FlushSettings::from_config(&config),
    );

    // Invocation 1: throttled twice, then served.
    sink.observe(attempt("inv-1", true, 5.0));
    sink.observe(attempt("inv-1", true, 6.0));
    assert_eq!(sink.held(), 1, "a retryable outcome waits for its retry");
    sink.observe(attempt("inv-1", false, 900.0));
    assert_eq!(sink.held(), 0);
    // Invocation 2: throttled, never retried: recorded when its window ends.
    sink.observe(attempt("inv-2", true, 7.0));
    assert_eq!(sink.release_expired(false), 0, "still inside its window");
    assert_eq!(sink.release_expired(true), 1);

    flusher.flush_now().await.unwrap_or_else(|e| panic!("{e}"));
    let results = store.results("exp").await.unwrap_or_else(|e| panic!("{e}"));
    let latency = &results.variants["A"].metrics["latency_ms"];
    assert_eq!(latency.requests.n, 2, "two invocations, two observations");
    assert_eq!(
        latency.requests.sum, 907.0,
        "the last attempt of each counts"
    );
    assert_eq!(results.variants["A"].metrics["error"].requests.sum, 1.0);
    assert_eq!(latency.sessions.sum_m, 2);
}
