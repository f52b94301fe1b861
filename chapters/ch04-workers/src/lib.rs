//! Stage 4: a pool of named worker threads, with thread-creation failure reported as an error.
//!
//! The [`ThreadPool`] now starts its workers, each owning a named thread, and `build` reports a
//! thread the operating system refuses to create. The workers have nothing to take jobs from yet
//! (the queue is the next stage), so `execute` still runs each job on the calling thread and this
//! stage serves one connection at a time, like stage 3.

// ANCHOR: modules
pub mod pool;
// ANCHOR_END: modules

use std::io;
use std::net::TcpStream;
use std::sync::Arc;

use poolbook_http::{Request, Response, handle_connection};

// ANCHOR: use-pool
use pool::{PoolCreationError, ThreadPool};
// ANCHOR_END: use-pool

// ANCHOR: serve
/// Serves each connection `incoming` yields as a job on a pool of four threads.
///
/// Returns when `incoming` ends. (In this stage the pool's `execute` runs each job on the caller.)
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
    let pool = ThreadPool::build(4)?;
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
