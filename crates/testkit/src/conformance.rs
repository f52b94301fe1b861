//! Behaviour every server stage must keep, written once and run by each stage's tests.
//!
//! Each check takes a `start` function that runs the stage's `serve` with the given handler on a
//! [`TestServer`]; the stage's own test file is then one line per check.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use poolbook_http::{Request, Response, hello};

use crate::{Gate, TestServer, WATCHDOG, get, parse_reply, send_raw};

/// A handler as the checks hand it to a stage.
pub type BoxedHandler = Box<dyn Fn(&Request) -> Response + Send + Sync + 'static>;

/// `/`, `/sleep`, an unknown path, `HEAD` and an unsupported method.
///
/// # Panics
///
/// When the stage answers otherwise.
pub fn demo_routes(start: impl Fn(BoxedHandler) -> TestServer) {
    let server = start(Box::new(hello::routes(Duration::ZERO)));
    let addr = server.addr();

    let index = get(addr, "/").expect("GET /");
    assert_eq!(index.status, 200);
    assert!(index.text().contains("<h1>Hello!</h1>"), "{}", index.text());
    assert!(
        index
            .head
            .contains("Content-Type: text/html; charset=utf-8")
    );

    assert_eq!(get(addr, "/sleep").expect("GET /sleep").status, 200);
    assert_eq!(get(addr, "/missing").expect("GET /missing").status, 404);

    let head =
        parse_reply(&send_raw(addr, b"HEAD / HTTP/1.1\r\n\r\n").expect("HEAD /")).expect("a reply");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());

    let post =
        parse_reply(&send_raw(addr, b"POST / HTTP/1.1\r\n\r\n").expect("POST /")).expect("a reply");
    assert_eq!(post.status, 405);
}

// ANCHOR: bad-input
/// Client input never stops the server: each bad request gets its defined outcome, and the
/// server answers the next client as usual.
///
/// # Panics
///
/// When an outcome differs, or the server stops answering.
pub fn survives_bad_input(start: impl Fn(BoxedHandler) -> TestServer) {
    let server = start(Box::new(hello::routes(Duration::ZERO)));
    let addr = server.addr();
    let status = |bytes: &[u8]| {
        parse_reply(&send_raw(addr, bytes).expect("the server answers"))
            .expect("an HTTP reply")
            .status
    };

    // Closed before sending anything: no reply at all, and the server goes on.
    assert_eq!(send_raw(addr, b"").expect("a clean close"), b"");
    assert_eq!(status(b"GET /\xff\xfe HTTP/1.1\r\n\r\n"), 400, "not UTF-8");
    assert_eq!(status(b"GET / HTTP/1.1\n\n"), 400, "bare LF");
    assert_eq!(
        status(b"GET / HTTP/1.1\r\n"),
        400,
        "ended inside the headers"
    );
    assert_eq!(
        status(b"GET / HTTP/1.1"),
        400,
        "ended inside the request line"
    );
    assert_eq!(status(b"nonsense\r\n\r\n"), 400, "not a request line");
    let mut long = b"GET /".to_vec();
    long.extend(std::iter::repeat_n(b'a', 100 * 1024));
    long.extend(b" HTTP/1.1\r\n\r\n");
    assert_eq!(status(&long), 414, "a 100 KiB request line");
    assert_eq!(get(addr, "/").expect("still serving").status, 200);
}
// ANCHOR_END: bad-input

/// A record of which handler finished when, to compare the order of events across threads.
#[derive(Debug, Default)]
pub struct Log(Mutex<Vec<String>>);

impl Log {
    /// Appends an entry.
    pub fn push(&self, entry: &str) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(entry.to_owned());
    }

    /// The entries so far.
    pub fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A handler that waits at `gate` on `/block`, answers everything else at once, and logs each
/// path as it finishes.
pub fn gated_handler(gate: Arc<Gate>, log: Arc<Log>) -> BoxedHandler {
    Box::new(move |request: &Request| {
        if request.path() == "/block" {
            gate.pass();
        }
        log.push(request.path());
        Response::html(poolbook_http::Status::OK, "done")
    })
}

// ANCHOR: one-at-a-time
/// While one request is held, a second one is not served: connections are handled one at a
/// time, in the order they were accepted.
///
/// # Panics
///
/// When the second request finishes before the first.
pub fn serves_one_at_a_time(start: impl Fn(BoxedHandler) -> TestServer) {
    let gate = Arc::new(Gate::new());
    let log = Arc::new(Log::default());
    let server = start(gated_handler(Arc::clone(&gate), Arc::clone(&log)));
    let addr = server.addr();

    // ANCHOR: one-at-a-time-asserts
    let slow = thread::spawn(move || get(addr, "/block").expect("GET /block").status);
    assert!(
        gate.wait_arrived(1),
        "the first request reaches its handler"
    );
    let fast = thread::spawn(move || get(addr, "/").expect("GET /").status);
    gate.open();
    assert_eq!(slow.join().expect("slow client"), 200);
    assert_eq!(fast.join().expect("fast client"), 200);
    assert_eq!(log.entries(), ["/block", "/"]);
    // ANCHOR_END: one-at-a-time-asserts
}
// ANCHOR_END: one-at-a-time

