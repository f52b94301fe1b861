//! What a client run measured: each request's outcome sorted by kind ([`ErrorKind`]), the
//! latencies of the requests answered, and the [`Report`] made of them, as a text table or JSON.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use poolbook_http::resources::is_out_of_descriptors;
use serde::{Deserialize, Serialize};

use crate::client::Method;
use crate::probe::Usage;

/// Why a request did not get a valid `JAM` reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No descriptor left (`EMFILE` in the process, `ENFILE` in the system), for a pipe, a
    /// socket or a connection: the lab's "Too many open files".
    TooManyOpenFiles,
    /// The connection was reset or broken (`ECONNRESET`, `EPIPE`, aborted).
    Reset,
    /// Nothing listened on the port (`ECONNREFUSED`).
    Refused,
    /// Connecting, sending or waiting for the reply took longer than the timeout.
    TimedOut,
    /// The server was full and said so: `ERR busy`.
    Busy,
    /// A reply that is not `JAM hh:mm:ss` and CR LF (nor `ERR busy`).
    BadReply,
    /// The server closed the connection before replying.
    Closed,
    /// Anything else; the report keeps the first such message.
    Other,
}

impl ErrorKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::TooManyOpenFiles,
        ErrorKind::Reset,
        ErrorKind::Refused,
        ErrorKind::TimedOut,
        ErrorKind::Busy,
        ErrorKind::BadReply,
        ErrorKind::Closed,
        ErrorKind::Other,
    ];

    /// The kind's name in a text report.
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::TooManyOpenFiles => "too many open files",
            ErrorKind::Reset => "reset",
            ErrorKind::Refused => "refused",
            ErrorKind::TimedOut => "timed out",
            ErrorKind::Busy => "busy",
            ErrorKind::BadReply => "bad reply",
            ErrorKind::Closed => "closed",
            ErrorKind::Other => "other",
        }
    }
}

/// What the client was doing when an I/O error came: the same error means different things at
/// different steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Starting a thread or a process.
    Spawn,
    /// Opening the connection.
    Connect,
    /// Sending a request or reading its reply.
    Exchange,
}

// ANCHOR: classify
/// The kind of an I/O error met at `step`.
pub fn classify(error: &io::Error, step: Step) -> ErrorKind {
    if is_out_of_descriptors(error) {
        return ErrorKind::TooManyOpenFiles;
    }
    match error.kind() {
        io::ErrorKind::ConnectionRefused => ErrorKind::Refused,
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => ErrorKind::Reset,
        io::ErrorKind::TimedOut => ErrorKind::TimedOut,
        // A socket's receive timeout expires as EAGAIN on Unix; from fork or clone, EAGAIN means
        // no process or thread could be made, which is not a timeout.
        io::ErrorKind::WouldBlock if step != Step::Spawn => ErrorKind::TimedOut,
        io::ErrorKind::UnexpectedEof => ErrorKind::Closed,
        _ => ErrorKind::Other,
    }
}
// ANCHOR_END: classify

/// Failed requests, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCounts {
    /// See [`ErrorKind::TooManyOpenFiles`].
    pub too_many_open_files: u64,
    /// See [`ErrorKind::Reset`].
    pub reset: u64,
    /// See [`ErrorKind::Refused`].
    pub refused: u64,
    /// See [`ErrorKind::TimedOut`].
    pub timed_out: u64,
    /// See [`ErrorKind::Busy`].
    pub busy: u64,
    /// See [`ErrorKind::BadReply`].
    pub bad_reply: u64,
    /// See [`ErrorKind::Closed`].
    pub closed: u64,
    /// See [`ErrorKind::Other`].
    pub other: u64,
}

