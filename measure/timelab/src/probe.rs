//! What a process holds, read from Linux's `/proc`: its threads, its open descriptors, and the
//! descriptor limit in force; a [`Sampler`] that records the peaks of both while a run goes on;
//! and the kernel's count of handshakes that had to wait ([`Handshakes`]).
//!
//! Everything here is read from files, because the workspace forbids `unsafe` code and so the
//! `getrlimit` call itself. Elsewhere than on Linux every reading is `None`, or an
//! `Unsupported` error.

use std::fs::File;
use std::io::{self, Read, Seek};
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The soft limit on open descriptors of this process, which a client report records.
pub use poolbook_http::resources::open_files_limit;

/// How often the [`Sampler`] looks: often enough to see a burst of threads that lives for a few
/// tens of milliseconds, rarely enough to cost nothing a run could measure.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// A process to look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pid {
    /// The calling process.
    This,
    /// Another process, by id.
    Other(u32),
}

impl Pid {
    fn dir(self) -> PathBuf {
        match self {
            Pid::This => PathBuf::from("/proc/self"),
            Pid::Other(pid) => PathBuf::from(format!("/proc/{pid}")),
        }
    }
}

/// The `Threads:` figure of a `status` file.
fn parse_threads(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))?
        .trim()
        .parse()
        .ok()
}

/// How many threads `pid` has now (Linux only).
pub fn threads(pid: Pid) -> Option<u64> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    parse_threads(&std::fs::read_to_string(pid.dir().join("status")).ok()?)
}

/// How many descriptors `pid` has open now, from the entries of `/proc/<pid>/fd`; for this
/// process, the descriptor the count itself opens is left out.
///
/// # Errors
///
/// As reading the folder fails; `EMFILE` when this process has no descriptor left to read it
/// with. Off Linux, an [`io::ErrorKind::Unsupported`] error.
pub fn open_descriptors(pid: Pid) -> io::Result<u64> {
    if !cfg!(target_os = "linux") {
        return Err(io::Error::from(io::ErrorKind::Unsupported));
    }
    let entries = std::fs::read_dir(pid.dir().join("fd"))?.count();
    let own = u64::from(pid == Pid::This);
    Ok(u64::try_from(entries)
        .unwrap_or(u64::MAX)
        .saturating_sub(own))
}

/// The most threads and open descriptors a process was seen with; `None` where it could not be
/// read (off Linux, a process that has gone, another user's process).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// The most threads seen at once.
    pub peak_threads: Option<u64>,
    /// The most open descriptors seen at once.
    pub peak_descriptors: Option<u64>,
}

impl Usage {
    fn saw_threads(&mut self, threads: u64) {
        self.peak_threads = Some(self.peak_threads.map_or(threads, |peak| peak.max(threads)));
    }

    fn saw_descriptors(&mut self, descriptors: u64) {
        self.peak_descriptors = Some(
            self.peak_descriptors
                .map_or(descriptors, |peak| peak.max(descriptors)),
        );
    }
}

/// Watches one process's threads and descriptors, keeping the peaks.
#[derive(Debug)]
pub struct Probe {
    pid: Pid,
    /// Opened once and re-read from the start at every sample, so that the thread count can
    /// still be read when the process has no descriptor left: the moment that matters most.
    status: Option<File>,
    limit: Option<u64>,
    usage: Usage,
}

impl Probe {
    /// A probe of `pid`, not yet sampled.
    pub fn new(pid: Pid) -> Probe {
        let status = if cfg!(target_os = "linux") {
            File::open(pid.dir().join("status")).ok()
        } else {
            None
        };
        Probe {
            pid,
            status,
            limit: if pid == Pid::This {
                open_files_limit()
            } else {
                None
            },
            usage: Usage::default(),
        }
    }

    /// Reads the process's threads and descriptors now, and keeps any new peak.
    pub fn sample(&mut self) {
        if let Some(status) = &mut self.status {
            let mut text = String::new();
            if status.rewind().is_ok()
                && status.read_to_string(&mut text).is_ok()
                && let Some(threads) = parse_threads(&text)
            {
                self.usage.saw_threads(threads);
            }
        }
        match open_descriptors(self.pid) {
            Ok(count) => self.usage.saw_descriptors(count),
            // No descriptor was free to open the folder with: every one below the limit is in use.
            Err(e) if is_out_of_descriptors(&e) && self.pid == Pid::This => {
                if let Some(limit) = self.limit {
                    self.usage.saw_descriptors(limit);
                }
            }
            Err(_) => {}
        }
    }

    /// The peaks seen so far.
    pub fn usage(&self) -> Usage {
        self.usage
    }
}

/// Whether no descriptor was left in this process (`EMFILE`) only: unlike
/// [`poolbook_http::resources::is_out_of_descriptors`], not `ENFILE`, for a system out of
/// descriptors says nothing of how many this process holds.
fn is_out_of_descriptors(error: &io::Error) -> bool {
    #[cfg(unix)]
    {
        error.raw_os_error() == Some(libc::EMFILE)
    }
    #[cfg(not(unix))]
    {
        let _ = error;
        false
    }
}

/// A thread that samples this process, and optionally another one, every [`SAMPLE_EVERY`] until
/// stopped, and calls a function with the time elapsed at every tick.
#[derive(Debug)]
pub struct Sampler {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<(Usage, Option<Usage>)>>,
}

