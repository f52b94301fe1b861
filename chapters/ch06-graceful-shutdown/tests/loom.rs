//! loom models of stage 6's queue and graceful shutdown, run against the stage's own source.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p ch06-graceful-shutdown --test loom --profile loom`;
//! the workspace's `tests/loom_models.rs` does that as part of the normal test command.
#![cfg(any(loom, shuttle, stress))]

use ch06_graceful_shutdown::pool::ThreadPool;
use poolbook_sync::model::{Tally, check};
use poolbook_sync::{Arc, atomic::AtomicUsize, atomic::Ordering};

// ANCHOR: exactly-once
/// Two workers, two jobs, then `drop`: in every interleaving, each job has run exactly once by
/// the time `drop` returns, so no job can run after it (and no worker is still running one).
#[test]
fn every_job_runs_exactly_once_and_before_drop_returns() {
    check(|| {
        let pool = ThreadPool::new(2);
        let runs = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        for job in 0..2 {
            let runs = Arc::clone(&runs);
            pool.execute(move || {
                runs[job].fetch_add(1, Ordering::Relaxed);
            });
        }
        drop(pool);
        assert_eq!(
            runs[0].load(Ordering::Relaxed),
            1,
            "job 0 runs once before drop returns"
        );
        assert_eq!(
            runs[1].load(Ordering::Relaxed),
            1,
            "job 1 runs once before drop returns"
        );
    });
}
// ANCHOR_END: exactly-once

/// Dropping a pool whose workers are all waiting for work wakes them and returns.
#[test]
fn dropping_an_idle_pool_returns() {
    check(|| {
        let pool = ThreadPool::new(2);
        drop(pool);
    });
}

// ANCHOR: wait-for-each-other
/// Two jobs that each wait for the other both finish (the queue's lock is not held while a job
/// runs), and `drop` then returns.
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
        drop(pool);
        assert_eq!(started.get(), 2);
    });
}
// ANCHOR_END: wait-for-each-other
