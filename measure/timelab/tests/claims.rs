//! What the lab chapters say about their measurements is true of the committed data.
//!
//! The tables and plots are rendered from the data (`tests/figures.rs` keeps them so), but the
//! sentences around them are written by hand: "serves fewer than stage 2", "no run here paid for
//! that". Each test here quotes the words it stands behind and checks them against the data. A
//! sweep run again whose figures no longer bear a sentence out fails here, so the prose is
//! revised with the figures; a sentence rewritten so that its quoted words are gone fails too,
//! so its check is rewritten with it.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use poolbook_timelab::client::Method;
use poolbook_timelab::measure::Report;
use poolbook_timelab::model::Model;
use poolbook_timelab::results::{
    FAILURES_FILE, FailureRun, HTTP_FILE, HttpRun, HttpSweep, IDLE_FILE, IdleSweep, LabFailures,
    TIME_FILE, TimeRun, TimeSweep,
};
use serde::de::DeserializeOwned;

/// The book's source folder.
fn book_src() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the crate is two folders below the workspace");
    workspace.join("book/src")
}

/// The committed data of one of the sweep's files.
fn data<T: DeserializeOwned>(file: &str) -> T {
    let path = book_src().join("lab").join(file);
    let text = fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{} cannot be read: {error}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{} does not parse: {error}", path.display()))
}

/// A chapter's text, with every run of white space made one space, so that a quotation may
/// cross the lines the prose is wrapped at.
struct Chapter {
    name: &'static str,
    text: String,
}

impl Chapter {
    fn read(name: &'static str) -> Chapter {
        let path = book_src().join(name);
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("{} cannot be read: {error}", path.display()));
        Chapter {
            name,
            text: text.split_whitespace().collect::<Vec<_>>().join(" "),
        }
    }

    /// Checks that the chapter still says `words`, the claim the caller goes on to check.
    fn says(&self, words: &str) {
        assert!(
            self.text.contains(words),
            "{} no longer says {words:?}: rewrite the check that stands behind it",
            self.name
        );
    }
}

/// Every request issued was answered, and none failed.
fn all_answered(report: &Report) -> bool {
    report.completed == report.issued && report.errors.total() == 0
}

fn failure_runs<'a>(failures: &'a LabFailures, failure: &str) -> Vec<&'a FailureRun> {
    let runs: Vec<_> = failures
        .runs
        .iter()
        .filter(|run| run.failure == failure)
        .collect();
    assert!(!runs.is_empty(), "no {failure} runs in {FAILURES_FILE}");
    runs
}

#[test]
fn the_descriptor_limit_is_what_stopped_the_process_client() {
    let chapter = Chapter::read("lab-time.md");
    let failures: LabFailures = data(FAILURES_FILE);
    let runs = failure_runs(&failures, "fd-limit");
    let (failing, fixed) = (runs[0], &runs[1..]);

    chapter.says("Run under the lab's limit of 4,096, it fails the same way. The first row below is the lab's run.");
    assert!(!failing.fixed);
    assert_eq!(failing.report.method, Method::Process);
    assert!(failing.report.leak_children);
    assert_eq!(failing.client_open_files_limit, Some(4096));
    let report = &failing.report;
    assert!(report.completed < report.issued);
    assert_eq!(
        report.errors.too_many_open_files,
        report.issued - report.completed,
        "every failure is EMFILE"
    );

    chapter.says("Here the count is `⌊(L − b − 5) / 2⌋ + 1` children, where `L` is the limit and `b` the descriptors the client already had open.");
    // `b` was not measured, but it is at least standard input, output and error, and a process
    // that has just started has few more.
    let limit = 4096;
    let explained = (3..=16).any(|b| (limit - b - 5) / 2 + 1 == report.completed);
    assert!(
        explained,
        "{} children started: no small b gives that",
        report.completed
    );

    chapter.says("The second waits for each child as it finishes, but still starts all 5,000 at once. The third waits for each child and has at most a hundred running at a time");
    assert_eq!(fixed.len(), 2);
    for run in fixed {
        assert!(run.fixed && !run.report.leak_children);
        assert_eq!(run.client_open_files_limit, Some(4096));
        assert_eq!(run.report.issued, 5000);
        assert!(all_answered(&run.report), "{}", run.setup);
    }
    assert_eq!(fixed[0].report.concurrency, 0, "all at once");
    assert_eq!(fixed[1].report.concurrency, 100);
}

