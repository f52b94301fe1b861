//! Stage 24 serves the demo routes, survives bad input and panicking handlers, serves while a
//! request is held, and answers 503 when every worker is busy and the queue is full.
//!
//! These are every server's checks, and every server's checks assume nothing is shed: each runs
//! with shedding out of reach (an interval of an hour), so that a connection that waits behind a
//! held one, for however long a loaded machine makes it, is still served. `tests/shedding.rs`
//! checks the shedding.

use std::time::Duration;

use ch24_shedding::pool::Shedding;
use ch24_shedding::{Capacity, Config};
use poolbook_testkit::TestServer;
use poolbook_testkit::conformance::{self, BoxedHandler};

/// Stage 24's defaults, but for shedding: a queue never stands for an hour, and no connection
/// here waits that long.
fn shedding_nothing() -> Config {
    let hour = Duration::from_secs(3600);
    Config {
        shedding: Shedding {
            target: hour,
            interval: hour,
        },
        ..Config::default()
    }
}

fn start(handler: BoxedHandler) -> TestServer {
    TestServer::start(move |incoming| {
        ch24_shedding::serve_with(incoming, handler, shedding_nothing()).expect("the pool starts");
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
                ..shedding_nothing()
            };
            ch24_shedding::serve_with(incoming, handler, config).expect("the pool starts");
        })
    });
}
// ANCHOR_END: busy-test
