//! SigV4 with the sidecar's own credentials, right before a request leaves.
//!
//! The raw path is signed exactly as the application sent it: aws-sigv4's
//! default double percent-encoding turns `%3A` into `%253A` in the canonical
//! request, which is what Bedrock computes on its side.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http::HeaderValue;

use crate::error::ProxyError;

mod canonical;
pub mod credentials;
mod day_key;

pub use credentials::{CredentialCache, SigningIdentity};

/// The SigV4 service name of Bedrock Runtime.
const SERVICE: &str = "bedrock";

/// Signs `request` (whose `Host` header is already the upstream's) for
/// `region`, adding `Authorization`, `X-Amz-Date` and, with temporary
/// credentials, `X-Amz-Security-Token`. An SDK's ordinary call is signed
/// by the lean path in `canonical`; the rest by aws-sigv4's `sign()`.
pub fn sign_request(
    request: &mut http::Request<Bytes>,
    signer: &SigningIdentity,
    region: &str,
) -> Result<(), ProxyError> {
    let now = SystemTime::now();
    let lean = signer
        .identity
        .data::<Credentials>()
        .and_then(|credentials| {
            canonical::sign(request, credentials, &signer.day_key, region, now)
        });
    match lean {
        Some(signed) => apply(request, signed),
        None => sign_in_general(request, signer, region, now),
    }
}

fn apply(request: &mut http::Request<Bytes>, signed: canonical::Signed) -> Result<(), ProxyError> {
    let invalid = |_| ProxyError::Signing("the signature is not a valid header value".into());
    let headers = request.headers_mut();
    headers.insert(
        canonical::X_AMZ_DATE,
        HeaderValue::try_from(signed.date_time).map_err(invalid)?,
    );
    let mut authorization = HeaderValue::try_from(signed.authorization).map_err(invalid)?;
    authorization.set_sensitive(true);
    headers.insert(http::header::AUTHORIZATION, authorization);
    if let Some(mut token) = signed.security_token {
        token.set_sensitive(true);
        headers.insert(canonical::X_AMZ_SECURITY_TOKEN, token);
    }
    Ok(())
}

/// aws-sigv4's general signer, for what the lean path does not cover.
fn sign_in_general(
    request: &mut http::Request<Bytes>,
    signer: &SigningIdentity,
    region: &str,
    now: SystemTime,
) -> Result<(), ProxyError> {
    let params = v4::SigningParams::builder()
        .identity(&signer.identity)
        .region(region)
        .name(SERVICE)
        .time(now)
        .settings(settings_for(request.uri().path()))
        .build()
        .map_err(|e| ProxyError::Signing(e.to_string()))?
        .into();
    let headers = signable_headers(request.headers())?;
    // The host is signed from the `Host` header; the origin-form target
    // is all the canonical request needs from the URI.
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let signable = SignableRequest::new(
        request.method().as_str(),
        target,
        headers.into_iter(),
        SignableBody::Bytes(request.body()),
    )
    .map_err(|e| ProxyError::Signing(e.to_string()))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| ProxyError::Signing(e.to_string()))?
        .into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

/// aws-sigv4's defaults, except that path normalisation is skipped when it
/// could not change the path: it splits and re-joins every path with a dot
/// in it, and every model id has one.
fn settings_for(path: &str) -> SigningSettings {
    let mut settings = SigningSettings::default();
    if normalizing_changes_nothing(path) {
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    }
    settings
}

/// True for an absolute path without empty, `.` or `..` segments, the
/// only things SigV4's path normalisation removes.
fn normalizing_changes_nothing(path: &str) -> bool {
    path.strip_prefix('/').is_some_and(|rest| {
        rest.split('/')
            .all(|segment| !matches!(segment, "" | "." | ".."))
    })
}

