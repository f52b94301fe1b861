//! Graceful-shutdown checks every stage from graceful shutdown on must pass: in-process with a
//! held request, and against the stage's binary receiving a signal.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;

use crate::conformance::{BoxedHandler, Log, gated_handler};
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
}
// ANCHOR_END: held-request-test

/// A stage's server, run as a process, killed if the test fails first.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(binary: &str, sleep_ms: &str) -> Server {
        let mut child = Command::new(binary)
            .args(["--port", "0", "--sleep-ms", sleep_ms])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server");
        let stdout = child.stdout.take().expect("stdout");
        let (lines_tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if lines_tx.send(line.expect("a line")).is_err() {
                    break;
                }
            }
        });
        let mut addr = None;
        loop {
            let line = lines
                .recv_timeout(WATCHDOG)
                .expect("the server prints its address");
            if let Some(rest) = line.strip_prefix("Listening on http://") {
                addr = Some(rest.to_owned());
            }
            // Printed once the signal handlers are installed.
            if line.starts_with("Ctrl-C or SIGTERM stops the server") {
                break;
            }
        }
        Server {
            child,
            addr: addr.expect("an address before the ready line"),
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits for the process to exit (the watchdog kills it if it hangs) and returns its code
    /// and its standard error.
    fn wait(mut self) -> (Option<i32>, String) {
        let (done_tx, done) = mpsc::channel();
        let id = self.child.id();
        let waiter = thread::spawn(move || {
            let exited = done.recv_timeout(WATCHDOG).is_ok();
            if !exited {
                let _ = Command::new("kill")
                    .args(["-KILL", &id.to_string()])
                    .status();
            }
        });
        let status = self.child.wait().expect("wait for the server");
        let _ = done_tx.send(());
        waiter.join().expect("the watchdog");
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        (status.code(), stderr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ANCHOR: sigterm-test
/// SIGTERM while a slow request is in flight to the server `binary`: the request is still
/// answered, then the process exits with status 0.
///
/// # Panics
///
/// When the request is not answered, or the process exits otherwise.
#[cfg(unix)]
pub fn sigterm_finishes_the_accepted_request_and_exits_cleanly(binary: &str) {
    let server = Server::start(binary, "2000");
    let mut stream = TcpStream::connect(&server.addr).expect("connect");
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
    let (code, stderr) = server.wait();
    assert_eq!(code, Some(0), "stderr: {stderr}");
    assert!(
        stderr.contains("finishing accepted requests"),
        "stderr: {stderr}"
    );
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
    let server = Server::start(binary, "0");
    let idle = TcpStream::connect(&server.addr).expect("connect");
    server.signal("INT");
    let (code, stderr) = server.wait();
    assert_eq!(code, Some(0), "stderr: {stderr}");
    drop(idle);
}
