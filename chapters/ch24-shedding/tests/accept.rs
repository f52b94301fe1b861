//! The accept guard from the outside, with its reserve: the client that arrives after an
//! exhaustion error is handed to the refusal, and the ones after it are served.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};

use ch24_shedding::accept::Guarded;

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

// ANCHOR: reserve-test
/// One failed accept for want of descriptors: the reserve is released, the next client is
/// accepted with it and handed to `refuse`, and the client after that is served.
#[cfg(unix)]
#[test]
fn the_client_after_an_exhaustion_error_is_refused_through_the_reserve() {
    let (servers, _clients) = accepted(2);
    let expected = peers(&servers);
    let mut servers = servers.into_iter();
    let incoming = [
        Err(io::Error::from_raw_os_error(libc::EMFILE)),
        Ok(servers.next().expect("a connection")),
        Ok(servers.next().expect("a connection")),
    ];
    let mut refused = Vec::new();
    let served: Vec<TcpStream> = Guarded::new(incoming, |stream| refused.push(stream)).collect();
    assert_eq!(peers(&refused), expected[..1]);
    assert_eq!(peers(&served), expected[1..]);
}
// ANCHOR_END: reserve-test
