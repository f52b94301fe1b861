//! The bounded queue from the outside: a submitter that finds it full waits for room, and a
//! queue with no room at all is refused.

use std::sync::Arc;

use ch17_shutdown_now::pool::{Policy, PoolCreationError, ThreadPool};
use poolbook_testkit::Gate;

// ANCHOR: block-test
/// One worker, room for one job. With the worker busy and the queue full, `execute` returns only
/// once the worker has taken the queued job: the queue then holds exactly the new one.
#[test]
fn a_submitter_waits_for_room_when_the_queue_is_full() {
    let pool = ThreadPool::builder()
        .threads(1)
        .capacity(1)
        .policy(Policy::Block)
        .build()
        .expect("the pool starts");
    let (first, second) = (Arc::new(Gate::new()), Arc::new(Gate::new()));
    let held = Arc::clone(&first);
    pool.execute(move || held.pass()).unwrap();
    assert!(first.wait_arrived(1), "the worker runs the first job");
    let held = Arc::clone(&second);
    pool.execute(move || held.pass()).unwrap();
    assert_eq!(pool.queued(), 1, "the second job fills the queue");
    // The worker may now finish the first job and take the second, which holds it at `second`.
    first.open();
    pool.execute(|| ()).unwrap();
    assert_eq!(
        pool.queued(),
        1,
        "the third job went in only after the worker took the second"
    );
    second.open();
}
// ANCHOR_END: block-test

#[test]
fn a_queue_with_no_room_is_an_error() {
    let error = ThreadPool::builder()
        .threads(2)
        .capacity(0)
        .policy(Policy::Block)
        .build()
        .expect_err("no room, no pool");
    assert!(matches!(error, PoolCreationError::ZeroCapacity));
    assert_eq!(
        error.to_string(),
        "a thread pool's queue needs room for at least one job"
    );
}

#[test]
fn new_and_build_have_no_limit() {
    assert_eq!(ThreadPool::new(1).capacity(), usize::MAX);
    assert_eq!(
        ThreadPool::builder()
            .threads(1)
            .capacity(8)
            .policy(Policy::Block)
            .build()
            .unwrap()
            .capacity(),
        8
    );
}
