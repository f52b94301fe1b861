//! The thread pool with a lifecycle a program can drive and a state it can see: a [`Builder`],
//! [`ThreadPool::join`] to wait until it is idle, [`ThreadPool::shutdown`] with a timeout,
//! [`ThreadPool::shutdown_now`] returning the jobs that never started, and [`Metrics`].

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::PoisonError;
use std::time::{Duration, Instant};

use poolbook_sync::atomic::{AtomicBool, Ordering};
use poolbook_sync::{Arc, Condvar, Mutex, MutexGuard, mpsc, thread};

// ANCHOR: job
/// A job: any closure that can run once, on another thread, and borrows nothing.
///
/// Public now, because [`ThreadPool::shutdown_now`] hands jobs back.
pub type Job = Box<dyn FnOnce() + Send + 'static>;
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
/// each other: `accepted == queued + active + completed + panicked + cancelled` always holds.
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
    /// Jobs handed back unstarted by [`ThreadPool::shutdown_now`].
    pub cancelled: u64,
}
// ANCHOR_END: metrics

// ANCHOR: thread-pool
/// A fixed number of threads that run jobs from a queue of bounded length.
///
/// Built with [`ThreadPool::new`] or, for more settings, [`ThreadPool::builder`]. Dropping the
/// pool shuts it down gracefully and waits for that to finish: see the `Drop` implementation.
pub struct ThreadPool {
    /// Emptied by a shutdown: joined by `shutdown`, or let go of when its timeout passes.
    workers: Vec<Worker>,
    queue: Arc<Queue>,
    policy: Policy,
    hook: Arc<Hook>,
}
// ANCHOR_END: thread-pool

/// Rounds a worker watches an empty queue before sleeping ([`Queue::watch`]). One under loom:
/// the models check the path through the watch without exploring every repetition of it.
const WATCH_ROUNDS: u32 = if cfg!(loom) { 1 } else { 11 };
/// Of those rounds, how many spin (1, 2, 4 … 64 times) before the rest yield the processor.
const SPIN_ROUNDS: u32 = 7;

// ANCHOR: queue
/// The jobs waiting for a worker and the pool's counters, shared by the pool and its workers.
struct Queue {
    state: Mutex<State>,
    /// Signalled when a job is pushed, or the queue closes: idle workers wait on it.
    job_ready: Condvar,
    /// Signalled when a worker takes a job, or the queue closes: blocked submitters wait on it.
    room: Condvar,
    /// Signalled when the pool becomes idle, or a worker exits: `join` and `shutdown` wait on it.
    settled: Condvar,
    /// The most jobs that may wait at once.
    capacity: usize,
    /// Whether there is a job to take or the queue has closed, as of the last change under the
    /// lock: a hint a worker about to sleep watches without the lock (see [`Queue::watch`]).
    worth_a_look: AtomicBool,
}

/// Everything the queue's lock protects. Every counter changes in the same critical section as
/// the event it counts, so a snapshot never sees a job in two states, or in none.
struct State {
    jobs: VecDeque<Job>,
    closed: bool,
    /// Workers waiting on `job_ready`: a push wakes one only if there is one.
    sleeping_workers: usize,
    /// Submitters waiting on `room`: a pop wakes one only if there is one.
    blocked_submitters: usize,
    /// Threads in `join` or `shutdown`, waiting on `settled`.
    watchers: usize,
    /// Worker threads that have not exited.
    alive: usize,
    /// Workers running a job.
    busy_workers: usize,
    /// Submitting threads running a job under [`Policy::CallerRuns`].
    busy_callers: usize,
    accepted: u64,
    completed: u64,
    panicked: u64,
    rejected: u64,
    cancelled: u64,
}

impl State {
    // ANCHOR: is-idle
    /// No job is pending: none is queued and none is running. A job is pending from the moment
    /// it is accepted (pushed, under the lock) until it has finished (counted, under the lock);
    /// in between it is always either in `jobs` or counted busy, never neither.
    fn is_idle(&self) -> bool {
        self.jobs.is_empty() && self.busy_workers == 0 && self.busy_callers == 0
    }
    // ANCHOR_END: is-idle

    /// Counts a job that has finished, panicked or not.
    fn count_finished(&mut self, finished: Finished) {
        match finished {
            Finished::Returned => self.completed += 1,
            Finished::Panicked => self.panicked += 1,
        }
    }
}
// ANCHOR_END: queue

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Finished {
    Returned,
    Panicked,
}

