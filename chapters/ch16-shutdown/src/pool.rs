//! The thread pool: workers that take jobs from the pool's own queue (`src/queue.rs`), which may
//! have a limit, with a [`Policy`] for a job that finds it full; workers that survive jobs that
//! panic; job handles that return each job's result; [`ThreadPool::close`], which any thread
//! sharing the pool may call; and a `Drop` that shuts the pool down gracefully.

use std::any::Any;
use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use poolbook_sync::{Arc, mpsc, thread};

pub use crate::builder::Builder;
use crate::queue::Queue;

// ANCHOR: job
/// A job: any closure that can run once, on another thread, and borrows nothing.
pub(crate) type Job = Box<dyn FnOnce() + Send + 'static>;
// ANCHOR_END: job

// ANCHOR: policy
/// What [`ThreadPool::execute`] and [`ThreadPool::spawn`] do with a job that finds the queue
/// full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Wait until a worker takes a job from the queue and there is room (back-pressure: a
    /// producer that outpaces the workers is slowed to their pace).
    Block,
    /// Hand the job back to the caller at once, as [`Rejected::Full`]: the caller decides what
    /// to do with it (answer "busy", retry later, drop it). Nothing is lost without its knowing.
    Reject,
    /// Run the job on the calling thread, before returning (back-pressure again: a caller busy
    /// running a job submits nothing else meanwhile).
    CallerRuns,
}
// ANCHOR_END: policy

// ANCHOR: rejected
/// A job the pool did not take, handed back to the caller unrun.
///
/// `F` is the caller's own closure type, so the job can be retried, run elsewhere, or dropped.
pub enum Rejected<F> {
    /// The queue was full (under [`Policy::Reject`], or from [`ThreadPool::try_execute`]).
    Full(F),
    /// The pool was closed ([`ThreadPool::close`]): it takes no new jobs.
    Closed(F),
}

impl<F> Rejected<F> {
    /// The job, unrun.
    pub fn into_job(self) -> F {
        match self {
            Rejected::Full(job) | Rejected::Closed(job) => job,
        }
    }

    /// Whether the job was turned away because the queue was full (and might fit later).
    pub fn is_full(&self) -> bool {
        matches!(self, Rejected::Full(_))
    }

    /// Whether the job was turned away because the pool is closed (and never will fit).
    pub fn is_closed(&self) -> bool {
        matches!(self, Rejected::Closed(_))
    }
}

// A closure is not `Debug`, so neither `derive` nor `Result::unwrap` would work without this.
impl<F> fmt::Debug for Rejected<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejected::Full(_) => f.write_str("Full(..)"),
            Rejected::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<F> fmt::Display for Rejected<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejected::Full(_) => f.write_str("the pool's queue is full"),
            Rejected::Closed(_) => f.write_str("the pool is closed"),
        }
    }
}

impl<F> std::error::Error for Rejected<F> {}
// ANCHOR_END: rejected

// ANCHOR: metrics
/// A snapshot of the pool, taken in one visit to the queue's lock, so its figures agree with
/// each other: `accepted == queued + active + completed + panicked` always holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Metrics {
    /// Worker threads still running (all of them, until the pool shuts down).
    pub threads: usize,
    /// Jobs waiting for a worker.
    pub queued: usize,
    /// Jobs running: on a worker, or on a submitting thread under [`Policy::CallerRuns`].
    pub active: usize,
    /// Worker threads not running a job.
    pub idle: usize,
    /// Jobs the pool took: queued, or run on the caller under [`Policy::CallerRuns`].
    pub accepted: u64,
    /// Jobs that returned. A [`spawn`](ThreadPool::spawn)ed job that panicked counts here: its
    /// panic is its handle's to report.
    pub completed: u64,
    /// Jobs that panicked (the same figure as [`ThreadPool::panic_count`]).
    pub panicked: u64,
    /// Jobs handed back to their submitter ([`Rejected`]), full or closed.
    pub rejected: u64,
}
// ANCHOR_END: metrics

