//! The sidecar as an operator runs it: graceful shutdown with a stream in
//! flight, metrics that promtool accepts, SDK retries counted as such.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Mock, Sidecar, http};

const STREAM: &str = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke-with-response-stream";
const INVOKE: &str = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke";
const BODY: &str = r#"{"anthropic_version":"bedrock-2023-05-31","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}"#;

fn post(path: &str, extra_headers: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\n{extra_headers}Content-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    )
}

#[test]
fn sigterm_drains_a_stream_in_flight_then_exits_zero() {
    let mock = Mock::start_with(&["--gate-timeout", "20"]);
    let sidecar = Sidecar::start(&mock.url(), &[]);
    drain_on_sigterm(&mock, sidecar);
}

/// One usable CPU selects the single-threaded scheduler: the same signed,
/// streamed, drained request must come out of it.
#[test]
fn a_sidecar_on_one_cpu_streams_and_drains_the_same() {
    let mock = Mock::start_with(&["--gate-timeout", "20"]);
    let sidecar = Sidecar::start_on_one_cpu(&mock.url());
    let pid = sidecar.process.child.id();
    let affinity = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    assert!(
        affinity.contains("Cpus_allowed_list:\t0\n"),
        "not pinned to CPU 0: {affinity}"
    );
    drain_on_sigterm(&mock, sidecar);
    let recorded = mock.requests();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    // The mock answered 200, so it verified this signature as the sidecar's.
    let authorization = support::recorded_header(&recorded[0], "authorization").unwrap_or("");
    let credential = format!("Credential={}/", support::SIDECAR_KEY);
    assert!(authorization.contains(&credential), "{authorization}");
}

fn drain_on_sigterm(mock: &Mock, mut sidecar: Sidecar) {
    let mut stream = TcpStream::connect(sidecar.addr()).unwrap_or_else(|e| panic!("{e}"));
    stream
        .write_all(post(STREAM, "").as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    mock.control(
        "/_mock/wait",
        r#"{"until": "holding", "count": 1, "timeout": 10}"#,
    );

    let pid = sidecar.process.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(killed.is_ok_and(|s| s.success()));
    // New connections are refused once the listener is closed...
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(sidecar.addr()).is_ok() {
        assert!(
            Instant::now() < deadline,
            "still accepting connections after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // ...while the stream in flight still runs to its end.
    mock.control("/_mock/release", "{}");
    let mut answer = Vec::new();
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.ends_with("0\r\n\r\n"), "the stream was cut short");
    assert!(
        text.contains("message_stop") || answer.len() > 1000,
        "{text}"
    );
    let status = wait_exit(&mut sidecar, Duration::from_secs(10));
    assert_eq!(status, Some(0), "the sidecar did not exit 0");
}

fn wait_exit(sidecar: &mut Sidecar, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = sidecar.process.child.try_wait() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn metrics_pass_promtool_after_traffic_of_every_kind() {
    let mock = Mock::start_with(&["--no-gate"]);
    let sidecar = Sidecar::start(&mock.url(), &[]);
    let requests = [
        post(INVOKE, "x-intent: order_status\r\nx-session-id: s1\r\n"),
        post(STREAM, "x-intent: recommendation\r\n"),
        post(
            "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
            "",
        ),
        post("/guardrail/g1/version/1/apply", ""),
    ];
    for request in &requests {
        let mut s = TcpStream::connect(sidecar.addr()).unwrap_or_else(|e| panic!("{e}"));
        s.write_all(request.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    }
    let page = sidecar.metrics();
    for family in [
        "bedrock_tuner_requests_total",
        "bedrock_tuner_request_duration_seconds_bucket",
        "bedrock_tuner_upstream_duration_seconds_bucket",
        "bedrock_tuner_overhead_seconds_bucket",
        "bedrock_tuner_time_to_first_byte_seconds_bucket",
        "bedrock_tuner_tokens_total",
        "bedrock_tuner_in_flight_requests",
    ] {
        assert!(page.contains(family), "{family} missing from /metrics");
    }
    assert!(!page.contains("s1"), "a session id leaked into a label");
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("promtool is needed (Debian package prometheus): {e}"));
    if let Some(mut stdin) = promtool.stdin.take() {
        stdin
            .write_all(page.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let out = promtool
        .wait_with_output()
        .unwrap_or_else(|e| panic!("{e}"));
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool: {said}"
    );
}

#[test]
fn an_sdk_retry_is_counted_as_a_retry_of_one_invocation() {
    let mock = Mock::start();
    let sidecar = Sidecar::start(&mock.url(), &[]);
    for attempt in 1..=2 {
        let headers = format!(
            "amz-sdk-invocation-id: 4f1c-retry-test\r\namz-sdk-request: attempt={attempt}; max=3\r\n"
        );
        let mut s = TcpStream::connect(sidecar.addr()).unwrap_or_else(|e| panic!("{e}"));
        s.write_all(post(INVOKE, &headers).as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    }
    assert_eq!(
        sidecar.metric("bedrock_tuner_requests_total{", &["invoke"]),
        2.0
    );
    assert_eq!(
        sidecar.metric("bedrock_tuner_retries_total{", &["invoke"]),
        1.0
    );
    assert_eq!(http(sidecar.admin_port, "GET", "/readyz", "").0, 200);
}
