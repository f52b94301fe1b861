//! What poolbook's thread pool costs per job, next to the alternatives, on empty and small jobs.
//!
//! Every variant runs the same workload: submit N jobs, each of which does its [`Workload`]'s work
//! (none, or a [`small_job`]) and then counts itself on a shared [`Countdown`], and wait until all
//! of them have run. On empty jobs what is left is the cost of handing a job to another thread
//! and running it there; on small jobs, whether that cost still shows next to real work, and
//! whether the two workers share the work. [`Variant::run`] measures one variant on one workload
//! once; [`report::measure`] runs every pair interleaved in rounds and keeps each one's median,
//! and a [`report::Report`] compares the medians as ratios: absolute nanoseconds per job shift
//! between runs of the same program on the same machine, ratios within one run much less.
//!
//! Pools and the floor's consumer thread are created before the clock starts and stopped after it
//! stops, so only per-job cost is measured.

pub mod report;
mod variants;

use std::fmt;
use std::hint::black_box;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

/// Worker threads in each pool: one per core of the 2-core machines the book's figures come
/// from.
pub const WORKERS: usize = 2;

/// How long a variant may take to see all its jobs run before it reports the ones missing. Only a
/// watchdog, turning a lost job into an error instead of a hang; a healthy run of the largest
/// allowed N takes a few seconds per variant at most.
pub const WATCHDOG: Duration = Duration::from_secs(120);

/// Steps of [`small_job`]'s computation: about a microsecond on the 2-core machine the book's
/// figures come from. A fixed count rather than one calibrated at start-up, so that every run
/// (and every machine) does the same work; the report's `inline` row shows what it cost there.
pub const SMALL_JOB_STEPS: u32 = 500;

/// A small job's work: [`SMALL_JOB_STEPS`] steps of a xorshift generator, each depending on the
/// one before, so they cannot overlap.
///
/// The seed goes through [`black_box`], so the compiler cannot compute the result ahead of time,
/// and so does the result, so it cannot drop the computation as unused.
pub fn small_job() {
    let mut x = black_box(0x9E37_79B9_7F4A_7C15_u64);
    for _ in 0..SMALL_JOB_STEPS {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    black_box(x);
}

/// What each job does before counting itself; the same in every variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Workload {
    /// Nothing: the job only counts itself, so only the hand-off is measured.
    Empty,
    /// A [`small_job`] (about a microsecond of arithmetic), then the count.
    Small,
}

impl Workload {
    /// The workloads this build measures, in report order.
    pub fn all() -> [Workload; 2] {
        [Workload::Empty, Workload::Small]
    }

