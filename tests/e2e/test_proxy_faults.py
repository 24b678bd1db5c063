"""Faults between the sidecar and Bedrock, as a boto3 app sees them.

Upstream errors must reach the SDK as the same typed exception with the
same message (the sidecar is transparent); errors the sidecar makes itself
must be Bedrock-shaped so SDKs surface them cleanly; and nothing may be left
hanging when either side goes away mid-stream.
"""

from __future__ import annotations

import json
import socket
import time

import botocore.exceptions
import pytest

from conftest import (
    APP_ACCESS_KEY,
    APP_SECRET_KEY,
    PLAIN_MODEL,
    PROFILE_ARN,
    assert_resigned_by_sidecar,
    build_raw,
    claude_body,
    converse_args,
    free_port,
    make_app_client,
    send_raw,
    sign_as_client,
)

IN_FLIGHT = "bedrock_tuner_in_flight_requests"

ERRORS = [
    ("ValidationException", 400, "Malformed input request: #: extraneous key [foo] is not permitted"),
    ("ThrottlingException", 429, "Too many requests, please wait before trying again."),
    ("ServiceUnavailableException", 503, "Bedrock is unable to process your request."),
    ("ModelErrorException", 424, "The model returned an error: upstream model crashed"),
]


@pytest.mark.parametrize("op", ["invoke", "converse", "converse_stream"])
@pytest.mark.parametrize("etype,status,message", ERRORS, ids=[e[0] for e in ERRORS])
def test_upstream_error_reaches_boto3_typed(sidecar, mock, monkeypatch, op, etype, status, message):
    mock.script({"status": status, "error_type": etype, "message": message})
    app = make_app_client(sidecar.url, via="env", monkeypatch=monkeypatch, intent="faults")
    c = app.client
    call = {
        "invoke": lambda: c.invoke_model(modelId=PLAIN_MODEL, body=claude_body()),
        "converse": lambda: c.converse(modelId=PROFILE_ARN, **converse_args()),
        "converse_stream": lambda: c.converse_stream(modelId=PLAIN_MODEL, **converse_args()),
    }[op]
    with pytest.raises(getattr(c.exceptions, etype)) as ei:
        call()
    err = ei.value.response
    assert err["Error"]["Message"] == message
    assert err["ResponseMetadata"]["HTTPStatusCode"] == status
    assert err["ResponseMetadata"]["HTTPHeaders"].get("x-tuner-request-id")
    # Exactly one upstream call: the sidecar did not retry on its own.
    rec = mock.only_request()
    assert_resigned_by_sidecar(rec)
    assert rec["outcome"] == "scripted_error"


@pytest.mark.parametrize("exc_type", ["throttlingException", "modelStreamErrorException", "validationException"])
def test_mid_stream_exception_reaches_boto3(sidecar, mock, monkeypatch, exc_type):
    mock.script({"stream_exception": {"type": exc_type, "message": f"{exc_type} after one event", "after_events": 1}})
    app = make_app_client(sidecar.url, via="env", monkeypatch=monkeypatch)
    r = app.client.invoke_model_with_response_stream(modelId=PROFILE_ARN, body=claude_body())
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200  # errors mid-stream come under 200
    events = iter(r["body"])
    assert json.loads(next(events)["chunk"]["bytes"])["type"] == "message_start"
    assert len(mock.release()) == 1, "stream was buffered"
    with pytest.raises(botocore.exceptions.EventStreamError) as ei:
        next(events)
    assert ei.value.response["Error"]["Code"] == exc_type
    assert ei.value.response["Error"]["Message"] == f"{exc_type} after one event"
    assert mock.only_request()["stream_exception"] is True


def test_converse_stream_exception_before_any_event(sidecar, mock, monkeypatch):
    mock.script({"stream_exception": {"type": "modelStreamErrorException", "message": "no luck", "after_events": 0}})
    app = make_app_client(sidecar.url, via="env", monkeypatch=monkeypatch)
    stream = app.client.converse_stream(modelId=PLAIN_MODEL, **converse_args())["stream"]
    with pytest.raises(botocore.exceptions.EventStreamError) as ei:
        list(stream)
    assert ei.value.response["Error"]["Code"] == "modelStreamErrorException"
    assert ei.value.response["Error"]["Message"] == "no luck"


