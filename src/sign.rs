//! SigV4 with the sidecar's own credentials, right before a request leaves.
//!
//! The raw path is signed exactly as the application sent it: aws-sigv4's
//! default double percent-encoding turns `%3A` into `%253A` in the canonical
//! request, which is what Bedrock computes on its side.

use std::time::SystemTime;

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use bytes::Bytes;

use crate::error::ProxyError;

pub mod credentials;

pub use credentials::{CredentialCache, SigningIdentity};

/// The SigV4 service name of Bedrock Runtime.
const SERVICE: &str = "bedrock";

/// Signs `request` (whose `Host` header is already the upstream's) for
/// `region`, adding `Authorization`, `X-Amz-Date` and, with temporary
/// credentials, `X-Amz-Security-Token`.
pub fn sign_request(
    request: &mut http::Request<Bytes>,
    signer: &SigningIdentity,
    region: &str,
) -> Result<(), ProxyError> {
    let params = v4::SigningParams::builder()
        .identity(&signer.identity)
        .region(region)
        .name(SERVICE)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| ProxyError::Signing(e.to_string()))?
        .into();
    let headers = signable_headers(request.headers())?;
    let uri = request.uri().to_string();
    let signable = SignableRequest::new(
        request.method().as_str(),
        uri,
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

fn signable_headers(headers: &http::HeaderMap) -> Result<Vec<(&str, &str)>, ProxyError> {
    headers
        .iter()
        .map(|(name, value)| {
            value.to_str().map(|v| (name.as_str(), v)).map_err(|_| {
                ProxyError::Signing(format!(
                    "header {name} is not visible ASCII and cannot be signed"
                ))
            })
        })
        .collect()
}
