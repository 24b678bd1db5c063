#!/usr/bin/env python3
"""A stand-in for the Bedrock Runtime service, for end-to-end tests of the
sidecar (docs/testing.md describes it in full).

    python tests/e2e/mock_bedrock.py --host 127.0.0.1 --port 0 \
        --port-file PATH --access-key K --secret-key S \
        [--session-token T] [--region us-east-1] [--no-verify]

It answers the Bedrock Runtime operations with realistic bodies and headers,
checks every request's SigV4 signature independently of the sidecar's code
(sigv4_check.py, on botocore's signer), records what it received, and exposes
a control API under /_mock/ (not signature-checked) to read the records,
script the next responses and drive stream gating.

Stdlib only (http.server), so it runs wherever botocore does; the server is
threaded so a held stream never blocks the control API or other requests.
"""

from __future__ import annotations

import argparse
import base64
import collections
import datetime as _dt
import hashlib
import itertools
import json
import os
import re
import select
import signal
import socket
import struct
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional
from urllib.parse import parse_qs, unquote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import eventstream as es  # noqa: E402
from sigv4_check import verify_request  # noqa: E402

BEDROCK_NS = "http://internal.amazon.com/coral/com.amazon.bedrock/"
CORAL_NS = "http://internal.amazon.com/coral/com.amazon.coral.service/"

# Status Bedrock gives each error type (BEDROCK.md), used when a scripted
# error names a type but no status.
ERROR_STATUS = {
    "ValidationException": 400,
    "ServiceQuotaExceededException": 400,
    "ConflictException": 400,
    "AccessDeniedException": 403,
    "InvalidSignatureException": 403,
    "ResourceNotFoundException": 404,
    "ModelTimeoutException": 408,
    "ThrottlingException": 429,
    "ModelNotReadyException": 429,
    "ModelErrorException": 424,
    "ModelStreamErrorException": 424,
    "InternalServerException": 500,
    "ServiceUnavailableException": 503,
}

# Top-level keys Anthropic's Messages API accepts in an InvokeModel body on
# Bedrock. Anything else gets Bedrock's "extraneous key" 400, so a rewriter
# that adds a field the family does not take fails here as it would on AWS.
CLAUDE_KEYS = {
    "anthropic_version",
    "anthropic_beta",
    "max_tokens",
    "messages",
    "system",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "tools",
    "tool_choice",
    "metadata",
    "thinking",
}

DEFAULT_TEXT = "Hello! I am the mock Bedrock model answering you from loopback today."

SCRIPT_KEYS = {
    "status",
    "error_type",
    "message",
    "delay_ms",
    "drop",
    "gate",
    "gate_timeout",
    "stream_exception",
    "drop_after_events",
    "text",
}


def _now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


class Config:
    def __init__(self, args: argparse.Namespace):
        self.host: str = args.host
        self.access_key: Optional[str] = args.access_key
        self.secret_key: Optional[str] = args.secret_key
        self.session_token: Optional[str] = args.session_token
        self.region: str = args.region
        self.verify: bool = not args.no_verify
        # Fast mode answers at once: no gating (a benchmark must not wait on
        # a test to release it) and lean records.
        self.gate: bool = self.verify and not args.no_gate
        self.gate_timeout: float = args.gate_timeout
        self.max_records: int = args.max_records
        self.verbose: bool = args.verbose
        self.expected_host: str = ""  # set once the port is bound

    def public(self) -> dict:
        return {
            "access_key": self.access_key,
            "region": self.region,
            "session_token_configured": self.session_token is not None,
            "verify": self.verify,
            "gate": self.gate,
            "gate_timeout": self.gate_timeout,
            "expected_host": self.expected_host,
        }


