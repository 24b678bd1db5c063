//! A/B experiments through the real binary: sticky variants whose
//! parameters and model reach the signature-checking mock, headers that
//! say what happened, sessions derived from the conversation, and
//! definitions refused with clear errors.

mod support;

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest, Sha256};
use support::{Mock, Sidecar, recorded_header, request};

const HAIKU_PATH: &str = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke";

const EXPERIMENT: &str = r#"
[[experiments]]
id = "search-temp"
intent = "product_search"
description = "Does a warmer search assistant write better listings?"
status = "running"
control = "A"
coverage = 1.0

[[experiments.variants]]
name = "A"
weight = 0.5

[[experiments.variants]]
name = "B"
weight = 0.5
model_id = "anthropic.claude-3-5-sonnet-20240620-v1:0"
[experiments.variants.overrides]
temperature = 0.55
"#;

fn body(first_user_turn: &str) -> String {
    serde_json::json!({
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": first_user_turn}],
    })
    .to_string()
}

/// The variant a session should get, computed here from the definition of
/// the assignment (SHA-256 of `experiment:session`, first 53 bits), not by
/// calling the sidecar's code.
fn expected_variant(session: &str) -> &'static str {
    let digest = Sha256::digest(format!("search-temp:{session}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let position = (u64::from_be_bytes(first) >> 11) as f64 / (1u64 << 53) as f64;
    if position < 0.5 { "A" } else { "B" }
}

fn decoded_body(record: &Value) -> Value {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(record["body_b64"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn variants_reach_the_upstream_with_their_parameters_and_model() {
    let mock = Mock::start();
    let (sidecar, _dir) = Sidecar::start_with_config(&mock.url(), EXPERIMENT);
    let mut seen = BTreeMap::new();
    for i in 0..40 {
        let session = format!("session-{i}");
        let headers = [
            ("x-intent", "product_search"),
            ("x-session-id", session.as_str()),
        ];
        let reply = request(
            sidecar.port,
            HAIKU_PATH,
            &headers,
            &body("find Berserk deluxe"),
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        let variant = reply
            .header("x-tuner-variant")
            .unwrap_or_default()
            .to_string();
        assert_eq!(variant, expected_variant(&session), "{session}");
        assert_eq!(reply.header("x-tuner-experiment"), Some("search-temp"));
        assert_eq!(reply.header("x-tuner-assignment"), Some("assigned"));
        let records = mock.requests();
        let record = records.last().unwrap_or_else(|| panic!("no request"));
        assert_eq!(
            record["verification"]["ok"], true,
            "{}",
            record["verification"]
        );
        let sent = decoded_body(record);
        let (temperature, path_model) = match variant.as_str() {
            "A" => (0.45, "anthropic.claude-3-haiku-20240307-v1%3A0"),
            _ => (0.55, "anthropic.claude-3-5-sonnet-20240620-v1%3A0"),
        };
        assert_eq!(sent["temperature"], temperature, "{sent}");
        assert_eq!(record["path"], format!("/model/{path_model}/invoke"));
        assert_eq!(recorded_header(record, "x-session-id"), None);
        *seen.entry(variant).or_insert(0) += 1;
    }
    assert!(
        seen.len() == 2,
        "both variants should appear in 40 sessions: {seen:?}"
    );
    let counted = sidecar.metric("bedrock_tuner_requests_total{", &["variant=\"B\""]);
    assert_eq!(counted, f64::from(seen["B"]));
}

#[test]
fn a_session_keeps_its_variant_and_a_derived_session_is_sticky() {
    let mock = Mock::start();
    let (sidecar, _dir) = Sidecar::start_with_config(&mock.url(), EXPERIMENT);
    let headers = [("x-intent", "product_search"), ("x-session-id", "sticky-1")];
    let first = request(sidecar.port, HAIKU_PATH, &headers, &body("a"));
    for turn in ["b", "c", "d"] {
        let again = request(sidecar.port, HAIKU_PATH, &headers, &body(turn));
        assert_eq!(
            again.header("x-tuner-variant"),
            first.header("x-tuner-variant")
        );
    }
    // No session header: the conversation's first user turn keys it, so
    // later turns of the same conversation keep their variant.
    let intent_only = [("x-intent", "product_search")];
    let turn1 = body("recommend me a shonen series");
    let mut turn3: Value = serde_json::from_str(&turn1).unwrap_or_else(|e| panic!("{e}"));
    turn3["messages"] = serde_json::json!([
        {"role": "user", "content": "recommend me a shonen series"},
        {"role": "assistant", "content": "Try Haikyu!!"},
        {"role": "user", "content": "something darker?"}]);
    let a = request(sidecar.port, HAIKU_PATH, &intent_only, &turn1);
    let b = request(sidecar.port, HAIKU_PATH, &intent_only, &turn3.to_string());
    assert_eq!(a.header("x-tuner-variant"), b.header("x-tuner-variant"));
    assert_eq!(a.header("x-tuner-assignment"), Some("assigned"));
    let derived = sidecar.metric("bedrock_tuner_experiment_assignments_total{", &["derived"]);
    assert_eq!(derived, 2.0);
}

#[test]
fn sessions_outside_the_coverage_get_the_control_and_are_not_observed() {
    let mock = Mock::start();
    let config = EXPERIMENT.replace("coverage = 1.0", "coverage = 0.0");
    let (sidecar, _dir) = Sidecar::start_with_config(&mock.url(), &config);
    let headers = [("x-intent", "product_search"), ("x-session-id", "someone")];
    let reply = request(sidecar.port, HAIKU_PATH, &headers, &body("x"));
    assert_eq!(reply.header("x-tuner-variant"), Some("A"));
    assert_eq!(reply.header("x-tuner-assignment"), Some("not_covered"));
    let observed = sidecar.metric("bedrock_tuner_requests_total{", &["variant=\"A\""]);
    assert_eq!(
        observed, 0.0,
        "an uncovered session was labelled as observed"
    );
}

#[test]
fn bad_definitions_are_refused_with_their_key_paths() {
    let bad = EXPERIMENT
        .replace("weight = 0.5\nmodel_id", "weight = 0.6\nmodel_id")
        .replace("temperature = 0.55", "temperature = 1.7")
        + "\n[[experiments]]\nid = \"second\"\nintent = \"product_search\"\nstatus = \"running\"\n\
           control = \"x\"\n[[experiments.variants]]\nname = \"x\"\nweight = 1.0\n\
           [[experiments]]\nid = \"ghost\"\nintent = \"nope\"\ncontrol = \"a\"\nvariants = []\n"
        + &EXPERIMENT.replace("id = \"search-temp\"", "id = \"search-temp-2\"");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, bad).unwrap_or_else(|e| panic!("{e}"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bedrock-tuner"))
        .args(["profiles", "list", "--config"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    for expected in [
        "experiments[0].variants: weights sum to 1.1",
        "experiments[0].variants[1].overrides.temperature: 1.7 is out of range",
        "experiments[1].variants: an experiment needs a control and at least one variant",
        "experiments[2].intent: no profile for intent `nope`",
        "experiments[3].status: a second running experiment on intent `product_search`",
    ] {
        assert!(said.contains(expected), "missing {expected:?} in:\n{said}");
    }
}