impl ErrorCounts {
    /// The count of one kind.
    pub fn get(&self, kind: ErrorKind) -> u64 {
        match kind {
            ErrorKind::TooManyOpenFiles => self.too_many_open_files,
            ErrorKind::Reset => self.reset,
            ErrorKind::Refused => self.refused,
            ErrorKind::TimedOut => self.timed_out,
            ErrorKind::Busy => self.busy,
            ErrorKind::BadReply => self.bad_reply,
            ErrorKind::Closed => self.closed,
            ErrorKind::Other => self.other,
        }
    }

    fn get_mut(&mut self, kind: ErrorKind) -> &mut u64 {
        match kind {
            ErrorKind::TooManyOpenFiles => &mut self.too_many_open_files,
            ErrorKind::Reset => &mut self.reset,
            ErrorKind::Refused => &mut self.refused,
            ErrorKind::TimedOut => &mut self.timed_out,
            ErrorKind::Busy => &mut self.busy,
            ErrorKind::BadReply => &mut self.bad_reply,
            ErrorKind::Closed => &mut self.closed,
            ErrorKind::Other => &mut self.other,
        }
    }

    /// Failed requests of every kind.
    pub fn total(&self) -> u64 {
        ErrorKind::ALL.iter().map(|&kind| self.get(kind)).sum()
    }
}

// ANCHOR: tally
/// The outcomes of some requests: one connection's, one process's, or a whole run's.
///
/// Every request issued ends in exactly one place: `completed` (with its latency in
/// `latencies_us`) or one count of `errors`. A request that could not be sent because its
/// connection had already failed counts with that connection's failure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Requests attempted.
    pub issued: u64,
    /// Requests answered with a valid `JAM` reply.
    pub completed: u64,
    /// Request-to-reply time of each completed request, in microseconds.
    pub latencies_us: Vec<u64>,
    /// Requests that failed, by kind.
    pub errors: ErrorCounts,
    /// The message of the first [`ErrorKind::Other`] failure.
    pub first_other: Option<String>,
}
// ANCHOR_END: tally

impl Tally {
    /// `requests` issued that all failed with `kind`; `message` says what happened, kept if the
    /// kind is [`ErrorKind::Other`].
    pub fn failed(requests: u64, kind: ErrorKind, message: impl fmt::Display) -> Tally {
        let mut tally = Tally {
            issued: requests,
            ..Tally::default()
        };
        tally.fail(requests, kind, message);
        tally
    }

    /// Counts one request, already counted as issued, as answered after `latency`.
    pub fn complete(&mut self, latency: Duration) {
        self.completed += 1;
        self.latencies_us
            .push(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
    }

    /// Counts `requests` as failed with `kind` (they must already be counted as issued).
    pub fn fail(&mut self, requests: u64, kind: ErrorKind, message: impl fmt::Display) {
        if requests == 0 {
            return;
        }
        *self.errors.get_mut(kind) += requests;
        if kind == ErrorKind::Other && self.first_other.is_none() {
            self.first_other = Some(message.to_string());
        }
    }

    /// Adds `other`'s outcomes to these.
    pub fn merge(&mut self, other: Tally) {
        self.issued += other.issued;
        self.completed += other.completed;
        self.latencies_us.extend(other.latencies_us);
        for kind in ErrorKind::ALL {
            *self.errors.get_mut(kind) += other.errors.get(kind);
        }
        if self.first_other.is_none() {
            self.first_other = other.first_other;
        }
    }

    /// Whether every request issued is counted once: completed or failed.
    pub fn adds_up(&self) -> bool {
        self.completed + self.errors.total() == self.issued
            && self.latencies_us.len() as u64 == self.completed
    }
}

/// Percentiles of request-to-reply latency, in microseconds, exact: read from the sorted samples
/// by the nearest-rank method, not estimated from a histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latency {
    /// How many samples (completed requests).
    pub samples: u64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// The slowest.
    pub max_us: u64,
}

