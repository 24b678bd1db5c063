//! What a Bedrock answer says about itself: token counts, stop reason,
//! mid-stream exceptions. Read from response headers, JSON bodies and
//! decoded event-stream messages, never from the forwarded bytes' path.

use aws_smithy_types::event_stream::{HeaderValue, Message};
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

use fields::AnswerFields;

mod fields;

const INPUT_TOKEN_COUNT: http::HeaderName =
    http::HeaderName::from_static("x-amzn-bedrock-input-token-count");
const OUTPUT_TOKEN_COUNT: http::HeaderName =
    http::HeaderName::from_static("x-amzn-bedrock-output-token-count");

/// What the sidecar learned from one answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub stop_reason: Option<String>,
    /// The `:exception-type` of a mid-stream exception frame.
    pub exception: Option<String>,
    /// Events decoded from a stream.
    pub events: u64,
}

impl Usage {
    /// Token counts from `X-Amzn-Bedrock-*-Token-Count` headers.
    pub fn from_headers(headers: &http::HeaderMap) -> Self {
        let count = |name: &http::HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok())
        };
        Usage {
            input_tokens: count(&INPUT_TOKEN_COUNT),
            output_tokens: count(&OUTPUT_TOKEN_COUNT),
            ..Usage::default()
        }
    }

    /// Fills what is still unknown from a whole JSON answer (InvokeModel of
    /// any family, or Converse). Only the fields that can carry usage are
    /// parsed; the answer's content is skipped over.
    pub fn absorb_json_body(&mut self, body: &[u8]) {
        if let Ok(fields) = serde_json::from_slice::<AnswerFields>(body) {
            self.absorb_fields(&fields);
        }
    }

    /// The same, from an already parsed answer.
    pub fn absorb_json_value(&mut self, json: &Value) {
        if let Ok(fields) = AnswerFields::deserialize(json) {
            self.absorb_fields(&fields);
        }
    }

    /// Reads one decoded event-stream message.
    pub fn absorb_event(&mut self, message: &Message) {
        self.events += 1;
        match header(message, ":message-type") {
            Some("exception") | Some("error") => {
                let kind = header(message, ":exception-type").or(header(message, ":error-code"));
                self.exception = Some(kind.unwrap_or("unknown").to_string());
            }
            _ => self.absorb_event_payload(message.payload()),
        }
    }

    fn absorb_event_payload(&mut self, payload: &[u8]) {
        let Ok(json) = serde_json::from_slice::<Value>(payload) else {
            return;
        };
        // InvokeModelWithResponseStream wraps the model's own event in
        // base64 under `bytes`; ConverseStream events are plain JSON.
        match json.get("bytes").and_then(Value::as_str) {
            Some(b64) => {
                if let Ok(inner) = base64::engine::general_purpose::STANDARD.decode(b64) {
                    self.absorb_json_body(&inner);
                }
            }
            None => self.absorb_json_value(&json),
        }
    }

    fn absorb_fields(&mut self, answer: &AnswerFields) {
        let places = [
            answer.metrics.as_ref(),
            answer.usage.as_ref(),
            answer.message_usage.as_ref(),
            Some(&answer.top),
        ];
        let input = places.iter().flatten().find_map(|c| c.input());
        let output = places.iter().flatten().find_map(|c| c.output());
        // A stream reports tokens more than once (message_start, then the
        // final metrics): the later figure is the complete one.
        if input.is_some() {
            self.input_tokens = input;
        }
        if output.is_some() {
            self.output_tokens = output;
        }
        let stop = [Some(&answer.top), answer.delta.as_ref()]
            .into_iter()
            .flatten()
            .find_map(|c| c.stop());
        if let Some(stop) = stop {
            self.stop_reason = Some(stop.to_string());
        }
    }
}

// Where the families put usage in an answer: objects that hold the counts
// (Claude's stream events nest them under `message`), and the names of the
// counts and the stop reason, found in those objects or at the top level.
const METRICS: &str = "amazon-bedrock-invocationMetrics";
const USAGE: &str = "usage";
const DELTA: &str = "delta";
const MESSAGE: &str = "message";
const INPUT_KEYS: [&str; 5] = [
    "inputTokenCount",
    "inputTokens",
    "input_tokens",
    "prompt_token_count",
    "inputTextTokenCount",
];
const OUTPUT_KEYS: [&str; 4] = [
    "outputTokenCount",
    "outputTokens",
    "output_tokens",
    "generation_token_count",
];
const STOP_KEYS: [&str; 2] = ["stop_reason", "stopReason"];

fn header<'a>(message: &'a Message, name: &str) -> Option<&'a str> {
    message
        .headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .and_then(|h| match h.value() {
            HeaderValue::String(s) => Some(s.as_str()),
            _ => None,
        })
}

/// Closed set of stop reasons for metric labels.
pub fn stop_reason_label(reason: Option<&str>) -> &'static str {
    match reason {
        None => "none",
        Some("end_turn") => "end_turn",
        Some("max_tokens") | Some("length") => "max_tokens",
        Some("stop_sequence") => "stop_sequence",
        Some("tool_use") => "tool_use",
        Some("guardrail_intervened") | Some("content_filtered") => "filtered",
        Some(_) => "other",
    }
}

