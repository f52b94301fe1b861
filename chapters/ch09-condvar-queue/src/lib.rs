//! Stage 9: a queue of the pool's own.
//!
//! The channel between the pool and its workers is replaced by a queue the pool owns
//! (`src/queue.rs`): a `VecDeque` of jobs behind a `Mutex`, and a `Condvar` on which idle workers
//! sleep. The pool behaves as before, and can now say how many jobs are waiting
//! ([`pool::ThreadPool::queued`]); the next stages give the queue a limit. The server does not
//! change.

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

// ANCHOR: serve
/// Serves each connection `incoming` yields as a job on a pool of four threads.
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
