//! `timelab sweep --scale quick` makes every TIME, lab-failure and idle-connection run the book's
//! sweep makes, small, and writes data the figures can read. (The HTTP part needs `wrk`, which
//! the tests do not install; its output parser has unit tests in `src/sweep.rs`.)

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use poolbook_timelab::client::Method;
use poolbook_timelab::model::Model;
use poolbook_timelab::results::{
    FAILURES_FILE, IDLE_FILE, IdleSweep, LabFailures, TIME_FILE, TimeSweep,
};

const BINARY: &str = env!("CARGO_BIN_EXE_timelab");

fn out_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("timelab-sweep-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_quick_sweep_makes_every_run_and_writes_its_data() {
    let out = out_dir();
    let output = Command::new(BINARY)
        .args(["sweep", "--scale", "quick", "--only", "time,failures,idle"])
        .args(["--no-figures", "--quiet", "--out"])
        .arg(&out)
        .output()
        .expect("run timelab sweep");
    assert!(
        output.status.success(),
        "timelab sweep failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let read = |name: &str| std::fs::read_to_string(out.join(name)).expect("the data file");
    let time: TimeSweep = serde_json::from_str(&read(TIME_FILE)).expect("time.json");
    let cells: BTreeSet<(String, String, usize)> = time
        .runs
        .iter()
        .map(|run| {
            (
                run.model.to_string(),
                run.method.to_string(),
                run.concurrency,
            )
        })
        .collect();
    assert_eq!(cells.len(), time.runs.len(), "each cell once");
    for model in Model::ALL {
        for method in [Method::Thread, Method::Pool, Method::Process] {
            for concurrency in [2, 4] {
                assert!(
                    cells.contains(&(model.to_string(), method.to_string(), concurrency)),
                    "{model} × {method} × {concurrency} missing"
                );
            }
        }
    }
    for run in &time.runs {
        let report = &run.report;
        let cell = format!("{} × {} × {}", run.model, run.method, run.concurrency);
        assert!(report.adds_up(), "{cell}: {report:?}");
        // A quick run is short, not broken: every request it made was answered.
        assert!(report.issued > 0, "{cell}: nothing issued");
        assert_eq!(report.errors.total(), 0, "{cell}: {:?}", report.errors);
        assert!(report.latency.is_some(), "{cell}: no latency");
        let server = report.server.expect("the server's usage");
        assert!(server.peak_threads.is_some(), "{cell}: no server threads");
    }
    assert_eq!(
        time.machine.cpus,
        std::thread::available_parallelism().unwrap().get()
    );

    let failures: LabFailures = serde_json::from_str(&read(FAILURES_FILE)).expect("failures.json");
    let ids: Vec<&str> = failures
        .runs
        .iter()
        .map(|run| run.failure.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "fd-limit",
            "fd-limit",
            "fd-limit",
            "backlog",
            "backlog",
            "backlog",
            "pool-throughput"
        ]
    );
    for run in &failures.runs {
        assert!(run.report.adds_up(), "{}: {:?}", run.setup, run.report);
    }
    // The lab's failure, made on purpose: kept children use up the 64 descriptors.
    let kept = &failures.runs[0];
    assert!(!kept.fixed && kept.report.leak_children);
    assert_eq!(kept.report.open_files_limit, Some(64));
    assert!(
        kept.report.errors.too_many_open_files > 0,
        "{:?}",
        kept.report
    );
    // Its fix: ten at a time, each waited for, under the same limit.
    let bounded = &failures.runs[2];
    assert!(bounded.fixed && !bounded.report.leak_children);
    assert_eq!(bounded.report.errors.total(), 0, "{:?}", bounded.report);
    assert_eq!(bounded.report.completed, 100);
    // The lab's unbounded threads with a backlog the kernel allows: nothing lost.
    let backlog = &failures.runs[4];
    assert_eq!(backlog.backlog, 4096);
    assert_eq!(backlog.report.errors.total(), 0, "{:?}", backlog.report);
    // The pool's "500,000" is a count of requests queued on a few workers.
    let pooled = &failures.runs[6];
    assert_eq!(pooled.report.completed, 2000);
    assert_eq!(pooled.report.peak_in_flight, 4);

    let idle: IdleSweep = serde_json::from_str(&read(IDLE_FILE)).expect("idle.json");
    let models: Vec<Model> = idle.runs.iter().map(|run| run.model).collect();
    assert_eq!(models, Model::ALL);
    for run in &idle.runs {
        assert!(run.report.adds_up(), "{}: {:?}", run.model, run.report);
        assert!(run.report.issued > 0, "{}: nothing issued", run.model);
        // The idle timeout outlasts the run, so no server let a silent connection go.
        assert_eq!(run.still_open, run.held, "{}", run.model);
        assert!(
            run.server_threads.is_some(),
            "{}: no server threads",
            run.model
        );
    }
    // A thread per connection answers others while it holds the silent ones.
    let threads = &idle.runs[0];
    assert_eq!(threads.model, Model::Threads);
    assert_eq!(
        threads.report.completed, threads.report.issued,
        "{:?}",
        threads.report.errors
    );

    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn an_unknown_part_is_refused_with_usage() {
    let output = Command::new(BINARY)
        .args(["sweep", "--only", "everything"])
        .output()
        .expect("run timelab sweep");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("time, http, failures"), "{stderr}");
}