// ANCHOR: timed-out
/// [`ThreadPool::shutdown`]'s timeout passed before every worker had exited.
///
/// The workers still running are let go of: they finish the job in hand and whatever was
/// queued, then exit on their own. A process that exits meanwhile ends them mid-job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownTimedOut {
    /// Jobs still running when the timeout passed.
    pub running: usize,
    /// Jobs still queued when the timeout passed.
    pub queued: usize,
}

impl fmt::Display for ShutdownTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the pool's shutdown timed out with {} jobs running and {} queued",
            self.running, self.queued
        )
    }
}

impl std::error::Error for ShutdownTimedOut {}
// ANCHOR_END: timed-out

// ANCHOR: thread-pool
/// A fixed number of threads that run jobs handed to [`ThreadPool::execute`].
///
/// Dropping the pool shuts it down gracefully and waits for that to finish: see the `Drop`
/// implementation.
pub struct ThreadPool {
    workers: Vec<Worker>,
    /// The jobs waiting for a worker: the pool pushes, the workers pop, `close` and `drop` close.
    queue: Arc<Queue>,
    /// What to do with a job that finds the queue full.
    policy: Policy,
    /// Runs jobs and reports their panics: the workers share it, and the pool uses it for jobs
    /// run on their caller.
    runner: Arc<Runner>,
}
// ANCHOR_END: thread-pool

// ANCHOR: job-panic
/// A job that panicked, as the pool reports it to a panic hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobPanic {
    /// The worker that ran the job (it survived, and goes on with the next job), or `None` if
    /// the job ran on the thread that submitted it ([`Policy::CallerRuns`]).
    pub worker: Option<usize>,
    /// The panic's message, when its payload was a string (as `panic!` makes it).
    pub message: Option<String>,
}
// ANCHOR_END: job-panic

/// A function the pool calls for every job that panics.
pub(crate) type PanicHook = Box<dyn Fn(&JobPanic) + Send + Sync + 'static>;

// ANCHOR: runner
/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finished {
    Returned,
    Panicked,
}

/// Runs jobs for the pool: catches a job's panic and reports it to the panic hook, if there is
/// one. Shared by the pool (for jobs run on their caller) and its workers.
pub(crate) struct Runner {
    hook: Option<PanicHook>,
}

impl Runner {
    /// Runs `job`, catching a panic and reporting it: on worker `worker`, or on the submitting
    /// thread when `worker` is `None`.
    pub(crate) fn run(&self, job: Job, worker: Option<usize>) -> Finished {
        let Err(payload) = panic::catch_unwind(AssertUnwindSafe(job)) else {
            return Finished::Returned;
        };
        self.job_panicked(worker, payload);
        Finished::Panicked
    }

    /// Tells the hook that a job panicked with `payload`, then drops the payload.
    ///
    /// Neither the hook nor the payload is trusted: a hook that panics, or a job's payload whose
    /// `Drop` does, is caught here too and does not take the worker down.
    fn job_panicked(&self, worker: Option<usize>, payload: Box<dyn Any + Send>) {
        if let Some(hook) = &self.hook {
            let report = JobPanic {
                worker,
                message: panic_message(payload.as_ref()),
            };
            let _ = panic::catch_unwind(AssertUnwindSafe(|| hook(&report)));
        }
        let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(payload)));
    }
}
// ANCHOR_END: runner

/// The message of a panic whose payload is a string, as `panic!` with a message makes it.
fn panic_message(payload: &(dyn Any + Send)) -> Option<String> {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        Some((*message).to_owned())
    } else {
        payload.downcast_ref::<String>().cloned()
    }
}
// ANCHOR_END: panics

// ANCHOR: error
/// Why a [`ThreadPool`] could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum PoolCreationError {
    /// A pool needs at least one thread to run anything.
    ZeroThreads,
    /// A queue with no room could never take a job.
    ZeroCapacity,
    /// The operating system refused to create a worker's thread (too many threads, not enough
    /// memory for its stack, a resource limit).
    Spawn(io::Error),
}

