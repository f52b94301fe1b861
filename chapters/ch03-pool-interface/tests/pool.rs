//! The pool's interface, as the server will use it: built with a size (zero is refused), and
//! `execute` runs the job it is given.

use std::sync::mpsc;

use ch03_pool_interface::pool::{PoolCreationError, ThreadPool};
use poolbook_testkit::WATCHDOG;

// ANCHOR: interface-test
#[test]
fn a_pool_needs_at_least_one_thread() {
    assert_eq!(
        ThreadPool::build(0).err(),
        Some(PoolCreationError::ZeroThreads)
    );
    assert!(ThreadPool::build(4).is_ok());
}

#[test]
fn execute_runs_the_job() {
    let pool = ThreadPool::new(4);
    let (done, finished) = mpsc::channel();
    pool.execute(move || done.send("ran").unwrap());
    assert_eq!(finished.recv_timeout(WATCHDOG), Ok("ran"));
}
// ANCHOR_END: interface-test
