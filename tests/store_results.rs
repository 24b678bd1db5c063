//! Results: exact sums through the flusher, sessions split over writers,
//! replayed batches, many concurrent writers, flat reading cost and the
//! schema rule. One suite, run on the embedded backend and on DynamoDB.

#[macro_use]
mod store_support;

use std::sync::Arc;
use std::time::Duration;

use bedrock_tuner::store::flush::{Accumulator, FlushSettings, Flusher};
use bedrock_tuner::store::{Applied, Kind, PageRequest, Store, StoreError, StoreHealth};
use store_support::raw::{Request, Rng, batch_of, direct, record_all, requests};
use store_support::{Backend, Fixture, ok};

per_backend!(
    flushed_results_equal_the_raw_sums,
    sessions_split_over_two_sidecars_equal_the_raw_sums,
    a_replayed_batch_adds_nothing,
    many_writers_at_once_add_up_exactly,
    stored_counters_do_not_grow_with_requests,
    newer_fields_are_read_and_a_newer_schema_is_refused,
    a_session_with_many_metrics_is_exact,
);

const EXPERIMENT: &str = "exp-r";

fn flusher(store: &Store) -> (Arc<Accumulator>, Arc<Flusher>) {
    let accumulator = Arc::new(Accumulator::new(100_000));
    let settings = FlushSettings {
        interval: Duration::from_secs(3600),
        deadline: Duration::from_secs(60),
    };
    let health = Arc::new(StoreHealth::default());
    let flusher = Flusher::new(store.clone(), accumulator.clone(), health, settings);
    (accumulator, flusher)
}

async fn results(store: &Store) -> bedrock_tuner::store::ExperimentResults {
    ok(store.results(EXPERIMENT).await, "results")
}

async fn flushed_results_equal_the_raw_sums(backend: Backend) {
    let f = Fixture::new(backend).await;
    let raw = requests(7, 24);
    let (accumulator, flusher) = flusher(&f.store);
    for part in raw.chunks(raw.len() / 3 + 1) {
        record_all(&accumulator, EXPERIMENT, part);
        assert!(ok(flusher.flush_now().await, "flush") > 0);
    }
    assert_eq!(results(&f.store).await, direct(EXPERIMENT, &raw));
    let stats = flusher.stats();
    assert_eq!((stats.batches_applied, stats.pending_entries), (3, 0));
}

/// Each request goes to one of two sidecars at random and both flush at
/// random moments, so most sessions are updated by both, in every order.
async fn sessions_split_over_two_sidecars_equal_the_raw_sums(backend: Backend) {
    let f = Fixture::new(backend).await;
    let other = ok(f.open_again().await, "second sidecar");
    let sidecars = [flusher(&f.store), flusher(&other)];
    let raw = requests(11, 30);
    let mut rng = Rng::new(5);
    let mut seen_by = std::collections::BTreeMap::<&str, [bool; 2]>::new();
    for r in &raw {
        let side = rng.below(2) as usize;
        seen_by.entry(&r.session).or_default()[side] = true;
        record_all(&sidecars[side].0, EXPERIMENT, std::slice::from_ref(r));
        if rng.below(6) == 0 {
            ok(sidecars[rng.below(2) as usize].1.flush_now().await, "flush");
        }
    }
    for (_, flusher) in &sidecars {
        ok(flusher.flush_now().await, "final flush");
    }
    let split = seen_by.values().filter(|s| s[0] && s[1]).count();
    assert!(split >= 10, "only {split} sessions reached both sidecars");
    assert_eq!(results(&f.store).await, direct(EXPERIMENT, &raw));
}

/// A batch whose reply was lost is sent again, after another writer has
/// moved the same sessions on: the store must recognise it.
async fn a_replayed_batch_adds_nothing(backend: Backend) {
    let f = Fixture::new(backend).await;
    let raw = requests(3, 12);
    let (first, second) = raw.split_at(raw.len() / 2);
    let a1 = batch_of("writer-a", 1, EXPERIMENT, first);
    let b1 = batch_of("writer-b", 1, EXPERIMENT, second);
    assert_eq!(ok(f.store.apply(&a1).await, "a1"), Applied::Added);
    assert_eq!(ok(f.store.apply(&b1).await, "b1"), Applied::Added);
    assert_eq!(
        ok(f.store.apply(&a1).await, "a1 again"),
        Applied::AlreadyApplied
    );
    let again = ok(f.open_again().await, "other instance");
    assert_eq!(
        ok(again.apply(&b1).await, "b1 again"),
        Applied::AlreadyApplied
    );
    assert_eq!(results(&f.store).await, direct(EXPERIMENT, &raw));
}

