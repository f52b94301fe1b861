//! The thread pool's interface. In this step it can be created, but not used.

/// A fixed number of threads that run jobs.
pub struct ThreadPool;

// ANCHOR: new
impl ThreadPool {
    /// Creates a pool of `size` threads.
    pub fn new(size: usize) -> ThreadPool {
        ThreadPool
    }
}
// ANCHOR_END: new