#[test]
fn the_backlog_not_the_threads_made_the_thread_client_fail() {
    let chapter = Chapter::read("lab-time.md");
    let failures: LabFailures = data(FAILURES_FILE);
    let runs = failure_runs(&failures, "backlog");
    let [failing, bigger_backlog, bounded_client] = runs[..] else {
        panic!("three backlog runs, not {}", runs.len());
    };

    chapter.says("The first row below is the lab's setup: the lab's server, with a backlog of 1, and a thread for every request, all at once.");
    assert!(!failing.fixed);
    assert_eq!(failing.model, Model::Threads);
    assert_eq!(failing.backlog, 1);
    assert_eq!(failing.report.method, Method::Thread);
    assert_eq!(failing.report.concurrency, 0, "all at once");

    chapter
        .says("a client with a timeout of a few seconds, like this one, reports them as timed out");
    let report = &failing.report;
    assert!(report.completed < report.issued);
    assert_eq!(report.errors.timed_out, report.issued - report.completed);

    chapter.says("The second row changes only the backlog, to 4,096");
    assert_eq!(bigger_backlog.backlog, 4096);
    assert_eq!(bigger_backlog.model, failing.model);
    assert_eq!(bigger_backlog.report.method, failing.report.method);
    assert_eq!(bigger_backlog.report.concurrency, 0);

    chapter.says("The third keeps the backlog of 1, but the client's requests go through a pool of 8 threads");
    assert_eq!(bounded_client.backlog, 1);
    assert_eq!(bounded_client.report.method, Method::Pool);
    assert_eq!(bounded_client.report.concurrency, 8);

    chapter.says("A backlog large enough for the bursts a server expects removes the failures. So does a client that keeps only a few connections in flight");
    for run in [bigger_backlog, bounded_client] {
        assert!(run.fixed);
        assert_eq!(run.report.issued, failing.report.issued);
        assert!(all_answered(&run.report), "{}", run.setup);
    }
    chapter.says("The run is slower than with the deep queue");
    assert!(
        bounded_client.report.throughput_per_s < bigger_backlog.report.throughput_per_s,
        "the bounded client's {} requests/s against the deep queue's {}",
        bounded_client.report.throughput_per_s,
        bigger_backlog.report.throughput_per_s
    );
}

#[test]
fn the_pools_half_million_were_never_more_than_32_at_once() {
    let chapter = Chapter::read("lab-time.md");
    let failures: LabFailures = data(FAILURES_FILE);
    let runs = failure_runs(&failures, "pool-throughput");

    chapter.says("The 500,000 requests it \"handled\" were never in progress at once. At most 32 were, and the rest waited in the queue");
    let [run] = runs[..] else {
        panic!("one pool-throughput run, not {}", runs.len());
    };
    assert_eq!(run.report.method, Method::Pool);
    assert_eq!(run.report.concurrency, 32);
    assert!(run.report.peak_in_flight <= 32);
    assert_eq!(run.report.issued, 500_000);
    assert!(all_answered(&run.report));
}

#[test]
fn the_time_sweep_is_what_the_chapter_describes() {
    let chapter = Chapter::read("lab-time.md");
    let sweep: TimeSweep = data(TIME_FILE);

    chapter.says("Each cell below is one run of at most three seconds.");
    assert!(sweep.settings.duration_s <= 3.0);

    chapter.says("A client keeps `concurrency` connections in progress, each making one request");
    assert_eq!(sweep.settings.requests_per_connection, 1);
    for run in &sweep.runs {
        assert!(run.report.peak_in_flight <= run.concurrency, "{run:?}");
    }

    chapter.says("The servers are the thread per connection (the lab's model, the baseline of every ratio), this book's pool, and the two tokio runtimes");
    for model in Model::ALL {
        for method in [Method::Thread, Method::Pool, Method::Process] {
            let cells = sweep
                .runs
                .iter()
                .filter(|run| run.model == model && run.method == method)
                .count();
            assert_eq!(cells, 3, "{model:?} under the {method:?} client");
        }
    }
}