impl fmt::Display for PoolCreationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolCreationError::ZeroThreads => {
                f.write_str("a thread pool needs at least one thread")
            }
            PoolCreationError::ZeroCapacity => {
                f.write_str("a thread pool's queue needs room for at least one job")
            }
            PoolCreationError::Spawn(_) => f.write_str("could not create a worker thread"),
        }
    }
}

impl std::error::Error for PoolCreationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PoolCreationError::ZeroThreads | PoolCreationError::ZeroCapacity => None,
            PoolCreationError::Spawn(e) => Some(e),
        }
    }
}
// ANCHOR_END: error

impl ThreadPool {
    // ANCHOR: new
    /// Creates a pool of `size` threads whose queue has no limit, with the builder's other
    /// defaults.
    ///
    /// # Panics
    ///
    /// If `size` is zero, or a thread cannot be created. Use [`ThreadPool::builder`] to handle
    /// those cases instead.
    pub fn new(size: usize) -> ThreadPool {
        match ThreadPool::builder().threads(size).build() {
            Ok(pool) => pool,
            Err(e) => panic!("ThreadPool::new({size}): {e}"),
        }
    }

    /// The settings of a new pool: see [`Builder`].
    pub fn builder() -> Builder {
        Builder::new()
    }
    // ANCHOR_END: new

    // ANCHOR: start
    /// Starts a pool of `size` workers, each on the thread `thread(id)` describes.
    pub(crate) fn start(
        size: usize,
        capacity: usize,
        policy: Policy,
        hook: Option<PanicHook>,
        thread: impl Fn(usize) -> thread::Builder,
    ) -> Result<ThreadPool, PoolCreationError> {
        if size == 0 {
            return Err(PoolCreationError::ZeroThreads);
        }
        if capacity == 0 {
            return Err(PoolCreationError::ZeroCapacity);
        }
        let mut pool = ThreadPool {
            workers: Vec::with_capacity(size),
            queue: Arc::new(Queue::new(capacity, size)),
            policy,
            runner: Arc::new(Runner { hook }),
        };
        for id in 0..size {
            let queue = Arc::clone(&pool.queue);
            let worker = Worker::spawn(id, thread(id), queue, Arc::clone(&pool.runner));
            // If a thread cannot be started, `?` drops the pool: `drop` closes the queue, and
            // the workers already started see it closed, leave, and are joined.
            pool.workers.push(worker.map_err(PoolCreationError::Spawn)?);
        }
        Ok(pool)
    }
    // ANCHOR_END: start

    // ANCHOR: metrics-fn
    /// A consistent snapshot of the pool's state and counters (out of date as soon as it is
    /// returned, if the pool is busy: a figure to report, not to decide on).
    pub fn metrics(&self) -> Metrics {
        self.queue.metrics()
    }
    // ANCHOR_END: metrics-fn

    /// How many jobs have panicked so far: [`Metrics::panicked`].
    ///
    /// A job's panic is counted before its worker takes its next job, so a caller that has seen
    /// a later job of the same worker finish also sees the count include it.
    pub fn panic_count(&self) -> u64 {
        self.metrics().panicked
    }

    /// How many jobs are waiting for a worker: [`Metrics::queued`].
    pub fn queued(&self) -> usize {
        self.metrics().queued
    }

    /// The most jobs that may wait at once (`usize::MAX` unless set with
    /// [`Builder::capacity`]).
    pub fn capacity(&self) -> usize {
        self.queue.capacity()
    }