impl Queue {
    fn new(capacity: usize, workers: usize) -> Queue {
        Queue {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                closed: false,
                sleeping_workers: 0,
                blocked_submitters: 0,
                watchers: 0,
                alive: workers,
                busy_workers: 0,
                busy_callers: 0,
                accepted: 0,
                completed: 0,
                panicked: 0,
                rejected: 0,
                cancelled: 0,
            }),
            job_ready: Condvar::new(),
            room: Condvar::new(),
            settled: Condvar::new(),
            capacity,
            worth_a_look: AtomicBool::new(false),
        }
    }

    /// Locks the state. No code panics while holding this lock (jobs run outside it), so a
    /// poisoned lock still guards consistent data and is used as it is.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends a job to a locked queue that has room, and wakes a sleeping worker if any.
    fn push(&self, mut state: MutexGuard<'_, State>, job: Job) {
        state.jobs.push_back(job);
        state.accepted += 1;
        self.worth_a_look.store(true, Ordering::Relaxed);
        let wake = state.sleeping_workers > 0;
        drop(state);
        // `notify_one` is a system call even when nobody waits, so it is only made when the
        // count says someone does. Both are read and written under the lock: no wake-up is lost.
        if wake {
            self.job_ready.notify_one();
        }
    }

    /// Waits, on a locked queue that is full, until a worker takes a job or the queue closes.
    fn wait_for_room<'a>(&self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        state.blocked_submitters += 1;
        let mut state = self
            .room
            .wait(state)
            .unwrap_or_else(PoisonError::into_inner);
        state.blocked_submitters -= 1;
        state
    }

    /// Wakes every thread in `join` or `shutdown`, if any, to look at the state again.
    fn notify_settled(&self, state: MutexGuard<'_, State>) {
        let wake = state.watchers > 0;
        drop(state);
        if wake {
            self.settled.notify_all();
        }
    }

    // ANCHOR: next
    /// Counts the job this worker just finished, if any, then returns the next job, waiting for
    /// one if the queue is empty; `None` once the queue is closed *and* empty, which tells the
    /// worker to exit.
    ///
    /// Finishing one job and taking the next are one visit to the lock, so a busy worker locks
    /// the queue once per job, and the job is never uncounted in between.
    fn next(&self, finished: Option<Finished>) -> Option<Job> {
        let mut state = self.lock();
        if let Some(finished) = finished {
            state.count_finished(finished);
            state.busy_workers -= 1;
            if state.is_idle() && state.watchers > 0 {
                // This worker's job was the last one pending: `join` may return now.
                self.settled.notify_all();
            }
        }
        if state.jobs.is_empty() && !state.closed {
            // Not asleep yet: watch for a job for a moment first, without the lock.
            drop(state);
            self.watch();
            state = self.lock();
        }
        // `while`, not `if`: waking up does not mean there is a job (see stage 9).
        while state.jobs.is_empty() && !state.closed {
            state.sleeping_workers += 1;
            state = self
                .job_ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.sleeping_workers -= 1;
        }
        let job = state.jobs.pop_front();
        if state.jobs.is_empty() && !state.closed {
            self.worth_a_look.store(false, Ordering::Relaxed);
        }
        match job {
            // Taken from the queue and counted busy in the same critical section.
            Some(_) => state.busy_workers += 1,
            None => {
                state.alive -= 1;
                self.notify_settled(state);
                return None;
            }
        }
        let wake = state.blocked_submitters > 0;
        drop(state);
        if wake {
            self.room.notify_one();
        }
        job
    }
    // ANCHOR_END: next

    /// Waits a moment for `worth_a_look`, without the lock: a few rounds of spinning, each twice
    /// as long as the last, then a few of yielding the processor.
    fn watch(&self) {
        for round in 0..WATCH_ROUNDS {
            if self.worth_a_look.load(Ordering::Relaxed) {
                return;
            }
            if round < SPIN_ROUNDS {
                for _ in 0..1 << round {
                    std::hint::spin_loop();
                }
            } else {
                thread::yield_now();
            }
        }
    }

    // ANCHOR: close
    /// Closes the queue: no job is accepted after this, and every waiter is woken to find out.
    /// Returns the jobs still queued if `take_queued`, counted as cancelled.
    fn close(&self, take_queued: bool) -> Vec<Job> {
        let mut state = self.lock();
        state.closed = true;
        self.worth_a_look.store(true, Ordering::Relaxed);
        let taken: Vec<Job> = if take_queued {
            state.jobs.drain(..).collect()
        } else {
            Vec::new()
        };
        state.cancelled += taken.len() as u64;
        // Taking the queued jobs may have made the pool idle.
        self.notify_settled(state);
        // Every sleeping worker must wake, see the queue closed (once it is empty) and exit, and
        // every blocked submitter must wake and get its job back: `notify_all`, on both.
        self.job_ready.notify_all();
        self.room.notify_all();
        taken
    }
    // ANCHOR_END: close

    // ANCHOR: wait-until
    /// Waits until `done` says the state is settled, or `deadline` passes (never, if `None`).
    /// Returns the state, and whether it is settled.
    fn wait_until(
        &self,
        deadline: Option<Instant>,
        done: impl Fn(&State) -> bool,
    ) -> (MutexGuard<'_, State>, bool) {
        let mut state = self.lock();
        while !done(&state) {
            state.watchers += 1;
            state = match deadline {
                None => self
                    .settled
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        state.watchers -= 1;
                        return (state, false);
                    }
                    self.settled
                        .wait_timeout(state, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
            state.watchers -= 1;
        }
        (state, true)
    }
    // ANCHOR_END: wait-until
}

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
type PanicHook = Box<dyn Fn(&JobPanic) + Send + Sync + 'static>;

