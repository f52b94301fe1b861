//! Shedding by time waited: the rule (`Shedding::sheds`), the pool dropping the jobs it sheds,
//! and the server answering the connections it sheds.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use ch24_shedding::pool::{JoinError, Shedding, ThreadPool};
use ch24_shedding::{Config, serve_with};
use poolbook_http::{Response, Status};
use poolbook_testkit::WATCHDOG;

/// Sheds every job: no wait is shorter than zero, and every queue has stood for zero.
const SHED_ALL: Shedding = Shedding {
    target: Duration::ZERO,
    interval: Duration::ZERO,
};

/// An hour: longer than any test waits.
const HOUR: Duration = Duration::from_secs(3600);

// ANCHOR: rule
/// A short limit (the target) once the queue has stood for the interval; the interval itself
/// before that.
#[test]
fn the_limit_is_the_target_only_once_the_queue_stands() {
    let codel = Shedding {
        target: Duration::from_millis(5),
        interval: Duration::from_millis(100),
    };
    let ms = Duration::from_millis;
    // A burst: the queue was empty 50 ms ago, so a job may wait up to the interval.
    assert!(!codel.sheds(ms(6), ms(50)));
    assert!(!codel.sheds(ms(99), ms(50)));
    assert!(codel.sheds(ms(100), ms(50)));
    // A standing queue: non-empty for the whole interval, so only up to the target.
    assert!(!codel.sheds(ms(4), ms(100)));
    assert!(codel.sheds(ms(5), ms(100)));
    assert!(codel.sheds(ms(6), ms(250)));
}
// ANCHOR_END: rule

/// Zero sheds everything; an interval longer than any wait sheds nothing, whatever the target.
#[test]
fn zero_sheds_every_job_and_a_long_interval_none() {
    assert!(SHED_ALL.sheds(Duration::ZERO, Duration::ZERO));
    let patient = Shedding {
        target: Duration::ZERO,
        interval: HOUR,
    };
    assert!(!patient.sheds(Duration::from_secs(60), Duration::from_secs(60)));
    assert!(
        Shedding::default().target < Shedding::default().interval,
        "the target is the short limit"
    );
}

/// A job that records whether it ran, or was dropped unrun.
struct Tracked {
    ran: Arc<AtomicUsize>,
    dropped_unrun: Arc<AtomicUsize>,
    done: bool,
}

