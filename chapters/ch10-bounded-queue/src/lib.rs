//! Stage 10: a bounded queue.
//!
//! The pool's queue gets a capacity ([`pool::ThreadPool::bounded`]): a submitter that finds it
//! full waits until a worker takes a job. The server lets at most [`WAITING`] connections wait for
//! a worker; beyond that its accept loop waits too, and new connections wait in the kernel's
//! listen backlog instead of in the process.

// ANCHOR: modules
pub mod pool;
mod queue;
// ANCHOR_END: modules

use std::io;
use std::net::TcpStream;
use std::sync::Arc;

use poolbook_http::{Request, Response, handle_connection};

// ANCHOR: use-pool
use pool::{PoolCreationError, ThreadPool};
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
    let pool = ThreadPool::bounded(WORKERS, WAITING)?;
    for stream in incoming {
        match stream {
            Ok(stream) => {
                let handler = Arc::clone(&handler);
                pool.execute(move || {
                    handle_connection(stream, &*handler);
                });
            }
            Err(e) => eprintln!("accept failed: {e}"),
        }
    }
    Ok(())
}
// ANCHOR_END: serve
