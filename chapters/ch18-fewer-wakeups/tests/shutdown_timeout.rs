//! `shutdown` from the outside: it waits for the queued jobs, and when a job outlasts its timeout
//! it gives up, says what was left, and lets the workers finish on their own.

use std::sync::Arc;
use std::sync::mpsc::channel;
use std::time::Duration;

use ch18_fewer_wakeups::pool::{ShutdownTimedOut, ThreadPool};
use poolbook_testkit::conformance::Log;
use poolbook_testkit::{Gate, WATCHDOG};

// ANCHOR: shutdown-tests
#[test]
fn shutdown_waits_for_the_queued_jobs() {
    let log = Arc::new(Log::default());
    let pool = ThreadPool::new(1);
    for entry in ["one", "two", "three"] {
        let log = Arc::clone(&log);
        pool.execute(move || log.push(entry)).expect("room");
    }
    assert_eq!(pool.shutdown(WATCHDOG), Ok(()));
    assert_eq!(log.entries(), ["one", "two", "three"]);
}

/// A job held at a gate cannot finish within any timeout, so `shutdown` gives up and says what
/// is left; the worker it let go of still finishes the work afterwards.
#[test]
fn shutdown_gives_up_after_its_timeout() {
    let pool = ThreadPool::new(1);
    let gate = Arc::new(Gate::new());
    let held = Arc::clone(&gate);
    pool.execute(move || held.pass()).expect("room");
    assert!(gate.wait_arrived(1), "the worker runs the first job");
    let (done, finished) = channel();
    pool.execute(move || done.send("queued job ran").unwrap())
        .expect("room");
    let timed_out = pool.shutdown(Duration::from_millis(1)).unwrap_err();
    let left = ShutdownTimedOut {
        running: 1,
        queued: 1,
    };
    assert_eq!(timed_out, left);
    assert_eq!(
        timed_out.to_string(),
        "the pool's shutdown timed out with 1 jobs running and 1 queued"
    );
    gate.open();
    assert_eq!(finished.recv_timeout(WATCHDOG), Ok("queued job ran"));
}
// ANCHOR_END: shutdown-tests
