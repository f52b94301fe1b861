//! Keeping the accept loop alive, and useful, when the process runs out of file descriptors.
//!
//! Every connection costs a descriptor, and a process may have only so many (`ulimit -n`). At the
//! limit, `accept` fails with `EMFILE`, "Too many open files", and goes on failing at once, every
//! time it is called, until some connection closes. A loop that stops at the first error (the
//! Rust Book's `stream.unwrap()`) takes the server down; a loop that just logs and goes on spins a
//! core and floods its log. This module gives the loop what it needs to do better: a descriptor
//! held in reserve to answer one client at a time, a back-off for when even that is gone, and
//! [`Guarded`], which puts them together around the connections an accept loop takes, telling
//! that error from the others with [`poolbook_http::resources::is_exhaustion`].

use std::fs::File;
use std::io;
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use poolbook_http::resources::is_exhaustion;

// ANCHOR: reserve
/// One descriptor held back for the moment every other one is taken.
///
/// When `accept` fails for want of a descriptor, releasing this one lets the next `accept`
/// succeed, so the server can tell that client it is busy instead of leaving it to wait in the
/// kernel's queue until it gives up. The trick is an old one (libev and libuv use it).
#[derive(Debug)]
pub struct Reserve {
    held: Option<File>,
}

impl Reserve {
    /// Takes one descriptor into reserve (an open null device), if one is free.
    pub fn new() -> Reserve {
        Reserve {
            held: placeholder().ok(),
        }
    }

    /// Gives the reserved descriptor back to the process; returns whether one was held.
    pub fn release(&mut self) -> bool {
        self.held.take().is_some()
    }

    /// Takes a descriptor back into reserve, if none is held and one is free.
    pub fn refill(&mut self) {
        if self.held.is_none() {
            self.held = placeholder().ok();
        }
    }

    /// Whether a descriptor is held.
    pub fn is_held(&self) -> bool {
        self.held.is_some()
    }
}

impl Default for Reserve {
    fn default() -> Self {
        Reserve::new()
    }
}

fn placeholder() -> io::Result<File> {
    File::open(if cfg!(windows) { "NUL" } else { "/dev/null" })
}
// ANCHOR_END: reserve

