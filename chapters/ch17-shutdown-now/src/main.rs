//! Stage 17's server: `cargo run -p ch17-shutdown-now -- --port 7879 --sleep-ms 5000`.
//!
//! Ctrl-C or SIGTERM stops it gracefully: it stops accepting, answers every connection it had
//! accepted, and exits with status 0.

use std::process::ExitCode;

use poolbook_http::cli::ServerArgs;
use poolbook_http::hello;
use poolbook_http::listener::stoppable;
use poolbook_http::signals::stop_on_signals;

// ANCHOR: main
fn main() -> ExitCode {
    let args = ServerArgs::from_env();
    let listener = match args.bind() {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let started = stoppable(&listener).and_then(|(incoming, stop)| {
        stop_on_signals(stop)?;
        Ok(incoming)
    });
    let incoming = match started {
        Ok(incoming) => {
            println!("Ctrl-C or SIGTERM stops the server gracefully.");
            incoming
        }
        Err(e) => {
            eprintln!("cannot set up the graceful shutdown: {e}");
            return ExitCode::FAILURE;
        }
    };
    match ch17_shutdown_now::serve(incoming, hello::routes(args.sleep())) {
        Ok(metrics) => {
            println!(
                "Shut down after answering {} connections; {} handlers panicked, {} connections were refused as busy.",
                metrics.completed, metrics.panicked, metrics.rejected
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            // The cause (the operating system's own words) is what a reader can act on.
            let cause = std::error::Error::source(&e)
                .map(|cause| format!(": {cause}"))
                .unwrap_or_default();
            eprintln!("cannot start the server's thread pool: {e}{cause}");
            ExitCode::FAILURE
        }
    }
}
// ANCHOR_END: main
