"""Fixtures for the end-to-end suite: the mock Bedrock upstream, the sidecar
binary, boto3 clients playing the unmodified app, and small raw-HTTP helpers.

Run from the repository root:

    cargo build && .venv/bin/python -m pytest tests/e2e -q

Environment overrides:
    BEDROCK_TUNER_BIN      sidecar binary (default target/debug/bedrock-tuner)
    BEDROCK_FIXTURES_DIR   captured requests (default ../shared/fixtures/requests
                           beside the repository)
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import boto3
import pytest
from botocore.config import Config

E2E_DIR = Path(__file__).resolve().parent
REPO_ROOT = E2E_DIR.parent.parent
sys.path.insert(0, str(E2E_DIR))

SIDECAR_BIN = Path(os.environ.get("BEDROCK_TUNER_BIN", REPO_ROOT / "target" / "debug" / "bedrock-tuner"))
FIXTURES_DIR = Path(
    os.environ.get("BEDROCK_FIXTURES_DIR", REPO_ROOT.parent / "shared" / "fixtures" / "requests")
)

REGION = "us-east-1"

# The sidecar's own identity: the mock accepts only this key and token.
SIDECAR_ACCESS_KEY = "AKIASIDECAR000000001"
SIDECAR_SECRET_KEY = "sidecar/Secret+Key/0000000000000000000000"
SIDECAR_SESSION_TOKEN = "SIDECAR-SESSION-TOKEN-FwoGZXIvYXdzE0000"

# The app's identity: deliberately different, so that a request forwarded
# with the app's signature or token fails at the mock.
APP_ACCESS_KEY = "AKIDEXAMPLE"
APP_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
APP_SESSION_TOKEN = "APP-SESSION-TOKEN-must-not-travel"

PLAIN_MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
PROFILE_ARN = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0"

# The sidecar tunes bodies for known intents and, by default, gives unknown
# or missing intents a conservative profile. The transparency tests need a
# sidecar that forwards such requests untouched, so the shared one runs with
# pass-through for unknown intents; tuning of a known intent is tested on
# its own (test_proxy_boto3.py::test_known_intent_is_recognised_and_tuned).
# Classification is off too: it would find intents in the captured
# conversations and tune them.
PASS_THROUGH_CONFIG = """\
[tuning]
unknown_intent = "pass_through"

[classifier]
mode = "off"