/// The panic hook, if any, shared by the pool and its workers.
struct Hook(Option<PanicHook>);

impl Hook {
    /// Runs `job`, catching a panic and reporting it to the hook: on worker `worker`, or on the
    /// submitting thread when `worker` is `None`.
    fn run(&self, job: Job, worker: Option<usize>) -> Finished {
        match panic::catch_unwind(AssertUnwindSafe(job)) {
            Ok(()) => Finished::Returned,
            Err(payload) => {
                self.job_panicked(worker, payload);
                Finished::Panicked
            }
        }
    }

    /// Tells the hook that a job panicked with `payload`, then drops the payload.
    ///
    /// Neither the hook nor the payload is trusted: either may panic in turn (a payload's `Drop`
    /// can), and that must not take the worker down either.
    fn job_panicked(&self, worker: Option<usize>, payload: Box<dyn Any + Send>) {
        if let Some(hook) = &self.0 {
            let report = JobPanic {
                worker,
                message: panic_message(payload.as_ref()),
            };
            let _ = panic::catch_unwind(AssertUnwindSafe(|| hook(&report)));
        }
        let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(payload)));
    }
}

/// The message of a panic whose payload is a string, as `panic!` with a message makes it.
fn panic_message(payload: &(dyn Any + Send)) -> Option<String> {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        Some((*message).to_owned())
    } else {
        payload.downcast_ref::<String>().cloned()
    }
}

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

// ANCHOR: builder
/// The settings of a [`ThreadPool`], with defaults for those not given.
///
/// ```
/// use ch14_hardened::pool::{Policy, ThreadPool};
///
/// let pool = ThreadPool::builder()
///     .threads(4)
///     .name_prefix("http-worker")
///     .capacity(64)
///     .policy(Policy::Reject)
///     .build()?;
/// # Ok::<(), ch14_hardened::pool::PoolCreationError>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder {
    threads: Option<usize>,
    name_prefix: String,
    stack_size: Option<usize>,
    capacity: usize,
    policy: Policy,
    hook: Option<PanicHook>,
}

impl Builder {
    /// The defaults: one thread per core, threads named `pool-worker-N`, the platform's stack
    /// size, a queue with no limit, [`Policy::Block`], no panic hook.
    pub fn new() -> Builder {
        Builder {
            threads: None,
            name_prefix: "pool-worker".to_owned(),
            stack_size: None,
            capacity: usize::MAX,
            policy: Policy::Block,
            hook: None,
        }
    }

    /// How many worker threads; the default is [`std::thread::available_parallelism`] (one if
    /// that cannot be found out).
    pub fn threads(mut self, threads: usize) -> Builder {
        self.threads = Some(threads);
        self
    }

    /// Worker threads are named `{prefix}-{N}`, N from 0: what debuggers, `top -H` and panic
    /// messages show.
    pub fn name_prefix(mut self, prefix: impl Into<String>) -> Builder {
        self.name_prefix = prefix.into();
        self
    }

    /// The stack size of each worker thread, in bytes (the platform's default otherwise, 2 MiB
    /// for Rust threads today).
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// The most jobs that may wait for a worker at once.
    pub fn capacity(mut self, jobs: usize) -> Builder {
        self.capacity = jobs;
        self
    }

    /// What to do with a job that finds the queue full.
    pub fn policy(mut self, policy: Policy) -> Builder {
        self.policy = policy;
        self
    }

    /// Calls `hook`, on the thread that ran the job, for every [`execute`](ThreadPool::execute)d
    /// job that panics, after the standard panic hook has printed its message.
    pub fn panic_hook<H>(mut self, hook: H) -> Builder
    where
        H: Fn(&JobPanic) + Send + Sync + 'static,
    {
        self.hook = Some(Box::new(hook));
        self
    }

