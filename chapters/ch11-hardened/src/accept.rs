//! Keeping the accept loop alive, and useful, when the process runs out of file descriptors.
//!
//! Every connection costs a descriptor, and a process may have only so many (`ulimit -n`). At the
//! limit, `accept` fails with `EMFILE`, "Too many open files", and goes on failing at once, every
//! time it is called, until some connection closes. A loop that stops at the first error (the
//! Rust Book's `stream.unwrap()`) takes the server down; a loop that just logs and goes on spins a
//! core and floods its log. This module gives the loop what it needs to do better: a way to tell
//! that error from the others, a descriptor held in reserve to answer one client at a time, and a
//! back-off for when even that is gone.

use std::fs::File;
use std::io;
use std::thread;
use std::time::Duration;

// ANCHOR: exhaustion
/// Whether an `accept` error means a resource is exhausted: no descriptor left in the process
/// (`EMFILE`) or the system (`ENFILE`), or no kernel memory for another socket (`ENOBUFS`,
/// `ENOMEM`). Such errors last until load falls; retrying at once only spins.
pub fn is_exhaustion(error: &io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(
            error.raw_os_error(),
            Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
        )
    }
    #[cfg(not(unix))]
    {
        let _ = error;
        false
    }
}
// ANCHOR_END: exhaustion

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
            eprintln!(
                "descriptors available again: accepting normally after {} failed accepts; {} \
                 connections were answered 503 meanwhile",
                self.failures, self.turned_away
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exhaustion_is_told_from_other_errors() {
        #[cfg(unix)]
        for errno in [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM] {
            assert!(
                is_exhaustion(&io::Error::from_raw_os_error(errno)),
                "{errno}"
            );
        }
        #[cfg(unix)]
        assert!(!is_exhaustion(&io::Error::from_raw_os_error(
            libc::ECONNABORTED
        )));
        assert!(!is_exhaustion(&io::Error::from(io::ErrorKind::Interrupted)));
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
