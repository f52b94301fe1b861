//! The accept guard from the outside, fed errors the way a listener at its descriptor limit
//! produces them: it waits an exhaustion out, passes other errors over, and ends with its input.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};

use ch20_backoff::accept::Guarded;

/// `n` accepted loopback connections (server side), with their clients kept open beside them.
fn accepted(n: usize) -> (Vec<TcpStream>, Vec<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let clients: Vec<_> = (0..n)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    let servers = (0..n)
        .map(|_| listener.accept().expect("accept").0)
        .collect();
    (servers, clients)
}

fn peers(streams: &[TcpStream]) -> Vec<SocketAddr> {
    streams
        .iter()
        .map(|s| s.peer_addr().expect("peer"))
        .collect()
}

/// What `accept` returns when the process has no descriptor left.
#[cfg(unix)]
fn out_of_descriptors() -> io::Error {
    io::Error::from_raw_os_error(libc::EMFILE)
}

// ANCHOR: guard-test
/// Two failed accepts for want of descriptors, then a connection: the guard waits the failures
/// out and yields the connection, and any other error is passed over.
#[cfg(unix)]
#[test]
fn exhaustion_is_waited_out_and_other_errors_passed_over() {
    let (servers, _clients) = accepted(2);
    let expected = peers(&servers);
    let mut servers = servers.into_iter();
    let incoming = [
        Err(out_of_descriptors()),
        Err(out_of_descriptors()),
        Ok(servers.next().expect("a connection")),
        Err(io::Error::from(io::ErrorKind::ConnectionAborted)),
        Ok(servers.next().expect("a connection")),
    ];
    let served: Vec<TcpStream> = Guarded::new(incoming).collect();
    assert_eq!(peers(&served), expected);
}
// ANCHOR_END: guard-test

/// A listener that stops during an episode (as a stopping server's does) ends the guard too.
#[cfg(unix)]
#[test]
fn the_guard_ends_when_incoming_ends_during_an_episode() {
    let incoming = [Err(out_of_descriptors())];
    assert_eq!(Guarded::new(incoming).count(), 0);
}
