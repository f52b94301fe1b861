//! Back-pressure at the door: a full waiting room makes the accept loop wait for a place instead
//! of refusing, and the pool's `Policy::BlockFor` that it waits with.

use std::net::TcpStream;
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use ch24_shedding::pool::{Policy, Rejected, Shedding, ThreadPool};
use ch24_shedding::{Capacity, Config};
use poolbook_testkit::conformance::{Log, gated_handler};
use poolbook_testkit::{Gate, TestServer, WATCHDOG, get, parse_reply, read_reply, send_request};

/// One worker, one place to wait, and `patience`; and no shedding (an interval of an hour), so
/// that a queued connection is served however long a loaded machine makes it wait.
fn one_and_one(patience: Duration) -> Config {
    let hour = Duration::from_secs(3600);
    Config {
        capacity: Capacity {
            workers: 1,
            waiting: 1,
        },
        patience,
        shedding: Shedding {
            target: hour,
            interval: hour,
        },
        ..Config::default()
    }
}

/// Sends `GET path` on a new connection and returns the connection, to read the reply later.
fn send(addr: std::net::SocketAddr, path: &str) -> TcpStream {
    send_request(addr, format!("GET {path} HTTP/1.1\r\n\r\n").as_bytes()).expect("send")
}

fn status(stream: TcpStream) -> u16 {
    let reply = read_reply(stream).expect("a reply");
    parse_reply(&reply).expect("an HTTP reply").status
}

// ANCHOR: waits
/// The worker is held and the one place taken: the next client is not refused, but waits (in
/// the accept loop's hand, the ones after it in the listen backlog) and is served once the
/// worker is free. Its patience is a minute, far beyond this test's needs, so nothing here
/// depends on timing.
#[test]
fn a_full_waiting_room_makes_the_door_wait_instead_of_refusing() {
    let gate = Arc::new(Gate::new());
    let log = Arc::new(Log::default());
    let handler = gated_handler(Arc::clone(&gate), Arc::clone(&log));
    let server = TestServer::start(move |incoming| {
        let config = one_and_one(Duration::from_secs(60));
        ch24_shedding::serve_with(incoming, handler, config).expect("the pool starts");
    });
    let addr = server.addr();
    let held = thread::spawn(move || get(addr, "/block").expect("GET /block").status);
    assert!(gate.wait_arrived(1), "the first request holds the worker");
    let queued = send(addr, "/queued");
    let waiting = send(addr, "/waiting");
    let behind = send(addr, "/behind");

    gate.open();
    assert_eq!(held.join().expect("the held client"), 200);
    let statuses = [status(queued), status(waiting), status(behind)];
    assert_eq!(statuses, [200, 200, 200], "nobody was refused");
    assert_eq!(log.entries(), ["/block", "/queued", "/waiting", "/behind"]);
}
// ANCHOR_END: waits

/// With the worker stuck, the room stays full past the patience: the client in hand is refused,
/// and the ones after it too, each with a 503 and nothing run.
#[test]
fn a_room_full_past_the_patience_refuses() {
    let gate = Arc::new(Gate::new());
    let log = Arc::new(Log::default());
    let handler = gated_handler(Arc::clone(&gate), Arc::clone(&log));
    let server = TestServer::start(move |incoming| {
        let config = one_and_one(Duration::from_millis(10));
        ch24_shedding::serve_with(incoming, handler, config).expect("the pool starts");
    });
    let addr = server.addr();
    let held = thread::spawn(move || get(addr, "/block").expect("GET /block").status);
    assert!(gate.wait_arrived(1), "the first request holds the worker");
    let queued = send(addr, "/queued");
    let refused: Vec<u16> = (0..3).map(|_| status(send(addr, "/refused"))).collect();
    assert_eq!(refused, [503, 503, 503]);

    gate.open();
    assert_eq!(held.join().expect("the held client"), 200);
    assert_eq!(status(queued), 200);
    assert_eq!(
        log.entries(),
        ["/block", "/queued"],
        "no refused request ran"
    );
    assert_eq!(
        get(addr, "/").expect("serving again").status,
        200,
        "room again"
    );
}

/// A pool with one worker, held, and one place, taken.
fn full_pool(policy: Policy) -> (ThreadPool, mpsc::Sender<()>) {
    let pool = ThreadPool::builder()
        .threads(1)
        .capacity(1)
        .policy(policy)
        .build()
        .expect("a pool");
    let (release, held) = mpsc::channel::<()>();
    let (started, running) = mpsc::channel();
    pool.execute(move || {
        started.send(()).expect("the test waits");
        let _ = held.recv();
    })
    .map_err(|_| "refused")
    .expect("the first job is taken");
    running.recv_timeout(WATCHDOG).expect("the worker runs it");
    pool.execute(|| {})
        .map_err(|_| "refused")
        .expect("the second job waits");
    (pool, release)
}

// ANCHOR: block-for
/// `BlockFor` waits for room like `Block`, and takes the job when room comes in time.
#[test]
fn block_for_takes_the_job_when_room_comes_in_time() {
    let (pool, release) = full_pool(Policy::BlockFor(Duration::from_secs(60)));
    let (ran, runs) = mpsc::channel();
    thread::scope(|scope| {
        let submitter = scope.spawn(|| pool.execute(move || ran.send(()).expect("the test")));
        release.send(()).expect("release the worker");
        assert!(submitter.join().expect("the submitter").is_ok(), "taken");
    });
    runs.recv_timeout(WATCHDOG).expect("the job ran");
    assert_eq!(pool.metrics().rejected, 0);
}

/// When no room comes in time, `BlockFor` hands the job back unrun, counted as rejected.
#[test]
fn block_for_hands_the_job_back_when_its_time_is_up() {
    let (pool, release) = full_pool(Policy::BlockFor(Duration::from_millis(10)));
    let handed_back = pool.execute(|| unreachable!("a refused job never runs"));
    assert!(matches!(handed_back, Err(Rejected::Full(_))));
    assert_eq!(pool.metrics().rejected, 1);
    release.send(()).expect("release the worker");
}
// ANCHOR_END: block-for
