//! Figures for `docs/store.md`, ignored in the normal run:
//!
//! ```sh
//! cargo test --release --test store_bench -- --ignored --nocapture --test-threads=1
//! ```
//!
//! 1. Flush throughput from one writer: observations recorded, then one
//!    `flush_now`, timed. An increment is one metric value added to its
//!    request-level and session-level sums.
//! 2. The cost of reading one experiment's results after 1,000 and after
//!    100,000 recorded requests: median of 20 `results` calls, and the
//!    counter rows or items they read.

mod store_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bedrock_tuner::store::flush::{Accumulator, FlushSettings, Flusher, Observation};
use bedrock_tuner::store::{Store, StoreHealth};
use store_support::{Backend, Fixture, ok};

const BACKENDS: [Backend; 2] = [Backend::Embedded, Backend::DynamoDb];

fn flusher(store: &Store) -> (Arc<Accumulator>, Arc<Flusher>) {
    let accumulator = Arc::new(Accumulator::new(10_000_000));
    let settings = FlushSettings {
        interval: Duration::from_secs(3600),
        deadline: Duration::from_secs(600),
    };
    let health = Arc::new(StoreHealth::default());
    let flusher = Flusher::new(store.clone(), accumulator.clone(), health, settings);
    (accumulator, flusher)
}

/// How recorded requests spread over keys.
#[derive(Debug, Clone, Copy)]
enum Mix {
    /// Over this many sessions of one experiment.
    Sessions(usize),
    /// Over this many experiments, without sessions: request-level keys
    /// only (four per experiment).
    Experiments(usize),
}

/// Records `requests` requests (two metrics each) over two variants.
fn record(accumulator: &Accumulator, experiment: &str, requests: usize, mix: Mix, offset: usize) {
    for i in 0..requests {
        let values = [
            ("latency_ms", (i % 997) as f64),
            ("output_tokens", (i % 61) as f64),
        ];
        let (experiment, session) = match mix {
            Mix::Sessions(s) => (experiment.to_string(), Some(format!("s{}", offset + i % s))),
            Mix::Experiments(e) => (format!("{experiment}-{}", i % e), None),
        };
        let o = Observation {
            experiment: &experiment,
            variant: if i % 2 == 0 { "a" } else { "b" },
            phase: "full",
            session: session.as_deref(),
            requests: 1,
            metrics: &values,
        };
        assert!(accumulator.record(&o));
    }
}

async fn flush_all(flusher: &Flusher) -> (usize, Duration) {
    let started = Instant::now();
    let mut keys = 0;
    while flusher.stats().pending_entries > 0 {
        keys += ok(flusher.flush_now().await, "flush");
    }
    (keys, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn flush_throughput_from_one_writer() {
    for backend in BACKENDS {
        // Ten requests per session per flush; or request-level keys only.
        let mixes = [(3_000, Mix::Sessions(300)), (3_000, Mix::Experiments(250))];
        for (requests, mix) in mixes {
            let f = Fixture::new(backend).await;
            let (accumulator, flusher) = flusher(&f.store);
            record(&accumulator, "bench", requests, mix, 0);
            let (keys, took) = flush_all(&flusher).await;
            let increments = requests * 2;
            println!(
                "flush {backend:?}: {requests} requests over {mix:?}: {keys} keys in {:.2} s = \
                 {:.0} increments/s, {:.0} keys/s",
                took.as_secs_f64(),
                increments as f64 / took.as_secs_f64(),
                keys as f64 / took.as_secs_f64()
            );
        }
    }
}

/// Median time of 21 reads of each experiment, taken in turns so that
/// both see the same server.
async fn median_reads(store: &Store, experiments: [&str; 2]) -> [Duration; 2] {
    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..21 {
        for (i, experiment) in experiments.iter().enumerate() {
            let started = Instant::now();
            let results = ok(store.results(experiment).await, "results");
            times[i].push(started.elapsed());
            assert_eq!(results.variants.len(), 2);
        }
    }
    times.map(|mut t| {
        t.sort();
        t[10]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn reading_results_costs_the_same_after_100x_the_requests() {
    for backend in BACKENDS {
        let f = Fixture::new(backend).await;
        let (accumulator, flusher) = flusher(&f.store);
        // Sessions never enter the read path, so few keep the run short.
        record(&accumulator, "small", 1_000, Mix::Sessions(100), 0);
        record(&accumulator, "large", 100_000, Mix::Sessions(300), 100);
        flush_all(&flusher).await;
        let medians = median_reads(&f.store, ["small", "large"]).await;
        for (experiment, median) in ["small", "large"].iter().zip(medians) {
            let results = ok(f.store.results(experiment).await, "results");
            let served: u64 = results
                .variants
                .values()
                .map(|v| v.metrics["latency_ms"].requests.n)
                .sum();
            let rows: usize = results
                .variants
                .values()
                .map(|v| v.metrics.len() + v.phase_sessions.len())
                .sum();
            println!(
                "read {backend:?}: {experiment} ({served} requests): median {:.2} ms over {rows} counter keys",
                median.as_secs_f64() * 1000.0
            );
        }
        println!(
            "read {backend:?}: counter items in the store: {}",
            f.counter_items().await
        );
    }
}