// ANCHOR: while-one-is-held
/// While one request is held, others are served: the server is concurrent.
///
/// # Panics
///
/// When a request waits for the held one (caught by the watchdog instead of hanging).
pub fn serves_while_one_is_held(start: impl Fn(BoxedHandler) -> TestServer) {
    let gate = Arc::new(Gate::new());
    let log = Arc::new(Log::default());
    let server = start(gated_handler(Arc::clone(&gate), Arc::clone(&log)));
    let addr = server.addr();

    // ANCHOR: while-one-is-held-asserts
    let slow = thread::spawn(move || get(addr, "/block").expect("GET /block").status);
    assert!(
        gate.wait_arrived(1),
        "the first request reaches its handler"
    );
    assert_eq!(
        get(addr, "/").expect("GET / while /block is held").status,
        200
    );
    assert_eq!(log.entries(), ["/"], "answered while /block was held");
    gate.open();
    assert_eq!(slow.join().expect("slow client"), 200);
    assert_eq!(log.entries(), ["/", "/block"]);
    // ANCHOR_END: while-one-is-held-asserts
}
// ANCHOR_END: while-one-is-held

/// A handler that panics costs the connection it was serving, nothing more: after more panics
/// than a pool has workers, the server still answers.
///
/// # Panics
///
/// When a panicking request gets an answer, or the server stops answering afterwards.
pub fn survives_panicking_handlers(start: impl Fn(BoxedHandler) -> TestServer) {
    let routes = hello::routes(Duration::ZERO);
    // ANCHOR: panicking-handler-asserts
    let server = start(Box::new(move |request: &Request| {
        assert!(request.path() != "/panic", "a handler panicked, on purpose");
        routes(request)
    }));
    let addr = server.addr();
    for _ in 0..8 {
        let reply = send_raw(addr, b"GET /panic HTTP/1.1\r\n\r\n");
        // The connection is closed (or reset) with no response.
        assert!(reply.map_or(true, |bytes| bytes.is_empty()));
    }
    for _ in 0..8 {
        assert_eq!(get(addr, "/").expect("still serving").status, 200);
    }
    // ANCHOR_END: panicking-handler-asserts
}

// ANCHOR: busy
/// With every worker busy and the queue full, a new connection is answered at once with
/// `503 Service Unavailable` and `Retry-After`, and never reaches the handler; the connections
/// that were accepted are all answered once the workers are free.
///
/// `start` must serve with **one** worker and room for **one** waiting connection.
///
/// # Panics
///
/// When the extra connection is not answered 503 with `Retry-After`, or one that was accepted
/// is not answered 200.
pub fn answers_busy_when_full(start: impl Fn(BoxedHandler) -> TestServer) {
    let gate = Arc::new(Gate::new());
    let log = Arc::new(Log::default());
    let server = start(gated_handler(Arc::clone(&gate), Arc::clone(&log)));
    let addr = server.addr();

    let held = thread::spawn(move || get(addr, "/block").expect("GET /block").status);
    assert!(gate.wait_arrived(1), "the first request holds the worker");
    // `connect` returns once the connection is in the listen backlog, which the server accepts
    // in order: this one is accepted (and queued) before the next one is.
    let mut queued = TcpStream::connect(addr).expect("connect");
    queued.set_read_timeout(Some(WATCHDOG)).expect("a timeout");
    queued
        .write_all(b"GET /queued HTTP/1.1\r\n\r\n")
        .expect("send the queued request");
    queued.shutdown(Shutdown::Write).expect("half-close");

    let refused = parse_reply(&send_raw(addr, b"GET /refused HTTP/1.1\r\n\r\n").expect("reply"))
        .expect("an HTTP reply");
    assert_eq!(refused.status, 503, "{}", refused.head);
    assert!(
        refused.head.contains("\r\nRetry-After: "),
        "{}",
        refused.head
    );

    gate.open();
    assert_eq!(held.join().expect("held client"), 200);
    let mut reply = Vec::new();
    queued.read_to_end(&mut reply).expect("the queued reply");
    assert_eq!(parse_reply(&reply).expect("an HTTP reply").status, 200);
    assert_eq!(log.entries(), ["/block", "/queued"], "/refused never ran");
    assert_eq!(get(addr, "/").expect("serving again").status, 200);
}
// ANCHOR_END: busy
