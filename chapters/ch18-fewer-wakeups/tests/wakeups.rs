//! The waiting refinements from the outside: a worker that has work waiting never sleeps, so no
//! wake-up is spent on it.

use std::sync::Arc;

use ch18_fewer_wakeups::pool::ThreadPool;
use poolbook_testkit::Gate;

// ANCHOR: sleeps-test
/// One worker held at a gate while ten jobs queue behind it, the last held at a second gate: from
/// the first gate to the second the queue is never empty, and the worker never sleeps.
#[test]
fn a_worker_with_work_waiting_never_sleeps() {
    let pool = ThreadPool::new(1);
    let (first, last) = (Arc::new(Gate::new()), Arc::new(Gate::new()));
    let held = Arc::clone(&first);
    pool.execute(move || held.pass()).expect("room");
    assert!(first.wait_arrived(1), "the worker runs the first job");
    let slept_before = pool.metrics().sleeps;
    for _ in 0..10 {
        pool.execute(|| ()).expect("room");
    }
    let held = Arc::clone(&last);
    pool.execute(move || held.pass()).expect("room");
    first.open();
    assert!(last.wait_arrived(1), "the worker reaches the last job");
    assert_eq!(
        pool.metrics().sleeps,
        slept_before,
        "no sleep while work waited"
    );
    assert_eq!(pool.metrics().completed, 11);
    last.open();
}
// ANCHOR_END: sleeps-test
