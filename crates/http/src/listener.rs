//! Listening with a chosen backlog, and accepting connections until asked to stop, without
//! losing one that was already accepted.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use socket2::{Domain, Protocol, Socket, Type};

/// What Rust's standard library asks for as the listen backlog, and the stages' default.
pub const STD_BACKLOG: u32 = 128;

/// Listens on `addr` with an accept queue of `backlog` connections: those the kernel has
/// completed and holds until the server accepts them. A handshake that finds the queue full is
/// dropped, and the client tries again a second later, so a burst of connections larger than the
/// queue waits a second or more.
///
/// The kernel caps `backlog` at `net.core.somaxconn` (4,096 by default since Linux 5.4). As with
/// `TcpListener::bind`, the address may be reused at once, while connections of a server that
/// has just stopped linger in `TIME_WAIT`.
///
/// # Errors
///
/// If the socket cannot be created, bound or made to listen (address in use, not permitted).
pub fn bind(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(socket.into())
}

/// Creates an accept loop over `listener` that ends when [`StopHandle::stop`] is called.
///
/// `TcpListener::accept` blocks and cannot be interrupted portably, so stopping wakes it the
/// simplest way there is: by connecting to it. The iterator ends at that wake-up connection.
/// Every connection accepted before it is still yielded, so none is dropped unanswered; those
/// the kernel had queued behind it are refused when the listener is dropped.
///
/// # Errors
///
/// If the listener's address cannot be read.
pub fn stoppable(listener: &TcpListener) -> io::Result<(Incoming<'_>, StopHandle)> {
    let shared = Arc::new(Shared::default());
    let mut addr = listener.local_addr()?;
    if addr.ip().is_unspecified() {
        let loopback = match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        };
        addr.set_ip(loopback);
    }
    let incoming = Incoming {
        listener,
        shared: Arc::clone(&shared),
        done: false,
    };
    Ok((incoming, StopHandle { addr, shared }))
}

#[derive(Default)]
struct Shared {
    stopping: AtomicBool,
    /// What became of the wake-up connection.
    wake: Mutex<Wake>,
    wake_known: Condvar,
}

/// The wake-up connection, as [`StopHandle::stop`] records it for the accept loop.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Wake {
    /// Not recorded yet: no stop, or one still connecting.
    #[default]
    Unknown,
    /// Connected from this local address: the accept loop ends when it accepts that peer.
    From(SocketAddr),
    /// Not made, or its address is unknown: the accept loop ends after its next `accept`.
    Failed,
}

/// The accepted connections, as [`TcpListener::incoming`] gives them, until stopped.
pub struct Incoming<'a> {
    listener: &'a TcpListener,
    shared: Arc<Shared>,
    done: bool,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let accepted = self.listener.accept();
        if !self.shared.stopping.load(Ordering::Acquire) {
            return Some(accepted.map(|(stream, _)| stream));
        }
        let Ok((stream, peer)) = accepted else {
            // Stopping, and accept failed: nothing was accepted, so nothing is lost.
            self.done = true;
            return None;
        };
        // The stopper connects right after raising the flag; wait until it has recorded which
        // connection is its own, then tell that one from a real client's.
        let mut wake = self
            .shared
            .wake
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while *wake == Wake::Unknown {
            wake = self
                .shared
                .wake_known
                .wait(wake)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        match *wake {
            Wake::From(addr) if addr == peer => {
                self.done = true;
                None
            }
            // No wake-up connection will come to end the loop: this client, accepted, is still
            // served, and the loop ends here instead.
            Wake::Failed => {
                self.done = true;
                Some(Ok(stream))
            }
            _ => Some(Ok(stream)),
        }
    }
}

/// How many more times [`StopHandle::stop`] tries to connect after a failure, and how long it
/// pauses before each try.
const STOP_RETRIES: u32 = 20;
const STOP_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

