//! The settings of a [`ThreadPool`], with defaults for those not given: one builder in place of a
//! constructor for every combination of settings.

use std::num::NonZeroUsize;

use poolbook_sync::thread;

use crate::pool::{JobPanic, PanicHook, Policy, PoolCreationError, Shedding, ThreadPool};

// ANCHOR: builder
/// The settings of a [`ThreadPool`], with defaults for those not given.
///
/// ```
/// use ch24_shedding::pool::{Policy, ThreadPool};
///
/// let pool = ThreadPool::builder()
///     .threads(4)
///     .name_prefix("http-worker")
///     .capacity(64)
///     .policy(Policy::Reject)
///     .build()?;
/// # Ok::<(), ch24_shedding::pool::PoolCreationError>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder {
    threads: Option<usize>,
    name_prefix: String,
    stack_size: Option<usize>,
    capacity: usize,
    policy: Policy,
    shedding: Option<Shedding>,
    hook: Option<PanicHook>,
}

impl Builder {
    /// The defaults: one thread per core, threads named `pool-worker-N`, the platform's stack
    /// size, a queue with no limit, [`Policy::Block`], no shedding, no panic hook. Callers get one
    /// from [`ThreadPool::builder`].
    pub(crate) fn new() -> Builder {
        Builder {
            threads: None,
            name_prefix: "pool-worker".to_owned(),
            stack_size: None,
            capacity: usize::MAX,
            policy: Policy::Block,
            shedding: None,
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

    /// Sheds jobs that waited too long, as `shedding` says, instead of running them late.
    pub fn shedding(mut self, shedding: Shedding) -> Builder {
        self.shedding = Some(shedding);
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
        let threads = self
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, NonZeroUsize::get));
        let (capacity, policy, shedding) = (self.capacity, self.policy, self.shedding);
        ThreadPool::start(threads, capacity, policy, shedding, self.hook, |id| {
            let thread = thread::Builder::new().name(format!("{}-{id}", self.name_prefix));
            match self.stack_size {
                Some(bytes) => thread.stack_size(bytes),
                None => thread,
            }
        })
    }
    // ANCHOR_END: build
}
// ANCHOR_END: builder
