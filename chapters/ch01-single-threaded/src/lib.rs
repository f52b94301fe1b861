//! Stage 1: a web server that handles one connection at a time.
//!
//! Reading requests and writing responses is `poolbook_http`'s job; this crate decides only who
//! runs each connection. Here, the answer is: the thread that accepted it.
//!
//! The chapter starts from a smaller server that does its own reading and writing,
//! `examples/minimal.rs`; `poolbook_http` is the hardened version of those moves.

use std::io;
use std::net::TcpStream;

use poolbook_http::{Request, Response, handle_connection};

// ANCHOR: serve
/// Serves each connection `incoming` yields, one after another, on the calling thread.
///
/// Returns when `incoming` ends. A failed `accept` is reported and skipped: it concerns one
/// connection, not the server.
pub fn serve<I, H>(incoming: I, handler: H)
where
    I: IntoIterator<Item = io::Result<TcpStream>>,
    H: Fn(&Request) -> Response,
{
    for stream in incoming {
        match stream {
            Ok(stream) => {
                handle_connection(stream, &handler);
            }
            Err(e) => eprintln!("accept failed: {e}"),
        }
    }
}
// ANCHOR_END: serve
