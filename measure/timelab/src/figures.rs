//! The book's tables and plots, rendered from a sweep's data.
//!
//! `timelab sweep` stores what it measured as JSON ([`crate::results`]); [`render`] turns the
//! four files into the SVG plots and Markdown tables the book includes, and [`write()`] saves
//! them.
//! The book shows the rendered files, committed, so they must not change unless the data does:
//! rendering is pure, and the bytes are the same on every machine. That is why
//!
//! - text in the plots names a generic font family and is laid out by plotters' estimate from its
//!   length (plotters without a font feature), never from the fonts a machine has installed;
//! - every axis is on whole numbers (requests per second, microseconds, category positions), so
//!   the ticks come from integer arithmetic rather than from `log10`, whose last bit may differ
//!   between maths libraries;
//! - numbers in the tables are formatted here, with fixed rules, not by a locale.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::de::DeserializeOwned;

use crate::client::Method;
use crate::measure::{ErrorCounts, ErrorKind, Report};
use crate::model::Model;
use crate::results::{
    FAILURES_FILE, HTTP_FILE, HttpRun, HttpSweep, IDLE_FILE, IdleSweep, LabFailures, Machine,
    TIME_FILE, TimeSweep, WrkErrors,
};

/// The command that renders the figures again, for messages that ask for it.
pub const COMMAND: &str = "cargo run -p poolbook-timelab --bin timelab -- figures";

/// Throughput of each TIME server model under each lab client.
pub const TIME_THROUGHPUT_SVG: &str = "time-throughput.svg";
/// The 99th-percentile latency of each TIME server model under each lab client.
pub const TIME_P99_SVG: &str = "time-p99.svg";
/// The HTTP stages under `wrk`: successful responses per second and p99 latency.
pub const HTTP_SVG: &str = "http.svg";
/// The TIME sweep as tables, one per client.
pub const TIME_MD: &str = "time.md";
/// The HTTP sweep as a table.
pub const HTTP_MD: &str = "http.md";
/// Each of the lab's failures beside its fix, one file per failure: `failures-<id>.md`, so that
/// the book can explain each one between its tables.
pub const FAILURES_MD_PREFIX: &str = "failures-";
/// Each TIME model holding many silent connections.
pub const IDLE_MD: &str = "idle.md";
/// The machines the sweeps ran on.
pub const MACHINE_MD: &str = "machine.md";

/// One rendered file: its name in the output folder and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figure {
    /// The file name: one of this module's `*_SVG` and `*_MD` constants, or
    /// [`FAILURES_MD_PREFIX`], a failure's id and `.md`.
    pub name: String,
    /// The whole file, first line included (which says it is generated).
    pub contents: String,
}

/// Why the figures could not be rendered or written.
#[derive(Debug)]
pub enum FigureError {
    /// A data file is not there: every figure set needs all four.
    Missing {
        /// The file looked for.
        path: PathBuf,
    },
    /// A data file is there but could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// What reading it said.
        source: io::Error,
    },
    /// A data file is not what `timelab sweep` writes (or was written by an older schema).
    Json {
        /// The file.
        path: PathBuf,
        /// serde's account of what did not fit, with its line and column.
        source: serde_json::Error,
    },
    /// plotters could not draw a plot. Drawing into a string has no I/O to fail, so this means
    /// a bug in the drawing code rather than in the data.
    Plot {
        /// The plot's file name.
        figure: &'static str,
        /// plotters' message.
        message: String,
    },
    /// A rendered file could not be written.
    Write {
        /// The file.
        path: PathBuf,
        /// What writing it said.
        source: io::Error,
    },
}

impl fmt::Display for FigureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FigureError::Missing { path } => write!(
                f,
                "{} is missing: the figures need {TIME_FILE}, {HTTP_FILE}, {FAILURES_FILE} and \
                 {IDLE_FILE}, which `timelab sweep` writes",
                path.display()
            ),
            FigureError::Read { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            FigureError::Json { path, source } => write!(
                f,
                "{} is not sweep data as this timelab reads it: {source}",
                path.display()
            ),
            FigureError::Plot { figure, message } => {
                write!(f, "cannot draw {figure}: {message}")
            }
            FigureError::Write { path, source } => {
                write!(f, "cannot write {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for FigureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FigureError::Missing { .. } | FigureError::Plot { .. } => None,
            FigureError::Read { source, .. } | FigureError::Write { source, .. } => Some(source),
            FigureError::Json { source, .. } => Some(source),
        }
    }
}

/// The data every figure is rendered from: the four files a full sweep writes.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    /// `time.json`.
    pub time: TimeSweep,
    /// `http.json`.
    pub http: HttpSweep,
    /// `failures.json`.
    pub failures: LabFailures,
    /// `idle.json`.
    pub idle: IdleSweep,
}

/// Reads `time.json`, `http.json`, `failures.json` and `idle.json` from `data_dir` and renders
/// every figure, without writing anything.
pub fn render(data_dir: &Path) -> Result<Vec<Figure>, FigureError> {
    let data = Data {
        time: load(&data_dir.join(TIME_FILE))?,
        http: load(&data_dir.join(HTTP_FILE))?,
        failures: load(&data_dir.join(FAILURES_FILE))?,
        idle: load(&data_dir.join(IDLE_FILE))?,
    };
    render_sweeps(&data)
}

/// Renders every figure from sweeps already read: the plots first, then the tables.
pub fn render_sweeps(data: &Data) -> Result<Vec<Figure>, FigureError> {
    let Data {
        time,
        http,
        failures,
        idle,
    } = data;
    let mut figures = vec![
        Figure {
            name: TIME_THROUGHPUT_SVG.to_owned(),
            contents: time_plot(time, TimeMetric::Throughput)?,
        },
        Figure {
            name: TIME_P99_SVG.to_owned(),
            contents: time_plot(time, TimeMetric::P99)?,
        },
        Figure {
            name: HTTP_SVG.to_owned(),
            contents: http_plot(http)?,
        },
        Figure {
            name: TIME_MD.to_owned(),
            contents: time_tables(time),
        },
        Figure {
            name: HTTP_MD.to_owned(),
            contents: http_table(http),
        },
        Figure {
            name: IDLE_MD.to_owned(),
            contents: idle_table(idle),
        },
        Figure {
            name: MACHINE_MD.to_owned(),
            contents: machine_table(data),
        },
    ];
    figures.extend(failure_tables(failures));
    Ok(figures)
}

