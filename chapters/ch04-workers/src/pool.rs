//! The thread pool: workers that each own a named thread. They have no jobs to run yet.

use std::fmt;
use std::io;
use std::thread;

// ANCHOR: thread-pool
/// A fixed number of threads that run jobs handed to [`ThreadPool::execute`].
///
/// In this stage the workers' threads start and finish at once: there is no queue for them to
/// take jobs from yet, and every job still runs on the thread that calls `execute`.
pub struct ThreadPool {
    workers: Vec<Worker>,
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
        let mut workers = Vec::with_capacity(size);
        for id in 0..size {
            workers.push(Worker::spawn(id).map_err(PoolCreationError::Spawn)?);
        }
        Ok(ThreadPool { workers })
    }
    // ANCHOR_END: new

    // ANCHOR: execute
    /// Runs `f` on one of the pool's threads.
    ///
    /// In this stage, `f` still runs on the calling thread and has finished when `execute`
    /// returns: the workers have no queue to take it from yet.
    pub fn execute<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        f();
    }
    // ANCHOR_END: execute
}

// ANCHOR: worker
/// One of the pool's threads, with the number the pool knows it by.
struct Worker {
    id: usize,
    thread: thread::JoinHandle<()>,
}
// ANCHOR_END: worker

// ANCHOR: worker-spawn
impl Worker {
    /// Starts a worker whose thread is named `pool-worker-{id}`, so that debuggers, panic
    /// messages and `top -H` say which thread is which.
    fn spawn(id: usize) -> io::Result<Worker> {
        let thread = thread::Builder::new()
            .name(format!("pool-worker-{id}"))
            .spawn(|| {})?;
        Ok(Worker { id, thread })
    }
}
// ANCHOR_END: worker-spawn

// ANCHOR: debug
impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("workers", &self.workers)
            .finish()
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
// ANCHOR_END: debug

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn build_refuses_zero_threads() {
        assert!(matches!(
            ThreadPool::build(0),
            Err(PoolCreationError::ZeroThreads)
        ));
        assert!(ThreadPool::build(1).is_ok());
    }

    #[test]
    #[should_panic(expected = "ThreadPool::new(0): a thread pool needs at least one thread")]
    fn new_panics_on_zero_threads() {
        let _ = ThreadPool::new(0);
    }

    #[test]
    fn build_starts_one_named_worker_per_thread() {
        let pool = ThreadPool::build(3).unwrap();
        // ANCHOR: worker-asserts
        assert_eq!(pool.workers.len(), 3);
        for (index, worker) in pool.workers.iter().enumerate() {
            assert_eq!(worker.id, index);
            assert_eq!(
                worker.thread.thread().name(),
                Some(format!("pool-worker-{index}").as_str())
            );
        }
        assert!(format!("{pool:?}").contains(r#"Worker { id: 2, thread: Some("pool-worker-2") }"#));
        // ANCHOR_END: worker-asserts
    }

    #[test]
    fn a_spawn_failure_keeps_its_cause() {
        let error = PoolCreationError::Spawn(io::Error::from(io::ErrorKind::WouldBlock));
        assert_eq!(error.to_string(), "could not create a worker thread");
        let source = std::error::Error::source(&error).expect("the io::Error");
        assert_eq!(
            source.to_string(),
            io::Error::from(io::ErrorKind::WouldBlock).to_string()
        );
    }

    /// Pins the placeholder: jobs still run on the caller, before `execute` returns.
    #[test]
    fn execute_still_runs_the_job_on_the_caller() {
        let pool = ThreadPool::new(2);
        let ran = Arc::new(AtomicUsize::new(0));
        let caller = thread::current().id();
        let counter = Arc::clone(&ran);
        // ANCHOR: placeholder-asserts
        pool.execute(move || {
            assert_eq!(thread::current().id(), caller);
            counter.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(ran.load(Ordering::Relaxed), 1);
        // ANCHOR_END: placeholder-asserts
    }
}
