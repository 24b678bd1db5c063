//! One request at a time into moto.
//!
//! DynamoDB applies each request atomically and isolates transactions.
//! moto's server runs requests on threads without that isolation: with
//! nine concurrent writers it lost ADDs and let two updates of one item
//! both see it empty (observed about one run in two). This gate in front of
//! moto lets one connection through at a time (moto closes each connection
//! after its reply), which restores per-request atomicity while keeping
//! every interleaving *between* requests, the one the store's protocol
//! has to survive.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Starts the gate on a free loopback port; returns the port.
pub fn start(upstream: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let turn = Arc::new(Mutex::new(()));
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let turn = Arc::clone(&turn);
            std::thread::spawn(move || {
                let _ = pass(client, upstream, &turn);
            });
        }
    });
    port
}

fn pass(mut client: TcpStream, upstream: u16, turn: &Mutex<()>) -> std::io::Result<()> {
    // Queue only once a request arrives: an idle pooled connection must
    // not hold the turn.
    let mut first = vec![0u8; 64 * 1024];
    let n = client.read(&mut first)?;
    if n == 0 {
        return Ok(());
    }
    let _turn = turn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut server = TcpStream::connect(("127.0.0.1", upstream))?;
    // Small writes forwarded without Nagle's delay.
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    server.set_read_timeout(Some(Duration::from_secs(30)))?;
    server.write_all(&first[..n])?;
    let (mut client_in, mut server_out) = (client.try_clone()?, server.try_clone()?);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_in, &mut server_out);
    });
    // moto closes the connection after its reply: that ends the turn.
    let _ = std::io::copy(&mut server, &mut client);
    let _ = client.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
    Ok(())
}