impl Latency {
    /// The percentiles of `samples` (sorted here); `None` if there are none.
    pub fn of(samples: &mut [u64]) -> Option<Latency> {
        samples.sort_unstable();
        let max_us = *samples.last()?;
        let n = samples.len();
        // Nearest rank: the smallest sample with at least p% of the samples at or below it.
        let rank = |p: usize| samples[(n * p).div_ceil(100).clamp(1, n) - 1];
        Some(Latency {
            samples: n as u64,
            p50_us: rank(50),
            p90_us: rank(90),
            p99_us: rank(99),
            max_us,
        })
    }
}

// ANCHOR: report
/// Everything one client run measured, with the settings it ran with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// How requests were made concurrent.
    pub method: Method,
    /// The server's address.
    pub addr: SocketAddr,
    /// The most connections (threads, pool workers, processes) at once; 0 for no limit.
    pub concurrency: usize,
    /// Requests sent on each connection (the last one may carry fewer).
    pub requests_per_connection: u64,
    /// Whether finished child processes were kept unwaited, with their pipes, until the end.
    pub leak_children: bool,
    /// Requests the run was asked to make.
    pub planned: u64,
    /// Requests attempted: fewer than planned only when the duration ran out.
    pub issued: u64,
    /// Requests answered with a valid `JAM` reply.
    pub completed: u64,
    /// Requests that failed, by kind; `completed + errors.total() == issued`.
    pub errors: ErrorCounts,
    /// The message of the first failure of kind "other".
    pub first_other: Option<String>,
    /// Whether the run stopped issuing requests because its duration ran out.
    pub stopped_by_duration: bool,
    /// The run's wall time, from the first request issued to the last outcome collected, in
    /// seconds.
    pub wall_s: f64,
    /// Completed requests per second of wall time.
    pub throughput_per_s: f64,
    /// Request-to-reply latency of the completed requests, connect included for the first
    /// request of each connection; `None` if none completed. The process method measures it in
    /// the child, so starting a process shows in the throughput, not here.
    pub latency: Option<Latency>,
    /// The most connections in progress at once, as the client counted them.
    pub peak_in_flight: usize,
    /// The client process's peak threads and descriptors (sampled; child processes not included).
    pub client: Usage,
    /// The server process's, if its pid was given.
    pub server: Option<Usage>,
    /// The client's soft limit on open descriptors (`ulimit -n`).
    pub open_files_limit: Option<u64>,
}
// ANCHOR_END: report

impl Report {
    /// Whether every request issued is counted once: completed or failed by some kind.
    pub fn adds_up(&self) -> bool {
        self.completed + self.errors.total() == self.issued
    }
}

/// A figure that may be missing, shown as `-` then.
struct Maybe<T>(Option<T>);

impl<T: fmt::Display> fmt::Display for Maybe<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(value) => value.fmt(f),
            None => f.write_str("-"),
        }
    }
}

fn millis(us: u64) -> String {
    format!("{:.3} ms", us as f64 / 1000.0)
}