/// Renders the figures from the data in `data_dir` and writes them into `out_dir` (made if
/// missing), returning the paths written. Nothing is written unless every figure rendered.
pub fn write(data_dir: &Path, out_dir: &Path) -> Result<Vec<PathBuf>, FigureError> {
    let figures = render(data_dir)?;
    fs::create_dir_all(out_dir).map_err(|source| FigureError::Write {
        path: out_dir.to_owned(),
        source,
    })?;
    let mut written = Vec::with_capacity(figures.len());
    for figure in figures {
        let path = out_dir.join(&figure.name);
        fs::write(&path, figure.contents).map_err(|source| FigureError::Write {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

fn load<T: DeserializeOwned>(path: &Path) -> Result<T, FigureError> {
    let text = fs::read_to_string(path).map_err(|source| {
        if source.kind() == io::ErrorKind::NotFound {
            FigureError::Missing {
                path: path.to_owned(),
            }
        } else {
            FigureError::Read {
                path: path.to_owned(),
                source,
            }
        }
    })?;
    serde_json::from_str(&text).map_err(|source| FigureError::Json {
        path: path.to_owned(),
        source,
    })
}

// The first line of every file. No `--` in it: an XML comment may not contain one.
fn generated_note(sources: &str) -> String {
    format!(
        "<!-- Generated by `timelab figures` from {sources}: do not edit by hand. Change the \
         data or measure/timelab/src/figures.rs, then run `timelab figures` again. -->\n"
    )
}

// ---------------------------------------------------------------------------------------------
// Numbers

/// `digits` (an optional `-`, then ASCII digits, then maybe a fraction) with a comma between
/// each group of three digits of the integer part.
fn group_thousands(digits: &str) -> String {
    let (sign, unsigned) = match digits.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", digits),
    };
    let (integer, fraction) = match unsigned.find('.') {
        Some(dot) => unsigned.split_at(dot),
        None => (unsigned, ""),
    };
    let mut grouped = String::with_capacity(integer.len() + integer.len() / 3);
    for (i, digit) in integer.chars().enumerate() {
        if i > 0 && (integer.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{sign}{grouped}{fraction}")
}

/// A count: `13,377`.
pub(crate) fn count(n: u64) -> String {
    group_thousands(&n.to_string())
}

/// `value` with `decimals` decimals and thousands separators. Rust rounds to the nearest
/// representable decimal (ties to even), the same on every machine.
fn decimal(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return "-".to_owned();
    }
    let text = format!("{value:.decimals$}");
    // `-0` would be a rounding artefact, not a number anyone measured.
    let text = match text.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_owned(),
        _ => text,
    };
    group_thousands(&text)
}

/// A rate per second: whole numbers, but one decimal below 10, where a whole number would hide
/// the difference between 0.4 and nothing.
fn rate(per_s: f64) -> String {
    decimal(per_s, if per_s < 10.0 { 1 } else { 0 })
}

/// A latency in microseconds, in milliseconds with three decimals below 1 ms and one fewer for
/// each power of ten above, down to none: loopback replies take tens of microseconds, and SYN
/// retries take seconds, in the same table.
fn millis(us: f64) -> String {
    let ms = us / 1000.0;
    let decimals = if ms < 1.0 {
        3
    } else if ms < 10.0 {
        2
    } else if ms < 100.0 {
        1
    } else {
        0
    };
    decimal(ms, decimals)
}

/// `value / base` as `1.62×`, or `-` when there is no baseline to divide by.
fn ratio(value: f64, base: f64) -> String {
    if base > 0.0 && value.is_finite() && base.is_finite() {
        format!("{}×", decimal(value / base, 2))
    } else {
        "-".to_owned()
    }
}

/// A duration in seconds: whole if it is, else with one decimal.
fn seconds(s: f64) -> String {
    decimal(s, if s.fract() == 0.0 { 0 } else { 1 })
}

/// An optional figure, `-` when it could not be measured.
fn maybe(value: Option<u64>) -> String {
    value.map_or_else(|| "-".to_owned(), count)
}

/// Failed requests, with the ones the server refused as busy noted: those were turned away on
/// purpose, the others were lost.
fn failed(errors: &ErrorCounts) -> String {
    let total = errors.total();
    match errors.busy {
        0 => count(total),
        busy => format!("{} ({} busy)", count(total), count(busy)),
    }
}

/// The non-zero error kinds, in [`ErrorKind::ALL`] order: `12 reset, 3
/// refused`, or `none`.
fn error_kinds(errors: &ErrorCounts) -> String {
    let kinds: Vec<String> = ErrorKind::ALL
        .iter()
        .filter(|&&kind| errors.get(kind) > 0)
        .map(|&kind| format!("{} {}", count(errors.get(kind)), kind.label()))
        .collect();
    if kinds.is_empty() {
        "none".to_owned()
    } else {
        kinds.join(", ")
    }
}

/// wrk's socket errors: the sum, and the kinds that happened.
fn socket_errors(errors: &WrkErrors) -> String {
    let kinds: Vec<String> = [
        ("connect", errors.connect),
        ("read", errors.read),
        ("write", errors.write),
        ("timeout", errors.timeout),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(kind, n)| format!("{} {kind}", count(*n)))
    .collect();
    let total = errors.connect + errors.read + errors.write + errors.timeout;
    if kinds.is_empty() {
        "0".to_owned()
    } else {
        format!("{} ({})", count(total), kinds.join(", "))
    }
}

// ---------------------------------------------------------------------------------------------
// Markdown

#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
}

/// A GitHub pipe table. Cells are escaped: data such as a run's setup is free text.
fn table(header: &[(&str, Align)], rows: &[Vec<String>]) -> String {
    let line = |cells: &mut dyn Iterator<Item = String>| {
        let mut out = String::from("|");
        for cell in cells {
            out.push(' ');
            out.push_str(&cell);
            out.push_str(" |");
        }
        out.push('\n');
        out
    };
    let mut out = line(&mut header.iter().map(|(name, _)| escape(name)));
    out.push_str(&line(&mut header.iter().map(|(_, align)| {
        match align {
            Align::Left => ":--",
            Align::Right => "--:",
        }
        .to_owned()
    })));
    for row in rows {
        out.push_str(&line(&mut row.iter().map(|cell| escape(cell))));
    }
    out
}

/// A cell's text, safe in a pipe table: a `|` would end the cell, a `<` might open HTML.
fn escape(text: &str) -> String {
    text.replace('|', "\\|").replace('<', "&lt;")
}

fn client_title(method: Method) -> &'static str {
    match method {
        Method::Thread => "a thread per connection",
        Method::Pool => "a pool of threads",
        Method::Process => "a process per connection",
    }
}

/// The clients, in the order the lab wrote them and the plots show them.
const METHODS: [Method; 3] = [Method::Thread, Method::Pool, Method::Process];

/// The model the others are compared with: the lab's own server.
const BASELINE: Model = Model::Threads;

/// The distinct values of `values`, ascending.
fn distinct(values: impl Iterator<Item = usize>) -> Vec<usize> {
    let mut values: Vec<usize> = values.collect();
    values.sort_unstable();
    values.dedup();
    values
}

/// A concurrency as the tables and axes show it; the client takes 0 as "no limit".
fn concurrency_label(concurrency: usize) -> String {
    match concurrency {
        0 => "no limit".to_owned(),
        n => count(n as u64),
    }
}

/// The first run of a cell: the sweep makes one, and a repeated cell must not be counted twice.
fn time_report(
    time: &TimeSweep,
    model: Model,
    method: Method,
    concurrency: usize,
) -> Option<&Report> {
    time.runs
        .iter()
        .find(|run| run.model == model && run.method == method && run.concurrency == concurrency)
        .map(|run| &run.report)
}

fn time_tables(time: &TimeSweep) -> String {
    let mut out = generated_note(TIME_FILE);
    let settings = &time.settings;
    let per_connection = match settings.requests_per_connection {
        1 => "1 request per connection".to_owned(),
        n => format!("{} requests per connection", count(n)),
    };
    out.push_str(&format!(
        "\nEach run: at most {} requests or {} s, {per_connection}, a {} ms timeout; servers with \
         {} workers, {} waiting connections at most, and a backlog of {}. \"vs lab\" divides \
         requests per second by those of the lab's own server ({}) under the same client and \
         concurrency.\n",
        count(settings.max_requests),
        seconds(settings.duration_s),
        count(settings.timeout_ms),
        count(settings.server_workers as u64),
        count(settings.server_waiting as u64),
        settings.backlog,
        BASELINE.label(),
    ));
    let concurrencies = distinct(time.runs.iter().map(|run| run.concurrency));
    let header = [
        ("concurrency", Align::Right),
        ("server", Align::Left),
        ("requests/s", Align::Right),
        ("vs lab", Align::Right),
        ("p99 ms", Align::Right),
        ("failed", Align::Right),
    ];
    for method in METHODS {
        let mut rows = Vec::new();
        for &concurrency in &concurrencies {
            let baseline = time_report(time, BASELINE, method, concurrency);
            for model in Model::ALL {
                let Some(report) = time_report(time, model, method, concurrency) else {
                    continue;
                };
                rows.push(vec![
                    concurrency_label(concurrency),
                    model.label().to_owned(),
                    rate(report.throughput_per_s),
                    baseline.map_or_else(
                        || "-".to_owned(),
                        |base| ratio(report.throughput_per_s, base.throughput_per_s),
                    ),
                    report
                        .latency
                        .map_or_else(|| "-".to_owned(), |l| millis(l.p99_us as f64)),
                    failed(&report.errors),
                ]);
            }
        }
        if rows.is_empty() {
            continue;
        }
        out.push_str(&format!("\n#### Client: {}\n\n", client_title(method)));
        out.push_str(&table(&header, &rows));
    }
    out
}

fn http_run<'a>(http: &'a HttpSweep, server: &str, connections: usize) -> Option<&'a HttpRun> {
    http.runs
        .iter()
        .find(|run| run.server == server && run.connections == connections)
}

