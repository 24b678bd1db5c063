//! The Rust AWS SDK, with credentials of its own, talking to the sidecar,
//! which re-signs for the mock upstream; the mock checks every signature
//! with botocore's signer. The SDK's own parsers read the answers and the
//! streamed events.

mod support;

use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, ConverseStreamOutput, Message, ResponseStream,
};
use serde_json::Value;
use support::{APP_KEY, Mock, SIDECAR_KEY, Sidecar, recorded_header};

const HAIKU: &str = "anthropic.claude-3-haiku-20240307-v1:0";
const PROFILE_ARN: &str = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0";

fn claude_body() -> Blob {
    Blob::new(
        serde_json::json!({
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": "Where is order 123?"}],
        })
        .to_string(),
    )
}

fn user(text: &str) -> Message {
    Message::builder()
        .role(ConversationRole::User)
        .content(ContentBlock::Text(text.into()))
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The model id as the SDK puts it in the path: one label, `:` and `/`
/// percent-encoded.
fn escaped(model: &str) -> String {
    model.replace(':', "%3A").replace('/', "%2F")
}

/// The one request the mock saw last, checked as re-signed by the sidecar.
fn assert_resigned(mock: &Mock, expected_path: &str) -> Value {
    let records = mock.requests();
    let record = records
        .last()
        .cloned()
        .unwrap_or_else(|| panic!("the mock saw nothing"));
    let v = &record["verification"];
    assert_eq!(v["ok"], true, "signature rejected: {}", v["reason"]);
    assert_eq!(v["access_key"], SIDECAR_KEY);
    assert_eq!(record["path"], expected_path);
    let auth = recorded_header(&record, "authorization").unwrap_or_default();
    assert!(
        !auth.contains(APP_KEY),
        "the app's key reached the upstream: {auth}"
    );
    assert_eq!(recorded_header(&record, "x-intent"), None);
    assert_eq!(recorded_header(&record, "x-session-id"), None);
    record
}

async fn invoke(client: &Client, model: &str) -> Value {
    let out = client
        .invoke_model()
        .model_id(model)
        .content_type("application/json")
        .body(claude_body())
        .customize()
        .mutate_request(|r| {
            r.headers_mut().insert("x-intent", "order_status");
            r.headers_mut().insert("x-session-id", "session-1");
        })
        .send()
        .await
        .unwrap_or_else(|e| panic!("invoke_model: {:?}", e.into_service_error()));
    serde_json::from_slice(out.body().as_ref()).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn invoke_model_with_plain_ids_and_profile_arns() {
    let mock = Mock::start();
    let sidecar = Sidecar::start(&mock.url(), &[]);
    let client = support::sdk_client(&sidecar.url());
    for model in [HAIKU, PROFILE_ARN] {
        let answer = invoke(&client, model).await;
        assert!(
            answer["usage"]["output_tokens"].as_u64().is_some(),
            "{answer}"
        );
        let record = assert_resigned(&mock, &format!("/model/{}/invoke", escaped(model)));
        // The order_status profile, written the way Claude expects it:
        // parameters, the managed prompt, two examples before the app's turn.
        let body = base64_decode(record["body_b64"].as_str().unwrap_or_default());
        let sent: Value = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sent["temperature"], 0.15, "{sent}");
        assert_eq!(sent["top_k"], 40);
        assert_eq!(sent["top_p"], 0.7);
        assert_eq!(sent["max_tokens"], 256);
        assert_eq!(
            sent["stop_sequences"],
            serde_json::json!(["\n\nUser:", "\n\nHuman:"])
        );
        let system = sent["system"].as_str().unwrap_or_default();
        assert!(
            system.starts_with("You are MangaAssist, a precise order-tracking"),
            "{system}"
        );
        let messages = sent["messages"].as_array().cloned().unwrap_or_default();
        assert_eq!(
            messages.len(),
            5,
            "two example pairs and the app's turn: {sent}"
        );
        assert_eq!(
            messages[4],
            serde_json::json!({"role": "user", "content": "Where is order 123?"})
        );
        assert_eq!(messages[0]["role"], "user");
        assert_eq!(messages[1]["role"], "assistant");
    }
    let counted = sidecar.metric(
        "bedrock_tuner_requests_total{",
        &[
            "operation=\"invoke\"",
            "intent=\"order_status\"",
            "outcome=\"ok\"",
        ],
    );
    assert_eq!(counted, 2.0);
}

#[tokio::test]
async fn converse_with_plain_ids_and_profile_arns() {
    let mock = Mock::start();
    let sidecar = Sidecar::start(&mock.url(), &[]);
    let client = support::sdk_client(&sidecar.url());
    for model in [HAIKU, PROFILE_ARN] {
        let out = client
            .converse()
            .model_id(model)
            .messages(user("Recommend a manga like Vinland Saga"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("converse: {:?}", e.into_service_error()));
        assert!(out.usage().map(|u| u.output_tokens()).unwrap_or(0) > 0);
        assert_resigned(&mock, &format!("/model/{}/converse", escaped(model)));
    }
    let tokens = sidecar.metric("bedrock_tuner_tokens_total{", &["direction=\"output\""]);
    assert!(tokens > 0.0, "no output tokens counted");
}

#[tokio::test]
async fn invoke_stream_arrives_event_by_event() {
    let mock = Mock::start();
    let sidecar = Sidecar::start(&mock.url(), &[]);
    let client = support::sdk_client(&sidecar.url());
    for model in [HAIKU, PROFILE_ARN] {
        let mut out = client
            .invoke_model_with_response_stream()
            .model_id(model)
            .body(claude_body())
            .send()
            .await
            .unwrap_or_else(|e| panic!("invoke stream: {:?}", e.into_service_error()));
        // The mock holds every event after the first until released: a
        // sidecar that buffered the stream would never deliver this one.
        let first = out.body.recv().await.unwrap_or_else(|e| panic!("{e:?}"));
        assert!(matches!(first, Some(ResponseStream::Chunk(_))), "{first:?}");
        mock.control("/_mock/release", "{}");
        let mut events = 1;
        while let Some(event) = out.body.recv().await.unwrap_or_else(|e| panic!("{e:?}")) {
            assert!(matches!(event, ResponseStream::Chunk(_)));
            events += 1;
        }
        assert!(events > 2, "only {events} events");
        let record = assert_resigned(
            &mock,
            &format!("/model/{}/invoke-with-response-stream", escaped(model)),
        );
        assert_eq!(record["gate"], "released", "{record}");
    }
    assert_eq!(sidecar.metric("bedrock_tuner_in_flight_requests", &[]), 0.0);
    let ttfb = sidecar.metric(
        "bedrock_tuner_time_to_first_byte_seconds_count{",
        &["invoke_stream"],
    );
    assert_eq!(ttfb, 2.0);
}

#[tokio::test]
async fn converse_stream_arrives_event_by_event() {
    let mock = Mock::start();
    let sidecar = Sidecar::start(&mock.url(), &[]);
    let client = support::sdk_client(&sidecar.url());
    for model in [HAIKU, PROFILE_ARN] {
        let mut out = client
            .converse_stream()
            .model_id(model)
            .messages(user("hello"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("converse stream: {:?}", e.into_service_error()));
        let first = out.stream.recv().await.unwrap_or_else(|e| panic!("{e:?}"));
        assert!(
            matches!(first, Some(ConverseStreamOutput::MessageStart(_))),
            "{first:?}"
        );
        mock.control("/_mock/release", "{}");
        let mut saw_metadata = false;
        while let Some(event) = out.stream.recv().await.unwrap_or_else(|e| panic!("{e:?}")) {
            saw_metadata |= matches!(event, ConverseStreamOutput::Metadata(_));
        }
        assert!(saw_metadata, "no metadata event reached the SDK");
        assert_resigned(&mock, &format!("/model/{}/converse-stream", escaped(model)));
    }
    // No intent header: "hello" is classified by the rules as chitchat.
    let input = sidecar.metric(
        "bedrock_tuner_tokens_total{",
        &["direction=\"input\"", "intent=\"chitchat\""],
    );
    assert!(input > 0.0, "stream tokens were not decoded on the side");
    let classified = sidecar.metric(
        "bedrock_tuner_intent_resolutions_total{",
        &["intent=\"chitchat\"", "source=\"rules\""],
    );
    assert_eq!(classified, 2.0);
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap_or_else(|e| panic!("{e}"))
}