# The suite's own profile, so the tuned-request test does not depend on the
# built-in profiles' numbers.
[profiles.e2e_tuned]
temperature = 0.33
"""
TUNED_INTENT, TUNED_TEMPERATURE = "e2e_tuned", 0.33

STARTUP_TIMEOUT = 20.0
# Generous per-test ceiling: a hung socket fails one test, not the run.
TEST_TIMEOUT = 60


def pytest_configure(config):
    # Keep boto3 away from whatever AWS configuration the machine has: a
    # profile's endpoint_url or region would silently change what is tested.
    for var in (
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        "AWS_BEARER_TOKEN_BEDROCK",
    ):
        os.environ.pop(var, None)
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    config.addinivalue_line("markers", "timeout(seconds): per-test time limit (pytest-timeout)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT))


# -- small utilities -----------------------------------------------------------


def free_port() -> int:
    """A loopback port nobody listens on right now (bind 0, release)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_json(port: int, method: str, path: str, body=None, timeout: float = 15.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            parsed = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            parsed = raw.decode("utf-8", "replace")
        return resp.status, parsed, dict((k.lower(), v) for k, v in resp.getheaders())
    finally:
        conn.close()


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return "<no output>"


# -- the mock upstream ---------------------------------------------------------


class MockBedrock:
    """A running mock_bedrock.py process and a client for its /_mock/ API."""

    def __init__(self, workdir: Path, *, access_key=SIDECAR_ACCESS_KEY, secret_key=SIDECAR_SECRET_KEY,
                 session_token: Optional[str] = SIDECAR_SESSION_TOKEN, region=REGION, extra_args=()):
        self.access_key, self.secret_key, self.session_token = access_key, secret_key, session_token
        self.region = region
        port_file = workdir / f"mock-{os.getpid()}-{id(self)}.port"
        self.log_path = workdir / f"mock-{id(self)}.log"
        cmd = [
            sys.executable, str(E2E_DIR / "mock_bedrock.py"),
            "--host", "127.0.0.1", "--port", "0", "--port-file", str(port_file),
            "--access-key", access_key, "--secret-key", secret_key, "--region", region,
        ]
        if session_token:
            cmd += ["--session-token", session_token]
        cmd += list(extra_args)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        # The port file appears (atomically) once the socket listens.
        while not port_file.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"mock_bedrock exited with {self.proc.returncode}:\n{_tail(self.log_path)}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("mock_bedrock did not write its port file in time")
            time.sleep(0.02)
        self.port = int(port_file.read_text().strip())
        self.url = f"http://127.0.0.1:{self.port}"
        self.host = f"127.0.0.1:{self.port}"

    # control API
    def _call(self, method, path, body=None, timeout=15.0):
        status, data, _ = http_json(self.port, method, path, body, timeout=timeout)
        return status, data

    def reset(self):
        status, _ = self._call("POST", "/_mock/reset")
        assert status == 200

    def script(self, *responses: dict):
        status, data = self._call("POST", "/_mock/script", {"responses": list(responses)})
        assert status == 200, data

    def requests(self) -> list:
        status, data = self._call("GET", "/_mock/requests")
        assert status == 200
        return data["requests"]

    def release(self, rid: Optional[int] = None) -> list:
        status, data = self._call("POST", "/_mock/release", {} if rid is None else {"id": rid})
        assert status == 200
        return data["released"]

    def wait(self, count: int = 1, until: str = "done", timeout: float = 10.0) -> list:
        """Block until `count` requests reached `until` (done/holding/received);
        fail the test with what the mock saw if that does not happen."""
        status, data = self._call("POST", "/_mock/wait", {"count": count, "until": until, "timeout": timeout},
                                  timeout=timeout + 5)
        if status != 200:
            pytest.fail(f"mock never saw {count} request(s) {until} within {timeout}s; it saw:\n"
                        + json.dumps(data.get("requests"), indent=1)[:4000])
        return data["requests"]

    def only_request(self, until: str = "done") -> dict:
        recs = self.wait(1, until)
        assert len(recs) == 1, f"expected exactly one upstream request, the mock saw {len(recs)}"
        return recs[0]

    def stop(self) -> Optional[int]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def record_body(rec: dict) -> bytes:
    return base64.b64decode(rec["body_b64"])


def record_headers(rec: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in rec["headers"]:
        out.setdefault(k.lower(), []).append(v)
    return out


def assert_resigned_by_sidecar(rec: dict, *, app_tokens=(APP_ACCESS_KEY, APP_SESSION_TOKEN, "FAKETOKEN")):
    """The mock's verdict on one forwarded request: signed by the sidecar's
    identity, nothing of the app's credentials left, tuner headers gone."""
    v = rec.get("verification") or {}
    assert v.get("ok"), f"mock rejected the forwarded signature: {v.get('reason')}\n{v.get('canonical_request')}"
    assert v["access_key"] == SIDECAR_ACCESS_KEY
    hdrs = record_headers(rec)
    assert hdrs.get("x-amz-security-token") == [SIDECAR_SESSION_TOKEN]
    assert "x-amz-security-token" in v["signed_headers"]
    for name in ("x-intent", "x-session-id"):
        assert name not in hdrs, f"sidecar forwarded its own header {name}: {hdrs[name]}"
    for name, values in hdrs.items():
        for value in values:
            for secret in app_tokens:
                assert secret not in value, f"app credential {secret!r} leaked upstream in {name}: {value}"


@pytest.fixture(scope="session")
def workdir():
    with tempfile.TemporaryDirectory(prefix="bedrock-e2e-") as d:
        yield Path(d)


@pytest.fixture(scope="session")
def mock_server(workdir):
    m = MockBedrock(workdir)
    yield m
    rc = m.stop()
    assert rc == 0, f"mock_bedrock exited with {rc}:\n{_tail(m.log_path)}"


@pytest.fixture
def mock(mock_server):
    """The shared mock, emptied of records, script and held streams."""
    mock_server.reset()
    yield mock_server
    mock_server.reset()


# -- the sidecar ---------------------------------------------------------------


class Sidecar:
    def __init__(self, workdir: Path, upstream: str, *, region: str = REGION, extra_env: Optional[dict] = None,
                 config: Optional[str] = PASS_THROUGH_CONFIG, extra_args=()):
        if not SIDECAR_BIN.exists():
            pytest.fail(
                f"sidecar binary {SIDECAR_BIN} does not exist: run `cargo build` in {REPO_ROOT} "
                "(or point BEDROCK_TUNER_BIN at it)",
                pytrace=False,
            )
        self.port, self.admin_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_url = f"http://127.0.0.1:{self.admin_port}"
        self.log_path = workdir / f"sidecar-{self.port}.log"
        env = {
            k: v for k, v in os.environ.items()
            if not k.startswith("AWS_") and k not in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
        }
        env.update(
            AWS_ACCESS_KEY_ID=SIDECAR_ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=SIDECAR_SECRET_KEY,
            AWS_SESSION_TOKEN=SIDECAR_SESSION_TOKEN,
            # Nothing on this machine should be able to change the sidecar's
            # identity: no profile files, no instance metadata.
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            AWS_EC2_METADATA_DISABLED="true",
            RUST_LOG=os.environ.get("RUST_LOG", "info"),
        )
        env.update(extra_env or {})
        self.cmd = [
            str(SIDECAR_BIN), "serve",
            "--listen", f"127.0.0.1:{self.port}",
            "--admin-listen", f"127.0.0.1:{self.admin_port}",
            "--upstream", upstream,
            "--region", region,
            *extra_args,
        ]
        if config is not None:
            self.config_path = workdir / f"sidecar-{self.port}.toml"
            self.config_path.write_text(config)
            self.cmd += ["--config", str(self.config_path)]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self._wait_ready()

    def _wait_ready(self):
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._log.close()
                pytest.fail(
                    f"sidecar exited with {self.proc.returncode} before becoming healthy.\n"
                    f"command: {' '.join(self.cmd)}\noutput:\n{_tail(self.log_path)}",
                    pytrace=False,
                )
            try:
                status, _, _ = http_json(self.admin_port, "GET", "/healthz", timeout=2)
                if status == 200:
                    return
                last = f"/healthz answered {status}"
            except OSError as e:
                last = repr(e)
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"sidecar not healthy within {STARTUP_TIMEOUT}s ({last}).\noutput:\n{_tail(self.log_path)}",
                    pytrace=False)

    def metrics(self) -> str:
        status, body, _ = http_json(self.admin_port, "GET", "/metrics")
        assert status == 200, f"/metrics answered {status}"
        return body if isinstance(body, str) else json.dumps(body)

    def gauge(self, name: str, **labels: str) -> Optional[float]:
        """Sum of a metric's samples over the label sets that include
        `labels` (all of them by default; None: not exposed)."""
        total, seen = 0.0, False
        wanted = {f'{k}="{v}"' for k, v in labels.items()}
        for line in self.metrics().splitlines():
            if line.startswith("#"):
                continue
            m = re.match(rf"^{re.escape(name)}(?:\{{([^}}]*)\}})?\s+(\S+)", line)
            if m:
                seen = True
                if wanted <= set((m.group(1) or "").split(",")):
                    total += float(m.group(2))
        return total if seen else None

    def output(self) -> str:
        return _tail(self.log_path, 8000)

    def stop(self, timeout: float = 10.0) -> Optional[int]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._log.close()
                return None  # did not stop on SIGTERM
        if not self._log.closed:
            self._log.close()
        return self.proc.returncode


@pytest.fixture(scope="session")
def sidecar_server(workdir, mock_server):
    sc = Sidecar(workdir, mock_server.url)
    yield sc
    rc = sc.stop()
    assert rc == 0, f"sidecar did not exit 0 on SIGTERM (got {rc}):\n{sc.output()}"


@pytest.fixture
def sidecar(sidecar_server, mock):
    # Depending on `mock` gives each test an empty mock as well.
    if sidecar_server.proc.poll() is not None:
        pytest.fail(f"the shared sidecar died (exit {sidecar_server.proc.returncode}):\n{sidecar_server.output()}")
    return sidecar_server


@pytest.fixture
def start_sidecar(workdir):
    """Factory for a private sidecar (other upstream, or a test that stops it)."""
    started = []

    def _start(upstream: str, **kw) -> Sidecar:
        sc = Sidecar(workdir, upstream, **kw)
        started.append(sc)
        return sc

    yield _start
    for sc in started:
        sc.stop()


# -- the app: boto3 ------------------------------------------------------------


@dataclass
class SentRequest:
    method: str
    url: str
    headers: dict
    body: bytes

    @property
    def raw_path(self) -> str:
        # botocore's URL is already percent-encoded: the path part is what
        # goes on the request line.
        from urllib.parse import urlsplit

        return urlsplit(self.url).path


@dataclass
class AppClient:
    client: object
    sent: list = field(default_factory=list)


def make_app_client(endpoint: str, *, via: str = "env", monkeypatch=None, session_token: Optional[str] = None,
                    retries: int = 1, read_timeout: float = 30.0, intent: Optional[str] = None,
                    session_id: Optional[str] = None, header_event: str = "before-sign") -> AppClient:
    """A real boto3 bedrock-runtime client with the app's own fake keys.

    via="env": endpoint from AWS_ENDPOINT_URL_BEDROCK_RUNTIME, the way an
    unmodified app is pointed at the sidecar; via="param": endpoint_url=.

    intent/session_id are added the way an app would: a handler on botocore's
    event system. On `before-sign` they are added before signing (so the app
    signs them); on `before-send` after (unsigned). Either way the sidecar
    must remove them before it re-signs.
    """
    session = boto3.session.Session(
        aws_access_key_id=APP_ACCESS_KEY,
        aws_secret_access_key=APP_SECRET_KEY,
        aws_session_token=session_token,
        region_name=REGION,
    )
    config = Config(
        # total_max_attempts=1: no retry. With retries a scripted fault would
        # be retried into the next scripted answer and hide what the first
        # one did.
        retries={"total_max_attempts": retries, "mode": "standard"},
        connect_timeout=5,
        read_timeout=read_timeout,
    )
    if via == "env":
        assert monkeypatch is not None, "via='env' needs monkeypatch to set the variable for this test only"
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", endpoint)
        client = session.client("bedrock-runtime", config=config)
    elif via == "param":
        client = session.client("bedrock-runtime", endpoint_url=endpoint, config=config)
    else:
        raise ValueError(via)
    assert client.meta.endpoint_url == endpoint, f"boto3 is not pointed at {endpoint}: {client.meta.endpoint_url}"

    app = AppClient(client)
    if intent is not None or session_id is not None:
        add_tuner_headers(client, intent=intent, session_id=session_id, event=header_event)

    def record(request, **_):
        # botocore keeps prepared header values as bytes or str: normalise.
        headers = {k: v.decode("latin-1") if isinstance(v, bytes) else v for k, v in request.headers.items()}
        body = request.body or b""
        app.sent.append(SentRequest(request.method, request.url, headers, body.encode() if isinstance(body, str) else body))

    # Registered last: sees the request exactly as it goes on the wire.
    client.meta.events.register("before-send.bedrock-runtime", record)
    return app


def add_tuner_headers(client, *, intent: Optional[str], session_id: Optional[str], event: str = "before-sign"):
    """How an app tags its calls for the sidecar, without touching call sites:
    one handler on boto3's event system adds `x-intent` / `x-session-id` to
    every bedrock-runtime request."""

    def _add(request, **_):
        if intent is not None:
            request.headers["x-intent"] = intent
        if session_id is not None:
            request.headers["x-session-id"] = session_id
        # before-send handlers that return a value short-circuit the send.
        return None

    client.meta.events.register(f"{event}.bedrock-runtime", _add)


def claude_body(text: str = "hi", max_tokens: int = 64) -> bytes:
    return json.dumps(
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": max_tokens,
         "messages": [{"role": "user", "content": text}]}
    ).encode()


