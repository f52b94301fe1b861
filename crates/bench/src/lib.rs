//! What poolbook's thread pool costs per job, next to the alternatives, on empty jobs.
//!
//! Every variant runs the same workload: submit N jobs, each of which only counts itself on a
//! shared [`Countdown`], then wait until all of them have run. What is left is the cost of handing
//! a job to another thread and running it there. [`Variant::run`] measures one variant once;
//! [`report::measure`] runs all of them interleaved in rounds and keeps each one's median, and a
//! [`report::Report`] compares the medians as ratios: absolute nanoseconds per job shift between
//! runs of the same program on the same machine, ratios within one run much less.
//!
//! Pools and the floor's consumer thread are created before the clock starts and stopped after it
//! stops, so only per-job cost is measured; the one exception is [`Variant::PoolDrop`], where
//! stopping the pool is how it waits (joining two threads is noise next to 100,000 jobs).

pub mod report;

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, mpsc};
use std::thread;
use std::time::{Duration, Instant};

// The pool stage under test: the one line (with `POOL_STAGE` and the dependency in Cargo.toml)
// to change when a later stage should be measured instead.
use ch06_graceful_shutdown::pool as pool_stage;

/// The package of the pool stage under test, for the report.
pub const POOL_STAGE: &str = "ch06-graceful-shutdown";

/// Whether dropping the stage's pool waits for its queued jobs and joins its workers, so that
/// [`Variant::PoolDrop`] measures something. True from ch06 on; before, dropping only detached
/// the workers.
const DROP_JOINS: bool = true;

/// Worker threads in each pool: one per core of the 2-core machines the book's figures come from.
pub const WORKERS: usize = 2;

/// How long a variant may take to see all its jobs run before it reports the ones missing. Only a
/// watchdog, turning a lost job into an error instead of a hang; a healthy run of the largest
/// allowed N takes well under a second per variant.
pub const WATCHDOG: Duration = Duration::from_secs(120);

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

    /// Counts one job: the whole body of every benchmark job.
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

/// One way of running N jobs on other threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// poolbook's pool ([`POOL_STAGE`]) with [`WORKERS`] workers; waits on a [`Countdown`], so the
    /// pool outlives the measurement.
    Pool,
    /// poolbook's pool again, but `drop(pool)` is what waits: it drains the queue and joins the
    /// workers. Only from the stage whose `Drop` does that (ch06) on.
    PoolDrop,
    /// The `threadpool` crate's pool with [`WORKERS`] workers; waits with its `join()`.
    Threadpool,
    /// One `std::thread` per job, then a `join` of each.
    ThreadPerJob,
    /// The floor: a raw `std::sync::mpsc` channel of boxed jobs to one consumer thread, which
    /// runs them; waits on a [`Countdown`]. A pool cannot hand over a job for less.
    ChannelFloor,
}

impl Variant {
    /// The variants this build measures, in report order.
    pub fn all() -> Vec<Variant> {
        let mut all = vec![Variant::Pool];
        if DROP_JOINS {
            all.push(Variant::PoolDrop);
        }
        all.extend([
            Variant::Threadpool,
            Variant::ThreadPerJob,
            Variant::ChannelFloor,
        ]);
        all
    }

