//! Request headers on their way upstream: the app's credentials and the
//! sidecar's own headers come off, Bedrock's headers stay.

use http::{HeaderMap, HeaderName, HeaderValue, header};

/// Headers that belong to one connection, never forwarded (RFC 9110 7.6.1).
/// Names are built at compile time: parsing a name at every lookup showed
/// in profiles of the request path.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// The app signed for the sidecar's address with its own credentials; all
/// of that is replaced when the sidecar signs again.
const INBOUND_SIGNING: [HeaderName; 7] = [
    header::AUTHORIZATION,
    HeaderName::from_static("x-amz-date"),
    HeaderName::from_static("x-amz-security-token"),
    HeaderName::from_static("x-amz-content-sha256"),
    header::HOST,
    header::CONTENT_LENGTH,
    header::EXPECT,
];

/// The SDK's invocation id: the same for every retry of one call.
const INVOCATION_ID: HeaderName = HeaderName::from_static("amz-sdk-invocation-id");
/// The SDK's `attempt=N; max=M`.
const SDK_REQUEST: HeaderName = HeaderName::from_static("amz-sdk-request");

/// Headers addressed to the sidecar, read from the request and removed.
#[derive(Debug, Clone)]
pub struct TunerHeaders {
    pub intent: HeaderName,
    pub session: HeaderName,
}

/// What the sidecar read from the app's headers before stripping them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboundFacts {
    pub intent: Option<String>,
    pub session: Option<String>,
    /// The region of the app's SigV4 credential scope, if it signed.
    pub signed_region: Option<String>,
    /// `amz-sdk-invocation-id`: the same for every retry of one call.
    pub invocation_id: Option<String>,
    /// The attempt number from `amz-sdk-request: attempt=N; max=M`.
    pub attempt: Option<u32>,
}

/// Reads the facts the sidecar needs from the app's headers.
pub fn read_inbound(headers: &HeaderMap, names: &TunerHeaders) -> InboundFacts {
    InboundFacts {
        intent: text(headers, &names.intent).filter(|v| !v.is_empty()),
        session: text(headers, &names.session).filter(|v| !v.is_empty()),
        signed_region: text(headers, &header::AUTHORIZATION).and_then(|a| signed_region(&a)),
        invocation_id: text(headers, &INVOCATION_ID),
        attempt: text(headers, &SDK_REQUEST).and_then(|v| attempt_of(&v)),
    }
}

/// Removes everything that must not reach the upstream and sets the
/// upstream's host. `Content-Length` is set again after any rewrite.
pub fn prepare_upstream(headers: &mut HeaderMap, names: &TunerHeaders, host: &str) {
    let listed_in_connection: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(&INBOUND_SIGNING) {
        headers.remove(name);
    }
    for name in listed_in_connection {
        headers.remove(name);
    }
    headers.remove(&names.intent);
    headers.remove(&names.session);
    let tuner: Vec<HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with("x-tuner-"))
        .cloned()
        .collect();
    for name in tuner {
        headers.remove(name);
    }
    if let Ok(value) = HeaderValue::from_str(host) {
        headers.insert(header::HOST, value);
    }
}

fn text(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
}

/// `AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/bedrock/aws4_request, ...`
fn signed_region(authorization: &str) -> Option<String> {
    let rest = authorization.strip_prefix("AWS4-HMAC-SHA256")?;
    let credential = rest
        .split(',')
        .find_map(|p| p.trim().strip_prefix("Credential="))?;
    let region = credential.split('/').nth(2)?;
    (!region.is_empty()).then(|| region.to_string())
}

fn attempt_of(value: &str) -> Option<u32> {
    value
        .split(';')
        .find_map(|p| p.trim().strip_prefix("attempt=")?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> TunerHeaders {
        TunerHeaders {
            intent: HeaderName::from_static("x-intent"),
            session: HeaderName::from_static("x-session-id"),
        }
    }

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (HeaderName::from_static(k), HeaderValue::from_static(v)))
            .collect()
    }

    #[test]
    fn reads_region_intent_session_and_attempt() {
        let h = map(&[
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20251112/us-west-2/bedrock/aws4_request, \
                 SignedHeaders=host;x-amz-date, Signature=abc",
            ),
            ("x-intent", "order_status"),
            ("x-session-id", "s-1"),
            ("amz-sdk-invocation-id", "inv-1"),
            ("amz-sdk-request", "attempt=2; max=4"),
        ]);
        let facts = read_inbound(&h, &names());
        assert_eq!(facts.signed_region.as_deref(), Some("us-west-2"));
        assert_eq!(facts.intent.as_deref(), Some("order_status"));
        assert_eq!(facts.session.as_deref(), Some("s-1"));
        assert_eq!(facts.invocation_id.as_deref(), Some("inv-1"));
        assert_eq!(facts.attempt, Some(2));
    }

    #[test]
    fn bearer_tokens_name_no_region() {
        let h = map(&[("authorization", "Bearer ABSKxyz")]);
        assert_eq!(read_inbound(&h, &names()).signed_region, None);
    }

    #[test]
    fn strips_credentials_hop_by_hop_and_tuner_headers() {
        let mut h = map(&[
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=A/1/r/bedrock/aws4_request",
            ),
            ("x-amz-date", "20250101T000000Z"),
            ("x-amz-security-token", "T"),
            ("x-amz-content-sha256", "abc"),
            ("host", "127.0.0.1:8080"),
            ("content-length", "10"),
            ("connection", "keep-alive, x-private"),
            ("x-private", "1"),
            ("transfer-encoding", "chunked"),
            ("x-intent", "chitchat"),
            ("x-session-id", "s"),
            ("x-tuner-debug", "1"),
            ("x-amzn-bedrock-trace", "ENABLED"),
            ("content-type", "application/json"),
        ]);
        prepare_upstream(&mut h, &names(), "bedrock-runtime.us-east-1.amazonaws.com");
        let mut left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        left.sort_unstable();
        assert_eq!(left, ["content-type", "host", "x-amzn-bedrock-trace"]);
        assert_eq!(h["host"], "bedrock-runtime.us-east-1.amazonaws.com");
    }
}
