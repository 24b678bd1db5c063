//! Errors the sidecar makes itself, shaped like Bedrock's own so that SDKs
//! surface them cleanly: a JSON `{"message": ...}` body, the
//! `x-amzn-ErrorType` header and the status that makes SDK retries behave
//! (throttling 429 and unavailability 503 are retried, validation 400 is not).

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};

/// Where a failure came from, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The application's request was not acceptable.
    Client,
    /// The sidecar itself could not do its part.
    Sidecar,
    /// The upstream could not be reached or broke the connection.
    Upstream,
}

/// The Bedrock exception names the sidecar answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    Validation,
    AccessDenied,
    InternalServer,
    ServiceUnavailable,
}

impl ErrorType {
    pub fn name(self) -> &'static str {
        match self {
            ErrorType::Validation => "ValidationException",
            ErrorType::AccessDenied => "AccessDeniedException",
            ErrorType::InternalServer => "InternalServerException",
            ErrorType::ServiceUnavailable => "ServiceUnavailableException",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorType::Validation => StatusCode::BAD_REQUEST,
            ErrorType::AccessDenied => StatusCode::FORBIDDEN,
            ErrorType::InternalServer => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// A request the sidecar answers itself instead of forwarding.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("request body is larger than {limit} bytes, the most Bedrock accepts")]
    BodyTooLarge { limit: usize },
    #[error(
        "bedrock-tuner is holding its full budget of request bodies \
         ({budget} bytes, proxy.body_budget_bytes); retry shortly"
    )]
    BodyBudgetExhausted { budget: usize },
    #[error("could not read the request body from the client: {0}")]
    ClientBody(String),
    #[error("model `{model}` is not in proxy.allowed_models of bedrock-tuner")]
    ModelNotAllowed { model: String },
    #[error(
        "request is signed for region {requested}, but bedrock-tuner is pinned to \
         {pinned} (proxy.region / proxy.upstream); it does not move calls across regions"
    )]
    RegionMismatch { requested: String, pinned: String },
    #[error(
        "no region for this request: it names none in its signature and \
         bedrock-tuner has no proxy.region or AWS region configured"
    )]
    NoRegion,
    #[error("bedrock-tuner could not load AWS credentials to sign the call: {0}")]
    Credentials(String),
    #[error("bedrock-tuner could not sign the call: {0}")]
    Signing(String),
    #[error("bedrock-tuner could not reach the upstream {upstream}: {reason}")]
    UpstreamUnreachable { upstream: String, reason: String },
    #[error("bedrock-tuner cannot tune this request body (proxy.on_unparseable = reject): {0}")]
    Unrewritable(String),
    #[error("bedrock-tuner could not build the upstream request: {0}")]
    Internal(String),
}

impl ProxyError {
    pub fn error_type(&self) -> ErrorType {
        match self {
            ProxyError::BodyTooLarge { .. }
            | ProxyError::ClientBody(_)
            | ProxyError::RegionMismatch { .. }
            | ProxyError::NoRegion
            | ProxyError::Unrewritable(_) => ErrorType::Validation,
            ProxyError::ModelNotAllowed { .. } => ErrorType::AccessDenied,
            ProxyError::BodyBudgetExhausted { .. } | ProxyError::UpstreamUnreachable { .. } => {
                ErrorType::ServiceUnavailable
            }
            ProxyError::Credentials(_) | ProxyError::Signing(_) | ProxyError::Internal(_) => {
                ErrorType::InternalServer
            }
        }
    }

    pub fn origin(&self) -> Origin {
        match self {
            ProxyError::BodyTooLarge { .. }
            | ProxyError::ClientBody(_)
            | ProxyError::ModelNotAllowed { .. }
            | ProxyError::RegionMismatch { .. }
            | ProxyError::NoRegion
            | ProxyError::Unrewritable(_) => Origin::Client,
            ProxyError::UpstreamUnreachable { .. } => Origin::Upstream,
            _ => Origin::Sidecar,
        }
    }

    /// The bounded metric label for this failure.
    pub fn outcome_label(&self) -> &'static str {
        match self.origin() {
            Origin::Client => "rejected",
            Origin::Sidecar => "sidecar_error",
            Origin::Upstream => "upstream_unreachable",
        }
    }

    /// The response an SDK sees: Bedrock's error shape.
    pub fn to_response(&self) -> Response<Bytes> {
        bedrock_error(self.error_type(), &self.to_string())
    }
}

/// Builds a Bedrock-shaped error response.
pub fn bedrock_error(kind: ErrorType, message: &str) -> Response<Bytes> {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = kind.status();
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let error_type = format!(
        "{}:http://internal.amazon.com/coral/com.amazon.bedrock/",
        kind.name()
    );
    if let Ok(value) = HeaderValue::from_str(&error_type) {
        headers.insert("x-amzn-errortype", value);
    }
    headers.insert("x-tuner-error-source", HeaderValue::from_static("sidecar"));
    response
}
