//! The TIME server on tokio, both runtimes, on real sockets: the same behaviour as the pool's
//! server (several requests per connection, split requests, errors, `QUIT`, refusal when full,
//! idle timeout), and a stop that waits for the connections it accepted.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use common::{connect, reply};
use poolbook_timelab::async_server::{self, Config, Flavor, Report};
use poolbook_timelab::protocol::{self, BUSY, TOO_LONG, UNKNOWN, is_jam};
use tokio::sync::oneshot;

const FLAVORS: [Flavor; 2] = [Flavor::CurrentThread, Flavor::MultiThread { workers: 2 }];

/// An async server on its own thread; `stop` ends it and returns its report.
struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Report>>,
}

impl Server {
    fn start(flavor: Flavor, config: Config) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = thread::spawn(move || {
            let stop = async move {
                let _ = stopped.await;
            };
            async_server::run(listener, flavor, config, stop).expect("the runtime starts")
        });
        Server {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> Report {
        let _ = self.stop.take().expect("not stopped yet").send(());
        self.thread
            .take()
            .expect("running")
            .join()
            .expect("the server thread")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[test]
fn a_connection_carries_many_requests_and_quit_closes_it() {
    for flavor in FLAVORS {
        let server = Server::start(flavor, Config::default());
        let (mut stream, mut reader) = connect(server.addr);
        for request in ["TIME\r\n", "TIME thread \r\n", "TIME\r\n"] {
            stream.write_all(request.as_bytes()).expect("send");
            let line = reply(&mut reader);
            assert!(is_jam(line.as_bytes()), "{flavor:?}: {line:?}");
        }
        stream.write_all(b"HELLO\r\n").expect("send");
        assert_eq!(reply(&mut reader), UNKNOWN);
        stream.write_all(b"QUIT\r\n").expect("send");
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).expect("the server closes");
        assert!(rest.is_empty());
        assert_eq!(
            server.stop(),
            Report {
                served: 1,
                refused: 0
            }
        );
    }
}

#[test]
fn a_request_split_across_writes_is_one_request() {
    for flavor in FLAVORS {
        let server = Server::start(flavor, Config::default());
        let (mut stream, mut reader) = connect(server.addr);
        stream.set_nodelay(true).expect("nodelay");
        for part in [&b"TI"[..], b"ME", b"\r", b"\n"] {
            stream.write_all(part).expect("send");
        }
        let line = reply(&mut reader);
        assert!(is_jam(line.as_bytes()), "{flavor:?}: {line:?}");
    }
}

#[test]
fn an_over_long_request_is_refused_and_the_connection_closed() {
    for flavor in FLAVORS {
        let server = Server::start(flavor, Config::default());
        let (mut stream, mut reader) = connect(server.addr);
        let long = format!("TIME{}\r\n", "x".repeat(protocol::MAX_LINE));
        stream.write_all(long.as_bytes()).expect("send");
        let mut rest = String::new();
        reader.read_to_string(&mut rest).expect("the server closes");
        assert_eq!(rest, TOO_LONG, "{flavor:?}");
    }
}

#[test]
fn a_silent_client_is_closed_after_the_idle_timeout() {
    for flavor in FLAVORS {
        let config = Config {
            idle_timeout: Duration::from_millis(200),
            ..Config::default()
        };
        let server = Server::start(flavor, config);
        let (_stream, mut reader) = connect(server.addr);
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).expect("the server closes");
        assert!(rest.is_empty(), "{flavor:?}");
    }
}

#[test]
fn a_connection_beyond_the_limit_is_told_busy() {
    for flavor in FLAVORS {
        let config = Config {
            max_connections: 1,
            ..Config::default()
        };
        let server = Server::start(flavor, config);
        let (mut held, mut held_reader) = connect(server.addr);
        held.write_all(b"TIME\r\n").expect("send");
        assert!(is_jam(reply(&mut held_reader).as_bytes()));
        let (mut second, mut second_reader) = connect(server.addr);
        second.write_all(b"TIME\r\n").expect("send");
        let mut rest = String::new();
        second_reader
            .read_to_string(&mut rest)
            .expect("the server closes");
        assert_eq!(rest, BUSY, "{flavor:?}");
        held.shutdown(Shutdown::Write).expect("close");
        assert_eq!(
            server.stop(),
            Report {
                served: 1,
                refused: 1
            }
        );
    }
}

#[test]
fn stopping_waits_for_an_accepted_connection_to_end() {
    for flavor in FLAVORS {
        let server = Server::start(flavor, Config::default());
        let (mut stream, mut reader) = connect(server.addr);
        stream.write_all(b"TIME\r\n").expect("send");
        assert!(is_jam(reply(&mut reader).as_bytes()));
        // Stop while the connection is open: it is still served until it quits.
        let addr = server.addr;
        let stopping = thread::spawn(move || server.stop());
        stream.write_all(b"TIME\r\nQUIT\r\n").expect("send");
        assert!(is_jam(reply(&mut reader).as_bytes()), "{flavor:?}");
        assert_eq!(stopping.join().expect("stopped").served, 1);
        assert!(
            TcpStream::connect(addr).is_err(),
            "{flavor:?}: still accepting"
        );
    }
}
