//! The TIME server on poolbook's thread pool.
//!
//! One connection is one job: a worker serves it, request after request, until the client quits
//! or closes or goes quiet for too long. The queue is bounded; a connection that finds it full is
//! told [`crate::protocol::BUSY`] by a one-thread refusal pool, as the HTTP server does
//! (chapter 12), and running out of descriptors is survived with stage 21's reserve and back-off.

use std::io::{self, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

use ch21_hardened::accept;
use ch21_hardened::pool::{Metrics, Policy, PoolCreationError, ThreadPool};
use poolbook_http::connection::{answer_at_once, linger_for};

use crate::protocol::{BUSY, serve_connection};

/// How many connections the server serves at once and lets wait, and for how long it waits on a
/// quiet client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Worker threads, each serving one connection at a time.
    pub workers: usize,
    /// Accepted connections that may wait for a worker; one more is told `ERR busy`.
    pub waiting: usize,
    /// How long a connection may stay silent between requests before it is closed.
    pub idle_timeout: Duration,
}

impl Default for Config {
    /// Eight workers, 1,024 waiting connections, ten seconds of silence.
    fn default() -> Self {
        Config {
            workers: 8,
            waiting: 1024,
            idle_timeout: Duration::from_secs(10),
        }
    }
}

/// Refused connections that may wait to be told so after a moment's lingering; beyond that they
/// are told at once.
const REFUSALS_WAITING: usize = 256;

// ANCHOR: serve
/// Serves each connection `incoming` yields until it ends, then waits for every accepted
/// connection to finish, and returns the pool's final metrics (`completed` counts connections).
///
/// # Errors
///
/// If the pools cannot be built (zero workers or waiting places, or no threads).
pub fn serve<I>(incoming: I, config: Config) -> Result<Metrics, PoolCreationError>
where
    I: IntoIterator<Item = io::Result<TcpStream>>,
{
    let pool = ThreadPool::builder()
        .threads(config.workers)
        .name_prefix("time-worker")
        .capacity(config.waiting)
        .policy(Policy::Reject)
        .build()?;
    let refusals = ThreadPool::builder()
        .threads(1)
        .name_prefix("time-refusal")
        .capacity(REFUSALS_WAITING)
        .policy(Policy::Reject)
        .build()?;
    let refuse = |stream: TcpStream| {
        let spare = stream.try_clone();
        // The refusal thread is behind: answer here, in a few calls that never wait.
        if refusals.execute(move || refuse(&stream)).is_err()
            && let Ok(spare) = spare
        {
            let _ = answer_at_once(&spare, BUSY.as_bytes());
        }
    };
    for stream in accept::Guarded::new(incoming, &refuse) {
        let spare = stream.try_clone();
        let idle_timeout = config.idle_timeout;
        if let Err(refused) = pool.execute(move || serve_stream(&stream, idle_timeout)) {
            drop(refused);
            if let Ok(spare) = spare {
                refuse(spare);
            }
        }
    }
    pool.close();
    pool.join();
    Ok(pool.metrics())
}
// ANCHOR_END: serve

/// Serves one connection with the protocol, reading and writing the socket directly.
fn serve_stream(stream: &TcpStream, idle_timeout: Duration) {
    if stream.set_read_timeout(Some(idle_timeout)).is_err()
        || stream.set_write_timeout(Some(idle_timeout)).is_err()
        // Replies are 14 bytes; without this, Nagle's algorithm holds each one back while the
        // client's acknowledgement of the previous one is delayed.
        || stream.set_nodelay(true).is_err()
    {
        return;
    }
    serve_connection(&mut BufReader::new(stream), &mut &*stream, SystemTime::now);
}

/// Tells a refused client it was refused, then drains what it sends for a moment, so that closing
/// with its request unread does not reset the connection before the reply is read.
fn refuse(stream: &TcpStream) {
    let budget = Duration::from_millis(500);
    if stream.set_write_timeout(Some(budget)).is_ok()
        && (&mut &*stream).write_all(BUSY.as_bytes()).is_ok()
    {
        linger_for(stream, budget);
    }
}

// ANCHOR: thread-per-connection
/// Serves each connection on a thread of its own, as the lab's server did: no bound on threads,
/// no queue. Returns when `incoming` ends, after every connection's thread has finished, with how
/// many connections were served and how many could not get a thread (and were closed).
pub fn serve_thread_per_connection<I>(incoming: I, idle_timeout: Duration) -> (u64, u64)
where
    I: IntoIterator<Item = io::Result<TcpStream>>,
{
    let mut threads = Vec::new();
    let (mut started, mut no_thread) = (0, 0);
    for stream in incoming {
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        // `thread::spawn` would panic when the system refuses a thread; the builder says so.
        match std::thread::Builder::new().spawn(move || serve_stream(&stream, idle_timeout)) {
            Ok(thread) => {
                threads.push(thread);
                started += 1;
            }
            Err(e) => {
                eprintln!("cannot start a thread: {e}");
                no_thread += 1;
            }
        }
        // Finished threads are let go as we go (dropping the handle of a finished thread frees
        // it), so the list holds only live ones; the lab's server kept every thread object for
        // its whole life.
        threads.retain(|thread| !thread.is_finished());
    }
    for thread in threads {
        let _ = thread.join();
    }
    (started, no_thread)
}
// ANCHOR_END: thread-per-connection