#[test]
fn under_the_pool_client_the_pool_answers_more_but_its_slowest_wait_longer() {
    let chapter = Chapter::read("lab-time.md");
    let sweep: TimeSweep = data(TIME_FILE);
    chapter.says("Under the pool client, this book's pool answers more requests per second than the thread per connection at every concurrency, yet its p99 is higher at every one of them.");
    let run = |model: Model, concurrency: usize| {
        sweep
            .runs
            .iter()
            .find(|run| {
                run.model == model && run.method == Method::Pool && run.concurrency == concurrency
            })
            .unwrap_or_else(|| panic!("no {model:?} run at {concurrency} under the pool client"))
    };
    let p99 = |run: &TimeRun| run.report.latency.as_ref().expect("latencies").p99_us;
    let concurrencies: BTreeSet<usize> = sweep.runs.iter().map(|run| run.concurrency).collect();
    assert!(!concurrencies.is_empty());
    for concurrency in concurrencies {
        let (pool, threads) = (
            run(Model::Pool, concurrency),
            run(Model::Threads, concurrency),
        );
        assert!(
            pool.report.throughput_per_s > threads.report.throughput_per_s,
            "at {concurrency}: {pool:?} against {threads:?}"
        );
        assert!(p99(pool) > p99(threads), "at {concurrency}");
    }
}

/// The HTTP sweep's run of `server` at `connections`.
fn http_run<'a>(sweep: &'a HttpSweep, server: &str, connections: usize) -> &'a HttpRun {
    sweep
        .runs
        .iter()
        .find(|run| run.server == server && run.connections == connections)
        .unwrap_or_else(|| panic!("no run of {server} at {connections} connections"))
}

