"""Independent SigV4 verification of requests the mock upstream receives.

The sidecar signs with the Rust `aws-sigv4` crate. To check its work with
something that shares none of its code, this module recomputes the signature
with botocore's signer (the one every boto3 call to AWS goes through) and
compares. Only botocore's canonicalisation and key derivation are reused; the
parsing of the incoming request, the choice of what to feed the signer and
all the policy checks (key, scope, clock skew, host, session token) are here.

How the signer is driven, and why:
- `SigV4Auth.add_auth` stamps the *current* time and rewrites headers, so it
  is not used. Instead the request's own `X-Amz-Date` goes into
  `request.context['timestamp']` (where botocore's scope/string-to-sign/key
  derivation read it) and `canonical_request`, `string_to_sign` and
  `signature` are called directly.
- The `AWSRequest` is rebuilt with the raw request target exactly as it came
  off the wire, so percent-escapes such as `%3A` reach the canonicaliser
  untouched; botocore then encodes the path once more (`%3A` -> `%253A`), as
  AWS does for every service but S3.
- Only the headers the client listed in `SignedHeaders` are given to the
  signer, and `headers_to_sign` is overridden to return exactly those:
  botocore's own selection skips some names (`user-agent`,
  `x-amzn-trace-id`, ...) and invents `host` from the URL when absent, either
  of which would make the verifier disagree with what the client claims to
  have signed.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
DEFAULT_MAX_SKEW = _dt.timedelta(minutes=5)

_AUTH_RE = re.compile(r"^AWS4-HMAC-SHA256\s+(?P<params>.+)$", re.S)


class SignatureProblem(Exception):
    """Raised internally with the human-readable reason a request fails."""


# Passed as the session token, accepts whichever single signed token arrives.
ANY_SESSION_TOKEN = "*"

@dataclass
class Verification:
    ok: bool
    reason: Optional[str] = None
    access_key: Optional[str] = None
    scope: Optional[str] = None
    signed_headers: list[str] = field(default_factory=list)
    signature: Optional[str] = None
    expected_signature: Optional[str] = None
    canonical_request: Optional[str] = None
    string_to_sign: Optional[str] = None

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "reason": self.reason,
            "access_key": self.access_key,
            "scope": self.scope,
            "signed_headers": self.signed_headers,
            "signature": self.signature,
            "expected_signature": self.expected_signature,
            "canonical_request": self.canonical_request,
            "string_to_sign": self.string_to_sign,
        }


@dataclass
class ParsedAuthorization:
    access_key: str
    date: str
    region: str
    service: str
    terminator: str
    signed_headers: list[str]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{self.terminator}"


def parse_authorization(value: str) -> ParsedAuthorization:
    """Split `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`."""
    m = _AUTH_RE.match(value.strip())
    if not m:
        raise SignatureProblem(
            f"Authorization is not {ALGORITHM} (got {value[:40]!r})"
        )
    parts: dict[str, str] = {}
    for piece in m.group("params").split(","):
        piece = piece.strip()
        if not piece:
            continue
        key, sep, val = piece.partition("=")
        if not sep:
            raise SignatureProblem(f"malformed Authorization component {piece!r}")
        if key in parts:
            raise SignatureProblem(f"Authorization repeats {key}")
        parts[key] = val
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if k not in parts]
    if missing:
        raise SignatureProblem(f"Authorization lacks {', '.join(missing)}")
    cred = parts["Credential"].split("/")
    if len(cred) != 5:
        raise SignatureProblem(
            f"Credential must be key/date/region/service/aws4_request, got {parts['Credential']!r}"
        )
    signed = parts["SignedHeaders"].split(";")
    if not re.fullmatch(r"[0-9a-f]{64}", parts["Signature"]):
        raise SignatureProblem("Signature is not 64 lowercase hex digits")
    return ParsedAuthorization(
        access_key=cred[0],
        date=cred[1],
        region=cred[2],
        service=cred[3],
        terminator=cred[4],
        signed_headers=signed,
        signature=parts["Signature"],
    )


class _ExactHeadersSigV4(SigV4Auth):
    """botocore's SigV4 with the header selection pinned to SignedHeaders."""

    def __init__(self, credentials, service_name, region_name, signed_names):
        super().__init__(credentials, service_name, region_name)
        self._signed_names = set(signed_names)

    def headers_to_sign(self, request):
        chosen = HTTPHeaders()
        for name, value in request.headers.items():
            if name.lower() in self._signed_names:
                chosen[name.lower()] = value
        return chosen


