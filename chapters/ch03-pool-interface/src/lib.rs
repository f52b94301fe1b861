//! Stage 3: the thread pool's interface, written by following the compiler.
//!
//! The server hands each connection to a [`ThreadPool`] instead of spawning a thread. The pool has
//! the interface the server needs (`new`, `build`, `execute`) but no threads yet: `execute` runs the job on
//! the calling thread, so this stage serves one connection at a time, like stage 1.

// ANCHOR: modules
pub mod pool;
// ANCHOR_END: modules

use std::io;
use std::net::TcpStream;
use std::sync::Arc;

use poolbook_http::{Request, Response, handle_connection};

// ANCHOR: use-pool
use pool::ThreadPool;
// ANCHOR_END: use-pool

// ANCHOR: serve
/// Serves each connection `incoming` yields as a job on a pool of four threads.
///
/// Returns when `incoming` ends. (In this stage the pool's `execute` runs each job on the caller.)
pub fn serve<I, H>(incoming: I, handler: H)
where
    I: IntoIterator<Item = io::Result<TcpStream>>,
    H: Fn(&Request) -> Response + Send + Sync + 'static,
{
    let handler = Arc::new(handler);
    let pool = ThreadPool::new(4);
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
}
// ANCHOR_END: serve
