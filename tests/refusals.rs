//! Requests the sidecar answers itself, each with Bedrock's error shape and
//! a message that says what happened; nothing reaches the upstream.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine;

use support::{Mock, Sidecar, http};

const INVOKE: &str = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke";

fn sidecar_with(mock: &Mock, config: &str) -> (Sidecar, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("sidecar.toml");
    std::fs::write(&path, config).unwrap_or_else(|e| panic!("{e}"));
    let arg = path.display().to_string();
    (Sidecar::start(&mock.url(), &["--config", &arg]), dir)
}

/// Sends raw request bytes and returns the raw response head and body.
fn exchange(port: u16, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("{e}"));
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    stream.write_all(request).unwrap_or_else(|e| panic!("{e}"));
    let mut raw = String::new();
    let _ = stream.read_to_string(&mut raw);
    raw
}

fn assert_bedrock_error(raw: &str, status: &str, error_type: &str, says: &str) {
    let lower = raw.to_ascii_lowercase();
    assert!(raw.starts_with(&format!("HTTP/1.1 {status}")), "{raw}");
    assert!(
        lower.contains(&format!(
            "x-amzn-errortype: {}:",
            error_type.to_ascii_lowercase()
        )),
        "{raw}"
    );
    assert!(lower.contains("x-tuner-error-source: sidecar"), "{raw}");
    assert!(raw.contains(r#"{"message":""#), "{raw}");
    assert!(raw.contains(says), "expected {says:?} in {raw}");
}

#[test]
fn a_body_over_the_limit_is_a_validation_error() {
    let mock = Mock::start();
    let (sidecar, _dir) = sidecar_with(&mock, "[proxy]\nmax_body_bytes = 1000\n");
    let body = "x".repeat(1001);
    let request = format!(
        "POST {INVOKE} HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\nConnection: close\r\n\r\n{body}"
    );
    let raw = exchange(sidecar.port, request.as_bytes());
    assert_bedrock_error(&raw, "400", "ValidationException", "larger than 1000 bytes");
    // Chunked bodies have no declared length: the limit applies as they arrive.
    let chunk = "x".repeat(600);
    let request = format!(
        "POST {INVOKE} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         258\r\n{chunk}\r\n258\r\n{chunk}\r\n0\r\n\r\n"
    );
    let raw = exchange(sidecar.port, request.as_bytes());
    assert_bedrock_error(&raw, "400", "ValidationException", "larger than 1000 bytes");
    assert!(mock.requests().is_empty());
    let rejected = sidecar.metric("bedrock_tuner_requests_total{", &["outcome=\"rejected\""]);
    assert_eq!(rejected, 2.0);
}

#[test]
fn the_body_budget_turns_memory_pressure_into_a_retryable_503() {
    let mock = Mock::start();
    let (sidecar, _dir) = sidecar_with(&mock, "[proxy]\nbody_budget_bytes = 5000\n");
    // A slow client holds 4000 bytes of the budget while it uploads.
    let prefix = r#"{"anthropic_version":"bedrock-2023-05-31","max_tokens":8,"messages":[{"role":"user","content":""#;
    let suffix = r#""}]}"#;
    let full = format!(
        "{prefix}{}{suffix}",
        "z".repeat(4000 - prefix.len() - suffix.len())
    );
    let mut slow =
        TcpStream::connect(("127.0.0.1", sidecar.port)).unwrap_or_else(|e| panic!("{e}"));
    let head = format!(
        "POST {INVOKE} HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\nConnection: close\r\n\r\n"
    );
    slow.write_all(head.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    slow.write_all(&full.as_bytes()[..100])
        .unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(300));
    let body = format!("{{\"p\":\"{}\"}}", "y".repeat(1990));
    let (status, reply) = http(sidecar.port, "POST", INVOKE, &body);
    assert_eq!(status, 503, "{reply}");
    assert!(reply.contains("proxy.body_budget_bytes"), "{reply}");
    // Once the slow upload completes, its budget is released again.
    slow.write_all(&full.as_bytes()[100..])
        .unwrap_or_else(|e| panic!("{e}"));
    let mut answer = String::new();
    let _ = slow.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = slow.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // The upload arrived in two pieces; it must leave whole and signed.
    let forwarded = mock.requests();
    let record = forwarded
        .last()
        .unwrap_or_else(|| panic!("nothing forwarded"));
    assert_eq!(
        record["verification"]["ok"], true,
        "{}",
        record["verification"]
    );
    let sent = base64::engine::general_purpose::STANDARD
        .decode(record["body_b64"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    // The default profile may add parameters; the prompt must be intact.
    let sent: serde_json::Value = serde_json::from_slice(&sent).unwrap_or_else(|e| panic!("{e}"));
    let uploaded: serde_json::Value = serde_json::from_str(&full).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        sent["messages"] == uploaded["messages"],
        "the prompt changed in transit"
    );
    let (status, reply) = http(sidecar.port, "POST", INVOKE, &full);
    assert_eq!(status, 200, "{reply}");
}

#[test]
fn models_outside_the_allow_list_are_denied() {
    let mock = Mock::start();
    let config = "[proxy]\nallowed_models = [\"anthropic.claude-3-haiku-20240307-v1:0\"]\n";
    let (sidecar, _dir) = sidecar_with(&mock, config);
    assert_eq!(http(sidecar.port, "POST", INVOKE, "{}").0, 200);
    let other = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse";
    let request = format!(
        "POST {other} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    let raw = exchange(sidecar.port, request.as_bytes());
    assert_bedrock_error(&raw, "403", "AccessDeniedException", "proxy.allowed_models");
    assert_eq!(mock.requests().len(), 1);
}

#[test]
fn a_call_signed_for_another_region_is_not_moved() {
    let mock = Mock::start();
    let sidecar = Sidecar::start(&mock.url(), &[]);
    let auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261203/eu-west-1/bedrock/aws4_request, \
                SignedHeaders=host;x-amz-date, Signature=00";
    let request = format!(
        "POST {INVOKE} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Length: 2\r\n\
         Connection: close\r\n\r\n{{}}"
    );
    let raw = exchange(sidecar.port, request.as_bytes());
    assert_bedrock_error(
        &raw,
        "400",
        "ValidationException",
        "signed for region eu-west-1",
    );
    assert!(mock.requests().is_empty());
}

#[test]
fn an_unreachable_upstream_is_a_clear_retryable_error() {
    let closed = support::free_port();
    let sidecar = Sidecar::start(&format!("http://127.0.0.1:{closed}"), &[]);
    let request = format!(
        "POST {INVOKE} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    let raw = exchange(sidecar.port, request.as_bytes());
    assert_bedrock_error(
        &raw,
        "503",
        "ServiceUnavailableException",
        "could not reach the upstream",
    );
    assert!(raw.contains("connect"), "{raw}");
    let counted = sidecar.metric(
        "bedrock_tuner_requests_total{",
        &["outcome=\"upstream_unreachable\""],
    );
    assert_eq!(counted, 1.0);
}