    // ANCHOR: build
    /// Starts the pool's threads.
    ///
    /// # Errors
    ///
    /// [`PoolCreationError::ZeroThreads`] or [`PoolCreationError::ZeroCapacity`] for a zero
    /// setting; [`PoolCreationError::Spawn`] if the operating system refuses to create a thread,
    /// after stopping the threads already started.
    pub fn build(self) -> Result<ThreadPool, PoolCreationError> {
        let threads = self.threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        if threads == 0 {
            return Err(PoolCreationError::ZeroThreads);
        }
        if self.capacity == 0 {
            return Err(PoolCreationError::ZeroCapacity);
        }
        let hook = Arc::new(Hook(self.hook));
        let queue = Arc::new(Queue::new(self.capacity, threads));
        let mut pool = ThreadPool {
            workers: Vec::with_capacity(threads),
            queue,
            policy: self.policy,
            hook,
        };
        for id in 0..threads {
            let mut thread = thread::Builder::new().name(format!("{}-{id}", self.name_prefix));
            if let Some(bytes) = self.stack_size {
                thread = thread.stack_size(bytes);
            }
            let worker = Worker::spawn(id, thread, Arc::clone(&pool.queue), Arc::clone(&pool.hook));
            match worker {
                Ok(worker) => pool.workers.push(worker),
                Err(e) => {
                    // The threads never started are not alive; dropping the pool then closes
                    // the queue and joins the ones that did.
                    pool.queue.lock().alive = id;
                    return Err(PoolCreationError::Spawn(e));
                }
            }
        }
        Ok(pool)
    }
    // ANCHOR_END: build
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("threads", &self.threads)
            .field("name_prefix", &self.name_prefix)
            .field("stack_size", &self.stack_size)
            .field("capacity", &self.capacity)
            .field("policy", &self.policy)
            .field("panic_hook", &self.hook.is_some())
            .finish()
    }
}
// ANCHOR_END: builder

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

/// What [`ThreadPool::submit`] does when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WhenFull {
    Wait,
    HandBack,
    RunHere,
}

impl ThreadPool {
    // ANCHOR: new
    /// Creates a pool of `size` threads whose queue has no limit (it can never be full).
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

    // ANCHOR: metrics-fn
    /// A consistent snapshot of the pool's state and counters (out of date as soon as it is
    /// returned, if the pool is busy: a figure to report, not to decide on).
    pub fn metrics(&self) -> Metrics {
        let state = self.queue.lock();
        let busy_workers = state.busy_workers;
        Metrics {
            threads: state.alive,
            queued: state.jobs.len(),
            active: busy_workers + state.busy_callers,
            idle: state.alive.saturating_sub(busy_workers),
            accepted: state.accepted,
            completed: state.completed,
            panicked: state.panicked,
            rejected: state.rejected,
            cancelled: state.cancelled,
        }
    }
    // ANCHOR_END: metrics-fn

    /// How many jobs have panicked so far: [`Metrics::panicked`].
    ///
    /// A job's panic is counted before its worker takes its next job, so a caller that has seen
    /// a later job of the same worker finish also sees the count include it.
    pub fn panic_count(&self) -> u64 {
        self.queue.lock().panicked
    }

    /// The most jobs that may wait at once (`usize::MAX` unless set with
    /// [`Builder::capacity`]).
    pub fn capacity(&self) -> usize {
        self.queue.capacity
    }

