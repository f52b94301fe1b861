//! `timelab`: the TIME lab's server, and its clients with their measurements.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use poolbook_http::listener::stoppable;
use poolbook_http::signals::stop_on_signals;
use poolbook_timelab::client::{self, Method, Plan};
use poolbook_timelab::protocol::PORT;
use poolbook_timelab::server::{self, Config};

/// The TIME lab, redone.
#[derive(Debug, Parser)]
#[command(about = "The TIME lab: a TIME server on poolbook's pool, and clients that measure it.")]
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
    /// Makes TIME requests with a thread per connection, a thread pool, or a process per
    /// connection, and reports what happened.
    Client(ClientArgs),
    /// One connection of the process method, run in a child process: prints its tally as JSON.
    #[command(name = client::CHILD_COMMAND, hide = true)]
    ClientChild {
        /// The server's address.
        #[arg(long)]
        addr: SocketAddr,
        /// Requests on the connection.
        #[arg(long)]
        requests: u64,
        /// Connect, send and reply timeout, in milliseconds.
        #[arg(long)]
        timeout_ms: u64,
    },
}

/// The client's options.
#[derive(Debug, Args)]
struct ClientArgs {
    /// How requests are made concurrent: thread, pool or process.
    #[arg(long)]
    method: Method,
    /// The server's address; loopback only.
    #[arg(long, default_value_t = format!("127.0.0.1:{PORT}"))]
    addr: String,
    /// How many requests (at most 1,000,000).
    #[arg(long)]
    requests: u64,
    /// The most connections in progress at once (at most 10,000); 0 for no limit (thread and
    /// process methods only), the lab's way.
    #[arg(long)]
    concurrency: usize,
    /// Requests sent on each connection before QUIT.
    #[arg(long, default_value_t = 1)]
    requests_per_connection: u64,
    /// Limit on connecting, sending, and waiting for each reply, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
    /// Stop starting connections after this many seconds.
    #[arg(long)]
    duration_s: Option<f64>,
    /// Process method: keep every child and its pipes, unwaited, until the end (the lab's
    /// never-joined processes), to show the descriptors running out.
    #[arg(long)]
    leak_children: bool,
    /// Also record the peak threads and descriptors of this server process.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
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
        Command::Client(args) => run_client(&args),
        Command::ClientChild {
            addr,
            requests,
            timeout_ms,
        } => {
            let tally = client::connection(addr, requests, Duration::from_millis(timeout_ms));
            println!("{}", client::child_line(&tally));
            ExitCode::SUCCESS
        }
    }
}

/// Runs the client and prints its report; exits with 2 if the options are refused, and with
/// success whenever a report is printed, whatever it says.
fn run_client(args: &ClientArgs) -> ExitCode {
    let plan = client::loopback_addr(&args.addr).and_then(|addr| {
        let duration = match args.duration_s {
            None => None,
            Some(s) => Some(Duration::try_from_secs_f64(s).map_err(|_| {
                client::ClientError::Invalid(format!("not a duration in seconds: {s}"))
            })?),
        };
        Ok(Plan {
            requests_per_connection: args.requests_per_connection,
            timeout: Duration::from_millis(args.timeout_ms),
            duration,
            leak_children: args.leak_children,
            server_pid: args.server_pid,
            progress: !args.quiet,
            ..Plan::new(args.method, addr, args.requests, args.concurrency)
        })
    });
    let report = match plan.and_then(|plan| client::run(&plan)) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("timelab client: {e}");
            return ExitCode::from(2);
        }
    };
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("timelab client: cannot write the report as JSON: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{report}");
    }
    ExitCode::SUCCESS
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
