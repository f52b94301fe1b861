//! The lab's three clients, redone and measured: a thread per connection, a pool of threads, and
//! a process per connection, each bounded, each waiting for every thread and process it starts.
//!
//! A run is described by a [`Plan`] and made by [`run`], which returns a [`Report`]. Every
//! connection sends `TIME` and CR LF, reads the reply line, as many times as
//! [`Plan::requests_per_connection`] says, then sends `QUIT` ([`connection`]). The process
//! method runs [`connection`] in a child process: the current binary, started again with the
//! hidden [`CHILD_COMMAND`], which prints its [`Tally`] as one line of JSON on its standard
//! output ([`child_line`]).
//!
//! The lab's failures can be reproduced on purpose: a concurrency of 0 starts everything at
//! once, and [`Plan::leak_children`] keeps every finished child process, and its two pipes,
//! until the end, as the lab's never-joined `multiprocessing.Process` objects did.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread::{self, ScopedJoinHandle};
use std::time::{Duration, Instant};

use ch21_hardened::pool::{Policy, PoolCreationError, ThreadPool};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::measure::{ErrorKind, Latency, Report, Step, Tally, classify};
use crate::probe::{Sampler, open_files_limit};
use crate::protocol::{BUSY, MAX_LINE, is_jam};

/// The most requests one run may make.
pub const MAX_REQUESTS: u64 = 1_000_000;
/// The most connections one run may have in progress at once.
pub const MAX_CONCURRENCY: usize = 10_000;
/// How long connecting, sending or waiting for a reply may take by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest timeout a plan may set: a run must end.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// The hidden subcommand that runs one connection in a child process and prints its tally.
pub const CHILD_COMMAND: &str = "client-child";

/// How long a run must last before its progress bar appears: shorter runs would only flash it.
const PROGRESS_AFTER: Duration = Duration::from_secs(1);

/// How the client makes its requests concurrent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// A new thread per connection, at most [`Plan::concurrency`] alive at once (0: no limit),
    /// every one joined.
    Thread,
    /// [`Plan::concurrency`] worker threads of poolbook's pool, taking connections from its queue.
    Pool,
    /// A new process per connection (this binary again), at most [`Plan::concurrency`] alive at
    /// once (0: no limit), every one waited for.
    Process,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Thread => "thread",
            Method::Pool => "pool",
            Method::Process => "process",
        })
    }
}

impl FromStr for Method {
    type Err = String;

    fn from_str(text: &str) -> Result<Method, String> {
        match text {
            "thread" => Ok(Method::Thread),
            "pool" => Ok(Method::Pool),
            "process" => Ok(Method::Process),
            _ => Err(format!(
                "unknown method {text:?}: expected thread, pool or process"
            )),
        }
    }
}

// ANCHOR: plan
/// What one run does. [`Plan::new`] fills in the defaults; [`run`] checks the bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// How requests are made concurrent.
    pub method: Method,
    /// The server's address: a loopback address (see [`loopback_addr`]).
    pub addr: SocketAddr,
    /// How many requests, at most [`MAX_REQUESTS`].
    pub requests: u64,
    /// The most connections in progress at once, at most [`MAX_CONCURRENCY`]; 0 means no limit
    /// (not for the pool, which needs at least one worker).
    pub concurrency: usize,
    /// Requests sent on each connection before `QUIT`; the last connection carries what is left.
    pub requests_per_connection: u64,
    /// The limit on connecting, on sending a request, and on waiting for its reply.
    pub timeout: Duration,
    /// Stop starting connections after this long; those in progress finish.
    pub duration: Option<Duration>,
    /// Process method only: keep every child process, unwaited, with its pipes, until the end
    /// of the run, as the lab did.
    ///
    /// Each child kept holds two descriptors (its output and error pipes), and starting one
    /// takes five at once (its input, `/dev/null`, and both pipes), so under a limit `L` with `b`
    /// descriptors already open below it, `(L - b - 5) / 2 + 1` children start (rounded down)
    /// and the rest fail with "too many open files": the lab's `(limit - baseline) / 2`.
    pub leak_children: bool,
    /// A server process whose peak threads and descriptors to record.
    pub server_pid: Option<u32>,
    /// Show a progress bar on standard error, if it is a terminal and the run lasts.
    pub progress: bool,
    /// The program the process method starts for each connection, with [`CHILD_COMMAND`] and its
    /// options; the current executable if `None`.
    pub child_program: Option<PathBuf>,
}
// ANCHOR_END: plan

