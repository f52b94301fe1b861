//! Stage 3, step 1: the server written against a `ThreadPool` that does not exist yet.
//!
//! The server hands each connection to a pool instead of spawning a thread. Nothing declares
//! `ThreadPool`, so this does not compile; the compiler's error is the next step's to-do.

use std::io;
use std::net::TcpStream;
use std::sync::Arc;

use poolbook_http::{Request, Response, handle_connection};

// ANCHOR: serve
/// Serves each connection `incoming` yields as a job on a pool of four threads.
///
/// Returns when `incoming` ends.
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
