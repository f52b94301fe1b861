//! Stage 1's server: `cargo run -p ch01-single-threaded -- --port 7879 --sleep-ms 5000`.

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
    ch01_single_threaded::serve(listener.incoming(), hello::routes(args.sleep()));
    ExitCode::SUCCESS
}
// ANCHOR_END: main