fn http_table(http: &HttpSweep) -> String {
    let mut out = generated_note(HTTP_FILE);
    let settings = &http.settings;
    out.push_str(&format!(
        "\n`{}`, {} threads, {} s per run, `GET {}`; servers with a backlog of {}.",
        settings.wrk_version,
        count(settings.wrk_threads as u64),
        count(settings.duration_s),
        settings.path,
        settings.backlog,
    ));
    if let Some(baseline) = http.servers.first() {
        out.push_str(&format!(
            " \"vs {}\" divides successful responses per second by {}'s at the same connections.",
            baseline.name, baseline.name
        ));
    }
    out.push_str("\n\n");
    for server in &http.servers {
        out.push_str(&format!("- {}: {}\n", server.name, server.description));
    }
    out.push('\n');
    let baseline_name = http.servers.first().map(|server| server.name.as_str());
    let ratio_header = match baseline_name {
        Some(name) => format!("vs {name}"),
        None => "vs baseline".to_owned(),
    };
    let header = [
        ("connections", Align::Right),
        ("server", Align::Left),
        ("ok/s", Align::Right),
        (ratio_header.as_str(), Align::Right),
        ("non-2xx", Align::Right),
        ("p50 ms", Align::Right),
        ("p99 ms", Align::Right),
        ("socket errors", Align::Right),
        ("listen overflows", Align::Right),
        ("SYNs resent", Align::Right),
        ("threads", Align::Right),
        ("descriptors", Align::Right),
    ];
    let mut rows = Vec::new();
    for connections in distinct(http.runs.iter().map(|run| run.connections)) {
        let baseline = baseline_name.and_then(|name| http_run(http, name, connections));
        for server in &http.servers {
            let Some(run) = http_run(http, &server.name, connections) else {
                continue;
            };
            let result = &run.result;
            rows.push(vec![
                count(connections as u64),
                server.name.clone(),
                rate(result.ok_per_s()),
                baseline.map_or_else(
                    || "-".to_owned(),
                    |base| ratio(result.ok_per_s(), base.result.ok_per_s()),
                ),
                count(result.non_2xx),
                millis(result.latency.p50_us),
                millis(result.latency.p99_us),
                socket_errors(&result.errors),
                maybe(run.handshakes.map(|h| h.listen_overflows)),
                maybe(run.handshakes.map(|h| h.syns_resent)),
                maybe(run.server_usage.peak_threads),
                maybe(run.server_usage.peak_descriptors),
            ]);
        }
    }
    out.push_str(&table(&header, &rows));
    out.push_str(
        "\nThreads and descriptors: the server process's peaks during the run. Listen overflows \
         and SYNs resent: the kernel's counts of handshakes that found the accept queue full, and \
         of handshake packets sent again a second or more later, during the run \
         (`/proc/net/netstat`, the whole machine's, on which nothing else ran).\n",
    );
    out
}

/// One table per failure, in order of appearance, each in a file of its own.
fn failure_tables(failures: &LabFailures) -> Vec<Figure> {
    let mut figures = Vec::new();
    let mut ids: Vec<&str> = Vec::new();
    for run in &failures.runs {
        if !ids.contains(&run.failure.as_str()) {
            ids.push(&run.failure);
        }
    }
    let header = [
        ("run", Align::Left),
        ("setup", Align::Left),
        ("completed / issued", Align::Right),
        ("errors", Align::Left),
        ("requests/s", Align::Right),
        ("client descriptors", Align::Right),
        ("descriptor limit", Align::Right),
        ("server", Align::Left),
    ];
    for id in ids {
        let rows: Vec<Vec<String>> = failures
            .runs
            .iter()
            .filter(|run| run.failure == id)
            .map(|run| {
                let report = &run.report;
                vec![
                    if run.fixed { "fixed" } else { "failing" }.to_owned(),
                    run.setup.clone(),
                    format!("{} / {}", count(report.completed), count(report.issued)),
                    error_kinds(&report.errors),
                    rate(report.throughput_per_s),
                    maybe(report.client.peak_descriptors),
                    maybe(run.client_open_files_limit.or(report.open_files_limit)),
                    format!("{}, backlog {}", run.model.label(), run.backlog),
                ]
            })
            .collect();
        let mut out = generated_note(&format!("the `{id}` runs of {FAILURES_FILE}"));
        out.push('\n');
        out.push_str(&table(&header, &rows));
        figures.push(Figure {
            name: format!("{FAILURES_MD_PREFIX}{id}.md"),
            contents: out,
        });
    }
    figures
}

fn idle_table(idle: &IdleSweep) -> String {
    let mut out = generated_note(IDLE_FILE);
    let held = idle.runs.first().map_or(0, |run| run.held);
    out.push_str(&format!(
        "\n{} silent connections held (the servers' idle timeout: {} s), then a client of {} \
         pool workers for {} s, a new connection per request, each with a {} ms timeout.\n\n",
        count(held as u64),
        count(idle.idle_timeout_s),
        count(idle.client_workers as u64),
        seconds(idle.client_duration_s),
        count(idle.client_timeout_ms),
    ));
    let header = [
        ("server", Align::Left),
        ("still open", Align::Right),
        ("threads", Align::Right),
        ("descriptors", Align::Right),
        ("memory (MiB)", Align::Right),
        ("answered / issued", Align::Right),
        ("requests/s", Align::Right),
        ("p99 ms", Align::Right),
        ("failed", Align::Left),
    ];
    let rows: Vec<Vec<String>> = idle
        .runs
        .iter()
        .map(|run| {
            let report = &run.report;
            vec![
                run.model.label().to_owned(),
                format!(
                    "{} / {}",
                    count(run.still_open as u64),
                    count(run.held as u64)
                ),
                maybe(run.server_threads),
                maybe(run.server_descriptors),
                run.server_rss_kib
                    .map_or_else(|| "-".to_owned(), |kib| decimal(kib as f64 / 1024.0, 1)),
                format!("{} / {}", count(report.completed), count(report.issued)),
                rate(report.throughput_per_s),
                report
                    .latency
                    .map_or_else(|| "-".to_owned(), |l| millis(l.p99_us as f64)),
                error_kinds(&report.errors),
            ]
        })
        .collect();
    out.push_str(&table(&header, &rows));
    out.push_str(
        "\nThreads, descriptors and memory (resident): the server's, while holding the silent \
         connections, before the client started.\n",
    );
    out
}

/// `net.ipv4.tcp_tw_reuse`'s value, with what it means.
fn tw_reuse(value: u64) -> String {
    match value {
        0 => "0 (off)".to_owned(),
        1 => "1 (on)".to_owned(),
        2 => "2 (loopback only)".to_owned(),
        other => other.to_string(),
    }
}

fn machine_rows(machine: &Machine) -> Vec<String> {
    vec![
        count(machine.cpus as u64),
        machine.kernel.clone().unwrap_or_else(|| "-".to_owned()),
        maybe(machine.open_files_limit),
        maybe(machine.threads_max),
        maybe(machine.somaxconn),
        machine
            .tcp_tw_reuse
            .map_or_else(|| "-".to_owned(), tw_reuse),
        maybe(machine.tcp_synack_retries),
        // The kernel separates the two ends with a tab, which a table would show as a space.
        machine.ip_local_port_range.as_deref().map_or_else(
            || "-".to_owned(),
            |range| range.split_whitespace().collect::<Vec<_>>().join("–"),
        ),
        machine.timelab_version.clone(),
    ]
}