/// The headers the signature covers: those SigV4 requires (`host`, every
/// `x-amz-*`) and those that change what Bedrock does with the call
/// (`content-type`, `accept`, Bedrock's `x-amzn-*` options). The others
/// (`content-length`, `accept-encoding`, the SDK's `amz-sdk-*` retry
/// bookkeeping) travel unsigned, which SigV4 allows; TLS protects them in
/// transit, and every signed header costs aws-sigv4 several allocations.
fn signable_headers(headers: &http::HeaderMap) -> Result<Vec<(&str, &str)>, ProxyError> {
    headers
        .iter()
        .filter(|(name, _)| is_signed(name.as_str()))
        .map(|(name, value)| {
            value.to_str().map(|v| (name.as_str(), v)).map_err(|_| {
                ProxyError::Signing(format!(
                    "header {name} is not visible ASCII and cannot be signed"
                ))
            })
        })
        .collect()
}

fn is_signed(name: &str) -> bool {
    matches!(name, "host" | "content-type" | "accept")
        || name.starts_with("x-amz-")
        || name.starts_with("x-amzn-")
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use aws_credential_types::Credentials;

    use super::*;

    fn signature(path: &str, mode: UriPathNormalizationMode) -> String {
        let identity = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test").into();
        let mut settings = SigningSettings::default();
        settings.uri_path_normalization_mode = mode;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name(SERVICE)
            .time(UNIX_EPOCH + Duration::from_secs(1_764_000_000))
            .settings(settings)
            .build()
            .expect("params")
            .into();
        let headers = [("host", "bedrock-runtime.us-east-1.amazonaws.com")];
        let request = SignableRequest::new(
            "POST",
            path,
            headers.into_iter(),
            SignableBody::Bytes(b"{}"),
        )
        .expect("signable");
        sign(request, &params)
            .expect("signs")
            .signature()
            .to_string()
    }

    #[test]
    fn the_signature_covers_what_sigv4_and_bedrock_need() {
        let credentials =
            Credentials::new("AKIDEXAMPLE", "secret", Some("token".into()), None, "test");
        let mut request =
            http::Request::post("https://bedrock-runtime.us-east-1.amazonaws.com/model/m/invoke")
                .header("host", "bedrock-runtime.us-east-1.amazonaws.com")
                .header("content-type", "application/json")
                .header("accept", "application/json")
                .header("content-length", "2")
                .header("accept-encoding", "gzip")
                .header("amz-sdk-invocation-id", "6f1c")
                .header("amz-sdk-request", "attempt=1; max=3")
                .header("x-amz-user-agent", "aws-sdk-js/3")
                .header("x-amzn-bedrock-guardrailidentifier", "gr1")
                .header("user-agent", "app/1.0")
                .body(Bytes::from_static(b"{}"))
                .expect("request");
        sign_request(
            &mut request,
            &SigningIdentity::new(credentials),
            "us-east-1",
        )
        .expect("signs");
        let authorization = request.headers()["authorization"].to_str().expect("ascii");
        let signed = authorization
            .split("SignedHeaders=")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .expect("signed headers");
        assert_eq!(
            signed,
            "accept;content-type;host;x-amz-date;x-amz-security-token;x-amz-user-agent;\
             x-amzn-bedrock-guardrailidentifier"
        );
        // Unsigned headers still travel.
        for name in [
            "content-length",
            "accept-encoding",
            "amz-sdk-invocation-id",
            "user-agent",
        ] {
            assert!(request.headers().contains_key(name), "{name}");
        }
    }

    #[test]
    fn skipping_normalisation_only_where_it_is_the_identity() {
        let unchanged = [
            "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke",
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-haiku-20240307-v1%3A0/converse",
            "/model/arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-1-8b-instruct-v1:0/converse-stream",
            "/guardrail/gr1/version/1/apply",
            "/a/.../b",
            "/a/..b./.c",
        ];
        for path in unchanged {
            assert!(normalizing_changes_nothing(path), "{path}");
            assert_eq!(
                signature(path, UriPathNormalizationMode::Enabled),
                signature(path, UriPathNormalizationMode::Disabled),
                "{path}"
            );
        }
        for path in ["/a/./b", "/a/../b", "//a", "/a//b", "/a/", "/", "", "a/b"] {
            assert!(!normalizing_changes_nothing(path), "{path}");
        }
        // The comparison above can tell the modes apart where they differ.
        assert_ne!(
            signature("/a/./b", UriPathNormalizationMode::Enabled),
            signature("/a/./b", UriPathNormalizationMode::Disabled)
        );
    }
}