/// Three sidecars with three writers each apply batches at once, all on
/// the same keys and sessions.
async fn many_writers_at_once_add_up_exactly(backend: Backend) {
    let f = Fixture::new(backend).await;
    let raw = requests(21, 16);
    let mut instances = vec![f.store.clone()];
    for _ in 0..2 {
        instances.push(ok(f.open_again().await, "instance"));
    }
    let writers = 9;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = instances[w % instances.len()].clone();
        let mine: Vec<Request> = raw.iter().skip(w).step_by(writers).cloned().collect();
        tasks.push(tokio::spawn(async move {
            for (i, part) in mine.chunks(3).enumerate() {
                let batch = batch_of(&format!("writer-{w}"), i as u64 + 1, EXPERIMENT, part);
                store.apply(&batch).await?;
            }
            Ok::<_, StoreError>(())
        }));
    }
    for task in tasks {
        ok(ok(task.await, "join"), "writer");
    }
    assert_eq!(results(&f.store).await, direct(EXPERIMENT, &raw));
}

/// Reading an experiment reads its counters, and there are as many after
/// ten times the requests: one per (variant, metric) and (variant, phase)
/// per shard a writer used, never one per request or session.
async fn stored_counters_do_not_grow_with_requests(backend: Backend) {
    let f = Fixture::new(backend).await;
    let raw = requests(9, 40);
    let (small, large) = raw.split_at(raw.len() / 10);
    let (accumulator, flusher) = flusher(&f.store);
    record_all(&accumulator, EXPERIMENT, small);
    ok(flusher.flush_now().await, "flush small");
    let after_small = f.counter_items().await;
    record_all(&accumulator, EXPERIMENT, large);
    ok(flusher.flush_now().await, "flush large");
    assert_eq!(f.counter_items().await, after_small);
    // 2 variants × 2 metrics + 2 variants × 2 phases, one shard.
    assert_eq!(after_small, 8);
    assert_eq!(results(&f.store).await, direct(EXPERIMENT, &raw));
}

async fn check_everything_reads(reader: &Store, raw: &[Request]) {
    let results = ok(reader.results(EXPERIMENT).await, "results");
    assert_eq!(results, direct(EXPERIMENT, raw));
    let listed = ok(reader.list_all_latest(Kind::Profile).await, "list");
    assert_eq!(listed.len(), 1);
    let page = PageRequest::first(10);
    let decisions = ok(reader.decisions(EXPERIMENT, &page).await, "decisions");
    assert_eq!(decisions.items.len(), 1);
}

async fn newer_fields_are_read_and_a_newer_schema_is_refused(backend: Backend) {
    let f = Fixture::new(backend).await;
    let raw = requests(4, 10);
    ok(
        f.store.apply(&batch_of("w", 1, EXPERIMENT, &raw)).await,
        "apply",
    );
    let body = serde_json::json!({"t": 1});
    ok(f.store.put(Kind::Profile, "p", &body, 0, "a").await, "put");
    ok(f.store.append_decision(EXPERIMENT, &body).await, "decide");
    f.add_future_fields().await;
    // This build reads what a newer one added to the same schema version…
    let reader = ok(f.open_again().await, "reopen");
    check_everything_reads(&reader, &raw).await;
    // …and keeps adding to it.
    ok(
        reader.apply(&batch_of("w", 2, EXPERIMENT, &raw)).await,
        "apply again",
    );
    // A newer schema version is refused before anything is written.
    f.set_schema_version(2).await;
    let refused = match f.open_again().await {
        Err(e) => e,
        Ok(store) => match store.apply(&batch_of("w2", 1, EXPERIMENT, &raw)).await {
            Err(e) => e,
            Ok(applied) => panic!("a newer schema was written to: {applied:?}"),
        },
    };
    assert_eq!(
        refused,
        StoreError::SchemaTooNew {
            found: 2,
            supported: 1
        }
    );
}

/// More metrics than one DynamoDB session update carries (16): the update
/// goes in parts, each exactly once, from two writers.
async fn a_session_with_many_metrics_is_exact(backend: Backend) {
    const NAMES: [&str; 20] = [
        "m00", "m01", "m02", "m03", "m04", "m05", "m06", "m07", "m08", "m09", "m10", "m11", "m12",
        "m13", "m14", "m15", "m16", "m17", "m18", "m19",
    ];
    let f = Fixture::new(backend).await;
    let raw: Vec<Request> = (0..6)
        .map(|i| Request {
            variant: "a".into(),
            session: format!("s{}", i % 2),
            phase: "full".into(),
            values: NAMES
                .iter()
                .map(|n| (*n, (i * 7 + n.len()) as f64))
                .collect(),
        })
        .collect();
    let (first, second) = raw.split_at(3);
    let batches = [
        batch_of("w1", 1, EXPERIMENT, first),
        batch_of("w2", 1, EXPERIMENT, second),
    ];
    for batch in &batches {
        assert_eq!(ok(f.store.apply(batch).await, "apply"), Applied::Added);
    }
    assert_eq!(
        ok(f.store.apply(&batches[0]).await, "again"),
        Applied::AlreadyApplied
    );
    assert_eq!(results(&f.store).await, direct(EXPERIMENT, &raw));
}