const MACHINE_FIELDS: [&str; 9] = [
    "logical CPUs",
    "kernel",
    "open descriptors per process (`ulimit -n`)",
    "threads in the system (`kernel.threads-max`)",
    "accept backlog cap (`net.core.somaxconn`)",
    "reuse of TIME_WAIT ports (`net.ipv4.tcp_tw_reuse`)",
    "SYN-ACK retries (`net.ipv4.tcp_synack_retries`)",
    "client ports (`net.ipv4.ip_local_port_range`)",
    "timelab version",
];

fn machine_table(data: &Data) -> String {
    let mut out = generated_note(&format!(
        "{TIME_FILE}, {HTTP_FILE}, {FAILURES_FILE} and {IDLE_FILE}"
    ));
    // Each distinct machine once, with the files measured on it, in the order of the files.
    let mut machines: Vec<(&Machine, Vec<&str>)> = Vec::new();
    for (machine, file) in [
        (&data.time.machine, TIME_FILE),
        (&data.http.machine, HTTP_FILE),
        (&data.failures.machine, FAILURES_FILE),
        (&data.idle.machine, IDLE_FILE),
    ] {
        match machines.iter_mut().find(|(seen, _)| *seen == machine) {
            Some((_, files)) => files.push(file),
            None => machines.push((machine, vec![file])),
        }
    }
    let headers: Vec<String> = if machines.len() == 1 {
        vec!["value".to_owned()]
    } else {
        machines
            .iter()
            .map(|(_, files)| {
                let files: Vec<String> = files.iter().map(|file| format!("`{file}`")).collect();
                files.join(", ")
            })
            .collect()
    };
    if machines.len() > 1 {
        out.push_str("\nThe sweeps ran on different machines, or under different settings.\n");
    }
    out.push('\n');
    let mut header = vec![("", Align::Left)];
    header.extend(headers.iter().map(|name| (name.as_str(), Align::Right)));
    let columns: Vec<Vec<String>> = machines
        .iter()
        .map(|(machine, _)| machine_rows(machine))
        .collect();
    let rows: Vec<Vec<String>> = MACHINE_FIELDS
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let mut row = vec![(*field).to_owned()];
            row.extend(columns.iter().map(|column| column[i].clone()));
            row
        })
        .collect();
    out.push_str(&table(&header, &rows));
    out
}

// ---------------------------------------------------------------------------------------------
// Plots

// Sizes in pixels. mdBook's text column is about 750 pixels wide, so a three-panel plot is shown
// at about nine tenths of its size: the fonts are chosen to stay legible there. (plotters writes
// a size of n as a CSS font size of n / 1.24.)
const PANEL_WIDTH: u32 = 280;
const TITLE_HEIGHT: u32 = 40;
const CHART_HEIGHT: u32 = 320;
const LEGEND_ROW_HEIGHT: u32 = 26;
const TITLE_FONT: u32 = 22;
const CAPTION_FONT: u32 = 19;
const AXIS_FONT: u32 = 17;
const TICK_FONT: u32 = 16;
const LEGEND_FONT: u32 = 17;
const FONT: FontFamily<'static> = FontFamily::SansSerif;

/// Okabe and Ito's colours, told apart by most colour-blind readers; each line also has its own
/// marker, and every other line is dashed, so the plot reads in grey too.
const COLOURS: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum TimeMetric {
    Throughput,
    P99,
}

/// What a plot's y values are: the unit they are stored in decides how ticks are labelled.
#[derive(Clone, Copy)]
enum Unit {
    /// A count, or a rate rounded to whole units.
    Count,
    /// Microseconds, labelled in milliseconds.
    MicrosAsMillis,
}

impl Unit {
    fn tick(self, value: u64) -> String {
        match self {
            Unit::Count => count(value),
            Unit::MicrosAsMillis => {
                // Ticks are round numbers of microseconds: show as few decimals as they need.
                let text = group_thousands(&format!("{}.{:03}", value / 1000, value % 1000));
                text.trim_end_matches('0').trim_end_matches('.').to_owned()
            }
        }
    }
}

/// One line: a value, or none, at each x category.
struct Line {
    values: Vec<Option<u64>>,
}

struct Panel {
    title: String,
    y_desc: &'static str,
    unit: Unit,
    /// One per legend entry, in the legend's order, so a line keeps its style in every panel.
    lines: Vec<Line>,
}

struct Plot {
    name: &'static str,
    source: &'static str,
    title: String,
    x_desc: &'static str,
    x_labels: Vec<String>,
    legend: Vec<String>,
    panels: Vec<Panel>,
}

/// A rate as a whole number: plotted on an integer axis, whose ticks need no floating point.
fn whole(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 {
        value.round() as u64
    } else {
        0
    }
}

