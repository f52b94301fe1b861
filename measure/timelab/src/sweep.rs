//! `timelab sweep`: runs every measurement the book shows and writes its data.
//!
//! Nothing here measures anything itself. The sweep starts each server as a process, points a
//! load generator at it (a `timelab client` process for TIME, `wrk` for HTTP), reads the report
//! the generator prints, stops the server, and stores the reports with the machine and limits
//! they were measured under ([`crate::results`]). [`crate::figures`] turns the stored data into
//! the book's tables and plots, so that every figure in the book comes from a run of this module.
//!
//! Servers and clients run as processes of their own, not as threads of the sweep, so that each
//! one's threads and descriptors are counted alone, each can be given its own descriptor limit,
//! and the process client's children are its own.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::client::Method;
use crate::figures::count;
use crate::measure::Report;
use crate::model::Model;
use crate::probe::{self, Handshakes, Pid, Sampler};
use crate::results::{
    FAILURES_FILE, FailureRun, HTTP_FILE, HttpRun, HttpServer, HttpSettings, HttpSweep, IDLE_FILE,
    IdleRun, IdleSweep, LabFailures, Machine, TIME_FILE, TimeRun, TimeSettings, TimeSweep,
    WrkErrors, WrkLatency, WrkResult,
};
use crate::server::Config;

/// How long a server may take to say where it listens, or to stop once told to.
const SERVER_WAIT: Duration = Duration::from_secs(30);

/// The most descriptors the sweep asks for its servers and clients: enough for a thousand
/// connections and a thousand child processes with their pipes, whatever the shell's default.
const RAISED_OPEN_FILES: u64 = 65_536;

/// Every server's accept backlog, unless a run is about the backlog: deep enough for a thousand
/// connections opened at once, so that no run measures a handshake dropped and retried a second
/// later instead of the server.
const SERVER_BACKLOG: i32 = 4096;

/// Which measurements to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Part {
    /// Every TIME server model under every lab client (writes `time.json`).
    Time,
    /// The HTTP stages under `wrk` (writes `http.json`).
    Http,
    /// The lab's failures, made on purpose, and their fixes (writes `failures.json`).
    Failures,
    /// Each TIME model holding many silent connections (writes `idle.json`).
    Idle,
}

/// How big the runs are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scale {
    /// The book's figures: 10, 100 and 1,000 connections, 3 s a run, the lab's own counts.
    Full,
    /// A few connections and a fraction of a second a run: checks that the sweep works, in
    /// seconds; its figures mean nothing.
    Quick,
}

/// What a sweep does and where it writes.
#[derive(Debug, Clone)]
pub struct Options {
    /// The folder the JSON files are written to.
    pub out: PathBuf,
    /// Which measurements to make; the others' files are left as they are.
    pub parts: Vec<Part>,
    /// How big the runs are.
    pub scale: Scale,
    /// The `timelab` binary that serves and loads TIME (normally this one).
    pub timelab: PathBuf,
    /// The folder holding the HTTP stages' binaries (`ch02-thread-per-request`,
    /// `ch21-hardened`), built in release mode.
    pub bin_dir: PathBuf,
    /// Show a progress bar and a line per run on standard error.
    pub progress: bool,
}

/// Why a sweep stopped.
#[derive(Debug)]
pub enum SweepError {
    /// A program could not be started, or a file not written; says which.
    Io(String, io::Error),
    /// A server did not start or stop as it should; its output is included.
    Server(String),
    /// A load generator's output could not be read; its output is included.
    Output(String),
}

