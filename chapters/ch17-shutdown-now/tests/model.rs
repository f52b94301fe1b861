//! Random sequences of operations on a real pool, checked against a sequential model of what
//! each operation may do.
//!
//! A pool's exact behaviour depends on timing (whether a worker has taken a job yet decides
//! whether the next one finds the queue full), so the model does not predict one outcome: it
//! says which outcomes are allowed, and what must add up whatever happened. Every accepted job
//! runs exactly once or is handed back by `shutdown_now`, never both; every rejected job comes
//! back to the caller unrun; the panic count equals the panicking jobs that ran; the metrics
//! add up.
//!
//! 10,000 cases by default; set `PROPTEST_CASES` for more (or fewer).

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ch17_shutdown_now::pool::{JobHandle, Metrics, Policy, Rejected, ThreadPool};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// The message of every panic the test causes on purpose; the panic hook stays quiet for it.
const ON_PURPOSE: &str = "a job panicked, on purpose";

// ANCHOR: ops
/// One step of a scenario, done by the test's thread.
#[derive(Debug, Clone, Copy)]
enum Op {
    /// `execute` a job, which panics if `panics`.
    Execute { panics: bool },
    /// `try_execute` a job.
    TryExecute { panics: bool },
    /// `spawn` a job, keeping its handle.
    Spawn { panics: bool },
    /// `join`: wait until the pool is idle.
    Join,
    /// `close`: later submissions must come back `Closed`.
    Close,
}

/// How a scenario ends.
#[derive(Debug, Clone, Copy)]
enum End {
    /// Drop the pool.
    Drop,
    /// `shutdown` with a timeout no job comes near.
    Shutdown,
    /// `shutdown_now`, then run the jobs it hands back (`true`) or drop them (`false`).
    ShutdownNow { run_returned: bool },
}

#[derive(Debug, Clone)]
struct Scenario {
    threads: usize,
    capacity: usize,
    policy: Policy,
    ops: Vec<Op>,
    end: End,
}
// ANCHOR_END: ops

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => any::<bool>().prop_map(|panics| Op::Execute { panics }),
        3 => any::<bool>().prop_map(|panics| Op::TryExecute { panics }),
        3 => any::<bool>().prop_map(|panics| Op::Spawn { panics }),
        1 => Just(Op::Join),
        1 => Just(Op::Close),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let policy = prop_oneof![
        Just(Policy::Block),
        Just(Policy::Reject),
        Just(Policy::CallerRuns)
    ];
    let end = prop_oneof![
        Just(End::Drop),
        Just(End::Shutdown),
        any::<bool>().prop_map(|run_returned| End::ShutdownNow { run_returned }),
    ];
    (
        1..=3_usize,
        1..=4_usize,
        policy,
        prop::collection::vec(op(), 0..24),
        end,
    )
        .prop_map(|(threads, capacity, policy, ops, end)| Scenario {
            threads,
            capacity,
            policy,
            ops,
            end,
        })
}

/// What became of a submission, as the model tracks it.
enum Submitted {
    Accepted,
    /// Handed back: the job itself, to run at the end and so prove it is the real, unrun job.
    Rejected(Box<dyn FnOnce() + Send>),
}

/// Everything the test knows about one job.
struct Job {
    /// The number of the operation that submitted it: its slot in `runs`.
    id: usize,
    panics: bool,
    /// `execute`d or `try_execute`d (its panic is counted), rather than `spawn`ed.
    counted: bool,
    submitted: Submitted,
    handle: Option<JobHandle<usize>>,
}

/// The job numbered `id`: counts its run in `runs[id]`, then panics or returns `id`.
fn job(id: usize, panics: bool, runs: &Arc<Vec<AtomicUsize>>) -> impl FnOnce() -> usize + use<> {
    let runs = Arc::clone(runs);
    move || {
        runs[id].fetch_add(1, Ordering::SeqCst);
        assert!(!panics, "{ON_PURPOSE}");
        id
    }
}

