//! Stage 24's server under attack, as a process on loopback: every test starts the real binary
//! with the limits it needs, attacks it, and checks both the attacker's outcome and that the
//! server goes on serving others.
//!
//! Nothing here waits for time to pass as a way to synchronise: a test learns that the server
//! has reached a state from what the server says (a reply, a line on its standard error, its
//! exit) or from `/proc`, and timeouts are watchdogs that turn a hang into a failure. Where a
//! client paces an attack (the slowloris sends a byte every few milliseconds), the pacing is the
//! attack, not a synchronisation.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use poolbook_testkit::process::ServerProcess;
use poolbook_testkit::{Reply, WATCHDOG, get, parse_reply, send_raw};

const BINARY: &str = env!("CARGO_BIN_EXE_ch24-shedding");
/// A shedding interval (an hour, in milliseconds) longer than any test: with it, nothing is
/// shed, since a queue never stands that long and a connection may wait that long otherwise.
const NEVER_MS: &str = "3600000";

/// Reads what the server sends until it closes: a reply, or nothing at all.
fn read_reply(stream: &mut TcpStream) -> io::Result<Option<Reply>> {
    stream.set_read_timeout(Some(WATCHDOG))?;
    let mut raw = Vec::new();
    match stream.read_to_end(&mut raw) {
        Ok(_) => {}
        // A reset after the reply arrived still leaves the reply readable; one before does not.
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset && raw.is_empty() => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    }
    if raw.is_empty() {
        return Ok(None);
    }
    parse_reply(&raw).map(Some)
}

/// Asks the server to stop and checks that it exits with status 0; returns its standard output.
#[cfg(unix)]
fn stop_cleanly(server: ServerProcess) -> String {
    server.signal("TERM");
    let exit = server.wait();
    assert_eq!(exit.code, Some(0), "stderr:\n{}", exit.stderr);
    exit.stdout
}

// ANCHOR: malformed
/// Each malformed request gets its status and a closed connection, and the server lives on.
#[cfg(unix)]
#[test]
fn malformed_requests_get_their_status_and_the_server_stays_up() {
    let server = ServerProcess::start(BINARY, &[]);
    let long_path = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(9000));
    let long_method = format!("{} / HTTP/1.1\r\n\r\n", "A".repeat(9000));
    let many_headers = format!("GET / HTTP/1.1\r\n{}\r\n", "X-A: 1\r\n".repeat(200));
    let huge_header = format!("GET / HTTP/1.1\r\nX-A: {}\r\n\r\n", "a".repeat(9000));
    let cases: [(&str, &[u8], u16); 13] = [
        ("bare LF line ends", b"GET / HTTP/1.1\n\n", 400),
        ("not UTF-8", b"GET /\xff\xfe HTTP/1.1\r\n\r\n", 400),
        ("method not a token", b"G(T / HTTP/1.1\r\n\r\n", 400),
        (
            "absolute-form target",
            b"GET http://x/ HTTP/1.1\r\n\r\n",
            400,
        ),
        ("NUL bytes", b"\0\0\0\r\n\r\n", 400),
        ("headers cut short", b"GET / HTTP/1.1\r\nHost: x\r\n", 400),
        (
            "a TLS handshake",
            b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
            400,
        ),
        (
            "a header line without a colon",
            b"GET / HTTP/1.1\r\nnope\r\n\r\n",
            400,
        ),
        ("a 9 KB path", long_path.as_bytes(), 414),
        ("a 9 KB method", long_method.as_bytes(), 414),
        ("200 header fields", many_headers.as_bytes(), 431),
        ("a 9 KB header", huge_header.as_bytes(), 431),
        ("HTTP/2.0 as text", b"GET / HTTP/2.0\r\n\r\n", 505),
    ];
    for (what, request, status) in cases {
        let raw = send_raw(server.addr(), request).expect(what);
        let reply = parse_reply(&raw).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(reply.status, status, "{what}");
        assert!(reply.head.contains("Connection: close"), "{what}");
    }
    assert_eq!(get(server.addr(), "/").expect("a reply").status, 200);
    let stdout = stop_cleanly(server);
    assert!(stdout.contains("0 handlers panicked"), "{stdout}");
}
// ANCHOR_END: malformed

