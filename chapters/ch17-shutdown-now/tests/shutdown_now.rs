//! `shutdown_now` from the outside: the jobs that never started come back, with the final
//! metrics, and a spawned job's handle knows when its job was dropped unrun.

use std::sync::Arc;

use ch17_shutdown_now::pool::ThreadPool;
use poolbook_testkit::Gate;
use poolbook_testkit::conformance::Log;

/// A pool of one worker held at the returned gate by a first job.
fn held_pool() -> (ThreadPool, Arc<Gate>) {
    let pool = ThreadPool::new(1);
    let gate = Arc::new(Gate::new());
    let held = Arc::clone(&gate);
    pool.execute(move || held.pass()).expect("room");
    assert!(gate.wait_arrived(1), "the worker runs the first job");
    (pool, gate)
}

// ANCHOR: shutdown-now-test
/// The worker is held while three jobs wait, and is let go as `shutdown_now` begins: it may take
/// some of the three before the pool closes. Each job either ran or came back, never both and
/// never neither, and the final metrics say which (the loom model pins every split).
#[test]
fn shutdown_now_returns_the_jobs_that_never_started() {
    let (pool, gate) = held_pool();
    let log = Arc::new(Log::default());
    for entry in ["one", "two", "three"] {
        let log = Arc::clone(&log);
        pool.execute(move || log.push(entry)).expect("room");
    }
    let opener = std::thread::spawn(move || gate.open());
    let stopped = pool.shutdown_now();
    opener.join().expect("the opener returns");
    let ran = log.entries().len();
    assert_eq!(ran + stopped.unstarted.len(), 3);
    let metrics = stopped.metrics;
    assert_eq!(metrics.cancelled, stopped.unstarted.len() as u64);
    assert_eq!((metrics.accepted, metrics.completed), (4, 1 + ran as u64));
    assert_eq!((metrics.queued, metrics.active, metrics.threads), (0, 0, 0));
    for job in stopped.unstarted {
        job();
    }
    assert_eq!(log.entries(), ["one", "two", "three"]);
}
// ANCHOR_END: shutdown-now-test

/// A spawned job handed back and dropped tells its handle it was cancelled; one that ran first
/// gives its value.
#[test]
fn a_dropped_spawned_job_is_cancelled() {
    let (pool, gate) = held_pool();
    let handle = pool.spawn(|| "ran").expect("room");
    let opener = std::thread::spawn(move || gate.open());
    let stopped = pool.shutdown_now();
    opener.join().expect("the opener returns");
    let was_taken = stopped.unstarted.len() == 1;
    drop(stopped);
    match handle.join() {
        Ok(value) => assert!(!was_taken && value == "ran"),
        Err(error) => {
            assert!(was_taken && error.is_cancelled());
            assert_eq!(error.to_string(), "the job was cancelled before it ran");
        }
    }
}