/// Stops an [`Incoming`] loop from any thread (a signal handler thread, a test).
#[derive(Clone)]
pub struct StopHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl StopHandle {
    /// Asks the accept loop to end. Idempotent: only the first call connects.
    ///
    /// # Errors
    ///
    /// If the wake-up connection cannot be made, even after retrying for about a second (for
    /// example when the process has no descriptor left), or its address cannot be read. The loop
    /// then ends at its next `accept`: when that accepts a client, the client is yielded first.
    pub fn stop(&self) -> io::Result<()> {
        if self.shared.stopping.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        // A server out of descriptors frees some as it answers connections; a few retries give
        // the wake-up connection its chance.
        let mut result = TcpStream::connect(self.addr);
        for _ in 0..STOP_RETRIES {
            if result.is_ok() {
                break;
            }
            std::thread::sleep(STOP_RETRY_PAUSE);
            result = TcpStream::connect(self.addr);
        }
        // Recorded whatever happened: the accept loop may be waiting to learn it.
        let (wake, outcome) = match result.and_then(|stream| stream.local_addr()) {
            Ok(addr) => (Wake::From(addr), Ok(())),
            Err(e) => (Wake::Failed, Err(e)),
        };
        *self
            .shared
            .wake
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = wake;
        self.shared.wake_known.notify_all();
        outcome
    }

    /// Whether [`StopHandle::stop`] has been called.
    pub fn is_stopping(&self) -> bool {
        self.shared.stopping.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::thread;

    /// Connections the kernel completes with nobody accepting: beyond std's 128, a handshake
    /// would be dropped and retried for minutes, which the connect timeout turns into a failure.
    #[test]
    fn the_backlog_holds_a_burst_larger_than_std_s() {
        let burst = 300;
        let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok());
        if somaxconn.is_some_and(|cap| cap <= burst) {
            eprintln!("skipped: net.core.somaxconn ({somaxconn:?}) caps the backlog below {burst}");
            return;
        }
        let listener = bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), burst + 10).unwrap();
        let addr = listener.local_addr().unwrap();
        // Each connection is kept, so that every one of them occupies the queue; the check is
        // that each connect completes.
        let _held: Vec<TcpStream> = (0..burst)
            .map(|i| {
                TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(30))
                    .unwrap_or_else(|e| panic!("connection {i} of the burst: {e}"))
            })
            .collect();
    }

    #[test]
    fn stops_after_serving_what_was_accepted() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (incoming, stop) = stoppable(&listener).unwrap();
        let client = thread::spawn(move || {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream.write_all(b"ping").unwrap();
            let mut reply = String::new();
            stream.read_to_string(&mut reply).unwrap();
            reply
        });
        let mut served = 0;
        for stream in incoming {
            let mut stream = stream.unwrap();
            let mut buf = [0; 4];
            stream.read_exact(&mut buf).unwrap();
            stream.write_all(b"pong").unwrap();
            drop(stream);
            served += 1;
            stop.stop().unwrap();
            stop.stop().unwrap();
        }
        assert_eq!(served, 1);
        assert_eq!(client.join().unwrap(), "pong");
        assert!(stop.is_stopping());
    }

    /// A stop whose wake-up connection cannot be made (no descriptor left, say) still ends the
    /// loop: the client its next `accept` takes is yielded, and nothing after it.
    #[test]
    fn a_stop_that_cannot_connect_ends_the_loop_after_one_more_accept() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (mut incoming, stop) = stoppable(&listener).unwrap();
        // The same loop's handle, but pointed at a port nothing listens on.
        let nowhere = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let failing = StopHandle {
            addr: nowhere,
            shared: Arc::clone(&stop.shared),
        };
        assert!(failing.stop().is_err(), "nothing listens at {nowhere}");
        assert!(stop.is_stopping());

        let client = TcpStream::connect(addr).unwrap();
        let accepted = incoming.next().expect("the client").unwrap();
        assert_eq!(accepted.peer_addr().unwrap(), client.local_addr().unwrap());
        // Another client is waiting to be accepted; the loop has ended all the same.
        let _late = TcpStream::connect(addr).unwrap();
        assert!(incoming.next().is_none());
    }
}