    /// A short, stable name (the JSON output's key).
    pub fn name(self) -> &'static str {
        match self {
            Workload::Empty => "empty",
            Workload::Small => "small",
        }
    }

    /// What each job does, in a line.
    pub fn description(self) -> String {
        match self {
            Workload::Empty => "empty jobs: each only counts itself".to_owned(),
            Workload::Small => format!(
                "small jobs: {SMALL_JOB_STEPS} dependent xorshift steps behind black_box, \
                 then the count"
            ),
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What one run of one variant saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Measurement {
    /// Jobs submitted.
    pub jobs: usize,
    /// Jobs that had run when the variant stopped waiting: equal to `jobs` unless one was lost.
    pub ran: usize,
    /// From the first submission until the variant knew every job had run.
    pub elapsed: Duration,
}

impl Measurement {
    /// Nanoseconds per job; zero for zero jobs.
    pub fn ns_per_job(&self) -> f64 {
        if self.jobs == 0 {
            return 0.0;
        }
        self.elapsed.as_nanos() as f64 / self.jobs as f64
    }

    /// An error unless every submitted job ran.
    fn all_ran(self, variant: Variant) -> io::Result<Measurement> {
        if self.ran == self.jobs {
            Ok(self)
        } else {
            Err(io::Error::other(format!(
                "{}: only {} of {} jobs ran",
                variant.name(),
                self.ran,
                self.jobs
            )))
        }
    }
}

/// A counter of finished jobs that a thread can wait on until it reaches a target.
///
/// Each job is one atomic increment; only the job that reaches the target takes the lock, to wake
/// the waiter. The waiter checks the count under the same lock, so that wake-up cannot be lost.
#[derive(Debug)]
pub struct Countdown {
    target: usize,
    ran: AtomicUsize,
    lock: Mutex<()>,
    all_ran: Condvar,
}

impl Countdown {
    /// A countdown that is complete once `target` jobs have called [`Countdown::job_ran`].
    pub fn new(target: usize) -> Arc<Countdown> {
        Arc::new(Countdown {
            target,
            ran: AtomicUsize::new(0),
            lock: Mutex::new(()),
            all_ran: Condvar::new(),
        })
    }

    /// Counts one job: the last thing every benchmark job does.
    pub fn job_ran(&self) {
        if self.ran.fetch_add(1, Ordering::AcqRel) + 1 == self.target {
            let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            self.all_ran.notify_all();
        }
    }

    /// Jobs counted so far.
    pub fn count(&self) -> usize {
        self.ran.load(Ordering::Acquire)
    }

    /// Waits until the target is reached or `watchdog` has passed, and returns the count.
    pub fn wait(&self, watchdog: Duration) -> usize {
        let guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let (_guard, _timeout) = self
            .all_ran
            .wait_timeout_while(guard, watchdog, |()| self.count() < self.target)
            .unwrap_or_else(PoisonError::into_inner);
        self.count()
    }
}

/// One way of running N jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// poolbook's most advanced pool stage ([`Variant::package`]) with [`WORKERS`] workers and an
    /// unbounded queue; waits on a [`Countdown`]. The baseline of every ratio.
    Final,
    /// Stage 17, the final pool before its waiting refinements (stage 18: notify only when someone
    /// waits, watch before sleeping), with [`WORKERS`] workers and an unbounded queue; waits on a
    /// [`Countdown`]. What those refinements save.
    Stage17,
    /// Stage 6, the Rust Book's pool finished (`Mutex<mpsc::Receiver>`, graceful `Drop`), with
    /// [`WORKERS`] workers; waits on a [`Countdown`]. What the later stages' features cost.
    Stage6,
    /// The `threadpool` crate's pool with [`WORKERS`] workers; waits with its `join()`.
    Threadpool,
    /// A `rayon::ThreadPool` of [`WORKERS`] threads, `spawn` per job; waits on a [`Countdown`].
    Rayon,
    /// One `std::thread` per job, then a `join` of each.
    ThreadPerJob,
    /// The floor: a raw `std::sync::mpsc` channel of boxed jobs to one consumer thread, which
    /// runs them; waits on a [`Countdown`]. On empty jobs, the bare hand-off a pool's queue is
    /// built on; on small jobs its one consumer does all the work, so pools sharing it beat it.
    ChannelFloor,
    /// No other thread: each job runs on the submitting thread as soon as it is made. What the
    /// job itself costs, to read the others against (on small jobs, two workers sharing the work
    /// perfectly would take half of this).
    Inline,
}

impl Variant {
    /// The variants this build measures, in report order.
    pub fn all() -> [Variant; 8] {
        [
            Variant::Final,
            Variant::Stage17,
            Variant::Stage6,
            Variant::Threadpool,
            Variant::Rayon,
            Variant::ThreadPerJob,
            Variant::ChannelFloor,
            Variant::Inline,
        ]
    }

    /// A short, stable name (the JSON output's key).
    pub fn name(self) -> &'static str {
        match self {
            Variant::Final => "final",
            Variant::Stage17 => "stage17",
            Variant::Stage6 => "stage6",
            Variant::Threadpool => "threadpool",
            Variant::Rayon => "rayon",
            Variant::ThreadPerJob => "thread-per-job",
            Variant::ChannelFloor => "mpsc-floor",
            Variant::Inline => "inline",
        }
    }

    /// The poolbook package a pool stage's variant measures, such as `ch06-graceful-shutdown`;
    /// `None` for the others.
    pub fn package(self) -> Option<String> {
        match self {
            Variant::Final => Some(variants::final_stage_package()),
            Variant::Stage17 => Some(variants::stage17_package()),
            Variant::Stage6 => Some(variants::stage6_package()),
            _ => None,
        }
    }

    /// What the variant does, in a line.
    pub fn description(self) -> String {
        let package = self.package().unwrap_or_default();
        match self {
            Variant::Final => format!(
                "{package}, ThreadPool::new({WORKERS}) (unbounded), execute, \
                 wait on a counter + condvar"
            ),
            Variant::Stage17 => format!(
                "{package}, ThreadPool::new({WORKERS}) (unbounded), execute, \
                 wait on a counter + condvar"
            ),
            Variant::Stage6 => format!(
                "{package}, ThreadPool::build({WORKERS}), execute, wait on a counter + condvar"
            ),
            Variant::Threadpool => format!("threadpool crate, ThreadPool::new({WORKERS}) + join()"),
            Variant::Rayon => format!(
                "rayon ThreadPoolBuilder::num_threads({WORKERS}), spawn, \
                 wait on a counter + condvar"
            ),
            Variant::ThreadPerJob => "std::thread::spawn per job, then join each".to_owned(),
            Variant::ChannelFloor => "raw std mpsc of boxed jobs to 1 consumer thread".to_owned(),
            Variant::Inline => "each job run on the submitting thread, no hand-off".to_owned(),
        }
    }

    /// Runs `jobs` jobs of `workload` this way once.
    ///
    /// # Errors
    ///
    /// If a pool or thread cannot be created, a thread panicked, a pool refused a job, or not
    /// every job ran (within [`WATCHDOG`] where the variant waits on a [`Countdown`]).
    ///
    /// # Panics
    ///
    /// If [`Variant::Final`]'s pool cannot create its workers (its `ThreadPool::new` panics).
    pub fn run(self, workload: Workload, jobs: usize) -> io::Result<Measurement> {
        // One monomorphised copy per workload, so an empty job is a closure that only counts,
        // with no branch on the workload and no function pointer to call.
        let measurement = match workload {
            Workload::Empty => variants::run(self, jobs, || {}),
            Workload::Small => variants::run(self, jobs, small_job),
        }?;
        measurement.all_ran(self)
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
