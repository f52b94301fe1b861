//! `timelab`: the TIME lab's server, and its clients with their measurements.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use poolbook_http::listener::{self, stoppable};
use poolbook_http::signals::stop_on_signals;
use poolbook_timelab::async_server::{self, Flavor};
use poolbook_timelab::client::{self, Method, Plan};
use poolbook_timelab::figures;
use poolbook_timelab::model::Model;
use poolbook_timelab::protocol::PORT;
use poolbook_timelab::server::{self, Config};
use poolbook_timelab::sweep::{self, Part, Scale};

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
        /// How connections are served: on poolbook's pool, a thread each (the lab's server), or
        /// as tasks on tokio's current-thread or multi-thread runtime.
        #[arg(long, value_enum, default_value_t = Model::Pool)]
        model: Model,
        /// The listener's accept backlog: connections the kernel completes and holds until the
        /// server accepts them (the lab's server had 1).
        #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
        backlog: u32,
        /// Worker threads (the pool's, or the multi-thread runtime's).
        #[arg(long, default_value_t = Config::default().workers)]
        workers: usize,
        /// Connections that may wait for a worker (pool), or be open at once (tokio); more are
        /// told `ERR busy`.
        #[arg(long, default_value_t = Config::default().waiting)]
        waiting: usize,
        /// Seconds a connection may stay silent between requests.
        #[arg(long, default_value_t = Config::default().idle_timeout.as_secs())]
        idle_timeout_s: u64,
    },
    /// Makes TIME requests with a thread per connection, a thread pool, or a process per
    /// connection, and reports what happened.
    Client(ClientArgs),
    /// Runs every measurement the book shows (TIME models under the lab's clients, the HTTP
    /// stages under wrk, the lab's failures, idle connections) and writes its data as JSON.
    Sweep(SweepArgs),
    /// Renders the book's tables and plots from a sweep's data.
    Figures {
        /// The folder with the sweep's JSON files; the figures are written beside them.
        #[arg(long, default_value = DATA_DIR)]
        data: PathBuf,
    },
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

/// Where the book keeps the measurements it shows, from the workspace's root.
const DATA_DIR: &str = "book/src/lab";

/// The sweep's options.
#[derive(Debug, Args)]
struct SweepArgs {
    /// The folder to write the JSON files to (and the figures, unless --no-figures).
    #[arg(long, default_value = DATA_DIR)]
    out: PathBuf,
    /// Which measurements to make (all by default); the others' files are left alone.
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Part>,
    /// How big the runs are: the book's (full), or a check that the sweep works (quick).
    #[arg(long, value_enum, default_value_t = Scale::Full)]
    scale: Scale,
    /// The folder with the HTTP stages' release binaries; by default this binary's own.
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Write the data only, not the figures.
    #[arg(long)]
    no_figures: bool,
    /// No progress bar or per-run lines.
    #[arg(long)]
    quiet: bool,
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
            model,
            backlog,
            workers,
            waiting,
            idle_timeout_s,
        } => {
            let config = Config {
                workers,
                waiting,
                idle_timeout: Duration::from_secs(idle_timeout_s),
            };
            serve(port, backlog, model, config)
        }
        Command::Client(args) => run_client(&args),
        Command::Sweep(args) => run_sweep(args),
        Command::Figures { data } => render_figures(&data),
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

/// Runs the sweep, then renders its figures.
fn run_sweep(args: SweepArgs) -> ExitCode {
    if let Err(e) = sweep::raise_own_limit() {
        eprintln!("timelab sweep: cannot raise the descriptor limit: {e}");
        return ExitCode::FAILURE;
    }
    let here = match std::env::current_exe() {
        Ok(path) => path,
        Err(e) => {
            eprintln!("timelab sweep: cannot find this program: {e}");
            return ExitCode::FAILURE;
        }
    };
    let bin_dir = args
        .bin_dir
        .or_else(|| here.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let options = sweep::Options {
        out: args.out.clone(),
        parts: if args.only.is_empty() {
            vec![Part::Time, Part::Http, Part::Failures, Part::Idle]
        } else {
            args.only
        },
        scale: args.scale,
        timelab: here,
        bin_dir,
        progress: !args.quiet,
    };
    match sweep::run(&options) {
        Ok(paths) => {
            for path in paths {
                println!("wrote {}", path.display());
            }
        }
        Err(e) => {
            eprintln!("timelab sweep: {e}");
            return ExitCode::FAILURE;
        }
    }
    if args.no_figures {
        ExitCode::SUCCESS
    } else {
        render_figures(&args.out)
    }
}

/// Renders the figures from the data in `data`, beside it.
fn render_figures(data: &Path) -> ExitCode {
    match figures::write(data, data) {
        Ok(paths) => {
            for path in paths {
                println!("wrote {}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("timelab figures: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the client and prints its report; exits with 2 if no run could be made (options refused,
/// no pool, no program to start), and with success whenever a report is printed, whatever it says.
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

fn serve(port: u16, backlog: u32, model: Model, config: Config) -> ExitCode {
    let listener = match listener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), backlog) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match model {
        Model::Pool | Model::Threads => serve_blocking(&listener, model, config),
        Model::TokioCurrent | Model::TokioMulti => serve_async(listener, model, config),
    }
}

fn serve_blocking(listener: &TcpListener, model: Model, config: Config) -> ExitCode {
    let started = listener.local_addr().and_then(|addr| {
        println!("Listening on {addr}");
        let (incoming, stop) = stoppable(listener)?;
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
    if model == Model::Threads {
        let (served, no_thread) =
            server::serve_thread_per_connection(incoming, config.idle_timeout);
        println!(
            "Shut down after serving {served} connections; {no_thread} could not get a thread."
        );
        return ExitCode::SUCCESS;
    }
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

fn serve_async(listener: TcpListener, model: Model, config: Config) -> ExitCode {
    let flavor = match model {
        Model::TokioMulti => Flavor::MultiThread {
            workers: config.workers,
        },
        _ => Flavor::CurrentThread,
    };
    let limits = async_server::Config {
        max_connections: config.waiting,
        idle_timeout: config.idle_timeout,
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    if let Err(e) = on_signal(move || {
        let _ = stop_tx.send(());
    }) {
        eprintln!("cannot set up the graceful shutdown: {e}");
        return ExitCode::FAILURE;
    }
    match listener.local_addr() {
        Ok(addr) => println!("Listening on {addr}"),
        Err(e) => {
            eprintln!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    }
    println!("Ctrl-C or SIGTERM stops the server gracefully.");
    let stop = async move {
        let _ = stop_rx.await;
    };
    match async_server::run(listener, flavor, limits, stop) {
        Ok(report) => {
            println!(
                "Shut down after serving {} connections; {} were refused as busy.",
                report.served, report.refused
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Calls `stop` on the first SIGINT or SIGTERM; a second one ends the process at once.
#[cfg(unix)]
fn on_signal(stop: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::iterator::Signals;

    let stopping = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&stopping))?;
    }
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("signals".to_owned())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                eprintln!("Received signal {signal}: finishing open connections, then exiting.");
                stopping.store(true, Ordering::SeqCst);
                stop();
            }
        })?;
    Ok(())
}

/// Signals are a Unix notion; elsewhere the server stops only when its process is ended.
#[cfg(not(unix))]
fn on_signal(_stop: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    Ok(())
}