/// Checks that a submission's outcome is one the model allows.
fn check_outcome<F>(
    outcome: Result<(), Rejected<F>>,
    closed: bool,
    may_be_full: bool,
) -> Result<Option<F>, TestCaseError> {
    match outcome {
        Ok(()) => {
            prop_assert!(!closed, "a closed pool accepted a job");
            Ok(None)
        }
        Err(Rejected::Closed(f)) => {
            prop_assert!(closed, "an open pool answered Closed");
            Ok(Some(f))
        }
        Err(Rejected::Full(f)) => {
            prop_assert!(!closed, "a closed pool answered Full");
            prop_assert!(may_be_full, "Full where the policy never hands a job back");
            Ok(Some(f))
        }
    }
}

/// The snapshot's figures agree with each other, and with what the test submitted.
fn check_adds_up(
    metrics: Metrics,
    jobs: &[Job],
    threads: usize,
    closed: bool,
) -> Result<(), TestCaseError> {
    let accepted = jobs
        .iter()
        .filter(|job| matches!(job.submitted, Submitted::Accepted))
        .count() as u64;
    prop_assert_eq!(metrics.accepted, accepted);
    prop_assert_eq!(metrics.rejected, jobs.len() as u64 - accepted);
    prop_assert_eq!(
        metrics.accepted,
        metrics.queued as u64
            + metrics.active as u64
            + metrics.completed
            + metrics.panicked
            + metrics.cancelled
    );
    // Workers exit once the pool is closed and its queue empty; never before.
    if closed {
        prop_assert!(metrics.threads <= threads);
    } else {
        prop_assert_eq!(metrics.threads, threads);
    }
    // The only submitter is this thread, which is not running a job: every active job is on a
    // worker.
    prop_assert_eq!(metrics.idle + metrics.active, metrics.threads);
    Ok(())
}

/// Once the pool is idle: every accepted job has run once, and the counts are exact.
fn check_idle(metrics: Metrics, jobs: &[Job], runs: &[AtomicUsize]) -> Result<(), TestCaseError> {
    prop_assert_eq!((metrics.queued, metrics.active), (0, 0));
    let mut panicked = 0;
    for job in jobs {
        if matches!(job.submitted, Submitted::Accepted) {
            prop_assert_eq!(runs[job.id].load(Ordering::SeqCst), 1, "job {}", job.id);
            panicked += u64::from(job.panics && job.counted);
        }
    }
    prop_assert_eq!(metrics.panicked, panicked);
    prop_assert_eq!(
        metrics.completed + metrics.panicked,
        metrics.accepted,
        "nothing is cancelled before the end"
    );
    Ok(())
}

