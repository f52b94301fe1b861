//! Shows what one thread per connection costs: holds slow requests open against stage 2's server
//! and prints the process's threads and memory as they pile up.
//!
//! `cargo run -p ch02-thread-per-request --example flood -- --connections 400 --step 100`

use std::sync::Arc;

use clap::Parser;
use poolbook_testkit::conformance::{Log, gated_handler};
use poolbook_testkit::flood::{Flood, open_files_limit};
use poolbook_testkit::{Gate, TestServer, resident_kib, thread_count};

/// Holds slow requests open against a thread-per-connection server and reports the cost.
#[derive(Parser)]
struct Args {
    /// How many connections to hold open at the end (bounded by the descriptor limit, and at
    /// most 10,000).
    #[arg(long, default_value_t = 400)]
    connections: usize,
    /// How many connections to add between two readings.
    #[arg(long, default_value_t = 100)]
    step: usize,
}

fn main() {
    let args = Args::parse();
    // Each held connection uses two descriptors in this process: the client's and the server's.
    let limit = open_files_limit();
    let most = limit.map_or(args.connections, |l| {
        usize::try_from(l.saturating_sub(64) / 2).unwrap_or(usize::MAX)
    });
    let target = args.connections.min(most).min(10_000);
    if target < args.connections {
        println!(
            "Holding {target} connections, not {}: each one needs two descriptors here and the \
             limit is {} (see `ulimit -n`).",
            args.connections,
            limit.unwrap_or_default()
        );
    }

    let gate = Arc::new(Gate::new());
    let handler = gated_handler(Arc::clone(&gate), Arc::new(Log::default()));
    let server =
        TestServer::start(move |incoming| ch02_thread_per_request::serve(incoming, handler));
    let mut flood = Flood::new(server.addr(), gate);

    println!("{:>6}  {:>8}  {:>16}", "held", "threads", "resident memory");
    let mut held = 0;
    loop {
        if let Err(e) = flood.hold(held) {
            println!("stopped at {} connections: {e}", flood.held());
            break;
        }
        println!(
            "{held:>6}  {:>8}  {:>12} KiB",
            thread_count().map_or("?".into(), |n| n.to_string()),
            resident_kib().map_or("?".into(), |n| n.to_string()),
        );
        if held == target {
            break;
        }
        held = (held + args.step.max(1)).min(target);
    }
    let statuses = flood.release();
    let ok = statuses.iter().filter(|s| matches!(s, Ok(200))).count();
    println!("released: {ok} of {} answered 200 OK", statuses.len());
}
