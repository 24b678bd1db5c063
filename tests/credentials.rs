//! The sidecar's credentials from more than the environment: ECS container
//! credentials with a short expiry (refreshed in the background, no request
//! fails), and web identity through an STS endpoint on loopback.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use support::{Mock, REGION, SIDECAR_KEY, SIDECAR_SECRET, Sidecar, http, recorded_header};

/// Serves one fixed answer builder on a loopback port, counting calls.
struct TinyServer {
    port: u16,
    calls: Arc<AtomicUsize>,
}

impl TinyServer {
    fn start(answer: impl Fn(usize, &str) -> (String, String) + Send + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let port = listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("{e}"));
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                let mut reader = BufReader::new(&stream);
                let mut request = String::new();
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|read| read > 2) {
                    request.push_str(&line);
                    line.clear();
                }
                let (content_type, body) = answer(n, &request);
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = (&stream).write_all(reply.as_bytes());
            }
        });
        Self { port, calls }
    }
}

fn rfc3339_in(seconds: u64) -> String {
    let at = SystemTime::now() + Duration::from_secs(seconds);
    let secs = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Days since 1970-01-01 to a calendar date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn invoke_through(sidecar: &Sidecar) -> u16 {
    let body = r#"{"anthropic_version":"bedrock-2023-05-31","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}"#;
    http(
        sidecar.port,
        "POST",
        "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke",
        body,
    )
    .0
}

fn session_tokens(mock: &Mock) -> Vec<String> {
    let mut tokens: Vec<String> = mock
        .requests()
        .iter()
        .filter_map(|r| recorded_header(r, "x-amz-security-token").map(str::to_string))
        .collect();
    tokens.dedup();
    tokens
}

#[test]
fn ecs_container_credentials_rotate_without_a_failed_request() {
    // Same key pair, a new session token per fetch, each valid for 24 s:
    // the cache must fetch again in the background well before expiry.
    let server = TinyServer::start(|n, _| {
        let body = serde_json::json!({
            "AccessKeyId": SIDECAR_KEY,
            "SecretAccessKey": SIDECAR_SECRET,
            "Token": format!("ecs-token-{n}"),
            "Expiration": rfc3339_in(24),
        });
        ("application/json".into(), body.to_string())
    });
    let mock = Mock::start_with_session_token(Some("*"));
    let uri = format!("http://127.0.0.1:{}/v2/credentials/task", server.port);
    let env = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.as_str()),
        ("AWS_REGION", REGION),
    ];
    let sidecar = Sidecar::start_with_env(&mock.url(), &[], &env);
    let started = Instant::now();
    let mut statuses = Vec::new();
    while started.elapsed() < Duration::from_secs(9) {
        statuses.push(invoke_through(&sidecar));
        std::thread::sleep(Duration::from_millis(150));
    }
    assert!(
        statuses.iter().all(|s| *s == 200),
        "some requests failed: {statuses:?}"
    );
    let tokens = session_tokens(&mock);
    assert!(tokens.len() >= 2, "credentials never rotated: {tokens:?}");
    assert!(server.calls.load(Ordering::SeqCst) >= 2);
    assert!(
        mock.requests()
            .iter()
            .all(|r| r["verification"]["ok"] == true)
    );
}

#[test]
fn web_identity_credentials_come_from_sts() {
    let sts = TinyServer::start(|n, request| {
        assert!(request.starts_with("POST"), "STS got {request}");
        let xml = format!(
            "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
             <AssumeRoleWithWebIdentityResult><Credentials>\
             <AccessKeyId>{SIDECAR_KEY}</AccessKeyId><SecretAccessKey>{SIDECAR_SECRET}</SecretAccessKey>\
             <SessionToken>web-identity-token-{n}</SessionToken><Expiration>{}</Expiration>\
             </Credentials></AssumeRoleWithWebIdentityResult>\
             <ResponseMetadata><RequestId>r-{n}</RequestId></ResponseMetadata>\
             </AssumeRoleWithWebIdentityResponse>",
            rfc3339_in(3600)
        );
        ("text/xml".into(), xml)
    });
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "eyJ.test.jwt").unwrap_or_else(|e| panic!("{e}"));
    let sts_url = format!("http://127.0.0.1:{}", sts.port);
    let token_path = token_file.display().to_string();
    let env = [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_path.as_str()),
        (
            "AWS_ROLE_ARN",
            "arn:aws:iam::123456789012:role/bedrock-tuner",
        ),
        ("AWS_ROLE_SESSION_NAME", "sidecar"),
        ("AWS_ENDPOINT_URL_STS", sts_url.as_str()),
        ("AWS_REGION", REGION),
    ];
    let mock = Mock::start_with_session_token(Some("web-identity-token-1"));
    let sidecar = Sidecar::start_with_env(&mock.url(), &[], &env);
    let status = invoke_through(&sidecar);
    assert_eq!(
        status,
        200,
        "{:?}",
        mock.requests().last().map(|r| r["verification"].clone())
    );
    assert_eq!(session_tokens(&mock), ["web-identity-token-1"]);
    assert_eq!(
        sts.calls.load(Ordering::SeqCst),
        1,
        "credentials were not cached"
    );
}

#[test]
fn without_credentials_the_sidecar_is_not_ready_and_says_why() {
    let mock = Mock::start();
    let sidecar = Sidecar::start_with_env(&mock.url(), &[], &[("AWS_REGION", REGION)]);
    let (status, body) = http(sidecar.admin_port, "GET", "/readyz", "");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("\"credentials\""), "{body}");
    let (status, body) = http(
        sidecar.port,
        "POST",
        "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke",
        "{}",
    );
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("could not load AWS credentials"), "{body}");
    assert!(
        mock.requests().is_empty(),
        "an unsigned request reached the upstream"
    );
}
