//! Serving one connection: read a request, call the handler, write the response, close.

use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use crate::request::{Limits, Request, read_request};
use crate::response::{Response, Status};

/// How one connection is read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// How long a read may wait for the client. A silent client (a browser's speculative
    /// connection, a slow attacker) is answered `408 Request Timeout` and closed after this, so
    /// it cannot hold a thread forever.
    pub read_timeout: Duration,
    /// How long a write may wait for a client that does not read its response.
    pub write_timeout: Duration,
    /// How long the whole request head may take to arrive, however it is paced. `None` leaves
    /// only `read_timeout`, which a client defeats by sending one byte before each read times
    /// out (slowloris).
    pub request_timeout: Option<Duration>,
    /// How long writing the whole response may take, however slowly the client reads it. `None`
    /// leaves only `write_timeout`, which a client reading one byte at a time never trips.
    pub response_timeout: Option<Duration>,
    /// Size limits on the request head.
    pub limits: Limits,
}

impl Default for ConnectionConfig {
    /// Five seconds per read and per write, the default [`Limits`], and no overall deadline:
    /// what every stage up to 18 uses.
    fn default() -> Self {
        ConnectionConfig {
            read_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            request_timeout: None,
            response_timeout: None,
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
    /// Setting the socket's timeouts, or writing the response, failed.
    WriteFailed(io::Error),
}

/// Serves one request on `stream` with `handler`, using [`ConnectionConfig::default`].
///
/// Never panics on client input: every malformed or oversized request gets its error response,
/// a silent one `408 Request Timeout` once the read timeout passes, and a connection closed before
/// its first byte is dropped. The handler itself is trusted; a handler that panics
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
    let reading = Deadline::after(&stream, config.request_timeout, config.read_timeout);
    let request = read_request(&mut BufReader::new(reading), &config.limits);
    // The response's clock starts once there is something to write, not while the handler runs.
    let writing = || Deadline::after(&stream, config.response_timeout, config.write_timeout);
    match request {
        Ok(request) => {
            let response = handler(&request);
            let status = response.status;
            let written = response.write_to(&mut writing(), request.is_head());
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
                let written = response.write_to(&mut writing(), false);
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

// ANCHOR: deadline
/// A stream whose reads, or writes, must all be done by one instant.
///
/// A socket timeout bounds one call, and a client that sends a byte just before each call times
/// out keeps the connection, and the thread serving it, for as long as it likes. Before each
/// call this shortens the socket's timeout to the time left; once none is left, the call fails
/// with [`io::ErrorKind::TimedOut`] without touching the socket.
struct Deadline<'s> {
    stream: &'s TcpStream,
    /// The instant by which every call must be done, if there is one.
    end: Option<Instant>,
    /// The socket's own timeout per call, which no call exceeds.
    per_call: Duration,
    /// The timeout the socket has now. A call changes it (one more system call) only when the
    /// deadline is nearer than the timeout per call, so a prompt client costs none.
    current: Duration,
}

impl<'s> Deadline<'s> {
    /// A deadline `within` from now, or none (the socket's own timeouts only), on a stream whose
    /// timeout per call is `per_call`.
    fn after(stream: &'s TcpStream, within: Option<Duration>, per_call: Duration) -> Deadline<'s> {
        Deadline {
            stream,
            end: within.map(|d| Instant::now() + d),
            per_call,
            current: per_call,
        }
    }

    /// The timeout the socket must be given before the next call, if it must be changed: the
    /// time left, when that is shorter than the timeout per call.
    fn left(&mut self) -> io::Result<Option<Duration>> {
        let Some(end) = self.end else {
            return Ok(None);
        };
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the deadline for this connection has passed",
            ));
        }
        let timeout = left.min(self.per_call);
        if timeout == self.current {
            return Ok(None);
        }
        self.current = timeout;
        Ok(Some(timeout))
    }
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(timeout) = self.left()? {
            self.stream.set_read_timeout(Some(timeout))?;
        }
        (&mut &*self.stream).read(buf)
    }
}