impl fmt::Display for SweepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SweepError::Io(what, e) => write!(f, "{what}: {e}"),
            SweepError::Server(message) | SweepError::Output(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for SweepError {}

/// Set in the environment of a sweep that has raised its own descriptor limit.
const RAISED_MARK: &str = "TIMELAB_SWEEP_LIMIT_RAISED";

/// Runs this program again, with the same arguments, under a raised descriptor limit (as high as
/// the hard limit allows, up to 65,536), unless this is that run already; returns only if it
/// cannot.
///
/// The sweep holds a thousand connections itself (the idle part); the servers and clients it
/// starts raise their own limits.
#[cfg(unix)]
pub fn raise_own_limit() -> io::Result<()> {
    use std::os::unix::process::CommandExt;

    if std::env::var_os(RAISED_MARK).is_some() {
        return Ok(());
    }
    let program = std::env::current_exe()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    Err(Limit::Raised
        .command(&program, &args)
        .env(RAISED_MARK, "1")
        .exec())
}

/// Off Unix there is no `ulimit` to raise.
#[cfg(not(unix))]
pub fn raise_own_limit() -> io::Result<()> {
    Ok(())
}

/// Makes the measurements `options` asks for and writes their JSON files; returns the paths
/// written.
///
/// # Errors
///
/// If a server or load generator cannot be started or misbehaves, or a file cannot be written.
/// Files of parts already finished are kept.
pub fn run(options: &Options) -> Result<Vec<PathBuf>, SweepError> {
    std::fs::create_dir_all(&options.out)
        .map_err(|e| SweepError::Io(format!("cannot create {}", options.out.display()), e))?;
    let progress = Progress::new(options);
    let mut written = Vec::new();
    for part in &options.parts {
        let path = match part {
            Part::Time => write(&options.out, TIME_FILE, &time_sweep(options, &progress)?)?,
            Part::Http => write(&options.out, HTTP_FILE, &http_sweep(options, &progress)?)?,
            Part::Failures => write(&options.out, FAILURES_FILE, &failures(options, &progress)?)?,
            Part::Idle => write(&options.out, IDLE_FILE, &idle_sweep(options, &progress)?)?,
        };
        written.push(path);
    }
    progress.bar.finish_and_clear();
    Ok(written)
}

fn write(dir: &Path, name: &str, data: &impl Serialize) -> Result<PathBuf, SweepError> {
    let path = dir.join(name);
    let mut json = serde_json::to_string_pretty(data)
        .map_err(|e| SweepError::Output(format!("cannot write {name} as JSON: {e}")))?;
    json.push('\n');
    std::fs::write(&path, json)
        .map_err(|e| SweepError::Io(format!("cannot write {}", path.display()), e))?;
    Ok(path)
}

// ---------------------------------------------------------------------------------------------
// The TIME sweep.

/// The concurrencies the book compares at, and how long each run lasts.
fn time_settings(scale: Scale) -> (Vec<usize>, TimeSettings) {
    let config = Config::default();
    let (concurrencies, duration_s, max_requests) = match scale {
        Scale::Full => (vec![10, 100, 1000], 3.0, 1_000_000),
        Scale::Quick => (vec![2, 4], 0.2, 200),
    };
    let settings = TimeSettings {
        duration_s,
        max_requests,
        requests_per_connection: 1,
        timeout_ms: 5000,
        server_workers: config.workers,
        server_waiting: config.waiting,
        backlog: SERVER_BACKLOG,
    };
    (concurrencies, settings)
}

fn time_sweep(options: &Options, progress: &Progress) -> Result<TimeSweep, SweepError> {
    let (concurrencies, settings) = time_settings(options.scale);
    let methods = [Method::Thread, Method::Pool, Method::Process];
    progress.add(Model::ALL.len() * methods.len() * concurrencies.len());
    let mut runs = Vec::new();
    for model in Model::ALL {
        let server = Server::start(
            "TIME",
            &options.timelab,
            &time_server_args(model, settings.backlog, &settings),
            Limit::Raised,
        )?;
        for method in methods {
            for &concurrency in &concurrencies {
                let client = ClientRun {
                    method,
                    addr: server.addr,
                    requests: settings.max_requests,
                    concurrency,
                    duration_s: Some(settings.duration_s),
                    timeout_ms: settings.timeout_ms,
                    leak_children: false,
                    server_pid: Some(server.pid()),
                    limit: Limit::Raised,
                };
                let report = client.run(&options.timelab)?;
                progress.ran(&format!(
                    "TIME {model} server, {method} client, {concurrency} at once: {}",
                    summary(&report)
                ));
                runs.push(TimeRun {
                    model,
                    method,
                    concurrency,
                    report,
                });
            }
        }
        server.stop()?;
    }
    Ok(TimeSweep {
        machine: machine(),
        settings,
        runs,
    })
}

fn time_server_args(model: Model, backlog: i32, settings: &TimeSettings) -> Vec<String> {
    time_server_args_idle(
        model,
        backlog,
        settings,
        Config::default().idle_timeout.as_secs(),
    )
}

fn time_server_args_idle(
    model: Model,
    backlog: i32,
    settings: &TimeSettings,
    idle_timeout_s: u64,
) -> Vec<String> {
    [
        "serve",
        "--model",
        model.name(),
        "--backlog",
        &backlog.to_string(),
        "--workers",
        &settings.server_workers.to_string(),
        "--waiting",
        &settings.server_waiting.to_string(),
        "--idle-timeout-s",
        &idle_timeout_s.to_string(),
        "--port",
        "0",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn summary(report: &Report) -> String {
    let p99 = report.latency.map_or("-".to_owned(), |l| {
        format!("{:.2} ms", l.p99_us as f64 / 1000.0)
    });
    format!(
        "{:.0} replies/s, p99 {p99}, {} of {} failed",
        report.throughput_per_s,
        report.errors.total(),
        report.issued
    )
}

/// One run of `timelab client`, in a process of its own.
#[derive(Debug, Clone)]
struct ClientRun {
    method: Method,
    addr: SocketAddr,
    requests: u64,
    concurrency: usize,
    duration_s: Option<f64>,
    timeout_ms: u64,
    leak_children: bool,
    server_pid: Option<u32>,
    limit: Limit,
}

impl ClientRun {
    fn run(&self, timelab: &Path) -> Result<Report, SweepError> {
        let mut args = vec![
            "client".to_owned(),
            "--method".to_owned(),
            self.method.to_string(),
            "--addr".to_owned(),
            self.addr.to_string(),
            "--requests".to_owned(),
            self.requests.to_string(),
            "--concurrency".to_owned(),
            self.concurrency.to_string(),
            "--timeout-ms".to_owned(),
            self.timeout_ms.to_string(),
            "--json".to_owned(),
            "--quiet".to_owned(),
        ];
        if let Some(duration) = self.duration_s {
            args.extend(["--duration-s".to_owned(), duration.to_string()]);
        }
        if self.leak_children {
            args.push("--leak-children".to_owned());
        }
        if let Some(pid) = self.server_pid {
            args.extend(["--server-pid".to_owned(), pid.to_string()]);
        }
        let output = self
            .limit
            .command(timelab, &args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| SweepError::Io(format!("cannot run {}", timelab.display()), e))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        serde_json::from_str(&stdout).map_err(|e| {
            SweepError::Output(format!(
                "timelab client {} printed no report ({e}); it exited with {}, saying:\n{}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ))
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The lab's failures.

fn failures(options: &Options, progress: &Progress) -> Result<LabFailures, SweepError> {
    let quick = options.scale == Scale::Quick;
    // The lab's own figures: 5,000 processes, 5,000 threads, 500,000 pooled requests on
    // CPython's default of at most 32 workers.
    let (processes, limit, bounded, threads, pooled, pool_workers) = if quick {
        (100, 64, 10, 200, 2_000, 4)
    } else {
        (5_000, 4096, 100, 5_000, 500_000, 32)
    };
    let (_, settings) = time_settings(options.scale);
    let timelab = &options.timelab;
    let mut runs = Vec::new();

    // Too many open files: the lab's never-joined processes, under the lab's limit of 4,096.
    let cases = [
        (
            false,
            format!(
                "all {} at once, children kept, ulimit -n {limit}",
                count(processes)
            ),
            0,
            true,
        ),
        (
            true,
            format!(
                "all {} at once, children waited for, ulimit -n {limit}",
                count(processes)
            ),
            0,
            false,
        ),
        (
            true,
            format!("{bounded} at a time, children waited for, ulimit -n {limit}"),
            bounded,
            false,
        ),
    ];
    progress.add(cases.len() + 3 + 1);
    let server = Server::start(
        "TIME",
        timelab,
        &time_server_args(Model::Pool, settings.backlog, &settings),
        Limit::Raised,
    )?;
    for (fixed, setup, concurrency, leak_children) in cases {
        let report = ClientRun {
            method: Method::Process,
            addr: server.addr,
            requests: processes,
            concurrency,
            duration_s: None,
            timeout_ms: settings.timeout_ms,
            leak_children,
            server_pid: Some(server.pid()),
            limit: Limit::Lowered(limit),
        }
        .run(timelab)?;
        progress.ran(&format!("{setup}: {}", summary(&report)));
        runs.push(FailureRun {
            failure: "fd-limit".to_owned(),
            fixed,
            setup,
            model: Model::Pool,
            backlog: settings.backlog,
            client_open_files_limit: Some(limit),
            report,
        });
    }
    server.stop()?;

    // Resets and hangs: a thread per request, all at once, against the lab's `listen(1)`.
    let cases = [
        (
            false,
            format!("{} threads at once, backlog 1", count(threads)),
            Method::Thread,
            0,
            1,
        ),
        (
            true,
            format!(
                "{} threads at once, backlog {SERVER_BACKLOG}",
                count(threads)
            ),
            Method::Thread,
            0,
            SERVER_BACKLOG,
        ),
        (
            true,
            "a pool of 8 threads, backlog 1".to_owned(),
            Method::Pool,
            8,
            1,
        ),
    ];
    for (fixed, setup, method, concurrency, backlog) in cases {
        let server = Server::start(
            "TIME",
            timelab,
            &time_server_args(Model::Threads, backlog, &settings),
            Limit::Raised,
        )?;
        let report = ClientRun {
            method,
            addr: server.addr,
            requests: threads,
            concurrency,
            duration_s: None,
            timeout_ms: settings.timeout_ms,
            leak_children: false,
            server_pid: Some(server.pid()),
            limit: Limit::Raised,
        }
        .run(timelab)?;
        server.stop()?;
        progress.ran(&format!("{setup}: {}", summary(&report)));
        runs.push(FailureRun {
            failure: "backlog".to_owned(),
            fixed,
            setup,
            model: Model::Threads,
            backlog,
            client_open_files_limit: None,
            report,
        });
    }

    // "500,000": queued requests on a few workers, which measures throughput, not a limit.
    let server = Server::start(
        "TIME",
        timelab,
        &time_server_args(Model::Pool, settings.backlog, &settings),
        Limit::Raised,
    )?;
    let setup = format!(
        "{} requests on a pool of {pool_workers} threads",
        count(pooled)
    );
    let report = ClientRun {
        method: Method::Pool,
        addr: server.addr,
        requests: pooled,
        concurrency: pool_workers,
        duration_s: None,
        timeout_ms: settings.timeout_ms,
        leak_children: false,
        server_pid: Some(server.pid()),
        limit: Limit::Raised,
    }
    .run(timelab)?;
    server.stop()?;
    progress.ran(&format!("{setup}: {}", summary(&report)));
    runs.push(FailureRun {
        failure: "pool-throughput".to_owned(),
        fixed: true,
        setup,
        model: Model::Pool,
        backlog: settings.backlog,
        client_open_files_limit: None,
        report,
    });

    Ok(LabFailures {
        machine: machine(),
        runs,
    })
}

// ---------------------------------------------------------------------------------------------
// Idle connections.

/// How long the idle sweep waits for a server to accept the connections held open.
const ACCEPT_WAIT: Duration = Duration::from_secs(10);

fn idle_sweep(options: &Options, progress: &Progress) -> Result<IdleSweep, SweepError> {
    let (_, settings) = time_settings(options.scale);
    // Silence must outlast the measured client, so that no server frees a worker by timing a
    // held connection out while it is measured.
    let (held, idle_timeout_s, duration_s, timeout_ms) = match options.scale {
        Scale::Full => (1000, 60, 3.0, 2000),
        Scale::Quick => (4, 10, 0.2, 1000),
    };
    let client_workers = 10.min(held.max(2));
    progress.add(Model::ALL.len());
    let mut runs = Vec::new();
    for model in Model::ALL {
        let server = Server::start(
            "TIME",
            &options.timelab,
            &time_server_args_idle(model, settings.backlog, &settings, idle_timeout_s),
            Limit::Raised,
        )?;
        let baseline = probe::open_descriptors(Pid::Other(server.pid())).unwrap_or(0);
        let connections = (0..held)
            .map(|_| TcpStream::connect(server.addr))
            .collect::<io::Result<Vec<TcpStream>>>()
            .map_err(|e| SweepError::Io(format!("cannot hold {held} connections open"), e))?;
        // The server accepts them at its own pace; count what holding them costs once it has.
        let accepted = Instant::now() + ACCEPT_WAIT;
        while probe::open_descriptors(Pid::Other(server.pid())).unwrap_or(0)
            < baseline + held as u64
            && Instant::now() < accepted
        {
            thread::sleep(Duration::from_millis(10));
        }
        let pid = Pid::Other(server.pid());
        let (server_threads, server_descriptors, server_rss_kib) = (
            probe::threads(pid),
            probe::open_descriptors(pid).ok(),
            resident_kib(server.pid()),
        );
        let report = ClientRun {
            method: Method::Pool,
            addr: server.addr,
            requests: settings.max_requests,
            concurrency: client_workers,
            duration_s: Some(duration_s),
            timeout_ms,
            leak_children: false,
            server_pid: Some(server.pid()),
            limit: Limit::Raised,
        }
        .run(&options.timelab)?;
        let still_open = connections.iter().filter(|c| is_open(c)).count();
        drop(connections);
        server.stop()?;
        progress.ran(&format!(
            "TIME {model} server holding {held} silent connections ({} threads, {} KiB): {}",
            server_threads.map_or("-".to_owned(), |t| t.to_string()),
            server_rss_kib.map_or("-".to_owned(), |k| k.to_string()),
            summary(&report)
        ));
        runs.push(IdleRun {
            model,
            held,
            still_open,
            server_threads,
            server_descriptors,
            server_rss_kib,
            report,
        });
    }
    Ok(IdleSweep {
        machine: machine(),
        settings,
        idle_timeout_s,
        client_workers,
        client_duration_s: duration_s,
        client_timeout_ms: timeout_ms,
        runs,
    })
}

/// Whether the server has neither closed `stream` nor written to it: a read finds nothing yet.
fn is_open(stream: &TcpStream) -> bool {
    let mut byte = [0; 1];
    stream.set_nonblocking(true).is_ok()
        && matches!((&*stream).read(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

/// A process's resident memory (`VmRSS` in `/proc/<pid>/status`), in KiB.
fn resident_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// The HTTP sweep.

/// The HTTP servers compared: the thread-per-connection stage as the baseline; stage 21 as it
/// ships and with a queue as deep as the largest load, so that what it refuses and what it serves
/// can be told apart; stage 22, which waits for room instead of refusing, as it ships; and
/// stage 24, which also sheds the connections that waited too long, as it ships.
fn http_servers() -> Vec<HttpServer> {
    let server = |name: &str, description: &str, package: &str, args: &[&str]| HttpServer {
        name: name.to_owned(),
        description: description.to_owned(),
        package: package.to_owned(),
        args: args.iter().map(|&arg| arg.to_owned()).collect(),
    };
    let defaults = ch21_hardened::Capacity::default();
    let patient = ch22_back_pressure::Config::default();
    let shedding = ch24_shedding::Config::default();
    vec![
        server(
            "stage 2",
            "a thread per connection",
            "ch02-thread-per-request",
            &[],
        ),
        server(
            "stage 21",
            &format!(
                "the pool as it ships: {} workers, {} waiting",
                defaults.workers, defaults.waiting
            ),
            "ch21-hardened",
            &[],
        ),
        server(
            "stage 21, deep queue",
            &format!("{} workers, 1,024 waiting", defaults.workers),
            "ch21-hardened",
            &["--waiting", "1024"],
        ),
        server(
            "stage 22",
            &format!(
                "back-pressure as it ships: {} workers, {} waiting, {} ms of patience",
                patient.capacity.workers,
                patient.capacity.waiting,
                patient.patience.as_millis()
            ),
            "ch22-back-pressure",
            &[],
        ),
        server(
            "stage 24",
            &format!(
                "shedding as it ships: stage 22's settings, and a connection shed once it has \
                 waited {} ms in a standing queue ({} ms)",
                shedding.shedding.target.as_millis(),
                shedding.shedding.interval.as_millis()
            ),
            "ch24-shedding",
            &[],
        ),
    ]
}

fn http_sweep(options: &Options, progress: &Progress) -> Result<HttpSweep, SweepError> {
    let (connections, duration_s) = match options.scale {
        Scale::Full => (vec![10, 100, 1000], 3),
        Scale::Quick => (vec![2, 4], 1),
    };
    let wrk_threads = 2;
    let path = "/".to_owned();
    let version = wrk_version()?;
    let servers = http_servers();
    progress.add(servers.len() * connections.len());
    let mut runs = Vec::new();
    for server in &servers {
        let binary = options.bin_dir.join(&server.package);
        if !binary.exists() {
            return Err(SweepError::Server(format!(
                "{} is not built: run `cargo build --release --workspace --bins` first, or pass --bin-dir",
                binary.display()
            )));
        }
        let mut args = server.args.clone();
        args.extend([
            "--port".to_owned(),
            "0".to_owned(),
            "--backlog".to_owned(),
            SERVER_BACKLOG.to_string(),
        ]);
        let process = Server::start(&server.name, &binary, &args, Limit::Raised)?;
        for &c in &connections {
            let sampler = Sampler::start(Some(process.pid()), |_| {});
            let handshakes_before = Handshakes::now();
            let output = Limit::Raised
                .command(
                    Path::new("wrk"),
                    &[
                        format!("-t{}", wrk_threads.min(c)),
                        format!("-c{c}"),
                        format!("-d{duration_s}s"),
                        "--latency".to_owned(),
                        format!("http://{}{path}", process.addr),
                    ],
                )
                .stdin(Stdio::null())
                .output()
                .map_err(|e| SweepError::Io("cannot run wrk".to_owned(), e))?;
            let handshakes = Handshakes::now()
                .zip(handshakes_before)
                .map(|(after, before)| after.since(before));
            let (_, server_usage) = sampler.finish();
            let text = String::from_utf8_lossy(&output.stdout);
            let result = parse_wrk(&text).ok_or_else(|| {
                SweepError::Output(format!(
                    "cannot read wrk's output (exit {}):\n{text}{}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr)
                ))
            })?;
            progress.ran(&format!(
                "HTTP {}, {c} connections: {:.0} responses/s ({} not 2xx), p99 {:.2} ms",
                server.name,
                result.requests_per_s,
                result.non_2xx,
                result.latency.p99_us / 1000.0
            ));
            runs.push(HttpRun {
                server: server.name.clone(),
                connections: c,
                result,
                server_usage: server_usage.unwrap_or_default(),
                handshakes,
            });
        }
        // Stage 2 cannot stop gracefully (it has no signal handling); the others can.
        if server.package == "ch02-thread-per-request" {
            process.kill()?;
        } else {
            process.stop()?;
        }
    }
    Ok(HttpSweep {
        machine: machine(),
        settings: HttpSettings {
            wrk_version: version,
            wrk_threads,
            duration_s,
            path,
            backlog: SERVER_BACKLOG,
        },
        servers,
        runs,
    })
}

fn wrk_version() -> Result<String, SweepError> {
    // `wrk --version` prints its banner and exits with 1.
    let output = Command::new("wrk")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            SweepError::Io(
                "cannot run wrk, the HTTP load generator (Debian: apt-get install wrk)".to_owned(),
                e,
            )
        })?;
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(text.lines().next().unwrap_or("wrk").trim().to_owned())
}

/// Reads what `wrk --latency` prints; `None` if a line it always prints is missing.
pub fn parse_wrk(text: &str) -> Option<WrkResult> {
    let mut percentiles = [None; 4];
    let mut totals = None;
    let mut requests_per_s = None;
    let mut errors = WrkErrors::default();
    let mut non_2xx = 0;
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [p @ ("50%" | "75%" | "90%" | "99%"), value] => {
                let slot = ["50%", "75%", "90%", "99%"].iter().position(|q| q == p)?;
                percentiles[slot] = Some(micros(value)?);
            }
            // `41756 requests in 3.01s, 3.98MB read`
            [count, "requests", "in", duration, ..] => {
                let duration = duration.trim_end_matches(',');
                totals = Some((count.parse().ok()?, micros(duration)? / 1e6));
            }
            ["Requests/sec:", value] => requests_per_s = Some(value.parse().ok()?),
            ["Non-2xx", "or", "3xx", "responses:", count] => non_2xx = count.parse().ok()?,
            // `Socket errors: connect 0, read 12, write 0, timeout 0`
            ["Socket", "errors:", rest @ ..] => {
                for pair in rest.chunks(2) {
                    let [kind, count] = pair else { return None };
                    let count = count.trim_end_matches(',').parse().ok()?;
                    match *kind {
                        "connect" => errors.connect = count,
                        "read" => errors.read = count,
                        "write" => errors.write = count,
                        "timeout" => errors.timeout = count,
                        _ => return None,
                    }
                }
            }
            _ => {}
        }
    }
    let [p50_us, p75_us, p90_us, p99_us] = percentiles;
    let (requests, duration_s) = totals?;
    Some(WrkResult {
        requests,
        duration_s,
        requests_per_s: requests_per_s?,
        non_2xx,
        latency: WrkLatency {
            p50_us: p50_us?,
            p75_us: p75_us?,
            p90_us: p90_us?,
            p99_us: p99_us?,
        },
        errors,
    })
}

/// A duration as wrk prints it (`812.00us`, `4.79ms`, `1.02s`, `2.00m`), in microseconds.
fn micros(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        "h" => 3600e6,
        _ => return None,
    };
    Some(number * scale)
}

// ---------------------------------------------------------------------------------------------
// Servers, limits and the machine.

/// The descriptor limit a server or client runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    /// As high as the hard limit allows, up to [`RAISED_OPEN_FILES`]: a thousand connections must
    /// not fail for a default soft limit of 1,024 that has nothing to do with the model measured.
    Raised,
    /// Lowered on purpose, to make the lab's failure.
    Lowered(u64),
}

impl Limit {
    /// `program args` run by a shell that first sets the limit, then replaces itself with the
    /// program, which keeps the shell's pid: the limit is a property of the process, and
    /// `ulimit` is how a user would set it (Rust's standard library has no `setrlimit`).
    fn command(self, program: &Path, args: &[String]) -> Command {
        let set = match self {
            Limit::Raised => format!(
                "h=$(ulimit -Hn); if [ \"$h\" = unlimited ] || [ \"$h\" -gt {RAISED_OPEN_FILES} ]; \
                 then h={RAISED_OPEN_FILES}; fi; ulimit -n \"$h\""
            ),
            Limit::Lowered(limit) => format!("ulimit -n {limit}"),
        };
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("{set} && exec \"$0\" \"$@\""))
            .arg(program)
            .args(args);
        command
    }
}

/// A server process: started, asked where it listens, and stopped.
struct Server {
    name: String,
    child: Child,
    addr: SocketAddr,
    output: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
}

impl Server {
    /// Starts `program args` and waits for its `Listening on [http://]ADDR` line.
    fn start(
        name: &str,
        program: &Path,
        args: &[String],
        limit: Limit,
    ) -> Result<Server, SweepError> {
        let mut child = limit
            .command(program, args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| SweepError::Io(format!("cannot start {}", program.display()), e))?;
        let output = Arc::new(Mutex::new(Vec::new()));
        let (lines_tx, lines) = mpsc::channel();
        let mut readers = Vec::new();
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let (output, lines_tx) = (Arc::clone(&output), lines_tx.clone());
            // Read as it comes, so a chatty server never blocks on a full pipe.
            readers.push(thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    output
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(line.clone());
                    let _ = lines_tx.send(line);
                }
            }));
        }
        drop(lines_tx);
        let mut server = Server {
            name: name.to_owned(),
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            output,
            readers,
        };
        server.addr = listening_addr(&lines).ok_or_else(|| {
            SweepError::Server(format!(
                "the {name} server ({}) did not say where it listens:\n{}",
                program.display(),
                server.output_text()
            ))
        })?;
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn output_text(&self) -> String {
        self.output
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .join("\n")
    }

    /// Asks the server to stop (SIGTERM) and waits for it to exit with success.
    fn stop(mut self) -> Result<(), SweepError> {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .map_err(|e| SweepError::Io("cannot run kill".to_owned(), e))?;
        if !status.success() {
            return Err(SweepError::Server(format!(
                "cannot signal the {} server: kill exited with {status}",
                self.name
            )));
        }
        let status = self.wait()?;
        if status.success() {
            Ok(())
        } else {
            Err(SweepError::Server(format!(
                "the {} server exited with {status} when asked to stop:\n{}",
                self.name,
                self.output_text()
            )))
        }
    }

    /// Ends a server that has no graceful stop.
    fn kill(mut self) -> Result<(), SweepError> {
        self.child
            .kill()
            .map_err(|e| SweepError::Io(format!("cannot stop the {} server", self.name), e))?;
        self.wait().map(drop)
    }

    /// Waits for the exit, up to [`SERVER_WAIT`], then kills: a sweep must end.
    fn wait(&mut self) -> Result<ExitStatus, SweepError> {
        let (done_tx, done) = mpsc::channel::<()>();
        let pid = self.pid().to_string();
        let watchdog = thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = done.recv_timeout(SERVER_WAIT) {
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
            }
        });
        let status = self.child.wait();
        let _ = done_tx.send(());
        let _ = watchdog.join();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        status.map_err(|e| SweepError::Io(format!("cannot wait for the {} server", self.name), e))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Only a server left running by an error: stopped ones have been waited for already.
        if self.readers.is_empty() {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address in the first `Listening on` line, waiting up to [`SERVER_WAIT`] for it.
fn listening_addr(lines: &Receiver<String>) -> Option<SocketAddr> {
    loop {
        let line = lines.recv_timeout(SERVER_WAIT).ok()?;
        if let Some(rest) = line.strip_prefix("Listening on ") {
            return rest.strip_prefix("http://").unwrap_or(rest).parse().ok();
        }
    }
}

/// The machine, and the limits the sweep's servers and clients run under.
fn machine() -> Machine {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .ok()
            .map(|text| text.split_whitespace().collect::<Vec<_>>().join(" "))
    };
    let number = |path: &str| read(path).and_then(|text| text.parse().ok());
    // What a raised limit comes to here: the shell that sets it prints it.
    let open_files_limit = Limit::Raised
        .command(Path::new("sh"), &["-c".to_owned(), "ulimit -n".to_owned()])
        .output()
        .ok()
        .and_then(|output| String::from_utf8_lossy(&output.stdout).trim().parse().ok());
    Machine {
        cpus: thread::available_parallelism().map_or(1, usize::from),
        kernel: read("/proc/sys/kernel/osrelease"),
        open_files_limit,
        threads_max: number("/proc/sys/kernel/threads-max"),
        somaxconn: number("/proc/sys/net/core/somaxconn"),
        tcp_tw_reuse: number("/proc/sys/net/ipv4/tcp_tw_reuse"),
        tcp_synack_retries: number("/proc/sys/net/ipv4/tcp_synack_retries"),
        ip_local_port_range: read("/proc/sys/net/ipv4/ip_local_port_range"),
        timelab_version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

/// A bar over the runs, and a line per run, on standard error if asked for.
struct Progress {
    bar: ProgressBar,
    lines: bool,
}

impl Progress {
    fn new(options: &Options) -> Progress {
        let bar = ProgressBar::with_draw_target(
            Some(0),
            if options.progress {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} runs, {elapsed}") {
            bar.set_style(style);
        }
        Progress {
            bar,
            lines: options.progress,
        }
    }

    fn add(&self, runs: usize) {
        self.bar.inc_length(runs as u64);
    }

    fn ran(&self, line: &str) {
        if self.lines {
            self.bar.println(line);
        }
        self.bar.inc(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// wrk 4.1.0's output, as Debian's package prints it, with every optional line.
    const WRK: &str = "Running 3s test @ http://127.0.0.1:40365/
  2 threads and 100 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.09ms    2.54ms  38.09ms   81.77%
    Req/Sec     6.98k     1.12k    9.04k    68.33%
  Latency Distribution
     50%  812.00us
     75%    5.93ms
     90%    7.48ms
     99%    1.02s
  41756 requests in 3.01s, 3.98MB read
  Socket errors: connect 0, read 12, write 3, timeout 7
  Non-2xx or 3xx responses: 8998
Requests/sec:  13877.59
Transfer/sec:      1.32MB
";

    #[test]
    fn reads_wrk_output() {
        let result = parse_wrk(WRK).expect("parsed");
        assert_eq!(result.requests, 41_756);
        assert!((result.duration_s - 3.01).abs() < 1e-9);
        assert!((result.requests_per_s - 13_877.59).abs() < 1e-9);
        assert_eq!(result.non_2xx, 8998);
        assert!((result.latency.p50_us - 812.0).abs() < 1e-9);
        assert!((result.latency.p75_us - 5930.0).abs() < 1e-6);
        assert!((result.latency.p90_us - 7480.0).abs() < 1e-6);
        assert!((result.latency.p99_us - 1_020_000.0).abs() < 1e-6);
        assert_eq!(
            result.errors,
            WrkErrors {
                connect: 0,
                read: 12,
                write: 3,
                timeout: 7
            }
        );
        assert!((result.ok_per_s() - (41_756.0 - 8998.0) / 3.01).abs() < 1e-6);
    }

    #[test]
    fn optional_wrk_lines_default_to_zero() {
        let quiet: String = WRK
            .lines()
            .filter(|line| !line.contains("Socket errors") && !line.contains("Non-2xx"))
            .map(|line| format!("{line}\n"))
            .collect();
        let result = parse_wrk(&quiet).expect("parsed");
        assert_eq!(result.non_2xx, 0);
        assert_eq!(result.errors, WrkErrors::default());
    }

    #[test]
    fn wrk_output_without_its_latency_distribution_is_refused() {
        let without: String = WRK
            .lines()
            .filter(|line| !line.trim_start().starts_with("99%"))
            .map(|line| format!("{line}\n"))
            .collect();
        assert_eq!(parse_wrk(&without), None);
        assert_eq!(parse_wrk("wrk: command not found"), None);
        assert_eq!(parse_wrk(&WRK.replace("read 12", "lost 12")), None);
    }

    #[test]
    fn wrk_durations() {
        assert_eq!(micros("812.00us"), Some(812.0));
        assert_eq!(micros("4.5ms"), Some(4500.0));
        assert_eq!(micros("2.00m"), Some(120e6));
        assert_eq!(micros("12"), None);
        assert_eq!(micros("3.0xs"), None);
    }
}
