//! Stage 11: when the queue is full.
//!
//! The pool has a [`pool::Policy`] for a job that finds its queue full: wait for room, hand the
//! job back to the caller unrun ([`pool::Rejected`]), or run it on the caller's thread. The server
//! still waits for room ([`pool::Policy::Block`]); the next stage refuses instead.

// ANCHOR: modules
pub mod pool;
mod queue;
// ANCHOR_END: modules

use std::io;
use std::net::TcpStream;
use std::sync::Arc;

use poolbook_http::{Request, Response, handle_connection};

// ANCHOR: use-pool
use pool::{Policy, PoolCreationError, ThreadPool};
// ANCHOR_END: use-pool

// ANCHOR: limits
/// Worker threads, each serving one connection at a time.
pub const WORKERS: usize = 4;
/// Accepted connections that may wait for a worker; while that many wait, no more are accepted.
pub const WAITING: usize = 64;
// ANCHOR_END: limits

// ANCHOR: serve
/// Serves each connection `incoming` yields as a job on a pool of [`WORKERS`] threads, with room
/// for [`WAITING`] more: while the queue is full, `execute` waits, and so nothing more is taken
/// from `incoming` (from the listener) until a worker is free.
///
/// Returns when `incoming` ends, and only after every connection it yielded has been handled:
/// dropping the pool at the end of this function waits for its workers to finish.
///
/// # Errors
///
/// If the pool's threads cannot be created; nothing is accepted then.
pub fn serve<I, H>(incoming: I, handler: H) -> Result<(), PoolCreationError>
where
    I: IntoIterator<Item = io::Result<TcpStream>>,
    H: Fn(&Request) -> Response + Send + Sync + 'static,
{
    let handler = Arc::new(handler);
    let pool = ThreadPool::bounded(WORKERS, WAITING, Policy::Block)?;
    for stream in incoming {
        match stream {
            Ok(stream) => {
                let handler = Arc::clone(&handler);
                pool.execute(move || {
                    handle_connection(stream, &*handler);
                })
                .expect("a pool that waits for room takes every job");
            }
            Err(e) => eprintln!("accept failed: {e}"),
        }
    }
    Ok(())
}
// ANCHOR_END: serve
