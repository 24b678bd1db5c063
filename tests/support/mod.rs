//! Real processes for the integration tests: the mock Bedrock upstream
//! (`tests/e2e/mock_bedrock.py`, which checks every SigV4 signature with
//! botocore's signer) and the `bedrock-tuner` binary itself.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The sidecar's own credentials: the only ones the mock accepts.
pub const SIDECAR_KEY: &str = "AKIDSIDECAR0000TEST";
pub const SIDECAR_SECRET: &str = "sidecar/secret/key/for/tests/only/0000";
pub const SIDECAR_TOKEN: &str = "sidecar-session-token-for-tests";
/// The application's credentials, which must never reach the upstream.
pub const APP_KEY: &str = "AKIDEXAMPLE";
pub const APP_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
pub const REGION: &str = "us-east-1";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> PathBuf {
    if let Ok(p) = std::env::var("BEDROCK_TUNER_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = repo().join(".venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// Children's logs are noise unless a failing test is being debugged:
/// set `BEDROCK_TUNER_TEST_LOGS=1` to see them.
fn child_stderr() -> Stdio {
    match std::env::var_os("BEDROCK_TUNER_TEST_LOGS") {
        Some(_) => Stdio::inherit(),
        None => Stdio::null(),
    }
}

/// A free loopback port (bound, then released for the child to take).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A child process killed when the test ends, whatever happens.
pub struct Process {
    pub child: Child,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The mock Bedrock upstream.
pub struct Mock {
    pub port: u16,
    _process: Process,
    _dir: tempfile::TempDir,
}

impl Mock {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Self {
        Self::spawn(extra, Some(SIDECAR_TOKEN))
    }

    /// A mock that expects a session token other than the default, or none
    /// at all (`None`: whatever token is signed is accepted).
    pub fn start_with_session_token(token: Option<&str>) -> Self {
        Self::spawn(&[], token)
    }

    fn spawn(extra: &[&str], token: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let port_file = dir.path().join("port");
        let script = repo().join("tests/e2e/mock_bedrock.py");
        let child = Command::new(python())
            .arg(&script)
            .args(["--host", "127.0.0.1", "--port", "0", "--region", REGION])
            .arg("--port-file")
            .arg(&port_file)
            .args(["--access-key", SIDECAR_KEY, "--secret-key", SIDECAR_SECRET])
            .args(
                token
                    .map(|t| ["--session-token", t])
                    .unwrap_or_default()
                    .iter()
                    .filter(|a| !a.is_empty()),
            )
            .args(extra)
            .stdout(Stdio::null())
            .stderr(child_stderr())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", script.display()));
        let process = Process { child };
        let port = wait_for_port_file(&port_file);
        Self {
            port,
            _process: process,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request the mock received, as it recorded them.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        let (_, body) = http(self.port, "GET", "/_mock/requests", "");
        let json: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        json["requests"].as_array().cloned().unwrap_or_default()
    }

    pub fn control(&self, path: &str, body: &str) -> String {
        let (status, reply) = http(self.port, "POST", path, body);
        assert!(status < 300, "mock control {path}: {status} {reply}");
        reply
    }
}

fn wait_for_port_file(path: &Path) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(port) = text.trim().parse()
        {
            return port;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("mock did not write {} within 20 s", path.display());
}

/// The sidecar binary, started against an upstream.
pub struct Sidecar {
    pub port: u16,
    pub admin_port: u16,
    pub process: Process,
    /// The sidecar's working directory: its default embedded store lands
    /// here, apart from every other test's.
    pub workdir: tempfile::TempDir,
}

/// The sidecar's own credentials, as its environment gives them.
const SIDECAR_ENV: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", SIDECAR_KEY),
    ("AWS_SECRET_ACCESS_KEY", SIDECAR_SECRET),
    ("AWS_SESSION_TOKEN", SIDECAR_TOKEN),
];

impl Sidecar {
    /// Starts `bedrock-tuner serve` pinned to `upstream` with the sidecar's
    /// credentials in its environment.
    pub fn start(upstream: &str, extra: &[&str]) -> Self {
        Self::start_with_env(upstream, extra, &SIDECAR_ENV)
    }

    /// Starts the sidecar with `config` written to a temporary file.
    pub fn start_with_config(upstream: &str, config: &str) -> (Self, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("sidecar.toml");
        std::fs::write(&path, config).unwrap_or_else(|e| panic!("{e}"));
        let arg = path.display().to_string();
        (Self::start(upstream, &["--config", &arg]), dir)
    }

    pub fn start_with_env(upstream: &str, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let command = Command::new(env!("CARGO_BIN_EXE_bedrock-tuner"));
        Self::launch(command, upstream, extra, env)
    }

    /// Starts the sidecar (with its usual credentials) under `taskset -c 0`,
    /// as a sidecar given one CPU runs.
    pub fn start_on_one_cpu(upstream: &str) -> Self {
        let mut command = Command::new("taskset");
        command.args(["-c", "0", env!("CARGO_BIN_EXE_bedrock-tuner")]);
        Self::launch(command, upstream, &[], &SIDECAR_ENV)
    }

    fn launch(mut command: Command, upstream: &str, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let (port, admin_port) = (free_port(), free_port());
        let workdir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        command
            .current_dir(workdir.path())
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--admin-listen", &format!("127.0.0.1:{admin_port}")])
            .args(["--upstream", upstream, "--region", REGION])
            .args(extra)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("RUST_LOG", "bedrock_tuner=debug")
            .stdout(Stdio::null())
            .stderr(child_stderr());
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the sidecar: {e}"));
        let sidecar = Self {
            port,
            admin_port,
            process: Process { child },
            workdir,
        };
        sidecar.wait_until_healthy();
        sidecar
    }

    fn wait_until_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.admin_port)).is_ok()
                && http(self.admin_port, "GET", "/healthz", "").0 == 200
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the sidecar did not answer /healthz within 20 s");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The admin listener's `/metrics` page.
    pub fn metrics(&self) -> String {
        http(self.admin_port, "GET", "/metrics", "").1
    }

    /// The value of one sample line of `/metrics`, 0 when absent.
    pub fn metric(&self, name_and_labels_prefix: &str, must_contain: &[&str]) -> f64 {
        self.metrics()
            .lines()
            .filter(|l| l.starts_with(name_and_labels_prefix))
            .filter(|l| must_contain.iter().all(|c| l.contains(c)))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

/// A response read by [`request`].
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request with extra headers over a fresh connection.
pub fn request(port: u16, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("{e}"));
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let (status, body) = parse_response(&raw);
    let text = String::from_utf8_lossy(&raw);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body,
    }
}

/// A minimal HTTP/1.1 exchange over a fresh connection; returns status and
/// body. Enough for control and admin endpoints.
pub fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = match TcpStream::connect(("127.0.0.1", port)) {
        Ok(s) => s,
        Err(_) => return (0, String::new()),
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return (status, String::new());
    };
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    (
        status,
        if chunked {
            dechunk(body)
        } else {
            body.to_string()
        },
    )
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// The header value a recorded request carried, case-insensitively.
pub fn recorded_header<'a>(record: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    record["headers"].as_array()?.iter().find_map(|pair| {
        let k = pair.get(0)?.as_str()?;
        k.eq_ignore_ascii_case(name)
            .then(|| pair.get(1)?.as_str())
            .flatten()
    })
}

/// The real Rust SDK client of an app with its own credentials, pointed
/// at `endpoint` (the sidecar).
pub fn sdk_client(endpoint: &str) -> aws_sdk_bedrockruntime::Client {
    use aws_sdk_bedrockruntime::config::{BehaviorVersion, Credentials, Region};
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let config = aws_sdk_bedrockruntime::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(APP_KEY, APP_SECRET, None, None, "app"))
        .endpoint_url(endpoint)
        .http_client(http_client)
        .build();
    aws_sdk_bedrockruntime::Client::from_conf(config)
}