/// A client that connects and sends nothing holds its worker only until the read timeout.
#[cfg(unix)]
#[test]
fn a_silent_client_is_cut_off_and_its_worker_freed() {
    // Not shedding: the second client waits behind the silent one as long as it takes.
    let server = ServerProcess::start(
        BINARY,
        &[
            "--workers",
            "1",
            "--read-timeout-ms",
            "300",
            "--shed-interval-ms",
            NEVER_MS,
        ],
    );
    // Accepted first, so it is the one worker's first connection.
    let mut silent = TcpStream::connect(server.addr()).expect("connect");
    // Served only once the silent client's worker is free.
    assert_eq!(get(server.addr(), "/").expect("a reply").status, 200);
    let reply = read_reply(&mut silent).expect("read").expect("a reply");
    assert_eq!(reply.status, 408);
    stop_cleanly(server);
}

// ANCHOR: slowloris
/// A client that sends its request head one byte at a time, each byte well within the read
/// timeout, holds its worker only until the request deadline.
#[cfg(unix)]
#[test]
fn a_slowloris_client_is_cut_off_and_its_worker_freed() {
    // Not shedding: the second client waits behind the slow one as long as it takes.
    let server = ServerProcess::start(
        BINARY,
        &[
            "--shed-interval-ms",
            NEVER_MS,
            "--workers",
            "1",
            "--read-timeout-ms",
            "5000",
            "--request-timeout-ms",
            "500",
        ],
    );
    let mut slow = TcpStream::connect(server.addr()).expect("connect");
    let trickle = slow.try_clone().expect("a second handle");
    let (stop_tx, stop) = mpsc::channel::<()>();
    // A header that never ends, a byte every 10 ms: always in time for the next read.
    let attacker = thread::spawn(move || {
        let head = b"GET / HTTP/1.1\r\nX-Slow: ";
        let bytes = head.iter().copied().chain(std::iter::repeat(b'a'));
        for byte in bytes {
            if stop.try_recv().is_ok() || (&trickle).write_all(&[byte]).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
    });
    // The one worker serves this only after it has given up on the slow client.
    assert_eq!(get(server.addr(), "/").expect("a reply").status, 200);
    let reply = read_reply(&mut slow).expect("read").expect("a reply");
    assert_eq!(reply.status, 408);
    let _ = stop_tx.send(());
    attacker.join().expect("the attacker");
    stop_cleanly(server);
}
// ANCHOR_END: slowloris

// ANCHOR: traversal
/// No request path reaches a file outside the served folder, however it is spelled.
#[cfg(unix)]
#[test]
fn paths_outside_the_served_folder_are_refused() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let site = dir.path().join("site");
    std::fs::create_dir_all(site.join("docs")).expect("the site");
    std::fs::write(site.join("index.html"), "<p>the book</p>").expect("index.html");
    std::fs::write(site.join("docs/page.html"), "<p>a page</p>").expect("a page");
    let secret = "the password is swordfish";
    std::fs::write(dir.path().join("secret.txt"), secret).expect("secret.txt");
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), site.join("link.txt"))
        .expect("a symbolic link out");
    std::os::unix::fs::symlink(dir.path(), site.join("up")).expect("a linked folder out");
    let root = site.to_str().expect("a UTF-8 path");
    let server = ServerProcess::start(BINARY, &["--root", root]);

    let cases = [
        ("/", 200),
        ("/docs/page.html", 200),
        ("/docs/../index.html", 400),
        ("/../secret.txt", 400),
        ("/docs/../../secret.txt", 400),
        ("/%2e%2e/secret.txt", 400),
        ("/%2E%2e/secret.txt", 400),
        ("/.%2e/secret.txt", 400),
        ("/..%2fsecret.txt", 400),
        ("/..%2Fsecret.txt", 400),
        ("/..%5csecret.txt", 400),
        ("/..\\secret.txt", 400),
        ("/%00", 400),
        ("/index.html%00.txt", 400),
        // Decoded once, this is a file literally named `%2e%2e`: there is none.
        ("/%252e%252e/secret.txt", 404),
        // An absolute path is taken relative to the folder.
        ("//secret.txt", 404),
        ("/etc/passwd", 404),
        ("/link.txt", 404),
        ("/up/secret.txt", 404),
        ("/docs", 404),
    ];
    for (path, status) in cases {
        let request = format!("GET {path} HTTP/1.1\r\n\r\n");
        let raw = send_raw(server.addr(), request.as_bytes()).expect(path);
        let reply = parse_reply(&raw).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(reply.status, status, "{path}");
        assert!(!reply.text().contains(secret), "{path} leaked the secret");
    }
    // Forms the parser refuses before any file is looked at.
    for request in [
        "GET http://localhost/../secret.txt HTTP/1.1\r\n\r\n",
        "GET ../secret.txt HTTP/1.1\r\n\r\n",
        "GET /../secret.txt\tHTTP/1.1\r\n\r\n",
    ] {
        let raw = send_raw(server.addr(), request.as_bytes()).expect(request);
        let reply = parse_reply(&raw).expect("a reply");
        assert_eq!(reply.status, 400, "{request:?}");
    }
    stop_cleanly(server);
}
// ANCHOR_END: traversal

