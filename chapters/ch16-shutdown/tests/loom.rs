//! loom models of stage 16's queue, its policies, `close`, metrics, `join` and `shutdown`, panic
//! isolation and job results, run against the stage's own source.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p ch16-shutdown --test loom --profile loom`;
//! the workspace's `tests/loom_models.rs` does that as part of the normal test command.
#![cfg(any(loom, shuttle, stress))]

use ch16_shutdown::pool::{JobPanic, Metrics, Policy, Rejected, ThreadPool};
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
            })
            .unwrap();
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
            })
            .unwrap();
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
        let pool = ThreadPool::builder()
            .threads(1)
            .panic_hook(move |_: &JobPanic| hook_tally.add())
            .build()
            .expect("the pool starts");
        let ran = Arc::new(AtomicUsize::new(0));
        pool.execute(|| panic!("a job panicked, on purpose"))
            .unwrap();
        let after = Arc::clone(&ran);
        let second = Arc::new(Tally::new());
        let second_ran = Arc::clone(&second);
        pool.execute(move || {
            after.fetch_add(1, Ordering::Relaxed);
            second_ran.add();
        })
        .unwrap();
        // The one worker counts the panic before it takes the next job.
        second.wait_for(1);
        assert_eq!(pool.metrics().panicked, 1, "the panic is counted");
        drop(pool);
        assert_eq!(reported.get(), 1, "the panic was reported");
        assert_eq!(ran.load(Ordering::Relaxed), 1, "the next job ran");
    });
}
// ANCHOR_END: panic-model

// ANCHOR: join-model
/// Two workers, two spawned jobs (one of them panics): each handle's `join` returns that job's
/// outcome, in every interleaving.
#[test]
fn join_returns_each_jobs_outcome() {
    check(|| {
        let pool = ThreadPool::new(2);
        let value = pool.spawn(|| 6 * 7).unwrap();
        let failed = pool
            .spawn(|| -> i32 { panic!("a job panicked, on purpose") })
            .unwrap();
        assert_eq!(value.join().expect("the first job returns"), 42);
        let error = failed.join().expect_err("the second job panics");
        assert_eq!(
            error.message().as_deref(),
            Some("a job panicked, on purpose")
        );
        drop(pool);
    });
}
// ANCHOR_END: join-model

/// Submits job `job`, which counts its runs in `runs[job]`, and checks the queue's length after.
fn submit_counted(pool: &ThreadPool, runs: &Arc<[AtomicUsize; 3]>, job: usize) {
    let runs = Arc::clone(runs);
    pool.execute(move || {
        runs[job].fetch_add(1, Ordering::Relaxed);
    })
    .unwrap();
    assert!(pool.queued() <= 1, "the queue holds at most its capacity");
}

// ANCHOR: block-model
/// One worker, room for one job, three jobs from two submitters at once: every job runs exactly
/// once before the pool is dropped, and the queue never holds more than its one job, however the
/// submitters and the worker interleave.
#[test]
fn a_full_queue_makes_submitters_wait_and_loses_nothing() {
    check(|| {
        let pool = Arc::new(
            ThreadPool::builder()
                .threads(1)
                .capacity(1)
                .policy(Policy::Block)
                .build()
                .expect("the pool starts"),
        );
        let runs = Arc::new([
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        ]);
        let other = {
            let (pool, runs) = (Arc::clone(&pool), Arc::clone(&runs));
            poolbook_sync::thread::spawn(move || submit_counted(&pool, &runs, 2))
        };
        submit_counted(&pool, &runs, 0);
        submit_counted(&pool, &runs, 1);
        other.join().expect("the other submitter returns");
        // The other submitter has let go of its `Arc`: this is the last one, and drops the pool.
        drop(pool);
        for (job, runs) in runs.iter().enumerate() {
            assert_eq!(runs.load(Ordering::Relaxed), 1, "job {job} ran once");
        }
    });
}
// ANCHOR_END: block-model

/// Three jobs that each count their runs, submitted to a one-worker pool with room for one.
fn counted_jobs(
    pool: &ThreadPool,
) -> (
    Arc<[AtomicUsize; 3]>,
    Vec<Option<Rejected<impl FnOnce() + use<>>>>,
) {
    let runs = Arc::new([
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    ]);
    let outcomes = (0..3)
        .map(|job| {
            let runs = Arc::clone(&runs);
            pool.execute(move || {
                runs[job].fetch_add(1, Ordering::Relaxed);
            })
            .err()
        })
        .collect();
    (runs, outcomes)
}

