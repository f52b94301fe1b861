//! Stage 7: panic isolation.
//!
//! A job that panics is caught on its worker, counted, and reported to an optional hook; the
//! worker goes on with the next job. For the server, a handler that panics costs the one
//! connection it was serving (closed without an answer), not a worker and not the process.

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
