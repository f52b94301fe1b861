//! `close` from the outside: later jobs come back unrun, jobs queued before still run, and a
//! submitter waiting for room is woken with its job.

use std::sync::Arc;

use ch18_fewer_wakeups::pool::{Policy, ThreadPool};
use poolbook_testkit::Gate;
use poolbook_testkit::conformance::Log;

/// A pool of one worker, with room for `capacity` jobs, held at the returned gate by a first job.
fn held_pool(capacity: usize) -> (ThreadPool, Arc<Gate>) {
    let pool = ThreadPool::builder()
        .threads(1)
        .capacity(capacity)
        .policy(Policy::Block)
        .build()
        .expect("the pool starts");
    let gate = Arc::new(Gate::new());
    let held = Arc::clone(&gate);
    pool.execute(move || held.pass())
        .expect("room for the first job");
    assert!(gate.wait_arrived(1), "the worker runs the first job");
    (pool, gate)
}

// ANCHOR: closed-test
/// After `close`, every submission gets its job back; jobs queued before still run.
#[test]
fn close_hands_back_later_jobs_and_runs_queued_ones() {
    let (pool, gate) = held_pool(2);
    let log = Arc::new(Log::default());
    let queued = Arc::clone(&log);
    pool.execute(move || queued.push("queued before close"))
        .expect("room in the queue");
    pool.close();
    let late = Arc::clone(&log);
    let rejected = pool.execute(move || late.push("late")).unwrap_err();
    assert!(rejected.is_closed());
    assert!(!rejected.is_full(), "closed, not full");
    assert_eq!(rejected.to_string(), "the pool is closed");
    assert!(pool.try_execute(|| ()).unwrap_err().is_closed());
    assert!(pool.spawn(|| 1).unwrap_err().is_closed());
    gate.open();
    drop(pool);
    assert_eq!(log.entries(), ["queued before close"]);
}
// ANCHOR_END: closed-test

/// A submitter waiting for room on a full queue is woken by `close` and gets its job back.
#[test]
fn close_wakes_a_submitter_waiting_for_room() {
    let (pool, gate) = held_pool(1);
    pool.execute(|| ()).expect("room for one job");
    let pool = Arc::new(pool);
    let submitter_pool = Arc::clone(&pool);
    let submitter =
        std::thread::spawn(move || submitter_pool.execute(|| ()).map_err(|r| r.is_closed()));
    // Whether it is already waiting or has not yet submitted, it must come back `Closed`.
    pool.close();
    assert_eq!(submitter.join().expect("the submitter returns"), Err(true));
    gate.open();
}
