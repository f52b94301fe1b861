//! The clients against a real TIME server: each method completes its requests and its report
//! adds up; a full server's `ERR busy`, a refused connection, and the lab's descriptor exhaustion
//! are each counted under their own kind.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Output};
use std::time::Duration;

use common::{connect, reply};
use poolbook_testkit::TestServer;
use poolbook_timelab::client::{self, Method, Plan};
use poolbook_timelab::measure::Report;
use poolbook_timelab::protocol::is_jam;
use poolbook_timelab::server::{self, Config};

const TIMELAB: &str = env!("CARGO_BIN_EXE_timelab");

fn start(config: Config) -> TestServer {
    TestServer::start(move |incoming| {
        server::serve(incoming, config).expect("the pool starts");
    })
}

fn run(plan: &Plan) -> Report {
    let report = client::run(plan).expect("a valid plan");
    check_adds_up(&report);
    report
}

fn check_adds_up(report: &Report) {
    assert!(report.adds_up(), "{report}");
    assert_eq!(
        report.latency.map_or(0, |l| l.samples),
        report.completed,
        "one latency per completed request"
    );
}

/// Runs the `timelab` binary's client with `args`, after `ulimit -n <limit>` if given, and
/// parses its JSON report.
fn run_binary(addr: SocketAddr, args: &[&str], open_files: Option<u32>) -> Report {
    let mut command = match open_files {
        Some(limit) => {
            // The shell lowers the limit, then becomes the client: the limit is the client's.
            let mut command = Command::new("sh");
            command
                .arg("-c")
                .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
                .arg(TIMELAB);
            command
        }
        None => Command::new(TIMELAB),
    };
    command
        .args(["client", "--json", "--quiet", "--addr", &addr.to_string()])
        .args(args);
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("run timelab");
    let stderr = String::from_utf8_lossy(&stderr);
    assert!(status.success(), "{status}: {stderr}");
    let report: Report = serde_json::from_slice(&stdout).unwrap_or_else(|e| {
        panic!(
            "not a report ({e}): {}\nstderr: {stderr}",
            String::from_utf8_lossy(&stdout)
        )
    });
    check_adds_up(&report);
    report
}

fn assert_all_completed(report: &Report, requests: u64) {
    assert_eq!(
        (report.issued, report.completed, report.errors.total()),
        (requests, requests, 0),
        "{report}"
    );
}

#[test]
fn threads_and_the_pool_complete_every_request() {
    let server = start(Config::default());
    for method in [Method::Thread, Method::Pool] {
        let mut plan = Plan::new(method, server.addr(), 200, 8);
        plan.server_pid = Some(std::process::id());
        let report = run(&plan);
        assert_all_completed(&report, 200);
        assert!(report.peak_in_flight <= 8, "{report}");
        assert_eq!(report.method, method);
        assert!(!report.stopped_by_duration);
        if cfg!(target_os = "linux") {
            // The server runs in this process, so it was sampled twice over.
            let server = report.server.expect("the server was sampled");
            assert!(server.peak_threads.is_some() && server.peak_descriptors.is_some());
            assert!(report.client.peak_threads.is_some());
            assert!(report.open_files_limit.is_some());
        }
    }
}

#[test]
fn a_connection_may_carry_many_requests() {
    let server = start(Config::default());
    for method in [Method::Thread, Method::Pool] {
        let mut plan = Plan::new(method, server.addr(), 200, 4);
        // 28 connections of 7 requests, and one of 4.
        plan.requests_per_connection = 7;
        assert_all_completed(&run(&plan), 200);
    }
}

#[test]
fn threads_without_a_bound_still_complete_and_are_all_joined() {
    let server = start(Config::default());
    let report = run(&Plan::new(Method::Thread, server.addr(), 100, 0));
    assert_all_completed(&report, 100);
    assert_eq!(report.concurrency, 0);
}

