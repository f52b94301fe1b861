//! The pool's own queue from the outside: it can say how many jobs are waiting, which the
//! channel of the stages before could not, and it keeps the channel's contract.

use std::sync::Arc;

use ch16_shutdown::pool::ThreadPool;
use poolbook_testkit::Gate;
use poolbook_testkit::conformance::Log;

// ANCHOR: queued-test
/// One worker held at a gate: the jobs submitted after it wait in the queue, and `queued` counts
/// them; once the gate opens and every job has finished, none is waiting.
#[test]
fn queued_counts_the_jobs_waiting_for_a_worker() {
    let pool = ThreadPool::new(1);
    let gate = Arc::new(Gate::new());
    let held = Arc::clone(&gate);
    let first = pool.spawn(move || held.pass()).unwrap();
    assert!(gate.wait_arrived(1), "the first job starts");
    let waiting: Vec<_> = (0..3).map(|n| pool.spawn(move || n).unwrap()).collect();
    assert_eq!(pool.queued(), 3, "the running job is not counted");
    gate.open();
    first.join().expect("the first job returns");
    let values: Vec<i32> = waiting.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(values, [0, 1, 2]);
    assert_eq!(pool.queued(), 0);
}
// ANCHOR_END: queued-test

/// Jobs come out in the order they went in, and `drop` runs every job still queued.
#[test]
fn jobs_run_in_order_and_drop_runs_the_queued_ones() {
    let pool = ThreadPool::new(1);
    let gate = Arc::new(Gate::new());
    let held = Arc::clone(&gate);
    pool.execute(move || held.pass()).unwrap();
    assert!(gate.wait_arrived(1), "the first job starts");
    let log = Arc::new(Log::default());
    for entry in ["one", "two", "three"] {
        let log = Arc::clone(&log);
        pool.execute(move || log.push(entry)).unwrap();
    }
    gate.open();
    drop(pool);
    assert_eq!(log.entries(), ["one", "two", "three"]);
}