    /// What the pool does with a job that finds the queue full.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Queues `f` to run on one of the pool's threads; if the queue is full, the pool's
    /// [`Policy`] decides: wait for room, hand `f` back, or run it on this thread.
    ///
    /// A job that panics is caught, counted ([`ThreadPool::panic_count`]) and reported to the
    /// panic hook if there is one; the worker goes on with the next job.
    ///
    /// Under [`Policy::Block`], a *job* that submits to its own full pool can wait forever: every
    /// worker may be such a job, waiting for room only a worker can make. Jobs should submit
    /// with [`ThreadPool::try_execute`], or to a pool with another policy.
    ///
    /// # Errors
    ///
    /// [`Rejected::Closed`] with `f` if the pool is closed; [`Rejected::Full`] with `f` if the
    /// queue is full and the policy is [`Policy::Reject`].
    pub fn execute<F>(&self, f: F) -> Result<(), Rejected<F>>
    where
        F: FnOnce() + Send + 'static,
    {
        self.submit(f, self.when_full(), |f| Box::new(f))
    }

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
        self.submit(f, WhenFull::HandBack, |f| Box::new(f))
    }

    /// Queues `f` to run on one of the pool's threads, and returns a handle to its result; a
    /// full queue is handled as in [`ThreadPool::execute`].
    ///
    /// If `f` panics, the panic is caught and kept for [`JobHandle::join`]. Such a panic is the
    /// handle's to report, so unlike a panic in an [`execute`](ThreadPool::execute) job it is not
    /// counted in [`panic_count`](ThreadPool::panic_count) nor passed to the panic hook.
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
        self.submit(f, self.when_full(), move |f| {
            Box::new(move || {
                let result = panic::catch_unwind(AssertUnwindSafe(f));
                // The caller may have dropped the handle: then nobody wants the result.
                let _ = sender.send(result);
            })
        })?;
        Ok(JobHandle { receiver })
    }

    /// Stops taking jobs: every later submission returns [`Rejected::Closed`] with its job, and
    /// submitters waiting for room are woken and get theirs back. Jobs already queued still run.
    pub fn close(&self) {
        self.queue.close(false);
    }

    // ANCHOR: join
    /// Waits until the pool is idle: every job accepted before the call (and any accepted
    /// meanwhile) has finished, and none is queued or running.
    ///
    /// Any number of threads may wait at once; all return once the pool is idle. The pool stays
    /// open: this is "wait for this batch", not a shutdown. A job that joins its own pool waits
    /// for itself, forever.
    pub fn join(&self) {
        drop(self.queue.wait_until(None, State::is_idle));
    }
    // ANCHOR_END: join

    // ANCHOR: shutdown
    /// Closes the pool and waits, at most `timeout`, for the queued jobs to run and every worker
    /// to exit.
    ///
    /// # Errors
    ///
    /// [`ShutdownTimedOut`] if the timeout passed first. The pool is gone either way; workers
    /// still running then finish on their own.
    pub fn shutdown(mut self, timeout: Duration) -> Result<(), ShutdownTimedOut> {
        self.queue.close(false);
        // A timeout too far away to represent is no timeout at all.
        let deadline = Instant::now().checked_add(timeout);
        let (state, exited) = self.queue.wait_until(deadline, |state| state.alive == 0);
        let outcome = if exited {
            Ok(())
        } else {
            Err(ShutdownTimedOut {
                running: state.busy_workers,
                queued: state.jobs.len(),
            })
        };
        drop(state);
        match outcome {
            // Every worker has left its loop; joining them only waits for their last return.
            Ok(()) => self.join_workers(),
            // Dropping the join handles lets the threads go: `Drop` will find none to join.
            Err(_) => self.workers.clear(),
        }
        outcome
    }

    /// Closes the pool, takes every job that has not started out of the queue, waits for the
    /// running ones to finish, and returns the jobs it took, in queue order.
    ///
    /// Every job the pool accepted has then either run or is in the returned list, never both.
    /// Running a returned job runs it as if the pool had; dropping it drops it unrun, and the
    /// handle of a dropped [`spawn`](ThreadPool::spawn)ed job reports [`JoinError::Cancelled`].
    pub fn shutdown_now(mut self) -> Vec<Job> {
        let unstarted = self.queue.close(true);
        self.join_workers();
        unstarted
    }
    // ANCHOR_END: shutdown

    fn join_workers(&mut self) {
        for worker in self.workers.drain(..) {
            if worker.thread.join().is_err() {
                eprintln!("{} had died", worker.name);
            }
        }
    }

    fn when_full(&self) -> WhenFull {
        match self.policy {
            Policy::Block => WhenFull::Wait,
            Policy::Reject => WhenFull::HandBack,
            Policy::CallerRuns => WhenFull::RunHere,
        }
    }

    /// Queues `f`, made into a job by `into_job` only once it is certain to be queued or run, so
    /// that a job turned away is handed back as the caller's own `F`.
    fn submit<F>(
        &self,
        f: F,
        when_full: WhenFull,
        into_job: impl FnOnce(F) -> Job,
    ) -> Result<(), Rejected<F>> {
        let mut state = self.queue.lock();
        loop {
            // Checked on every pass: the pool may close while this submitter waits for room.
            if state.closed {
                state.rejected += 1;
                return Err(Rejected::Closed(f));
            }
            if state.jobs.len() < self.queue.capacity {
                self.queue.push(state, into_job(f));
                return Ok(());
            }
            match when_full {
                WhenFull::Wait => state = self.queue.wait_for_room(state),
                WhenFull::HandBack => {
                    state.rejected += 1;
                    return Err(Rejected::Full(f));
                }
                WhenFull::RunHere => {
                    state.accepted += 1;
                    state.busy_callers += 1;
                    drop(state);
                    let finished = self.hook.run(into_job(f), None);
                    let mut state = self.queue.lock();
                    state.count_finished(finished);
                    state.busy_callers -= 1;
                    if state.is_idle() {
                        self.queue.notify_settled(state);
                    }
                    return Ok(());
                }
            }
        }
    }
}

