//! Which worker ran which job: stage 5's server (the first whose workers share one queue) run with
//! `--log-jobs`, four slow requests held at once, and what it printed, kept as the snapshot
//! chapter 5 shows: `chapters/ch05-shared-queue/output/log-jobs.snap`, included from its fourth
//! line.
//!
//! The output is normalised: the port the test's server was given becomes the default, 7879,
//! and the job lines are sorted, since the order in which four workers wake is the scheduler's.
//!
//! After a change to what the server prints, read the diff and accept it with
//! `INSTA_UPDATE=always cargo test --test job_log`. With `CI=true`, insta writes nothing and a
//! mismatch fails.

// Only the snapshot helpers are used here; the rest serves the compile steps and the zoo.
#[allow(dead_code, unused_imports)]
mod support;

use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Instant;

use poolbook_testkit::WATCHDOG;
use poolbook_testkit::process::ServerProcess;

use support::{compare_snapshot, workspace_root};

/// The stage whose binary runs: its package, and its binary's name.
const STAGE: &str = "ch05-shared-queue";
/// The stage's pool size (`ThreadPool::build(4)` in its `serve`).
const WORKERS: usize = 4;
/// How long `GET /sleep` holds a worker: twice the watchdog (see `four_requests_four_workers`).
const SLEEP_MS: &str = "60000";

/// Builds the stage's binary with the workspace's Cargo, in the workspace's target folder (the
/// one `cargo test` builds in, so nothing is built twice), and returns its path.
fn stage_binary() -> PathBuf {
    let output = std::process::Command::new(poolbook::scratch::cargo_program())
        .current_dir(workspace_root())
        .args(["build", "--quiet", "--message-format=json", "-p", STAGE])
        .args(["--bin", STAGE])
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build");
    assert!(output.status.success(), "cargo build -p {STAGE} failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find_map(|message| Some(PathBuf::from(message.get("executable")?.as_str()?)))
        .unwrap_or_else(|| panic!("cargo build -p {STAGE} reported no executable"))
}

/// Each of the pool's four workers serves exactly one of four `/sleep` requests held at once.
///
/// Why this is deterministic without a sleep in the test: a worker logs a request before the
/// route sleeps, and the route then holds that worker for [`SLEEP_MS`], twice the watchdog that
/// bounds the whole wait below. A worker that has logged a `/sleep` therefore cannot take another
/// job while the test runs; each of the four logged lines must come from a different worker, and
/// four lines can only appear because four workers were idle to take them. (A short sleep would
/// let a worker finish its first request and take a second, and the snapshot would depend on the
/// scheduler.) A fifth request would wait in the queue for the whole sleep: nothing here is
/// left to chance, and the test ends by killing the server rather than waiting for the answers.
#[test]
fn four_requests_four_workers() {
    let binary = stage_binary();
    let binary = binary.to_str().expect("a UTF-8 path to the binary");
    let server = ServerProcess::start_listening(binary, &["--log-jobs", "--sleep-ms", SLEEP_MS]);

    // Held open until the server is killed, so that no worker ever finishes writing an answer.
    let clients: Vec<TcpStream> = (0..WORKERS)
        .map(|_| {
            let mut client = TcpStream::connect(server.addr()).expect("connect to the server");
            client
                .write_all(b"GET /sleep HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .expect("send a request");
            client
        })
        .collect();
    // One deadline for all four lines, so that the whole wait stays under the sleep.
    let deadline = Instant::now() + WATCHDOG;
    let mut jobs: Vec<String> = (0..WORKERS)
        .map(|n| {
            server
                .wait_for_stdout(
                    ": GET /sleep",
                    deadline.saturating_duration_since(Instant::now()),
                )
                .unwrap_or_else(|| panic!("only {n} of {WORKERS} requests reached a worker"))
        })
        .collect();
    jobs.sort();
    drop(server);
    drop(clients);

    let text = format!(
        "$ cargo run -p {STAGE} -- --log-jobs --sleep-ms {SLEEP_MS}\n\
         Listening on http://127.0.0.1:7879\n\
         {}\n",
        jobs.join("\n")
    );
    let dir = workspace_root().join("chapters").join(STAGE).join("output");
    if let Err(problem) = compare_snapshot!(
        &dir,
        "log-jobs",
        text,
        "INSTA_UPDATE=always cargo test --test job_log"
    ) {
        panic!("{problem}");
    }
    let written = std::fs::read_to_string(dir.join("log-jobs.snap")).expect("the snapshot");
    support::check_snapshot_header(&written).unwrap_or_else(|problem| panic!("{problem}"));
}
