//! Stage 22 serves the demo routes, survives bad input and panicking handlers, serves while a
//! request is held, and answers 503 when every worker is busy and the queue is full.

use ch24_shedding::{Capacity, Config};
use poolbook_testkit::TestServer;
use poolbook_testkit::conformance::{self, BoxedHandler};

fn start(handler: BoxedHandler) -> TestServer {
    TestServer::start(move |incoming| {
        ch24_shedding::serve(incoming, handler).expect("the pool starts");
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

// ANCHOR: busy-test
#[test]
fn answers_503_when_every_worker_is_busy_and_the_queue_is_full() {
    conformance::answers_busy_when_full(|handler| {
        TestServer::start(move |incoming| {
            let one_and_one = Capacity {
                workers: 1,
                waiting: 1,
            };
            let config = Config {
                capacity: one_and_one,
                ..Config::default()
            };
            ch24_shedding::serve_with(incoming, handler, config).expect("the pool starts");
        })
    });
}
// ANCHOR_END: busy-test
