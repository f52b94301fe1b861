//! Stage 11 serves the demo routes, survives bad input and handlers that panic, and serves while
//! a request is held: its pool runs connections on four workers.

use poolbook_testkit::TestServer;
use poolbook_testkit::conformance::{self, BoxedHandler};

fn start(handler: BoxedHandler) -> TestServer {
    TestServer::start(move |incoming| {
        ch11_policies::serve(incoming, handler).expect("the pool starts")
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
fn serves_others_while_one_request_is_held() {
    conformance::serves_while_one_is_held(start);
}

#[test]
fn survives_handlers_that_panic() {
    conformance::survives_panicking_handlers(start);
}