impl Plan {
    /// A plan for `requests` requests to `addr`, at most `concurrency` at once, one request per
    /// connection, the default timeout, no duration limit, no progress bar.
    pub fn new(method: Method, addr: SocketAddr, requests: u64, concurrency: usize) -> Plan {
        Plan {
            method,
            addr,
            requests,
            concurrency,
            requests_per_connection: 1,
            timeout: DEFAULT_TIMEOUT,
            duration: None,
            leak_children: false,
            server_pid: None,
            progress: false,
            child_program: None,
        }
    }

    /// Checks the plan's bounds.
    ///
    /// # Errors
    ///
    /// [`ClientError::Invalid`], saying which bound is broken.
    pub fn check(&self) -> Result<(), ClientError> {
        let invalid = |message: String| Err(ClientError::Invalid(message));
        if !self.addr.ip().is_loopback() {
            return invalid(not_loopback(&self.addr.to_string()));
        }
        if !(1..=MAX_REQUESTS).contains(&self.requests) {
            return invalid(format!(
                "requests must be between 1 and {MAX_REQUESTS}, not {}",
                self.requests
            ));
        }
        if self.concurrency > MAX_CONCURRENCY {
            return invalid(format!(
                "concurrency must be at most {MAX_CONCURRENCY}, not {}",
                self.concurrency
            ));
        }
        if self.concurrency == 0 && self.method == Method::Pool {
            return invalid("the pool needs at least one worker: concurrency 0 (no limit) is for the thread and process methods".to_owned());
        }
        if !(1..=MAX_REQUESTS).contains(&self.requests_per_connection) {
            return invalid(format!(
                "requests per connection must be between 1 and {MAX_REQUESTS}, not {}",
                self.requests_per_connection
            ));
        }
        if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            return invalid(format!(
                "the timeout must be more than 0 and at most {} s",
                MAX_TIMEOUT.as_secs()
            ));
        }
        if self.duration.is_some_and(|d| d.is_zero()) {
            return invalid("the duration must be more than 0".to_owned());
        }
        if self.leak_children && self.method != Method::Process {
            return invalid("only the process method has children to leak".to_owned());
        }
        Ok(())
    }

    /// How many requests each connection carries, in order.
    fn connections(&self) -> impl Iterator<Item = u64> + use<> {
        let (total, each) = (self.requests, self.requests_per_connection.max(1));
        (0..total.div_ceil(each)).map(move |i| each.min(total - i * each))
    }
}

