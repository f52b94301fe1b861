//! The thread pool, now on a queue of its own: a bounded `VecDeque` behind a `Mutex`, two
//! `Condvar`s to wait on, and a `closed` flag, with a [`Policy`] for a submission that finds the
//! queue full.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::PoisonError;

use poolbook_sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use poolbook_sync::{Arc, Condvar, Mutex, MutexGuard, mpsc, thread};

// ANCHOR: job
/// A job: any closure that can run once, on another thread, and borrows nothing.
type Job = Box<dyn FnOnce() + Send + 'static>;
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

// ANCHOR: thread-pool
/// A fixed number of threads that run jobs from a queue of bounded length.
///
/// Dropping the pool shuts it down gracefully and waits for that to finish: see the `Drop`
/// implementation.
pub struct ThreadPool {
    workers: Vec<Worker>,
    queue: Arc<Queue>,
    policy: Policy,
    /// What the workers report about jobs that panicked.
    panics: Arc<Panics>,
}
// ANCHOR_END: thread-pool

/// Rounds a worker watches an empty queue before sleeping ([`Queue::watch`]). One under loom:
/// the models check the path through the watch without exploring every repetition of it.
const WATCH_ROUNDS: u32 = if cfg!(loom) { 1 } else { 11 };
/// Of those rounds, how many spin (1, 2, 4 … 64 times) before the rest yield the processor.
const SPIN_ROUNDS: u32 = 7;

// ANCHOR: queue
/// The jobs waiting for a worker, shared by the pool and its workers.
struct Queue {
    state: Mutex<State>,
    /// Signalled when a job is pushed, or the queue closes: idle workers wait on it.
    job_ready: Condvar,
    /// Signalled when a worker takes a job, or the queue closes: blocked submitters wait on it.
    room: Condvar,
    /// The most jobs that may wait at once.
    capacity: usize,
    /// Whether there is a job to take or the queue has closed, as of the last change under the
    /// lock: a hint a worker about to sleep can watch without taking the lock (see
    /// [`Queue::watch`]). Decisions are still made under the lock.
    worth_a_look: AtomicBool,
}

/// Everything the queue's lock protects. `closed` lives here, beside the jobs, so that a worker
/// deciding to sleep and a `close` deciding to wake it cannot interleave (see [`Queue::pop`]).
struct State {
    jobs: VecDeque<Job>,
    closed: bool,
    /// Workers waiting on `job_ready`: a push wakes one only if there is one.
    sleeping_workers: usize,
    /// Submitters waiting on `room`: a pop wakes one only if there is one.
    blocked_submitters: usize,
}
// ANCHOR_END: queue

impl Queue {
    fn new(capacity: usize) -> Queue {
        Queue {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                closed: false,
                sleeping_workers: 0,
                blocked_submitters: 0,
            }),
            job_ready: Condvar::new(),
            room: Condvar::new(),
            capacity,
            worth_a_look: AtomicBool::new(false),
        }
    }

    /// Locks the state. No code panics while holding this lock (jobs run outside it), so a
    /// poisoned lock still guards consistent data and is used as it is.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    // ANCHOR: push
    /// Appends a job to a locked queue that has room, and wakes a sleeping worker if any.
    fn push(&self, mut state: MutexGuard<'_, State>, job: Job) {
        state.jobs.push_back(job);
        self.worth_a_look.store(true, Ordering::Relaxed);
        let wake = state.sleeping_workers > 0;
        // Unlock before notifying, so the woken worker does not wake straight into a held lock.
        drop(state);
        // `notify_one` is a system call even when nobody waits, so it is only made when the
        // count says someone does. Both are read and written under the lock: no wake-up is lost.
        if wake {
            self.job_ready.notify_one();
        }
    }
    // ANCHOR_END: push

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

    // ANCHOR: pop
    /// The next job, waiting for one if the queue is empty; `None` once the queue is closed
    /// *and* empty, which tells the worker to exit.
    fn pop(&self) -> Option<Job> {
        let mut state = self.lock();
        if state.jobs.is_empty() && !state.closed {
            // Not asleep yet: watch for a job for a moment first, without the lock.
            drop(state);
            self.watch();
            state = self.lock();
        }
        // `while`, not `if`: waking up does not mean there is a job. Another worker may have
        // taken it between the notification and this thread getting the lock back, and the
        // operating system may wake a waiter for no reason at all (a spurious wake-up). So the
        // condition is checked again, under the lock, every time.
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
        let wake = job.is_some() && state.blocked_submitters > 0;
        drop(state);
        if wake {
            self.room.notify_one();
        }
        job
    }
    // ANCHOR_END: pop

    // ANCHOR: watch
    /// Waits a moment for `worth_a_look`, without the lock: a few rounds of spinning, each twice
    /// as long as the last, then a few of yielding the processor.
    ///
    /// A worker that goes to sleep on an empty queue makes the next push pay a system call to
    /// wake it, and the woken worker then competes with the producer for the lock: for short
    /// jobs, that costs more than the jobs. When jobs come quickly, the next one is usually a
    /// moment away, and a worker that watches for it a little takes it without either system
    /// call. The shape of the wait is the back-off std's own channel uses before it sleeps.
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
    // ANCHOR_END: watch

    // ANCHOR: close
    /// Closes the queue: no job is accepted after this, and every waiter is woken to find out.
    fn close(&self) {
        self.lock().closed = true;
        self.worth_a_look.store(true, Ordering::Relaxed);
        // Every sleeping worker must wake, see the queue closed (once it is empty) and exit, and
        // every blocked submitter must wake and get its job back: `notify_all`, on both.
        self.job_ready.notify_all();
        self.room.notify_all();
    }
    // ANCHOR_END: close
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

