"""An unmodified boto3 app talking to Bedrock through the sidecar.

The app uses its own (fake) keys and finds the sidecar through
AWS_ENDPOINT_URL_BEDROCK_RUNTIME (or endpoint_url=). Every test checks both
ends: what boto3 parsed, and what the mock upstream received — a signature
the mock verified as the *sidecar's*, the raw path byte for byte as boto3
sent it, the body unchanged, and none of the app's credentials or the
sidecar's own x-intent / x-session-id headers.
"""

from __future__ import annotations

import json

import pytest

from conftest import (
    APP_SESSION_TOKEN,
    TUNED_INTENT,
    TUNED_TEMPERATURE,
    PLAIN_MODEL,
    PROFILE_ARN,
    assert_resigned_by_sidecar,
    claude_body,
    converse_args,
    make_app_client,
    record_body,
    record_headers,
)
from mock_bedrock import DEFAULT_TEXT

MODELS = {"plain": PLAIN_MODEL, "arn": PROFILE_ARN}
# An intent the sidecar has no profile for: with the suite's pass-through
# setting its requests must reach Bedrock exactly as the app sent them.
INTENT, SESSION = "e2e_untuned", "sess-42"



def first_then_release(mock, events):
    """Read the first event, prove the mock is still holding the rest, then
    let it go. A sidecar that buffers the stream delivers the first event
    only after the mock's gate has expired, so the release finds nothing."""
    first = next(events)
    released = mock.release()
    assert len(released) == 1, (
        "the first stream event reached the client only after the upstream had given up waiting: "
        "the sidecar buffered the stream instead of forwarding it as it arrived"
    )
    return first


def do_invoke(client, model, mock):
    r = client.invoke_model(modelId=model, body=claude_body())
    body = json.loads(r["body"].read())
    assert body["type"] == "message" and body["stop_reason"] == "end_turn"
    assert body["content"][0]["text"] == DEFAULT_TEXT
    assert body["usage"]["output_tokens"] == len(DEFAULT_TEXT.split())
    assert r["contentType"] == "application/json"
    hdrs = r["ResponseMetadata"]["HTTPHeaders"]
    # Bedrock's usage headers must come through the sidecar untouched.
    assert hdrs["x-amzn-bedrock-input-token-count"] == str(body["usage"]["input_tokens"])
    assert hdrs["x-amzn-bedrock-output-token-count"] == str(body["usage"]["output_tokens"])
    assert hdrs["x-amzn-requestid"]
    return hdrs