/// Why a run could not be made.
#[derive(Debug)]
pub enum ClientError {
    /// The plan breaks a bound, or names an address that is not loopback.
    Invalid(String),
    /// The pool method's threads could not be started.
    Pool(PoolCreationError),
    /// The process method cannot find the program to start.
    Program(io::Error),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Invalid(message) => f.write_str(message),
            ClientError::Pool(e) => write!(f, "cannot start the client's pool: {e}"),
            ClientError::Program(e) => write!(f, "cannot find this program to re-run: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

fn not_loopback(addr: &str) -> String {
    format!(
        "{addr} is not a loopback address: this client only loads a server on this machine (127.0.0.1, ::1)"
    )
}

/// Resolves `text` (`127.0.0.1:45000`, `[::1]:45000`, `localhost:45000`) to an address, and
/// refuses any that is not loopback: a load client must not be pointed at someone else's machine.
///
/// # Errors
///
/// [`ClientError::Invalid`] if it does not resolve, or resolves to an address that is not
/// loopback.
pub fn loopback_addr(text: &str) -> Result<SocketAddr, ClientError> {
    let mut addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| ClientError::Invalid(format!("cannot resolve {text:?}: {e}")))?
        .collect();
    if addrs.is_empty() || addrs.iter().any(|addr| !addr.ip().is_loopback()) {
        return Err(ClientError::Invalid(not_loopback(text)));
    }
    Ok(addrs.swap_remove(0))
}

// ANCHOR: connection
/// Opens one connection to `addr`, sends `requests` `TIME` requests one after the other, each
/// after the previous reply, then `QUIT`; and tallies what came back.
///
/// The first request's latency includes connecting. A failure that ends the connection (refused,
/// reset, timed out, closed, `ERR busy`) counts every request not yet answered with its kind; a
/// reply that is merely wrong counts as a bad reply, and the connection goes on.
pub fn connection(addr: SocketAddr, requests: u64, timeout: Duration) -> Tally {
    let mut tally = Tally {
        issued: requests,
        ..Tally::default()
    };
    let mut sent_at = Instant::now();
    let stream = match TcpStream::connect_timeout(&addr, timeout) {
        Ok(stream) => stream,
        Err(e) => {
            tally.fail(
                requests,
                classify(&e, Step::Connect),
                format!("connect: {e}"),
            );
            return tally;
        }
    };
    let configured = stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        // Each request follows the reply that acknowledged the one before, so Nagle's algorithm
        // has nothing to hold back; off anyway, so no latency can include a delayed ACK.
        .and_then(|()| stream.set_nodelay(true));
    if let Err(e) = configured {
        tally.fail(requests, ErrorKind::Other, format!("socket options: {e}"));
        return tally;
    }
    let mut reader = BufReader::with_capacity(MAX_LINE, &stream);
    let mut writer = &stream;
    // One byte past the longest line the protocol allows tells a long reply from a cut one.
    let limit = u64::try_from(MAX_LINE).unwrap_or(u64::MAX) + 1;
    for answered in 0..requests {
        let left = requests - answered;
        if let Err(e) = writer.write_all(b"TIME\r\n") {
            tally.fail(left, classify(&e, Step::Exchange), format!("send: {e}"));
            return tally;
        }
        let mut line = Vec::with_capacity(16);
        if let Err(e) = (&mut reader).take(limit).read_until(b'\n', &mut line) {
            tally.fail(left, classify(&e, Step::Exchange), format!("read: {e}"));
            return tally;
        }
        if is_jam(&line) {
            tally.complete(sent_at.elapsed());
        } else if line == BUSY.as_bytes() {
            // The server closes the connection after saying so.
            tally.fail(left, ErrorKind::Busy, "");
            return tally;
        } else if line.is_empty() {
            tally.fail(left, ErrorKind::Closed, "");
            return tally;
        } else if line.last() != Some(&b'\n') && line.len() < MAX_LINE + 1 {
            // Part of a line, then the end of the stream.
            tally.fail(1, ErrorKind::BadReply, "");
            tally.fail(left - 1, ErrorKind::Closed, "");
            return tally;
        } else {
            tally.fail(1, ErrorKind::BadReply, "");
        }
        sent_at = Instant::now();
    }
    // Only a courtesy: the server closes on QUIT, and this side closes anyway.
    let _ = writer.write_all(b"QUIT\r\n");
    tally
}
// ANCHOR_END: connection

/// The line a child process prints: its tally, as JSON.
pub fn child_line(tally: &Tally) -> String {
    serde_json::to_string(tally).unwrap_or_else(|e| {
        // A tally has no map with non-string keys, nothing serde_json refuses; but a child
        // must print a line whatever happens.
        let failed = Tally::failed(tally.issued, ErrorKind::Other, e);
        serde_json::to_string(&failed).unwrap_or_default()
    })
}

/// The tally in a child's standard output, if it printed one for `requests` requests that adds
/// up.
fn parse_child_line(stdout: &str, requests: u64) -> Option<Tally> {
    let tally: Tally = serde_json::from_str(stdout.lines().next()?).ok()?;
    (tally.issued == requests && tally.adds_up()).then_some(tally)
}

/// What a run shares between the threads that make it.
struct Shared {
    tally: Mutex<Tally>,
    bar: ProgressBar,
    in_flight: InFlight,
    deadline: Option<Instant>,
    /// Set once the deadline is seen passed.
    out_of_time: AtomicBool,
}

impl Shared {
    fn record(&self, tally: Tally) {
        self.bar.inc(tally.issued);
        self.tally
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .merge(tally);
    }

