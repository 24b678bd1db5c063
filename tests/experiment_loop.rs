//! The whole experiment loop through the real binary: variants chosen per
//! session, observations flushed to the embedded store with exact counts,
//! feedback recorded against the variant that served the answer, and the
//! results read back through the store's own interface.

mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use bedrock_tuner::store::{RawStoreConfig, Store};
use support::{Mock, Sidecar, http, request};

const PATH: &str = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke";
const BODY: &str = r#"{"anthropic_version":"bedrock-2023-05-31","max_tokens":50,"messages":[{"role":"user","content":"find Vinland Saga"}]}"#;

fn config(store_path: &str) -> String {
    format!(
        r#"
[store]
backend = "embedded"
path = {store_path:?}
flush_interval_secs = 1
refresh_interval_secs = 1

[[experiments]]
id = "search-temp"
intent = "product_search"
status = "running"
control = "A"

[[experiments.variants]]
name = "A"
weight = 0.5

[[experiments.variants]]
name = "B"
weight = 0.5
[experiments.variants.overrides]
temperature = 0.55
"#
    )
}

async fn invoke(client: &aws_sdk_bedrockruntime::Client, session: &str) {
    let session = session.to_string();
    client
        .invoke_model()
        .model_id("anthropic.claude-3-haiku-20240307-v1:0")
        .body(aws_sdk_bedrockruntime::primitives::Blob::new(BODY))
        .customize()
        .mutate_request(move |r| {
            r.headers_mut().insert("x-intent", "product_search");
            r.headers_mut().insert("x-session-id", session.clone());
        })
        .send()
        .await
        .unwrap_or_else(|e| panic!("invoke_model: {:?}", e.into_service_error()));
}

/// SHA-256 of `experiment:session`, first 53 bits, below 0.5 is A.
fn expected_variant(session: &str) -> &'static str {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("search-temp:{session}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let position = (u64::from_be_bytes(first) >> 11) as f64 / (1u64 << 53) as f64;
    if position < 0.5 { "A" } else { "B" }
}

fn wait_exit(sidecar: &mut Sidecar) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = sidecar.process.child.try_wait() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[tokio::test(flavor = "multi_thread")]
async fn observations_and_feedback_reach_the_store_exactly() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store_path = dir.path().join("results.sqlite").display().to_string();
    let mock = Mock::start_with(&["--no-gate"]);
    let (mut sidecar, _config_dir) = Sidecar::start_with_config(&mock.url(), &config(&store_path));

    // The real Rust SDK sends the traffic; the variant each session gets
    // is computed here from the definition of the assignment.
    let client = support::sdk_client(&sidecar.url());
    let mut requests_by_variant: BTreeMap<String, u64> = BTreeMap::new();
    for s in 0..12 {
        let session = format!("session-{s}");
        for _ in 0..3 {
            invoke(&client, &session).await;
            *requests_by_variant
                .entry(expected_variant(&session).into())
                .or_default() += 1;
        }
    }
    // One more through raw HTTP, to read its request id for feedback.
    let headers = [
        ("x-intent", "product_search"),
        ("x-session-id", "session-0"),
    ];
    let reply = request(sidecar.port, PATH, &headers, BODY);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let variant = reply
        .header("x-tuner-variant")
        .unwrap_or_default()
        .to_string();
    assert_eq!(variant, expected_variant("session-0"));
    *requests_by_variant.entry(variant.clone()).or_default() += 1;
    let id = reply
        .header("x-tuner-request-id")
        .unwrap_or_default()
        .to_string();
    let (first_id, first_variant) = (id, variant);
    // Feedback by request id, then by session and intent.
    let by_id = format!(r#"{{"request_id": "{first_id}", "thumbs": "up"}}"#);
    let (status, answer) = http(sidecar.admin_port, "POST", "/v1/feedback", &by_id);
    assert_eq!(status, 202, "{answer}");
    assert!(
        answer.contains(&format!("\"variant\":\"{first_variant}\"")),
        "{answer}"
    );
    let by_session = r#"{"session_id": "session-1", "intent": "product_search", "rating": 4}"#;
    let (status, answer) = http(sidecar.admin_port, "POST", "/v1/feedback", by_session);
    assert_eq!(status, 202, "{answer}");
    let unknown = r#"{"request_id": "nope", "thumbs": "up"}"#;
    let (status, answer) = http(sidecar.admin_port, "POST", "/v1/feedback", unknown);
    assert_eq!(status, 404, "{answer}");

    // Once flushed, the analysis is served as JSON and exported as gauges.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let srm = sidecar.metric("bedrock_tuner_experiment_srm_p_value{", &["search-temp"]);
        let means = sidecar.metric(
            "bedrock_tuner_experiment_metric{",
            &["metric=\"latency_ms\"", "stat=\"mean\""],
        );
        if srm > 0.0 && means > 0.0 {
            break;
        }
        assert!(Instant::now() < deadline, "no analysis gauges within 15 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, report) = http(
        sidecar.admin_port,
        "GET",
        "/v1/experiments/search-temp/analysis",
        "",
    );
    assert_eq!(status, 200, "{report}");
    let report: serde_json::Value = serde_json::from_str(&report).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report["control"], "A");
    assert_eq!(report["primary_metric"], "quality");
    assert!(report["recommendation"]["action"].is_string(), "{report}");
    let (status, _) = http(
        sidecar.admin_port,
        "GET",
        "/v1/experiments/nope/analysis",
        "",
    );
    assert_eq!(status, 404);

    // SIGTERM flushes what is still buffered before exit.
    let pid = sidecar.process.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .is_ok_and(|s| s.success())
    );
    assert_eq!(wait_exit(&mut sidecar), Some(0));

    let raw: RawStoreConfig =
        toml::from_str(&format!("backend = \"embedded\"\npath = {store_path:?}"))
            .unwrap_or_else(|e| panic!("{e}"));
    let store = Store::open(&raw.validate().unwrap_or_else(|e| panic!("{e:?}")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let results = store
        .results("search-temp")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for (variant, expected) in &requests_by_variant {
        let v = results
            .variants
            .get(variant)
            .unwrap_or_else(|| panic!("no results for {variant}"));
        let latency = &v.metrics["latency_ms"];
        assert_eq!(latency.requests.n, *expected, "variant {variant}");
        assert_eq!(
            latency.sessions.sum_m, *expected,
            "variant {variant}: session sums"
        );
        let sessions = (0..12)
            .filter(|s| expected_variant(&format!("session-{s}")) == variant)
            .count() as u64;
        assert_eq!(latency.sessions.sessions, sessions, "sessions of {variant}");
        let errors = &v.metrics["error"];
        assert_eq!(errors.requests.sum, 0.0);
        // Every answer was scored: quality and relevance in [0, 1].
        for metric in ["quality", "relevance"] {
            let m = &v.metrics[metric];
            assert_eq!(m.requests.n, *expected, "{metric} of {variant}");
            let mean = m.requests.sum / m.requests.n as f64;
            assert!((0.0..=1.0).contains(&mean), "{metric} mean {mean}");
        }
        assert_eq!(v.metrics["output_tokens"].requests.n, *expected);
    }
    let thumbs = &results.variants[&first_variant].metrics["thumbs_up"];
    assert_eq!((thumbs.requests.n, thumbs.requests.sum), (1, 1.0));
    let total_ratings: u64 = results
        .variants
        .values()
        .filter_map(|v| v.metrics.get("rating"))
        .map(|m| m.requests.n)
        .sum();
    assert_eq!(total_ratings, 1);
}
