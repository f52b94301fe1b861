//! Serving one connection: read a request, call the handler, write the response, close.

use std::io::{self, BufReader, Read};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use crate::request::{Limits, Request, read_request};
use crate::response::{Response, Status};

/// How one connection is read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// How long a read may wait for the client. A silent client (a browser's speculative
    /// connection, a slow attacker) is dropped after this, so it cannot hold a thread forever.
    pub read_timeout: Duration,
    /// How long a write may wait for a client that does not read its response.
    pub write_timeout: Duration,
    /// Size limits on the request head.
    pub limits: Limits,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            read_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            limits: Limits::default(),
        }
    }
}

/// What became of a connection; returned so that callers and tests can count outcomes.
#[derive(Debug)]
pub enum Outcome {
    /// A request was read and the handler's response was written.
    Answered(Status),
    /// The request was refused with this status before reaching the handler.
    Rejected(Status),
    /// The connection ended without a response (closed early, reset, or an unanswerable error).
    Dropped,
    /// Writing the response failed.
    WriteFailed(io::Error),
}

/// Serves one request on `stream` with `handler`, using [`ConnectionConfig::default`].
///
/// Never panics on client input: every malformed or oversized request gets its error response,
/// a closed or silent connection is dropped. The handler itself is trusted; a handler that panics
/// unwinds through here.
pub fn handle_connection<H>(stream: TcpStream, handler: &H) -> Outcome
where
    H: Fn(&Request) -> Response + ?Sized,
{
    handle_connection_with(stream, handler, &ConnectionConfig::default())
}

// ANCHOR: handle-connection
/// [`handle_connection`] with explicit timeouts and limits.
pub fn handle_connection_with<H>(
    stream: TcpStream,
    handler: &H,
    config: &ConnectionConfig,
) -> Outcome
where
    H: Fn(&Request) -> Response + ?Sized,
{
    if let Err(e) = set_timeouts(&stream, config) {
        return Outcome::WriteFailed(e);
    }
    let request = read_request(&mut BufReader::new(&stream), &config.limits);
    match request {
        Ok(request) => {
            let response = handler(&request);
            let status = response.status;
            let written = response.write_to(&mut &stream, request.is_head());
            // A body we never read would turn our close into a reset and lose the response.
            if request.header("content-length").is_some_and(|n| n != "0")
                || request.header("transfer-encoding").is_some()
            {
                linger(&stream);
            }
            match written {
                Ok(()) => Outcome::Answered(status),
                Err(e) => Outcome::WriteFailed(e),
            }
        }
        Err(error) => match error.response() {
            Some(response) => {
                let status = response.status;
                let written = response.write_to(&mut &stream, false);
                linger(&stream);
                match written {
                    Ok(()) => Outcome::Rejected(status),
                    Err(e) => Outcome::WriteFailed(e),
                }
            }
            None => Outcome::Dropped,
        },
    }
}
// ANCHOR_END: handle-connection

fn set_timeouts(stream: &TcpStream, config: &ConnectionConfig) -> io::Result<()> {
    stream.set_read_timeout(Some(config.read_timeout))?;
    stream.set_write_timeout(Some(config.write_timeout))
}

/// Closes our side for writing, then reads and discards what the client still sends, within a
/// byte and time budget. Closing a socket with unread input makes the kernel send a reset, and a
/// client that gets the reset before reading may never see the error response we just wrote.
fn linger(stream: &TcpStream) {
    const MAX_DISCARD: usize = 1024 * 1024;
    const MAX_TIME: Duration = Duration::from_secs(2);
    if stream.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let deadline = Instant::now() + MAX_TIME;
    let mut buf = [0; 8192];
    let mut discarded = 0;
    while discarded < MAX_DISCARD {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match (&mut &*stream).read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => discarded += n,
        }
    }
}
