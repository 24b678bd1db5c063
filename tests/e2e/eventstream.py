"""Encoder for the `application/vnd.amazon.eventstream` framing.

The mock Bedrock upstream needs to *produce* event streams, and botocore only
ships a decoder. Writing the encoder here (rather than borrowing the Rust
side's) keeps the mock independent of the code under test: if both sides
shared one framing bug, the tests could not see it.

Wire layout of one message (all integers big-endian):

    total length   u32   whole message, prelude and trailing CRC included
    headers length u32   bytes of the header block
    prelude CRC    u32   CRC32 of the 8 bytes above
    headers              repeated: name len u8, name, type u8, value
    payload              opaque bytes
    message CRC    u32   CRC32 of everything before it

The checks against the golden frame in BEDROCK.md and against botocore's
decoder live in test_mock_verifier.py.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
import uuid as _uuid
from dataclasses import dataclass
from typing import Iterable, Mapping, Union

# Header value type tags, as the format defines them.
TYPE_TRUE = 0
TYPE_FALSE = 1
TYPE_BYTE = 2
TYPE_SHORT = 3
TYPE_INTEGER = 4
TYPE_LONG = 5
TYPE_BYTES = 6
TYPE_STRING = 7
TYPE_TIMESTAMP = 8
TYPE_UUID = 9

PRELUDE_LEN = 12
TRAILER_LEN = 4
# Limits the decoders enforce (botocore and aws-smithy-eventstream): a frame
# over these is rejected on the other side, so refuse to build one.
MAX_PAYLOAD = 16 * 1024 * 1024
MAX_HEADERS = 128 * 1024


@dataclass(frozen=True)
class Typed:
    """A header value with an explicit wire type.

    Plain Python values map to the obvious type (str -> string, bytes ->
    bytes, bool -> true/false, uuid.UUID -> uuid); integers are ambiguous on
    the wire (byte/short/int/long/timestamp), so they must be wrapped.
    """

    type: int
    value: object


def byte(v: int) -> Typed:
    return Typed(TYPE_BYTE, v)


def short(v: int) -> Typed:
    return Typed(TYPE_SHORT, v)


def integer(v: int) -> Typed:
    return Typed(TYPE_INTEGER, v)


def long(v: int) -> Typed:
    return Typed(TYPE_LONG, v)


def timestamp_ms(v: int) -> Typed:
    """Milliseconds since the Unix epoch."""
    return Typed(TYPE_TIMESTAMP, v)


HeaderValue = Union[str, bytes, bool, _uuid.UUID, Typed]


def _crc32(data: bytes, start: int = 0) -> int:
    return binascii.crc32(data, start) & 0xFFFFFFFF


def _encode_value(value: HeaderValue) -> bytes:
    # bool must be checked before anything int-like: bool is an int in Python.
    if isinstance(value, bool):
        return bytes([TYPE_TRUE if value else TYPE_FALSE])
    if isinstance(value, str):
        raw = value.encode("utf-8")
        if len(raw) > 0xFFFF:
            raise ValueError("string header value longer than 65535 bytes")
        return bytes([TYPE_STRING]) + struct.pack(">H", len(raw)) + raw
    if isinstance(value, (bytes, bytearray)):
        if len(value) > 0xFFFF:
            raise ValueError("bytes header value longer than 65535 bytes")
        return bytes([TYPE_BYTES]) + struct.pack(">H", len(value)) + bytes(value)
    if isinstance(value, _uuid.UUID):
        return bytes([TYPE_UUID]) + value.bytes
    if isinstance(value, Typed):
        fmt = {
            TYPE_BYTE: ">b",
            TYPE_SHORT: ">h",
            TYPE_INTEGER: ">i",
            TYPE_LONG: ">q",
            TYPE_TIMESTAMP: ">q",
        }.get(value.type)
        if fmt is not None:
            return bytes([value.type]) + struct.pack(fmt, value.value)
        if value.type in (TYPE_TRUE, TYPE_FALSE, TYPE_STRING, TYPE_BYTES, TYPE_UUID):
            # Route the explicit form through the plain-value encoders.
            plain = {
                TYPE_TRUE: True,
                TYPE_FALSE: False,
            }.get(value.type, value.value)
            return _encode_value(plain)  # type: ignore[arg-type]
        raise ValueError(f"unknown header type {value.type}")
    raise TypeError(
        f"header value {value!r} has no obvious wire type; wrap ints with "
        "byte()/short()/integer()/long()/timestamp_ms()"
    )


def encode_headers(headers: Union[Mapping[str, HeaderValue], Iterable[tuple[str, HeaderValue]]]) -> bytes:
    items = headers.items() if isinstance(headers, Mapping) else headers
    out = bytearray()
    for name, value in items:
        raw_name = name.encode("utf-8")
        if not 0 < len(raw_name) <= 255:
            raise ValueError(f"header name {name!r} must be 1..255 bytes")
        out.append(len(raw_name))
        out += raw_name
        out += _encode_value(value)
    return bytes(out)


def encode_message(
    headers: Union[Mapping[str, HeaderValue], Iterable[tuple[str, HeaderValue]]],
    payload: bytes = b"",
) -> bytes:
    """One complete event-stream message, prelude to trailing CRC."""
    header_block = encode_headers(headers)
    if len(header_block) > MAX_HEADERS:
        raise ValueError("header block too large")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError("payload too large")
    total = PRELUDE_LEN + len(header_block) + len(payload) + TRAILER_LEN
    lengths = struct.pack(">II", total, len(header_block))
    prelude_crc = _crc32(lengths)
    prelude = lengths + struct.pack(">I", prelude_crc)
    # The message CRC runs over the prelude *including* its CRC, which is the
    # same as continuing the running CRC from the prelude's bytes.
    body = prelude + header_block + payload
    return body + struct.pack(">I", _crc32(body))


# --- Bedrock-shaped helpers -------------------------------------------------


def event(event_type: str, payload_obj: object) -> bytes:
    """An `:message-type event` frame with a JSON payload, as Bedrock sends."""
    return encode_message(
        [
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        json.dumps(payload_obj, separators=(",", ":")).encode("utf-8"),
    )


def chunk_event(model_event: object, padding: str = "") -> bytes:
    """InvokeModelWithResponseStream's `chunk`: the model's own JSON event,
    base64'd into `bytes`. Bedrock adds a filler field `p` of varying length
    (so that frame sizes don't leak token lengths); clients must ignore it."""
    raw = json.dumps(model_event, separators=(",", ":")).encode("utf-8")
    payload: dict = {"bytes": base64.b64encode(raw).decode("ascii")}
    if padding:
        payload["p"] = padding
    return event("chunk", payload)


def exception_frame(exception_type: str, message: str) -> bytes:
    """A mid-stream error: `:message-type exception` under HTTP 200."""
    return encode_message(
        [
            (":exception-type", exception_type),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        json.dumps({"message": message}).encode("utf-8"),
    )
