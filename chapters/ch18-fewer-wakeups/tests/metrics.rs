//! Metrics from the outside: each job is counted where it is, at two moments when the pool's only
//! worker is held, so that every figure is exact.

use std::sync::Arc;

use ch18_fewer_wakeups::pool::{Metrics, Policy, ThreadPool};
use poolbook_testkit::Gate;

// ANCHOR: metrics-test
#[test]
fn metrics_show_each_job_where_it_is() {
    let pool = ThreadPool::builder()
        .threads(1)
        .capacity(3)
        .policy(Policy::Reject)
        .build()
        .expect("the pool starts");
    let (first, last) = (Arc::new(Gate::new()), Arc::new(Gate::new()));
    let held = Arc::clone(&first);
    pool.execute(move || held.pass()).expect("room");
    assert!(first.wait_arrived(1), "the worker runs the first job");
    pool.execute(|| ()).expect("room");
    pool.execute(|| panic!("a job panicked, on purpose"))
        .expect("room");
    let held = Arc::clone(&last);
    pool.execute(move || held.pass()).expect("room");
    assert!(pool.execute(|| ()).unwrap_err().is_full());
    let waiting = Metrics {
        threads: 1,
        queued: 3,
        active: 1,
        idle: 0,
        accepted: 4,
        completed: 0,
        panicked: 0,
        rejected: 1,
        cancelled: 0,
        sleeps: 0,
    };
    // Whether the worker slept before the first job came is a matter of timing: take it as found.
    let waiting = Metrics {
        sleeps: pool.metrics().sleeps,
        ..waiting
    };
    assert_eq!(pool.metrics(), waiting);
    // The worker runs the next two jobs and stops in the last one: by then it has counted the
    // three before it, in the same visits to the lock that took the next job.
    first.open();
    assert!(last.wait_arrived(1), "the worker reaches the last job");
    let held_again = Metrics {
        queued: 0,
        completed: 2,
        panicked: 1,
        ..waiting
    };
    assert_eq!(pool.metrics(), held_again);
    assert_eq!(pool.panic_count(), 1);
    last.open();
}
// ANCHOR_END: metrics-test

/// A job run on its caller is counted too: accepted, and finished once it has run.
#[test]
fn caller_run_jobs_are_counted_too() {
    let pool = ThreadPool::builder()
        .threads(1)
        .capacity(1)
        .policy(Policy::CallerRuns)
        .build()
        .expect("the pool starts");
    let gate = Arc::new(Gate::new());
    let held = Arc::clone(&gate);
    pool.execute(move || held.pass()).expect("room");
    assert!(gate.wait_arrived(1), "the worker runs the first job");
    pool.execute(|| ()).expect("room for the second job");
    // The queue is full: these two run here, before `execute` returns.
    pool.execute(|| ()).expect("run here");
    pool.execute(|| panic!("a caller-run job panicked, on purpose"))
        .expect("run here");
    let metrics = pool.metrics();
    assert_eq!(
        (metrics.accepted, metrics.completed, metrics.panicked),
        (4, 1, 1)
    );
    assert_eq!(
        (metrics.active, metrics.queued, metrics.rejected),
        (1, 1, 0)
    );
    gate.open();
}

#[test]
fn the_default_is_one_thread_per_core() {
    let pool = ThreadPool::builder().build().expect("the pool starts");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(pool.metrics().threads, cores);
    assert_eq!(pool.metrics().idle, cores);
}