// ANCHOR: reject-model
/// One worker, room for one job, `Reject`, three jobs: in every interleaving, each job either
/// ran exactly once or came back to the caller unrun, never both and never neither.
#[test]
fn reject_hands_back_exactly_the_jobs_it_did_not_take() {
    check(|| {
        let pool = ThreadPool::builder()
            .threads(1)
            .capacity(1)
            .policy(Policy::Reject)
            .build()
            .expect("the pool starts");
        let (runs, outcomes) = counted_jobs(&pool);
        let handed_back = outcomes.iter().filter(|outcome| outcome.is_some()).count();
        assert_eq!(
            pool.metrics().rejected,
            handed_back as u64,
            "each job handed back is counted"
        );
        drop(pool);
        for (job, outcome) in outcomes.iter().enumerate() {
            let expected = match outcome {
                None => 1,
                Some(rejected) => {
                    assert!(
                        rejected.is_full(),
                        "job {job} came back: the queue was full"
                    );
                    0
                }
            };
            assert_eq!(
                runs[job].load(Ordering::Relaxed),
                expected,
                "job {job} either ran once, or came back unrun and did not run"
            );
        }
        assert!(outcomes[0].is_none(), "the first job always finds room");
    });
}
// ANCHOR_END: reject-model

/// One worker, room for one job, `CallerRuns`, three jobs: every job runs exactly once, on the
/// worker or on the caller.
#[test]
fn caller_runs_runs_every_job_exactly_once() {
    check(|| {
        let pool = ThreadPool::builder()
            .threads(1)
            .capacity(1)
            .policy(Policy::CallerRuns)
            .build()
            .expect("the pool starts");
        let (runs, outcomes) = counted_jobs(&pool);
        assert_eq!(
            pool.metrics().rejected,
            0,
            "a job its caller ran was not refused"
        );
        // A job its caller ran was accepted, and is finished.
        assert_adds_up(pool.metrics());
        drop(pool);
        assert!(
            outcomes.iter().all(Option::is_none),
            "nothing is handed back"
        );
        for (job, runs) in runs.iter().enumerate() {
            assert_eq!(runs.load(Ordering::Relaxed), 1, "job {job}");
        }
    });
}
// ANCHOR: close-model
/// One worker held by a job, the queue full, two submitters waiting for room: `close` wakes
/// both, and each gets its job back unrun; the queued job still runs before `drop` returns.
#[test]
fn close_wakes_every_blocked_submitter() {
    check(|| {
        let pool = Arc::new(
            ThreadPool::builder()
                .threads(1)
                .capacity(1)
                .policy(Policy::Block)
                .build()
                .expect("the pool starts"),
        );
        let release = Arc::new(Tally::new());
        let held = Arc::clone(&release);
        pool.execute(move || held.wait_for(1))
            .expect("room for the first job");
        let ran = Arc::new(AtomicUsize::new(0));
        let queued = Arc::clone(&ran);
        // The worker may not have taken the first job yet, so this may wait for it to.
        pool.execute(move || {
            queued.fetch_add(1, Ordering::Relaxed);
        })
        .expect("room once the worker takes the first job");
        let submitters: Vec<_> = (0..2)
            .map(|_| {
                let (pool, ran) = (Arc::clone(&pool), Arc::clone(&ran));
                poolbook_sync::thread::spawn(move || {
                    let outcome = pool.execute(move || {
                        ran.fetch_add(10, Ordering::Relaxed);
                    });
                    outcome.map_err(|rejected| rejected.is_closed())
                })
            })
            .collect();
        pool.close();
        for submitter in submitters {
            let outcome = submitter.join().expect("the submitter returns");
            assert_eq!(outcome, Err(true), "a blocked submitter gets its job back");
        }
        assert_eq!(pool.metrics().rejected, 2, "each job given back is counted");
        release.add();
        // The submitters have let go of theirs: this is the last `Arc`, and drops the pool.
        drop(pool);
        assert_eq!(ran.load(Ordering::Relaxed), 1, "only the queued job ran");
    });
}
// ANCHOR_END: close-model

/// Checks the one equation every snapshot must satisfy: each accepted job is in exactly one place.
fn assert_adds_up(metrics: Metrics) {
    let placed =
        metrics.queued as u64 + metrics.active as u64 + metrics.completed + metrics.panicked;
    assert_eq!(
        metrics.accepted, placed,
        "the metrics add up: every accepted job is queued, running or finished ({metrics:?})"
    );
}

