//! The response body on its way back to the app: every frame is passed on
//! the moment it arrives, and a copy is read on the side for metrics.
//!
//! Buffering a stream would break the app's time to first token, so the
//! tap never holds forwarded bytes back: event streams are decoded from a
//! side buffer that only ever holds one partial frame, and JSON answers are
//! copied up to a bound.

use std::borrow::Cow;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder, write_message_to};
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use base64::Engine;
use serde_json::Value;

use super::usage::Usage;
use crate::score::{StreamText, answer_text_from_json};

/// JSON answers larger than this are forwarded whole but not read for
/// usage (the token-count headers still are).
const JSON_COPY_LIMIT: usize = 4 * 1024 * 1024;

/// How the body ended, as far as the sidecar could see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyEnd {
    /// The upstream finished and the app read everything.
    Complete,
    /// The upstream connection failed mid-body.
    UpstreamFailed,
    /// The app stopped reading (disconnected) before the end.
    Abandoned,
}

/// What the tap learned, handed over once the body ends.
#[derive(Debug, Clone)]
pub struct TapReport {
    pub end: BodyEnd,
    /// The answer's text, when it was asked for (observed requests).
    pub answer: Option<String>,
    pub usage: Usage,
    pub first_byte: Option<Instant>,
    pub finished: Instant,
    pub bytes: u64,
}

enum Reader {
    EventStream {
        decoder: MessageFrameDecoder,
        pending: BytesMut,
    },
    /// The answer's chunks, shared with the forwarded ones rather than
    /// copied; most JSON answers arrive in one.
    Json {
        chunks: Vec<Bytes>,
        len: usize,
        overflowed: bool,
    },
}

type OnEnd = Box<dyn FnOnce(TapReport) + Send>;

/// A response body that reports on itself when it ends or is dropped.
pub struct TappedBody {
    inner: Incoming,
    reader: Reader,
    usage: Usage,
    first_byte: Option<Instant>,
    bytes: u64,
    on_end: Option<OnEnd>,
    /// Set once an exception frame replaced an upstream failure: the body
    /// then ends cleanly.
    closed: bool,
    /// Gathers a stream's text for scoring, when asked to.
    text: Option<StreamText>,
}

impl TappedBody {
    /// Wraps `inner`; `usage` holds what the response headers said already.
    pub fn new(inner: Incoming, event_stream: bool, usage: Usage, on_end: OnEnd) -> Self {
        let reader = match event_stream {
            true => Reader::EventStream {
                decoder: MessageFrameDecoder::new(),
                pending: BytesMut::new(),
            },
            false => Reader::Json {
                chunks: Vec::new(),
                len: 0,
                overflowed: false,
            },
        };
        Self {
            inner,
            reader,
            usage,
            first_byte: None,
            bytes: 0,
            on_end: Some(on_end),
            closed: false,
            text: None,
        }
    }

    /// Also gathers the answer's text (bounded), for quality scoring.
    pub fn with_answer_text(mut self) -> Self {
        self.text = Some(StreamText::new());
        self
    }

    fn observe(&mut self, data: &Bytes) {
        self.first_byte.get_or_insert_with(Instant::now);
        self.bytes += data.len() as u64;
        match &mut self.reader {
            Reader::EventStream { decoder, pending } => {
                pending.extend_from_slice(data);
                decode_available(decoder, pending, &mut self.usage, self.text.as_mut());
            }
            Reader::Json {
                chunks,
                len,
                overflowed,
            } => {
                *len += data.len();
                match *len <= JSON_COPY_LIMIT {
                    true => chunks.push(data.clone()),
                    false => {
                        *overflowed = true;
                        chunks.clear();
                    }
                }
            }
        }
    }

    /// An upstream that breaks mid-stream would make the app's connection
    /// abort, and the frames already handed over could be lost with it.
    /// Between two frames, the sidecar ends the stream instead with an
    /// exception frame the app's SDK raises as a typed, retryable error.
    fn exception_for(&self, error: &hyper::Error) -> Option<Bytes> {
        let Reader::EventStream { pending, .. } = &self.reader else {
            return None;
        };
        if !pending.is_empty() {
            return None;
        }
        let message = format!("bedrock-tuner: the upstream connection broke mid-stream: {error}");
        let payload = serde_json::json!({ "message": message }).to_string();
        let header = |name: &'static str, value: &'static str| {
            Header::new(name, HeaderValue::String(value.into()))
        };
        let frame = Message::new(payload.into_bytes())
            .add_header(header(":message-type", "exception"))
            .add_header(header(":exception-type", "internalServerException"))
            .add_header(header(":content-type", "application/json"));
        let mut bytes = Vec::new();
        write_message_to(&frame, &mut bytes).ok()?;
        Some(Bytes::from(bytes))
    }

