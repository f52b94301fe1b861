//! What a pool does with a job that finds its queue full, under each policy: hand it back unrun,
//! or run it on the caller's thread; and `try_execute`, which never waits.

use std::sync::Arc;
use std::sync::mpsc::channel;

use ch15_join::pool::{Policy, ThreadPool};
use poolbook_testkit::Gate;
use poolbook_testkit::conformance::Log;

/// A pool of one worker with room for one job, under `policy`, whose worker is held at the
/// returned gate by a first job and whose queue is full with a second one.
fn full_pool(policy: Policy, log: &Arc<Log>) -> (ThreadPool, Arc<Gate>) {
    let pool = ThreadPool::builder()
        .threads(1)
        .capacity(1)
        .policy(policy)
        .build()
        .expect("the pool starts");
    let gate = Arc::new(Gate::new());
    let held = Arc::clone(&gate);
    pool.execute(move || held.pass())
        .expect("room for the first job");
    assert!(gate.wait_arrived(1), "the worker runs the first job");
    let queued = Arc::clone(log);
    pool.execute(move || queued.push("queued job"))
        .expect("room for the second job");
    (pool, gate)
}

// ANCHOR: reject-test
/// `Reject` hands the job back at once, unrun, as the caller's own closure.
#[test]
fn reject_hands_back_the_job_that_does_not_fit() {
    let log = Arc::new(Log::default());
    let (pool, gate) = full_pool(Policy::Reject, &log);
    let refused = Arc::clone(&log);
    let rejected = pool
        .execute(move || refused.push("refused job"))
        .expect_err("the queue is full");
    assert!(rejected.is_full());
    assert_eq!(rejected.to_string(), "the pool's queue is full");
    gate.open();
    drop(pool);
    assert_eq!(log.entries(), ["queued job"]);
    // The job came back unrun: the caller can still run it, once.
    rejected.into_job()();
    assert_eq!(log.entries(), ["queued job", "refused job"]);
}
// ANCHOR_END: reject-test

// ANCHOR: caller-runs-test
/// `CallerRuns` runs the job that does not fit on the submitting thread, before `execute`
/// returns, while the worker is still held.
#[test]
fn caller_runs_runs_the_job_that_does_not_fit_on_the_caller() {
    let log = Arc::new(Log::default());
    let (pool, gate) = full_pool(Policy::CallerRuns, &log);
    let (ran_on, ran) = channel();
    pool.execute(move || ran_on.send(std::thread::current().id()).unwrap())
        .expect("CallerRuns hands nothing back");
    assert_eq!(ran.try_recv(), Ok(std::thread::current().id()));
    gate.open();
}
// ANCHOR_END: caller-runs-test

/// `spawn` under `Reject` hands back the caller's own closure, which still computes its value.
#[test]
fn a_rejected_spawn_gives_back_the_callers_closure() {
    let log = Arc::new(Log::default());
    let (pool, gate) = full_pool(Policy::Reject, &log);
    let rejected = pool.spawn(|| 6 * 7).expect_err("the queue is full");
    assert_eq!(rejected.into_job()(), 42);
    gate.open();
}

/// `try_execute` hands the job back on a full queue even when the pool's policy is `Block`.
#[test]
fn try_execute_never_waits() {
    let log = Arc::new(Log::default());
    let (pool, gate) = full_pool(Policy::Block, &log);
    assert!(pool.try_execute(|| ()).unwrap_err().is_full());
    assert_eq!(pool.policy(), Policy::Block);
    gate.open();
}