// ANCHOR: metrics-model
/// One worker, two jobs, and two snapshots taken while the worker may be taking or running them:
/// in every interleaving, each snapshot adds up.
#[test]
fn every_snapshot_adds_up() {
    check(|| {
        let pool = ThreadPool::new(1);
        for _ in 0..2 {
            pool.execute(|| ())
                .expect("an unbounded pool takes every job");
        }
        assert_adds_up(pool.metrics());
        assert_adds_up(pool.metrics());
    });
}
// ANCHOR_END: metrics-model

// ANCHOR: joiners-model
/// One worker, two jobs, two threads in `join`: in every interleaving, neither returns before
/// both jobs have run, and then the metrics count both as completed.
#[test]
fn join_waits_for_every_job_in_every_joiner() {
    check(|| {
        let pool = Arc::new(ThreadPool::new(1));
        let runs = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        for job in 0..2 {
            let runs = Arc::clone(&runs);
            pool.execute(move || {
                runs[job].fetch_add(1, Ordering::Relaxed);
            })
            .expect("an unbounded pool takes every job");
        }
        let all_ran = |runs: &[AtomicUsize; 2]| runs.iter().all(|r| r.load(Ordering::Relaxed) == 1);
        let (other_pool, other_runs) = (Arc::clone(&pool), Arc::clone(&runs));
        let joiner = poolbook_sync::thread::spawn(move || {
            other_pool.join();
            assert!(
                all_ran(&other_runs),
                "join returned before every job had run"
            );
        });
        pool.join();
        assert!(all_ran(&runs), "join returned before every job had run");
        joiner.join().expect("the other joiner returns");
        let metrics = pool.metrics();
        assert_eq!(
            (metrics.completed, metrics.active, metrics.queued),
            (2, 0, 0)
        );
    });
}
// ANCHOR_END: joiners-model

// ANCHOR: shutdown-model
/// Two workers, two jobs, then `shutdown` with a timeout no run reaches: in every interleaving it
/// returns `Ok` only once both jobs have run and both workers have left their loops.
#[test]
fn shutdown_returns_once_every_worker_has_exited() {
    check(|| {
        let pool = ThreadPool::new(2);
        let runs = Arc::new(AtomicUsize::new(0));
        for _ in 0..2 {
            let runs = Arc::clone(&runs);
            pool.execute(move || {
                runs.fetch_add(1, Ordering::Relaxed);
            })
            .expect("an unbounded pool takes every job");
        }
        assert_eq!(pool.shutdown(std::time::Duration::from_secs(3600)), Ok(()));
        assert_eq!(
            runs.load(Ordering::Relaxed),
            2,
            "every job ran before shutdown returned"
        );
    });
}
// ANCHOR_END: shutdown-model

/// One worker held, the queue full, so a third job runs on its caller while a thread waits in
/// `join`. Whichever finishes last, the worker's second job or the caller's own, must wake the
/// joiner: in every interleaving, `join` returns, and only after all three jobs.
#[test]
fn join_waits_for_a_job_its_caller_runs() {
    check(|| {
        let pool = Arc::new(
            ThreadPool::builder()
                .threads(1)
                .capacity(1)
                .policy(Policy::CallerRuns)
                .build()
                .expect("the pool starts"),
        );
        let (started, release) = (Arc::new(Tally::new()), Arc::new(Tally::new()));
        let (start, held) = (Arc::clone(&started), Arc::clone(&release));
        pool.execute(move || {
            start.add();
            held.wait_for(1);
        })
        .expect("room for the first job");
        started.wait_for(1);
        let ran = Arc::new(AtomicUsize::new(0));
        let queued = Arc::clone(&ran);
        pool.execute(move || {
            queued.fetch_add(1, Ordering::Relaxed);
        })
        .expect("room for the second job");
        let (other_pool, other_ran) = (Arc::clone(&pool), Arc::clone(&ran));
        let joiner = poolbook_sync::thread::spawn(move || {
            other_pool.join();
            assert_eq!(
                other_ran.load(Ordering::Relaxed),
                11,
                "join returned before every job had run"
            );
        });
        let mine = Arc::clone(&ran);
        // The queue is full: this job runs here, and lets the first one go.
        pool.execute(move || {
            release.add();
            mine.fetch_add(10, Ordering::Relaxed);
        })
        .expect("run by its caller");
        joiner.join().expect("the joiner returns");
    });
}
