//! `join` from the outside: it waits for the queued and running jobs in every thread that calls
//! it, returns at once on an idle pool, and leaves the pool open.

use std::sync::Arc;

use ch18_fewer_wakeups::pool::ThreadPool;
use poolbook_testkit::Gate;
use poolbook_testkit::conformance::Log;

/// A job that logs `entry`.
fn logs(log: &Arc<Log>, entry: &'static str) -> impl FnOnce() + Send + 'static + use<> {
    let log = Arc::clone(log);
    move || log.push(entry)
}

// ANCHOR: join-test
/// `join` returns only once the queued and running jobs have finished, in every thread that
/// calls it, and the pool takes jobs again afterwards.
#[test]
fn join_waits_for_every_pending_job_in_every_joiner() {
    let pool = Arc::new(ThreadPool::new(1));
    let gate = Arc::new(Gate::new());
    let held = Arc::clone(&gate);
    pool.execute(move || held.pass()).expect("room");
    assert!(gate.wait_arrived(1), "the worker runs the first job");
    let log = Arc::new(Log::default());
    pool.execute(logs(&log, "queued job")).expect("room");
    let joiners: Vec<_> = (0..3)
        .map(|_| {
            let (pool, log) = (Arc::clone(&pool), Arc::clone(&log));
            std::thread::spawn(move || {
                pool.join();
                log.push("join returned");
            })
        })
        .collect();
    gate.open();
    for joiner in joiners {
        joiner.join().expect("the joiner returns");
    }
    let joined = [
        "queued job",
        "join returned",
        "join returned",
        "join returned",
    ];
    assert_eq!(log.entries(), joined);
    pool.execute(logs(&log, "after join")).expect("still open");
    pool.join();
    assert_eq!(log.entries().last().map(String::as_str), Some("after join"));
}
// ANCHOR_END: join-test

#[test]
fn join_on_an_idle_pool_returns_at_once() {
    let pool = ThreadPool::new(2);
    pool.join();
    pool.join();
    assert_eq!(pool.metrics().active, 0);
}

/// After `join`, every job is counted: the figures are final until the next job.
#[test]
fn after_join_the_metrics_count_every_job() {
    let pool = ThreadPool::new(2);
    for n in 0..10 {
        pool.execute(move || assert!(n % 5 != 0, "job {n} panics, on purpose"))
            .expect("room");
    }
    pool.join();
    let metrics = pool.metrics();
    assert_eq!(
        (metrics.accepted, metrics.completed, metrics.panicked),
        (10, 8, 2)
    );
    assert_eq!((metrics.queued, metrics.active, metrics.idle), (0, 0, 2));
}