    /// What the pool does with a job that finds the queue full.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    // ANCHOR: execute
    /// Queues `f` to run on one of the pool's threads; if the queue is full, the pool's
    /// [`Policy`] decides: wait for room, hand `f` back, or run it on this thread.
    ///
    /// A job that panics is caught, counted ([`ThreadPool::panic_count`]) and reported to the
    /// panic hook if there is one; the worker goes on with the next job.
    ///
    /// Under [`Policy::Block`], a *job* that submits to its own full pool can wait forever: if
    /// every worker is running such a job, each waits for room that only a worker can make. Jobs
    /// should submit with [`ThreadPool::try_execute`], or to a pool with another policy.
    ///
    /// # Errors
    ///
    /// [`Rejected::Closed`] with `f` if the pool is closed; [`Rejected::Full`] with `f` if the
    /// queue is full and the policy is [`Policy::Reject`].
    pub fn execute<F>(&self, f: F) -> Result<(), Rejected<F>>
    where
        F: FnOnce() + Send + 'static,
    {
        self.submit(f, self.policy, |f| Box::new(f))
    }
    // ANCHOR_END: execute

    /// Queues `f` if there is room, whatever the pool's policy: never waits, never runs `f` here.
    ///
    /// # Errors
    ///
    /// [`Rejected::Full`] with `f` if the queue is full, [`Rejected::Closed`] with `f` if the pool
    /// is closed: nothing is lost, the caller has its job back.
    pub fn try_execute<F>(&self, f: F) -> Result<(), Rejected<F>>
    where
        F: FnOnce() + Send + 'static,
    {
        self.submit(f, Policy::Reject, |f| Box::new(f))
    }

    // ANCHOR: spawn
    /// Queues `f` to run on one of the pool's threads, and returns a handle to its result; a
    /// full queue is handled as in [`ThreadPool::execute`].
    ///
    /// If `f` panics, the panic is caught and kept for [`JobHandle::join`], which returns it as
    /// a [`JobPanicked`]. Such a panic is the handle's to report, so unlike a panic in an
    /// [`execute`](ThreadPool::execute) job it is not counted in
    /// [`panic_count`](ThreadPool::panic_count) nor passed to the panic hook.
    ///
    /// Dropping the handle does not cancel the job; its result is then discarded.
    ///
    /// # Ordering
    ///
    /// Everything the caller did before `spawn` happens-before the job runs, and everything the
    /// job did happens-before `join` returns: a value written by the job is visible to the
    /// thread that joined it, without any further synchronisation.
    ///
    /// # Errors
    ///
    /// As [`ThreadPool::execute`]: `f` comes back unrun, and there is no handle.
    pub fn spawn<F, T>(&self, f: F) -> Result<JobHandle<T>, Rejected<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (sender, receiver) = mpsc::channel();
        self.submit(f, self.policy, move |f| {
            let sender = sender.clone();
            Box::new(move || {
                let result = panic::catch_unwind(AssertUnwindSafe(f));
                // The caller may have dropped the handle: then nobody wants the result.
                let _ = sender.send(result);
            })
        })?;
        Ok(JobHandle { receiver })
    }
    // ANCHOR_END: spawn

    // ANCHOR: submit
    /// Queues `f` under `policy`, made into a job by `into_job` only once it is certain to be
    /// queued or run, so that a job turned away is handed back as the caller's own `F`.
    fn submit<F>(
        &self,
        f: F,
        policy: Policy,
        into_job: impl Fn(F) -> Job,
    ) -> Result<(), Rejected<F>> {
        match self.queue.offer(f, policy, &into_job) {
            Ok(()) => Ok(()),
            Err(Rejected::Full(f)) if policy == Policy::CallerRuns => {
                // Caught like a worker's job: a panic here must not unwind into the caller.
                self.queue.run_on_caller(into_job(f), &self.runner);
                Ok(())
            }
            Err(rejected) => Err(rejected),
        }
    }
    // ANCHOR_END: submit

    // ANCHOR: join
    /// Waits until the pool is idle: every job accepted before the call (and any accepted
    /// meanwhile) has finished, and none is queued or running.
    ///
    /// Any number of threads may wait at once; all return once the pool is idle. The pool stays
    /// open: this is "wait for this batch", not a shutdown. A job that joins its own pool waits
    /// for itself, forever.
    pub fn join(&self) {
        self.queue.wait_until_idle();
    }
    // ANCHOR_END: join

    // ANCHOR: shutdown
    /// Closes the pool and waits, at most `timeout`, for the queued jobs to run and every worker
    /// to exit.
    ///
    /// # Errors
    ///
    /// [`ShutdownTimedOut`] if the timeout passed first. The pool is gone either way; workers
    /// still running then finish the job in hand and whatever was queued, and exit on their own.
    pub fn shutdown(mut self, timeout: Duration) -> Result<(), ShutdownTimedOut> {
        self.queue.close();
        // A timeout too far away to represent is no timeout at all.
        let deadline = Instant::now().checked_add(timeout);
        match self.queue.wait_until_exited(deadline) {
            // Every worker has left its loop; joining them only waits for their last return.
            Ok(()) => {
                self.join_workers();
                Ok(())
            }
            // Dropping the join handles lets the threads go: `Drop` will find none to join.
            Err((running, queued)) => {
                self.workers.clear();
                Err(ShutdownTimedOut { running, queued })
            }
        }
    }

    /// Joins every worker still held, reporting (not panicking about) one that died.
    fn join_workers(&mut self) {
        for worker in self.workers.drain(..) {
            if worker.thread.join().is_err() {
                eprintln!("{} had died", worker.name);
            }
        }
    }
    // ANCHOR_END: shutdown

    // ANCHOR: close-pool
    /// Stops taking jobs: every later submission returns [`Rejected::Closed`] with its job, and
    /// submitters waiting for room are woken and get theirs back. Jobs already queued still run.
    pub fn close(&self) {
        self.queue.close();
    }
    // ANCHOR_END: close-pool
}

