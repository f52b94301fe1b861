//! Every held connection costs stage 2 one thread. This test is alone in its binary so that no
//! other test's threads come and go while it counts.

use std::sync::Arc;

use poolbook_testkit::conformance::{Log, gated_handler};
use poolbook_testkit::flood::Flood;
use poolbook_testkit::{Gate, TestServer, thread_count};

// ANCHOR: flood-test
#[test]
fn each_held_connection_costs_a_thread() {
    const HELD: usize = 64;
    let gate = Arc::new(Gate::new());
    let handler = gated_handler(Arc::clone(&gate), Arc::new(Log::default()));
    let server =
        TestServer::start(move |incoming| ch02_thread_per_request::serve(incoming, handler));
    let Some(before) = thread_count() else {
        eprintln!("no /proc/self/status here: thread counts cannot be read, nothing to check");
        return;
    };

    // ANCHOR: flood-asserts
    let mut flood = Flood::new(server.addr(), gate);
    flood
        .hold(HELD)
        .expect("every request reaches a handler at once");
    let during = thread_count().expect("read the thread count");
    assert!(
        during >= before + HELD,
        "{HELD} held connections should add {HELD} threads: {before} before, {during} during"
    );

    let statuses = flood.release();
    assert!(
        statuses.iter().all(|s| matches!(s, Ok(200))),
        "{statuses:?}"
    );
    // ANCHOR_END: flood-asserts
}
// ANCHOR_END: flood-test