    /// Whether the run's duration has run out: no new connection may start.
    fn out_of_time(&self) -> bool {
        if self.out_of_time.load(Ordering::Relaxed) {
            return true;
        }
        let over = self.deadline.is_some_and(|d| Instant::now() >= d);
        if over {
            self.out_of_time.store(true, Ordering::Relaxed);
        }
        over
    }
}

/// Counts connections in progress, and the most at once.
#[derive(Default)]
struct InFlight {
    /// Now, and the most so far.
    state: Mutex<(usize, usize)>,
}

/// One connection counted in progress until dropped (also when its thread panics).
struct Entered<'a>(&'a InFlight);

impl InFlight {
    fn enter(&self) -> Entered<'_> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.0 += 1;
        state.1 = state.1.max(state.0);
        Entered(self)
    }

    /// Counts `now` in progress at once, counted by the caller.
    fn saw(&self, now: usize) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.1 = state.1.max(now);
    }

    fn peak(&self) -> usize {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).1
    }
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        self.0
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .0 -= 1;
    }
}

/// Tells the thread that started a connection's thread that it is about to end, when dropped:
/// last thing in the thread, also if it panics.
struct Finished {
    place: usize,
    done: mpsc::Sender<usize>,
}

impl Drop for Finished {
    fn drop(&mut self) {
        let _ = self.done.send(self.place);
    }
}