/// A server with one worker and one place in its queue, both taken by requests that take 20
/// seconds, and those requests' connections.
///
/// The worker may not have taken the first request when the second arrives: the queue alone is
/// full then, and once the worker takes its job, the next client gets the freed place and waits.
/// So of a flood that follows, at most one client is not refused.
#[cfg(unix)]
fn full_server() -> (ServerProcess, Vec<TcpStream>) {
    let server = ServerProcess::start(
        BINARY,
        &["--workers", "1", "--waiting", "1", "--sleep-ms", "20000"],
    );
    assert_eq!(get(server.addr(), "/").expect("a reply").status, 200);
    let held = (0..2)
        .map(|_| {
            let mut stream = TcpStream::connect(server.addr()).expect("connect");
            stream
                .write_all(b"GET /sleep HTTP/1.1\r\n\r\n")
                .expect("send");
            stream
        })
        .collect();
    (server, held)
}

// ANCHOR: flood
/// With every worker busy and the queue full, a flood of clients is refused at once, each told
/// `503`: by the refusal thread, or, when it is behind, by the accept loop without reading the
/// request. Nothing is started or queued for them beyond the refusal thread's own queue, so the
/// server's threads stay as they were.
#[cfg(unix)]
#[test]
fn a_flood_beyond_capacity_is_refused_at_once() {
    let (server, held) = full_server();
    let threads = server.threads();
    let flood = 200;
    let (replies_tx, replies) = mpsc::channel();
    let addr = server.addr();
    for _ in 0..flood {
        let replies_tx = replies_tx.clone();
        thread::spawn(move || {
            let mut stream = TcpStream::connect(addr).expect("connect");
            stream.write_all(b"GET / HTTP/1.1\r\n\r\n").expect("send");
            let _ = replies_tx.send(read_reply(&mut stream).expect("read"));
        });
    }
    for i in 0..flood - 1 {
        let reply = replies
            .recv_timeout(WATCHDOG)
            .unwrap_or_else(|_| panic!("only {i} clients were refused"))
            .unwrap_or_else(|| panic!("client {i} was closed unanswered"));
        assert_eq!(reply.status, 503);
        assert!(reply.head.contains("Retry-After: 1"));
    }
    assert_eq!(
        server.threads(),
        threads,
        "a thread was started for the flood"
    );
    // The held requests, and perhaps one client of the flood, would wait 20 seconds more; this
    // test is done with the server.
    drop(held);
    drop(server);
}
// ANCHOR_END: flood

