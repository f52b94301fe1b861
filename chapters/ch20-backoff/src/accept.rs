//! Keeping the accept loop alive when the process runs out of file descriptors.
//!
//! Every connection costs a descriptor, and a process may have only so many (`ulimit -n`). At the
//! limit, `accept` fails with `EMFILE`, "Too many open files", and goes on failing at once, every
//! time it is called, until some connection closes. A loop that stops at the first error (the
//! Rust Book's `stream.unwrap()`) takes the server down; a loop that just logs and goes on spins a
//! core and floods its log. This module gives the loop a back-off for that error, telling it from
//! the others with [`poolbook_http::resources::is_exhaustion`], and [`Guarded`], which puts the
//! back-off around the connections an accept loop takes.

use std::io;
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use poolbook_http::resources::is_exhaustion;

// ANCHOR: backoff
/// The accept loop's memory of one exhaustion episode: it logs the first failure and the
/// recovery, not every failure, and waits longer after each failure it cannot do anything about.
#[derive(Debug)]
pub struct Exhaustion {
    /// How long the next [`Exhaustion::back_off`] waits.
    pause: Duration,
    /// Failed `accept` calls in this episode; zero when there is none.
    failures: u64,
}

impl Exhaustion {
    /// The first pause: short, since a descriptor may free up any moment.
    pub const FIRST_PAUSE: Duration = Duration::from_millis(1);
    /// The longest pause: long enough not to spin, short enough to recover promptly.
    pub const MAX_PAUSE: Duration = Duration::from_millis(500);

    /// No episode yet.
    pub fn new() -> Exhaustion {
        Exhaustion {
            pause: Self::FIRST_PAUSE,
            failures: 0,
        }
    }

    /// Records a failed `accept`; the first of an episode is logged.
    pub fn failed(&mut self, error: &io::Error) {
        if self.failures == 0 {
            eprintln!(
                "accept failed: {error}; out of file descriptors: waiting for connections to \
                 close"
            );
        }
        self.failures += 1;
    }

    /// Waits before the next `accept`, twice as long as last time, up to [`Self::MAX_PAUSE`].
    pub fn back_off(&mut self) {
        thread::sleep(self.pause);
        self.pause = doubled(self.pause);
    }

    /// Records a successful `accept`: ends the episode, if there was one, and logs its figures.
    pub fn accepted(&mut self) {
        if self.failures > 0 {
            let failures = self.failures;
            let accepts = if failures == 1 { "accept" } else { "accepts" };
            eprintln!(
                "descriptors available again: accepting normally after {failures} failed {accepts}"
            );
            *self = Exhaustion::new();
        }
    }

    /// Whether an episode is under way.
    pub fn is_ongoing(&self) -> bool {
        self.failures > 0
    }
}

/// The pause after `pause`: twice as long, at most [`Exhaustion::MAX_PAUSE`].
fn doubled(pause: Duration) -> Duration {
    (pause * 2).min(Exhaustion::MAX_PAUSE)
}

impl Default for Exhaustion {
    fn default() -> Self {
        Exhaustion::new()
    }
}
// ANCHOR_END: backoff

// ANCHOR: guarded
/// The connections an accept loop takes, guarded against running out of descriptors: an
/// iterator over the streams `incoming` accepts, which deals with its errors itself.
///
/// On an exhaustion error it backs off ([`Exhaustion`]) before it asks for the next connection;
/// any other error is logged and passed over. It ends when `incoming` does.
#[derive(Debug)]
pub struct Guarded<I> {
    incoming: I,
    exhaustion: Exhaustion,
}

impl<I> Guarded<I>
where
    I: Iterator<Item = io::Result<TcpStream>>,
{
    /// Guards `incoming`.
    pub fn new(incoming: impl IntoIterator<IntoIter = I>) -> Guarded<I> {
        Guarded {
            incoming: incoming.into_iter(),
            exhaustion: Exhaustion::new(),
        }
    }
}

impl<I> Iterator for Guarded<I>
where
    I: Iterator<Item = io::Result<TcpStream>>,
{
    type Item = TcpStream;

    fn next(&mut self) -> Option<TcpStream> {
        loop {
            match self.incoming.next()? {
                Ok(stream) => {
                    self.exhaustion.accepted();
                    return Some(stream);
                }
                Err(e) if is_exhaustion(&e) => {
                    self.exhaustion.failed(&e);
                    // Nothing can be done for the client until a descriptor is free: wait, and
                    // longer each time, rather than call `accept` again at once.
                    self.exhaustion.back_off();
                }
                // A client that reset before it was accepted, say: nothing lasting.
                Err(e) => eprintln!("accept failed: {e}"),
            }
        }
    }
}
// ANCHOR_END: guarded

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{SocketAddr, TcpListener};

    /// `n` accepted loopback connections (server side), with the clients kept open beside them.
    fn accepted(n: usize) -> (Vec<TcpStream>, Vec<TcpStream>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let clients: Vec<_> = (0..n).map(|_| TcpStream::connect(addr).unwrap()).collect();
        let servers = (0..n).map(|_| listener.accept().unwrap().0).collect();
        (servers, clients)
    }

    fn peers(streams: &[TcpStream]) -> Vec<SocketAddr> {
        streams.iter().map(|s| s.peer_addr().unwrap()).collect()
    }

    #[cfg(unix)]
    #[test]
    fn an_exhaustion_error_is_waited_out() {
        let (servers, _clients) = accepted(1);
        let expected = peers(&servers);
        let incoming = [
            Err(io::Error::from_raw_os_error(libc::EMFILE)),
            Err(io::Error::from_raw_os_error(libc::EMFILE)),
            Ok(servers.into_iter().next().unwrap()),
        ];
        let mut guarded = Guarded::new(incoming);
        let served: Vec<_> = guarded.by_ref().collect();
        assert!(
            !guarded.exhaustion.is_ongoing(),
            "the next success ends the episode"
        );
        assert_eq!(peers(&served), expected);
    }

    #[cfg(unix)]
    #[test]
    fn the_connections_end_when_incoming_ends_during_an_episode() {
        let incoming = [Err(io::Error::from_raw_os_error(libc::EMFILE))];
        assert_eq!(Guarded::new(incoming).count(), 0);
    }

    #[test]
    fn other_errors_are_passed_over() {
        let (servers, _clients) = accepted(1);
        let expected = peers(&servers);
        let incoming = [
            Err(io::Error::from(io::ErrorKind::ConnectionAborted)),
            Ok(servers.into_iter().next().unwrap()),
        ];
        let mut guarded = Guarded::new(incoming);
        let served: Vec<_> = guarded.by_ref().collect();
        assert!(!guarded.exhaustion.is_ongoing());
        assert_eq!(peers(&served), expected);
    }

    #[test]
    fn an_episode_doubles_its_pause_up_to_the_cap_and_ends_on_success() {
        let mut episode = Exhaustion::new();
        let error = io::Error::other("out of descriptors");
        episode.failed(&error);
        assert!(episode.is_ongoing());
        assert_eq!(doubled(Duration::from_millis(3)), Duration::from_millis(6));
        assert_eq!(doubled(Exhaustion::MAX_PAUSE), Exhaustion::MAX_PAUSE);
        assert_eq!(doubled(Duration::from_millis(400)), Exhaustion::MAX_PAUSE);
        episode.back_off();
        assert_eq!(episode.pause, Duration::from_millis(2));
        episode.accepted();
        assert!(!episode.is_ongoing());
        assert_eq!(episode.pause, Exhaustion::FIRST_PAUSE);
    }
}