    fn finish(&mut self, end: BodyEnd) {
        let Some(on_end) = self.on_end.take() else {
            return;
        };
        let mut answer = self.text.take().map(StreamText::into_text);
        if let Reader::Json {
            chunks,
            overflowed: false,
            ..
        } = &self.reader
        {
            let body = joined(chunks);
            let mut from_body = Usage::default();
            // Only an observed request's answer is parsed whole, for its
            // text; any other answer is read for its usage fields alone.
            match answer.is_some() {
                true => {
                    if let Ok(json) = serde_json::from_slice::<Value>(&body) {
                        from_body.absorb_json_value(&json);
                        answer = Some(answer_text_from_json(&json));
                    }
                }
                false => from_body.absorb_json_body(&body),
            }
            merge_missing(&mut self.usage, from_body);
        }
        on_end(TapReport {
            end,
            answer,
            usage: std::mem::take(&mut self.usage),
            first_byte: self.first_byte,
            finished: Instant::now(),
            bytes: self.bytes,
        });
    }
}

/// The chunks as one slice, copied only when there is more than one.
fn joined(chunks: &[Bytes]) -> Cow<'_, [u8]> {
    match chunks {
        [one] => Cow::Borrowed(one),
        many => Cow::Owned(many.concat()),
    }
}

/// Headers win over the body where both give a figure.
fn merge_missing(into: &mut Usage, from: Usage) {
    into.input_tokens = into.input_tokens.or(from.input_tokens);
    into.output_tokens = into.output_tokens.or(from.output_tokens);
    into.stop_reason = into.stop_reason.take().or(from.stop_reason);
}

fn decode_available(
    decoder: &mut MessageFrameDecoder,
    pending: &mut BytesMut,
    usage: &mut Usage,
    mut text: Option<&mut StreamText>,
) {
    loop {
        match decoder.decode_frame(&mut *pending) {
            Ok(DecodedFrame::Complete(message)) => {
                usage.absorb_event(&message);
                if let (Some(text), Some(event)) =
                    (text.as_deref_mut(), event_json(message.payload()))
                {
                    text.push(&event);
                }
            }
            Ok(DecodedFrame::Incomplete) => return,
            Err(error) => {
                // A frame the side decoder cannot read is still forwarded;
                // the app's SDK will judge it. Stop decoding this stream.
                tracing::debug!(%error, "event_stream_undecodable");
                pending.clear();
                *decoder = MessageFrameDecoder::new();
                return;
            }
        }
    }
}

/// A stream event's JSON; InvokeModel streams wrap the model's own event
/// in base64 under `bytes`.
fn event_json(payload: &[u8]) -> Option<Value> {
    let json: Value = serde_json::from_slice(payload).ok()?;
    match json.get("bytes").and_then(Value::as_str) {
        Some(b64) => {
            serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(b64).ok()?)
                .ok()
        }
        None => Some(json),
    }
}

impl Body for TappedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        if self.closed {
            return Poll::Ready(None);
        }
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let data = data.clone();
                    self.observe(&data);
                }
            }
            Poll::Ready(Some(Err(error))) => {
                let replacement = self.exception_for(error);
                self.finish(BodyEnd::UpstreamFailed);
                if let Some(frame) = replacement {
                    self.closed = true;
                    return Poll::Ready(Some(Ok(Frame::data(frame))));
                }
            }
            Poll::Ready(None) => self.finish(BodyEnd::Complete),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for TappedBody {
    fn drop(&mut self) {
        // hyper may stop polling once `is_end_stream` says so, without
        // asking for the final `None`: that is a complete body too.
        let end = match self.inner.is_end_stream() {
            true => BodyEnd::Complete,
            false => BodyEnd::Abandoned,
        };
        self.finish(end);
    }
}