fn time_plot(time: &TimeSweep, metric: TimeMetric) -> Result<String, FigureError> {
    let concurrencies = distinct(time.runs.iter().map(|run| run.concurrency));
    let (name, title, y_desc, unit) = match metric {
        TimeMetric::Throughput => (
            TIME_THROUGHPUT_SVG,
            "Completed requests per second: a panel per client, a line per TIME server",
            "completed requests per second",
            Unit::Count,
        ),
        TimeMetric::P99 => (
            TIME_P99_SVG,
            "99th-percentile latency: a panel per client, a line per TIME server",
            "p99 latency (ms)",
            Unit::MicrosAsMillis,
        ),
    };
    let panels = METHODS
        .iter()
        .map(|&method| Panel {
            title: format!("client: {}", client_title(method)),
            y_desc,
            unit,
            lines: Model::ALL
                .iter()
                .map(|&model| Line {
                    values: concurrencies
                        .iter()
                        .map(|&concurrency| {
                            let report = time_report(time, model, method, concurrency)?;
                            match metric {
                                TimeMetric::Throughput => Some(whole(report.throughput_per_s)),
                                TimeMetric::P99 => report.latency.map(|l| l.p99_us),
                            }
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    draw(&Plot {
        name,
        source: TIME_FILE,
        title: title.to_owned(),
        x_desc: "connections at once",
        x_labels: concurrencies
            .iter()
            .map(|&c| concurrency_label(c))
            .collect(),
        legend: Model::ALL
            .iter()
            .map(|model| model.label().to_owned())
            .collect(),
        panels,
    })
}

fn http_plot(http: &HttpSweep) -> Result<String, FigureError> {
    let connections = distinct(http.runs.iter().map(|run| run.connections));
    let panel = |title: &str, y_desc, unit, value: fn(&HttpRun) -> u64| Panel {
        title: title.to_owned(),
        y_desc,
        unit,
        lines: http
            .servers
            .iter()
            .map(|server| Line {
                values: connections
                    .iter()
                    .map(|&c| http_run(http, &server.name, c).map(value))
                    .collect(),
            })
            .collect(),
    };
    draw(&Plot {
        name: HTTP_SVG,
        source: HTTP_FILE,
        title: "HTTP servers under wrk: a line per server".to_owned(),
        x_desc: "open connections (wrk -c)",
        x_labels: connections.iter().map(|&c| count(c as u64)).collect(),
        legend: http
            .servers
            .iter()
            .map(|server| format!("{}: {}", server.name, server.description))
            .collect(),
        panels: vec![
            panel(
                "successful responses per second",
                "responses per second",
                Unit::Count,
                |run| whole(run.result.ok_per_s()),
            ),
            panel(
                "p99 latency (ms)",
                "p99 latency (ms)",
                Unit::MicrosAsMillis,
                |run| whole(run.result.latency.p99_us),
            ),
        ],
    })
}

/// The smallest 1, 2 or 5 times a power of ten at or above `value`, at least 1: an axis that
/// ends on a round tick.
fn nice_ceiling(value: u64) -> u64 {
    let mut power: u64 = 1;
    loop {
        for step in [1, 2, 5] {
            let candidate = step * power;
            if candidate >= value {
                return candidate;
            }
        }
        match power.checked_mul(10) {
            Some(next) => power = next,
            None => return u64::MAX,
        }
    }
}

/// A generous estimate of how wide `text` is drawn at plotters size `size`: the browser picks
/// the font, so the legend is laid out for a wide sans-serif one (about 0.55 em a character).
fn text_width(text: &str, size: u32) -> i32 {
    let css_px = f64::from(size) / 1.24;
    (css_px * 0.55 * text.chars().count() as f64).ceil() as i32
}

/// The legend's sample line, its gap to the label, and the space between two columns.
const LEGEND_SAMPLE: i32 = 32;
const LEGEND_GAP: i32 = 8;
const LEGEND_SPACING: i32 = 24;

/// Where each legend entry goes: `(column's x, row)`, entry by entry. The entries fill a grid
/// of equal columns, as many as fit in `width`, balanced so the last row is not left with one.
fn legend_layout(labels: &[String], width: u32) -> Vec<(i32, usize)> {
    let column = labels
        .iter()
        .map(|label| LEGEND_SAMPLE + LEGEND_GAP + text_width(label, LEGEND_FONT) + LEGEND_SPACING)
        .max()
        .unwrap_or(1);
    let room = width as i32 - 2 * 16 + LEGEND_SPACING;
    let fit = usize::try_from(room / column)
        .unwrap_or(0)
        .clamp(1, labels.len().max(1));
    let rows = labels.len().div_ceil(fit);
    let columns = labels.len().div_ceil(rows.max(1)).max(1);
    let used = columns as i32 * column - LEGEND_SPACING;
    let left = ((width as i32 - used) / 2).max(16);
    (0..labels.len())
        .map(|i| (left + (i % columns) as i32 * column, i / columns))
        .collect()
}

fn plot_error(figure: &'static str) -> impl Fn(&dyn fmt::Display) -> FigureError {
    move |error| FigureError::Plot {
        figure,
        message: error.to_string(),
    }
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

fn draw(plot: &Plot) -> Result<String, FigureError> {
    let fail = plot_error(plot.name);
    let width = PANEL_WIDTH * plot.panels.len().max(1) as u32;
    let legend = legend_layout(&plot.legend, width);
    let legend_rows = legend.iter().map(|&(_, row)| row + 1).max().unwrap_or(0);
    let height = TITLE_HEIGHT + CHART_HEIGHT + LEGEND_ROW_HEIGHT * legend_rows as u32 + 8;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(&e))?;
        root.draw(&Text::new(
            plot.title.clone(),
            (width as i32 / 2, TITLE_HEIGHT as i32 / 2 + 2),
            TextStyle::from((FONT, TITLE_FONT))
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Center)),
        ))
        .map_err(|e| fail(&e))?;
        let (_, below_title) = root.split_vertically(TITLE_HEIGHT);
        let (charts, _) = below_title.split_vertically(CHART_HEIGHT);
        let areas = charts.split_evenly((1, plot.panels.len().max(1)));
        for (area, panel) in areas.iter().zip(&plot.panels) {
            draw_panel(&root, area, plot, panel)?;
        }
        for (i, &(x, row)) in legend.iter().enumerate() {
            let y = (TITLE_HEIGHT + CHART_HEIGHT + LEGEND_ROW_HEIGHT * row as u32) as i32
                + LEGEND_ROW_HEIGHT as i32 / 2;
            draw_line(&root, &[(x, y), (x + LEGEND_SAMPLE, y)], i).map_err(|e| fail(&e))?;
            draw_marker(&root, (x + LEGEND_SAMPLE / 2, y), i).map_err(|e| fail(&e))?;
            root.draw(&Text::new(
                plot.legend[i].clone(),
                (x + LEGEND_SAMPLE + LEGEND_GAP, y),
                TextStyle::from((FONT, LEGEND_FONT))
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(|e| fail(&e))?;
        }
        root.present().map_err(|e| fail(&e))?;
    }
    Ok(with_note(&svg, plot.source))
}

/// The SVG with the generated-file note as a comment just inside its root element, where every
/// SVG reader accepts one.
fn with_note(svg: &str, source: &str) -> String {
    let note = generated_note(source);
    match svg
        .find("<svg")
        .and_then(|start| svg[start..].find('>').map(|end| start + end + 1))
    {
        Some(end) => format!("{}\n{}{}", &svg[..end], note.trim_end(), &svg[end..]),
        None => format!("{note}{svg}"),
    }
}

fn draw_panel(
    root: &Area<'_>,
    area: &Area<'_>,
    plot: &Plot,
    panel: &Panel,
) -> Result<(), FigureError> {
    let fail = plot_error(plot.name);
    // At least one category, so an empty sweep still draws an (empty) axis.
    let categories = plot.x_labels.len().max(1);
    let top = panel
        .lines
        .iter()
        .flat_map(|line| line.values.iter().flatten())
        .max()
        .copied()
        .unwrap_or(0);
    // Headroom of a twentieth, so the highest point is not drawn on the frame.
    let y_top = nice_ceiling(top + top / 20);
    // The title is drawn here rather than as plotters' caption, which leaves no room between
    // itself and the top tick label; the chart's margin below is that room.
    let area = area
        .titled(&panel.title, (FONT, CAPTION_FONT))
        .map_err(|e| fail(&e))?;
    let mut chart = ChartBuilder::on(&area)
        .margin(10)
        .x_label_area_size(48)
        .y_label_area_size(76)
        .build_cartesian_2d((0..categories - 1).into_segmented(), 0..y_top)
        .map_err(|e| fail(&e))?;
    let x_label = |value: &SegmentValue<usize>| match value {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
            plot.x_labels.get(*i).cloned().unwrap_or_default()
        }
        SegmentValue::Last => String::new(),
    };
    let y_label = |value: &u64| panel.unit.tick(*value);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(categories)
        .y_labels(6)
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .x_desc(plot.x_desc)
        .y_desc(panel.y_desc)
        .label_style((FONT, TICK_FONT))
        .axis_desc_style((FONT, AXIS_FONT))
        // No lines between the ticks (an invisible style is left out of the SVG): the ticks'
        // own lines are grid enough.
        .light_line_style(TRANSPARENT)
        .bold_line_style(RGBColor(220, 220, 220))
        .draw()
        .map_err(|e| fail(&e))?;
    for (i, line) in panel.lines.iter().enumerate() {
        let points: Vec<Option<(i32, i32)>> = line
            .values
            .iter()
            .enumerate()
            .map(|(x, y)| y.map(|y| chart.backend_coord(&(SegmentValue::CenterOf(x), y))))
            .collect();
        // A missing value breaks the line: joining its neighbours would draw data no one measured.
        for run in points.split(Option::is_none) {
            let run: Vec<(i32, i32)> = run.iter().flatten().copied().collect();
            if run.len() > 1 {
                draw_line(root, &run, i).map_err(|e| fail(&e))?;
            }
        }
        for point in points.iter().flatten() {
            draw_marker(root, *point, i).map_err(|e| fail(&e))?;
        }
    }
    Ok(())
}

fn colour(style: usize) -> RGBColor {
    COLOURS[style % COLOURS.len()]
}

/// A line through `points` (pixels), solid or dashed by its style.
fn draw_line(
    root: &Area<'_>,
    points: &[(i32, i32)],
    style: usize,
) -> Result<(), DrawingAreaErrorKind<io::Error>> {
    let stroke = colour(style).stroke_width(2);
    if style.is_multiple_of(2) {
        root.draw(&PathElement::new(points.to_vec(), stroke))
    } else {
        root.draw(&DashedPathElement::new(
            points.iter().copied(),
            6,
            4,
            stroke,
        ))
    }
}

/// The marker of a line's style at `at` (pixels): circle, triangle, square or cross.
fn draw_marker(
    root: &Area<'_>,
    at: (i32, i32),
    style: usize,
) -> Result<(), DrawingAreaErrorKind<io::Error>> {
    let fill = colour(style).filled();
    match style % 4 {
        0 => root.draw(&Circle::new(at, 4, fill)),
        1 => root.draw(&TriangleMarker::new(at, 6, fill)),
        2 => root.draw(&Rectangle::new(
            [(at.0 - 4, at.1 - 4), (at.0 + 4, at.1 + 4)],
            fill,
        )),
        _ => root.draw(&Cross::new(at, 5, colour(style).stroke_width(3))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Latency;
    use crate::probe::{Handshakes, Usage};
    use crate::results::{
        FailureRun, HttpServer, HttpSettings, IdleRun, TimeRun, TimeSettings, WrkLatency, WrkResult,
    };

    fn machine() -> Machine {
        Machine {
            cpus: 2,
            kernel: Some("6.1.0-test".to_owned()),
            open_files_limit: Some(1_048_576),
            threads_max: Some(127_541),
            somaxconn: Some(4096),
            tcp_tw_reuse: Some(2),
            tcp_synack_retries: Some(5),
            ip_local_port_range: Some("32768\t60999".to_owned()),
            timelab_version: "0.1.0".to_owned(),
        }
    }

    fn report(method: Method, concurrency: usize, throughput: f64, p99_us: Option<u64>) -> Report {
        Report {
            method,
            addr: "127.0.0.1:45000".parse().unwrap(),
            concurrency,
            requests_per_connection: 1,
            leak_children: false,
            planned: 10_000,
            issued: 10_000,
            completed: 10_000,
            errors: ErrorCounts::default(),
            first_other: None,
            stopped_by_duration: false,
            wall_s: 1.0,
            throughput_per_s: throughput,
            latency: p99_us.map(|p99_us| Latency {
                samples: 10_000,
                p50_us: p99_us / 4,
                p90_us: p99_us / 2,
                p99_us,
                max_us: p99_us * 2,
            }),
            peak_in_flight: concurrency,
            client: Usage {
                peak_threads: Some(concurrency as u64 + 1),
                peak_descriptors: Some(concurrency as u64 + 4),
            },
            server: None,
            open_files_limit: Some(1024),
        }
    }

    /// Throughput: the model's base times the method's factor, plus the concurrency, so each
    /// cell has its own number. The thread-per-connection server has no latency at 1000 under the
    /// process client (nothing completed there).
    fn time_sweep() -> TimeSweep {
        let mut runs = Vec::new();
        for (model, base) in [
            (Model::Threads, 10_000.0),
            (Model::Pool, 16_200.0),
            (Model::TokioCurrent, 20_000.0),
            (Model::TokioMulti, 25_000.0),
        ] {
            for (method, factor) in [
                (Method::Thread, 1.0),
                (Method::Pool, 1.5),
                (Method::Process, 0.1),
            ] {
                for concurrency in [10, 100, 1000] {
                    let p99 = if model == Model::Threads
                        && method == Method::Process
                        && concurrency == 1000
                    {
                        None
                    } else {
                        Some(150 + concurrency as u64 * 3)
                    };
                    let mut report =
                        report(method, concurrency, base * factor + concurrency as f64, p99);
                    if model == Model::Pool && concurrency == 1000 {
                        report.errors.busy = 12;
                        report.errors.reset = 3;
                    }
                    runs.push(TimeRun {
                        model,
                        method,
                        concurrency,
                        report,
                    });
                }
            }
        }
        TimeSweep {
            machine: machine(),
            settings: TimeSettings {
                duration_s: 10.0,
                max_requests: 100_000,
                requests_per_connection: 1,
                timeout_ms: 5000,
                server_workers: 4,
                server_waiting: 64,
                backlog: 128,
            },
            runs,
        }
    }

    fn wrk(requests: u64, non_2xx: u64, p99_us: f64) -> WrkResult {
        WrkResult {
            requests,
            duration_s: 10.0,
            requests_per_s: requests as f64 / 10.0,
            non_2xx,
            latency: WrkLatency {
                p50_us: 212.5,
                p75_us: 300.0,
                p90_us: 500.0,
                p99_us,
            },
            errors: WrkErrors::default(),
        }
    }

    fn http_sweep() -> HttpSweep {
        let servers = vec![
            HttpServer {
                name: "stage 2".to_owned(),
                description: "a thread per connection".to_owned(),
                package: "ch02-threads".to_owned(),
                args: vec![],
            },
            HttpServer {
                name: "stage 21".to_owned(),
                description: "the hardened pool".to_owned(),
                package: "ch21-hardened".to_owned(),
                args: vec!["--workers".to_owned(), "4".to_owned()],
            },
        ];
        let mut runs = Vec::new();
        for (server, requests, non_2xx) in [("stage 2", 100_000, 0), ("stage 21", 180_000, 20_000)]
        {
            for connections in [10, 100] {
                let mut result = wrk(requests * connections as u64 / 10, non_2xx, 1_234.0);
                if server == "stage 2" && connections == 100 {
                    result.errors.connect = 7;
                    result.errors.timeout = 2;
                }
                runs.push(HttpRun {
                    server: server.to_owned(),
                    connections,
                    result,
                    server_usage: Usage {
                        peak_threads: (server == "stage 2").then_some(connections as u64 + 2),
                        peak_descriptors: Some(connections as u64 + 5),
                    },
                    // One run whose kernel said nothing, as off Linux.
                    handshakes: (server == "stage 21").then_some(Handshakes {
                        listen_overflows: connections as u64 * 3,
                        syns_resent: connections as u64,
                    }),
                });
            }
        }
        HttpSweep {
            machine: machine(),
            settings: HttpSettings {
                wrk_version: "wrk 4.2.0 [epoll]".to_owned(),
                wrk_threads: 2,
                duration_s: 10,
                path: "/".to_owned(),
                backlog: 4096,
            },
            servers,
            runs,
        }
    }

    fn lab_failures() -> LabFailures {
        let mut failing = report(Method::Process, 0, 4.25, Some(900));
        failing.completed = 1_017;
        failing.errors.too_many_open_files = 8_983;
        failing.client.peak_descriptors = Some(1_024);
        let fixed = report(Method::Process, 100, 3_210.0, Some(800));
        let mut backlog = report(Method::Thread, 1000, 900.0, Some(3_000_000));
        backlog.completed = 9_990;
        backlog.errors.timed_out = 10;
        LabFailures {
            machine: machine(),
            runs: vec![
                FailureRun {
                    failure: "fd-limit".to_owned(),
                    fixed: false,
                    setup: "children kept | ulimit -n 1024".to_owned(),
                    model: Model::Threads,
                    backlog: 128,
                    client_open_files_limit: Some(1024),
                    report: failing,
                },
                FailureRun {
                    failure: "backlog".to_owned(),
                    fixed: false,
                    setup: "listen(1)".to_owned(),
                    model: Model::Threads,
                    backlog: 1,
                    client_open_files_limit: None,
                    report: backlog,
                },
                FailureRun {
                    failure: "fd-limit".to_owned(),
                    fixed: true,
                    setup: "children waited for".to_owned(),
                    model: Model::Threads,
                    backlog: 128,
                    client_open_files_limit: None,
                    report: fixed,
                },
            ],
        }
    }

    fn figure<'a>(figures: &'a [Figure], name: &str) -> &'a str {
        &figures
            .iter()
            .find(|figure| figure.name == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .contents
    }

    fn rendered() -> Vec<Figure> {
        render_sweeps(&data()).unwrap()
    }

    fn data() -> Data {
        Data {
            time: time_sweep(),
            http: http_sweep(),
            failures: lab_failures(),
            idle: idle_sweep(),
        }
    }

    fn idle_sweep() -> IdleSweep {
        let held = |model, threads, rss_kib, report| IdleRun {
            model,
            held: 1000,
            still_open: 1000,
            server_threads: Some(threads),
            server_descriptors: Some(1_008),
            server_rss_kib: Some(rss_kib),
            report,
        };
        let mut starved = report(Method::Pool, 10, 0.0, None);
        starved.issued = 20;
        starved.completed = 0;
        starved.errors.timed_out = 20;
        IdleSweep {
            machine: machine(),
            settings: time_sweep().settings,
            idle_timeout_s: 60,
            client_workers: 10,
            client_duration_s: 3.0,
            client_timeout_ms: 2000,
            runs: vec![
                held(
                    Model::Threads,
                    1_002,
                    17_192,
                    report(Method::Pool, 10, 5_500.0, Some(10_362)),
                ),
                held(Model::Pool, 11, 3_736, starved),
            ],
        }
    }

    /// The table row whose cells start with `first` cells, split into cells.
    fn row<'a>(markdown: &'a str, first: &[&str]) -> Vec<&'a str> {
        let rows: Vec<Vec<&str>> = markdown
            .lines()
            .filter(|line| line.starts_with('|'))
            .map(|line| {
                line.trim_matches('|')
                    .split(" | ")
                    .map(str::trim)
                    .collect::<Vec<_>>()
            })
            .filter(|cells| cells.starts_with(first))
            .collect();
        assert_eq!(rows.len(), 1, "rows starting {first:?} in\n{markdown}");
        rows.into_iter().next().unwrap()
    }

    /// The part of `text` from the line `heading` to the next heading.
    fn section<'a>(text: &'a str, heading: &str) -> &'a str {
        let start = text
            .find(heading)
            .unwrap_or_else(|| panic!("no {heading:?}"));
        let rest = &text[start + heading.len()..];
        &rest[..rest.find("\n####").unwrap_or(rest.len())]
    }

    #[test]
    fn numbers_are_grouped_and_rounded_the_same_way_everywhere() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(13_377), "13,377");
        assert_eq!(count(1_048_576), "1,048,576");
        assert_eq!(decimal(1234.5678, 2), "1,234.57");
        assert_eq!(decimal(-1234.0, 0), "-1,234");
        assert_eq!(decimal(-0.001, 2), "0.00");
        assert_eq!(decimal(f64::NAN, 2), "-");
        assert_eq!(rate(13_376.6), "13,377");
        assert_eq!(rate(9.96), "10.0");
        assert_eq!(rate(0.44), "0.4");
        assert_eq!(millis(52.0), "0.052");
        assert_eq!(millis(1_234.0), "1.23");
        assert_eq!(millis(31_449.0), "31.4");
        assert_eq!(millis(3_000_400.0), "3,000");
        assert_eq!(ratio(16_200.0, 10_000.0), "1.62×");
        assert_eq!(ratio(1.0, 0.0), "-");
        assert_eq!(Unit::MicrosAsMillis.tick(500), "0.5");
        assert_eq!(Unit::MicrosAsMillis.tick(2_000), "2");
        assert_eq!(Unit::MicrosAsMillis.tick(1_250_000), "1,250");
        assert_eq!(Unit::Count.tick(20_000), "20,000");
        assert_eq!(nice_ceiling(0), 1);
        assert_eq!(nice_ceiling(21), 50);
        assert_eq!(nice_ceiling(26_250), 50_000);
        assert_eq!(nice_ceiling(200), 200);
    }

    #[test]
    fn every_file_says_it_is_generated() {
        for figure in rendered() {
            let note = if figure.name.ends_with(".svg") {
                figure.contents.lines().nth(1)
            } else {
                figure.contents.lines().next()
            };
            let note = note.unwrap_or_default();
            assert!(
                note.starts_with("<!-- Generated by `timelab figures`") && note.ends_with("-->"),
                "{}: {note}",
                figure.name
            );
            // An XML comment may not hold `--` anywhere but its ends.
            assert!(!note[4..note.len() - 3].contains("--"), "{note}");
        }
    }

    #[test]
    fn time_tables_hold_each_cell_with_its_ratio_to_the_labs_server() {
        let figures = rendered();
        let time = figure(&figures, TIME_MD);
        let pool_client = section(time, "#### Client: a pool of threads");
        // Pool model, pool client, 100: 16,200 × 1.5 + 100 = 24,400; the baseline 15,100.
        assert_eq!(
            row(pool_client, &["100", "pool (poolbook)"]),
            ["100", "pool (poolbook)", "24,400", "1.62×", "0.450", "0"]
        );
        assert_eq!(
            row(pool_client, &["1,000", "pool (poolbook)"])[5],
            "15 (12 busy)"
        );
        assert_eq!(
            row(pool_client, &["10", "thread per connection"])[3],
            "1.00×"
        );
        let process_client = section(time, "#### Client: a process per connection");
        assert_eq!(
            row(process_client, &["1,000", "thread per connection"]),
            ["1,000", "thread per connection", "2,000", "1.00×", "-", "0"]
        );
        // 2,500 + 1,000 against 1,000 + 1,000.
        assert_eq!(
            row(process_client, &["1,000", "tokio, multi-thread"])[3],
            "1.75×"
        );
        assert!(
            time.contains("at most 100,000 requests or 10 s, 1 request per connection, a 5,000 ms"),
            "{time}"
        );
        let clients: Vec<&str> = time.lines().filter(|l| l.starts_with("#### ")).collect();
        assert_eq!(
            clients,
            [
                "#### Client: a thread per connection",
                "#### Client: a pool of threads",
                "#### Client: a process per connection"
            ]
        );
    }

    #[test]
    fn http_table_compares_with_the_first_server() {
        let figures = rendered();
        let http = figure(&figures, HTTP_MD);
        // stage 21 at 100: (1,800,000 − 20,000) / 10 s against 1,000,000 / 10 s.
        assert_eq!(
            row(http, &["100", "stage 21"]),
            [
                "100", "stage 21", "178,000", "1.78×", "20,000", "0.212", "1.23", "0", "300",
                "100", "-", "105"
            ]
        );
        assert_eq!(
            row(http, &["100", "stage 2"])[7..10],
            ["9 (7 connect, 2 timeout)", "-", "-"]
        );
        assert_eq!(row(http, &["10", "stage 2"])[10], "12");
        assert!(
            http.contains("| connections | server | ok/s | vs stage 2 |"),
            "{http}"
        );
        assert!(http.contains("- stage 21: the hardened pool\n"), "{http}");
    }

    #[test]
    fn each_failure_has_a_file_of_its_own_in_order_of_appearance() {
        let figures = rendered();
        let names: Vec<&str> = figures
            .iter()
            .map(|figure| figure.name.as_str())
            .filter(|name| name.starts_with(FAILURES_MD_PREFIX))
            .collect();
        assert_eq!(names, ["failures-fd-limit.md", "failures-backlog.md"]);
        let fd = figure(&figures, "failures-fd-limit.md");
        assert!(!fd.contains("backlog 1 "), "{fd}");
        assert_eq!(
            row(fd, &["failing"]),
            [
                "failing",
                "children kept \\| ulimit -n 1024",
                "1,017 / 10,000",
                "8,983 too many open files",
                "4.2",
                "1,024",
                "1,024",
                "thread per connection, backlog 128"
            ]
        );
        // No lowered limit: the report's own.
        assert_eq!(row(fd, &["fixed"])[3..7], ["none", "3,210", "104", "1,024"]);
        let backlog = figure(&figures, "failures-backlog.md");
        assert_eq!(row(backlog, &["failing"])[3], "10 timed out");
    }

    #[test]
    fn the_idle_table_shows_what_holding_costs_and_who_is_still_answered() {
        let figures = rendered();
        let idle = figure(&figures, IDLE_MD);
        assert!(
            idle.contains(
                "1,000 silent connections held (the servers' idle timeout: 60 s), then a client \
                 of 10 pool workers for 3 s, a new connection per request, each with a 2,000 ms \
                 timeout."
            ),
            "{idle}"
        );
        assert_eq!(
            row(idle, &["thread per connection"]),
            [
                "thread per connection",
                "1,000 / 1,000",
                "1,002",
                "1,008",
                "16.8",
                "10,000 / 10,000",
                "5,500",
                "10.4",
                "none"
            ]
        );
        assert_eq!(
            row(idle, &["pool (poolbook)"])[5..],
            ["0 / 20", "0.0", "-", "20 timed out"]
        );
    }

    #[test]
    fn machine_table_lists_one_machine_once_and_different_ones_side_by_side() {
        let figures = rendered();
        let machine_md = figure(&figures, MACHINE_MD);
        assert_eq!(row(machine_md, &["logical CPUs"]), ["logical CPUs", "2"]);
        assert_eq!(
            row(
                machine_md,
                &["client ports (`net.ipv4.ip_local_port_range`)"]
            )[1],
            "32768–60999"
        );
        assert_eq!(
            row(
                machine_md,
                &["reuse of TIME_WAIT ports (`net.ipv4.tcp_tw_reuse`)"]
            )[1],
            "2 (loopback only)"
        );
        let mut http = http_sweep();
        http.machine.cpus = 8;
        let figures = render_sweeps(&Data { http, ..data() }).unwrap();
        let machine_md = figure(&figures, MACHINE_MD);
        assert!(
            machine_md.contains("|  | `time.json`, `failures.json`, `idle.json` | `http.json` |"),
            "{machine_md}"
        );
        assert_eq!(
            row(machine_md, &["logical CPUs"]),
            ["logical CPUs", "2", "8"]
        );
    }

    #[test]
    fn plots_name_their_axes_panels_and_lines() {
        let figures = rendered();
        for name in [TIME_THROUGHPUT_SVG, TIME_P99_SVG] {
            let svg = figure(&figures, name);
            assert!(svg.starts_with("<svg "), "{name}");
            assert!(svg.trim_end().ends_with("</svg>"), "{name}");
            for text in [
                "client: a thread per connection",
                "client: a pool of threads",
                "client: a process per connection",
                "connections at once",
                "thread per connection",
                "pool (poolbook)",
                "tokio, current-thread",
                "tokio, multi-thread",
            ] {
                assert!(
                    svg.contains(&format!(">\n{text}\n</text>")),
                    "{name}: {text}"
                );
            }
            // The x axis is labelled with the concurrencies measured.
            for text in ["10", "100", "1,000"] {
                assert!(
                    svg.contains(&format!(">\n{text}\n</text>")),
                    "{name}: {text}"
                );
            }
        }
        let throughput = figure(&figures, TIME_THROUGHPUT_SVG);
        assert!(throughput.contains(">\ncompleted requests per second\n</text>"));
        let p99 = figure(&figures, TIME_P99_SVG);
        assert!(p99.contains(">\np99 latency (ms)\n</text>"));
        let http = figure(&figures, HTTP_SVG);
        for text in [
            "successful responses per second",
            "p99 latency (ms)",
            "open connections (wrk -c)",
            "stage 2: a thread per connection",
            "stage 21: the hardened pool",
        ] {
            assert!(
                http.contains(&format!(">\n{text}\n</text>")),
                "http.svg: {text}"
            );
        }
    }

    /// The markers drawn in a plot: circles are one line's, triangles (polygons) another's.
    fn markers(svg: &str) -> (usize, usize) {
        (
            svg.matches("<circle").count(),
            svg.matches("<polygon").count(),
        )
    }

    #[test]
    fn a_missing_latency_is_left_out_of_the_plot() {
        let figures = rendered();
        // The thread-per-connection line (circles) has 9 points and one legend sample; the pool
        // line (triangles) 9 and one, in both plots, except the latency nobody measured.
        assert_eq!(markers(figure(&figures, TIME_THROUGHPUT_SVG)), (10, 10));
        assert_eq!(markers(figure(&figures, TIME_P99_SVG)), (9, 10));
    }

    #[test]
    fn rendering_twice_gives_the_same_bytes_and_different_data_different_bytes() {
        let first = rendered();
        let second = rendered();
        assert_eq!(first, second);
        let mut time = time_sweep();
        time.runs[0].report.throughput_per_s *= 3.0;
        let changed = render_sweeps(&Data { time, ..data() }).unwrap();
        assert_ne!(
            figure(&first, TIME_THROUGHPUT_SVG),
            figure(&changed, TIME_THROUGHPUT_SVG)
        );
        assert_eq!(figure(&first, HTTP_SVG), figure(&changed, HTTP_SVG));
    }

    #[test]
    fn the_legend_fills_a_balanced_grid_within_the_plots_width() {
        let labels: Vec<String> = (0..5)
            .map(|i| format!("server number {i} of five"))
            .collect();
        let layout = legend_layout(&labels, 840);
        // 23 characters: 238 pixels a column, three fit, so two rows: three, then two.
        assert_eq!(
            layout.iter().map(|&(_, row)| row).collect::<Vec<_>>(),
            [0, 0, 0, 1, 1]
        );
        assert_eq!(layout[0].0, layout[3].0);
        for (i, &(x, _)) in layout.iter().enumerate() {
            assert!(x >= 16);
            assert!(
                x + LEGEND_SAMPLE + LEGEND_GAP + text_width(&labels[i], LEGEND_FONT) <= 840 - 16
            );
        }
        // Four that do not fit in one row make two of two, not three and one.
        let four: Vec<String> = Model::ALL.iter().map(|m| m.label().to_owned()).collect();
        let rows: Vec<usize> = legend_layout(&four, 840)
            .iter()
            .map(|&(_, row)| row)
            .collect();
        assert_eq!(rows, [0, 0, 1, 1]);
    }

    #[test]
    fn render_reads_the_four_files_and_names_a_missing_or_broken_one() {
        let dir = std::env::temp_dir().join(format!("timelab-figures-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let save = |name: &str, json: String| fs::write(dir.join(name), json).unwrap();
        save(TIME_FILE, serde_json::to_string(&time_sweep()).unwrap());
        save(HTTP_FILE, serde_json::to_string(&http_sweep()).unwrap());
        let error = render(&dir).unwrap_err();
        assert!(
            matches!(&error, FigureError::Missing { path } if path.ends_with(FAILURES_FILE)),
            "{error:?}"
        );
        assert!(
            error.to_string().contains("failures.json is missing"),
            "{error}"
        );
        save(FAILURES_FILE, "{\"machine\": 1}".to_owned());
        let error = render(&dir).unwrap_err();
        assert!(matches!(error, FigureError::Json { .. }), "{error:?}");
        assert!(error.to_string().contains("failures.json"), "{error}");
        assert!(error.to_string().contains("line 1"), "{error}");
        save(
            FAILURES_FILE,
            serde_json::to_string(&lab_failures()).unwrap(),
        );
        let error = render(&dir).unwrap_err();
        assert!(
            error.to_string().contains("idle.json is missing"),
            "{error}"
        );
        save(IDLE_FILE, serde_json::to_string(&idle_sweep()).unwrap());
        assert_eq!(render(&dir).unwrap(), rendered());
        let out = dir.join("out");
        let written = write(&dir, &out).unwrap();
        // Three plots, time, http, idle and machine tables, and a table per failure.
        assert_eq!(written.len(), 9);
        assert_eq!(
            fs::read_to_string(out.join(TIME_MD)).unwrap(),
            figure(&rendered(), TIME_MD)
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
