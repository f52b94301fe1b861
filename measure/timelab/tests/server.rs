//! The TIME server on real sockets: several requests per connection, requests split across
//! writes, errors, `QUIT`, refusal when full, and a silent client timed out.

mod common;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use common::{connect, reply};
use poolbook_testkit::TestServer;
use poolbook_timelab::protocol::{self, BUSY, TOO_LONG, UNKNOWN, is_jam};
use poolbook_timelab::server::{self, Config};

fn start(config: Config) -> TestServer {
    TestServer::start(move |incoming| {
        server::serve(incoming, config).expect("the pool starts");
    })
}

#[test]
fn a_connection_carries_many_requests_and_quit_closes_it() {
    let server = start(Config::default());
    let (mut stream, mut reader) = connect(server.addr());
    for request in ["TIME\r\n", "TIME thread \r\n", "TIME\r\n"] {
        stream.write_all(request.as_bytes()).expect("send");
        let line = reply(&mut reader);
        assert!(is_jam(line.as_bytes()), "{line:?}");
    }
    stream.write_all(b"HELLO\r\n").expect("send");
    assert_eq!(reply(&mut reader), UNKNOWN);
    stream.write_all(b"QUIT\r\n").expect("send");
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).expect("the server closes");
    assert!(rest.is_empty());
}

#[test]
fn a_request_split_across_writes_is_one_request() {
    let server = start(Config::default());
    let (mut stream, mut reader) = connect(server.addr());
    stream.set_nodelay(true).expect("nodelay");
    for part in [&b"TI"[..], b"ME", b"\r", b"\n"] {
        stream.write_all(part).expect("send");
        stream.flush().expect("flush");
    }
    let line = reply(&mut reader);
    assert!(is_jam(line.as_bytes()), "{line:?}");
}

#[test]
fn an_over_long_request_is_refused_and_the_connection_closed() {
    let server = start(Config::default());
    let (mut stream, mut reader) = connect(server.addr());
    let long = format!("TIME{}\r\n", "x".repeat(protocol::MAX_LINE));
    stream.write_all(long.as_bytes()).expect("send");
    let mut rest = String::new();
    reader.read_to_string(&mut rest).expect("the server closes");
    assert_eq!(rest, TOO_LONG);
}

#[test]
fn a_silent_client_is_closed_after_the_idle_timeout() {
    let server = start(Config {
        idle_timeout: Duration::from_millis(200),
        ..Config::default()
    });
    let (_stream, mut reader) = connect(server.addr());
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).expect("the server closes");
    assert!(rest.is_empty());
}

#[test]
fn a_connection_beyond_capacity_is_told_busy() {
    let server = start(Config {
        workers: 1,
        waiting: 1,
        ..Config::default()
    });
    // The first connection holds the worker for as long as it stays open; the second waits.
    let (mut held, mut held_reader) = connect(server.addr());
    held.write_all(b"TIME\r\n").expect("send");
    assert!(is_jam(reply(&mut held_reader).as_bytes()));
    let (mut waiting, mut waiting_reader) = connect(server.addr());
    waiting.write_all(b"TIME\r\n").expect("send");
    // The queue's one place is taken: the third is refused, whatever it sends.
    let (mut third, mut third_reader) = connect(server.addr());
    third.write_all(b"TIME\r\n").expect("send");
    let mut rest = String::new();
    third_reader
        .read_to_string(&mut rest)
        .expect("the server closes");
    assert_eq!(rest, BUSY);
    // Once the first leaves, the waiting one is served.
    held.shutdown(Shutdown::Write).expect("close");
    assert!(is_jam(reply(&mut waiting_reader).as_bytes()));
    drop(third);
}

#[test]
fn the_thread_per_connection_server_serves_connections_at_once() {
    let server = TestServer::start(|incoming| {
        let (served, no_thread) =
            server::serve_thread_per_connection(incoming, Duration::from_secs(10));
        assert_eq!((served, no_thread), (3, 0));
    });
    // Three connections open at once, each answered while the others stay open: a thread each.
    let mut open: Vec<_> = (0..3).map(|_| connect(server.addr())).collect();
    for (stream, reader) in &mut open {
        stream.write_all(b"TIME\r\n").expect("send");
        assert!(is_jam(reply(reader).as_bytes()));
    }
    drop(open);
}