// ANCHOR: flood-outruns-refusals
/// When refused clients come faster than the refusal thread tells them, the accept loop tells
/// the rest itself, before they have sent a byte, and nobody is closed unanswered.
///
/// Silent clients make the refusal thread slow on purpose: it waits up to a second for each one's
/// request. So of 200 silent clients it holds one and queues 64, and all the others must be told
/// `503` at once, which only the accept loop does, since the refusal thread answers a request it
/// has read (or a silence it has timed out, with `408`).
#[cfg(unix)]
#[test]
fn refusals_beyond_the_refusal_queue_are_answered_at_once() {
    let (server, held) = full_server();
    let flood = 200;
    // At most one client takes a freed place in the queue (see `full_server`), one is read by
    // the refusal thread and 64 wait for it; far fewer is enough to prove the point, and leaves
    // the accept loop 35 seconds of one-second silences to get through the 200.
    let at_once = 100;
    let (replies_tx, replies) = mpsc::channel();
    let mut senders = Vec::new();
    for _ in 0..flood {
        let mut stream = TcpStream::connect(server.addr()).expect("connect");
        senders.push(stream.try_clone().expect("clone"));
        let replies_tx = replies_tx.clone();
        thread::spawn(move || {
            let _ = replies_tx.send(read_reply(&mut stream).expect("read"));
        });
    }
    let mut statuses = Vec::new();
    let mut told_503_unasked = 0;
    while told_503_unasked < at_once {
        let reply = replies
            .recv_timeout(WATCHDOG)
            .unwrap_or_else(|_| panic!("{told_503_unasked} clients were told 503 unasked"))
            .expect("a refused client was closed unanswered");
        if reply.status == 503 {
            told_503_unasked += 1;
        }
        statuses.push(reply.status);
    }
    // Now every client asks: those in the refusal queue are read and told, promptly.
    for mut sender in senders {
        // One already told and closed may refuse the write; its reply is already counted.
        let _ = sender.write_all(b"GET / HTTP/1.1\r\n\r\n");
    }
    while statuses.len() < flood - 1 {
        let reply = replies
            .recv_timeout(WATCHDOG)
            .unwrap_or_else(|_| panic!("only {} clients were answered", statuses.len()))
            .expect("a refused client was closed unanswered");
        statuses.push(reply.status);
    }
    // A client the refusal thread reached while it was silent was told 408 for its silence.
    assert!(
        statuses
            .iter()
            .all(|&status| status == 503 || status == 408),
        "{statuses:?}"
    );
    drop(held);
    drop(server);
}
// ANCHOR_END: flood-outruns-refusals

// ANCHOR: descriptors
/// Out of file descriptors, the server answers `503` through its reserve, never exits, and
/// serves normally again once connections close.
#[cfg(unix)]
#[test]
fn running_out_of_descriptors_is_survived() {
    // 64 descriptors: a few are the server's own (standard streams, the listener, the reserve,
    // the signal handling), and each accepted connection holds one, so a few dozen idle clients
    // are enough. The queue is long enough that none is refused first.
    let server = ServerProcess::start_with_open_files_limit(
        BINARY,
        &[
            "--workers",
            "2",
            "--waiting",
            "200",
            "--read-timeout-ms",
            "60000",
            "--request-timeout-ms",
            "60000",
        ],
        64,
    );
    let mut idle = Vec::new();
    let exhausted = loop {
        assert!(idle.len() < 200, "the server never ran out of descriptors");
        idle.push(TcpStream::connect(server.addr()).expect("connect"));
        // Not a synchronisation: this only paces the opening of connections, and a late line
        // means one more idle connection, which changes nothing below.
        if let Some(line) = server.wait_for_stderr("out of file descriptors", ms(50)) {
            break line;
        }
    };
    assert!(exhausted.contains("Too many open files"), "{exhausted}");
    // Told at once that the server is busy, not left waiting in the kernel's queue.
    let reply = get(server.addr(), "/").expect("a reply while exhausted");
    assert_eq!(reply.status, 503);

    let held = idle.len();
    // Each idle client hangs up and waits for the server to close its end: once every one has
    // seen that close, the server holds none of their descriptors.
    for mut stream in idle {
        stream.shutdown(Shutdown::Write).expect("hang up");
        if let Err(e) = read_reply(&mut stream) {
            // A reset is a close too; only the watchdog's timeout means the server held on.
            assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");
        }
    }
    // The accept loop may still be waiting, with its reserve released, for one more client to
    // tell 503; that one retries, as `Retry-After` asks, and the next is accepted normally.
    let mut busy = 0;
    loop {
        let reply = get(server.addr(), "/").expect("a reply after the load");
        match reply.status {
            200 => break,
            503 => busy += 1,
            other => panic!("unexpected status {other}"),
        }
        assert!(busy <= 1, "told 503 again with descriptors free");
    }
    let recovered = server
        .wait_for_stderr("descriptors available again", WATCHDOG)
        .expect("the server reports its recovery");
    eprintln!(
        "{held} idle connections exhausted the server; told 503 {busy} times after they left; \
         the server said: {recovered}"
    );
    stop_cleanly(server);
}
// ANCHOR_END: descriptors

