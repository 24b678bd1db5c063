"""The test instruments themselves: the event-stream encoder, the SigV4
verifier and the mock upstream, each checked against an outside reference
(AWS's published vectors, botocore's decoder, a real boto3 client).

If these are wrong, every sidecar test built on them means nothing, so each
check here is written to be able to fail: known-good input must pass AND a
minimally altered input must be rejected.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import struct
import time
import uuid
from unittest import mock as umock

import boto3
import botocore.exceptions
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer

import eventstream as es
from conftest import (
    PLAIN_MODEL,
    PROFILE_ARN,
    REGION,
    SIDECAR_ACCESS_KEY,
    SIDECAR_SECRET_KEY,
    SIDECAR_SESSION_TOKEN,
    MockBedrock,
    build_raw,
    claude_body,
    converse_args,
    decode_frames,
    read_frame,
    record_body,
    send_raw,
    sign_as_client,
)
from sigv4_check import parse_authorization, verify_request

# =============================================================================
# Event-stream encoder
# =============================================================================


def test_golden_frame_is_byte_exact():
    # BEDROCK.md's golden frame, assembled here from the format definition:
    # prelude (total 61, headers 32, prelude CRC), one string header
    # `content-type: application/json`, the payload, message CRC.
    header = bytes([12]) + b"content-type" + bytes([7]) + struct.pack(">H", 16) + b"application/json"
    assert len(header) == 0x20
    expected = (
        bytes.fromhex("0000003D 00000020 07FD8396".replace(" ", ""))
        + header
        + b"{'foo':'bar'}"
        + bytes.fromhex("8D9C08B1")
    )
    assert len(expected) == 61
    frame = es.encode_message([("content-type", "application/json")], b"{'foo':'bar'}")
    assert frame == expected


def test_botocore_decodes_every_header_type():
    u = uuid.UUID("0102030405060708090a0b0c0d0e0f10")
    frame = es.encode_message(
        [
            ("t", True),
            ("f", False),
            ("b", es.byte(-3)),
            ("s", es.short(-300)),
            ("i", es.integer(70000)),
            ("l", es.long(2**40)),
            ("bytes", b"\x00\xff"),
            ("str", "héllo"),
            ("ts", es.timestamp_ms(1_700_000_000_123)),
            ("u", u),
        ],
        b"payload",
    )
    (msg,) = decode_frames(frame)
    h = msg.headers
    assert h["t"] is True and h["f"] is False
    assert (h["b"], h["s"], h["i"], h["l"]) == (-3, -300, 70000, 2**40)
    assert h["bytes"] == b"\x00\xff"
    assert h["str"] == "héllo"
    assert h["ts"] == 1_700_000_000_123
    assert h["u"] == u.bytes
    assert msg.payload == b"payload"


def test_botocore_rejects_a_corrupted_frame():
    # Proves the CRCs are really checked by the decoder we rely on: a frame
    # with one flipped payload bit must not decode.
    frame = bytearray(es.event("chunk", {"bytes": "aGk="}))
    frame[-6] ^= 0x01
    buf = EventStreamBuffer()
    buf.add_data(bytes(frame))
    with pytest.raises(ChecksumMismatch):
        list(buf)


def test_bedrock_helpers_produce_the_documented_headers():
    (ev,) = decode_frames(es.chunk_event({"type": "message_stop"}, padding="abc"))
    assert ev.headers == {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}
    payload = json.loads(ev.payload)
    assert payload["p"] == "abc"
    import base64

    assert json.loads(base64.b64decode(payload["bytes"])) == {"type": "message_stop"}
    (exc,) = decode_frames(es.exception_frame("throttlingException", "slow down"))
    assert exc.headers[":message-type"] == "exception"
    assert exc.headers[":exception-type"] == "throttlingException"
    assert json.loads(exc.payload) == {"message": "slow down"}


# =============================================================================
# SigV4 verifier against AWS's published test suite
# =============================================================================

SUITE_KEY = "AKIDEXAMPLE"
SUITE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_DATE = "20150830T123600Z"
SUITE_NOW = dt.datetime(2015, 8, 30, 12, 36, 0, tzinfo=dt.timezone.utc)
EMPTY_SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
HOST_DATE = [("Host", "example.amazonaws.com"), ("X-Amz-Date", SUITE_DATE)]

# Cases of AWS's SigV4 test suite (aws-sig-v4-test-suite; also in botocore's
# tests/unit/auth/aws4_testsuite): the request, the published canonical
# request, the published hash line of the string to sign where we have it,
# and the published signature. Service "service", region us-east-1.
SUITE = [
    {
        "name": "get-vanilla",
        "method": "GET",
        "target": "/",
        "headers": HOST_DATE,
        "body": b"",
        "signed": "host;x-amz-date",
        "creq": f"GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:{SUITE_DATE}\n\nhost;x-amz-date\n{EMPTY_SHA}",
        "creq_sha": "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
        "sig": "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    },
    {
        "name": "get-vanilla-query-order-key-case",
        "method": "GET",
        "target": "/?Param2=value2&Param1=value1",
        "headers": HOST_DATE,
        "body": b"",
        "signed": "host;x-amz-date",
        "creq": f"GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:{SUITE_DATE}\n\nhost;x-amz-date\n{EMPTY_SHA}",
        "creq_sha": None,
        "sig": "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    },
    {
        "name": "post-vanilla",
        "method": "POST",
        "target": "/",
        "headers": HOST_DATE,
        "body": b"",
        "signed": "host;x-amz-date",
        "creq": f"POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:{SUITE_DATE}\n\nhost;x-amz-date\n{EMPTY_SHA}",
        "creq_sha": "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87",
        "sig": "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    },
    {
        "name": "post-x-www-form-urlencoded",
        "method": "POST",
        "target": "/",
        "headers": [("Content-Type", "application/x-www-form-urlencoded")] + HOST_DATE,
        "body": b"Param1=value1",
        "signed": "content-type;host;x-amz-date",
        "creq": (
            "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\n"
            f"x-amz-date:{SUITE_DATE}\n\ncontent-type;host;x-amz-date\n"
            "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
        ),
        "creq_sha": "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281",
        "sig": "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
    },
]


def _hmac_chain(secret: str, date: str, region: str, service: str, string_to_sign: str) -> str:
    """SigV4 key derivation and final HMAC written out from the spec with
    hashlib only, so the published vectors are checked without botocore."""
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def _suite_auth(case: dict, sig: str | None = None, key: str = SUITE_KEY) -> str:
    return (
        f"AWS4-HMAC-SHA256 Credential={key}/20150830/us-east-1/service/aws4_request, "
        f"SignedHeaders={case['signed']}, Signature={sig or case['sig']}"
    )


def _suite_verify(case, *, headers=None, body=None, secret=SUITE_SECRET, now=SUITE_NOW, region="us-east-1",
                  target=None, auth=None):
    hdrs = list(case["headers"] if headers is None else headers) + [("Authorization", auth or _suite_auth(case))]
    return verify_request(
        method=case["method"],
        raw_target=case["target"] if target is None else target,
        headers=hdrs,
        body=case["body"] if body is None else body,
        access_key=SUITE_KEY,
        secret_key=secret,
        region=region,
        service="service",
        now=now,
    )


@pytest.mark.parametrize("case", SUITE, ids=[c["name"] for c in SUITE])
def test_published_vector_is_self_consistent(case):
    # The inline vector must hang together before it can judge anything:
    # canonical request -> published hash -> published signature, by hashlib.
    creq_sha = hashlib.sha256(case["creq"].encode()).hexdigest()
    if case["creq_sha"]:
        assert creq_sha == case["creq_sha"]
    sts = f"AWS4-HMAC-SHA256\n{SUITE_DATE}\n20150830/us-east-1/service/aws4_request\n{creq_sha}"
    assert _hmac_chain(SUITE_SECRET, "20150830", "us-east-1", "service", sts) == case["sig"]


@pytest.mark.parametrize("case", SUITE, ids=[c["name"] for c in SUITE])
def test_verifier_accepts_published_vector(case):
    v = _suite_verify(case)
    assert v.ok, v.reason
    assert v.canonical_request == case["creq"]
    assert v.expected_signature == case["sig"]


@pytest.mark.parametrize("case", SUITE, ids=[c["name"] for c in SUITE])
def test_verifier_rejects_altered_vector(case):
    flipped = case["sig"][:-1] + ("0" if case["sig"][-1] != "0" else "1")
    assert not _suite_verify(case, auth=_suite_auth(case, sig=flipped)).ok
    assert "does not match" in _suite_verify(case, secret=SUITE_SECRET[:-1] + "X").reason
    assert not _suite_verify(case, body=case["body"] + b"x").ok
    assert not _suite_verify(case, target=case["target"].replace("/", "/a", 1)).ok
    assert not _suite_verify(case, region="us-west-2").ok
    other_host = [(k, "other.amazonaws.com" if k == "Host" else v) for k, v in case["headers"]]
    assert not _suite_verify(case, headers=other_host).ok
    r = _suite_verify(case, now=SUITE_NOW + dt.timedelta(minutes=5, seconds=1))
    assert not r.ok and "expired" in r.reason
    assert _suite_verify(case, now=SUITE_NOW + dt.timedelta(minutes=4, seconds=59)).ok
    r = _suite_verify(case, auth=_suite_auth(case, key="AKIDOTHER"))
    assert not r.ok and "access key" in r.reason


def test_parse_authorization_rejects_malformed_headers():
    from sigv4_check import SignatureProblem

    for bad in (
        "Bearer abc",
        "AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/service/aws4_request, SignedHeaders=host",
        "AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/aws4_request, SignedHeaders=host, Signature=" + "0" * 64,
        "AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/service/aws4_request, SignedHeaders=host, Signature=XYZ",
    ):
        with pytest.raises(SignatureProblem):
            parse_authorization(bad)


# =============================================================================
# Path double-encoding (the classic Bedrock proxy bug)
# =============================================================================

ENCODED_PATH = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke"


def _signed_canonical(path_line: str, amz_date: str, host: str) -> str:
    return (
        f"POST\n{path_line}\n\nhost:{host}\nx-amz-date:{amz_date}\n\nhost;x-amz-date\n"
        + hashlib.sha256(b"{}").hexdigest()
    )


def test_botocore_double_encodes_the_path_for_non_s3():
    req = AWSRequest(method="POST", url=f"https://bedrock-runtime.us-east-1.amazonaws.com{ENCODED_PATH}", data=b"{}")
    req.context["timestamp"] = "20261203T120000Z"
    signer = SigV4Auth(Credentials("K", "S"), "bedrock", "us-east-1")
    path_line = signer.canonical_request(req).split("\n")[1]
    assert path_line == "/model/anthropic.claude-3-haiku-20240307-v1%253A0/invoke"

    arn_req = AWSRequest(method="POST", url="https://h/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fus.x/converse", data=b"")
    arn_req.context["timestamp"] = "20261203T120000Z"
    assert signer.canonical_request(arn_req).split("\n")[1] == (
        "/model/arn%253Aaws%253Abedrock%253Aus-east-1%253A1%253Ainference-profile%252Fus.x/converse"
    )
    # A bare ':' (LiteLLM) is encoded once, to the same canonical form the
    # escaped one had before the second pass.
    bare = AWSRequest(method="POST", url="https://h/model/a.b-v1:0/invoke", data=b"")
    bare.context["timestamp"] = "20261203T120000Z"
    assert signer.canonical_request(bare).split("\n")[1] == "/model/a.b-v1%3A0/invoke"


def test_verifier_insists_on_double_encoding():
    now = dt.datetime.now(dt.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    host = "127.0.0.1:9"

    def verdict(path_line: str):
        creq = _signed_canonical(path_line, amz_date, host)
        sts = f"AWS4-HMAC-SHA256\n{amz_date}\n{amz_date[:8]}/us-east-1/bedrock/aws4_request\n" + hashlib.sha256(creq.encode()).hexdigest()
        sig = _hmac_chain("S", amz_date[:8], "us-east-1", "bedrock", sts)
        auth = f"AWS4-HMAC-SHA256 Credential=K/{amz_date[:8]}/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature={sig}"
        return verify_request(
            method="POST", raw_target=ENCODED_PATH,
            headers=[("Host", host), ("X-Amz-Date", amz_date), ("Authorization", auth)],
            body=b"{}", access_key="K", secret_key="S", region="us-east-1", expected_host=host,
        )

    # Signed the AWS way (escape once more): accepted.
    assert verdict("/model/anthropic.claude-3-haiku-20240307-v1%253A0/invoke").ok
    # Signed over the path as sent (single encoding): AWS would reject it.
    assert not verdict(ENCODED_PATH).ok
    # Signed over the decoded path: also wrong.
    assert not verdict("/model/anthropic.claude-3-haiku-20240307-v1:0/invoke").ok


def test_verifier_uses_only_the_signed_headers_and_checks_content_sha():
    now = dt.datetime.now(dt.timezone.utc)
    url = "http://127.0.0.1:9" + ENCODED_PATH
    hdrs = sign_as_client("POST", url, b"{}", access_key="K", secret_key="S", headers={"Content-Type": "application/json"})
    common = dict(method="POST", raw_target=ENCODED_PATH, access_key="K", secret_key="S", region=REGION,
                  expected_host="127.0.0.1:9", now=now)
    assert verify_request(headers=hdrs, body=b"{}", **common).ok
    # Unsigned extra headers (added by a proxy after signing) don't matter...
    assert verify_request(headers=hdrs + [("User-Agent", "x"), ("X-Extra", "y")], body=b"{}", **common).ok
    # ...but changing a signed one does.
    changed = [(k, "text/plain" if k.lower() == "content-type" else v) for k, v in hdrs]
    assert not verify_request(headers=changed, body=b"{}", **common).ok
    # A wrong X-Amz-Content-SHA256 must not stand in for the real body hash.
    lying = hdrs + [("X-Amz-Content-Sha256", hashlib.sha256(b"other").hexdigest())]
    r = verify_request(headers=lying, body=b"{}", **common)
    assert not r.ok and "X-Amz-Content-SHA256" in r.reason


def test_verifier_session_token_rules():
    url = "http://127.0.0.1:9" + ENCODED_PATH
    common = dict(method="POST", raw_target=ENCODED_PATH, body=b"{}", access_key="K", secret_key="S",
                  region=REGION, expected_host="127.0.0.1:9")
    with_tok = sign_as_client("POST", url, b"{}", access_key="K", secret_key="S", session_token="T")
    without = sign_as_client("POST", url, b"{}", access_key="K", secret_key="S")
    assert verify_request(headers=with_tok, session_token="T", **common).ok
    r = verify_request(headers=without, session_token="T", **common)
    assert not r.ok and "missing X-Amz-Security-Token" in r.reason
    r = verify_request(headers=with_tok, session_token="OTHER", **common)
    assert not r.ok and "not the configured session token" in r.reason
    r = verify_request(headers=with_tok, session_token=None, **common)
    assert not r.ok and "unexpected X-Amz-Security-Token" in r.reason
    # Present and right, but added after signing: AWS requires it signed.
    unsigned_tok = without + [("X-Amz-Security-Token", "T")]
    r = verify_request(headers=unsigned_tok, session_token="T", **common)
    assert not r.ok and "not signed" in r.reason


# =============================================================================
# boto3 straight at the mock
# =============================================================================


def _direct_client(mock, *, access_key=SIDECAR_ACCESS_KEY, secret_key=SIDECAR_SECRET_KEY,
                   session_token=SIDECAR_SESSION_TOKEN, retries=1):
    session = boto3.session.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret_key,
        aws_session_token=session_token, region_name=REGION,
    )
    return session.client(
        "bedrock-runtime", endpoint_url=mock.url,
        config=Config(retries={"total_max_attempts": retries, "mode": "standard"}, read_timeout=20),
    )


def _rejection(mock, call) -> tuple[botocore.exceptions.ClientError, dict]:
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        call()
    rec = mock.only_request()
    return ei.value, rec


@pytest.mark.parametrize("model", [PLAIN_MODEL, PROFILE_ARN], ids=["plain", "arn"])
def test_boto3_valid_requests_are_accepted(mock, model):
    c = _direct_client(mock)
    r = c.invoke_model(modelId=model, body=claude_body())
    body = json.loads(r["body"].read())
    assert body["type"] == "message" and body["stop_reason"] == "end_turn"
    assert body["usage"]["input_tokens"] > 0 and body["usage"]["output_tokens"] > 0
    hdrs = r["ResponseMetadata"]["HTTPHeaders"]
    assert int(hdrs["x-amzn-bedrock-output-token-count"]) == body["usage"]["output_tokens"]
    assert int(hdrs["x-amzn-bedrock-input-token-count"]) == body["usage"]["input_tokens"]
    assert int(hdrs["x-amzn-bedrock-invocation-latency"]) > 0
    assert hdrs["x-amzn-requestid"]
    rec = mock.only_request()
    assert rec["verification"]["ok"], rec["verification"]["reason"]
    assert rec["model_id"] == model
    assert "%3A" in rec["path"]  # boto3 escapes ':' and the mock keeps the raw path
    assert record_body(rec) == claude_body()

    r = c.converse(modelId=model, **converse_args())
    assert r["stopReason"] == "end_turn"
    assert r["usage"]["totalTokens"] == r["usage"]["inputTokens"] + r["usage"]["outputTokens"]
    assert r["metrics"]["latencyMs"] >= 1
    assert r["output"]["message"]["content"][0]["text"]

    r = c.count_tokens(modelId=model, input={"converse": {"messages": converse_args()["messages"]}})
    assert r["inputTokens"] > 0

    r = c.apply_guardrail(guardrailIdentifier="gr-123", guardrailVersion="1", source="INPUT",
                          content=[{"text": {"text": "hello"}}])
    assert r["action"] == "NONE" and r["usage"]["topicPolicyUnits"] == 1

    recs = mock.wait(4)
    assert [x["operation"] for x in recs] == ["InvokeModel", "Converse", "CountTokens", "ApplyGuardrail"]
    assert all(x["verification"]["ok"] for x in recs), [x["verification"]["reason"] for x in recs]
    assert recs[-1]["guardrail_id"] == "gr-123"


def test_boto3_streams_parse_and_gate(mock):
    c = _direct_client(mock)
    r = c.invoke_model_with_response_stream(modelId=PROFILE_ARN, body=claude_body())
    assert r["contentType"] == "application/json"
    events = iter(r["body"])
    first = json.loads(next(events)["chunk"]["bytes"])
    assert first["type"] == "message_start"
    # The mock holds after the first event until told: this is the gate.
    (held,) = mock.wait(1, until="holding")
    assert held["events_sent"] == 1
    assert mock.release() == [held["id"]]
    rest = [json.loads(e["chunk"]["bytes"]) for e in events]
    assert rest[-1]["type"] == "message_stop"
    metrics = rest[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["outputTokenCount"] == rest[-2]["usage"]["output_tokens"]
    text = "".join(e["delta"]["text"] for e in rest if e["type"] == "content_block_delta")
    assert text.split() == mock_text_words()
    rec = mock.only_request()
    assert rec["gate"] == "released" and rec["gate_timeout"] is False and rec["outcome"] == "completed"

    mock.reset()
    r = c.converse_stream(modelId=PLAIN_MODEL, **converse_args())
    events = iter(r["stream"])
    assert next(events) == {"messageStart": {"role": "assistant"}}
    mock.wait(1, until="holding")
    assert len(mock.release()) == 1
    rest = list(events)
    assert rest[-2] == {"messageStop": {"stopReason": "end_turn"}}
    meta = rest[-1]["metadata"]
    assert meta["usage"]["outputTokens"] == len(mock_text_words())
    assert meta["metrics"]["latencyMs"] >= 1


def mock_text_words():
    from mock_bedrock import DEFAULT_TEXT

    return DEFAULT_TEXT.split()


def test_gate_times_out_when_nobody_releases(mock):
    # What a buffering proxy looks like from the mock: nobody reads the first
    # event in time, so the gate expires, and a late release finds nothing.
    mock.script({"gate_timeout": 0.3})
    c = _direct_client(mock)
    t0 = time.monotonic()
    events = list(c.converse_stream(modelId=PLAIN_MODEL, **converse_args())["stream"])
    assert time.monotonic() - t0 >= 0.3
    assert "metadata" in events[-1]
    rec = mock.only_request()
    assert rec["gate"] == "timeout" and rec["gate_timeout"] is True
    assert mock.release() == []


def test_wrong_secret_is_rejected(mock):
    c = _direct_client(mock, secret_key="not-the-secret")
    err, rec = _rejection(mock, lambda: c.invoke_model(modelId=PLAIN_MODEL, body=claude_body()))
    assert err.response["Error"]["Code"] == "InvalidSignatureException"
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "does not match" in err.response["Error"]["Message"]
    assert rec["verification"]["ok"] is False and rec["outcome"] == "rejected"


def test_wrong_access_key_is_rejected(mock):
    c = _direct_client(mock, access_key="AKIDEXAMPLE")
    err, rec = _rejection(mock, lambda: c.converse(modelId=PLAIN_MODEL, **converse_args()))
    assert "access key 'AKIDEXAMPLE' is not the configured key" in err.response["Error"]["Message"]


def test_missing_session_token_is_rejected(mock):
    c = _direct_client(mock, session_token=None)
    err, _ = _rejection(mock, lambda: c.converse(modelId=PLAIN_MODEL, **converse_args()))
    assert "missing X-Amz-Security-Token" in err.response["Error"]["Message"]


def _tamper(client, fn):
    # before-send runs after signing: whatever it changes is unsigned.
    def handler(request, **_):
        fn(request)
        return None

    client.meta.events.register("before-send.bedrock-runtime", handler)


def test_tampered_body_is_rejected(mock):
    c = _direct_client(mock)

    def change_body(request):
        request.body = request.body.replace(b'"hi"', b'"yo"')
        assert request.body != claude_body()

    _tamper(c, change_body)
    err, rec = _rejection(mock, lambda: c.invoke_model(modelId=PLAIN_MODEL, body=claude_body()))
    assert "does not match" in err.response["Error"]["Message"]
    assert b'"yo"' in record_body(rec)


def test_tampered_path_is_rejected(mock):
    c = _direct_client(mock)

    def change_path(request):
        request.url = request.url.replace("haiku", "sonnet")

    _tamper(c, change_path)
    err, rec = _rejection(mock, lambda: c.invoke_model(modelId=PLAIN_MODEL, body=claude_body()))
    assert "does not match" in err.response["Error"]["Message"]
    assert "sonnet" in rec["path"]


def test_stale_date_is_rejected(mock):
    c = _direct_client(mock)
    ten_min_ago = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(minutes=10)
    with umock.patch("botocore.auth.get_current_datetime", return_value=ten_min_ago):
        err, _ = _rejection(mock, lambda: c.invoke_model(modelId=PLAIN_MODEL, body=claude_body()))
    assert err.response["Error"]["Message"].startswith("Signature expired")


def test_signature_for_another_host_is_rejected(mock):
    # Correctly signed, but for the host the app knew (as when a proxy
    # forwards the app's Host): the mock must notice it is not the addressee.
    body = claude_body()
    hdrs = sign_as_client("POST", f"http://127.0.0.1:8010{ENCODED_PATH}", body, access_key=SIDECAR_ACCESS_KEY,
                          secret_key=SIDECAR_SECRET_KEY, session_token=SIDECAR_SESSION_TOKEN)
    conn, resp = send_raw(mock.port, build_raw("POST", ENCODED_PATH, hdrs, body))
    try:
        assert resp.status == 403
        assert resp.getheader("x-amzn-ErrorType").startswith("InvalidSignatureException:")
        assert "signed host '127.0.0.1:8010'" in json.loads(resp.read())["message"]
    finally:
        conn.close()


def test_chunked_request_body_is_reassembled_and_verified(mock):
    body = claude_body("chunked please")
    hdrs = sign_as_client("POST", f"{mock.url}{ENCODED_PATH}", body, access_key=SIDECAR_ACCESS_KEY,
                          secret_key=SIDECAR_SECRET_KEY, session_token=SIDECAR_SESSION_TOKEN)
    conn, resp = send_raw(mock.port, build_raw("POST", ENCODED_PATH, hdrs, body, chunked=True))
    try:
        assert resp.status == 200, resp.read()
        assert json.loads(resp.read())["type"] == "message"
    finally:
        conn.close()
    rec = mock.only_request()
    assert rec["request_chunked"] is True and record_body(rec) == body


# =============================================================================
# Scripting
# =============================================================================


@pytest.mark.parametrize(
    "etype,status",
    [("ValidationException", 400), ("ThrottlingException", 429), ("ServiceUnavailableException", 503),
     ("ModelErrorException", 424), ("AccessDeniedException", 403)],
)
def test_scripted_errors_reach_boto3_typed(mock, etype, status):
    mock.script({"status": status, "error_type": etype, "message": f"scripted {etype} text"})
    c = _direct_client(mock)
    with pytest.raises(getattr(c.exceptions, etype)) as ei:
        c.invoke_model(modelId=PLAIN_MODEL, body=claude_body())
    assert ei.value.response["Error"]["Message"] == f"scripted {etype} text"
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    # The script is consumed: the next call succeeds.
    c.invoke_model(modelId=PLAIN_MODEL, body=claude_body())


def test_scripted_delay(mock):
    mock.script({"delay_ms": 400})
    c = _direct_client(mock)
    t0 = time.monotonic()
    c.converse(modelId=PLAIN_MODEL, **converse_args())
    assert time.monotonic() - t0 >= 0.4


def test_scripted_drop(mock):
    mock.script({"drop": True})
    c = _direct_client(mock)
    with pytest.raises((botocore.exceptions.ConnectionClosedError, botocore.exceptions.EndpointConnectionError,
                        botocore.exceptions.HTTPClientError)):
        c.converse(modelId=PLAIN_MODEL, **converse_args())
    assert mock.only_request()["outcome"] == "dropped"


@pytest.mark.parametrize("exc_type", ["throttlingException", "modelStreamErrorException"])
def test_scripted_stream_exception(mock, exc_type):
    mock.script({"stream_exception": {"type": exc_type, "message": "mid-stream trouble", "after_events": 1}})
    c = _direct_client(mock)
    events = iter(c.invoke_model_with_response_stream(modelId=PLAIN_MODEL, body=claude_body())["body"])
    assert "chunk" in next(events)
    mock.wait(1, until="holding")
    mock.release()
    with pytest.raises(botocore.exceptions.EventStreamError) as ei:
        next(events)
    assert ei.value.response["Error"]["Code"] == exc_type
    assert ei.value.response["Error"]["Message"] == "mid-stream trouble"


def test_scripted_drop_mid_stream(mock):
    mock.script({"drop_after_events": 2, "gate": False})
    c = _direct_client(mock)
    events = c.converse_stream(modelId=PLAIN_MODEL, **converse_args())["stream"]
    got = []
    with pytest.raises(Exception) as ei:
        for e in events:
            got.append(e)
    assert not isinstance(ei.value, AssertionError)
    assert len(got) == 2
    assert mock.only_request()["outcome"] == "dropped_mid_stream"


def test_mock_sees_a_client_close_while_holding(mock):
    c = _direct_client(mock)
    stream = c.converse_stream(modelId=PLAIN_MODEL, **converse_args())["stream"]
    next(iter(stream))
    mock.wait(1, until="holding")
    stream.close()
    rec = mock.only_request()
    assert rec["outcome"] == "peer_closed" and rec["events_sent"] == 1


def test_claude_extraneous_key_is_a_validation_error(mock):
    c = _direct_client(mock)
    body = json.loads(claude_body())
    body["model"] = "claude"
    with pytest.raises(c.exceptions.ValidationException) as ei:
        c.invoke_model(modelId=PLAIN_MODEL, body=json.dumps(body))
    assert "extraneous key [model] is not permitted" in ei.value.response["Error"]["Message"]


def test_max_tokens_bounds_the_answer(mock):
    c = _direct_client(mock)
    out = json.loads(c.invoke_model(modelId=PLAIN_MODEL, body=claude_body(max_tokens=3))["body"].read())
    assert out["stop_reason"] == "max_tokens" and out["usage"]["output_tokens"] == 3
    r = c.converse(modelId=PLAIN_MODEL, **converse_args(max_tokens=2))
    assert r["stopReason"] == "max_tokens" and r["usage"]["outputTokens"] == 2


def test_control_api_validation_and_reset(mock):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=5)
    conn.request("POST", "/_mock/script", body=json.dumps({"responses": [{"stauts": 500}]}))
    resp = conn.getresponse()
    assert resp.status == 400 and "stauts" in json.loads(resp.read())["message"]
    conn.close()
    mock.script({"status": 500, "error_type": "InternalServerException"})
    mock.reset()
    assert mock.requests() == []
    # The scripted error was dropped by reset, so this call succeeds.
    _direct_client(mock).converse(modelId=PLAIN_MODEL, **converse_args())


def test_fast_mode_answers_without_checking_or_gating(workdir):
    m = MockBedrock(workdir, extra_args=["--no-verify"])
    try:
        c = _direct_client(m, access_key="ANYKEY", secret_key="any", session_token=None)
        assert json.loads(c.invoke_model(modelId=PLAIN_MODEL, body=claude_body())["body"].read())["type"] == "message"
        # No gate: the whole stream arrives without anyone releasing it.
        events = list(c.converse_stream(modelId=PLAIN_MODEL, **converse_args())["stream"])
        assert "metadata" in events[-1]
        recs = m.wait(2)
        assert all("verification" not in r and "body_b64" not in r for r in recs)
    finally:
        assert m.stop() == 0


def test_raw_stream_frames_decode_with_botocore(mock):
    body = claude_body()
    hdrs = sign_as_client("POST", f"{mock.url}/model/{PLAIN_MODEL.replace(':', '%3A')}/invoke-with-response-stream",
                          body, access_key=SIDECAR_ACCESS_KEY, secret_key=SIDECAR_SECRET_KEY,
                          session_token=SIDECAR_SESSION_TOKEN)
    target = f"/model/{PLAIN_MODEL.replace(':', '%3A')}/invoke-with-response-stream"
    conn, resp = send_raw(mock.port, build_raw("POST", target, hdrs, body))
    try:
        assert resp.status == 200
        assert resp.getheader("Content-Type") == "application/vnd.amazon.eventstream"
        first = read_frame(resp)
        mock.wait(1, until="holding")
        mock.release()
        data = first
        while (f := read_frame(resp)) is not None:
            data += f
    finally:
        conn.close()
    msgs = decode_frames(data)
    assert all(m.headers[":event-type"] == "chunk" for m in msgs)
    assert len(msgs) == mock.only_request()["events_sent"]
