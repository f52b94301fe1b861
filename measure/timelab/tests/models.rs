//! `timelab serve` in each of its models, as a process: the pool client's requests are all
//! answered, and SIGTERM stops it with status 0.

use poolbook_testkit::process::ServerProcess;
use poolbook_timelab::client::{self, Method, Plan};

const BINARY: &str = env!("CARGO_BIN_EXE_timelab");

#[cfg(unix)]
#[test]
fn every_model_answers_every_request_and_stops_cleanly() {
    for model in ["pool", "threads", "tokio-current", "tokio-multi"] {
        let server = ServerProcess::start(BINARY, &["serve", "--model", model, "--workers", "2"]);
        let plan = Plan::new(Method::Pool, server.addr(), 500, 8);
        let report = client::run(&plan).expect("the client runs");
        assert_eq!(report.completed, 500, "{model}: {report}");
        assert_eq!(report.errors.total(), 0, "{model}: {report}");
        server.signal("TERM");
        let exit = server.wait();
        assert_eq!(exit.code, Some(0), "{model}: {}", exit.stderr);
        assert!(
            exit.stdout
                .contains("Shut down after serving 500 connections"),
            "{model}: {}",
            exit.stdout
        );
    }
}
