//! The forwarder against a real loopback HTTP/1.1 server that counts the
//! connections it accepts.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc};

use super::*;

type Chunk = Result<Frame<Bytes>, Infallible>;
type Chunks = mpsc::Receiver<Chunk>;
/// The senders of the `/slow` answers still streaming.
type Held = Mutex<Vec<mpsc::Sender<Chunk>>>;

/// A server whose `/slow` answers stream until the test releases them, and
/// whose `/bye` answers close their connection.
struct Upstream {
    port: u16,
    accepted: Arc<AtomicUsize>,
    release: Arc<Held>,
}

impl Upstream {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(Mutex::new(Vec::new()));
        let (count, held) = (accepted.clone(), release.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let held = held.clone();
                let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let held = held.clone();
                    async move { Ok::<_, Infallible>(answer(request.uri().path(), &held).await) }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        Self {
            port,
            accepted,
            release,
        }
    }

    fn request(&self, path: &str) -> http::Request<Bytes> {
        http::Request::post(format!("http://127.0.0.1:{}{path}", self.port))
            .header(http::header::HOST, format!("127.0.0.1:{}", self.port))
            .body(Bytes::from_static(b"{}"))
            .expect("request")
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Ends every `/slow` answer still streaming.
    async fn release_all(&self) {
        self.release.lock().await.clear();
    }
}

async fn answer(
    path: &str,
    held: &Held,
) -> http::Response<http_body_util::combinators::BoxBody<Bytes, Infallible>> {
    let builder = http::Response::builder();
    match path {
        "/slow" => {
            let (tx, rx): (_, Chunks) = mpsc::channel(1);
            let _ = tx.send(Ok(Frame::data(Bytes::from_static(b"first")))).await;
            held.lock().await.push(tx);
            let body = StreamBody::new(tokio_stream(rx)).boxed();
            builder.body(body)
        }
        "/bye" => builder
            .header(http::header::CONNECTION, "close")
            .body(Full::new(Bytes::from_static(b"bye")).boxed()),
        _ => builder.body(Full::new(Bytes::from_static(b"ok")).boxed()),
    }
    .expect("response")
}

/// The receiver as a stream of frames, without a stream crate.
fn tokio_stream(mut rx: Chunks) -> impl futures_util::Stream<Item = Chunk> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

fn forwarder() -> Forwarder {
    Forwarder::new(Duration::from_secs(2), None).expect("forwarder")
}

async fn text(response: http::Response<Incoming>) -> String {
    let body = response.into_body().collect().await.expect("body");
    String::from_utf8(body.to_bytes().to_vec()).expect("utf-8")
}

/// One request's whole answer, as text.
async fn fetch(forwarder: &Forwarder, upstream: &Upstream, path: &str) -> String {
    text(forwarder.send(upstream.request(path)).await.expect("sent")).await
}

#[tokio::test]
async fn one_connection_carries_requests_one_after_another() {
    let upstream = Upstream::start().await;
    let forwarder = forwarder();
    for _ in 0..5 {
        assert_eq!(fetch(&forwarder, &upstream, "/").await, "ok");
    }
    assert_eq!(upstream.accepted(), 1);
}

#[tokio::test]
async fn a_connection_still_streaming_is_not_given_a_second_request() {
    let upstream = Upstream::start().await;
    let forwarder = forwarder();
    let streaming = forwarder
        .send(upstream.request("/slow"))
        .await
        .expect("sent");
    assert_eq!(fetch(&forwarder, &upstream, "/").await, "ok");
    assert_eq!(upstream.accepted(), 2, "the busy connection was reused");
    upstream.release_all().await;
    assert_eq!(text(streaming).await, "first");
    // Both connections are free again: no third one is opened.
    for _ in 0..3 {
        assert_eq!(fetch(&forwarder, &upstream, "/").await, "ok");
    }
    assert_eq!(upstream.accepted(), 2);
}

#[tokio::test]
async fn a_connection_the_upstream_closed_is_replaced() {
    let upstream = Upstream::start().await;
    let forwarder = forwarder();
    for _ in 0..3 {
        assert_eq!(fetch(&forwarder, &upstream, "/bye").await, "bye");
    }
    assert_eq!(upstream.accepted(), 3);
}

#[tokio::test]
async fn an_abandoned_answer_closes_its_connection() {
    let upstream = Upstream::start().await;
    let forwarder = forwarder();
    let streaming = forwarder
        .send(upstream.request("/slow"))
        .await
        .expect("sent");
    // The app went away mid-answer: the upstream call must not live on.
    drop(streaming);
    assert_eq!(fetch(&forwarder, &upstream, "/").await, "ok");
    assert_eq!(upstream.accepted(), 2);
    // Closed, not kept: the upstream's writes start failing.
    let sender = upstream.release.lock().await.remove(0);
    let noticed = async {
        while sender
            .send(Ok(Frame::data(Bytes::from_static(b"more"))))
            .await
            .is_ok()
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), noticed)
        .await
        .expect("the upstream connection stayed open after the answer was dropped");
}

#[tokio::test]
async fn an_unreachable_upstream_says_what_failed() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let request = http::Request::post(format!("http://127.0.0.1:{port}/"))
        .body(Bytes::new())
        .expect("request");
    let error = forwarder()
        .send(request)
        .await
        .expect_err("nothing listens");
    let message = error.to_string();
    assert!(message.contains("connect failed"), "{message}");
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
}
