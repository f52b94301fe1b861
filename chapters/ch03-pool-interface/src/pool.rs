//! The thread pool's interface. In this stage it has no threads yet.

use std::fmt;

// ANCHOR: thread-pool
/// A fixed number of threads that run jobs handed to [`ThreadPool::execute`].
///
/// In this stage the pool is a placeholder: it has its interface but no threads, and runs every
/// job on the thread that calls `execute`.
#[derive(Debug)]
pub struct ThreadPool;
// ANCHOR_END: thread-pool

// ANCHOR: error
/// Why a [`ThreadPool`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PoolCreationError {
    /// A pool needs at least one thread to run anything.
    ZeroThreads,
}

impl fmt::Display for PoolCreationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolCreationError::ZeroThreads => {
                f.write_str("a thread pool needs at least one thread")
            }
        }
    }
}

impl std::error::Error for PoolCreationError {}
// ANCHOR_END: error

impl ThreadPool {
    // ANCHOR: new
    /// Creates a pool of `size` threads.
    ///
    /// # Panics
    ///
    /// If `size` is zero. Use [`ThreadPool::build`] to handle that case instead.
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
    /// [`PoolCreationError::ZeroThreads`] if `size` is zero.
    pub fn build(size: usize) -> Result<ThreadPool, PoolCreationError> {
        if size == 0 {
            return Err(PoolCreationError::ZeroThreads);
        }
        Ok(ThreadPool)
    }
    // ANCHOR_END: new

    // ANCHOR: execute
    /// Runs `f` on one of the pool's threads.
    ///
    /// In this stage, `f` runs on the calling thread and has finished when `execute` returns. The
    /// bounds are those of `std::thread::spawn`, so that a later stage (the shared queue) can hand
    /// `f` to another thread without changing this signature.
    pub fn execute<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        f();
    }
    // ANCHOR_END: execute
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread;

    #[test]
    fn build_refuses_zero_threads() {
        assert_eq!(
            ThreadPool::build(0).unwrap_err(),
            PoolCreationError::ZeroThreads
        );
        assert_eq!(
            PoolCreationError::ZeroThreads.to_string(),
            "a thread pool needs at least one thread"
        );
        assert!(ThreadPool::build(1).is_ok());
    }

    #[test]
    #[should_panic(expected = "ThreadPool::new(0): a thread pool needs at least one thread")]
    fn new_panics_on_zero_threads() {
        let _ = ThreadPool::new(0);
    }

    // ANCHOR: placeholder-test
    /// Pins the placeholder: the job has run, on the caller's thread, when `execute` returns.
    #[test]
    fn execute_runs_the_job_on_the_caller_before_returning() {
        let pool = ThreadPool::new(4);
        let ran = Arc::new(AtomicUsize::new(0));
        let caller = thread::current().id();
        for _ in 0..3 {
            let ran = Arc::clone(&ran);
            pool.execute(move || {
                assert_eq!(thread::current().id(), caller);
                ran.fetch_add(1, Ordering::Relaxed);
            });
        }
        assert_eq!(ran.load(Ordering::Relaxed), 3);
    }
    // ANCHOR_END: placeholder-test
}
