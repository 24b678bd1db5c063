//! Where one request goes and which region it is signed for.

use bytes::Bytes;
use http::uri::{Authority, Scheme};

use crate::config::UpstreamTarget;
use crate::error::ProxyError;

/// The upstream of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub scheme: Scheme,
    pub authority: Authority,
    pub region: String,
}

impl Target {
    /// Follows the region the app signed for, unless the sidecar is pinned
    /// to one: then a request signed for another region is refused rather
    /// than silently moved (data residency).
    pub fn choose(
        upstream: &UpstreamTarget,
        signed_region: Option<&str>,
    ) -> Result<Self, ProxyError> {
        match upstream {
            UpstreamTarget::Pinned { base, region } => {
                if let Some(requested) = signed_region.filter(|r| r != region) {
                    return Err(ProxyError::RegionMismatch {
                        requested: requested.to_string(),
                        pinned: region.clone(),
                    });
                }
                let scheme = base.scheme().cloned().unwrap_or(Scheme::HTTPS);
                let authority = base.authority().cloned().ok_or(ProxyError::NoRegion)?;
                Ok(Target {
                    scheme,
                    authority,
                    region: region.clone(),
                })
            }
            UpstreamTarget::FollowRequest { fallback_region } => {
                let region = signed_region
                    .or(fallback_region.as_deref())
                    .ok_or(ProxyError::NoRegion)?;
                Self::aws(region)
            }
        }
    }

    /// Bedrock Runtime's public endpoint for a region. The region comes from
    /// the app's signature, so it is checked strictly: the host can only
    /// ever be a Bedrock endpoint.
    fn aws(region: &str) -> Result<Self, ProxyError> {
        let valid = !region.is_empty()
            && region.len() <= 32
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let invalid = || ProxyError::RegionMismatch {
            requested: region.escape_default().to_string(),
            pinned: "a valid AWS region".into(),
        };
        if !valid {
            return Err(invalid());
        }
        let host = format!("bedrock-runtime.{region}.amazonaws.com");
        let authority = Authority::try_from(host).map_err(|_| invalid())?;
        Ok(Target {
            scheme: Scheme::HTTPS,
            authority,
            region: region.to_string(),
        })
    }

    /// The `Host` header value the upstream expects.
    pub fn host(&self) -> String {
        self.authority.to_string()
    }

    /// The upstream request: the app's method, raw path and query exactly
    /// as sent, the cleaned headers and the (possibly rewritten) body.
    pub fn request(
        &self,
        parts: &http::request::Parts,
        path_override: Option<&str>,
        body: Bytes,
    ) -> Result<http::Request<Bytes>, ProxyError> {
        let original = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let path = match (path_override, parts.uri.query()) {
            (Some(path), Some(query)) => format!("{path}?{query}"),
            (Some(path), None) => path.to_string(),
            (None, _) => original.to_string(),
        };
        let uri = http::Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path.as_str())
            .build()
            .map_err(|e| ProxyError::Internal(e.to_string()))?;
        let mut request = http::Request::new(body);
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = uri;
        *request.headers_mut() = parts.headers.clone();
        let length = http::HeaderValue::from(request.body().len());
        request
            .headers_mut()
            .insert(http::header::CONTENT_LENGTH, length);
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pinned() -> UpstreamTarget {
        UpstreamTarget::Pinned {
            base: http::Uri::from_static("http://127.0.0.1:9000"),
            region: "us-east-1".into(),
        }
    }

    #[test]
    fn pinned_refuses_other_regions_and_accepts_bearer() {
        assert!(matches!(
            Target::choose(&pinned(), Some("eu-west-1")),
            Err(ProxyError::RegionMismatch { .. })
        ));
        let t = Target::choose(&pinned(), None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (t.host().as_str(), t.region.as_str()),
            ("127.0.0.1:9000", "us-east-1")
        );
    }

    #[test]
    fn follows_the_signed_region_to_its_endpoint() {
        let follow = UpstreamTarget::FollowRequest {
            fallback_region: Some("us-east-1".into()),
        };
        let t = Target::choose(&follow, Some("eu-central-1")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.host(), "bedrock-runtime.eu-central-1.amazonaws.com");
        let t = Target::choose(&follow, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.region, "us-east-1");
    }

    #[test]
    fn a_forged_region_cannot_redirect_the_call() {
        let follow = UpstreamTarget::FollowRequest {
            fallback_region: None,
        };
        for region in ["evil.com/", "x.evil.com#", "US-EAST-1", ""] {
            assert!(Target::choose(&follow, Some(region)).is_err(), "{region}");
        }
        assert!(matches!(
            Target::choose(&follow, None),
            Err(ProxyError::NoRegion)
        ));
    }
}
