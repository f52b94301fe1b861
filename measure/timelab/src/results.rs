//! What a sweep measured, as it is stored: the data `timelab sweep` writes as JSON, and
//! [`crate::figures`] turns into the book's tables and plots.
//!
//! Four files, each standing alone with the machine it was measured on:
//!
//! - [`TimeSweep`] (`time.json`): every TIME server model under every lab client, at each
//!   concurrency;
//! - [`HttpSweep`] (`http.json`): the HTTP server stages under `wrk`, at each concurrency;
//! - [`LabFailures`] (`failures.json`): the lab's failures, made on purpose, each beside the run
//!   that fixes it;
//! - [`IdleSweep`] (`idle.json`): each TIME server model holding silent connections while a
//!   client makes requests.

use serde::{Deserialize, Serialize};

use crate::client::Method;
use crate::measure::Report;
use crate::model::Model;

/// The file names the sweep writes and the figures read, in the output folder.
pub const TIME_FILE: &str = "time.json";
/// See [`TIME_FILE`].
pub const HTTP_FILE: &str = "http.json";
/// See [`TIME_FILE`].
pub const FAILURES_FILE: &str = "failures.json";

/// The machine a sweep ran on, and the limits in force: a figure means nothing without them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Logical CPUs available to the process.
    pub cpus: usize,
    /// The kernel release (`/proc/sys/kernel/osrelease`).
    pub kernel: Option<String>,
    /// The soft limit on open descriptors (`ulimit -n`) the sweep raised its servers and clients
    /// to, unless a run lowers it on purpose.
    pub open_files_limit: Option<u64>,
    /// The most threads the system allows (`kernel.threads-max`).
    pub threads_max: Option<u64>,
    /// The cap on any listener's accept backlog (`net.core.somaxconn`).
    pub somaxconn: Option<u64>,
    /// Whether connections in TIME_WAIT may be reused (`net.ipv4.tcp_tw_reuse`; 2: loopback only).
    pub tcp_tw_reuse: Option<u64>,
    /// How often a SYN-ACK is resent to a client the listener has no room for
    /// (`net.ipv4.tcp_synack_retries`).
    pub tcp_synack_retries: Option<u64>,
    /// The ports a client's connections come from (`net.ipv4.ip_local_port_range`).
    pub ip_local_port_range: Option<String>,
    /// The version of `timelab` that ran the sweep.
    pub timelab_version: String,
}

/// How the TIME sweep's runs were set up: the same for every cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeSettings {
    /// Each run stops starting connections after this many seconds.
    pub duration_s: f64,
    /// Each run makes at most this many requests.
    pub max_requests: u64,
    /// Requests per connection (1: the lab's connection per request).
    pub requests_per_connection: u64,
    /// The client's limit on connecting, sending, and each reply, in milliseconds.
    pub timeout_ms: u64,
    /// The servers' worker threads (the pool's, and the multi-thread runtime's).
    pub server_workers: usize,
    /// Connections the pool lets wait, and the tokio servers hold open, at most.
    pub server_waiting: usize,
    /// The servers' accept backlog.
    pub backlog: i32,
}

/// One cell of the TIME sweep: a server model, a client method, a concurrency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeRun {
    /// How the server served.
    pub model: Model,
    /// How the client made requests concurrent.
    pub method: Method,
    /// The most connections the client had in progress at once.
    pub concurrency: usize,
    /// What the client measured, the server's peak threads and descriptors included.
    pub report: Report,
}

/// Every TIME server model under every lab client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeSweep {
    /// Where it ran.
    pub machine: Machine,
    /// How each run was set up.
    pub settings: TimeSettings,
    /// The runs, model by model, then method, then concurrency ascending.
    pub runs: Vec<TimeRun>,
}

/// An HTTP server the sweep measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpServer {
    /// A short name for tables and legends, e.g. `stage 2`.
    pub name: String,
    /// What it is, e.g. `thread per connection`.
    pub description: String,
    /// The chapter crate whose binary ran.
    pub package: String,
    /// The options it ran with, before the `--port 0` and `--backlog` the sweep adds.
    pub args: Vec<String>,
}

/// Latency percentiles as `wrk --latency` prints them, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WrkLatency {
    /// Median.
    pub p50_us: f64,
    /// 75th percentile.
    pub p75_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
}

/// The socket errors `wrk` counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrkErrors {
    /// Connections that could not be made.
    pub connect: u64,
    /// Reads that failed, or found the connection closed.
    pub read: u64,
    /// Writes that failed.
    pub write: u64,
    /// Requests with no response within wrk's timeout.
    pub timeout: u64,
}

