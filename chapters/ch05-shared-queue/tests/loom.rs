//! loom models of stage 5's queue, run against the stage's own source.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p ch05-shared-queue --test loom --profile loom`;
//! the workspace's `tests/loom_models.rs` does that as part of the normal test command.
#![cfg(any(loom, shuttle, stress))]

use ch05_shared_queue::pool::ThreadPool;
use poolbook_sync::model::{Tally, check};
use poolbook_sync::{Arc, atomic::AtomicUsize, atomic::Ordering};

// ANCHOR: exactly-once
/// Two workers, two jobs: each job runs, and runs once, in every interleaving.
#[test]
fn every_job_runs_exactly_once() {
    check(|| {
        let pool = ThreadPool::new(2);
        let runs = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let done = Arc::new(Tally::new());
        for job in 0..2 {
            let runs = Arc::clone(&runs);
            let done = Arc::clone(&done);
            pool.execute(move || {
                runs[job].fetch_add(1, Ordering::Relaxed);
                done.add();
            });
        }
        done.wait_for(2);
        assert_eq!(runs[0].load(Ordering::Relaxed), 1);
        assert_eq!(runs[1].load(Ordering::Relaxed), 1);
    });
}
// ANCHOR_END: exactly-once

// ANCHOR: wait-for-each-other
/// Two jobs that each wait for the other can only both finish if two workers run them at the
/// same time, which requires that a worker does not hold the queue's lock while its job runs.
#[test]
fn two_jobs_that_wait_for_each_other_both_finish() {
    check(|| {
        let pool = ThreadPool::new(2);
        let started = Arc::new(Tally::new());
        for _ in 0..2 {
            let started = Arc::clone(&started);
            pool.execute(move || {
                started.add();
                started.wait_for(2);
            });
        }
        started.wait_for(2);
    });
}
// ANCHOR_END: wait-for-each-other
