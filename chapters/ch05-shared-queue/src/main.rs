//! Stage 5's server: `cargo run -p ch05-shared-queue -- --port 7879 --sleep-ms 5000`.

use std::process::ExitCode;

use poolbook_http::cli::ServerArgs;
use poolbook_http::hello;

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
    match ch05_shared_queue::serve(listener.incoming(), hello::routes(args.sleep())) {
        Ok(()) => ExitCode::SUCCESS,
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