#[test]
fn the_http_sweep_bears_out_what_chapter_11s_queue_does_under_wrk() {
    let chapter = Chapter::read("lab-time.md");
    let sweep: HttpSweep = data(HTTP_FILE);
    let names: Vec<&str> = sweep.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "stage 2",
            "stage 21",
            "stage 21, deep queue",
            "stage 22",
            "stage 24"
        ]
    );

    chapter.says("The servers are stage 2 (a thread per connection, the baseline) and stage 21 as it ships, with 4 workers and 64 waiting places.");
    assert_eq!(sweep.servers[0].package, "ch02-thread-per-request");
    assert_eq!(sweep.servers[1].package, "ch21-hardened");
    assert!(sweep.servers[1].args.is_empty(), "as it ships");
    let shipped = ch21_hardened::Capacity::default();
    assert_eq!((shipped.workers, shipped.waiting), (4, 64));

    chapter.says("Every server is started with `--backlog 4096`");
    assert_eq!(sweep.settings.backlog, 4096);

    chapter.says("The \"listen overflows\" and \"SYNs resent\" columns are the kernel's own counts, to show that no run here paid for that.");
    for run in &sweep.runs {
        let handshakes = run.handshakes.as_ref().expect("the kernel's counts");
        assert_eq!(handshakes.listen_overflows, 0, "{run:?}");
        assert_eq!(handshakes.syns_resent, 0, "{run:?}");
    }

    chapter.says("Stage 21 as it ships answers part of the load with `503`, by design");
    assert!(
        sweep
            .runs
            .iter()
            .any(|run| run.server == "stage 21" && run.result.non_2xx > 0)
    );

    chapter.says("every refused client is told: the \"socket errors\" column, which would count connections closed unanswered, stays at zero");
    for run in &sweep.runs {
        let errors = run.result.errors;
        assert_eq!(
            errors.connect + errors.read + errors.write + errors.timeout,
            0,
            "{run:?}"
        );
    }

    chapter.says("At a thousand connections, the shipped server refuses far more requests than it serves, and serves fewer than stage 2.");
    let shipped = http_run(&sweep, "stage 21", 1000).result;
    let served = shipped.requests - shipped.non_2xx;
    assert!(
        shipped.non_2xx >= 2 * served,
        "refused {}, served {served}: not far more",
        shipped.non_2xx
    );
    assert!(shipped.ok_per_s() < http_run(&sweep, "stage 2", 1000).result.ok_per_s());

    chapter.says("With a deep queue, the same four workers serve every request");
    assert_eq!(
        sweep.servers[2].args,
        ["--waiting", "1024"],
        "only the queue differs"
    );
    for run in sweep
        .runs
        .iter()
        .filter(|run| run.server == "stage 21, deep queue")
    {
        assert_eq!(run.result.non_2xx, 0, "{run:?}");
    }

    chapter.says("Stage 22 is stage 21 with back-pressure at the door (chapter 22), as it ships: the same 4 workers and 64 places, and 100 ms of patience.");
    assert_eq!(sweep.servers[3].package, "ch22-back-pressure");
    assert!(sweep.servers[3].args.is_empty(), "as it ships");
    let patient = ch22_back_pressure::Config::default();
    assert_eq!(
        (patient.capacity.workers, patient.capacity.waiting),
        (4, 64)
    );
    assert_eq!(patient.patience.as_millis(), 100);

    chapter.says("Stage 22 serves every request at every load");
    let stage_22: Vec<&HttpRun> = sweep
        .runs
        .iter()
        .filter(|run| run.server == "stage 22")
        .collect();
    assert_eq!(stage_22.len(), 3, "10, 100 and 1,000 connections");
    for run in &stage_22 {
        assert_eq!(run.result.non_2xx, 0, "{run:?}");
    }

    chapter.says("At a thousand connections it serves over one and a half times as many requests per second as stage 2, with a lower 99th-percentile latency, and about as many as stage 21 with the deep queue.");
    let patient = http_run(&sweep, "stage 22", 1000).result;
    let baseline = http_run(&sweep, "stage 2", 1000).result;
    let deep = http_run(&sweep, "stage 21, deep queue", 1000).result;
    assert!(patient.ok_per_s() > 1.5 * baseline.ok_per_s());
    assert!(patient.latency.p99_us < baseline.latency.p99_us);
    let to_deep = patient.ok_per_s() / deep.ok_per_s();
    assert!(
        (0.9..=1.1).contains(&to_deep),
        "{to_deep:.2} of the deep queue's"
    );

    chapter.says("a deep queue holds every waiting connection open in the server, one descriptor each, while stage 22 holds a few dozen and leaves the rest to the kernel.");
    let descriptors = |server| {
        http_run(&sweep, server, 1000)
            .server_usage
            .peak_descriptors
            .expect("the server's descriptors were sampled")
    };
    assert!(descriptors("stage 21, deep queue") >= 1000);
    assert!(descriptors("stage 22") < 100, "{}", descriptors("stage 22"));

    chapter.says("Stage 24 is stage 22 shedding the connections that waited too long (chapter 24), as it ships: after 5 ms in a queue that has stood for 100 ms.");
    assert_eq!(sweep.servers[4].package, "ch24-shedding");
    assert!(sweep.servers[4].args.is_empty(), "as it ships");
    let shipped = ch24_shedding::Config::default();
    assert_eq!(
        (shipped.shedding.target, shipped.shedding.interval),
        (Duration::from_millis(5), Duration::from_millis(100))
    );
    let stage_22 = ch22_back_pressure::Config::default();
    assert_eq!(
        (
            shipped.capacity.workers,
            shipped.capacity.waiting,
            shipped.patience
        ),
        (
            stage_22.capacity.workers,
            stage_22.capacity.waiting,
            stage_22.patience
        ),
        "stage 22's settings"
    );

    chapter.says("Stage 24 sheds nothing here, at any load");
    stage_24_sheds_nothing_and_wins_at_a_thousand(&sweep);

    // Chapter 22 says the same of its own stage, and starts from stage 21's refusals.
    let chapter = Chapter::read("ch22-back-pressure.md");
    chapter.says("at a hundred connections the server as it ships answers about a fifth of the requests with `503`, and at a thousand it refuses far more than it serves, fewer served than stage 2's thread per connection manages.");
    let hundred = http_run(&sweep, "stage 21", 100).result;
    let refused = hundred.non_2xx as f64 / hundred.requests as f64;
    assert!((0.15..0.25).contains(&refused), "{refused:.2} refused");
    chapter.says("stage 22 answers every request with `200` at every load, where stage 21 refused, and at a thousand connections it serves over one and a half times as many requests per second as stage 2, with a lower 99th-percentile latency.");
    chapter.says("It serves about as many as stage 21 with a waiting room of 1,024, while holding a few dozen descriptors where that one holds over a thousand");
    assert!(
        sweep
            .runs
            .iter()
            .any(|run| run.server == "stage 21" && run.result.non_2xx > 0)
    );
}

