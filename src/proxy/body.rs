//! Reading the app's request body whole, within two limits: Bedrock's own
//! size limit per request, and the sidecar's memory budget over all
//! requests held at once.
//!
//! The body must be whole before it can be rewritten and signed (SigV4
//! covers its hash). The budget turns memory pressure into a clear 503,
//! which SDKs retry, instead of unbounded growth.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ProxyError;

/// The shared byte budget for request bodies.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    bytes: Arc<Semaphore>,
    total: usize,
}

/// Bytes of the budget held by one request until it is sent upstream.
pub type BudgetHold = Option<OwnedSemaphorePermit>;

impl BodyBudget {
    pub fn new(total: usize) -> Self {
        let total = total.min(Semaphore::MAX_PERMITS);
        Self {
            bytes: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// Bytes of the budget not held by any request now.
    pub fn available(&self) -> usize {
        self.bytes.available_permits()
    }

    fn take(&self, hold: &mut BudgetHold, bytes: usize) -> Result<(), ProxyError> {
        if bytes == 0 {
            return Ok(());
        }
        let exhausted = || ProxyError::BodyBudgetExhausted { budget: self.total };
        let n = u32::try_from(bytes).map_err(|_| exhausted())?;
        let permit = Arc::clone(&self.bytes)
            .try_acquire_many_owned(n)
            .map_err(|_| exhausted())?;
        match hold {
            Some(held) => held.merge(permit),
            None => *hold = Some(permit),
        }
        Ok(())
    }
}

/// Reads the whole body. A declared `Content-Length` is charged against
/// the budget up front; a chunked body is charged as it arrives.
pub async fn read(
    body: Incoming,
    declared: Option<u64>,
    limit: usize,
    budget: &BodyBudget,
) -> Result<(Bytes, BudgetHold), ProxyError> {
    let mut hold: BudgetHold = None;
    let too_large = || ProxyError::BodyTooLarge { limit };
    let declared = declared.map(|d| usize::try_from(d).unwrap_or(usize::MAX));
    if let Some(len) = declared {
        if len > limit {
            return Err(too_large());
        }
        budget.take(&mut hold, len)?;
    }
    let mut body = body;
    let mut whole = Whole::with_capacity(declared.unwrap_or(0));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ProxyError::ClientBody(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let held = whole.len();
        if held + data.len() > limit {
            return Err(too_large());
        }
        let beyond_declared = (held + data.len()).saturating_sub(declared.unwrap_or(0));
        let charged_already = held.saturating_sub(declared.unwrap_or(0));
        budget.take(&mut hold, beyond_declared - charged_already)?;
        whole.push(data);
    }
    Ok((whole.into_bytes(), hold))
}

/// A body gathered from its frames. A body that arrives in one frame (the
/// usual case for a small request) is kept as that frame, not copied.
struct Whole {
    first: Option<Bytes>,
    joined: BytesMut,
    capacity: usize,
}

impl Whole {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            first: None,
            joined: BytesMut::new(),
            capacity,
        }
    }

    fn len(&self) -> usize {
        self.first.as_ref().map_or(0, Bytes::len) + self.joined.len()
    }

    fn push(&mut self, data: Bytes) {
        match (self.first.take(), self.joined.is_empty()) {
            (None, true) => self.first = Some(data),
            (first, _) => {
                if let Some(first) = first {
                    self.joined
                        .reserve(self.capacity.max(first.len() + data.len()));
                    self.joined.extend_from_slice(&first);
                }
                self.joined.extend_from_slice(&data);
            }
        }
    }

    fn into_bytes(self) -> Bytes {
        match self.first {
            Some(one) => one,
            None => self.joined.freeze(),
        }
    }
}
