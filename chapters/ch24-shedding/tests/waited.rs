//! How long jobs wait: the histogram in `Metrics::waited`, and the pool filling it.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use ch24_shedding::pool::{Policy, ThreadPool, Waited};
use poolbook_testkit::WATCHDOG;

/// Gives `pool`'s only worker a job that holds it until the returned sender sends, and waits
/// until the worker runs it.
fn hold_the_worker(pool: &ThreadPool) -> mpsc::Sender<()> {
    let (release, held) = mpsc::channel::<()>();
    let (started, running) = mpsc::channel();
    pool.execute(move || {
        started.send(()).expect("the test waits");
        let _ = held.recv();
    })
    .map_err(|_| "refused")
    .expect("taken");
    running.recv_timeout(WATCHDOG).expect("the worker runs it");
    release
}

// ANCHOR: histogram
/// Each wait goes to the bucket of its bit length in microseconds, and a percentile is the upper
/// end of the bucket where it is reached: never below the true figure, at most twice it.
#[test]
fn the_histogram_knows_each_wait_within_a_factor_of_two() {
    let mut waited = Waited::default();
    assert_eq!(waited.below(0.5), None, "nothing counted yet");
    for _ in 0..98 {
        waited.record(Duration::from_micros(3)); // 2 to 3 µs: under 4
    }
    waited.record(Duration::from_micros(600)); // 512 to 1,023 µs: under 1,024
    waited.record(Duration::from_secs(5)); // 5,000,000 µs: under 2^23
    assert_eq!(waited.count(), 100);
    assert_eq!(waited.below(0.5), Some(Duration::from_micros(4)));
    assert_eq!(waited.below(0.98), Some(Duration::from_micros(4)));
    assert_eq!(waited.below(0.99), Some(Duration::from_micros(1024)));
    assert_eq!(waited.below(1.0), Some(Duration::from_micros(1 << 23)));

    let mut instant = Waited::default();
    instant.record(Duration::ZERO);
    instant.record(Duration::from_nanos(999));
    assert_eq!(instant.below(1.0), Some(Duration::from_micros(1)));
    let mut forever = Waited::default();
    forever.record(Duration::MAX);
    assert_eq!(
        forever.count(),
        1,
        "the longest waits go to the last bucket"
    );
}
// ANCHOR_END: histogram

/// Every job a worker takes is counted once; none that ran on its caller, which never waited.
#[test]
fn every_job_a_worker_takes_is_counted_once() {
    let pool = ThreadPool::builder().threads(2).build().expect("a pool");
    for _ in 0..100 {
        pool.execute(|| {}).map_err(|_| "refused").expect("taken");
    }
    pool.join();
    assert_eq!(pool.metrics().waited.count(), 100);

    let callers = ThreadPool::builder()
        .threads(1)
        .capacity(1)
        .policy(Policy::CallerRuns)
        .build()
        .expect("a pool");
    let release = hold_the_worker(&callers);
    callers
        .execute(|| {})
        .map_err(|_| "refused")
        .expect("queued");
    callers
        .execute(|| {})
        .map_err(|_| "refused")
        .expect("run here");
    release.send(()).expect("release the worker");
    callers.join();
    let metrics = callers.metrics();
    assert_eq!(metrics.completed, 3);
    assert_eq!(metrics.waited.count(), 2, "the caller's job did not wait");
}

// ANCHOR: held
/// A job queued behind a held worker waits at least until the worker is let go: the time from
/// its submission to the release, measured here, is a floor under what the pool records.
#[test]
fn a_job_behind_a_held_worker_waits_until_it_is_let_go() {
    let pool = ThreadPool::builder().threads(1).build().expect("a pool");
    let release = hold_the_worker(&pool);
    pool.execute(|| {}).map_err(|_| "refused").expect("queued");
    let queued = Instant::now();
    // Two clock readings apart: whatever the clock's resolution, the floor is not zero.
    while queued.elapsed().is_zero() {}
    let floor = queued.elapsed();
    release.send(()).expect("release the worker");
    pool.join();
    let waited = pool.metrics().waited;
    assert_eq!(waited.count(), 2);
    let longest = waited.below(1.0).expect("two waits");
    assert!(
        longest > floor,
        "{longest:?} recorded, the job waited over {floor:?}"
    );
}
// ANCHOR_END: held
