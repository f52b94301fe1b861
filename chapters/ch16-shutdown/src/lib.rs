//! Stage 16: shutdown with a timeout.
//!
//! [`pool::ThreadPool::shutdown`] closes the pool and waits at most so long for its workers to
//! exit, and says what was left if they did not: a program with a deadline (a deploy's grace
//! period) finds out before it is killed. The server does not change.

// ANCHOR: modules
mod builder;
pub mod pool;
mod queue;
// ANCHOR_END: modules

use std::io;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use poolbook_http::{
    ConnectionConfig, Request, Response, Status, handle_connection, handle_connection_with,
};

// ANCHOR: use-pool
use pool::{Metrics, Policy, PoolCreationError, ThreadPool};
// ANCHOR_END: use-pool

// ANCHOR: capacity
/// How many connections the server serves at once, and how many more it lets wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// Worker threads, each serving one connection at a time.
    pub workers: usize,
    /// Accepted connections that may wait for a worker; one more is answered 503.
    pub waiting: usize,
}

impl Default for Capacity {
    /// Four workers and 64 waiting connections: a burst of a few dozen is absorbed, a flood is
    /// refused within a few kilobytes of queue.
    fn default() -> Self {
        Capacity {
            workers: 4,
            waiting: 64,
        }
    }
}
// ANCHOR_END: capacity

// ANCHOR: busy
/// The answer to a connection that finds every worker busy and the queue full.
pub fn busy() -> Response {
    Response::error(
        Status::SERVICE_UNAVAILABLE,
        "every worker is busy and the queue is full; try again shortly",
    )
    .with_header("Retry-After", "1")
}

/// How a refused connection is read and answered: briefly, since it was refused to save work.
fn refusal_config() -> ConnectionConfig {
    ConnectionConfig {
        read_timeout: Duration::from_secs(1),
        write_timeout: Duration::from_secs(1),
        ..ConnectionConfig::default()
    }
}

/// Refused connections that may wait to be told so; beyond that they are closed unanswered.
const REFUSALS_WAITING: usize = 64;
// ANCHOR_END: busy

/// Serves each connection `incoming` yields, with [`Capacity::default`].
///
/// # Errors
///
/// As [`serve_with`].
pub fn serve<I, H>(incoming: I, handler: H) -> Result<Metrics, PoolCreationError>
where
    I: IntoIterator<Item = io::Result<TcpStream>>,
    H: Fn(&Request) -> Response + Send + Sync + 'static,
{
    serve_with(incoming, handler, Capacity::default())
}

// ANCHOR: serve
/// Serves each connection `incoming` yields as a job on a pool of `capacity.workers` threads,
/// with room for `capacity.waiting` more; a connection beyond that is answered [`busy`].
///
/// Returns when `incoming` ends, and only after every connection it accepted has been answered,
/// with the metrics of the pool that served them: how many were answered, how many handlers
/// panicked, how many connections were refused.
///
/// # Errors
///
/// If the pools cannot be built (zero workers, zero waiting, or no threads); nothing is
/// accepted then.
pub fn serve_with<I, H>(
    incoming: I,
    handler: H,
    capacity: Capacity,
) -> Result<Metrics, PoolCreationError>
where
    I: IntoIterator<Item = io::Result<TcpStream>>,
    H: Fn(&Request) -> Response + Send + Sync + 'static,
{
    let handler = Arc::new(handler);
    // ANCHOR: build-pools
    let pool = ThreadPool::builder()
        .threads(capacity.workers)
        .name_prefix("http-worker")
        .capacity(capacity.waiting)
        .policy(Policy::Reject)
        .build()?;
    // A refused client is still read and answered, which takes time a slow client controls: a
    // second, one-thread pool does it, so that the accept loop itself never waits on a client.
    let refusals = ThreadPool::builder()
        .threads(1)
        .name_prefix("http-refusal")
        .capacity(REFUSALS_WAITING)
        .policy(Policy::Reject)
        .build()?;
    // ANCHOR_END: build-pools
    let refusal = refusal_config();
    for stream in incoming {
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        // A refused job comes back with the stream inside it, out of reach: this second handle
        // on the same socket is what answers it then. Without one (no descriptor to spare), a
        // refused connection is simply closed.
        let spare = stream.try_clone();
        let handler = Arc::clone(&handler);
        let job = move || {
            handle_connection(stream, &*handler);
        };
        if let Err(refused) = pool.execute(job) {
            drop(refused);
            if let Ok(spare) = spare {
                // If even the refusals are queued full, the job comes back and is dropped,
                // closing the connection: the cheapest refusal there is.
                let _ = refusals.execute(move || {
                    handle_connection_with(spare, &|_: &Request| busy(), &refusal);
                });
            }
        }
    }
    // ANCHOR: final-metrics
    // Wait for every accepted connection to be answered, then read the figures: no job is left
    // to change them. Dropping `pool` then only joins idle threads; dropping `refusals` still
    // waits for the refusals it holds.
    pool.close();
    pool.join();
    Ok(pool.metrics())
    // ANCHOR_END: final-metrics
}
// ANCHOR_END: serve