#[test]
fn a_process_per_connection_completes_every_request() {
    let server = start(Config::default());
    let report = run_binary(
        server.addr(),
        &[
            "--method",
            "process",
            "--requests",
            "200",
            "--concurrency",
            "8",
        ],
        None,
    );
    assert_eq!(report.method, Method::Process);
    assert_all_completed(&report, 200);
    assert!(report.peak_in_flight <= 8, "{report}");
    // Requests split over children: 3 + 3 + 3 + 1.
    let report = run_binary(
        server.addr(),
        &[
            "--method",
            "process",
            "--requests",
            "10",
            "--concurrency",
            "2",
            "--requests-per-connection",
            "3",
        ],
        None,
    );
    assert_all_completed(&report, 10);
}

#[test]
fn a_full_server_is_counted_as_busy() {
    let server = start(Config {
        workers: 1,
        waiting: 1,
        ..Config::default()
    });
    // The first connection holds the only worker: its reply proves it is being served.
    let (mut held, mut held_reader) = connect(server.addr());
    held.write_all(b"TIME\r\n").expect("send");
    let reply = reply(&mut held_reader);
    assert!(is_jam(reply.as_bytes()), "{reply:?}");
    // The second takes the only place in the queue: the server accepts in order, so it is
    // queued before any of the client's connections is accepted.
    let (waiting, _waiting_reader) = connect(server.addr());
    for method in [Method::Thread, Method::Pool] {
        let report = run(&Plan::new(method, server.addr(), 5, 1));
        assert_eq!(report.errors.busy, 5, "{report}");
        assert_eq!(report.completed, 0);
    }
    drop((held, held_reader, waiting));
}

#[test]
fn a_connection_to_a_closed_port_is_counted_as_refused() {
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address")
    };
    for method in [Method::Thread, Method::Pool] {
        let report = run(&Plan::new(method, addr, 10, 2));
        assert_eq!(report.errors.refused, 10, "{report}");
        assert_eq!(report.latency, None);
    }
}

#[test]
fn the_duration_stops_new_requests() {
    let server = start(Config::default());
    let mut plan = Plan::new(Method::Pool, server.addr(), client::MAX_REQUESTS, 2);
    // A million requests cannot be made in a millisecond.
    plan.duration = Some(Duration::from_millis(1));
    let report = run(&plan);
    assert!(report.stopped_by_duration, "{report}");
    assert!(report.issued < report.planned, "{report}");
    assert_eq!(report.errors.total(), 0, "{report}");
}

#[test]
fn the_binary_refuses_an_address_that_is_not_loopback() {
    let output = Command::new(TIMELAB)
        .args(["client", "--method", "pool", "--requests", "1"])
        .args(["--concurrency", "1", "--addr", "192.0.2.1:45000"])
        .output()
        .expect("run timelab");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a loopback address"), "{stderr}");
    assert!(output.stdout.is_empty());
}

// ANCHOR: descriptors
/// The lab's "2,044 processes, then Too many open files", at a limit of 64: children kept with
/// their pipes until the end use the descriptors up; the rest are counted, and the run reports.
#[cfg(unix)]
#[test]
fn leaked_children_run_out_of_descriptors_and_are_counted() {
    let server = start(Config::default());
    let report = run_binary(
        server.addr(),
        &[
            "--method",
            "process",
            "--leak-children",
            "--concurrency",
            "0",
            "--requests",
            "200",
        ],
        Some(64),
    );
    assert_eq!(report.open_files_limit, Some(64));
    assert_eq!(report.issued, 200);
    assert!(report.errors.too_many_open_files > 0, "{report}");
    // Every child that started completed its request; every other one could not start.
    assert!(report.completed > 0, "{report}");
    assert_eq!(
        report.completed + report.errors.too_many_open_files,
        200,
        "{report}"
    );
    // Two descriptors per child kept: fewer than half the limit started.
    assert!(report.completed < 32, "{report}");
}
// ANCHOR_END: descriptors
