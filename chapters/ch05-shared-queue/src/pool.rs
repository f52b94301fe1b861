//! The thread pool: workers that take jobs from a shared queue.

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
/// Dropping the pool closes its queue: each worker finishes the jobs already queued, then exits
/// on its own. Nothing waits for that yet; the next stage does.
pub struct ThreadPool {
    workers: Vec<Worker>,
    sender: mpsc::Sender<Job>,
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
        Ok(ThreadPool { workers, sender })
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
        if self.sender.send(job).is_err() {
            panic!("every worker of the pool has died");
        }
    }
    // ANCHOR_END: execute
}

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
    use std::sync::mpsc::channel;

    use poolbook_testkit::{Gate, WATCHDOG};

    #[test]
    fn build_refuses_zero_threads() {
        assert!(matches!(
            ThreadPool::build(0),
            Err(PoolCreationError::ZeroThreads)
        ));
    }

    #[test]
    fn jobs_run_on_the_workers() {
        let pool = ThreadPool::new(2);
        let (done, names) = channel();
        for _ in 0..4 {
            let done = done.clone();
            pool.execute(move || {
                let name = thread::current().name().map(str::to_owned);
                done.send(name).unwrap();
            });
        }
        for _ in 0..4 {
            let name = names.recv_timeout(WATCHDOG).unwrap().unwrap();
            assert!(name.starts_with("pool-worker-"), "{name}");
        }
    }

    // ANCHOR: held-job-test
    /// The lock is not held while a job runs: with one job held at a gate, the other worker
    /// still takes and runs the next job.
    #[test]
    fn a_held_job_does_not_stop_the_other_worker() {
        let pool = ThreadPool::new(2);
        let gate = Arc::new(Gate::new());
        let (done, finished) = channel();

        let held = Arc::clone(&gate);
        let done_held = done.clone();
        pool.execute(move || {
            held.pass();
            done_held.send("held").unwrap();
        });
        assert!(gate.wait_arrived(1), "the first job starts");

        pool.execute(move || done.send("quick").unwrap());
        assert_eq!(finished.recv_timeout(WATCHDOG), Ok("quick"));

        gate.open();
        assert_eq!(finished.recv_timeout(WATCHDOG), Ok("held"));
    }
    // ANCHOR_END: held-job-test

    // ANCHOR: drain-test
    #[test]
    fn dropping_the_pool_still_runs_what_was_queued() {
        let ran = Arc::new(AtomicUsize::new(0));
        let (done, finished) = channel();
        let pool = ThreadPool::new(1);
        for _ in 0..10 {
            let ran = Arc::clone(&ran);
            let done = done.clone();
            pool.execute(move || {
                ran.fetch_add(1, Ordering::SeqCst);
                done.send(()).unwrap();
            });
        }
        drop(pool);
        for _ in 0..10 {
            finished.recv_timeout(WATCHDOG).unwrap();
        }
        assert_eq!(ran.load(Ordering::SeqCst), 10);
    }
    // ANCHOR_END: drain-test

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
