//! Stage 24: shedding load by time waited.
//!
//! Stage 23's server, whose pool now drops a job that waited too long instead of running it
//! late ([`pool::Shedding`], controlled delay): a connection that waited past the target while
//! the queue stood is answered [`busy`] at once, by the `Drop` of the value that holds it, and a
//! worker goes on to a connection whose client is still there.

// ANCHOR: modules
pub mod accept;
mod builder;
mod handle;
pub mod pool;
mod queue;
// ANCHOR_END: modules

use std::io;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use poolbook_http::connection::answer_at_once;
use poolbook_http::{ConnectionConfig, Request, Response, Status, handle_connection_with};

use pool::{Metrics, Policy, PoolCreationError, Shedding, ThreadPool};

/// How many connections the server serves at once, and how many more it lets wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// Worker threads, each serving one connection at a time.
    pub workers: usize,
    /// Accepted connections that may wait for a worker; when they fill it, the accept loop
    /// waits for a place ([`Config::patience`]).
    pub waiting: usize,
}

impl Default for Capacity {
    /// Four workers and 64 waiting connections: a burst of a few dozen is absorbed, a flood is
    /// refused within a few kilobytes of queue.
    fn default() -> Self {
        Capacity {
            workers: 4,
            waiting: 64,
        }
    }
}

// ANCHOR: config
/// Everything the server bounds: threads and queue, and how long each connection may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Workers and waiting connections.
    pub capacity: Capacity,
    /// How long the accept loop waits for room in a full waiting room before it refuses the
    /// connection in its hand (and, until room appears, every next one at once).
    pub patience: Duration,
    /// When a connection has waited too long for a worker, and is answered [`busy`] instead.
    pub shedding: Shedding,
    /// Timeouts and size limits for each connection.
    pub connection: ConnectionConfig,
}

impl Default for Config {
    /// [`Capacity::default`], a patience of 100 ms, [`Shedding::default`] ("Fail at Scale"'s 5 ms
    /// and 100 ms), five seconds per read or write, ten for a
    /// whole request head and thirty for a whole response. Apache httpd's `mod_reqtimeout`
    /// allows a request head 20 to 40 seconds by default; a server that answers small pages can
    /// afford to be stricter. 100 ms is the interval of "Fail at Scale"'s controlled delay: a
    /// queue that stays full that long is not a burst. Busy workers free a place every few
    /// dozen microseconds (chapter 22 measures it), so only stuck ones use it up.
    fn default() -> Self {
        Config {
            capacity: Capacity::default(),
            patience: Duration::from_millis(100),
            shedding: Shedding::default(),
            connection: ConnectionConfig {
                request_timeout: Some(Duration::from_secs(10)),
                response_timeout: Some(Duration::from_secs(30)),
                ..ConnectionConfig::default()
            },
        }
    }
}
// ANCHOR_END: config

/// The answer to a connection that finds every worker busy and the queue full, or the process
/// out of descriptors.
pub fn busy() -> Response {
    Response::error(
        Status::SERVICE_UNAVAILABLE,
        "every worker is busy and the queue is full; try again shortly",
    )
    .with_header("Retry-After", "1")
}

// ANCHOR: unanswered
/// A connection not yet handed to its handler. Dropped so, it answers [`busy`] at once: when the
/// pool sheds the job that holds it, and when the job comes back refused and is dropped.
struct Unanswered(Option<TcpStream>);

impl Drop for Unanswered {
    fn drop(&mut self) {
        if let Some(stream) = self.0.take() {
            let _ = answer_at_once(&stream, &busy().to_bytes());
        }
    }
}
// ANCHOR_END: unanswered

/// How a refused connection is read and answered: briefly, since it was refused to save work.
fn refusal_config() -> ConnectionConfig {
    ConnectionConfig {
        read_timeout: Duration::from_secs(1),
        write_timeout: Duration::from_secs(1),
        request_timeout: Some(Duration::from_secs(1)),
        response_timeout: Some(Duration::from_secs(1)),
        ..ConnectionConfig::default()
    }
}

/// Refused connections that may wait to have their request read and be told so; beyond that they
/// are told at once, without their request being read.
const REFUSALS_WAITING: usize = 64;