// ANCHOR: panics
/// The panic count and hook, shared by the pool and its workers.
struct Panics {
    count: AtomicUsize,
    hook: Option<PanicHook>,
}

impl Panics {
    /// Runs `job`, catching and recording a panic: on worker `worker`, or on the submitting
    /// thread when `worker` is `None`.
    fn run(&self, job: Job, worker: Option<usize>) {
        // The job is consumed by the call and the queue's lock is not held, so nothing a
        // panicking job leaves half-done is seen by the pool again.
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(job)) {
            self.job_panicked(worker, payload);
        }
    }

    /// Records that a job panicked with `payload`, and tells the hook.
    ///
    /// Neither the hook nor the payload is trusted: either may panic in turn (a payload's `Drop`
    /// can), and that must not take the worker down either.
    fn job_panicked(&self, worker: Option<usize>, payload: Box<dyn Any + Send>) {
        self.count.fetch_add(1, Ordering::SeqCst);
        let report = JobPanic {
            worker,
            message: panic_message(payload.as_ref()),
        };
        if let Some(hook) = &self.hook {
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
    /// If `size` is zero, or a thread cannot be created. Use [`ThreadPool::build`] to handle
    /// those cases instead.
    pub fn new(size: usize) -> ThreadPool {
        match ThreadPool::build(size) {
            Ok(pool) => pool,
            Err(e) => panic!("ThreadPool::new({size}): {e}"),
        }
    }

    /// Creates a pool of `size` threads whose queue has no limit, or says why it cannot.
    ///
    /// # Errors
    ///
    /// [`PoolCreationError::ZeroThreads`] if `size` is zero, [`PoolCreationError::Spawn`] if the
    /// operating system refuses to create a thread.
    pub fn build(size: usize) -> Result<ThreadPool, PoolCreationError> {
        ThreadPool::start(size, usize::MAX, Policy::Block, None)
    }

    // ANCHOR: bounded
    /// Creates a pool of `size` threads whose queue holds at most `capacity` waiting jobs, and
    /// applies `policy` to a job that finds it full.
    ///
    /// # Errors
    ///
    /// As [`ThreadPool::build`], and [`PoolCreationError::ZeroCapacity`] if `capacity` is zero.
    pub fn bounded(
        size: usize,
        capacity: usize,
        policy: Policy,
    ) -> Result<ThreadPool, PoolCreationError> {
        ThreadPool::start(size, capacity, policy, None)
    }
    // ANCHOR_END: bounded

    /// Like [`ThreadPool::build`], and calls `hook` (on the thread that ran the job) for every
    /// job that panics, after the standard panic hook has printed its message.
    ///
    /// # Errors
    ///
    /// As [`ThreadPool::build`].
    pub fn with_panic_hook<H>(size: usize, hook: H) -> Result<ThreadPool, PoolCreationError>
    where
        H: Fn(&JobPanic) + Send + Sync + 'static,
    {
        ThreadPool::start(size, usize::MAX, Policy::Block, Some(Box::new(hook)))
    }

    fn start(
        size: usize,
        capacity: usize,
        policy: Policy,
        hook: Option<PanicHook>,
    ) -> Result<ThreadPool, PoolCreationError> {
        if size == 0 {
            return Err(PoolCreationError::ZeroThreads);
        }
        if capacity == 0 {
            return Err(PoolCreationError::ZeroCapacity);
        }
        let panics = Arc::new(Panics {
            count: AtomicUsize::new(0),
            hook,
        });
        let queue = Arc::new(Queue::new(capacity));
        let mut workers = Vec::with_capacity(size);
        for id in 0..size {
            match Worker::spawn(id, Arc::clone(&queue), Arc::clone(&panics)) {
                Ok(worker) => workers.push(worker),
                Err(e) => {
                    // The workers already started would otherwise wait for jobs forever.
                    queue.close();
                    for worker in workers {
                        let _ = worker.thread.join();
                    }
                    return Err(PoolCreationError::Spawn(e));
                }
            }
        }
        Ok(ThreadPool {
            workers,
            queue,
            policy,
            panics,
        })
    }

    // ANCHOR: panic-count
    /// How many jobs have panicked so far.
    ///
    /// A job's panic is counted before its worker takes its next job, so a caller that has seen
    /// a later job of the same worker finish also sees the count include it.
    pub fn panic_count(&self) -> usize {
        self.panics.count.load(Ordering::SeqCst)
    }
    // ANCHOR_END: panic-count
    // ANCHOR_END: new

    /// How many jobs are waiting for a worker right now (already out of date when it returns,
    /// if other threads submit or workers are busy: a figure to report, not to decide on).
    pub fn queued(&self) -> usize {
        self.queue.lock().jobs.len()
    }

    /// The most jobs that may wait at once (`usize::MAX` for a pool made by `new` or `build`).
    pub fn capacity(&self) -> usize {
        self.queue.capacity
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
    // ANCHOR_END: execute

    // ANCHOR: try-execute
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
    // ANCHOR_END: try-execute

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
        self.submit(f, self.when_full(), move |f| {
            Box::new(move || {
                let result = panic::catch_unwind(AssertUnwindSafe(f));
                // The caller may have dropped the handle: then nobody wants the result.
                let _ = sender.send(result);
            })
        })?;
        Ok(JobHandle { receiver })
    }
    // ANCHOR_END: spawn

    // ANCHOR: close-pool
    /// Stops taking jobs: every later submission returns [`Rejected::Closed`] with its job, and
    /// submitters waiting for room are woken and get theirs back. Jobs already queued still run.
    ///
    /// The pool is still dropped as usual, which waits for those jobs. `close` is for a pool
    /// shared between threads (in an `Arc`), where one of them decides that it is over.
    pub fn close(&self) {
        self.queue.close();
    }
    // ANCHOR_END: close-pool

    fn when_full(&self) -> WhenFull {
        match self.policy {
            Policy::Block => WhenFull::Wait,
            Policy::Reject => WhenFull::HandBack,
            Policy::CallerRuns => WhenFull::RunHere,
        }
    }

    // ANCHOR: submit
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
                return Err(Rejected::Closed(f));
            }
            if state.jobs.len() < self.queue.capacity {
                self.queue.push(state, into_job(f));
                return Ok(());
            }
            match when_full {
                WhenFull::Wait => state = self.queue.wait_for_room(state),
                WhenFull::HandBack => return Err(Rejected::Full(f)),
                WhenFull::RunHere => {
                    drop(state);
                    self.panics.run(into_job(f), None);
                    return Ok(());
                }
            }
        }
    }
    // ANCHOR_END: submit
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
    /// If the pool dropped the job without running it, which this pool never does (a job it
    /// accepts runs, even if the pool is closed or dropped meanwhile).
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
/// 1. The queue is closed. Jobs already queued are **not** discarded: a worker's `pop` keeps
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
        for worker in self.workers.drain(..) {
            if worker.thread.join().is_err() {
                eprintln!("pool-worker-{} had died", worker.id);
            }
        }
    }
}
// ANCHOR_END: drop

