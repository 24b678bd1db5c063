//! The stage where a request body is tuned for its intent: parameters,
//! managed system prompt and few-shot examples from the resolved profile or
//! experiment variant.
//!
//! Today the body passes through unchanged; profile resolution and the
//! per-family rewriter plug in here and nowhere else.

use bytes::Bytes;

use super::context::RequestContext;

/// Returns the body to send upstream for this request.
pub fn tune(_ctx: &mut RequestContext, body: Bytes) -> Bytes {
    body
}
