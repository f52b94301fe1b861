//! Stage 2: a web server that spawns one thread per connection.
//!
//! A slow request no longer holds up the others, but nothing bounds how many threads exist at
//! once: every connection a client opens costs a thread, its stack and a descriptor, for as long
//! as the client likes.

use std::io;
use std::net::TcpStream;
use std::sync::Arc;
use std::thread;

use poolbook_http::{Request, Response, handle_connection};

// ANCHOR: serve
/// Serves each connection `incoming` yields on a new thread of its own.
///
/// Returns when `incoming` ends, without waiting for the threads it spawned.
///
/// # Panics
///
/// If the operating system refuses to create a thread (`thread::spawn` panics then): with enough
/// connections open at once, it will.
pub fn serve<I, H>(incoming: I, handler: H)
where
    I: IntoIterator<Item = io::Result<TcpStream>>,
    H: Fn(&Request) -> Response + Send + Sync + 'static,
{
    let handler = Arc::new(handler);
    for stream in incoming {
        match stream {
            Ok(stream) => {
                let handler = Arc::clone(&handler);
                thread::spawn(move || {
                    handle_connection(stream, &*handler);
                });
            }
            Err(e) => eprintln!("accept failed: {e}"),
        }
    }
}
// ANCHOR_END: serve