impl Sampler {
    /// Starts sampling this process and `other`, if any. If no thread can be started, nothing is
    /// sampled and [`Sampler::finish`] returns empty usages.
    pub fn start<F>(other: Option<u32>, mut tick: F) -> Sampler
    where
        F: FnMut(Duration) + Send + 'static,
    {
        let (stop, stopped) = mpsc::channel::<()>();
        let started = Instant::now();
        let thread = thread::Builder::new()
            .name("time-sampler".to_owned())
            .spawn(move || {
                let mut this = Probe::new(Pid::This);
                let mut other = other.map(|pid| Probe::new(Pid::Other(pid)));
                loop {
                    this.sample();
                    if let Some(other) = &mut other {
                        other.sample();
                    }
                    tick(started.elapsed());
                    match stopped.recv_timeout(SAMPLE_EVERY) {
                        Err(RecvTimeoutError::Timeout) => {}
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                // One last look, so a run shorter than a tick is still seen at its end.
                this.sample();
                (
                    this.usage(),
                    other.as_mut().map(|other| {
                        other.sample();
                        other.usage()
                    }),
                )
            })
            .ok();
        Sampler {
            stop: Some(stop),
            thread,
        }
    }

    /// Stops sampling and returns the peaks of this process, and of the other one if one was
    /// given.
    pub fn finish(mut self) -> (Usage, Option<Usage>) {
        self.stop_thread().unwrap_or_default()
    }

    fn stop_thread(&mut self) -> Option<(Usage, Option<Usage>)> {
        drop(self.stop.take());
        self.thread.take()?.join().ok()
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        let _ = self.stop_thread();
    }
}

/// The kernel's counts of TCP handshakes that had to wait, for the whole machine (its network
/// namespace), from `/proc/net/netstat`: on loopback with nothing else running, a run's own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handshakes {
    /// Handshakes that found a listener's accept queue full (`ListenOverflows`): the kernel
    /// dropped the client's SYN, or its final ACK, as if it had been lost.
    pub listen_overflows: u64,
    /// SYNs and SYN-ACKs sent again for want of an answer (`TCPSynRetrans`). The first resend
    /// waits a second, so each is a connection that took a second or more to open.
    pub syns_resent: u64,
}

impl Handshakes {
    /// The counts now; `None` off Linux, or if the file lacks either counter.
    pub fn now() -> Option<Handshakes> {
        parse_handshakes(&std::fs::read_to_string("/proc/net/netstat").ok()?)
    }

    /// What was counted between `before` and `self`.
    pub fn since(self, before: Handshakes) -> Handshakes {
        Handshakes {
            listen_overflows: self
                .listen_overflows
                .saturating_sub(before.listen_overflows),
            syns_resent: self.syns_resent.saturating_sub(before.syns_resent),
        }
    }
}

/// Reads the two counters from `/proc/net/netstat`, where each group is a line of names and a
/// line of values (`TcpExt: SyncookiesSent …` then `TcpExt: 0 …`): by name, since the columns
/// differ between kernels.
fn parse_handshakes(netstat: &str) -> Option<Handshakes> {
    let mut lines = netstat.lines();
    while let Some(names) = lines.next() {
        let values = lines.next()?;
        let (Some(names), Some(values)) = (
            names.strip_prefix("TcpExt:"),
            values.strip_prefix("TcpExt:"),
        ) else {
            continue;
        };
        let counter = |wanted: &str| {
            names
                .split_whitespace()
                .zip(values.split_whitespace())
                .find(|(name, _)| *name == wanted)
                .and_then(|(_, value)| value.parse().ok())
        };
        return Some(Handshakes {
            listen_overflows: counter("ListenOverflows")?,
            syns_resent: counter("TCPSynRetrans")?,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_come_from_the_status_line() {
        assert_eq!(
            parse_threads("Name:\ttimelab\nThreads:\t17\nFDSize:\t64\n"),
            Some(17)
        );
        assert_eq!(parse_threads("Name:\ttimelab\n"), None);
    }

    #[test]
    fn handshake_counters_are_read_by_name() {
        let netstat = "TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPSynRetrans\n\
                       TcpExt: 1 22 23 4\n\
                       IpExt: InNoRoutes\n\
                       IpExt: 0\n";
        let counts = parse_handshakes(netstat).expect("both counters");
        assert_eq!(
            counts,
            Handshakes {
                listen_overflows: 22,
                syns_resent: 4
            }
        );
        let later = Handshakes {
            listen_overflows: 30,
            syns_resent: 4,
        };
        assert_eq!(later.since(counts).listen_overflows, 8);
        assert_eq!(later.since(counts).syns_resent, 0);
        assert_eq!(parse_handshakes("IpExt: InNoRoutes\nIpExt: 0\n"), None);
        assert_eq!(
            parse_handshakes("TcpExt: ListenOverflows\nTcpExt: 1\n"),
            None
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_machine_counts_handshakes() {
        assert!(Handshakes::now().is_some());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_is_seen() {
        assert!(open_files_limit().is_some());
        // Standard input, output and error at least; other tests may open more meanwhile.
        assert!(open_descriptors(Pid::This).unwrap() >= 3);
        let mut probe = Probe::new(Pid::This);
        probe.sample();
        let usage = probe.usage();
        assert!(usage.peak_threads >= Some(1));
        assert!(usage.peak_descriptors >= Some(3));
    }
}