/// Stage 24 in the HTTP sweep: no `503` at any load; at a thousand connections over twice stage
/// 2's successful responses per second, with a lower p99, and no socket error.
fn stage_24_sheds_nothing_and_wins_at_a_thousand(sweep: &HttpSweep) {
    let runs: Vec<&HttpRun> = sweep
        .runs
        .iter()
        .filter(|run| run.server == "stage 24")
        .collect();
    assert_eq!(runs.len(), 3, "10, 100 and 1,000 connections");
    for run in &runs {
        assert_eq!(run.result.non_2xx, 0, "{run:?}");
    }
    let shedding = http_run(sweep, "stage 24", 1000).result;
    let baseline = http_run(sweep, "stage 2", 1000).result;
    assert!(
        shedding.ok_per_s() > 2.0 * baseline.ok_per_s(),
        "{:.2}× stage 2",
        shedding.ok_per_s() / baseline.ok_per_s()
    );
    assert!(shedding.latency.p99_us < baseline.latency.p99_us);
}

#[test]
fn chapter_24_measures_what_the_sweep_says() {
    let chapter = Chapter::read("ch24-shedding.md");
    let sweep: HttpSweep = data(HTTP_FILE);
    chapter.says("it sheds nothing, at 10, 100 or 1,000 connections, and at a thousand it serves over twice as many requests per second as stage 2, with a lower 99th-percentile latency.");
    stage_24_sheds_nothing_and_wins_at_a_thousand(&sweep);
}

#[test]
fn silent_connections_cost_what_the_async_chapter_says() {
    let chapter = Chapter::read("other-models.md");
    let sweep: IdleSweep = data(IDLE_FILE);
    let run = |model: Model| {
        sweep
            .runs
            .iter()
            .find(|run| run.model == model)
            .unwrap_or_else(|| panic!("no idle run of {model:?}"))
    };

    chapter.says("Each server below was given a thousand connections that never send a byte.");
    for model in Model::ALL {
        assert_eq!(run(model).held, 1000);
    }
    chapter.says(
        "Then a client of ten pool workers made requests on new connections for three seconds",
    );
    assert_eq!(sweep.client_workers, 10);
    assert!((sweep.client_duration_s - 3.0).abs() < f64::EPSILON);

    chapter.says("**The thread per connection** holds a thousand silent connections with a thousand threads. It keeps answering new clients, and its memory grows with every connection");
    let threads = run(Model::Threads);
    assert!(threads.server_threads.expect("threads") >= 1000);
    assert_eq!(threads.still_open, threads.held);
    assert!(threads.report.issued > 0 && all_answered(&threads.report));
    for model in [Model::Pool, Model::TokioCurrent, Model::TokioMulti] {
        assert!(
            threads.server_rss_kib > run(model).server_rss_kib,
            "{model:?}"
        );
    }

    chapter.says("A new client waits behind them all, and its requests time out.");
    let pool = run(Model::Pool);
    assert!(pool.report.issued > 0);
    assert_eq!(pool.report.completed, 0);
    assert_eq!(pool.report.errors.timed_out, pool.report.issued);

    chapter.says("**The async servers** hold the thousand connections as a thousand small tasks and go on answering. The current-thread runtime does it with one thread. A few requests may be told `ERR busy`");
    // The runtime's thread, and the one that waits for SIGINT and SIGTERM.
    assert_eq!(run(Model::TokioCurrent).server_threads, Some(2));
    for model in [Model::TokioCurrent, Model::TokioMulti] {
        let report = &run(model).report;
        assert_eq!(run(model).still_open, 1000);
        assert_eq!(
            report.errors.busy,
            report.errors.total(),
            "{model:?}: only busy"
        );
        assert!(
            report.errors.busy * 100 <= report.issued,
            "{model:?}: more than a few busy"
        );
    }
}