def _assert_sidecar_error(err_response, *, statuses, words):
    meta = err_response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] in statuses, meta
    hdrs = meta["HTTPHeaders"]
    assert hdrs.get("x-amzn-errortype"), f"no x-amzn-ErrorType header: {hdrs}"
    assert err_response["Error"]["Code"] == hdrs["x-amzn-errortype"].split(":")[0]
    msg = err_response["Error"]["Message"].lower()
    assert any(w in msg for w in words), f"message does not say what happened: {err_response['Error']['Message']!r}"


def test_unreachable_upstream_gives_bedrock_shaped_error(start_sidecar, monkeypatch):
    dead = free_port()  # nothing listens here
    sc = start_sidecar(f"http://127.0.0.1:{dead}")
    app = make_app_client(sc.url, via="env", monkeypatch=monkeypatch)
    t0 = time.monotonic()
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        app.client.converse(modelId=PLAIN_MODEL, **converse_args())
    assert time.monotonic() - t0 < 10, "a refused connection should fail fast"
    _assert_sidecar_error(ei.value.response, statuses=(502, 503), words=("unreachable", "connect", "refused"))
    assert "upstream" in ei.value.response["Error"]["Message"].lower()
    # Raw check of the shape: JSON {"message": ...}, as Bedrock's own errors.
    body = claude_body()
    target = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke"
    hdrs = sign_as_client("POST", sc.url + target, body, access_key=APP_ACCESS_KEY, secret_key=APP_SECRET_KEY)
    conn, resp = send_raw(sc.port, build_raw("POST", target, hdrs, body))
    try:
        assert resp.status in (502, 503)
        assert resp.getheader("x-amzn-ErrorType")
        assert resp.getheader("Content-Type", "").startswith("application/json")
        assert isinstance(json.loads(resp.read())["message"], str)
    finally:
        conn.close()
    assert sc.gauge(IN_FLIGHT) == 0


def test_upstream_drops_connection_before_answering(sidecar, mock, monkeypatch):
    mock.script({"drop": True})
    app = make_app_client(sidecar.url, via="env", monkeypatch=monkeypatch)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        app.client.converse(modelId=PLAIN_MODEL, **converse_args())
    _assert_sidecar_error(ei.value.response, statuses=(502, 503), words=("upstream", "connection", "closed"))
    assert mock.only_request()["outcome"] == "dropped"


def _read_until_failure(app):
    stream = app.client.converse_stream(modelId=PLAIN_MODEL, **converse_args())["stream"]
    got = []
    try:
        for e in stream:
            got.append(e)
    except AssertionError:
        raise
    except Exception as e:  # noqa: BLE001 - any SDK/transport error is the point
        return got, e
    return got, None


def test_truncated_upstream_stream_is_not_passed_off_as_complete(sidecar, mock, monkeypatch):
    # The upstream dies after two events. The 200 is already out, so the
    # sidecar must make the failure visible: abort the client connection (or
    # end with an exception frame). Closing the chunked body cleanly would
    # make a cut-off answer look whole to the app.
    mock.script({"drop_after_events": 2, "gate": False})
    app = make_app_client(sidecar.url, via="env", monkeypatch=monkeypatch)
    got, error = _read_until_failure(app)
    assert error is not None, f"stream ended cleanly after {len(got)} events although the upstream broke off"
    assert "messageStop" not in str(got)
    assert mock.only_request()["outcome"] == "dropped_mid_stream"
    wait_gauge_zero(sidecar)


def test_events_before_an_upstream_failure_all_arrive(sidecar, mock, monkeypatch):
    # Bytes the upstream delivered before it broke must still reach the app
    # ahead of the error ("forward stream bytes as they arrive"). Losing the
    # last frame depends on timing, so try several times: a correct sidecar
    # passes every round, a racy one fails one of them almost surely.
    app = make_app_client(sidecar.url, via="env", monkeypatch=monkeypatch)
    counts = []
    for _ in range(10):
        mock.reset()
        mock.script({"drop_after_events": 2, "gate": False})
        got, error = _read_until_failure(app)
        assert error is not None
        assert mock.only_request()["events_sent"] == 2
        counts.append(len(got))
    assert counts == [2] * 10, f"events received before the error, per round (the upstream sent 2 each time): {counts}"


