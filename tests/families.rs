//! Every model family's body, sent by the real Rust SDK through the
//! sidecar with the recommendation intent, as the signature-checking mock
//! received it: each parameter where that family expects it, parameters
//! the family lacks absent, the app's conversation kept.
//!
//! The expectations are written here from the families' request schemas,
//! independently of the rewriter's own tables.

mod support;

use aws_sdk_bedrockruntime::primitives::Blob;
use serde_json::{Value, json};
use support::{Mock, Sidecar};

/// What a family's rewritten body must hold.
struct Case {
    model: &'static str,
    body: Value,
    /// JSON pointers that must hold exactly these values.
    exact: Vec<(&'static str, Value)>,
    /// Pointers that must hold a number at most this.
    at_most: Vec<(&'static str, f64)>,
    /// Pointers that must be absent.
    absent: Vec<&'static str>,
    /// Pointer of a text that must start with the managed prompt.
    prompt_at: Option<&'static str>,
}

const PROMPT_START: &str = "You are MangaAssist, an enthusiastic manga recommendation specialist";

fn cases() -> Vec<Case> {
    let user = "Recommend a dark fantasy manga";
    vec![
        Case {
            model: "anthropic.claude-3-haiku-20240307-v1:0",
            body: json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100,
                         "messages": [{"role": "user", "content": user}]}),
            exact: vec![
                ("/temperature", json!(0.8)),
                ("/top_k", json!(250)),
                ("/top_p", json!(0.95)),
                ("/max_tokens", json!(1024)),
                ("/stop_sequences", json!(["\n\nUser:", "\n\nHuman:"])),
            ],
            at_most: vec![],
            absent: vec!["/frequency_penalty"],
            prompt_at: Some("/system"),
        },
        Case {
            model: "amazon.nova-lite-v1:0",
            body: json!({"messages": [{"role": "user", "content": [{"text": user}]}]}),
            exact: vec![
                ("/inferenceConfig/temperature", json!(0.8)),
                ("/inferenceConfig/topP", json!(0.95)),
            ],
            at_most: vec![
                ("/inferenceConfig/maxTokens", 1024.0),
                ("/inferenceConfig/topK", 250.0),
            ],
            absent: vec!["/frequency_penalty", "/inferenceConfig/frequency_penalty"],
            prompt_at: Some("/system/0/text"),
        },
        Case {
            model: "amazon.titan-text-express-v1",
            body: json!({"inputText": user}),
            exact: vec![
                ("/textGenerationConfig/temperature", json!(0.8)),
                ("/textGenerationConfig/topP", json!(0.95)),
            ],
            at_most: vec![("/textGenerationConfig/maxTokenCount", 1024.0)],
            absent: vec!["/textGenerationConfig/topK", "/top_k", "/temperature"],
            prompt_at: Some("/inputText"),
        },
        Case {
            model: "meta.llama3-8b-instruct-v1:0",
            body: json!({"prompt": user}),
            exact: vec![("/temperature", json!(0.8)), ("/top_p", json!(0.95))],
            at_most: vec![("/max_gen_len", 1024.0)],
            absent: vec!["/top_k", "/max_tokens", "/stop"],
            prompt_at: Some("/prompt"),
        },
        Case {
            model: "mistral.mistral-7b-instruct-v0:2",
            body: json!({"prompt": format!("<s>[INST] {user} [/INST]")}),
            exact: vec![("/temperature", json!(0.8)), ("/top_p", json!(0.95))],
            at_most: vec![("/top_k", 250.0), ("/max_tokens", 1024.0)],
            absent: vec!["/frequency_penalty", "/stop_sequences"],
            prompt_at: None,
        },
        Case {
            model: "cohere.command-r-v1:0",
            body: json!({"message": user}),
            exact: vec![
                ("/temperature", json!(0.8)),
                ("/p", json!(0.95)),
                ("/frequency_penalty", json!(0.3)),
            ],
            at_most: vec![("/k", 250.0), ("/max_tokens", 1024.0)],
            absent: vec!["/top_p", "/top_k"],
            prompt_at: Some("/preamble"),
        },
        Case {
            model: "ai21.jamba-1-5-mini-v1:0",
            body: json!({"messages": [{"role": "user", "content": user}]}),
            exact: vec![
                ("/temperature", json!(0.8)),
                ("/top_p", json!(0.95)),
                ("/messages/0/role", json!("system")),
            ],
            at_most: vec![("/max_tokens", 1024.0)],
            absent: vec!["/top_k", "/frequency_penalty"],
            prompt_at: Some("/messages/0/content"),
        },
    ]
}

fn received(mock: &Mock) -> Value {
    use base64::Engine;
    let records = mock.requests();
    let record = records
        .last()
        .unwrap_or_else(|| panic!("nothing reached the mock"));
    assert_eq!(
        record["verification"]["ok"], true,
        "{}",
        record["verification"]
    );
    let raw = base64::engine::general_purpose::STANDARD
        .decode(record["body_b64"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_slice(&raw).unwrap_or_else(|e| panic!("{e}"))
}

fn check(case: &Case, sent: &Value) {
    let m = case.model;
    for (pointer, expected) in &case.exact {
        assert_eq!(
            sent.pointer(pointer),
            Some(expected),
            "{m}: {pointer} in {sent}"
        );
    }
    for (pointer, limit) in &case.at_most {
        let value = sent.pointer(pointer).and_then(Value::as_f64);
        assert!(
            value.is_some_and(|v| v >= 1.0 && v <= *limit),
            "{m}: {pointer} = {value:?} in {sent}"
        );
    }
    for pointer in &case.absent {
        assert_eq!(
            sent.pointer(pointer),
            None,
            "{m}: {pointer} must not be sent: {sent}"
        );
    }
    if let Some(pointer) = case.prompt_at {
        let text = sent
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert!(
            text.contains(PROMPT_START),
            "{m}: no managed prompt at {pointer}: {sent}"
        );
    }
    assert!(
        sent.to_string().contains("Recommend a dark fantasy manga"),
        "{m}: the app's turn was lost"
    );
}

#[tokio::test]
async fn every_family_gets_the_profile_in_its_own_schema() {
    let mock = Mock::start();
    let sidecar = Sidecar::start(&mock.url(), &[]);
    let client = support::sdk_client(&sidecar.url());
    for case in cases() {
        client
            .invoke_model()
            .model_id(case.model)
            .body(Blob::new(case.body.to_string()))
            .customize()
            .mutate_request(|r| {
                r.headers_mut().insert("x-intent", "recommendation");
                r.headers_mut().insert("x-session-id", "family-test");
            })
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: {:?}", case.model, e.into_service_error()));
        check(&case, &received(&mock));
    }
}
