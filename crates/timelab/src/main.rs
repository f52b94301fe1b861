//! `timelab`: the TIME lab's server (and, in later subcommands, its clients and measurements).

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use poolbook_http::listener::stoppable;
use poolbook_http::signals::stop_on_signals;
use poolbook_timelab::protocol::PORT;
use poolbook_timelab::server::{self, Config};

/// The TIME lab, redone.
#[derive(Debug, Parser)]
#[command(about = "The TIME lab: a TIME server on poolbook's pool.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serves TIME on 127.0.0.1 until Ctrl-C or SIGTERM.
    Serve {
        /// Port to listen on (0 picks a free one).
        #[arg(long, default_value_t = PORT)]
        port: u16,
        /// Worker threads.
        #[arg(long, default_value_t = Config::default().workers)]
        workers: usize,
        /// Connections that may wait for a worker; more are told `ERR busy`.
        #[arg(long, default_value_t = Config::default().waiting)]
        waiting: usize,
        /// Seconds a connection may stay silent between requests.
        #[arg(long, default_value_t = Config::default().idle_timeout.as_secs())]
        idle_timeout_s: u64,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Serve {
            port,
            workers,
            waiting,
            idle_timeout_s,
        } => {
            let config = Config {
                workers,
                waiting,
                idle_timeout: Duration::from_secs(idle_timeout_s),
            };
            serve(port, config)
        }
    }
}

fn serve(port: u16, config: Config) -> ExitCode {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = match TcpListener::bind(addr) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = listener.local_addr().and_then(|addr| {
        println!("Listening on {addr}");
        let (incoming, stop) = stoppable(&listener)?;
        stop_on_signals(stop)?;
        Ok(incoming)
    });
    let incoming = match started {
        Ok(incoming) => {
            println!("Ctrl-C or SIGTERM stops the server gracefully.");
            incoming
        }
        Err(e) => {
            eprintln!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match server::serve(incoming, config) {
        Ok(metrics) => {
            println!(
                "Shut down after serving {} connections; {} were refused as busy.",
                metrics.completed, metrics.rejected
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot start the server's thread pool: {e}");
            ExitCode::FAILURE
        }
    }
}