// ANCHOR: job-handle
/// The result of a job started with [`ThreadPool::spawn`], once it has run.
#[derive(Debug)]
pub struct JobHandle<T> {
    receiver: mpsc::Receiver<std::thread::Result<T>>,
}

// ANCHOR: join-error
impl<T> JobHandle<T> {
    /// Waits for the job to finish and returns its value.
    ///
    /// # Errors
    ///
    /// [`JoinError::Panicked`], holding the panic's payload, if the job panicked;
    /// [`JoinError::Cancelled`] if it never ran: [`ThreadPool::shutdown_now`] handed it back,
    /// and it was dropped.
    pub fn join(self) -> Result<T, JoinError> {
        match self.receiver.recv() {
            Ok(result) => result.map_err(JoinError::Panicked),
            Err(_) => Err(JoinError::Cancelled),
        }
    }
}

/// Why a [`JobHandle`] has no value.
pub enum JoinError {
    /// The job panicked; the panic's payload is kept.
    Panicked(Box<dyn Any + Send + 'static>),
    /// The job never ran: [`ThreadPool::shutdown_now`] handed it back, and it was dropped.
    Cancelled,
}
// ANCHOR_END: join-error

impl JoinError {
    /// The panic's message, when the job panicked with a string payload (as `panic!` makes it).
    pub fn message(&self) -> Option<String> {
        match self {
            JoinError::Panicked(payload) => panic_message(payload.as_ref()),
            JoinError::Cancelled => None,
        }
    }

    /// Whether the job never ran.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, JoinError::Cancelled)
    }

    /// The panic's payload, if the job panicked: to inspect it with `downcast`, or to carry the
    /// panic on into the caller's thread with `std::panic::resume_unwind`.
    pub fn into_panic(self) -> Option<Box<dyn Any + Send + 'static>> {
        match self {
            JoinError::Panicked(payload) => Some(payload),
            JoinError::Cancelled => None,
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Panicked(_) => f
                .debug_struct("Panicked")
                .field("message", &self.message())
                .finish_non_exhaustive(),
            JoinError::Cancelled => f.write_str("Cancelled"),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, self.message()) {
            (JoinError::Panicked(_), Some(message)) => write!(f, "the job panicked: {message}"),
            (JoinError::Panicked(_), None) => f.write_str("the job panicked"),
            (JoinError::Cancelled, _) => f.write_str("the job was cancelled before it ran"),
        }
    }
}

impl std::error::Error for JoinError {}
// ANCHOR_END: job-handle

// ANCHOR: drop
/// Shuts the pool down gracefully, with no timeout: as [`ThreadPool::shutdown`] would with an
/// infinite one. Nothing to do if `shutdown` or `shutdown_now` already did it.
impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.queue.close(false);
        self.join_workers();
    }
}
// ANCHOR_END: drop

