//! Stage 20's server under attack, as a process on loopback: every test starts the real binary
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

const BINARY: &str = env!("CARGO_BIN_EXE_ch20-backoff");

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
    let server = ServerProcess::start(BINARY, &["--workers", "1", "--read-timeout-ms", "300"]);
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
    let server = ServerProcess::start(
        BINARY,
        &[
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
    let server = ServerProcess::start(BINARY, &["--workers", "2", "--sleep-ms", "100"]);
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
            Kind::HangUp => &[None],
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
