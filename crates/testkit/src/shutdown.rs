//! Graceful-shutdown checks every stage from graceful shutdown on must pass: in-process with a
//! held request, and against the stage's binary receiving a signal.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::thread;

use crate::conformance::{BoxedHandler, Log, gated_handler};
use crate::process::ServerProcess;
use crate::{Gate, TestServer, WATCHDOG, get, parse_reply};

// ANCHOR: held-request-test
/// Stopping the accept loop while a request is held: `serve` returns only after that request
/// has been answered.
///
/// # Panics
///
/// When `serve` returns before the held request was answered.
pub fn stopping_waits_for_the_request_in_flight(start: impl Fn(BoxedHandler) -> TestServer) {
    let gate = Arc::new(Gate::new());
    let log = Arc::new(Log::default());
    let server = start(gated_handler(Arc::clone(&gate), Arc::clone(&log)));
    let addr = server.addr();
    // ANCHOR: held-request-asserts
    let client = thread::spawn(move || get(addr, "/block").expect("an answer").status);
    assert!(gate.wait_arrived(1), "the request reaches its handler");

    let stopper_log = Arc::clone(&log);
    let stopper = thread::spawn(move || {
        drop(server); // stops the accept loop and waits for `serve` to return
        stopper_log.push("serve returned");
    });
    gate.open();
    stopper.join().expect("the server stops");
    assert_eq!(client.join().expect("the client"), 200);
    assert_eq!(log.entries(), ["/block", "serve returned"]);
    // ANCHOR_END: held-request-asserts
}
// ANCHOR_END: held-request-test

// ANCHOR: sigterm-test
/// SIGTERM while a slow request is in flight to the server `binary`: the request is still
/// answered, then the process exits with status 0.
///
/// # Panics
///
/// When the request is not answered, or the process exits otherwise.
#[cfg(unix)]
pub fn sigterm_finishes_the_accepted_request_and_exits_cleanly(binary: &str) {
    // ANCHOR: sigterm-asserts
    let server = ServerProcess::start(binary, &["--sleep-ms", "2000"]);
    let mut stream = TcpStream::connect(server.addr()).expect("connect");
    stream.set_read_timeout(Some(WATCHDOG)).expect("timeout");
    stream
        .write_all(b"GET /sleep HTTP/1.1\r\n\r\n")
        .expect("send the request");
    // `connect` has returned, so the kernel has queued this connection ahead of the one the
    // server makes to wake its own accept loop: it is accepted, and must be answered.
    server.signal("TERM");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).expect("read the reply");
    assert_eq!(parse_reply(&reply).expect("an HTTP reply").status, 200);
    let exit = server.wait();
    assert_eq!(exit.code, Some(0), "stderr: {}", exit.stderr);
    assert!(
        exit.stderr.contains("finishing accepted requests"),
        "stderr: {}",
        exit.stderr
    );
    // ANCHOR_END: sigterm-asserts
}
// ANCHOR_END: sigterm-test

/// A client that connects and never sends a byte cannot hold the shutdown of the server
/// `binary` forever: its read times out, and the process exits.
///
/// # Panics
///
/// When the process does not exit with status 0.
#[cfg(unix)]
pub fn an_idle_connection_does_not_hang_the_shutdown(binary: &str) {
    let server = ServerProcess::start(binary, &["--sleep-ms", "0"]);
    let idle = TcpStream::connect(server.addr()).expect("connect");
    server.signal("INT");
    let exit = server.wait();
    assert_eq!(exit.code, Some(0), "stderr: {}", exit.stderr);
    drop(idle);
}