// ANCHOR: job-handle
/// The result of a job started with [`ThreadPool::spawn`], once it has run.
#[derive(Debug)]
pub struct JobHandle<T> {
    receiver: mpsc::Receiver<std::thread::Result<T>>,
}

impl<T> JobHandle<T> {
    /// Waits for the job to finish and returns its value.
    ///
    /// # Errors
    ///
    /// [`JobPanicked`], holding the panic's payload, if the job panicked.
    ///
    /// # Panics
    ///
    /// If the pool dropped the job without running it, which this pool never does (its `Drop`
    /// runs every queued job).
    pub fn join(self) -> Result<T, JobPanicked> {
        match self.receiver.recv() {
            Ok(result) => result.map_err(|payload| JobPanicked { payload }),
            Err(_) => panic!("the pool dropped a job without running it"),
        }
    }
}

/// A job started with [`ThreadPool::spawn`] panicked; the panic's payload is kept.
pub struct JobPanicked {
    payload: Box<dyn Any + Send + 'static>,
}

impl JobPanicked {
    /// The panic's message, when its payload was a string (as `panic!` makes it).
    pub fn message(&self) -> Option<String> {
        panic_message(self.payload.as_ref())
    }

    /// The payload itself: to inspect it with `downcast`, or to carry the panic on into the
    /// caller's thread with `std::panic::resume_unwind`.
    pub fn into_payload(self) -> Box<dyn Any + Send + 'static> {
        self.payload
    }
}

impl fmt::Debug for JobPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobPanicked")
            .field("message", &self.message())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for JobPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.message() {
            Some(message) => write!(f, "the job panicked: {message}"),
            None => f.write_str("the job panicked"),
        }
    }
}

impl std::error::Error for JobPanicked {}
// ANCHOR_END: job-handle

