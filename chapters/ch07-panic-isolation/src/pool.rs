//! The thread pool: workers that take jobs from a shared queue and survive jobs that panic, and a
//! `Drop` that shuts the pool down gracefully.

use std::any::Any;
use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::PoisonError;

use poolbook_sync::atomic::{AtomicUsize, Ordering};
use poolbook_sync::{Arc, Mutex, mpsc, thread};

// ANCHOR: job
/// A job: any closure that can run once, on another thread, and borrows nothing.
type Job = Box<dyn FnOnce() + Send + 'static>;
// ANCHOR_END: job

// ANCHOR: thread-pool
/// A fixed number of threads that run jobs handed to [`ThreadPool::execute`].
///
/// Dropping the pool shuts it down gracefully and waits for that to finish: see the `Drop`
/// implementation.
pub struct ThreadPool {
    workers: Vec<Worker>,
    /// `None` only while the pool is being dropped: taking it out is how `drop` closes the queue.
    sender: Option<mpsc::Sender<Job>>,
    /// What the workers report about jobs that panicked.
    panics: Arc<Panics>,
}
// ANCHOR_END: thread-pool

// ANCHOR: job-panic
/// A job that panicked, as the pool reports it to a panic hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobPanic {
    /// The worker that ran the job (it survived, and goes on with the next job).
    pub worker: usize,
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
    /// Records that worker `worker`'s job panicked with `payload`, and tells the hook.
    ///
    /// Neither the hook nor the payload is trusted: a hook that panics, or a job's payload whose
    /// `Drop` does, is caught here too and does not take the worker down.
    fn job_panicked(&self, worker: usize, payload: Box<dyn Any + Send>) {
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
            PoolCreationError::Spawn(_) => f.write_str("could not create a worker thread"),
        }
    }
}

impl std::error::Error for PoolCreationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PoolCreationError::ZeroThreads => None,
            PoolCreationError::Spawn(e) => Some(e),
        }
    }
}
// ANCHOR_END: error

impl ThreadPool {
    // ANCHOR: new
    /// Creates a pool of `size` threads.
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

    /// Creates a pool of `size` threads, or says why it cannot.
    ///
    /// # Errors
    ///
    /// [`PoolCreationError::ZeroThreads`] if `size` is zero, [`PoolCreationError::Spawn`] if the
    /// operating system refuses to create a thread.
    pub fn build(size: usize) -> Result<ThreadPool, PoolCreationError> {
        ThreadPool::start(size, None)
    }

    /// Like [`ThreadPool::build`], and calls `hook` (on the worker's thread) for every job that
    /// panics, after the standard panic hook has printed its message.
    ///
    /// # Errors
    ///
    /// As [`ThreadPool::build`].
    pub fn with_panic_hook<H>(size: usize, hook: H) -> Result<ThreadPool, PoolCreationError>
    where
        H: Fn(&JobPanic) + Send + Sync + 'static,
    {
        ThreadPool::start(size, Some(Box::new(hook)))
    }

