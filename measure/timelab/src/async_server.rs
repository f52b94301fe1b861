//! The TIME server on tokio: the two other models the lab's chapter compares with the pool.
//!
//! - **Single-threaded async I/O** (tokio's current-thread runtime): one thread runs every
//!   connection, switching between them whenever one would wait for the network.
//! - **Multi-threaded async I/O** (tokio's multi-thread runtime): the same tasks, spread over a few
//!   worker threads that steal work from each other.
//!
//! Each connection is a task, not a thread: a connection waiting for its next request costs its
//! task's state and a small line buffer, not a thread and its stack. The protocol is the blocking
//! server's, byte for byte: both read a line and call [`protocol::respond`]. The number of open
//! connections is bounded by a semaphore, and a connection beyond it is told
//! [`protocol::BUSY`], as the pool's queue bound does.

use std::future::Future;
use std::io;
use std::net::TcpListener as StdListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::protocol::{self, Action, BUSY, Served};

/// Which of tokio's runtimes serves the connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Every task on the calling thread.
    CurrentThread,
    /// Tasks spread over this many worker threads.
    MultiThread {
        /// Worker threads.
        workers: usize,
    },
}

/// Limits of the async server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Connections served at once; one more is told `ERR busy`.
    pub max_connections: usize,
    /// How long a connection may stay silent between requests before it is closed.
    pub idle_timeout: Duration,
}

impl Default for Config {
    /// 10,000 connections, ten seconds of silence.
    fn default() -> Self {
        Config {
            max_connections: 10_000,
            idle_timeout: Duration::from_secs(10),
        }
    }
}

/// What the server did, counted when it stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// Connections served to their end.
    pub served: u64,
    /// Connections told `ERR busy`.
    pub refused: u64,
}

#[derive(Debug, Default)]
struct Counters {
    served: AtomicU64,
    refused: AtomicU64,
}

// ANCHOR: run
/// Serves TIME on `listener` with a runtime of the given flavour until `stop` completes, then
/// stops accepting and waits for every connection it is serving to end (refusals still reading
/// off a refused client's request are cut short).
///
/// # Errors
///
/// If the runtime cannot be built or the listener cannot be registered with it.
pub fn run(
    listener: StdListener,
    flavor: Flavor,
    config: Config,
    stop: impl Future<Output = ()> + Send + 'static,
) -> io::Result<Report> {
    let runtime = match flavor {
        Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        Flavor::MultiThread { workers } => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("time-async")
            .enable_all()
            .build()?,
    };
    listener.set_nonblocking(true)?;
    runtime.block_on(async move {
        let listener = TcpListener::from_std(listener)?;
        let permits = Arc::new(Semaphore::new(config.max_connections));
        let counters = Arc::new(Counters::default());
        let accepting = tokio::spawn(accept_loop(
            listener,
            Arc::clone(&permits),
            Arc::clone(&counters),
            config,
        ));
        stop.await;
        // Aborting stops the loop at an await (`accept`, or the back-off after a failed one), and
        // none lies between an accept and its spawn: a connection it has accepted is always
        // already spawned, and dropping the listener refuses the ones not yet accepted.
        accepting.abort();
        let _ = accepting.await;
        // Every connection holds a permit until it ends: taking them all waits for the last.
        let all = u32::try_from(config.max_connections).unwrap_or(u32::MAX);
        let _ = permits.acquire_many(all).await;
        Ok(Report {
            served: counters.served.load(Ordering::Relaxed),
            refused: counters.refused.load(Ordering::Relaxed),
        })
    })
}
// ANCHOR_END: run

// ANCHOR: accept-loop
async fn accept_loop(
    listener: TcpListener,
    permits: Arc<Semaphore>,
    counters: Arc<Counters>,
    config: Config,
) {
    let mut pause = Duration::from_millis(1);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                pause = Duration::from_millis(1);
                stream
            }
            Err(e) => {
                // Out of descriptors, say: waiting lets connections close; retrying at once spins.
                eprintln!("accept failed: {e}");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
                continue;
            }
        };
        let counters = Arc::clone(&counters);
        match Arc::clone(&permits).try_acquire_owned() {
            Ok(permit) => {
                tokio::spawn(async move {
                    serve_connection(stream, config.idle_timeout).await;
                    counters.served.fetch_add(1, Ordering::Relaxed);
                    drop(permit);
                });
            }
            Err(_) => {
                counters.refused.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(refuse(stream));
            }
        }
    }
}
// ANCHOR_END: accept-loop

// ANCHOR: serve-connection
/// Serves one connection: the blocking server's loop, with `.await` where it would block.
async fn serve_connection(stream: TcpStream, idle_timeout: Duration) -> Served {
    let _ = stream.set_nodelay(true);
    let (reader, mut writer) = stream.into_split();
    // A request line is at most MAX_LINE bytes: tokio's default 8 KiB buffer would make every
    // silent connection cost ten times what its task does.
    let mut reader = BufReader::with_capacity(4 * protocol::MAX_LINE, reader);
    let mut served = Served::new();
    let mut buf = Vec::with_capacity(16);
    served.end = loop {
        buf.clear();
        let mut line = (&mut reader).take(protocol::READ_LIMIT);
        let read = line.read_until(b'\n', &mut buf);
        let Ok(Ok(_)) = tokio::time::timeout(idle_timeout, read).await else {
            break protocol::End::Failed;
        };
        match protocol::respond(&protocol::classify(&buf), &mut served, SystemTime::now) {
            Action::Reply(reply) => {
                if writer.write_all(reply.as_bytes()).await.is_err() {
                    break protocol::End::Failed;
                }
            }
            Action::ReplyAndClose(reply) => {
                let _ = writer.write_all(reply.as_bytes()).await;
                break protocol::End::TooLong;
            }
            Action::Close(end) => break end,
        }
    };
    served
}
// ANCHOR_END: serve-connection

/// Tells a refused client so, then drains what it sends for a moment, so that closing with its
/// request unread does not reset the connection before the reply is read.
async fn refuse(mut stream: TcpStream) {
    let budget = Duration::from_millis(500);
    let _ = tokio::time::timeout(budget, async {
        stream.write_all(BUSY.as_bytes()).await?;
        stream.shutdown().await?;
        let mut buf = [0; 512];
        while stream.read(&mut buf).await? > 0 {}
        io::Result::Ok(())
    })
    .await;
}