def do_invoke_stream(client, model, mock):
    r = client.invoke_model_with_response_stream(modelId=model, body=claude_body())
    assert r["contentType"] == "application/json"
    events = iter(r["body"])
    first = json.loads(first_then_release(mock, events)["chunk"]["bytes"])
    assert first["type"] == "message_start"
    rest = [json.loads(e["chunk"]["bytes"]) for e in events]
    assert rest[-1]["type"] == "message_stop"
    assert rest[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"] == len(DEFAULT_TEXT.split())
    text = "".join(e["delta"]["text"] for e in rest if e["type"] == "content_block_delta")
    assert text == DEFAULT_TEXT
    return r["ResponseMetadata"]["HTTPHeaders"]


def do_converse(client, model, mock):
    r = client.converse(modelId=model, **converse_args())
    assert r["output"]["message"]["content"][0]["text"] == DEFAULT_TEXT
    assert r["stopReason"] == "end_turn"
    assert r["usage"]["outputTokens"] == len(DEFAULT_TEXT.split())
    return r["ResponseMetadata"]["HTTPHeaders"]


def do_converse_stream(client, model, mock):
    r = client.converse_stream(modelId=model, **converse_args())
    events = iter(r["stream"])
    assert first_then_release(mock, events) == {"messageStart": {"role": "assistant"}}
    rest = list(events)
    assert "".join(e["contentBlockDelta"]["delta"]["text"] for e in rest if "contentBlockDelta" in e) == DEFAULT_TEXT
    assert rest[-2] == {"messageStop": {"stopReason": "end_turn"}}
    assert rest[-1]["metadata"]["usage"]["outputTokens"] == len(DEFAULT_TEXT.split())
    return r["ResponseMetadata"]["HTTPHeaders"]


OPS = {
    "invoke": do_invoke,
    "invoke_stream": do_invoke_stream,
    "converse": do_converse,
    "converse_stream": do_converse_stream,
}


def check_forwarded(mock, app, op_path_suffix: str):
    rec = mock.only_request()
    sent = app.sent[-1]
    assert_resigned_by_sidecar(rec)
    assert rec["path"] == sent.raw_path, "the sidecar changed the raw path"
    assert rec["path"].endswith(op_path_suffix)
    assert "%3A" in rec["path"], "boto3 escapes ':' in the model id; the escape must survive"
    assert record_body(rec) == sent.body, "the body reaching Bedrock differs from what the app sent"
    assert rec["outcome"] == "completed"
    return rec


SUFFIX = {
    "invoke": "/invoke",
    "invoke_stream": "/invoke-with-response-stream",
    "converse": "/converse",
    "converse_stream": "/converse-stream",
}


@pytest.mark.parametrize("via", ["env", "param"])
@pytest.mark.parametrize("model", list(MODELS), ids=list(MODELS))
@pytest.mark.parametrize("op", list(OPS))
def test_operation_through_sidecar(sidecar, mock, monkeypatch, op, model, via):
    app = make_app_client(sidecar.url, via=via, monkeypatch=monkeypatch, intent=INTENT, session_id=SESSION)
    hdrs = OPS[op](app.client, MODELS[model], mock)
    rec = check_forwarded(mock, app, SUFFIX[op])
    assert rec["model_id"] == MODELS[model]
    # The app did send the tuner headers (so their absence upstream means
    # the sidecar removed them, not that they were never there).
    assert app.sent[-1].headers.get("x-intent") == INTENT
    assert app.sent[-1].headers.get("x-session-id") == SESSION
    assert hdrs.get("x-tuner-intent"), "every answer names the intent the sidecar settled on"
    assert hdrs.get("x-tuner-request-id")


@pytest.mark.parametrize("event", ["before-sign", "before-send"])
def test_tuner_headers_signed_or_not_are_stripped(sidecar, mock, monkeypatch, event):
    # before-sign: the app's signature covers x-intent (SignedHeaders lists
    # it); before-send: it is added after signing. The sidecar must cope with
    # both and forward neither.
    app = make_app_client(sidecar.url, via="env", monkeypatch=monkeypatch, intent=TUNED_INTENT, session_id="s-1",
                          header_event=event)
    hdrs = do_converse(app.client, PLAIN_MODEL, mock)
    signed_by_app = app.sent[-1].headers["Authorization"]
    assert ("x-intent" in signed_by_app) == (event == "before-sign")
    rec = mock.only_request()
    assert_resigned_by_sidecar(rec)
    assert rec["path"] == app.sent[-1].raw_path
    assert hdrs["x-tuner-intent"] == TUNED_INTENT


def test_app_without_tuner_headers_still_works(sidecar, mock, monkeypatch):
    app = make_app_client(sidecar.url, via="env", monkeypatch=monkeypatch)
    hdrs = do_invoke(app.client, PLAIN_MODEL, mock)
    check_forwarded(mock, app, "/invoke")
    assert hdrs.get("x-tuner-request-id")
    assert hdrs.get("x-tuner-intent"), "a request without x-intent still gets a (fallback) intent label"


def test_app_session_token_is_not_forwarded(sidecar, mock, monkeypatch):
    # An app on temporary credentials sends its own X-Amz-Security-Token;
    # upstream there must be only the sidecar's.
    app = make_app_client(sidecar.url, via="env", monkeypatch=monkeypatch, session_token=APP_SESSION_TOKEN)
    do_converse(app.client, PROFILE_ARN, mock)
    assert app.sent[-1].headers["X-Amz-Security-Token"] == APP_SESSION_TOKEN
    check_forwarded(mock, app, "/converse")


def test_request_ids_are_unique(sidecar, mock, monkeypatch):
    app = make_app_client(sidecar.url, via="env", monkeypatch=monkeypatch, intent=INTENT)
    ids = {do_converse(app.client, PLAIN_MODEL, mock)["x-tuner-request-id"] for _ in range(3)}
    assert len(ids) == 3


def test_count_tokens_and_apply_guardrail_pass_through(sidecar, mock, monkeypatch):
    app = make_app_client(sidecar.url, via="env", monkeypatch=monkeypatch, intent=INTENT, session_id=SESSION)
    c = app.client
    r = c.count_tokens(modelId=PROFILE_ARN, input={"converse": {"messages": converse_args()["messages"]}})
    assert r["inputTokens"] > 0
    rec = check_forwarded(mock, app, "/count-tokens")
    assert rec["operation"] == "CountTokens"

    mock.reset()
    r = c.apply_guardrail(guardrailIdentifier="gr-abc", guardrailVersion="DRAFT", source="OUTPUT",
                          content=[{"text": {"text": "some model output"}}])
    assert r["action"] == "NONE"
    rec = mock.only_request()
    assert_resigned_by_sidecar(rec)
    assert rec["path"] == app.sent[-1].raw_path == "/guardrail/gr-abc/version/DRAFT/apply"
    assert record_body(rec) == app.sent[-1].body


def test_bedrock_request_headers_are_forwarded(sidecar, mock, monkeypatch):
    # Headers that carry Bedrock parameters (trace, guardrail, latency
    # profile) are part of the API: the sidecar must pass them on.
    app = make_app_client(sidecar.url, via="env", monkeypatch=monkeypatch)
    app.client.invoke_model(
        modelId=PLAIN_MODEL, body=claude_body(), contentType="application/json", accept="application/json",
        trace="ENABLED", guardrailIdentifier="gr-1", guardrailVersion="3", performanceConfigLatency="optimized",
    )["body"].read()
    rec = check_forwarded(mock, app, "/invoke")
    h = record_headers(rec)
    assert h.get("x-amzn-bedrock-trace") == ["ENABLED"]
    assert h.get("x-amzn-bedrock-guardrailidentifier") == ["gr-1"]
    assert h.get("x-amzn-bedrock-guardrailversion") == ["3"]
    assert h.get("x-amzn-bedrock-performanceconfig-latency") == ["optimized"]
    assert h.get("content-type") == ["application/json"]


def test_stream_is_not_buffered(sidecar, mock, monkeypatch):
    # The decisive check, spelled out: the client holds the first event while
    # the upstream is provably still waiting to send the second.
    app = make_app_client(sidecar.url, via="env", monkeypatch=monkeypatch, intent=INTENT)
    r = app.client.converse_stream(modelId=PLAIN_MODEL, **converse_args())
    events = iter(r["stream"])
    assert next(events) == {"messageStart": {"role": "assistant"}}
    (rec,) = mock.requests()
    assert rec["state"] == "holding" and rec["events_sent"] == 1, rec
    assert mock.release() == [rec["id"]]
    assert "metadata" in list(events)[-1]
    done = mock.only_request()
    assert done["gate"] == "released" and done["gate_timeout"] is False


def test_two_streams_interleave(sidecar, mock, monkeypatch):
    # Two held streams at once: each gets its first event while both
    # upstream responses are still open (no head-of-line blocking).
    app = make_app_client(sidecar.url, via="env", monkeypatch=monkeypatch)
    a = iter(app.client.converse_stream(modelId=PLAIN_MODEL, **converse_args())["stream"])
    b = iter(app.client.invoke_model_with_response_stream(modelId=PROFILE_ARN, body=claude_body())["body"])
    assert "messageStart" in next(a)
    assert "chunk" in next(b)
    held = mock.wait(2, until="holding")
    assert len(mock.release()) == 2, held
    assert "metadata" in list(a)[-1]
    assert json.loads(list(b)[-1]["chunk"]["bytes"])["type"] == "message_stop"
    recs = mock.wait(2)
    for rec in recs:
        assert_resigned_by_sidecar(rec)


TUNING_KEYS_CLAUDE = {"temperature", "top_p", "top_k", "max_tokens", "stop_sequences", "system"}


@pytest.mark.parametrize("op", ["invoke", "converse", "converse_stream"])
def test_known_intent_is_recognised_and_tuned(sidecar, mock, monkeypatch, op):
    # An intent with a profile (the suite's config sets temperature 0.33 for
    # it): the sidecar rewrites that parameter, and only sampling
    # parameters, then signs the body it actually sends. The mock verifies
    # the signature over the bytes it received and rejects keys Claude does
    # not accept, so a bad rewrite or a stale Content-Length fails here.
    app = make_app_client(sidecar.url, via="env", monkeypatch=monkeypatch, intent=TUNED_INTENT, session_id=SESSION)
    c = app.client
    if op == "invoke":
        r = c.invoke_model(modelId=PLAIN_MODEL, body=claude_body())
        assert json.loads(r["body"].read())["type"] == "message"
    elif op == "converse":
        r = c.converse(modelId=PROFILE_ARN, **converse_args())
        assert r["stopReason"] in ("end_turn", "max_tokens")
    else:
        r = c.converse_stream(modelId=PLAIN_MODEL, **converse_args())
        events = iter(r["stream"])
        first_then_release(mock, events)
        assert "metadata" in list(events)[-1]
    hdrs = r["ResponseMetadata"]["HTTPHeaders"]
    assert hdrs["x-tuner-intent"] == TUNED_INTENT
    rec = mock.only_request()
    assert_resigned_by_sidecar(rec)
    assert rec["path"] == app.sent[-1].raw_path
    sent, forwarded = json.loads(app.sent[-1].body), json.loads(record_body(rec))
    assert forwarded["messages"] == sent["messages"], "tuning must not touch the conversation"
    changed = {k for k in set(sent) | set(forwarded) if sent.get(k) != forwarded.get(k)}
    if op == "invoke":
        assert forwarded["temperature"] == TUNED_TEMPERATURE
        assert changed <= TUNING_KEYS_CLAUDE, f"tuning changed non-sampling keys: {changed}"
        assert forwarded["anthropic_version"] == sent["anthropic_version"]
    else:
        assert forwarded["inferenceConfig"]["temperature"] == TUNED_TEMPERATURE
        assert changed <= {"inferenceConfig", "additionalModelRequestFields", "system"}, changed