    /// A short, stable name (the JSON output's key).
    pub fn name(self) -> &'static str {
        match self {
            Variant::Pool => "poolbook",
            Variant::PoolDrop => "poolbook+drop",
            Variant::Threadpool => "threadpool",
            Variant::ThreadPerJob => "thread-per-job",
            Variant::ChannelFloor => "mpsc-floor",
        }
    }

    /// What the variant does, in a line.
    pub fn description(self) -> &'static str {
        match self {
            Variant::Pool => "poolbook pool, 2 workers, wait on a counter + condvar",
            Variant::PoolDrop => "poolbook pool, 2 workers, drop(pool) drains and joins",
            Variant::Threadpool => "threadpool crate, ThreadPool::new(2) + join()",
            Variant::ThreadPerJob => "std::thread::spawn per job, then join each",
            Variant::ChannelFloor => "raw std mpsc of boxed jobs to 1 consumer thread",
        }
    }

    /// Runs `jobs` jobs this way once.
    ///
    /// # Errors
    ///
    /// If a thread cannot be created, a thread panicked, or not every job ran (within
    /// [`WATCHDOG`] where the variant waits on a [`Countdown`]).
    pub fn run(self, jobs: usize) -> io::Result<Measurement> {
        let measurement = match self {
            Variant::Pool => pool(jobs),
            Variant::PoolDrop => pool_drop(jobs),
            Variant::Threadpool => Ok(threadpool(jobs)),
            Variant::ThreadPerJob => thread_per_job(jobs),
            Variant::ChannelFloor => channel_floor(jobs),
        }?;
        measurement.all_ran(self)
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn pool(jobs: usize) -> io::Result<Measurement> {
    let pool = pool_stage::ThreadPool::build(WORKERS).map_err(io::Error::other)?;
    let done = Countdown::new(jobs);
    let start = Instant::now();
    for _ in 0..jobs {
        let done = Arc::clone(&done);
        pool.execute(move || done.job_ran());
    }
    let ran = done.wait(WATCHDOG);
    let elapsed = start.elapsed();
    drop(pool);
    Ok(Measurement { jobs, ran, elapsed })
}

fn pool_drop(jobs: usize) -> io::Result<Measurement> {
    let pool = pool_stage::ThreadPool::build(WORKERS).map_err(io::Error::other)?;
    let done = Countdown::new(jobs);
    let start = Instant::now();
    for _ in 0..jobs {
        let done = Arc::clone(&done);
        pool.execute(move || done.job_ran());
    }
    drop(pool);
    let elapsed = start.elapsed();
    // No waiting here: a `Drop` that drains the queue leaves nothing to wait for.
    Ok(Measurement {
        jobs,
        ran: done.count(),
        elapsed,
    })
}

fn threadpool(jobs: usize) -> Measurement {
    let pool = threadpool::ThreadPool::new(WORKERS);
    let done = Countdown::new(jobs);
    let start = Instant::now();
    for _ in 0..jobs {
        let done = Arc::clone(&done);
        pool.execute(move || done.job_ran());
    }
    pool.join();
    let elapsed = start.elapsed();
    Measurement {
        jobs,
        ran: done.count(),
        elapsed,
    }
}

fn thread_per_job(jobs: usize) -> io::Result<Measurement> {
    let done = Countdown::new(jobs);
    let mut handles = Vec::with_capacity(jobs);
    let mut spawn_error = None;
    let start = Instant::now();
    for _ in 0..jobs {
        let done = Arc::clone(&done);
        match thread::Builder::new().spawn(move || done.job_ran()) {
            Ok(handle) => handles.push(handle),
            Err(e) => {
                spawn_error = Some(e);
                break;
            }
        }
    }
    let mut panicked = false;
    for handle in handles {
        panicked |= handle.join().is_err();
    }
    let elapsed = start.elapsed();
    if let Some(e) = spawn_error {
        return Err(io::Error::new(
            e.kind(),
            format!("thread-per-job: cannot create a thread: {e}"),
        ));
    }
    if panicked {
        return Err(io::Error::other("thread-per-job: a job's thread panicked"));
    }
    Ok(Measurement {
        jobs,
        ran: done.count(),
        elapsed,
    })
}

/// A job as the floor's channel carries it: boxed, like a pool's.
type Job = Box<dyn FnOnce() + Send + 'static>;

fn channel_floor(jobs: usize) -> io::Result<Measurement> {
    let (sender, receiver) = mpsc::channel::<Job>();
    let consumer = thread::Builder::new()
        .name("floor-consumer".to_owned())
        .spawn(move || {
            for job in receiver {
                job();
            }
        })?;
    let done = Countdown::new(jobs);
    let start = Instant::now();
    for _ in 0..jobs {
        let done = Arc::clone(&done);
        if sender.send(Box::new(move || done.job_ran())).is_err() {
            break; // The consumer is gone (it panicked); the count says how many ran.
        }
    }
    let ran = done.wait(WATCHDOG);
    let elapsed = start.elapsed();
    drop(sender);
    if consumer.join().is_err() {
        return Err(io::Error::other("mpsc-floor: the consumer thread panicked"));
    }
    Ok(Measurement { jobs, ran, elapsed })
}