// ANCHOR: file-503
/// A file that cannot be opened for want of descriptors is a `503` the client may retry, not a
/// `404` that says the file does not exist; and the same file is served once a descriptor is free.
///
/// The test fills the server's descriptor table to one short of its limit with idle
/// connections, each held by a worker of its own. The next client's connection takes the last
/// descriptor, so `accept` succeeds and opening the file is what fails.
///
/// Nothing is polled. The count is read once, after a reply: the server closes a connection
/// before its client sees the end of the reply, and drops a connection's spare handle before it
/// accepts the next one, so at that moment the table holds exactly the server's own descriptors.
/// Only those numbered below the limit count: one inherited with a higher number is open but
/// takes no room, and counting it would leave a descriptor free. And the server accepts in
/// order, so the file's client is accepted after every idle one.
#[cfg(target_os = "linux")]
#[test]
fn a_file_that_cannot_be_opened_for_want_of_descriptors_is_503() {
    let limit = 64;
    let site = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(site.path().join("index.html"), "<p>the book</p>").expect("index.html");
    let root = site.path().to_str().expect("a UTF-8 path");
    let server = ServerProcess::start_with_open_files_limit(
        BINARY,
        &[
            "--root",
            root,
            "--workers",
            "100",
            "--read-timeout-ms",
            "60000",
            "--request-timeout-ms",
            "60000",
        ],
        limit,
    );
    assert_eq!(get(server.addr(), "/").expect("a reply").status, 200);
    let own = server.descriptors_below(limit).expect("/proc is readable");
    let mut idle: Vec<TcpStream> = (own..limit as usize - 1)
        .map(|_| TcpStream::connect(server.addr()).expect("connect"))
        .collect();

    let reply = get(server.addr(), "/").expect("a reply while short of descriptors");
    assert_eq!(reply.status, 503, "{}", reply.head);
    assert!(reply.head.contains("Retry-After: 1"), "{}", reply.head);
    assert!(
        String::from_utf8_lossy(&reply.body).contains("short of resources"),
        "the file handler's 503, not the accept loop's"
    );

    // `accept` takes a descriptor number before it waits for a client, so the accept loop's
    // waiting `accept` already holds the one the next connection gets. Beyond it, that client
    // needs two: one for its spare handle and then the loop's next `accept`, one for the file.
    // Two idle clients leave, each waiting for the server's close. (With one, the file is 503.)
    for mut leaving in idle.drain(..2) {
        leaving.shutdown(Shutdown::Write).expect("hang up");
        read_reply(&mut leaving).expect("the server closes its end");
    }
    // For the same reason `accept` fails at once on a full table, with no client in sight. If
    // the accept loop went back to it before the file's client was closed, it released its
    // reserve and now waits to tell one client `busy` itself; that client retries, as
    // `Retry-After` asks, and the retry is served.
    let mut reply = get(server.addr(), "/").expect("a reply once descriptors are free");
    if reply.status == 503 {
        assert_eq!(
            reply.body,
            ch24_shedding::busy().body,
            "the file handler's 503 with descriptors free"
        );
        reply = get(server.addr(), "/").expect("a reply to the retry");
    }
    assert_eq!(reply.status, 200, "{}", reply.head);
    drop(idle);
    stop_cleanly(server);
}
// ANCHOR_END: file-503

