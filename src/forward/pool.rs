//! Upstream connections kept open between requests.
//!
//! An HTTP/1.1 connection carries one request at a time. A connection goes
//! back into the pool as soon as its answer's head has arrived, while the
//! body may still be streaming; a checkout takes only a connection whose
//! previous answer is over. Knowing that needs no task per request (the
//! general-purpose pooled client spawns one to wait for each body's end),
//! only a look at each candidate's readiness flag.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::{Authority, Scheme};
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;

/// Connections kept per upstream host, busy or idle. Past this, a finished
/// request's connection is closed instead of kept: a burst larger than
/// this does not leave that many sockets open behind it.
const MAX_PER_HOST: usize = 512;

/// One open connection to the upstream.
pub struct Conn {
    pub sender: SendRequest<Full<Bytes>>,
    returned: Instant,
}

impl Conn {
    pub fn new(sender: SendRequest<Full<Bytes>>) -> Self {
        Self {
            sender,
            returned: Instant::now(),
        }
    }
}

/// Open connections, by upstream scheme and authority.
pub struct Pool {
    hosts: Mutex<Vec<Host>>,
    idle_timeout: Duration,
}

struct Host {
    scheme: Scheme,
    authority: Authority,
    conns: Vec<Conn>,
}

impl Host {
    fn is(&self, scheme: &Scheme, authority: &Authority) -> bool {
        self.scheme == *scheme && self.authority == *authority
    }
}

impl Pool {
    /// A pool that stops reusing a connection once it has been idle for
    /// `idle_timeout`.
    pub fn new(idle_timeout: Duration) -> Self {
        Self {
            hosts: Mutex::new(Vec::new()),
            idle_timeout,
        }
    }

    /// A connection ready for a new request, if one is open. Closed and
    /// long-idle connections met on the way are dropped.
    pub fn checkout(&self, scheme: &Scheme, authority: &Authority) -> Option<Conn> {
        let mut hosts = self.hosts.lock().ok()?;
        let host = hosts.iter_mut().find(|h| h.is(scheme, authority))?;
        let mut i = 0;
        while i < host.conns.len() {
            let conn = &host.conns[i];
            if conn.sender.is_closed() || self.expired(conn) {
                host.conns.swap_remove(i);
            } else if conn.sender.is_ready() {
                return Some(host.conns.swap_remove(i));
            } else {
                i += 1;
            }
        }
        None
    }

    /// Keeps `conn` for later requests; it may still be streaming an answer.
    pub fn put(&self, scheme: &Scheme, authority: &Authority, mut conn: Conn) {
        let Ok(mut hosts) = self.hosts.lock() else {
            return;
        };
        conn.returned = Instant::now();
        match hosts.iter_mut().find(|h| h.is(scheme, authority)) {
            Some(host) if host.conns.len() < MAX_PER_HOST => host.conns.push(conn),
            Some(_) => {}
            None => hosts.push(Host {
                scheme: scheme.clone(),
                authority: authority.clone(),
                conns: vec![conn],
            }),
        }
    }

    /// Idle for longer than the timeout. A connection still streaming is
    /// not ready and is never counted idle here; one that finished a long
    /// stream is judged from when it was returned, which errs towards
    /// opening a fresh connection.
    fn expired(&self, conn: &Conn) -> bool {
        conn.sender.is_ready() && conn.returned.elapsed() > self.idle_timeout
    }
}