def botocore_signature(
    *,
    method: str,
    raw_target: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    signed_headers: Iterable[str],
    amz_date: str,
    access_key: str,
    secret_key: str,
    session_token: Optional[str],
    region: str,
    service: str,
    host: str,
) -> tuple[str, str, str]:
    """(signature, canonical request, string to sign) computed by botocore for
    the request as received. `host` only builds the URL botocore splits the
    path from; the signed `host` *header* is what enters the canonical form."""
    names = {n.lower() for n in signed_headers}
    request = AWSRequest(method=method, url=f"http://{host}{raw_target}", data=body)
    for name, value in headers:
        if name.lower() in names:
            request.headers[name] = value  # HTTPHeaders appends: duplicates survive
    request.context["timestamp"] = amz_date
    signer = _ExactHeadersSigV4(
        Credentials(access_key, secret_key, session_token), service, region, names
    )
    canonical = signer.canonical_request(request)
    sts = signer.string_to_sign(request, canonical)
    return signer.signature(sts, request), canonical, sts


def _header_values(headers: Sequence[tuple[str, str]], name: str) -> list[str]:
    lname = name.lower()
    return [v for k, v in headers if k.lower() == lname]


def verify_request(
    *,
    method: str,
    raw_target: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    access_key: str,
    secret_key: str,
    region: str,
    service: str = "bedrock",
    session_token: Optional[str] = None,
    expected_host: Optional[str] = None,
    now: Optional[_dt.datetime] = None,
    max_skew: _dt.timedelta = DEFAULT_MAX_SKEW,
) -> Verification:
    """Check one received request as AWS would. Never raises for a bad
    request: the outcome and the first reason found are in the result."""
    result = Verification(ok=False)
    try:
        _verify(
            result,
            method=method,
            raw_target=raw_target,
            headers=headers,
            body=body,
            access_key=access_key,
            secret_key=secret_key,
            region=region,
            service=service,
            session_token=session_token,
            expected_host=expected_host,
            now=now or _dt.datetime.now(_dt.timezone.utc),
            max_skew=max_skew,
        )
    except SignatureProblem as problem:
        result.ok = False
        result.reason = str(problem)
        return result
    result.ok = True
    return result


