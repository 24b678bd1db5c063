//! Which Bedrock Runtime operation a request is, and for which model, read
//! from the raw path exactly as the application sent it.

use std::borrow::Cow;
use std::ops::Range;

use percent_encoding::percent_decode_str;

/// The operations the sidecar understands; everything else is forwarded
/// re-signed and untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    InvokeModel,
    InvokeModelWithResponseStream,
    Converse,
    ConverseStream,
    CountTokens,
    Other,
}

impl Operation {
    /// The bounded metric label.
    pub fn label(self) -> &'static str {
        match self {
            Operation::InvokeModel => "invoke",
            Operation::InvokeModelWithResponseStream => "invoke_stream",
            Operation::Converse => "converse",
            Operation::ConverseStream => "converse_stream",
            Operation::CountTokens => "count_tokens",
            Operation::Other => "other",
        }
    }

    /// Whether the answer is an event stream.
    pub fn is_stream(self) -> bool {
        matches!(
            self,
            Operation::InvokeModelWithResponseStream | Operation::ConverseStream
        )
    }

    /// Whether a model's parameters travel in the request body, so that the
    /// profile rewrite applies.
    pub fn is_generation(self) -> bool {
        !matches!(self, Operation::CountTokens | Operation::Other)
    }

    fn from_suffix(suffix: &str) -> Option<Self> {
        Some(match suffix {
            "invoke" => Operation::InvokeModel,
            "invoke-with-response-stream" => Operation::InvokeModelWithResponseStream,
            "converse" => Operation::Converse,
            "converse-stream" => Operation::ConverseStream,
            "count-tokens" => Operation::CountTokens,
            _ => return None,
        })
    }
}

/// A request's operation and model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub operation: Operation,
    /// The model id, percent-decoded, for logic and labels.
    pub model_id: Option<String>,
    /// Where the model id stands in the raw path, so that an experiment that
    /// swaps the model replaces exactly that segment.
    pub model_span: Option<Range<usize>>,
}

impl Route {
    fn other() -> Self {
        Route {
            operation: Operation::Other,
            model_id: None,
            model_span: None,
        }
    }
}

/// Reads a raw request path (no query). The model id may contain `:` and
/// `/` either escaped (`%3A`, `%2F`, as boto3 sends) or bare (as LiteLLM
/// sends `:`), so it is everything between `/model/` and the operation's
/// final segment.
pub fn route(method: &http::Method, raw_path: &str) -> Route {
    const PREFIX: &str = "/model/";
    if method != http::Method::POST || !raw_path.starts_with(PREFIX) {
        return Route::other();
    }
    let Some(slash) = raw_path.rfind('/') else {
        return Route::other();
    };
    let Some(operation) = Operation::from_suffix(&raw_path[slash + 1..]) else {
        return Route::other();
    };
    let span = PREFIX.len()..slash;
    if span.is_empty() {
        return Route::other();
    }
    let decoded: Cow<'_, str> = percent_decode_str(&raw_path[span.clone()]).decode_utf8_lossy();
    Route {
        operation,
        model_id: Some(decoded.into_owned()),
        model_span: Some(span),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(path: &str) -> Route {
        route(&http::Method::POST, path)
    }

    #[test]
    fn escaped_arn_is_one_model_id() {
        let r = post(
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2F\
             us.anthropic.claude-3-haiku-20240307-v1%3A0/invoke",
        );
        assert_eq!(r.operation, Operation::InvokeModel);
        assert_eq!(
            r.model_id.as_deref(),
            Some(
                "arn:aws:bedrock:us-east-1:123456789012:inference-profile/\
                 us.anthropic.claude-3-haiku-20240307-v1:0"
            )
        );
    }

    #[test]
    fn bare_colon_and_bare_slash_are_accepted() {
        let r = post("/model/anthropic.claude-3-haiku-20240307-v1:0/converse-stream");
        assert_eq!(r.operation, Operation::ConverseStream);
        assert_eq!(
            r.model_id.as_deref(),
            Some("anthropic.claude-3-haiku-20240307-v1:0")
        );
        let r = post("/model/arn:aws:bedrock:us-west-2:1:inference-profile/us.x/converse");
        assert_eq!(
            r.model_id.as_deref(),
            Some("arn:aws:bedrock:us-west-2:1:inference-profile/us.x")
        );
    }

    #[test]
    fn model_span_points_at_the_raw_segment() {
        let path = "/model/a%3A0/invoke-with-response-stream";
        let r = post(path);
        assert_eq!(&path[r.model_span.clone().unwrap_or_default()], "a%3A0");
        assert_eq!(r.operation, Operation::InvokeModelWithResponseStream);
    }

    #[test]
    fn other_paths_are_other() {
        assert_eq!(
            post("/guardrail/g1/version/1/apply").operation,
            Operation::Other
        );
        assert_eq!(post("/model//invoke").operation, Operation::Other);
        assert_eq!(post("/model/x/unknown").operation, Operation::Other);
        assert_eq!(
            route(&http::Method::GET, "/model/x/invoke").operation,
            Operation::Other
        );
        assert_eq!(
            post("/model/x/count-tokens").operation,
            Operation::CountTokens
        );
    }
}