// ANCHOR: run
/// Makes the requests `plan` describes and reports what happened.
///
/// Every thread and process the run starts has ended when this returns, including the children
/// a [`Plan::leak_children`] run kept until the end. Failures to start one, for want of a
/// descriptor or otherwise, are counted in the report, not returned.
///
/// # Errors
///
/// [`ClientError`] if the plan breaks a bound, if the pool cannot be started, or if the process
/// method cannot find the program to re-run.
pub fn run(plan: &Plan) -> Result<Report, ClientError> {
    plan.check()?;
    let bar = ProgressBar::with_draw_target(Some(plan.requests), ProgressDrawTarget::hidden());
    // One line however wide the terminal: a line that wraps is redrawn as two, and scrolls.
    if let Ok(style) = ProgressStyle::with_template("{wide_bar} {pos}/{len} requests {elapsed}") {
        bar.set_style(style);
    }
    // The pool's jobs must be 'static: they hold the run's state through an `Arc`.
    let shared = Arc::new(Shared {
        tally: Mutex::new(Tally::default()),
        bar: bar.clone(),
        in_flight: InFlight::default(),
        deadline: plan.duration.map(|d| Instant::now() + d),
        out_of_time: AtomicBool::new(false),
    });
    let show = plan.progress && io::stderr().is_terminal();
    let sampler = Sampler::start(plan.server_pid, move |elapsed| {
        // Shown only once the run has lasted: a hidden bar counts without drawing.
        if show && elapsed >= PROGRESS_AFTER && bar.is_hidden() {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    });
    let started = Instant::now();
    let made = match plan.method {
        Method::Thread => {
            let (addr, timeout) = (plan.addr, plan.timeout);
            threads(plan, &shared, |requests| {
                connection(addr, requests, timeout)
            });
            Ok(())
        }
        Method::Pool => pool(plan, &shared),
        Method::Process => processes(plan, &shared),
    };
    let wall = started.elapsed();
    let (client, server) = sampler.finish();
    shared.bar.finish_and_clear();
    made?;
    let peak_in_flight = shared.in_flight.peak();
    let stopped_by_duration = shared.out_of_time.load(Ordering::Relaxed);
    let mut tally =
        std::mem::take(&mut *shared.tally.lock().unwrap_or_else(PoisonError::into_inner));
    let seconds = wall.as_secs_f64();
    Ok(Report {
        method: plan.method,
        addr: plan.addr,
        concurrency: plan.concurrency,
        requests_per_connection: plan.requests_per_connection,
        leak_children: plan.leak_children,
        planned: plan.requests,
        issued: tally.issued,
        completed: tally.completed,
        errors: tally.errors,
        first_other: tally.first_other.take(),
        stopped_by_duration,
        wall_s: seconds,
        throughput_per_s: if seconds > 0.0 {
            tally.completed as f64 / seconds
        } else {
            0.0
        },
        latency: Latency::of(&mut tally.latencies_us),
        peak_in_flight,
        client,
        server,
        open_files_limit: open_files_limit(),
    })
}
// ANCHOR_END: run

// ANCHOR: threads
/// Starts a thread per connection, each running `unit`. With a concurrency limit, a thread is
/// joined (it has ended, not merely finished its work) before the one that takes its place
/// starts, so at most `plan.concurrency` exist at once; without, finished threads are joined as
/// the next ones start. All are joined before this returns.
fn threads<U>(plan: &Plan, shared: &Shared, unit: U)
where
    U: Fn(u64) -> Tally + Sync,
{
    let unit = &unit;
    thread::scope(|scope| {
        let (done, finished) = mpsc::channel::<usize>();
        // A place per thread that may run at once, reused once its thread is joined.
        let mut places: Vec<Option<ScopedJoinHandle<'_, ()>>> = Vec::new();
        let mut free: Vec<usize> = Vec::new();
        for requests in plan.connections() {
            if shared.out_of_time() {
                break;
            }
            while let Ok(place) = finished.try_recv() {
                join(place, &mut places, &mut free);
            }
            if plan.concurrency > 0 && places.len() - free.len() >= plan.concurrency {
                // Some thread is running, and says when it ends: this cannot wait forever.
                if let Ok(place) = finished.recv() {
                    join(place, &mut places, &mut free);
                }
                // Waiting for a place may have taken the rest of the time.
                if shared.out_of_time() {
                    break;
                }
            }
            let place = free.pop().unwrap_or_else(|| {
                places.push(None);
                places.len() - 1
            });
            let finished = Finished {
                place,
                done: done.clone(),
            };
            let started = thread::Builder::new()
                .name("time-client".to_owned())
                .spawn_scoped(scope, move || {
                    let _finished = finished;
                    let _entered = shared.in_flight.enter();
                    shared.record(unit(requests));
                });
            match started {
                Ok(handle) => places[place] = Some(handle),
                // The closure was dropped with the error, and its `Finished` with it: the place
                // comes back through the channel.
                Err(e) => {
                    let kind = classify(&e, Step::Spawn);
                    shared.record(Tally::failed(
                        requests,
                        kind,
                        format!("cannot start a thread: {e}"),
                    ));
                }
            }
        }
    });
}
// ANCHOR_END: threads

/// Joins the thread in `place`, if one was started there, and frees the place.
fn join(place: usize, places: &mut [Option<ScopedJoinHandle<'_, ()>>], free: &mut Vec<usize>) {
    // The units do not panic (their failures are tallies); were one to, its requests would be
    // missing and the report would not add up, which the tests check.
    if let Some(handle) = places[place].take() {
        let _ = handle.join();
    }
    free.push(place);
}

// ANCHOR: pool
/// Runs every connection as a job on a pool of `plan.concurrency` threads; the queue holds as
/// many jobs as there are workers, so submitting waits for the workers and a run of a million
/// requests never holds a million closures.
fn pool(plan: &Plan, shared: &Arc<Shared>) -> Result<(), ClientError> {
    let pool = ThreadPool::builder()
        .threads(plan.concurrency)
        .name_prefix("time-client")
        .capacity(plan.concurrency)
        .policy(Policy::Block)
        .build()
        .map_err(ClientError::Pool)?;
    let (addr, timeout) = (plan.addr, plan.timeout);
    for requests in plan.connections() {
        if shared.out_of_time() {
            break;
        }
        let job_shared = Arc::clone(shared);
        let job = move || {
            // A job queued before the deadline but started after it is not issued.
            if job_shared.out_of_time() {
                return;
            }
            let entered = job_shared.in_flight.enter();
            let tally = connection(addr, requests, timeout);
            drop(entered);
            job_shared.record(tally);
        };
        if let Err(rejected) = pool.execute(job) {
            shared.record(Tally::failed(requests, ErrorKind::Other, rejected));
        }
    }
    pool.close();
    pool.join();
    Ok(())
}
// ANCHOR_END: pool

/// The child process for one connection: this program again, with [`CHILD_COMMAND`]; standard
/// output and error piped back (the two pipes the lab's processes kept each), input from
/// `/dev/null`.
fn child_command(program: &PathBuf, plan: &Plan, requests: u64) -> Command {
    let mut command = Command::new(program);
    command
        .arg(CHILD_COMMAND)
        .arg("--addr")
        .arg(plan.addr.to_string())
        .arg("--requests")
        .arg(requests.to_string())
        .arg("--timeout-ms")
        // At least a millisecond: the child's option counts in milliseconds, and std refuses a
        // zero timeout.
        .arg(plan.timeout.as_millis().max(1).to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// What a child that did not print a tally tells: how it exited and the first line of its
/// standard error.
fn child_failure(requests: u64, how: impl fmt::Display, stderr: &[u8]) -> Tally {
    let stderr = String::from_utf8_lossy(stderr);
    let first = stderr.lines().next().unwrap_or("nothing on stderr");
    Tally::failed(
        requests,
        ErrorKind::Other,
        format!("child process {how}: {first}"),
    )
}

/// Runs every connection in a child process of its own.
fn processes(plan: &Plan, shared: &Shared) -> Result<(), ClientError> {
    let program = match &plan.child_program {
        Some(program) => program.clone(),
        None => std::env::current_exe().map_err(ClientError::Program)?,
    };
    if plan.leak_children {
        leaking_processes(plan, shared, &program);
    } else {
        threads(plan, shared, |requests| process(&program, plan, requests));
    }
    Ok(())
}

// ANCHOR: process
/// Starts a child for one connection and waits for it: the child's tally, or a failure.
fn process(program: &PathBuf, plan: &Plan, requests: u64) -> Tally {
    let child = match child_command(program, plan, requests).spawn() {
        Ok(child) => child,
        Err(e) => {
            return Tally::failed(
                requests,
                classify(&e, Step::Spawn),
                format!("cannot start a process: {e}"),
            );
        }
    };
    // Reads both pipes to their end, without either filling up, and reaps the child.
    match child.wait_with_output() {
        Ok(output) => parse_child_line(&String::from_utf8_lossy(&output.stdout), requests)
            .unwrap_or_else(|| child_failure(requests, output.status, &output.stderr)),
        Err(e) => child_failure(requests, format_args!("could not be waited for ({e})"), &[]),
    }
}
// ANCHOR_END: process

// ANCHOR: leak
/// The process method as the lab ran it: every child, once it has printed its tally, is kept
/// with its two pipes and not waited for until every connection has been started.
///
/// Children are started one after the other from this thread, so the number that start before
/// the descriptors run out does not depend on how threads interleave. At most
/// `plan.concurrency` children are still running (0: no limit); at the limit, the oldest one's
/// tally is read before the next starts.
fn leaking_processes(plan: &Plan, shared: &Shared, program: &PathBuf) {
    let mut running: VecDeque<(Child, u64)> = VecDeque::new();
    let mut kept: Vec<Child> = Vec::new();
    let mut peak = 0;
    let read_tally = |child: &mut Child, requests: u64| {
        let mut line = String::new();
        let read = match child.stdout.as_mut() {
            Some(stdout) => BufReader::new(stdout).read_line(&mut line),
            None => Ok(0),
        };
        match read {
            Ok(_) => parse_child_line(&line, requests).unwrap_or_else(|| {
                // No tally: the child failed; it has ended, or soon will, and is reaped now.
                let mut stderr = Vec::new();
                if let Some(pipe) = child.stderr.as_mut() {
                    let _ = pipe.read_to_end(&mut stderr);
                }
                match child.wait() {
                    Ok(status) => child_failure(requests, status, &stderr),
                    Err(e) => child_failure(requests, e, &stderr),
                }
            }),
            Err(e) => child_failure(requests, format_args!("unreadable ({e})"), &[]),
        }
    };
    for requests in plan.connections() {
        if shared.out_of_time() {
            break;
        }
        if plan.concurrency > 0
            && running.len() >= plan.concurrency
            && let Some((mut child, requests)) = running.pop_front()
        {
            shared.record(read_tally(&mut child, requests));
            kept.push(child);
        }
        match child_command(program, plan, requests).spawn() {
            Ok(child) => {
                running.push_back((child, requests));
                peak = peak.max(running.len());
            }
            Err(e) => shared.record(Tally::failed(
                requests,
                classify(&e, Step::Spawn),
                format!("cannot start a process: {e}"),
            )),
        }
    }
    for (mut child, requests) in running {
        shared.record(read_tally(&mut child, requests));
        kept.push(child);
    }
    // The end of the run: now every child is waited for, and its pipes closed.
    for child in kept {
        let _ = child.wait_with_output();
    }
    shared.in_flight.saw(peak);
}
// ANCHOR_END: leak

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn plan(method: Method) -> Plan {
        Plan::new(
            method,
            SocketAddr::from((Ipv4Addr::LOCALHOST, 45000)),
            10,
            2,
        )
    }

    #[test]
    fn connections_carry_the_requests_and_the_last_carries_the_rest() {
        let mut plan = plan(Method::Thread);
        plan.requests_per_connection = 4;
        assert_eq!(plan.connections().collect::<Vec<_>>(), [4, 4, 2]);
        plan.requests_per_connection = 1;
        assert_eq!(plan.connections().count(), 10);
        plan.requests_per_connection = 20;
        assert_eq!(plan.connections().collect::<Vec<_>>(), [10]);
    }

    #[test]
    fn only_loopback_addresses_are_accepted() {
        assert!(loopback_addr("127.0.0.1:45000").is_ok());
        assert!(loopback_addr("[::1]:45000").is_ok());
        for far in ["192.0.2.1:45000", "[2001:db8::1]:45000", "0.0.0.0:45000"] {
            let error = loopback_addr(far).unwrap_err().to_string();
            assert!(error.contains("not a loopback address"), "{far}: {error}");
        }
        let mut far = plan(Method::Pool);
        far.addr = "192.0.2.1:45000".parse().unwrap();
        assert!(far.check().is_err());
    }

    #[test]
    fn plans_out_of_bounds_are_refused() {
        let bad: [fn(&mut Plan); 7] = [
            |p| p.requests = 0,
            |p| p.requests = MAX_REQUESTS + 1,
            |p| p.concurrency = MAX_CONCURRENCY + 1,
            |p| p.requests_per_connection = 0,
            |p| p.timeout = Duration::ZERO,
            |p| p.duration = Some(Duration::ZERO),
            |p| p.leak_children = true,
        ];
        for (i, spoil) in bad.iter().enumerate() {
            let mut plan = plan(Method::Thread);
            spoil(&mut plan);
            assert!(plan.check().is_err(), "case {i}");
        }
        let mut unbounded_pool = plan(Method::Pool);
        unbounded_pool.concurrency = 0;
        assert!(unbounded_pool.check().is_err());
        let mut unbounded_threads = plan(Method::Thread);
        unbounded_threads.concurrency = 0;
        assert!(unbounded_threads.check().is_ok());
    }

    #[test]
    fn a_child_line_round_trips_and_must_add_up() {
        let mut tally = Tally {
            issued: 2,
            ..Tally::default()
        };
        tally.complete(Duration::from_micros(120));
        tally.fail(1, ErrorKind::Busy, "");
        let line = child_line(&tally);
        assert!(!line.contains('\n'));
        assert_eq!(parse_child_line(&line, 2), Some(tally.clone()));
        assert_eq!(parse_child_line(&line, 3), None);
        assert_eq!(parse_child_line("", 2), None);
        tally.issued = 5;
        assert_eq!(parse_child_line(&child_line(&tally), 5), None);
    }
}