// ANCHOR: drop
/// Shuts the pool down gracefully: no job is lost, and no thread is left behind.
///
/// 1. The queue is closed. Jobs already queued are **not** discarded: a worker's `next` keeps
///    returning them until the queue is empty, and only then returns `None`, at which point the
///    worker leaves its loop.
/// 2. Every worker is joined, so `drop` returns only when all queued jobs have run and every
///    worker's thread has exited.
///
/// A job that never returns therefore makes `drop` wait forever: the pool cannot interrupt a
/// running job (no Rust pool can). Workers survive panicking jobs, so `join` fails only if the
/// pool itself is broken; even then `drop` reports it rather than panicking, because a panic
/// inside `drop` while already unwinding would abort the process.
impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.queue.close();
        self.join_workers();
    }
}
// ANCHOR_END: drop

// ANCHOR: worker
/// One of the pool's threads, with the number the pool knows it by.
struct Worker {
    name: String,
    thread: thread::JoinHandle<()>,
}

impl Worker {
    /// Starts worker `id` on `thread`: it runs queued jobs until the queue is closed and empty,
    /// surviving any job that panics.
    fn spawn(
        id: usize,
        thread: thread::Builder,
        queue: Arc<Queue>,
        runner: Arc<Runner>,
    ) -> io::Result<Worker> {
        let thread = thread.spawn(move || {
            // ANCHOR: worker-loop
            // `next` locks and unlocks the queue inside itself: what it returns owns its job
            // and holds no lock, so the job below runs with the queue free for the others. The
            // job's end is counted in the same visit to the lock that takes the next one.
            let mut finished = None;
            while let Some(job) = queue.next(finished) {
                finished = Some(runner.run(job, Some(id)));
            }
            // `None`: the queue is closed and empty, so no job will ever come.
            // ANCHOR_END: worker-loop
        })?;
        let name = thread.thread().name().unwrap_or("pool-worker").to_owned();
        Ok(Worker { name, thread })
    }
}
// ANCHOR_END: worker

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("workers", &self.workers)
            .field("capacity", &self.capacity())
            .field("policy", &self.policy)
            .field("metrics", &self.metrics())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker").field("name", &self.name).finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc::channel;

    use poolbook_testkit::conformance::Log;
    use poolbook_testkit::{Gate, WATCHDOG};

    // ANCHOR: drop-test
    /// Every queued job has run by the time `drop` returns, even with one worker and ten jobs.
    #[test]
    fn drop_runs_every_queued_job_before_returning() {
        let ran = Arc::new(AtomicUsize::new(0));
        let pool = ThreadPool::new(1);
        for _ in 0..10 {
            let ran = Arc::clone(&ran);
            pool.execute(move || {
                ran.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        }
        drop(pool);
        assert_eq!(ran.load(Ordering::SeqCst), 10);
    }
    // ANCHOR_END: drop-test

    /// `drop` waits for a job that is running: the job's end is logged before `drop`'s return.
    #[test]
    fn drop_waits_for_a_running_job() {
        let gate = Arc::new(Gate::new());
        let log = Arc::new(Log::default());
        let pool = ThreadPool::new(2);
        let (held, job_log) = (Arc::clone(&gate), Arc::clone(&log));
        pool.execute(move || {
            held.pass();
            job_log.push("job finished");
        })
        .unwrap();
        assert!(gate.wait_arrived(1), "the job starts");
        let drop_log = Arc::clone(&log);
        let dropper = std::thread::spawn(move || {
            drop(pool);
            drop_log.push("drop returned");
        });
        gate.open();
        dropper.join().unwrap();
        assert_eq!(log.entries(), ["job finished", "drop returned"]);
    }

    // ANCHOR: panic-tests
    /// With a single worker, the job after a panicking one still runs: the worker survived.
    #[test]
    fn one_worker_runs_the_next_job_after_a_panic() {
        let pool = ThreadPool::new(1);
        let (done, finished) = channel();
        pool.execute(|| panic!("a job panicked, on purpose"))
            .unwrap();
        pool.execute(move || done.send("after").unwrap()).unwrap();
        assert_eq!(finished.recv_timeout(WATCHDOG), Ok("after"));
        assert_eq!(pool.panic_count(), 1);
    }

    /// The hook hears about each panic, with the worker and the message.
    #[test]
    fn the_hook_is_told_of_every_panic() {
        let (reports, reported) = channel();
        let reports = Mutex::new(reports);
        let pool = ThreadPool::builder()
            .threads(1)
            .panic_hook(move |report: &JobPanic| {
                reports.lock().unwrap().send(report.clone()).unwrap();
            })
            .build()
            .unwrap();
        pool.execute(|| panic!("boom {}", 7)).unwrap();
        pool.execute(|| std::panic::panic_any(42_u32)).unwrap();
        let first = reported.recv_timeout(WATCHDOG).unwrap();
        assert_eq!(first.worker, Some(0));
        assert_eq!(first.message.as_deref(), Some("boom 7"));
        assert_eq!(reported.recv_timeout(WATCHDOG).unwrap().message, None);
    }
    // ANCHOR_END: panic-tests

    /// A panicking hook, or a payload whose `Drop` panics, does not kill the worker either.
    #[test]
    fn a_panicking_hook_or_payload_does_not_kill_the_worker() {
        struct Bomb;
        impl Drop for Bomb {
            fn drop(&mut self) {
                panic!("a panic payload whose drop panics");
            }
        }
        let pool = ThreadPool::builder()
            .threads(1)
            .panic_hook(|_: &JobPanic| panic!("the hook panicked"))
            .build()
            .unwrap();
        let (done, finished) = channel();
        pool.execute(|| std::panic::panic_any(Bomb)).unwrap();
        pool.execute(|| panic!("plain")).unwrap();
        pool.execute(move || done.send(()).unwrap()).unwrap();
        finished.recv_timeout(WATCHDOG).unwrap();
        assert_eq!(pool.panic_count(), 2);
    }

    /// Panicking jobs mixed with ordinary ones: every ordinary job runs, and `drop` is clean.
    #[test]
    fn drop_after_panics_runs_every_other_job() {
        let ran = Arc::new(AtomicUsize::new(0));
        let pool = ThreadPool::new(2);
        for i in 0..10 {
            let ran = Arc::clone(&ran);
            pool.execute(move || {
                assert!(i % 3 != 0, "job {i} panics, on purpose");
                ran.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        }
        drop(pool);
        assert_eq!(ran.load(Ordering::SeqCst), 6);
    }

    // ANCHOR: spawn-tests
    #[test]
    fn join_returns_each_jobs_value() {
        let pool = ThreadPool::new(2);
        let handles: Vec<_> = (0..10_u64)
            .map(|n| pool.spawn(move || n * n).unwrap())
            .collect();
        let squares: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(squares, (0..10).map(|n| n * n).collect::<Vec<_>>());
    }

    #[test]
    fn join_returns_the_panic_and_keeps_its_payload() {
        let pool = ThreadPool::new(1);
        let failed = pool
            .spawn(|| -> u8 { panic!("no answer for {}", 42) })
            .unwrap();
        let error = failed.join().unwrap_err();
        assert_eq!(error.message().as_deref(), Some("no answer for 42"));
        assert_eq!(error.to_string(), "the job panicked: no answer for 42");
        assert!(
            format!("{error:?}").contains(r#"Some("no answer for 42")"#),
            "{error:?}"
        );

        let custom = pool
            .spawn(|| std::panic::panic_any(7_i32))
            .unwrap()
            .join()
            .unwrap_err();
        assert_eq!(custom.message(), None);
        assert_eq!(
            custom.into_payload().downcast::<i32>().ok().map(|b| *b),
            Some(7)
        );

        // The worker survived, and a spawned job's panic is the handle's, not the pool's count.
        assert_eq!(
            pool.spawn(|| "still here").unwrap().join().unwrap(),
            "still here"
        );
        assert_eq!(pool.panic_count(), 0);
    }
    // ANCHOR_END: spawn-tests

    #[test]
    fn a_handle_outlives_the_pool() {
        let pool = ThreadPool::new(1);
        let handle = pool.spawn(|| vec![1, 2, 3]).unwrap();
        drop(pool);
        assert_eq!(handle.join().unwrap(), [1, 2, 3]);
    }

    #[test]
    fn dropping_a_handle_does_not_cancel_the_job() {
        let pool = ThreadPool::new(1);
        let (done, finished) = channel();
        drop(pool.spawn(move || done.send("ran").unwrap()).unwrap());
        assert_eq!(finished.recv_timeout(WATCHDOG), Ok("ran"));
    }

    /// What `{:?}` shows: the pool, then its workers by their threads' names.
    #[test]
    fn debug_shows_the_workers_by_name() {
        let pool = ThreadPool::new(2);
        let shown = format!("{pool:?}");
        assert!(
            shown.starts_with("ThreadPool { workers: [Worker { "),
            "{shown}"
        );
        assert!(shown.contains("\"pool-worker-1\""), "{shown}");
    }

    /// A pool that could not start a thread says why, and keeps the operating system's error.
    #[test]
    fn a_spawn_failure_keeps_its_cause() {
        let error = PoolCreationError::Spawn(io::Error::from(io::ErrorKind::WouldBlock));
        assert_eq!(error.to_string(), "could not create a worker thread");
        let source = std::error::Error::source(&error).expect("the io::Error");
        assert_eq!(
            source.to_string(),
            io::Error::from(io::ErrorKind::WouldBlock).to_string()
        );
        assert!(std::error::Error::source(&PoolCreationError::ZeroThreads).is_none());
    }

    /// What a refusal shows and says, for each reason.
    #[test]
    fn a_refusal_shows_its_reason() {
        let full = Rejected::Full(|| ());
        assert!(full.is_full());
        assert_eq!(format!("{full:?}"), "Full(..)");
        assert_eq!(full.to_string(), "the pool's queue is full");
        assert!(!full.is_closed());
        let closed = Rejected::Closed(|| ());
        assert!(closed.is_closed() && !closed.is_full());
        assert_eq!(format!("{closed:?}"), "Closed(..)");
        assert_eq!(closed.to_string(), "the pool is closed");
    }

    /// A closed pool's workers leave once the queue is empty, and the metrics count them out.
    #[test]
    fn a_closed_pool_counts_its_workers_out() {
        let pool = ThreadPool::new(2);
        assert_eq!(pool.metrics().threads, 2);
        pool.close();
        // Nothing tells a test when a worker has left, so it looks until none is counted.
        let deadline = std::time::Instant::now() + poolbook_testkit::WATCHDOG;
        while pool.metrics().threads > 0 {
            let metrics = pool.metrics();
            assert!(
                std::time::Instant::now() < deadline,
                "the workers are never counted out: {metrics:?}"
            );
            std::thread::yield_now();
        }
        assert_eq!(pool.metrics().idle, 0);
    }

    /// A job that its caller runs is counted active while it runs, beside the workers' jobs.
    #[test]
    fn a_job_run_by_its_caller_is_counted_active() {
        let pool = Arc::new(
            ThreadPool::builder()
                .threads(1)
                .capacity(1)
                .policy(Policy::CallerRuns)
                .build()
                .unwrap(),
        );
        let gate = Arc::new(poolbook_testkit::Gate::new());
        let held = Arc::clone(&gate);
        pool.execute(move || held.pass()).unwrap();
        assert!(gate.wait_arrived(1), "the worker runs the first job");
        pool.execute(|| ()).unwrap();
        let inner = Arc::clone(&pool);
        let (seen, active) = std::sync::mpsc::channel();
        // The queue is full: this one runs here, before `execute` returns.
        pool.execute(move || seen.send(inner.metrics().active).unwrap())
            .unwrap();
        assert_eq!(active.recv_timeout(poolbook_testkit::WATCHDOG), Ok(2));
        gate.open();
    }
}
