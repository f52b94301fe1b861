//! The thread pool: workers that take jobs from a shared queue, and a `Drop` that shuts the pool
//! down gracefully.

use std::fmt;
use std::io;
use std::sync::PoisonError;

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
}
// ANCHOR_END: thread-pool

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
        if size == 0 {
            return Err(PoolCreationError::ZeroThreads);
        }
        let (sender, receiver) = mpsc::channel();
        let receiver = Arc::new(Mutex::new(receiver));
        let mut workers = Vec::with_capacity(size);
        for id in 0..size {
            let worker = Worker::spawn(id, Arc::clone(&receiver));
            workers.push(worker.map_err(PoolCreationError::Spawn)?);
        }
        Ok(ThreadPool {
            workers,
            sender: Some(sender),
        })
    }
    // ANCHOR_END: new

    // ANCHOR: execute
    /// Queues `f` to run on one of the pool's threads, and returns at once.
    ///
    /// # Panics
    ///
    /// If every worker has died, which only a job that panics can cause (a later chapter stops
    /// a panicking job from taking its worker with it).
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
/// running job (no Rust pool can). A worker that died because a job panicked is reported on
/// standard error, not re-panicked: panicking inside `drop` while already unwinding would abort
/// the process.
impl Drop for ThreadPool {
    fn drop(&mut self) {
        drop(self.sender.take());
        for worker in self.workers.drain(..) {
            if worker.thread.join().is_err() {
                eprintln!("pool-worker-{} had died: a job it ran panicked", worker.id);
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
    /// queue is closed and empty.
    fn spawn(id: usize, receiver: Arc<Mutex<mpsc::Receiver<Job>>>) -> io::Result<Worker> {
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
                        Ok(job) => job(),
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

    use poolbook_testkit::Gate;
    use poolbook_testkit::conformance::Log;

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

    /// A job that panics kills its worker (chapter 7 fixes that), but `drop` neither panics nor
    /// hangs, and the other worker's jobs still run.
    #[test]
    fn drop_survives_a_worker_killed_by_a_panicking_job() {
        let ran = Arc::new(AtomicUsize::new(0));
        let pool = ThreadPool::new(2);
        pool.execute(|| panic!("a job panicked, on purpose"));
        for _ in 0..4 {
            let ran = Arc::clone(&ran);
            pool.execute(move || {
                ran.fetch_add(1, Ordering::SeqCst);
            });
        }
        drop(pool);
        assert_eq!(ran.load(Ordering::SeqCst), 4);
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
