//! Stage 4 serves the demo routes and survives bad input; its placeholder pool runs jobs on the
//! accepting thread, so it still handles one connection at a time.

use poolbook_testkit::TestServer;
use poolbook_testkit::conformance::{self, BoxedHandler};

fn start(handler: BoxedHandler) -> TestServer {
    TestServer::start(move |incoming| {
        ch04_workers::serve(incoming, handler).expect("the pool starts")
    })
}

#[test]
fn answers_the_demo_routes() {
    conformance::demo_routes(start);
}

#[test]
fn survives_bad_input() {
    conformance::survives_bad_input(start);
}

#[test]
fn still_serves_one_connection_at_a_time() {
    conformance::serves_one_at_a_time(start);
}