/// Serves each connection `incoming` yields, with [`Config::default`].
///
/// # Errors
///
/// As [`serve_with`].
pub fn serve<I, H>(incoming: I, handler: H) -> Result<Metrics, PoolCreationError>
where
    I: IntoIterator<Item = io::Result<TcpStream>>,
    H: Fn(&Request) -> Response + Send + Sync + 'static,
{
    serve_with(incoming, handler, Config::default())
}

// ANCHOR: serve
/// Serves each connection `incoming` yields as a job on a pool of `config.capacity.workers`
/// threads, with room for `config.capacity.waiting` more. When that room is full, the loop waits
/// for a place, up to `config.patience`, and stops accepting meanwhile: the next clients wait in
/// the listen backlog. A connection that waited so long in vain is answered [`busy`], and so is
/// every next one at once, until a place is taken again. A connection that waited for a worker
/// longer than `config.shedding` allows is answered [`busy`] at once by the worker that takes
/// it, which goes on to the next. Each connection is read and written within
/// `config.connection`'s limits.
///
/// When `accept` fails because descriptors have run out, the loop neither stops nor spins: it
/// answers the next client [`busy`] through a descriptor kept in reserve, backs off while even
/// that one is in use, and accepts normally again once connections close.
///
/// Returns when `incoming` ends, and only after every connection it accepted has been answered,
/// with the metrics of the pool that served them.
///
/// # Errors
///
/// If the pools cannot be built (zero workers, zero waiting, or no threads); nothing is
/// accepted then.
pub fn serve_with<I, H>(
    incoming: I,
    handler: H,
    config: Config,
) -> Result<Metrics, PoolCreationError>
where
    I: IntoIterator<Item = io::Result<TcpStream>>,
    H: Fn(&Request) -> Response + Send + Sync + 'static,
{
    let handler = Arc::new(handler);
    // ANCHOR: patience-pool
    let pool = ThreadPool::builder()
        .threads(config.capacity.workers)
        .name_prefix("http-worker")
        .capacity(config.capacity.waiting)
        .policy(Policy::BlockFor(config.patience))
        .shedding(config.shedding)
        .build()?;
    // ANCHOR_END: patience-pool
    // A refused client is still read and answered, which takes time a slow client controls: a
    // second, one-thread pool does it, so that the accept loop itself never waits on a client.
    let refusals = ThreadPool::builder()
        .threads(1)
        .name_prefix("http-refusal")
        .capacity(REFUSALS_WAITING)
        .policy(Policy::Reject)
        .build()?;
    let busy_now = busy().to_bytes();
    // ANCHOR: accept-loop
    let refuse = |stream: TcpStream| {
        let spare = stream.try_clone();
        let refusal = refusal_config();
        let queued = refusals.execute(move || {
            handle_connection_with(stream, &|_: &Request| busy(), &refusal);
        });
        // The refusal thread is behind: answer here, unread, in a few calls that never wait.
        if queued.is_err()
            && let Ok(spare) = spare
        {
            let _ = answer_at_once(&spare, &busy_now);
        }
    };
    // ANCHOR: patience
    // Set when a connection waited the whole patience for a place and got none: the workers
    // are stuck, so the next connections are refused at once rather than each waiting in turn.
    let mut out_of_patience = false;
    for stream in accept::Guarded::new(incoming, &refuse) {
        let handler = Arc::clone(&handler);
        let connection = config.connection;
        // ANCHOR: job
        let mut unanswered = Unanswered(Some(stream));
        let job = move || {
            // Taken out, the stream is the handler's: the guard has nothing left to answer.
            if let Some(stream) = unanswered.0.take() {
                handle_connection_with(stream, &*handler, &connection);
            }
        };
        // ANCHOR_END: job
        let offered = if out_of_patience {
            pool.try_execute(job)
        } else {
            pool.execute(job)
        };
        // A job handed back is dropped here, unrun: its connection is told busy.
        out_of_patience = offered.is_err();
    }
    // ANCHOR_END: patience
    // ANCHOR_END: accept-loop
    // Wait for every accepted connection to be answered, then read the figures: no job is left
    // to change them. Dropping `pool` then only joins idle threads; dropping `refusals` still
    // waits for the refusals it holds.
    pool.close();
    pool.join();
    Ok(pool.metrics())
}
// ANCHOR_END: serve