// ANCHOR: panics
/// A handler that panics costs its own connection, and nothing else: no thread, no other client.
#[cfg(unix)]
#[test]
fn a_panicking_handler_costs_one_connection() {
    let server = ServerProcess::start(BINARY, &["--workers", "2"]);
    // The pools' threads start with the accept loop, just after the ready line; a first reply
    // proves they are all there.
    assert_eq!(get(server.addr(), "/").expect("a reply").status, 200);
    let threads = server.threads();
    let panics = 20;
    for i in 0..panics {
        let mut stream = TcpStream::connect(server.addr()).expect("connect");
        stream
            .write_all(b"GET /panic HTTP/1.1\r\n\r\n")
            .expect("send");
        let reply = read_reply(&mut stream).expect("read");
        assert!(reply.is_none(), "panic {i} was answered: {reply:?}");
    }
    assert_eq!(get(server.addr(), "/").expect("a reply").status, 200);
    assert_eq!(server.threads(), threads, "a thread was lost or added");
    let stdout = stop_cleanly(server);
    assert!(
        stdout.contains(&format!("{panics} handlers panicked")),
        "{stdout}"
    );
}
// ANCHOR_END: panics

// ANCHOR: sigterm-under-load
/// SIGTERM with forty requests accepted: each is answered, then the process exits with 0.
#[cfg(unix)]
#[test]
fn sigterm_under_load_answers_every_accepted_request() {
    // Not shedding: every request is served, two at a time, however long the others wait.
    let server = ServerProcess::start(
        BINARY,
        &[
            "--workers",
            "2",
            "--sleep-ms",
            "100",
            "--shed-interval-ms",
            NEVER_MS,
        ],
    );
    let clients = 40;
    let (sent_tx, sent) = mpsc::channel();
    let addr = server.addr();
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let sent_tx = sent_tx.clone();
            thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).expect("connect");
                stream
                    .write_all(b"GET /sleep HTTP/1.1\r\n\r\n")
                    .expect("send");
                sent_tx.send(()).expect("report");
                read_reply(&mut stream).expect("read").map(|r| r.status)
            })
        })
        .collect();
    for _ in 0..clients {
        sent.recv_timeout(WATCHDOG).expect("every client connects");
    }
    // Every client's `connect` has returned: the kernel holds them all in the accept queue,
    // ahead of the connection the server makes to wake its own accept loop.
    server.signal("TERM");
    let statuses: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("a client"))
        .collect();
    assert!(
        statuses.iter().all(|s| *s == Some(200)),
        "not every accepted request was answered: {statuses:?}"
    );
    let exit = server.wait();
    assert_eq!(exit.code, Some(0), "stderr:\n{}", exit.stderr);
    assert!(
        exit.stdout
            .contains(&format!("answering {clients} connections")),
        "{}",
        exit.stdout
    );
}
// ANCHOR_END: sigterm-under-load

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// What one connection of the mixed load does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Get,
    Head,
    NotFound,
    Malformed,
    Panic,
    HangUp,
    CutShort,
    Silent,
}

impl Kind {
    fn of(i: usize) -> Kind {
        if i % 50 == 49 {
            return Kind::Silent;
        }
        match i % 10 {
            0..=3 => Kind::Get,
            4 => Kind::Head,
            5 => Kind::NotFound,
            6 => Kind::Malformed,
            7 => Kind::Panic,
            8 => Kind::HangUp,
            _ => Kind::CutShort,
        }
    }