impl Write for Deadline<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(timeout) = self.left()? {
            self.stream.set_write_timeout(Some(timeout))?;
        }
        (&mut &*self.stream).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&mut &*self.stream).flush()
    }
}
// ANCHOR_END: deadline

/// [`linger_for`] with the budget every HTTP connection gets.
fn linger(stream: &TcpStream) {
    linger_for(stream, Duration::from_secs(2));
}

/// Closes our side of `stream` for writing, then reads and discards what the client still sends,
/// for at most `budget` and a mebibyte, before the caller closes the socket.
///
/// Closing a socket with unread input makes the kernel send a reset, and a client that gets the
/// reset before reading may never see the reply just written to it: call this after writing a
/// reply to a request that was not read to its end (an error, a refusal). It returns early when
/// the client closes its side, or on any error.
pub fn linger_for(stream: &TcpStream, budget: Duration) {
    const MAX_DISCARD: usize = 1024 * 1024;
    if stream.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let deadline = Instant::now() + budget;
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

// ANCHOR: answer-at-once
/// Writes `reply` to `stream` and ends it, without ever waiting on the client: a refusal that
/// costs its caller a few system calls, for a caller that may not block, such as an accept loop
/// whose refusal thread is behind.
///
/// The request is not read first, so `reply` cannot depend on it. It goes out in one
/// non-blocking write, which a new connection's send buffer (kilobytes) takes whole, and the end
/// of our side (FIN) follows it. Then whatever the client has already sent is read off, so that
/// closing usually sends no reset at all; and when more arrives, the reset comes after the reply
/// and its FIN, and the client reads the reply and then end of file.
///
/// # Errors
///
/// If the socket cannot be made non-blocking or ended, or the write fails or takes only part of
/// `reply` ([`io::ErrorKind::WriteZero`]): the client then has a cut-short reply, or none.
pub fn answer_at_once(stream: &TcpStream, reply: &[u8]) -> io::Result<()> {
    /// Enough for any request head this server would read; a client that sent more is reset.
    const MAX_DISCARD: usize = 16 * 1024;
    stream.set_nonblocking(true)?;
    let written = (&mut &*stream).write(reply)?;
    if written < reply.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("only {written} of the reply's {} bytes fitted", reply.len()),
        ));
    }
    stream.shutdown(Shutdown::Write)?;
    let mut buf = [0; 4096];
    let mut discarded = 0;
    while discarded < MAX_DISCARD {
        match (&mut &*stream).read(&mut buf) {
            // Would block (nothing more has arrived), end of file, or a dead connection.
            Ok(0) | Err(_) => break,
            Ok(n) => discarded += n,
        }
    }
    Ok(())
}
// ANCHOR_END: answer-at-once

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::mpsc;
    use std::thread;

    use crate::response::Response;

    /// A connected pair: the server's end, and the client's.
    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (server, client)
    }

    const REPLY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";

    /// What a client reads when it sends `before`, is answered at once, then sends `after`.
    fn answered_at_once(before: &[u8], after: &[u8]) -> Vec<u8> {
        let (server, mut client) = pair();
        if !before.is_empty() {
            client.write_all(before).unwrap();
            // What the client sent must have arrived before the server answers.
            server.peek(&mut [0; 1]).unwrap();
        }
        answer_at_once(&server, REPLY).unwrap();
        drop(server);
        // Input to a closed socket makes the kernel reset the connection, after the reply and
        // its FIN; the write may fail once the reset is back.
        let _ = client.write_all(after);
        let mut reply = Vec::new();
        client.read_to_end(&mut reply).unwrap();
        reply
    }

    #[test]
    fn an_answer_at_once_is_read_whole_after_the_request_was_sent() {
        assert_eq!(answered_at_once(b"GET / HTTP/1.1\r\n\r\n", b""), REPLY);
    }

    #[test]
    fn an_answer_at_once_survives_a_request_that_comes_after_it() {
        assert_eq!(answered_at_once(b"", b"GET / HTTP/1.1\r\n\r\n"), REPLY);
    }

    #[test]
    fn an_answer_at_once_survives_more_input_than_it_reads_off() {
        // Closed with input unread: a reset, but behind the reply and the FIN.
        assert_eq!(answered_at_once(&[b'x'; 64 * 1024], b""), REPLY);
    }

    #[test]
    fn an_answer_at_once_never_waits_for_the_client() {
        let (server, client) = pair();
        // The client neither reads nor writes nor closes: a blocking read would wait for ever.
        let (done_tx, done) = mpsc::channel();
        thread::spawn(move || done_tx.send(answer_at_once(&server, REPLY).is_ok()));
        assert_eq!(done.recv_timeout(Duration::from_secs(30)), Ok(true));
        drop(client);
    }

    fn with_deadlines() -> ConnectionConfig {
        ConnectionConfig {
            request_timeout: Some(Duration::from_millis(300)),
            response_timeout: Some(Duration::from_millis(300)),
            ..ConnectionConfig::default()
        }
    }

    #[test]
    fn lingering_discards_what_the_client_sends_until_it_closes() {
        let (server, mut client) = pair();
        client.write_all(&[b'x'; 10_000]).unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        // The budget is only a watchdog here: the client's close is what ends the linger.
        linger_for(&server, Duration::from_secs(30));
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "the server's side is closed for writing");
    }

    #[test]
    fn a_trickling_request_runs_out_of_time() {
        let (server, client) = pair();
        let (done_tx, done) = mpsc::channel();
        // One byte every 10 ms: each read succeeds long before the 5 s read timeout, and the
        // whole head would take over a second, so only the 300 ms deadline can end it first.
        let trickler = thread::spawn(move || {
            let head = format!("GET / HTTP/1.1\r\nX-Pad: {}\r\n\r\n", "a".repeat(100));
            for byte in head.bytes() {
                if done.try_recv().is_ok() || (&client).write_all(&[byte]).is_err() {
                    return;
                }
                thread::sleep(Duration::from_millis(10));
            }
        });
        let outcome = handle_connection_with(
            server,
            &|_: &Request| Response::html(Status::OK, "too late"),
            &with_deadlines(),
        );
        let _ = done_tx.send(()); // the peer may have finished already
        trickler.join().unwrap();
        assert!(
            matches!(outcome, Outcome::Rejected(Status::REQUEST_TIMEOUT)),
            "{outcome:?}"
        );
    }

    #[test]
    fn a_slowly_read_response_runs_out_of_time() {
        let (server, client) = pair();
        (&client).write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        let (done_tx, done) = mpsc::channel();
        // 4 KiB every 5 ms: the socket never stays full for the 5 s write timeout, and 16 MiB
        // would take 20 s, so only the 300 ms deadline can end it first.
        let reader = thread::spawn(move || {
            let mut buf = [0; 4096];
            while done.try_recv().is_err() {
                match (&client).read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        let big = vec![b'x'; 16 * 1024 * 1024];
        let outcome = handle_connection_with(
            server,
            &move |_: &Request| Response::new(Status::OK, "text/plain", big.clone()),
            &with_deadlines(),
        );
        let _ = done_tx.send(()); // the peer may have finished already
        reader.join().unwrap();
        assert!(
            matches!(&outcome, Outcome::WriteFailed(e) if e.kind() == io::ErrorKind::TimedOut),
            "{outcome:?}"
        );
    }

    #[test]
    fn without_a_deadline_a_prompt_request_is_answered() {
        let (server, client) = pair();
        (&client).write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        let outcome = handle_connection_with(
            server,
            &|_: &Request| Response::html(Status::OK, "hi"),
            &ConnectionConfig::default(),
        );
        assert!(
            matches!(outcome, Outcome::Answered(Status::OK)),
            "{outcome:?}"
        );
        let mut reply = String::new();
        (&client).read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
    }
}
