//! Stage 10, a first draft: chapter 8's server on the new pool, before it learns to refuse.

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
/// Returns when `incoming` ends, and only after every connection it yielded has been answered:
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
    // `build`'s queue has no limit, and nothing here closes the pool: `execute` cannot refuse.
    let pool = ThreadPool::build(4)?;
    for stream in incoming {
        match stream {
            Ok(stream) => {
                let handler = Arc::clone(&handler);
                pool.execute(move || {
                    handle_connection(stream, &*handler);
                })
                .expect("an unbounded pool that nobody closes takes every job");
            }
            Err(e) => eprintln!("accept failed: {e}"),
        }
    }
    Ok(())
}
// ANCHOR_END: serve
