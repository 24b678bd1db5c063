//! A TCP proxy between a store client and moto that can refuse
//! connections, freeze (accept and never answer), or let requests through
//! and lose their replies, as a broken network or a dead store would.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Forward both ways.
    Pass = 0,
    /// Close every connection at once (a store that is down).
    Refuse = 1,
    /// Accept and read, never answer (a store that hangs).
    Freeze = 2,
}

/// Replies still to lose, and to which operation (any when `None`).
#[derive(Debug, Default)]
struct Losses {
    operation: Option<String>,
    left: u32,
}

pub struct FaultProxy {
    pub port: u16,
    mode: Arc<AtomicU8>,
    losses: Arc<Mutex<Losses>>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// A proxy on a free loopback port to `upstream` on loopback.
    pub async fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let mode = Arc::new(AtomicU8::new(Mode::Pass as u8));
        let losses = Arc::new(Mutex::new(Losses::default()));
        let task = tokio::spawn(accept(listener, upstream, mode.clone(), losses.clone()));
        Self {
            port,
            mode,
            losses,
            task,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// The next `n` requests (of one DynamoDB operation, or any) reach
    /// the store, but their replies are lost.
    pub fn lose_replies(&self, operation: Option<&str>, n: u32) {
        let mut losses = self.losses.lock().unwrap_or_else(|p| p.into_inner());
        *losses = Losses {
            operation: operation.map(|o| format!("DynamoDB_20120810.{o}")),
            left: n,
        };
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(
    listener: TcpListener,
    upstream: u16,
    mode: Arc<AtomicU8>,
    losses: Arc<Mutex<Losses>>,
) {
    while let Ok((client, _)) = listener.accept().await {
        match mode.load(Ordering::SeqCst) {
            m if m == Mode::Refuse as u8 => drop(client),
            m if m == Mode::Freeze as u8 => {
                tokio::spawn(hold(client));
            }
            _ => {
                tokio::spawn(forward(client, upstream, mode.clone(), losses.clone()));
            }
        }
    }
}

/// Whether this request's reply is to be lost (its first bytes name the
/// operation in `X-Amz-Target`).
fn take_loss(losses: &Mutex<Losses>, request: &[u8]) -> bool {
    let mut losses = losses.lock().unwrap_or_else(|p| p.into_inner());
    let text = String::from_utf8_lossy(request);
    let matches = losses
        .operation
        .as_deref()
        .is_none_or(|op| text.contains(op));
    if matches && losses.left > 0 {
        losses.left -= 1;
        return true;
    }
    false
}

/// Reads whatever comes and never answers.
async fn hold(mut client: TcpStream) {
    let mut buffer = [0u8; 4096];
    while let Ok(n) = client.read(&mut buffer).await {
        if n == 0 {
            return;
        }
    }
}

async fn forward(
    mut client: TcpStream,
    upstream: u16,
    mode: Arc<AtomicU8>,
    losses: Arc<Mutex<Losses>>,
) {
    let mut first = vec![0u8; 64 * 1024];
    let n = match client.read(&mut first).await {
        Ok(0) | Err(_) => return,
        Ok(n) => n,
    };
    let lose_reply = take_loss(&losses, &first[..n]);
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
        return;
    };
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    if server.write_all(&first[..n]).await.is_err() {
        return;
    }
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
    });
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = match server_read.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // The store has answered, so it has acted: losing the answer now
        // is a reply lost on the way back.
        if lose_reply || mode.load(Ordering::SeqCst) != Mode::Pass as u8 {
            break;
        }
        if client_write.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    requests.abort();
    let _ = client_write.shutdown().await;
}
