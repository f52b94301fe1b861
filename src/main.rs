//! `poolbook`: builds the workbook's book and serves it with the reader's own server.
//!
//! `cargo run --release` at the top of the workspace builds `book/` and serves it on
//! <http://127.0.0.1:7878/> until Ctrl-C. See `poolbook --help` for the options.

use std::error::Error;
use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use poolbook::book::{self, Diagnostic};
use poolbook::serve::Server;
use poolbook_http::signals::stop_on_signals;

/// The port the book is served on unless `--port` says otherwise.
const DEFAULT_PORT: u16 = 7878;

/// Builds the poolbook workbook and serves it on 127.0.0.1.
///
/// Without a command, runs `serve`: `poolbook --port 0` is `poolbook serve --port 0`.
#[derive(Debug, Parser)]
#[command(name = "poolbook", version)]
// A bare `poolbook` takes `serve`'s options, so they may not be mixed with a command's own.
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

/// The runner's commands. More will come with the exercises; each gets a variant here.
#[derive(Debug, Subcommand)]
enum Command {
    /// Build the book and serve it until Ctrl-C.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Port to listen on, on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// Serve the last build instead of building the book first.
    #[arg(long)]
    no_build: bool,
    /// Build into, and serve from, DIR instead of the book's own build folder (book/book).
    ///
    /// A second runner, such as the one the tests start, can then build without changing the
    /// files a first one is serving. DIR must be missing, empty or an earlier build, because
    /// mdBook empties it first.
    #[arg(long, value_name = "DIR")]
    dest: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Some(Command::Serve(args)) => serve(args),
        None => serve(&cli.serve),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report(&*error);
            ExitCode::FAILURE
        }
    }
}

/// `poolbook serve`: build, bind, serve until a signal, then say so.
fn serve(args: &ServeArgs) -> Result<(), Box<dyn Error>> {
    // Bind before building, so a port in use is reported at once rather than after the build.
    let listener = bind(args.port)?;
    let book_root = book::default_root();
    let dest = args.dest.as_deref();
    let html_dir = if args.no_build {
        existing_build(&book_root, dest)?
    } else {
        build(&book_root, dest)?
    };
    let server = Server::new(&listener, &html_dir)?;

    // The handler must be in place before the address is printed: whoever reads it may signal
    // at once, and without a handler a signal kills the process instead of stopping it.
    // A second signal while stopping exits at once (status 130), so a stuck stop can be cut short.
    stop_on_signals(server.stop_handle())
        .map_err(|e| format!("cannot install the Ctrl-C handler: {e}"))?;

    let addr = listener.local_addr()?;
    say(&format!("Serving the book at http://{addr}/"));
    eprintln!("Press Ctrl-C to stop.");
    server
        .run()
        .map_err(|e| format!("cannot start the server's thread pool: {e}"))?;
    say("Stopped.");
    Ok(())
}

fn bind(port: u16) -> Result<TcpListener, String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpListener::bind(addr).map_err(|e| {
        let hint = if e.kind() == io::ErrorKind::AddrInUse {
            // A chapter's own server defaults to the same port.
            "; is another server running there? Stop it, or choose another port with \
             `--port N` (`--port 0` picks a free one)"
        } else {
            ""
        };
        format!("cannot listen on {addr}: {e}{hint}")
    })
}

fn build(book_root: &Path, dest: Option<&Path>) -> Result<PathBuf, book::BuildError> {
    eprintln!("Building the book in {}", book_root.display());
    let built = match dest {
        Some(dest) => book::build_into(book_root, dest),
        None => book::build(book_root),
    };
    match built {
        Ok(built) => {
            show(&built.diagnostics);
            if !built.diagnostics.is_empty() {
                eprintln!(
                    "mdBook reported {} problem(s) above; the book is served anyway, but some \
                     pages may be incomplete",
                    built.diagnostics.len()
                );
            }
            Ok(built.html_dir)
        }
        Err(error) => {
            show(error.diagnostics());
            Err(error)
        }
    }
}

/// The folder of an earlier build, for `--no-build`.
fn existing_build(book_root: &Path, dest: Option<&Path>) -> Result<PathBuf, Box<dyn Error>> {
    let html_dir = book::html_dir(book_root, dest)?;
    if !html_dir.join("index.html").is_file() {
        let error = format!(
            "there is no built book in {}; run without --no-build to build it",
            html_dir.display()
        );
        return Err(error.into());
    }
    Ok(html_dir)
}

fn show(diagnostics: &[Diagnostic]) {
    for diagnostic in diagnostics {
        eprintln!("mdBook {diagnostic}");
    }
}

/// Prints a line on stdout, where scripts and tests look for it.
///
/// Best effort: a closed stdout must not stop the server, and there is nowhere to report it.
fn say(line: &str) {
    let mut stdout = io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// Prints an error and everything that caused it, one per line.
fn report(error: &dyn Error) {
    eprintln!("error: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        eprintln!("  caused by: {cause}");
        source = cause.source();
    }
}