impl fmt::Display for Report {
    /// The report as a two-column text table.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let concurrency = match self.concurrency {
            0 => "unbounded".to_owned(),
            n => n.to_string(),
        };
        let mut method = self.method.to_string();
        if self.leak_children {
            method.push_str(" (children leaked until the end)");
        }
        let rows: Vec<(String, String)> = [
            ("method", method),
            ("server", self.addr.to_string()),
            ("concurrency", concurrency),
            (
                "requests/connection",
                self.requests_per_connection.to_string(),
            ),
            ("planned", self.planned.to_string()),
            (
                "issued",
                if self.stopped_by_duration {
                    format!("{} (duration ran out)", self.issued)
                } else {
                    self.issued.to_string()
                },
            ),
            ("completed (valid JAM)", self.completed.to_string()),
            ("errors", self.errors.total().to_string()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .chain(ErrorKind::ALL.iter().map(|&kind| {
            let mut value = self.errors.get(kind).to_string();
            if let (ErrorKind::Other, Some(message)) = (kind, &self.first_other) {
                value = format!("{value} (first: {message})");
            }
            (format!("  {}", kind.label()), value)
        }))
        .chain(
            [
                ("wall time", format!("{:.3} s", self.wall_s)),
                (
                    "throughput",
                    format!("{:.0} completed/s", self.throughput_per_s),
                ),
                (
                    "latency p50",
                    Maybe(self.latency.map(|l| millis(l.p50_us))).to_string(),
                ),
                (
                    "latency p90",
                    Maybe(self.latency.map(|l| millis(l.p90_us))).to_string(),
                ),
                (
                    "latency p99",
                    Maybe(self.latency.map(|l| millis(l.p99_us))).to_string(),
                ),
                (
                    "latency max",
                    Maybe(self.latency.map(|l| millis(l.max_us))).to_string(),
                ),
                ("peak in flight", self.peak_in_flight.to_string()),
                (
                    "client peak threads",
                    Maybe(self.client.peak_threads).to_string(),
                ),
                (
                    "client peak fds",
                    Maybe(self.client.peak_descriptors).to_string(),
                ),
                (
                    "server peak threads",
                    Maybe(self.server.and_then(|s| s.peak_threads)).to_string(),
                ),
                (
                    "server peak fds",
                    Maybe(self.server.and_then(|s| s.peak_descriptors)).to_string(),
                ),
                ("open files limit", Maybe(self.open_files_limit).to_string()),
            ]
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value)),
        )
        .collect();
        let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        for (name, value) in rows {
            writeln!(f, "{name:<width$}  {value}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_ranks_of_the_sorted_samples() {
        let mut samples: Vec<u64> = (1..=100).rev().collect();
        let latency = Latency::of(&mut samples).unwrap();
        assert_eq!(
            (
                latency.p50_us,
                latency.p90_us,
                latency.p99_us,
                latency.max_us
            ),
            (50, 90, 99, 100)
        );
        let one = Latency::of(&mut [7]).unwrap();
        assert_eq!((one.p50_us, one.p99_us, one.max_us), (7, 7, 7));
        let mut ten: Vec<u64> = (1..=10).collect();
        let ten = Latency::of(&mut ten).unwrap();
        assert_eq!((ten.p50_us, ten.p90_us, ten.p99_us), (5, 9, 10));
        assert_eq!(Latency::of(&mut []), None);
    }

    #[test]
    fn errors_are_classified_by_what_they_mean() {
        let kind = |kind: io::ErrorKind, step| classify(&io::Error::from(kind), step);
        assert_eq!(
            kind(io::ErrorKind::ConnectionRefused, Step::Connect),
            ErrorKind::Refused
        );
        assert_eq!(
            kind(io::ErrorKind::BrokenPipe, Step::Exchange),
            ErrorKind::Reset
        );
        assert_eq!(
            kind(io::ErrorKind::WouldBlock, Step::Exchange),
            ErrorKind::TimedOut
        );
        assert_eq!(
            kind(io::ErrorKind::WouldBlock, Step::Spawn),
            ErrorKind::Other
        );
        #[cfg(unix)]
        for errno in [libc::EMFILE, libc::ENFILE] {
            let error = io::Error::from_raw_os_error(errno);
            assert_eq!(classify(&error, Step::Spawn), ErrorKind::TooManyOpenFiles);
        }
    }

    #[test]
    fn a_tally_adds_up_and_keeps_the_first_other_message() {
        let mut tally = Tally::failed(3, ErrorKind::Other, "first");
        tally.merge(Tally::failed(2, ErrorKind::Other, "second"));
        let mut answered = Tally {
            issued: 2,
            ..Tally::default()
        };
        answered.complete(Duration::from_micros(250));
        answered.fail(1, ErrorKind::Busy, "");
        tally.merge(answered);
        assert!(tally.adds_up());
        assert_eq!((tally.issued, tally.completed), (7, 1));
        assert_eq!((tally.errors.other, tally.errors.busy), (5, 1));
        assert_eq!(tally.first_other.as_deref(), Some("first"));
        assert_eq!(tally.latencies_us, [250]);
    }
}
