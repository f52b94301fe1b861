//! The thread pool's interface. In this step it is only a name.

// ANCHOR: thread-pool
/// A fixed number of threads that run jobs.
pub struct ThreadPool;
// ANCHOR_END: thread-pool
