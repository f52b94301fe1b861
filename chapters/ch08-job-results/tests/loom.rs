//! loom models of stage 8's queue, shutdown, panic isolation and job results, run against the stage's own source.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p ch08-job-results --test loom --profile loom`;
//! the workspace's `tests/loom_models.rs` does that as part of the normal test command.
#![cfg(any(loom, shuttle, stress))]

use ch08_job_results::pool::{JobPanic, ThreadPool};
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

// ANCHOR: panic-model
/// With one worker, a job that panics is reported to the hook and the next job still runs,
/// before `drop` returns, in every interleaving.
#[test]
fn a_panicking_job_does_not_take_its_worker_down() {
    check(|| {
        let reported = Arc::new(Tally::new());
        let hook_tally = Arc::clone(&reported);
        let pool = ThreadPool::with_panic_hook(1, move |_: &JobPanic| hook_tally.add())
            .expect("the pool starts");
        let ran = Arc::new(AtomicUsize::new(0));
        pool.execute(|| panic!("a job panicked, on purpose"));
        let after = Arc::clone(&ran);
        pool.execute(move || {
            after.fetch_add(1, Ordering::Relaxed);
        });
        drop(pool);
        assert_eq!(reported.get(), 1, "the panic was reported");
        assert_eq!(ran.load(Ordering::Relaxed), 1, "the next job ran");
    });
}
// ANCHOR_END: panic-model

/// Two workers, two spawned jobs (one of them panics): each handle's `join` returns that job's
/// outcome, in every interleaving.
#[test]
fn join_returns_each_jobs_outcome() {
    check(|| {
        let pool = ThreadPool::new(2);
        // ANCHOR: join-model-asserts
        let value = pool.spawn(|| 6 * 7);
        let failed = pool.spawn(|| -> i32 { panic!("a job panicked, on purpose") });
        assert_eq!(value.join().expect("the first job returns"), 42);
        let error = failed.join().expect_err("the second job panics");
        assert_eq!(
            error.message().as_deref(),
            Some("a job panicked, on purpose")
        );
        // ANCHOR_END: join-model-asserts
        drop(pool);
    });
}