    /// Runs one connection of this kind; the status it got, or `None` for no reply.
    fn run(self, addr: SocketAddr, i: usize) -> io::Result<Option<u16>> {
        let request: &[u8] = match self {
            Kind::Get => b"GET / HTTP/1.1\r\n\r\n",
            Kind::Head => b"HEAD / HTTP/1.1\r\n\r\n",
            Kind::NotFound => b"GET /nowhere HTTP/1.1\r\n\r\n",
            Kind::Malformed => MALFORMED[i % MALFORMED.len()],
            Kind::Panic => b"GET /panic HTTP/1.1\r\n\r\n",
            // Hangs up at once, then waits for the server to close its end.
            Kind::HangUp => b"",
            Kind::CutShort => b"GET / HTTP/1.1\r\nHost:",
            Kind::Silent => b"",
        };
        let mut stream = TcpStream::connect(addr)?;
        stream.write_all(request)?;
        if matches!(self, Kind::CutShort | Kind::HangUp) {
            stream.shutdown(Shutdown::Write)?;
        }
        Ok(read_reply(&mut stream)?.map(|reply| reply.status))
    }

    fn allowed(self) -> &'static [Option<u16>] {
        match self {
            Kind::Get | Kind::Head => &[Some(200), Some(503)],
            Kind::NotFound => &[Some(404), Some(503)],
            Kind::Malformed | Kind::CutShort => &[Some(400), Some(503)],
            Kind::Panic => &[None, Some(503)],
            // Shed unread, a connection is told busy even if its client has sent nothing.
            Kind::HangUp => &[None, Some(503)],
            Kind::Silent => &[Some(408), Some(503)],
        }
    }
}

const MALFORMED: [&[u8]; 4] = [
    b"GET / HTTP/1.1\n\n",
    b"GET /\xff HTTP/1.1\r\n\r\n",
    b"BREW /pot HTCPCP/1.0\r\n\r\n",
    b"GET / HTTP/1.1\r\n: empty name\r\n\r\n",
];

// ANCHOR: leaks
/// After 2,000 connections of every kind (answered, malformed, panicking, hung up, cut short,
/// silent), the server holds exactly the descriptors and threads it held before.
#[cfg(target_os = "linux")]
#[test]
fn a_mixed_load_leaks_no_descriptor_and_no_thread() {
    let server = ServerProcess::start(
        BINARY,
        &[
            "--workers",
            "4",
            "--read-timeout-ms",
            "200",
            "--request-timeout-ms",
            "500",
        ],
    );
    assert_eq!(get(server.addr(), "/").expect("a reply").status, 200);
    let before = (server.open_descriptors(), server.threads());
    assert!(
        before.0.is_some() && before.1.is_some(),
        "/proc is readable"
    );

    let (clients, per_client) = (8, 250);
    let addr = server.addr();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            thread::spawn(move || {
                (0..per_client)
                    .map(|n| {
                        let i = c * per_client + n;
                        let kind = Kind::of(i);
                        let outcome = kind.run(addr, i).expect("the connection works");
                        (kind, outcome)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut tally = std::collections::BTreeMap::new();
    for handle in handles {
        for (kind, outcome) in handle.join().expect("a client") {
            assert!(
                kind.allowed().contains(&outcome),
                "{kind:?} got {outcome:?}"
            );
            *tally.entry((kind, outcome)).or_insert(0) += 1;
        }
    }
    let total: usize = tally.values().sum();
    assert_eq!(total, clients * per_client);
    eprintln!("{total} connections: {tally:?}");

    // The last clients have their replies, but a connection answered with an error is closed
    // only after the server has drained it (chapter 1's linger), a moment after the client saw
    // the reply end. Another process's descriptor table offers nothing to wait on, so the counts
    // are polled until they are back, or the watchdog runs out: a leak fails at the watchdog,
    // and no timing can make one pass.
    let deadline = std::time::Instant::now() + WATCHDOG;
    let mut after = (server.open_descriptors(), server.threads());
    while after != before && std::time::Instant::now() < deadline {
        thread::sleep(ms(20));
        after = (server.open_descriptors(), server.threads());
    }
    assert_eq!(after, before, "(descriptors, threads) after the load");
    stop_cleanly(server);
}
// ANCHOR_END: leaks