// ANCHOR: worker
/// One of the pool's threads, with the name it was given.
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
        hook: Arc<Hook>,
    ) -> io::Result<Worker> {
        let thread = thread.spawn(move || {
            // ANCHOR: worker-loop
            let mut finished = None;
            while let Some(job) = queue.next(finished) {
                finished = Some(hook.run(job, Some(id)));
            }
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
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc::channel;

    use poolbook_testkit::conformance::Log;
    use poolbook_testkit::{Gate, WATCHDOG};

    /// A pool whose only worker is held at `gate` by a first job, so that what is queued next
    /// stays queued until the test opens the gate.
    fn held_pool(capacity: usize, policy: Policy) -> (ThreadPool, Arc<Gate>) {
        let gate = Arc::new(Gate::new());
        let pool = ThreadPool::builder()
            .threads(1)
            .capacity(capacity)
            .policy(policy)
            .build()
            .unwrap();
        let held = Arc::clone(&gate);
        pool.execute(move || held.pass()).unwrap();
        assert!(gate.wait_arrived(1), "the first job starts");
        (pool, gate)
    }

    /// A job that logs `entry`.
    fn logs(log: &Arc<Log>, entry: &'static str) -> impl FnOnce() + Send + 'static + use<> {
        let log = Arc::clone(log);
        move || log.push(entry)
    }

    // ANCHOR: builder-test
    #[test]
    fn the_builder_sets_names_stack_capacity_and_policy() {
        let pool = ThreadPool::builder()
            .threads(2)
            .name_prefix("tester")
            .stack_size(256 * 1024)
            .capacity(8)
            .policy(Policy::CallerRuns)
            .build()
            .unwrap();
        assert_eq!(pool.capacity(), 8);
        assert_eq!(pool.policy(), Policy::CallerRuns);
        assert_eq!(pool.metrics().threads, 2);
        let name = pool
            .spawn(|| std::thread::current().name().map(str::to_owned))
            .unwrap()
            .join()
            .unwrap();
        assert!(
            matches!(name.as_deref(), Some("tester-0" | "tester-1")),
            "{name:?}"
        );
    }
    // ANCHOR_END: builder-test

    #[test]
    fn the_default_is_one_thread_per_core_and_no_limit() {
        let pool = ThreadPool::builder().build().unwrap();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(pool.metrics().threads, cores);
        assert_eq!(pool.capacity(), usize::MAX);
        assert_eq!(pool.policy(), Policy::Block);
    }

    #[test]
    fn zero_threads_or_zero_capacity_is_an_error() {
        assert!(matches!(
            ThreadPool::builder().threads(0).build(),
            Err(PoolCreationError::ZeroThreads)
        ));
        assert!(matches!(
            ThreadPool::builder().capacity(0).build(),
            Err(PoolCreationError::ZeroCapacity)
        ));
    }

    // ANCHOR: join-test
    /// `join` returns only once the queued and running jobs have finished, in every thread
    /// that calls it, and the pool takes jobs again afterwards.
    #[test]
    fn join_waits_for_every_pending_job_in_every_joiner() {
        let (pool, gate) = held_pool(4, Policy::Block);
        let log = Arc::new(Log::default());
        pool.execute(logs(&log, "queued job")).unwrap();
        let pool = Arc::new(pool);
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
            joiner.join().unwrap();
        }
        assert_eq!(
            log.entries(),
            [
                "queued job",
                "join returned",
                "join returned",
                "join returned"
            ]
        );
        pool.execute(logs(&log, "after join")).unwrap();
        pool.join();
        assert_eq!(log.entries().last().map(String::as_str), Some("after join"));
    }
    // ANCHOR_END: join-test

    #[test]
    fn join_on_an_idle_pool_returns_at_once() {
        let pool = ThreadPool::new(2);
        pool.join();
        pool.join();
    }

    // ANCHOR: metrics-test
    #[test]
    fn metrics_show_each_job_where_it_is() {
        let (pool, gate) = held_pool(2, Policy::Reject);
        pool.execute(|| ()).unwrap();
        pool.execute(|| panic!("a job panicked, on purpose"))
            .unwrap();
        assert!(pool.execute(|| ()).unwrap_err().is_full());
        assert_eq!(
            pool.metrics(),
            Metrics {
                threads: 1,
                queued: 2,
                active: 1,
                idle: 0,
                accepted: 3,
                completed: 0,
                panicked: 0,
                rejected: 1,
                cancelled: 0,
            }
        );
        gate.open();
        pool.join();
        assert_eq!(
            pool.metrics(),
            Metrics {
                threads: 1,
                queued: 0,
                active: 0,
                idle: 1,
                accepted: 3,
                completed: 2,
                panicked: 1,
                rejected: 1,
                cancelled: 0,
            }
        );
        assert_eq!(pool.panic_count(), 1);
    }
    // ANCHOR_END: metrics-test

    #[test]
    fn caller_run_jobs_are_counted_too() {
        let (pool, gate) = held_pool(1, Policy::CallerRuns);
        pool.execute(|| ()).unwrap();
        pool.execute(|| ()).unwrap();
        pool.execute(|| panic!("a caller-run job panicked, on purpose"))
            .unwrap();
        let metrics = pool.metrics();
        assert_eq!((metrics.accepted, metrics.completed), (4, 1));
        assert_eq!(
            (metrics.panicked, metrics.active, metrics.queued),
            (1, 1, 1)
        );
        gate.open();
        pool.join();
        assert_eq!(pool.metrics().completed, 3);
    }

    // ANCHOR: shutdown-tests
    #[test]
    fn shutdown_waits_for_the_queued_jobs() {
        let log = Arc::new(Log::default());
        let pool = ThreadPool::new(1);
        for entry in ["one", "two", "three"] {
            pool.execute(logs(&log, entry)).unwrap();
        }
        assert_eq!(pool.shutdown(WATCHDOG), Ok(()));
        assert_eq!(log.entries(), ["one", "two", "three"]);
    }

    /// A job that does not finish within the timeout makes `shutdown` give up and say what is
    /// left; the worker it let go of still finishes the work afterwards.
    #[test]
    fn shutdown_gives_up_after_its_timeout() {
        let (pool, gate) = held_pool(1, Policy::Block);
        let (done, finished) = channel();
        pool.execute(move || done.send("queued job ran").unwrap())
            .unwrap();
        let timed_out = pool.shutdown(Duration::from_millis(1)).unwrap_err();
        assert_eq!(
            timed_out,
            ShutdownTimedOut {
                running: 1,
                queued: 1
            }
        );
        assert_eq!(
            timed_out.to_string(),
            "the pool's shutdown timed out with 1 jobs running and 1 queued"
        );
        gate.open();
        assert_eq!(finished.recv_timeout(WATCHDOG), Ok("queued job ran"));
    }

    /// `shutdown_now` returns queued jobs unrun: each of the four jobs either ran on the worker
    /// or came back, never both and never neither (the worker may take some before the pool
    /// closes; the loom model and the property test pin the exact split).
    #[test]
    fn shutdown_now_returns_the_jobs_that_never_started() {
        let (pool, gate) = held_pool(4, Policy::Block);
        let runs: Arc<[AtomicUsize; 4]> = Arc::new(Default::default());
        for job in 0..4 {
            let runs = Arc::clone(&runs);
            pool.execute(move || {
                runs[job].fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        }
        gate.open();
        let unstarted = pool.shutdown_now();
        let ran = runs
            .iter()
            .filter(|r| r.load(Ordering::SeqCst) == 1)
            .count();
        assert_eq!(ran + unstarted.len(), 4);
        for job in unstarted {
            job();
        }
        for (job, runs) in runs.iter().enumerate() {
            assert_eq!(runs.load(Ordering::SeqCst), 1, "job {job} ran exactly once");
        }
    }
    // ANCHOR_END: shutdown-tests

    #[test]
    fn a_spawned_job_dropped_by_shutdown_now_is_cancelled() {
        let (pool, gate) = held_pool(1, Policy::Block);
        let handle = pool.spawn(|| "never").unwrap();
        gate.open();
        let unstarted = pool.shutdown_now();
        // Whether the worker got to it first or not, the handle tells which.
        drop(unstarted);
        match handle.join() {
            Ok(value) => assert_eq!(value, "never"),
            Err(error) => {
                assert!(error.is_cancelled());
                assert_eq!(error.to_string(), "the job was cancelled before it ran");
            }
        }
    }

    #[test]
    fn reject_and_close_hand_jobs_back() {
        let (pool, gate) = held_pool(1, Policy::Reject);
        pool.execute(|| ()).unwrap();
        assert!(pool.execute(|| ()).unwrap_err().is_full());
        assert!(pool.spawn(|| 1).unwrap_err().is_full());
        pool.close();
        assert!(pool.try_execute(|| ()).unwrap_err().is_closed());
        assert_eq!(pool.metrics().rejected, 3);
        gate.open();
    }

    #[test]
    fn one_worker_runs_the_next_job_after_a_panic() {
        let (reports, reported) = channel();
        let reports = Mutex::new(reports);
        let pool = ThreadPool::builder()
            .threads(1)
            .panic_hook(move |report: &JobPanic| {
                reports.lock().unwrap().send(report.clone()).unwrap();
            })
            .build()
            .unwrap();
        let (done, finished) = channel();
        pool.execute(|| panic!("boom {}", 7)).unwrap();
        pool.execute(move || done.send("after").unwrap()).unwrap();
        assert_eq!(finished.recv_timeout(WATCHDOG), Ok("after"));
        let report = reported.recv_timeout(WATCHDOG).unwrap();
        assert_eq!(report.worker, Some(0));
        assert_eq!(report.message.as_deref(), Some("boom 7"));
    }

    #[test]
    fn join_returns_each_jobs_value_or_panic() {
        let pool = ThreadPool::new(2);
        let handles: Vec<_> = (0..10_u64)
            .map(|n| pool.spawn(move || n * n).unwrap())
            .collect();
        let squares: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(squares, (0..10).map(|n| n * n).collect::<Vec<_>>());
        let error = pool
            .spawn(|| -> u8 { panic!("no answer for {}", 42) })
            .unwrap()
            .join()
            .unwrap_err();
        assert_eq!(error.to_string(), "the job panicked: no answer for 42");
        assert!(!error.is_cancelled());
        assert_eq!(
            pool.spawn(|| std::panic::panic_any(7_i32))
                .unwrap()
                .join()
                .unwrap_err()
                .into_panic()
                .and_then(|payload| payload.downcast::<i32>().ok())
                .map(|seven| *seven),
            Some(7)
        );
        assert_eq!(pool.panic_count(), 0);
    }

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
}