class State:
    """Records, the response script and stream gates, behind one condition
    variable so the control API can block until something happens instead
    of the tests sleeping."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.cond = threading.Condition()
        self.records: collections.deque = collections.deque(maxlen=cfg.max_records)
        self.script: collections.deque = collections.deque()
        self.gates: dict[int, threading.Event] = {}
        self.ids = itertools.count(1)

    def new_record(self, **fields) -> dict:
        with self.cond:
            rec = {"id": next(self.ids), "state": "received", "done": False, **fields}
            self.records.append(rec)
            self.cond.notify_all()
            return rec

    def update(self, rec: dict, **fields) -> None:
        with self.cond:
            rec.update(fields)
            self.cond.notify_all()

    def finish(self, rec: dict, **fields) -> None:
        with self.cond:
            rec.update(fields)
            rec["state"] = "done"
            rec["done"] = True
            rec["finished_at"] = _now_iso()
            self.gates.pop(rec["id"], None)
            self.cond.notify_all()

    def snapshot(self) -> list:
        with self.cond:
            return json.loads(json.dumps(list(self.records)))

    def pop_script(self) -> dict:
        with self.cond:
            return self.script.popleft() if self.script else {}

    def add_gate(self, rec: dict) -> threading.Event:
        with self.cond:
            ev = threading.Event()
            self.gates[rec["id"]] = ev
            rec["state"] = "holding"
            rec["gate"] = "holding"
            self.cond.notify_all()
            return ev

    def release(self, rid: Optional[int] = None) -> list[int]:
        with self.cond:
            ids = [i for i in self.gates if rid is None or i == rid]
            for i in ids:
                self.gates.pop(i).set()
            self.cond.notify_all()
            return ids

    def reset(self) -> None:
        self.release()
        with self.cond:
            self.records.clear()
            self.script.clear()
            self.cond.notify_all()

    def wait(self, count: int, until: str, timeout: float) -> tuple[bool, list]:
        def satisfied() -> bool:
            if until == "done":
                n = sum(1 for r in self.records if r["done"])
            elif until == "holding":
                n = sum(1 for r in self.records if r["state"] == "holding")
            else:
                n = len(self.records)
            return n >= count

        with self.cond:
            ok = self.cond.wait_for(satisfied, timeout=timeout)
        return ok, self.snapshot()


def _read_chunked(rfile) -> bytes:
    out = bytearray()
    while True:
        line = rfile.readline(65537)
        if not line:
            raise ValueError("connection closed inside a chunked body")
        size_txt = line.split(b";", 1)[0].strip()
        try:
            size = int(size_txt, 16)
        except ValueError:
            raise ValueError(f"bad chunk size line {line!r}") from None
        if size == 0:
            # Trailer section ends with an empty line.
            while True:
                t = rfile.readline(65537)
                if t in (b"\r\n", b"\n", b""):
                    return bytes(out)
        data = rfile.read(size)
        if len(data) != size:
            raise ValueError("connection closed inside a chunk")
        out += data
        if rfile.readline(3) not in (b"\r\n", b"\n"):
            raise ValueError("chunk not followed by CRLF")


def _claude_model_name(model_id: str) -> str:
    m = re.search(r"anthropic\.([a-z0-9.\-]+?)(?:-v\d+(?::\d+)?)?$", model_id)
    return m.group(1) if m else "claude-mock"


def _route(path: str) -> tuple[Optional[str], dict]:
    """Operation and its labels from the raw path. The model id is one label
    that may hold escaped `/` (ARNs), so split on the raw path first and
    unescape the label after."""
    m = re.fullmatch(
        r"/model/(?P<model>.+)/(?P<op>invoke|invoke-with-response-stream|converse|converse-stream|count-tokens)",
        path,
    )
    if m:
        op = {
            "invoke": "InvokeModel",
            "invoke-with-response-stream": "InvokeModelWithResponseStream",
            "converse": "Converse",
            "converse-stream": "ConverseStream",
            "count-tokens": "CountTokens",
        }[m.group("op")]
        return op, {"model_id": unquote(m.group("model"))}
    m = re.fullmatch(r"/guardrail/(?P<gid>[^/]+)/version/(?P<ver>[^/]+)/apply", path)
    if m:
        return "ApplyGuardrail", {
            "guardrail_id": unquote(m.group("gid")),
            "guardrail_version": unquote(m.group("ver")),
        }
    return None, {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MockBedrock/1.0"
    sys_version = ""

    # -- plumbing ----------------------------------------------------------

    @property
    def state(self) -> State:
        return self.server.state  # type: ignore[attr-defined]

    @property
    def cfg(self) -> Config:
        return self.state.cfg

    def log_message(self, fmt, *args):  # noqa: D401 - http.server hook
        if self.cfg.verbose:
            sys.stderr.write("mock_bedrock: " + (fmt % args) + "\n")

    def do_GET(self):
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def _dispatch(self):
        try:
            body = self._read_body()
        except ValueError as e:
            self.close_connection = True
            self._send_json(400, {"message": f"mock could not read the request body: {e}"})
            return
        if self.path.startswith("/_mock/"):
            self._control(body)
        else:
            self._bedrock(body)

    def _read_body(self) -> bytes:
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            self._chunked_request = True
            return _read_chunked(self.rfile)
        self._chunked_request = False
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        n = int(length)
        data = self.rfile.read(n)
        if len(data) != n:
            raise ValueError("connection closed before the whole body arrived")
        return data

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, obj, extra: Optional[list] = None) -> None:
        body = json.dumps(obj).encode("utf-8")
        self._send(status, [("Content-Type", "application/json")] + (extra or []), body)

    # -- control API -------------------------------------------------------

    def _control(self, body: bytes) -> None:
        path, _, query = self.path.partition("?")
        try:
            args = json.loads(body) if body.strip() else {}
        except json.JSONDecodeError as e:
            self._send_json(400, {"message": f"control body is not JSON: {e}"})
            return
        st = self.state
        if path == "/_mock/requests" and self.command == "GET":
            self._send_json(200, {"requests": st.snapshot()})
        elif path == "/_mock/config" and self.command == "GET":
            self._send_json(200, self.cfg.public())
        elif path == "/_mock/reset" and self.command == "POST":
            st.reset()
            self._send_json(200, {"ok": True})
        elif path == "/_mock/script" and self.command == "POST":
            entries = args.get("responses", args) if isinstance(args, dict) else args
            if isinstance(entries, dict):
                entries = [entries]
            for e in entries:
                unknown = set(e) - SCRIPT_KEYS
                if unknown:
                    # A typo in a test's script must fail loudly, not be ignored.
                    self._send_json(400, {"message": f"unknown script keys {sorted(unknown)}"})
                    return
            with st.cond:
                st.script.extend(entries)
                queued = len(st.script)
            self._send_json(200, {"queued": queued})
        elif path == "/_mock/release" and self.command == "POST":
            rid = args.get("id") if isinstance(args, dict) else None
            self._send_json(200, {"released": st.release(rid)})
        elif path == "/_mock/wait" and self.command == "POST":
            q = {k: v[0] for k, v in parse_qs(query).items()}
            spec = {**q, **(args if isinstance(args, dict) else {})}
            until = spec.get("until", "done")
            if until not in ("done", "holding", "received"):
                self._send_json(400, {"message": "until must be done, holding or received"})
                return
            ok, recs = st.wait(int(spec.get("count", 1)), until, float(spec.get("timeout", 5)))
            self._send_json(200 if ok else 504, {"satisfied": ok, "requests": recs})
        else:
            self._send_json(404, {"message": f"no control endpoint {self.command} {path}"})

    # -- Bedrock -----------------------------------------------------------

    def _bedrock(self, body: bytes) -> None:
        st, cfg = self.state, self.cfg
        t0 = time.monotonic()
        raw_target = self.path
        path, _, query = raw_target.partition("?")
        headers = list(self.headers.items())
        fields = {
            "received_at": _now_iso(),
            "method": self.command,
            "path": raw_target,
            "query": query,
            "body_len": len(body),
            "client": f"{self.client_address[0]}:{self.client_address[1]}",
        }
        if cfg.verify:
            fields.update(
                headers=[[k, v] for k, v in headers],
                body_b64=base64.b64encode(body).decode("ascii"),
                body_sha256=hashlib.sha256(body).hexdigest(),
                request_chunked=self._chunked_request,
            )
        rec = st.new_record(**fields)
        request_id = str(uuid.uuid4())
        self._request_id = request_id

        if cfg.verify:
            v = verify_request(
                method=self.command,
                raw_target=raw_target,
                headers=headers,
                body=body,
                access_key=cfg.access_key or "",
                secret_key=cfg.secret_key or "",
                region=cfg.region,
                service="bedrock",
                session_token=cfg.session_token,
                expected_host=cfg.expected_host,
            )
            st.update(rec, verification=v.to_dict())
            if not v.ok:
                self._error(rec, 403, "InvalidSignatureException", v.reason or "bad signature", ns=CORAL_NS, outcome="rejected")
                return

        op, labels = _route(path)
        st.update(rec, operation=op, **labels)
        if op is None or self.command != "POST":
            self._error(rec, 404, "UnknownOperationException", f"no Bedrock Runtime operation at {self.command} {path}", ns=CORAL_NS, outcome="rejected")
            return

        entry = st.pop_script()
        if entry:
            st.update(rec, script=entry)
        if entry.get("delay_ms"):
            time.sleep(entry["delay_ms"] / 1000.0)
        if entry.get("drop"):
            self._drop(rec, reset=entry["drop"] == "reset", outcome="dropped")
            return
        if entry.get("status") or entry.get("error_type"):
            etype = entry.get("error_type", "InternalServerException")
            status = int(entry.get("status") or ERROR_STATUS.get(etype, 500))
            self._error(rec, status, etype, entry.get("message", f"scripted {etype}"), outcome="scripted_error")
            return

        try:
            req_json = json.loads(body) if body else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            req_json = None
        if op in ("InvokeModel", "InvokeModelWithResponseStream"):
            model_id = labels["model_id"]
            if "anthropic." in model_id:
                problem = self._claude_problem(req_json)
                if problem:
                    self._error(rec, 400, "ValidationException", problem, outcome="validation_error")
                    return
        elif req_json is None or not isinstance(req_json, dict):
            self._error(rec, 400, "ValidationException", "Malformed request: body is not a JSON object", outcome="validation_error")
            return

        text = entry.get("text", DEFAULT_TEXT)
        if op == "InvokeModel":
            self._invoke(rec, req_json or {}, body, labels["model_id"], text, t0)
        elif op == "InvokeModelWithResponseStream":
            self._invoke_stream(rec, req_json or {}, body, labels["model_id"], text, t0, entry)
        elif op == "Converse":
            self._converse(rec, req_json, body, text, t0)
        elif op == "ConverseStream":
            self._converse_stream(rec, req_json, body, text, t0, entry)
        elif op == "CountTokens":
            self._respond_json(rec, {"inputTokens": self._input_tokens(body)})
        elif op == "ApplyGuardrail":
            self._apply_guardrail(rec, req_json)

    @staticmethod
    def _claude_problem(req_json) -> Optional[str]:
        if not isinstance(req_json, dict):
            return "Malformed input request, please reformat your input and try again."
        extra = sorted(set(req_json) - CLAUDE_KEYS)
        if extra:
            return (
                f"Malformed input request: #: extraneous key [{extra[0]}] is not permitted, "
                "please reformat your input and try again."
            )
        return None

    @staticmethod
    def _input_tokens(body: bytes) -> int:
        # Deterministic stand-in for a tokenizer: about four bytes a token.
        return max(1, len(body) // 4)

    @staticmethod
    def _words(text: str, limit) -> tuple[list[str], str, str]:
        """Output words (one token each), Claude stop reason, Converse stop reason."""
        words = text.split()
        if isinstance(limit, int) and not isinstance(limit, bool) and 0 < limit < len(words):
            return words[:limit], "max_tokens", "max_tokens"
        return words, "end_turn", "end_turn"

    def _base_headers(self) -> list[tuple[str, str]]:
        return [("x-amzn-RequestId", self._request_id)]

    def _error(self, rec, status, etype, message, ns=BEDROCK_NS, outcome="error") -> None:
        body = json.dumps({"message": message}).encode("utf-8")
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", f"{etype}:{ns}")] + self._base_headers()
        try:
            self._send(status, headers, body)
        except OSError as e:
            self.state.finish(rec, status=status, outcome="peer_closed", error=str(e))
            self.close_connection = True
            return
        self.state.finish(rec, status=status, outcome=outcome, error_type=etype, message=message)

    def _respond_json(self, rec, obj, extra: Optional[list] = None) -> None:
        body = json.dumps(obj).encode("utf-8")
        headers = [("Content-Type", "application/json")] + self._base_headers() + (extra or [])
        try:
            self._send(200, headers, body)
        except OSError as e:
            self.state.finish(rec, status=200, outcome="peer_closed", error=str(e))
            self.close_connection = True
            return
        self.state.finish(rec, status=200, outcome="completed")

    def _drop(self, rec, reset: bool, outcome: str, **fields) -> None:
        sock = self.connection
        try:
            if reset:
                # Linger 0: close sends RST instead of FIN.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
        self.close_connection = True
        self.state.finish(rec, outcome=outcome, **fields)

    # -- operations ----------------------------------------------------------

    def _invoke(self, rec, req, body, model_id, text, t0) -> None:
        words, stop, _ = self._words(text, req.get("max_tokens"))
        tin, tout = self._input_tokens(body), len(words)
        latency = int((time.monotonic() - t0) * 1000) + 1
        resp = {
            "id": f"msg_bdrk_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": _claude_model_name(model_id),
            "content": [{"type": "text", "text": " ".join(words)}],
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": tin, "output_tokens": tout},
        }
        self._respond_json(
            rec,
            resp,
            [
                ("X-Amzn-Bedrock-Input-Token-Count", str(tin)),
                ("X-Amzn-Bedrock-Output-Token-Count", str(tout)),
                ("X-Amzn-Bedrock-Invocation-Latency", str(latency)),
            ],
        )

    def _converse(self, rec, req, body, text, t0) -> None:
        limit = (req.get("inferenceConfig") or {}).get("maxTokens")
        words, _, stop = self._words(text, limit)
        tin, tout = self._input_tokens(body), len(words)
        resp = {
            "output": {"message": {"role": "assistant", "content": [{"text": " ".join(words)}]}},
            "stopReason": stop,
            "usage": {"inputTokens": tin, "outputTokens": tout, "totalTokens": tin + tout},
            "metrics": {"latencyMs": int((time.monotonic() - t0) * 1000) + 1},
        }
        self._respond_json(rec, resp)

    def _apply_guardrail(self, rec, req) -> None:
        chars = sum(len((c.get("text") or {}).get("text", "")) for c in req.get("content", []) if isinstance(c, dict))
        resp = {
            "usage": {
                "topicPolicyUnits": 1,
                "contentPolicyUnits": 1,
                "wordPolicyUnits": 1,
                "sensitiveInformationPolicyUnits": 1,
                "sensitiveInformationPolicyFreeUnits": 0,
                "contextualGroundingPolicyUnits": 0,
            },
            "action": "NONE",
            "outputs": [],
            "assessments": [{}],
            "guardrailCoverage": {"textCharacters": {"guarded": chars, "total": chars}},
        }
        self._respond_json(rec, resp)

    @staticmethod
    def _pieces(words: list[str]) -> list[str]:
        # Two words a delta, with the separating space kept, like real deltas.
        out = []
        for i in range(0, len(words), 2):
            piece = " ".join(words[i : i + 2])
            out.append(piece if i == 0 else " " + piece)
        return out

    def _invoke_stream(self, rec, req, body, model_id, text, t0, entry) -> None:
        words, stop, _ = self._words(text, req.get("max_tokens"))
        tin, tout = self._input_tokens(body), len(words)
        pad = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        events = [
            {
                "type": "message_start",
                "message": {
                    "id": f"msg_bdrk_{uuid.uuid4().hex[:24]}",
                    "type": "message",
                    "role": "assistant",
                    "model": _claude_model_name(model_id),
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": tin, "output_tokens": 1},
                },
            },
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ]
        for piece in self._pieces(words):
            events.append({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}})
        events += [
            {"type": "content_block_stop", "index": 0},
            {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": tout}},
        ]

        def last_event() -> bytes:
            latency = int((time.monotonic() - t0) * 1000) + 1
            return es.chunk_event(
                {
                    "type": "message_stop",
                    "amazon-bedrock-invocationMetrics": {
                        "inputTokenCount": tin,
                        "outputTokenCount": tout,
                        "invocationLatency": latency,
                        "firstByteLatency": max(1, latency // 2),
                    },
                },
                padding=pad[:7],
            )

        frames = [es.chunk_event(e, padding=pad[: (i * 7) % 40 + 1]) for i, e in enumerate(events)] + [last_event]
        self._stream(
            rec,
            frames,
            entry,
            [("X-Amzn-Bedrock-Content-Type", "application/json")],
        )

    def _converse_stream(self, rec, req, body, text, t0, entry) -> None:
        limit = (req.get("inferenceConfig") or {}).get("maxTokens")
        words, _, stop = self._words(text, limit)
        tin, tout = self._input_tokens(body), len(words)
        frames: list = [es.event("messageStart", {"role": "assistant"})]
        for piece in self._pieces(words):
            frames.append(es.event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}}))
        frames += [
            es.event("contentBlockStop", {"contentBlockIndex": 0}),
            es.event("messageStop", {"stopReason": stop}),
            lambda: es.event(
                "metadata",
                {
                    "usage": {"inputTokens": tin, "outputTokens": tout, "totalTokens": tin + tout},
                    "metrics": {"latencyMs": int((time.monotonic() - t0) * 1000) + 1},
                },
            ),
        ]
        self._stream(rec, frames, entry, [])

    # -- streaming with a gate -------------------------------------------------

    def _peer_closed(self) -> bool:
        """True once the client has closed its end. While we hold a stream
        the client has nothing to send on this connection, so readability
        means EOF or a reset."""
        sock = self.connection
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable:
                return False
            if hasattr(sock, "pending"):
                # TLS (--tls-cert): an SSLSocket cannot peek, and the only
                # bytes a client sends mid-response are close_notify or EOF.
                return True
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except (OSError, ValueError):
            return True

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _stream(self, rec, frames: list, entry: dict, extra_headers: list) -> None:
        st, cfg = self.state, self.cfg
        exc = entry.get("stream_exception")
        if exc:
            after = int(exc.get("after_events", 1))
            frames = frames[:after] + [
                es.exception_frame(exc.get("type", "modelStreamErrorException"), exc.get("message", "scripted stream error"))
            ]
        drop_after = entry.get("drop_after_events")
        gate_on = cfg.gate and entry.get("gate", True) and len(frames) > 1
        gate_timeout = float(entry.get("gate_timeout", cfg.gate_timeout))

        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        for k, v in extra_headers + self._base_headers():
            self.send_header(k, v)
        self.send_header("Transfer-Encoding", "chunked")
        try:
            self.end_headers()
        except OSError as e:
            st.finish(rec, status=200, outcome="peer_closed", error=str(e))
            self.close_connection = True
            return
        st.update(rec, status=200, state="streaming", events_sent=0)

        sent = 0
        gate_timed_out = False
        for i, frame in enumerate(frames):
            if drop_after is not None and i == int(drop_after):
                self._drop(rec, reset=False, outcome="dropped_mid_stream", status=200, events_sent=sent)
                return
            if i == 1 and gate_on:
                # The gate was opened before frame 0 went out (below), so a
                # release that races the first frame is never lost.
                released = gate.wait(0)
                deadline = time.monotonic() + gate_timeout
                while not released:
                    if self._peer_closed():
                        st.finish(rec, status=200, outcome="peer_closed", events_sent=sent, gate="peer_closed")
                        self.close_connection = True
                        return
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        gate_timed_out = True
                        break
                    released = gate.wait(min(0.02, remaining))
                st.release(rec["id"])
                st.update(
                    rec,
                    state="streaming",
                    gate="timeout" if gate_timed_out else "released",
                    gate_timeout=gate_timed_out,
                )
            if i == 0 and gate_on:
                gate = st.add_gate(rec)
            data = frame() if callable(frame) else frame
            try:
                self._write_chunk(data)
            except OSError as e:
                st.finish(rec, status=200, outcome="peer_closed", events_sent=sent, error=str(e))
                self.close_connection = True
                return
            sent += 1
            st.update(rec, events_sent=sent)
        try:
            self.wfile.write(b"0\r\n\r\n")
        except OSError as e:
            st.finish(rec, status=200, outcome="peer_closed", events_sent=sent, error=str(e))
            self.close_connection = True
            return
        st.finish(
            rec,
            status=200,
            outcome="completed",
            events_sent=sent,
            gate_timeout=gate_timed_out,
            stream_exception=bool(exc),
        )


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", help="write the bound port here once listening")
    p.add_argument("--access-key", help="the only access key whose signatures are accepted")
    p.add_argument("--secret-key")
    p.add_argument("--session-token", help="when set, requests must carry and sign it")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--no-verify", action="store_true", help="fast mode for load tests: no signature checks, no gating, lean records")
    p.add_argument("--no-gate", action="store_true", help="stream without holding after the first event")
    p.add_argument("--gate-timeout", type=float, default=5.0, help="seconds a stream holds after its first event before giving up on a release")
    p.add_argument("--max-records", type=int, default=10000)
    p.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate chain")
    p.add_argument("--tls-key", help="the PEM private key of --tls-cert")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    if not args.no_verify and not (args.access_key and args.secret_key):
        p.error("--access-key and --secret-key are required unless --no-verify")

    cfg = Config(args)
    server = Server((args.host, args.port), Handler)
    server.state = State(cfg)  # type: ignore[attr-defined]
    if args.tls_cert:
        # Production traffic to Bedrock is always TLS: one test goes over it.
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    host, port = server.server_address[:2]
    cfg.expected_host = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def stop(signum, frame):
        # shutdown() blocks until serve_forever returns: not from its thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)  # readers never see a half-written file
    sys.stderr.write(f"mock_bedrock: listening on {cfg.expected_host} verify={cfg.verify}\n")
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.state.release()  # type: ignore[attr-defined]
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