def converse_args(text: str = "hi", max_tokens: int = 64) -> dict:
    return {"messages": [{"role": "user", "content": [{"text": text}]}], "inferenceConfig": {"maxTokens": max_tokens}}


# -- raw HTTP ------------------------------------------------------------------


def sign_as_client(method: str, url: str, body: bytes, *, access_key: str, secret_key: str,
                   session_token: Optional[str] = None, region: str = REGION, service: str = "bedrock",
                   headers: Optional[dict] = None, when=None) -> list[tuple[str, str]]:
    """Headers a botocore client would send for this request, signed now (or
    at `when`). The host that is signed comes from `url`."""
    from unittest import mock as _mock

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    signer = SigV4Auth(Credentials(access_key, secret_key, session_token), service, region)
    if when is None:
        signer.add_auth(req)
    else:
        with _mock.patch("botocore.auth.get_current_datetime", return_value=when):
            signer.add_auth(req)
    from urllib.parse import urlsplit

    out = [("Host", urlsplit(url).netloc)]
    out += [(k, v) for k, v in req.headers.items() if k.lower() != "host"]
    return out


def send_raw(port: int, raw: bytes, timeout: float = 15.0):
    """Write bytes as they are to 127.0.0.1:port and parse the HTTP response
    head; the body is left to read (it may be a held stream)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.connect()
    conn.sock.sendall(raw)
    resp = http.client.HTTPResponse(conn.sock, method=raw.split(b" ", 1)[0].decode())
    resp.begin()
    return conn, resp


def build_raw(method: str, target: str, headers: list[tuple[str, str]], body: bytes, chunked: bool = False) -> bytes:
    lines = [f"{method} {target} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        half = len(body) // 2
        parts = [body[:half], body[half:]]
        payload = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}")
        payload = body
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def read_frame(resp) -> Optional[bytes]:
    """One complete event-stream message from a response body, or None at
    the end. Blocks only until that one message has arrived."""
    import struct

    head = resp.read(4)
    if not head:
        return None
    if len(head) < 4:
        raise AssertionError(f"stream ended inside a frame prelude ({head!r})")
    (total,) = struct.unpack(">I", head)
    rest = resp.read(total - 4)
    if len(rest) != total - 4:
        raise AssertionError("stream ended inside a frame")
    return head + rest


def decode_frames(data: bytes) -> list:
    """Messages decoded by botocore's own event-stream parser."""
    from botocore.eventstream import EventStreamBuffer

    buf = EventStreamBuffer()
    buf.add_data(data)
    return list(buf)
