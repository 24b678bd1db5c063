//! Editing `sidecar.toml` under traffic: every request sees the old state
//! or the new one, never a mix; an invalid edit is rejected, counted, and
//! the last good state keeps serving.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Mock, Sidecar, request};

const PATH: &str = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke";
const BODY: &str = r#"{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":"where is ORD-1?"}]}"#;

fn profile(temperature: f64, max_tokens: u32) -> String {
    format!("[profiles.order_status]\ntemperature = {temperature}\nmax_tokens = {max_tokens}\n")
}

fn sent_pairs(mock: &Mock) -> Vec<(f64, u64)> {
    use base64::Engine;
    mock.requests()
        .iter()
        .map(|r| {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(r["body_b64"].as_str().unwrap_or_default())
                .unwrap_or_default();
            let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
            (
                body["temperature"].as_f64().unwrap_or(-1.0),
                body["max_tokens"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

fn wait_for_metric(sidecar: &Sidecar, outcome: &str, count: f64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let filter = format!("outcome=\"{outcome}\"");
    while sidecar.metric("bedrock_tuner_config_reloads_total{", &[&filter]) < count {
        assert!(Instant::now() < deadline, "no {outcome} reload within 15 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_edit_applies_whole_under_traffic_and_a_bad_one_is_rejected() {
    let mock = Mock::start_with(&["--no-gate"]);
    let (sidecar, dir) = Sidecar::start_with_config(&mock.url(), &profile(0.1, 111));
    let config = dir.path().join("sidecar.toml");
    let stop = Arc::new(AtomicBool::new(false));
    let port = sidecar.port;
    let traffic = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut statuses = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let reply = request(port, PATH, &[("x-intent", "order_status")], BODY);
                statuses.push(reply.status);
            }
            statuses
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&config, profile(0.2, 222)).unwrap_or_else(|e| panic!("{e}"));
    wait_for_metric(&sidecar, "applied", 1.0);
    std::thread::sleep(Duration::from_millis(300));
    // Out of range: rejected, and 0.2/222 keeps serving.
    std::fs::write(&config, profile(3.0, 333)).unwrap_or_else(|e| panic!("{e}"));
    wait_for_metric(&sidecar, "rejected", 1.0);
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let statuses = traffic.join().unwrap_or_default();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");

    let pairs = sent_pairs(&mock);
    assert!(pairs.len() > 10, "too little traffic: {}", pairs.len());
    for pair in &pairs {
        assert!(
            *pair == (0.1, 111) || *pair == (0.2, 222),
            "a half-applied state: {pair:?}"
        );
    }
    let first_new = pairs.iter().position(|p| *p == (0.2, 222));
    let first_new = first_new.unwrap_or_else(|| panic!("the edit never applied: {pairs:?}"));
    assert!(
        pairs[first_new..].iter().all(|p| *p == (0.2, 222)),
        "the old state came back"
    );
    assert!(first_new > 0, "no request ran before the edit");
}
