//! Stopping the server answers every connection it had accepted: in-process with a held request,
//! and as a process receiving SIGTERM or SIGINT.

use poolbook_testkit::conformance::BoxedHandler;
use poolbook_testkit::{TestServer, shutdown};

fn start(handler: BoxedHandler) -> TestServer {
    TestServer::start(move |incoming| {
        ch24_shedding::serve(incoming, handler).expect("the pool starts");
    })
}

#[test]
fn stopping_waits_for_the_request_in_flight() {
    shutdown::stopping_waits_for_the_request_in_flight(start);
}

#[cfg(unix)]
#[test]
fn sigterm_finishes_the_accepted_request_and_exits_cleanly() {
    shutdown::sigterm_finishes_the_accepted_request_and_exits_cleanly(env!(
        "CARGO_BIN_EXE_ch24-shedding"
    ));
}

#[cfg(unix)]
#[test]
fn an_idle_connection_does_not_hang_the_shutdown() {
    shutdown::an_idle_connection_does_not_hang_the_shutdown(env!("CARGO_BIN_EXE_ch24-shedding"));
}