// ANCHOR: backoff
/// The accept loop's memory of one exhaustion episode: it logs the first failure and the
/// recovery, not every failure, and waits longer after each failure it cannot do anything about.
#[derive(Debug)]
pub struct Exhaustion {
    /// How long the next [`Exhaustion::back_off`] waits.
    pause: Duration,
    /// Failed `accept` calls in this episode; zero when there is none.
    failures: u64,
    /// Connections answered `503` through the reserve in this episode.
    turned_away: u64,
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
            turned_away: 0,
        }
    }

    /// Records a failed `accept`; the first of an episode is logged.
    pub fn failed(&mut self, error: &io::Error) {
        if self.failures == 0 {
            eprintln!(
                "accept failed: {error}; out of file descriptors: answering new connections 503 \
                 while descriptors are short"
            );
        }
        self.failures += 1;
    }

    /// Records a connection told `503` through the reserve.
    pub fn turned_away(&mut self) {
        self.turned_away += 1;
    }

    /// Waits before the next `accept`, twice as long as last time, up to [`Self::MAX_PAUSE`].
    pub fn back_off(&mut self) {
        thread::sleep(self.pause);
        self.pause = doubled(self.pause);
    }

    /// Records a successful `accept`: ends the episode, if there was one, and logs its figures.
    pub fn accepted(&mut self) {
        if self.failures > 0 {
            let (failures, turned_away) = (self.failures, self.turned_away);
            let accepts = if failures == 1 { "accept" } else { "accepts" };
            let were = if turned_away == 1 {
                "connection was"
            } else {
                "connections were"
            };
            eprintln!(
                "descriptors available again: accepting normally after {failures} failed \
                 {accepts}; {turned_away} {were} answered 503 meanwhile"
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
/// On an exhaustion error it releases the [`Reserve`], accepts one more client with the freed
/// descriptor and hands it to `refuse`, to be told the server is busy; when no descriptor was in
/// reserve, it backs off instead ([`Exhaustion`]). Any other error is logged and passed over.
/// It ends when `incoming` does.
#[derive(Debug)]
pub struct Guarded<I, R> {
    incoming: I,
    refuse: R,
    reserve: Reserve,
    exhaustion: Exhaustion,
}

impl<I, R> Guarded<I, R>
where
    I: Iterator<Item = io::Result<TcpStream>>,
    R: FnMut(TcpStream),
{
    /// Guards `incoming`, taking a descriptor into reserve now; `refuse` is given each client
    /// accepted through the reserve.
    pub fn new(incoming: impl IntoIterator<IntoIter = I>, refuse: R) -> Guarded<I, R> {
        Guarded {
            incoming: incoming.into_iter(),
            refuse,
            reserve: Reserve::new(),
            exhaustion: Exhaustion::new(),
        }
    }
}

impl<I, R> Iterator for Guarded<I, R>
where
    I: Iterator<Item = io::Result<TcpStream>>,
    R: FnMut(TcpStream),
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
                    if self.reserve.release() {
                        // The one free descriptor goes to the next client, to tell it to come
                        // back. If that `accept` fails too, there is no client to tell.
                        if let Ok(stream) = self.incoming.next()? {
                            (self.refuse)(stream);
                            self.exhaustion.turned_away();
                        }
                    } else {
                        self.exhaustion.back_off();
                    }
                    self.reserve.refill();
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
    fn the_client_after_an_exhaustion_error_is_refused_through_the_reserve() {
        let (servers, _clients) = accepted(2);
        let expected = peers(&servers);
        let mut servers = servers.into_iter();
        let incoming = [
            Err(io::Error::from_raw_os_error(libc::EMFILE)),
            Ok(servers.next().unwrap()),
            Ok(servers.next().unwrap()),
        ];
        let mut refused = Vec::new();
        let mut guarded = Guarded::new(incoming, |stream| refused.push(stream));
        let served: Vec<_> = guarded.by_ref().collect();
        assert!(guarded.reserve.is_held(), "the reserve is taken back");
        assert!(
            !guarded.exhaustion.is_ongoing(),
            "the next success ends the episode"
        );
        drop(guarded);
        assert_eq!(peers(&refused), expected[..1]);
        assert_eq!(peers(&served), expected[1..]);
    }

    #[cfg(unix)]
    #[test]
    fn the_connections_end_when_incoming_ends_during_an_episode() {
        let incoming = [Err(io::Error::from_raw_os_error(libc::EMFILE))];
        let mut refusals = 0;
        assert_eq!(Guarded::new(incoming, |_| refusals += 1).count(), 0);
        assert_eq!(refusals, 0);
    }

    #[test]
    fn other_errors_are_passed_over() {
        let (servers, _clients) = accepted(1);
        let expected = peers(&servers);
        let incoming = [
            Err(io::Error::from(io::ErrorKind::ConnectionAborted)),
            Ok(servers.into_iter().next().unwrap()),
        ];
        let mut guarded = Guarded::new(incoming, |_| panic!("nothing is refused"));
        let served: Vec<_> = guarded.by_ref().collect();
        assert!(!guarded.exhaustion.is_ongoing());
        assert_eq!(peers(&served), expected);
    }

    #[test]
    fn the_reserve_is_released_once_and_refilled() {
        let mut reserve = Reserve::new();
        assert!(reserve.is_held());
        assert!(reserve.release());
        assert!(!reserve.release());
        reserve.refill();
        assert!(reserve.is_held());
    }

    #[test]
    fn an_episode_doubles_its_pause_up_to_the_cap_and_ends_on_success() {
        let mut episode = Exhaustion::new();
        let error = io::Error::other("out of descriptors");
        episode.failed(&error);
        episode.turned_away();
        assert!(episode.is_ongoing());
        assert_eq!(doubled(Duration::from_millis(3)), Duration::from_millis(6));
        assert_eq!(doubled(Exhaustion::MAX_PAUSE), Exhaustion::MAX_PAUSE);
        assert_eq!(doubled(Duration::from_millis(400)), Exhaustion::MAX_PAUSE);
        episode.back_off();
        assert_eq!(episode.pause, Duration::from_millis(2));
        episode.accepted();
        assert!(!episode.is_ongoing());
        assert_eq!(episode.pause, Exhaustion::FIRST_PAUSE);
        assert_eq!(episode.turned_away, 0);
    }
}