def _verify(
    result: Verification,
    *,
    method,
    raw_target,
    headers,
    body,
    access_key,
    secret_key,
    region,
    service,
    session_token,
    expected_host,
    now,
    max_skew,
) -> None:
    auths = _header_values(headers, "authorization")
    if not auths:
        raise SignatureProblem("missing Authorization header")
    if len(auths) > 1:
        raise SignatureProblem("more than one Authorization header")
    auth = parse_authorization(auths[0])
    result.access_key = auth.access_key
    result.scope = auth.scope
    result.signed_headers = auth.signed_headers
    result.signature = auth.signature

    if auth.access_key != access_key:
        raise SignatureProblem(
            f"access key {auth.access_key!r} is not the configured key {access_key!r}"
        )

    # The signed-header list must be canonical: lowercase, sorted, no repeats.
    if auth.signed_headers != sorted(set(auth.signed_headers)) or any(
        h != h.lower() or not h for h in auth.signed_headers
    ):
        raise SignatureProblem(
            f"SignedHeaders is not a sorted lowercase list: {';'.join(auth.signed_headers)}"
        )
    for required in ("host", "x-amz-date"):
        if required not in auth.signed_headers:
            raise SignatureProblem(f"{required} is not among the signed headers")
    for name in auth.signed_headers:
        if not _header_values(headers, name):
            raise SignatureProblem(f"signed header {name!r} is not in the request")

    dates = _header_values(headers, "x-amz-date")
    if len(dates) != 1:
        raise SignatureProblem("need exactly one X-Amz-Date header")
    amz_date = dates[0].strip()
    try:
        signed_at = _dt.datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(
            tzinfo=_dt.timezone.utc
        )
    except ValueError:
        raise SignatureProblem(f"X-Amz-Date {amz_date!r} is not YYYYMMDDTHHMMSSZ") from None
    skew = abs(now - signed_at)
    if skew > max_skew:
        raise SignatureProblem(
            f"Signature expired: X-Amz-Date {amz_date} is {int(skew.total_seconds())}s "
            f"away from the server time (limit {int(max_skew.total_seconds())}s)"
        )

    if auth.date != amz_date[:8]:
        raise SignatureProblem(
            f"credential scope date {auth.date} differs from X-Amz-Date {amz_date}"
        )
    if auth.region != region:
        raise SignatureProblem(f"credential scope region {auth.region!r}, expected {region!r}")
    if auth.service != service:
        raise SignatureProblem(f"credential scope service {auth.service!r}, expected {service!r}")
    if auth.terminator != "aws4_request":
        raise SignatureProblem(f"credential scope must end in aws4_request, not {auth.terminator!r}")

    hosts = _header_values(headers, "host")
    if len(hosts) != 1:
        raise SignatureProblem("need exactly one Host header")
    host = hosts[0].strip()
    if expected_host is not None and host != expected_host:
        raise SignatureProblem(
            f"signed host {host!r} is not this endpoint's {expected_host!r}"
        )

    tokens = _header_values(headers, "x-amz-security-token")
    if session_token == ANY_SESSION_TOKEN and len(tokens) == 1:
        # Rotating temporary credentials (a credential-refresh test): any one
        # token will do, as long as it is signed.
        session_token = tokens[0]
    if session_token is not None:
        if not tokens:
            raise SignatureProblem("missing X-Amz-Security-Token (a session token is configured)")
        if tokens != [session_token]:
            raise SignatureProblem("X-Amz-Security-Token is not the configured session token")
        if "x-amz-security-token" not in auth.signed_headers:
            raise SignatureProblem("X-Amz-Security-Token is present but not signed")
    elif tokens:
        # With long-term keys there is no token to send; one arriving here is
        # somebody else's (e.g. the app's, forwarded by mistake).
        raise SignatureProblem("unexpected X-Amz-Security-Token (no session token is configured)")

    # botocore takes a signed X-Amz-Content-SHA256 on trust as the payload
    # hash. Check it against the bytes, or a tampered body would go unseen.
    content_hashes = _header_values(headers, "x-amz-content-sha256")
    if content_hashes:
        actual = hashlib.sha256(body).hexdigest()
        if content_hashes != [actual]:
            raise SignatureProblem(
                f"X-Amz-Content-SHA256 {content_hashes[0]!r} is not the body's hash {actual}"
            )

    expected, canonical, sts = botocore_signature(
        method=method,
        raw_target=raw_target,
        headers=headers,
        body=body,
        signed_headers=auth.signed_headers,
        amz_date=amz_date,
        access_key=access_key,
        secret_key=secret_key,
        session_token=session_token,
        region=region,
        service=service,
        host=host,
    )
    result.expected_signature = expected
    result.canonical_request = canonical
    result.string_to_sign = sts
    if not hmac.compare_digest(expected, auth.signature):
        raise SignatureProblem(
            "The request signature we calculated does not match the signature you provided"
        )