impl Tracked {
    fn run(mut self) {
        self.done = true;
        self.ran.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if !self.done {
            self.dropped_unrun.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Gives `pool`'s only worker a job that holds it until the returned sender sends, and waits
/// until the worker runs it.
fn hold_the_worker(pool: &ThreadPool) -> mpsc::Sender<()> {
    let (release, held) = mpsc::channel::<()>();
    let (started, running) = mpsc::channel();
    pool.execute(move || {
        started.send(()).expect("the test waits");
        let _ = held.recv();
    })
    .map_err(|_| "refused")
    .expect("taken");
    running.recv_timeout(WATCHDOG).expect("the worker runs it");
    release
}

/// Queues `jobs` tracked jobs behind a held worker on a pool shedding as `shedding` says, lets
/// the worker go, and returns how many ran and how many were dropped unrun, with the pool.
fn queue_behind_a_held_worker(shedding: Shedding, jobs: usize) -> (usize, usize, ThreadPool) {
    let pool = ThreadPool::builder()
        .threads(1)
        .shedding(shedding)
        .build()
        .expect("a pool");
    let ran = Arc::new(AtomicUsize::new(0));
    let dropped_unrun = Arc::new(AtomicUsize::new(0));
    // With every job shed, the holding job is shed too: it is queued only once the worker runs.
    let release = if shedding == SHED_ALL {
        None
    } else {
        Some(hold_the_worker(&pool))
    };
    for _ in 0..jobs {
        let job = Tracked {
            ran: Arc::clone(&ran),
            dropped_unrun: Arc::clone(&dropped_unrun),
            done: false,
        };
        pool.execute(move || job.run())
            .map_err(|_| "refused")
            .expect("queued");
    }
    drop(release);
    pool.join();
    (
        ran.load(Ordering::SeqCst),
        dropped_unrun.load(Ordering::SeqCst),
        pool,
    )
}

// ANCHOR: shed
/// A shed job is dropped unrun (what it owns sees that), counted in `shed` only, and `join`
/// returns after its drop.
#[test]
fn a_shed_job_is_dropped_unrun_and_counted_once() {
    let (ran, dropped_unrun, pool) = queue_behind_a_held_worker(SHED_ALL, 5);
    assert_eq!((ran, dropped_unrun), (0, 5));
    let metrics = pool.metrics();
    assert_eq!(
        (metrics.accepted, metrics.shed, metrics.completed),
        (5, 5, 0)
    );
    assert_eq!(metrics.waited.count(), 5, "a shed job waited too");
}
// ANCHOR_END: shed

/// Behind a held worker, with the queue standing for less than an hour, a job may wait the
/// interval (an hour): none is shed, even with a target of zero.
#[test]
fn nothing_is_shed_before_the_queue_has_stood_for_the_interval() {
    let patient = Shedding {
        target: Duration::ZERO,
        interval: HOUR,
    };
    let (ran, dropped_unrun, pool) = queue_behind_a_held_worker(patient, 5);
    assert_eq!((ran, dropped_unrun), (5, 0));
    assert_eq!(pool.metrics().shed, 0);
    assert_eq!(pool.metrics().completed, 6, "the holding job and five more");
}

/// A pool without shedding runs every job however long it waited.
#[test]
fn a_pool_without_shedding_runs_every_job() {
    let pool = ThreadPool::builder().threads(1).build().expect("a pool");
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..5 {
        let ran = Arc::clone(&ran);
        pool.execute(move || {
            ran.fetch_add(1, Ordering::SeqCst);
        })
        .map_err(|_| "refused")
        .expect("queued");
    }
    pool.join();
    assert_eq!(ran.load(Ordering::SeqCst), 5);
    assert_eq!(pool.metrics().shed, 0);
}

/// The handle of a shed `spawn`ed job says so, and a `Drop` that panics kills no worker.
#[test]
fn a_shed_spawned_job_is_cancelled_and_a_panicking_drop_is_survived() {
    let pool = ThreadPool::builder()
        .threads(1)
        .shedding(SHED_ALL)
        .build()
        .expect("a pool");
    let handle = pool.spawn(|| "ran").map_err(|_| "refused").expect("queued");
    assert!(matches!(handle.join(), Err(JoinError::Cancelled)));

    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("a shed job's drop panics, on purpose");
        }
    }
    let bomb = Bomb;
    pool.execute(move || drop(bomb))
        .map_err(|_| "refused")
        .expect("queued");
    pool.join();
    assert_eq!(pool.metrics().shed, 2);
    assert_eq!(pool.metrics().threads, 1, "the worker survived");
}

/// Sends one request to `address` and returns the whole reply.
fn get(address: std::net::SocketAddr) -> String {
    let mut client = TcpStream::connect(address).expect("connects");
    client.set_read_timeout(Some(WATCHDOG)).expect("a timeout");
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        .expect("the request goes out");
    let mut reply = String::new();
    client.read_to_string(&mut reply).expect("a reply");
    reply
}

// ANCHOR: server
/// A connection the pool sheds is answered 503 with `Retry-After`, and its handler never runs.
#[test]
fn a_shed_connection_is_told_busy_and_never_handled() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let address = listener.local_addr().expect("an address");
    let handled = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&handled);
    let config = Config {
        shedding: SHED_ALL,
        ..Config::default()
    };
    let server = thread::spawn(move || {
        let incoming = listener.incoming().take(3);
        serve_with(
            incoming,
            move |_: &poolbook_http::Request| {
                counted.fetch_add(1, Ordering::SeqCst);
                Response::html(Status::OK, "served")
            },
            config,
        )
    });
    for _ in 0..3 {
        let reply = get(address);
        assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
        assert!(reply.contains("Retry-After: 1\r\n"), "{reply}");
    }
    let metrics = server.join().expect("the server").expect("a pool");
    assert_eq!(handled.load(Ordering::SeqCst), 0);
    assert_eq!((metrics.shed, metrics.completed), (3, 0));
}
// ANCHOR_END: server