    fn start(size: usize, hook: Option<PanicHook>) -> Result<ThreadPool, PoolCreationError> {
        if size == 0 {
            return Err(PoolCreationError::ZeroThreads);
        }
        let panics = Arc::new(Panics {
            count: AtomicUsize::new(0),
            hook,
        });
        let (sender, receiver) = mpsc::channel();
        let receiver = Arc::new(Mutex::new(receiver));
        let mut workers = Vec::with_capacity(size);
        for id in 0..size {
            let worker = Worker::spawn(id, Arc::clone(&receiver), Arc::clone(&panics));
            workers.push(worker.map_err(PoolCreationError::Spawn)?);
        }
        Ok(ThreadPool {
            workers,
            sender: Some(sender),
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

    // ANCHOR: execute
    /// Queues `f` to run on one of the pool's threads, and returns at once.
    ///
    /// A job that panics is caught on its worker, counted ([`ThreadPool::panic_count`]) and
    /// reported to the panic hook if there is one; the worker goes on with the next job.
    ///
    /// # Panics
    ///
    /// If every worker has died. Jobs can no longer cause that; only a bug in the pool could.
    pub fn execute<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        let job: Job = Box::new(f);
        let sender = self.sender.as_ref().expect("only `drop` takes the sender");
        if sender.send(job).is_err() {
            panic!("every worker of the pool has died");
        }
    }
    // ANCHOR_END: execute
}

// ANCHOR: drop
/// Shuts the pool down gracefully: no job is lost, and no thread is left behind.
///
/// 1. The sender is dropped, which closes the queue. Jobs already queued are **not** discarded:
///    a worker's `recv` keeps returning them until the queue is empty, and only then reports
///    the disconnection, at which point the worker leaves its loop.
/// 2. Every worker is joined, so `drop` returns only when all queued jobs have run and every
///    worker's thread has exited.
///
/// A job that never returns therefore makes `drop` wait forever: the pool cannot interrupt a
/// running job (no Rust pool can). Workers survive panicking jobs, so `join` fails only if the
/// pool itself is broken; even then `drop` reports it rather than panicking, because a panic
/// inside `drop` while already unwinding would abort the process.
impl Drop for ThreadPool {
    fn drop(&mut self) {
        drop(self.sender.take());
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
    fn spawn(
        id: usize,
        receiver: Arc<Mutex<mpsc::Receiver<Job>>>,
        panics: Arc<Panics>,
    ) -> io::Result<Worker> {
        let thread = thread::Builder::new()
            .name(format!("pool-worker-{id}"))
            .spawn(move || {
                // ANCHOR: worker-loop
                loop {
                    // The guard is a temporary of this statement: the lock is released at the
                    // `;`, before the job runs, so other workers can take jobs meanwhile.
                    let message = receiver
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .recv();
                    match message {
                        // ANCHOR: catch-unwind
                        // The job is consumed by the call and the queue's lock is not held, so
                        // nothing a panicking job leaves half-done is seen by the pool again.
                        Ok(job) => {
                            if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(job)) {
                                panics.job_panicked(id, payload);
                            }
                        }
                        // ANCHOR_END: catch-unwind
                        // Every sender is gone and the queue is empty: no job will ever come.
                        Err(_) => break,
                    }
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
            });
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
        });
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

    /// With a single worker, the job after a panicking one still runs: the worker survived.
    #[test]
    fn one_worker_runs_the_next_job_after_a_panic() {
        let pool = ThreadPool::new(1);
        let (done, finished) = channel();
        // ANCHOR: one-worker-asserts
        pool.execute(|| panic!("a job panicked, on purpose"));
        pool.execute(move || done.send("after").unwrap());
        assert_eq!(finished.recv_timeout(WATCHDOG), Ok("after"));
        assert_eq!(pool.panic_count(), 1);
        // ANCHOR_END: one-worker-asserts
    }

    /// The hook hears about each panic, with the worker and the message.
    #[test]
    fn the_hook_is_told_of_every_panic() {
        let (reports, reported) = channel();
        let reports = Mutex::new(reports);
        let pool = ThreadPool::with_panic_hook(1, move |report: &JobPanic| {
            reports.lock().unwrap().send(report.clone()).unwrap();
        })
        .unwrap();
        // ANCHOR: hook-asserts
        pool.execute(|| panic!("boom {}", 7));
        pool.execute(|| std::panic::panic_any(42_u32));
        let first = reported.recv_timeout(WATCHDOG).unwrap();
        assert_eq!(first.worker, 0);
        assert_eq!(first.message.as_deref(), Some("boom 7"));
        assert_eq!(reported.recv_timeout(WATCHDOG).unwrap().message, None);
        // ANCHOR_END: hook-asserts
    }

    /// A panicking hook, or a payload whose `Drop` panics, does not kill the worker either.
    #[test]
    fn a_panicking_hook_or_payload_does_not_kill_the_worker() {
        struct Bomb;
        impl Drop for Bomb {
            fn drop(&mut self) {
                panic!("a panic payload whose drop panics");
            }
        }
        let pool =
            ThreadPool::with_panic_hook(1, |_: &JobPanic| panic!("the hook panicked")).unwrap();
        let (done, finished) = channel();
        pool.execute(|| std::panic::panic_any(Bomb));
        pool.execute(|| panic!("plain"));
        pool.execute(move || done.send(()).unwrap());
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
            });
        }
        drop(pool);
        assert_eq!(ran.load(Ordering::SeqCst), 6);
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
}
