//! Stage 24's server: `cargo run -p ch24-shedding -- --help` lists its limits.
//!
//! It serves the demo routes, plus `/panic`, which panics on purpose so that you can watch the
//! server survive it; or, with `--root DIR`, the files below a folder. Ctrl-C or SIGTERM stops it
//! gracefully: it stops accepting, answers every connection it had accepted, and exits with
//! status 0.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use poolbook_http::cli::ServerArgs;
use poolbook_http::listener::stoppable;
use poolbook_http::signals::stop_on_signals;
use poolbook_http::static_files::StaticFiles;
use poolbook_http::{Request, Response, hello};

use ch24_shedding::pool::Shedding;
use ch24_shedding::{Capacity, Config};

// ANCHOR: args
/// Stage 24's options: the demo server's, and every limit the server enforces.
#[derive(Debug, Parser)]
#[command(about = "Serves the demo routes (and `/panic`), or a folder, within set limits.")]
struct Args {
    #[command(flatten)]
    server: ServerArgs,
    /// Worker threads.
    #[arg(long, default_value_t = Capacity::default().workers)]
    workers: usize,
    /// Accepted connections that may wait for a worker; when they fill it, the server stops
    /// accepting for a while (--patience-ms) before it answers 503.
    #[arg(long, default_value_t = Capacity::default().waiting)]
    waiting: usize,
    /// How long the server waits for a place in a full waiting room before it answers 503, in
    /// milliseconds.
    #[arg(long, default_value_t = 100)]
    patience_ms: u64,
    /// How long a connection may wait for a worker while the waiting room stands non-empty
    /// (the shedding target), in milliseconds; it is answered 503 once it has waited longer.
    #[arg(long, default_value_t = Shedding::default().target.as_millis() as u64)]
    shed_target_ms: u64,
    /// How long the waiting room must stay non-empty to stand (the shedding interval), and how
    /// long a connection may wait otherwise, in milliseconds.
    #[arg(long, default_value_t = Shedding::default().interval.as_millis() as u64)]
    shed_interval_ms: u64,
    /// How long one read from a client may wait, in milliseconds.
    #[arg(long, default_value_t = 5_000)]
    read_timeout_ms: u64,
    /// How long a whole request head may take to arrive, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    request_timeout_ms: u64,
    /// Serve the files below this folder instead of the demo routes.
    #[arg(long)]
    root: Option<PathBuf>,
}
// ANCHOR_END: args

impl Args {
    fn config(&self) -> Config {
        let mut config = Config {
            capacity: Capacity {
                workers: self.workers,
                waiting: self.waiting,
            },
            patience: Duration::from_millis(self.patience_ms),
            shedding: Shedding {
                target: Duration::from_millis(self.shed_target_ms),
                interval: Duration::from_millis(self.shed_interval_ms),
            },
            ..Config::default()
        };
        config.connection.read_timeout = Duration::from_millis(self.read_timeout_ms);
        config.connection.request_timeout = Some(Duration::from_millis(self.request_timeout_ms));
        config
    }
}

/// The demo routes, and `/panic`, which panics on purpose.
fn demo_routes(sleep: Duration) -> impl Fn(&Request) -> Response + Send + Sync + 'static {
    let hello = hello::routes(sleep);
    move |request: &Request| {
        if request.path() == "/panic" {
            panic!("GET /panic panics on purpose");
        }
        hello(request)
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let handler: Box<dyn Fn(&Request) -> Response + Send + Sync> = match &args.root {
        None => Box::new(demo_routes(args.server.sleep())),
        Some(root) => match StaticFiles::new(root) {
            Ok(files) => Box::new(move |request: &Request| files.handle(request)),
            Err(e) => {
                eprintln!("cannot serve {}: {e}", root.display());
                return ExitCode::FAILURE;
            }
        },
    };
    let listener = match args.server.bind() {
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
    match ch24_shedding::serve_with(incoming, handler, args.config()) {
        Ok(metrics) => {
            // ANCHOR: report-shed
            println!(
                "Shut down after answering {} connections; {} handlers panicked, {} connections were refused as busy and {} shed after waiting too long.",
                metrics.completed, metrics.panicked, metrics.rejected, metrics.shed
            );
            // ANCHOR_END: report-shed
            // ANCHOR: report
            let below = |fraction| {
                metrics
                    .waited
                    .below(fraction)
                    .map_or_else(|| "-".to_owned(), |wait| format!("{wait:?}"))
            };
            println!(
                "Connections waited for a worker: half under {}, 99 in 100 under {}.",
                below(0.5),
                below(0.99)
            );
            // ANCHOR_END: report
            ExitCode::SUCCESS
        }
        Err(e) => {
            let cause = std::error::Error::source(&e)
                .map(|cause| format!(": {cause}"))
                .unwrap_or_default();
            eprintln!("cannot start the server's thread pool: {e}{cause}");
            ExitCode::FAILURE
        }
    }
}