/// Closed set of exception names for metric labels.
pub fn exception_label(exception: &str) -> &'static str {
    match exception {
        "throttlingException" => "throttling",
        "modelStreamErrorException" => "model_stream_error",
        "validationException" => "validation",
        "modelTimeoutException" => "model_timeout",
        "serviceUnavailableException" => "service_unavailable",
        "internalServerException" => "internal_server",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::event_stream::Header;

    fn event(payload: &str) -> Message {
        Message::new(payload.as_bytes().to_vec()).add_header(Header::new(
            ":message-type",
            HeaderValue::String("event".into()),
        ))
    }

    /// Usage read the plain way, by looking fields up in a parsed tree:
    /// the reference the lean reader must agree with.
    fn usage_by_lookup(json: &Value) -> Usage {
        let message_usage = json.get(MESSAGE).and_then(|m| m.get(USAGE));
        let places = [
            json.get(METRICS),
            json.get(USAGE),
            message_usage,
            Some(json),
        ];
        let pick = |keys: &[&str]| {
            places
                .into_iter()
                .flatten()
                .flat_map(|obj| keys.iter().filter_map(|k| obj.get(*k)?.as_u64()))
                .next()
        };
        let stop = [Some(json), json.get(DELTA)]
            .into_iter()
            .flatten()
            .find_map(|o| STOP_KEYS.iter().find_map(|k| o.get(*k))?.as_str());
        Usage {
            input_tokens: pick(&INPUT_KEYS),
            output_tokens: pick(&OUTPUT_KEYS),
            stop_reason: stop.map(str::to_string),
            ..Usage::default()
        }
    }

    #[test]
    fn reading_only_the_usage_fields_agrees_with_looking_them_up() {
        let answers = [
            r#"{"id":"m","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":{"input_tokens":12,"output_tokens":34}}"#,
            r#"{"output":{"message":{"role":"assistant","content":[{"text":"x"}]}},"stopReason":"max_tokens","usage":{"inputTokens":5,"outputTokens":6,"totalTokens":11}}"#,
            r#"{"inputTextTokenCount":7,"results":[{"tokenCount":8,"outputText":"t","completionReason":"FINISH"}]}"#,
            r#"{"generation":"g","prompt_token_count":9,"generation_token_count":10,"stop_reason":"length"}"#,
            r#"{"type":"message_start","message":{"usage":{"input_tokens":3,"output_tokens":1}}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"stop_sequence"},"usage":{"output_tokens":4}}"#,
            r#"{"amazon-bedrock-invocationMetrics":{"inputTokenCount":1,"outputTokenCount":2},"outputs":[]}"#,
            r#"{"usage":"not an object","stop_reason":7}"#,
            r#"{"usage":{"input_tokens":-3,"inputTokens":2.5,"inputTokenCount":4},"output_tokens":[1]}"#,
            r#"{"stop_reason":null,"stopReason":"end_turn","delta":{"stopReason":"x"}}"#,
            r#"{"message":"text","delta":[{"stop_reason":"y"}],"usage":{"output_tokens":18446744073709551615}}"#,
            r#"{"message":{"usage":[1,2]},"usage":{"usage":{"input_tokens":1}},"input_tokens":6}"#,
            r#"{"usage":{"input_tokens":1},"usage":{"input_tokens":2},"stop_reason":"a","stop_reason":"b"}"#,
            r#"{"in\u0070ut_tokens":5,"stop\u005freason":"escaped keys","nested":{"input_tokens":9}}"#,
            r#"{"amazon-bedrock-invocationMetrics":{"outputTokenCount":1e3},"usage":{"output_tokens":true}}"#,
            r#"{}"#,
        ];
        for answer in answers {
            let tree: Value = serde_json::from_str(answer).expect("valid");
            let expected = usage_by_lookup(&tree);
            let mut lean = Usage::default();
            lean.absorb_json_body(answer.as_bytes());
            assert_eq!(lean, expected, "{answer}");
            let mut from_tree = Usage::default();
            from_tree.absorb_json_value(&tree);
            assert_eq!(from_tree, expected, "{answer}");
        }
        let mut untouched = Usage::default();
        for not_an_object in ["[1]", "\"usage\"", "{\"usage\":", "7"] {
            untouched.absorb_json_body(not_an_object.as_bytes());
        }
        assert_eq!(untouched, Usage::default());
    }

    #[test]
    fn claude_invoke_body() {
        let mut u = Usage::default();
        u.absorb_json_body(
            br#"{"content":[],"stop_reason":"max_tokens","usage":{"input_tokens":12,"output_tokens":34}}"#,
        );
        assert_eq!((u.input_tokens, u.output_tokens), (Some(12), Some(34)));
        assert_eq!(u.stop_reason.as_deref(), Some("max_tokens"));
    }

    #[test]
    fn invoke_stream_final_chunk_metrics() {
        let inner = r#"{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":7,"outputTokenCount":9}}"#;
        let b64 = base64::engine::general_purpose::STANDARD.encode(inner);
        let mut u = Usage::default();
        u.absorb_event(&event(&format!(r#"{{"bytes":"{b64}"}}"#)));
        assert_eq!((u.input_tokens, u.output_tokens), (Some(7), Some(9)));
    }

    #[test]
    fn converse_stream_events() {
        let mut u = Usage::default();
        u.absorb_event(&event(r#"{"stopReason":"end_turn"}"#));
        u.absorb_event(&event(r#"{"usage":{"inputTokens":3,"outputTokens":4,"totalTokens":7},"metrics":{"latencyMs":5}}"#));
        assert_eq!(
            (u.input_tokens, u.output_tokens, u.events),
            (Some(3), Some(4), 2)
        );
        assert_eq!(u.stop_reason.as_deref(), Some("end_turn"));
    }

    #[test]
    fn exception_frames_are_recognised() {
        let m = Message::new(&b"{}"[..])
            .add_header(Header::new(
                ":message-type",
                HeaderValue::String("exception".into()),
            ))
            .add_header(Header::new(
                ":exception-type",
                HeaderValue::String("throttlingException".into()),
            ));
        let mut u = Usage::default();
        u.absorb_event(&m);
        assert_eq!(u.exception.as_deref(), Some("throttlingException"));
        assert_eq!(exception_label("throttlingException"), "throttling");
    }
}