// ANCHOR: run
fn run(scenario: &Scenario) -> Result<(), TestCaseError> {
    let pool = ThreadPool::builder()
        .threads(scenario.threads)
        .capacity(scenario.capacity)
        .policy(scenario.policy)
        .build()
        .expect("the pool starts");
    let runs: Arc<Vec<AtomicUsize>> =
        Arc::new(scenario.ops.iter().map(|_| AtomicUsize::new(0)).collect());
    let mut jobs: Vec<Job> = Vec::new();
    let mut closed = false;
    let rejects = scenario.policy == Policy::Reject;

    for (id, op) in scenario.ops.iter().enumerate() {
        let (panics, counted, submitted, handle) = match *op {
            Op::Execute { panics } | Op::TryExecute { panics } => {
                let f = job(id, panics, &runs);
                let task = move || {
                    f();
                };
                let (outcome, may_be_full) = match op {
                    Op::Execute { .. } => (pool.execute(task), rejects),
                    _ => (pool.try_execute(task), true),
                };
                let submitted = match check_outcome(outcome, closed, may_be_full)? {
                    None => Submitted::Accepted,
                    Some(task) => Submitted::Rejected(Box::new(task)),
                };
                (panics, true, submitted, None)
            }
            Op::Spawn { panics } => match pool.spawn(job(id, panics, &runs)) {
                Ok(handle) => {
                    prop_assert!(!closed, "a closed pool accepted a job");
                    (panics, false, Submitted::Accepted, Some(handle))
                }
                Err(rejected) => {
                    let f = check_outcome(Err(rejected), closed, rejects)?
                        .expect("an error hands the job back");
                    let task = move || assert_eq!(f(), id, "the spawned closure itself came back");
                    (panics, false, Submitted::Rejected(Box::new(task)), None)
                }
            },
            Op::Join => {
                pool.join();
                check_idle(pool.metrics(), &jobs, &runs)?;
                continue;
            }
            Op::Close => {
                pool.close();
                closed = true;
                continue;
            }
        };
        jobs.push(Job {
            id,
            panics,
            counted,
            submitted,
            handle,
        });
        check_adds_up(pool.metrics(), &jobs, scenario.threads, closed)?;
    }
    // ANCHOR_END: run

    // ANCHOR: end
    let unstarted = match scenario.end {
        End::Drop | End::Shutdown => {
            pool.close();
            pool.join();
            check_idle(pool.metrics(), &jobs, &runs)?;
            if matches!(scenario.end, End::Drop) {
                drop(pool);
            } else {
                prop_assert_eq!(pool.shutdown(Duration::from_secs(60)), Ok(()));
            }
            Vec::new()
        }
        End::ShutdownNow { .. } => {
            let stopped = pool.shutdown_now();
            // The final metrics count the jobs handed back, and still add up.
            let metrics = stopped.metrics;
            prop_assert_eq!(metrics.cancelled, stopped.unstarted.len() as u64);
            prop_assert_eq!((metrics.queued, metrics.active, metrics.threads), (0, 0, 0));
            prop_assert_eq!(
                metrics.accepted,
                metrics.completed + metrics.panicked + metrics.cancelled
            );
            stopped.unstarted
        }
    };
    // The pool is gone, and nothing runs any more: every accepted job ran exactly once, or is
    // among the unstarted ones; never both.
    let mut not_run = Vec::new();
    for &Job {
        id, ref submitted, ..
    } in &jobs
    {
        let count = runs[id].load(Ordering::SeqCst);
        match submitted {
            Submitted::Accepted if count == 0 => not_run.push(id),
            Submitted::Accepted => prop_assert_eq!(count, 1, "job {} ran more than once", id),
            Submitted::Rejected(_) => prop_assert_eq!(count, 0, "rejected job {} ran", id),
        }
    }
    prop_assert_eq!(not_run.len(), unstarted.len(), "unstarted: {:?}", not_run);
    let run_returned = !matches!(
        scenario.end,
        End::ShutdownNow {
            run_returned: false
        }
    );
    if run_returned {
        for unstarted in unstarted {
            let _ = panic::catch_unwind(AssertUnwindSafe(unstarted));
        }
    } else {
        drop(unstarted);
    }
    // ANCHOR_END: end

    for job in jobs {
        let id = job.id;
        let was_unstarted = not_run.contains(&id);
        if let Submitted::Rejected(task) = job.submitted {
            // The caller's own job, unrun until now: it runs, and panics only if it should.
            match panic::catch_unwind(AssertUnwindSafe(task)) {
                Ok(()) => prop_assert!(!job.panics),
                Err(payload) => {
                    prop_assert!(job.panics);
                    prop_assert_eq!(
                        payload.downcast_ref::<String>().map(String::as_str),
                        Some(ON_PURPOSE)
                    );
                }
            }
            prop_assert_eq!(runs[id].load(Ordering::SeqCst), 1, "rejected job {}", id);
        } else if was_unstarted {
            let expected = usize::from(run_returned);
            prop_assert_eq!(runs[id].load(Ordering::SeqCst), expected, "job {}", id);
        }
        if let Some(handle) = job.handle {
            match handle.join() {
                Ok(value) => {
                    prop_assert!(!job.panics);
                    prop_assert_eq!(value, id);
                }
                Err(error) if error.is_cancelled() => {
                    prop_assert!(was_unstarted && !run_returned, "job {} cancelled", id);
                }
                Err(error) => {
                    prop_assert!(job.panics);
                    prop_assert_eq!(error.message(), Some(ON_PURPOSE.to_owned()));
                }
            }
        }
    }
    Ok(())
}

/// Keeps the standard panic hook for every panic but the ones this test causes on purpose,
/// which would otherwise print tens of thousands of messages.
fn quiet_for_panics_on_purpose() {
    let standard = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied());
        if message != Some(ON_PURPOSE) {
            standard(info);
        }
    }));
}

fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 10_000;
    }
    config
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_job_runs_once_or_comes_back(scenario in scenario()) {
        static QUIET: std::sync::Once = std::sync::Once::new();
        QUIET.call_once(quiet_for_panics_on_purpose);
        run(&scenario)?;
    }
}