// ANCHOR: worker
/// One of the pool's threads, with the number the pool knows it by.
struct Worker {
    id: usize,
    thread: thread::JoinHandle<()>,
}

impl Worker {
    /// Starts a worker whose thread is named `pool-worker-{id}` and runs queued jobs until the
    /// queue is closed and empty, surviving any job that panics.
    fn spawn(id: usize, queue: Arc<Queue>, panics: Arc<Panics>) -> io::Result<Worker> {
        let thread = thread::Builder::new()
            .name(format!("pool-worker-{id}"))
            .spawn(move || {
                // ANCHOR: worker-loop
                // `while let` is right here: `pop` releases the lock before it returns the job,
                // so no guard lives on into the loop's body while the job runs.
                while let Some(job) = queue.pop() {
                    panics.run(job, Some(id));
                }
                // ANCHOR_END: worker-loop
            })?;
        Ok(Worker { id, thread })
    }
}
// ANCHOR_END: worker

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("workers", &self.workers)
            .field("capacity", &self.capacity())
            .field("policy", &self.policy)
            .field("queued", &self.queued())
            .field("panic_count", &self.panic_count())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("id", &self.id)
            .field("thread", &self.thread.thread().name())
            .finish()
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
        let pool = ThreadPool::bounded(1, capacity, policy).unwrap();
        let held = Arc::clone(&gate);
        pool.execute(move || held.pass()).unwrap();
        assert!(gate.wait_arrived(1), "the first job starts");
        (pool, gate)
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

    #[test]
    fn zero_threads_or_zero_capacity_is_an_error() {
        assert!(matches!(
            ThreadPool::bounded(0, 1, Policy::Block),
            Err(PoolCreationError::ZeroThreads)
        ));
        let error = ThreadPool::bounded(1, 0, Policy::Block).unwrap_err();
        assert!(matches!(error, PoolCreationError::ZeroCapacity));
        assert_eq!(
            error.to_string(),
            "a thread pool's queue needs room for at least one job"
        );
    }

    // ANCHOR: reject-test
    /// With the worker held and the queue full, `Reject` hands the job back unrun; once the
    /// worker is free again, the same job can be resubmitted and runs.
    #[test]
    fn reject_hands_the_job_back_when_full() {
        let (pool, gate) = held_pool(1, Policy::Reject);
        let log = Arc::new(Log::default());
        let queued = Arc::clone(&log);
        pool.execute(move || queued.push("queued")).unwrap();
        let turned_away = Arc::clone(&log);
        let rejected = pool
            .execute(move || turned_away.push("resubmitted"))
            .unwrap_err();
        assert!(rejected.is_full(), "{rejected:?}");
        assert_eq!(pool.queued(), 1);

        // The caller has its job back, unrun, to do with as it likes: here, run it itself once
        // the pool has finished the queued one.
        gate.open();
        drop(pool);
        rejected.into_job()();
        assert_eq!(log.entries(), ["queued", "resubmitted"]);
    }
    // ANCHOR_END: reject-test

    #[test]
    fn try_execute_never_waits_whatever_the_policy() {
        let (pool, gate) = held_pool(1, Policy::Block);
        pool.try_execute(|| ()).unwrap();
        assert!(pool.try_execute(|| ()).unwrap_err().is_full());
        gate.open();
    }

    // ANCHOR: block-test
    /// Under `Block`, a submitter that finds the queue full waits until a worker takes a job.
    #[test]
    fn block_waits_for_room() {
        let (pool, gate) = held_pool(1, Policy::Block);
        let log = Arc::new(Log::default());
        let first = Arc::clone(&log);
        pool.execute(move || first.push("queued first")).unwrap();
        let pool = Arc::new(pool);
        let (submitter_pool, second) = (Arc::clone(&pool), Arc::clone(&log));
        let submitter = std::thread::spawn(move || {
            submitter_pool
                .execute(move || second.push("waited for room"))
                .unwrap();
        });
        // The submitter cannot return before the worker takes "queued first", which it cannot
        // before the gate opens: so opening the gate is what lets it through.
        gate.open();
        submitter.join().unwrap();
        drop(Arc::into_inner(pool).expect("the submitter is done with the pool"));
        assert_eq!(log.entries(), ["queued first", "waited for room"]);
    }
    // ANCHOR_END: block-test

    #[test]
    fn caller_runs_runs_the_job_on_the_caller_when_full() {
        let (pool, gate) = held_pool(1, Policy::CallerRuns);
        pool.execute(|| ()).unwrap();
        let (ran_on, where_it_ran) = channel();
        pool.execute(move || ran_on.send(std::thread::current().id()).unwrap())
            .unwrap();
        assert_eq!(where_it_ran.try_recv(), Ok(std::thread::current().id()));
        // A caller-run job's panic is caught and counted like any other, with no worker.
        pool.execute(|| panic!("a caller-run job panicked, on purpose"))
            .unwrap();
        assert_eq!(pool.panic_count(), 1);
        gate.open();
    }

    // ANCHOR: closed-test
    /// After `close`, every submission gets its job back; jobs queued before still run.
    #[test]
    fn close_hands_back_later_jobs_and_runs_queued_ones() {
        let (pool, gate) = held_pool(2, Policy::Block);
        let log = Arc::new(Log::default());
        let queued = Arc::clone(&log);
        pool.execute(move || queued.push("queued before close"))
            .unwrap();
        pool.close();
        let late = Arc::clone(&log);
        let rejected = pool.execute(move || late.push("late")).unwrap_err();
        assert!(rejected.is_closed());
        assert!(pool.try_execute(|| ()).unwrap_err().is_closed());
        assert!(pool.spawn(|| 1).unwrap_err().is_closed());
        gate.open();
        drop(pool);
        assert_eq!(log.entries(), ["queued before close"]);
    }
    // ANCHOR_END: closed-test

    /// A submitter blocked on a full queue is woken by `close` and gets its job back.
    #[test]
    fn close_wakes_a_blocked_submitter() {
        let (pool, gate) = held_pool(1, Policy::Block);
        pool.execute(|| ()).unwrap();
        let pool = Arc::new(pool);
        let submitter_pool = Arc::clone(&pool);
        let submitter =
            std::thread::spawn(move || submitter_pool.execute(|| ()).map_err(|r| r.is_closed()));
        // Whether it is already waiting or not yet submitted, it must come back `Closed`.
        pool.close();
        assert_eq!(submitter.join().unwrap(), Err(true));
        gate.open();
    }

    #[test]
    fn spawn_under_reject_hands_back_the_callers_closure() {
        let (pool, gate) = held_pool(1, Policy::Reject);
        pool.execute(|| ()).unwrap();
        let rejected = pool.spawn(|| 6 * 7).unwrap_err();
        assert!(rejected.is_full());
        assert_eq!(rejected.into_job()(), 42, "the caller's own closure, unrun");
        gate.open();
    }

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

    #[test]
    fn the_hook_is_told_of_every_panic() {
        let (reports, reported) = channel();
        let reports = Mutex::new(reports);
        let pool = ThreadPool::with_panic_hook(1, move |report: &JobPanic| {
            reports.lock().unwrap().send(report.clone()).unwrap();
        })
        .unwrap();
        pool.execute(|| panic!("boom {}", 7)).unwrap();
        pool.execute(|| std::panic::panic_any(42_u32)).unwrap();
        let first = reported.recv_timeout(WATCHDOG).unwrap();
        assert_eq!(first.worker, Some(0));
        assert_eq!(first.message.as_deref(), Some("boom 7"));
        assert_eq!(reported.recv_timeout(WATCHDOG).unwrap().message, None);
    }

    #[test]
    fn join_returns_each_jobs_value_or_panic() {
        let pool = ThreadPool::new(2);
        let handles: Vec<_> = (0..10_u64)
            .map(|n| pool.spawn(move || n * n).unwrap())
            .collect();
        let squares: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(squares, (0..10).map(|n| n * n).collect::<Vec<_>>());
        let failed = pool
            .spawn(|| -> u8 { panic!("no answer for {}", 42) })
            .unwrap();
        let error = failed.join().unwrap_err();
        assert_eq!(error.to_string(), "the job panicked: no answer for 42");
        assert_eq!(pool.panic_count(), 0);
    }

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
}