/// What one `wrk` run reported.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WrkResult {
    /// Responses read, whatever their status.
    pub requests: u64,
    /// How long the run lasted, in seconds.
    pub duration_s: f64,
    /// `requests / duration_s`, as wrk printed it.
    pub requests_per_s: f64,
    /// Responses whose status was not 2xx or 3xx (the server's `503`s, say).
    pub non_2xx: u64,
    /// Latency percentiles of all responses.
    pub latency: WrkLatency,
    /// Socket errors.
    pub errors: WrkErrors,
}

impl WrkResult {
    /// Successful responses per second: the responses that were not refused.
    pub fn ok_per_s(&self) -> f64 {
        if self.duration_s > 0.0 {
            self.requests.saturating_sub(self.non_2xx) as f64 / self.duration_s
        } else {
            0.0
        }
    }
}

/// One cell of the HTTP sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpRun {
    /// Which server, by [`HttpServer::name`].
    pub server: String,
    /// Open connections `wrk` kept (`-c`).
    pub connections: usize,
    /// What wrk reported.
    pub result: WrkResult,
    /// The server process's peak threads and descriptors during the run.
    pub server_usage: crate::probe::Usage,
    /// The handshakes that had to wait during the run, if the kernel says.
    #[serde(default)]
    pub handshakes: Option<crate::probe::Handshakes>,
}

/// How the HTTP sweep's runs were set up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpSettings {
    /// `wrk --version`'s first line.
    pub wrk_version: String,
    /// wrk's threads (`-t`).
    pub wrk_threads: usize,
    /// Each run's length (`-d`), in seconds.
    pub duration_s: u64,
    /// The path requested.
    pub path: String,
    /// The servers' accept backlog.
    pub backlog: i32,
}

/// The HTTP server stages under a real load generator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpSweep {
    /// Where it ran.
    pub machine: Machine,
    /// How each run was set up.
    pub settings: HttpSettings,
    /// The servers, baseline first.
    pub servers: Vec<HttpServer>,
    /// The runs, server by server, then connections ascending.
    pub runs: Vec<HttpRun>,
}

/// One of the lab's failures, or the run that fixes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureRun {
    /// Which failure: runs with the same id are compared in one table.
    pub failure: String,
    /// Whether this is the failing run (as the lab did it) or the fixed one.
    pub fixed: bool,
    /// What differs in this run, in a few words, e.g. `children kept, ulimit -n 4096`.
    pub setup: String,
    /// The server's model.
    pub model: Model,
    /// The server's accept backlog.
    pub backlog: i32,
    /// The client's soft descriptor limit, if lowered for this run.
    pub client_open_files_limit: Option<u64>,
    /// What the client measured.
    pub report: Report,
}

/// The lab's failures, reproduced on purpose, each followed by its fix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabFailures {
    /// Where it ran.
    pub machine: Machine,
    /// The runs, each failing run before its fix.
    pub runs: Vec<FailureRun>,
}

/// See [`TIME_FILE`].
pub const IDLE_FILE: &str = "idle.json";

/// One server model holding idle connections, and answering other clients meanwhile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdleRun {
    /// How the server served.
    pub model: Model,
    /// Connections opened and left silent before the measured client started.
    pub held: usize,
    /// How many of them were still open when the measured client finished.
    pub still_open: usize,
    /// The server's threads while holding them, before the measured client started.
    pub server_threads: Option<u64>,
    /// The server's open descriptors at the same moment.
    pub server_descriptors: Option<u64>,
    /// The server's resident memory at the same moment, in KiB (`VmRSS`).
    pub server_rss_kib: Option<u64>,
    /// What a client making requests meanwhile measured.
    pub report: Report,
}

/// Each server model with many connections open and silent: what holding them costs, and
/// whether other clients are still answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdleSweep {
    /// Where it ran.
    pub machine: Machine,
    /// How the servers were set up (the same as the TIME sweep's, apart from the idle timeout).
    pub settings: TimeSettings,
    /// How long a server lets a connection stay silent, in seconds.
    pub idle_timeout_s: u64,
    /// The measured client's pool workers.
    pub client_workers: usize,
    /// How long the measured client issued requests, in seconds.
    pub client_duration_s: f64,
    /// The measured client's limit on connecting and on each reply, in milliseconds.
    pub client_timeout_ms: u64,
    /// The runs, one per model.
    pub runs: Vec<IdleRun>,
}