def test_slow_upstream_is_waited_for(sidecar, mock, monkeypatch):
    # No overall deadline on the upstream call (generations run for minutes).
    mock.script({"delay_ms": 1500})
    app = make_app_client(sidecar.url, via="env", monkeypatch=monkeypatch)
    t0 = time.monotonic()
    r = app.client.converse(modelId=PLAIN_MODEL, **converse_args())
    assert time.monotonic() - t0 >= 1.5
    assert r["stopReason"] == "end_turn"


def wait_gauge_zero(sc, timeout: float = 5.0):
    """The in-flight gauge drops when the sidecar notices the end of a body;
    poll the admin endpoint (it has no long-poll) until it does."""
    deadline = time.monotonic() + timeout
    value = sc.gauge(IN_FLIGHT)
    assert value is not None, f"{IN_FLIGHT} is not exposed on /metrics"
    while value != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
        value = sc.gauge(IN_FLIGHT)
    assert value == 0, f"{IN_FLIGHT} stuck at {value}:\n{sc.metrics()}"


@pytest.mark.parametrize("op", ["converse_stream", "invoke_stream"])
def test_client_abort_mid_stream_leaves_nothing_hanging(sidecar, mock, monkeypatch, op):
    app = make_app_client(sidecar.url, via="env", monkeypatch=monkeypatch, intent="abort")
    if op == "converse_stream":
        stream = app.client.converse_stream(modelId=PLAIN_MODEL, **converse_args())["stream"]
    else:
        stream = app.client.invoke_model_with_response_stream(modelId=PLAIN_MODEL, body=claude_body())["body"]
    next(iter(stream))
    (held,) = mock.wait(1, until="holding")
    assert sidecar.gauge(IN_FLIGHT) == 1, "one stream is open, the gauge should say so"
    # The app gives up: boto3 closes the HTTP connection under the stream.
    stream.close()
    # The sidecar must drop its upstream request in turn: the mock, still
    # holding the rest of the answer, sees its connection closed.
    rec = mock.only_request()
    assert rec["id"] == held["id"]
    assert rec["outcome"] == "peer_closed", f"upstream stream not cancelled: {rec}"
    assert rec["events_sent"] == 1
    wait_gauge_zero(sidecar)


def test_client_gone_before_the_answer_is_counted_out_and_recorded(sidecar, mock):
    # The app hangs up while the upstream is still working on the answer:
    # no response head has been made yet, so only the request handler can
    # notice. The request must leave the in-flight gauge and be recorded as
    # aborted, not vanish.
    mock.script({"delay_ms": 1500})
    def aborted() -> float:
        return sidecar.gauge("bedrock_tuner_requests_total", outcome="aborted") or 0

    before = aborted()
    target = f"/model/{PLAIN_MODEL.replace(':', '%3A')}/invoke"
    body = claude_body()
    hdrs = sign_as_client("POST", f"{sidecar.url}{target}", body, access_key=APP_ACCESS_KEY,
                          secret_key=APP_SECRET_KEY)
    sock = socket.create_connection(("127.0.0.1", sidecar.port), timeout=10)
    sock.sendall(build_raw("POST", target, hdrs, body))
    mock.wait(1, until="received")
    assert sidecar.gauge(IN_FLIGHT) == 1
    sock.close()
    wait_gauge_zero(sidecar)
    assert aborted() == before + 1, sidecar.metrics()


def test_sigterm_exits_zero(start_sidecar, mock_server, monkeypatch):
    sc = start_sidecar(mock_server.url)
    app = make_app_client(sc.url, via="env", monkeypatch=monkeypatch)
    app.client.converse(modelId=PLAIN_MODEL, **converse_args())
    assert sc.stop() == 0, f"exit status on SIGTERM:\n{sc.output()}"
