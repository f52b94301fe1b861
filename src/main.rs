//! `poolbook`: builds the workbook's book and serves it with the reader's own server, and runs the
//! chapter exercises.
//!
//! `cargo run --release` at the top of the workspace builds `book/` and serves it on
//! <http://127.0.0.1:7878/> until Ctrl-C; `cargo run -- exercises` lists the exercises, and
//! `start`, `check`, `hint` and `solution` work on one. See `poolbook --help`.

use std::error::Error;
use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::{Args, Parser, Subcommand};
use poolbook::book::{self, Diagnostic};
use poolbook::check::{Checker, ProgressLine};
use poolbook::exercise::{self, Checked, Workbook};
use poolbook::serve::Server;
use poolbook::watch::{self, Ending};
use poolbook_http::signals::stop_on_signals;

/// The port the book is served on unless `--port` says otherwise.
const DEFAULT_PORT: u16 = 7878;

/// The listen backlog: connections the kernel completes and holds until the server accepts
/// them. The serving stage stops accepting while its waiting room is full (back-pressure, stage
/// 22), so this is where a burst waits; std's default of 128 would have the kernel drop the
/// handshakes of a thousand readers at once, to be retried a second later. Linux caps it at
/// `net.core.somaxconn` (4,096 since Linux 5.4).
const BACKLOG: u32 = 4096;

/// Builds the poolbook workbook and serves it on 127.0.0.1, and runs its exercises.
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
    /// The workbook to use instead of the one this runner was built in (for tests).
    #[arg(long, value_name = "DIR", global = true, hide = true)]
    workbook: Option<PathBuf>,
}

/// The runner's commands; each is a variant here and a function below.
#[derive(Debug, Subcommand)]
enum Command {
    /// Build the book and serve it until Ctrl-C.
    Serve(ServeArgs),
    /// List the exercises, with their status.
    #[command(visible_alias = "list")]
    Exercises,
    /// Start exercise N: make your working copy (stage N-1's code, stage N's tests).
    Start {
        /// The exercise's number (its chapter's).
        number: u32,
        /// Start over: move an existing copy aside (to exercises/chNN-….old-1) first.
        #[arg(long)]
        force: bool,
    },
    /// Put back the starting copy of exercise N (yours is moved aside, not deleted).
    #[command(group = clap::ArgGroup::new("which").required(true))]
    Reset {
        /// The exercise's number.
        #[arg(group = "which")]
        number: Option<u32>,
        /// Reset every started exercise, after asking.
        #[arg(long, group = "which")]
        all: bool,
        /// With `--all`: do not ask.
        #[arg(long, conflicts_with = "number")]
        yes: bool,
    },
    /// Build and test your copy of exercise N: tests, properties, then loom models.
    Check {
        /// The exercise's number.
        number: u32,
    },
    /// Check exercise N (or the current one), then again on every save; keys: h hint, l list,
    /// c check all, x reset, q quit.
    Watch {
        /// The exercise's number; without it, the first started exercise not passing yet.
        number: Option<u32>,
    },
    /// Show the next hint for exercise N.
    Hint {
        /// The exercise's number.
        number: u32,
    },
    /// Show the book's solution to exercise N, as a diff from your copy.
    Solution {
        /// The exercise's number.
        number: u32,
    },
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
    let workbook = cli
        .workbook
        .clone()
        .map_or_else(Workbook::default_root, Workbook::new);
    let result = match &cli.command {
        Some(Command::Serve(args)) => serve(args, &workbook),
        None => serve(&cli.serve, &workbook),
        Some(Command::Exercises) => list(&workbook),
        Some(Command::Start { number, force }) => start(&workbook, *number, *force),
        Some(Command::Reset { number, all, yes }) => match number {
            Some(number) => reset(&workbook, *number),
            None if *all => reset_all(&workbook, *yes),
            None => unreachable!("clap requires a number or --all"),
        },
        Some(Command::Check { number }) => check(&workbook, *number),
        Some(Command::Watch { number }) => watch(&workbook, *number),
        Some(Command::Hint { number }) => hint(&workbook, *number),
        Some(Command::Solution { number }) => solution(&workbook, *number),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The summary has said why.
        Err(error) if error.is::<NotYet>() => ExitCode::FAILURE,
        Err(error) => {
            report(&*error);
            ExitCode::FAILURE
        }
    }
}

/// `poolbook serve`: build, bind, serve until a signal, then say so.
fn serve(args: &ServeArgs, workbook: &Workbook) -> Result<(), Box<dyn Error>> {
    // Bind before building, so a port in use is reported at once rather than after the build.
    let listener = bind(args.port)?;
    let book_root = book::default_root();
    let dest = args.dest.as_deref();
    let html_dir = if args.no_build {
        existing_build(&book_root, dest)?
    } else {
        build(&book_root, dest)?
    };
    let server = Server::new(&listener, &html_dir)?.with_progress(workbook.clone());

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

/// `poolbook exercises`: one line per exercise.
fn list(workbook: &Workbook) -> Result<(), Box<dyn Error>> {
    let listed = exercise::list(workbook)?;
    let mut stdout = io::stdout().lock();
    for item in &listed {
        writeln!(stdout, "{}", item.line())?;
    }
    writeln!(
        stdout,
        "\nStart one with `cargo run -- start N`; check it with `cargo run -- check N`."
    )?;
    Ok(())
}

/// `poolbook start N`: make the copy, then say what to do.
fn start(workbook: &Workbook, number: u32, force: bool) -> Result<(), Box<dyn Error>> {
    let started = exercise::start(workbook, number, force)?;
    let copy = workbook.show(&started.copy);
    let mut stdout = io::stdout().lock();
    if let Some(aside) = &started.moved_aside {
        writeln!(
            stdout,
            "Moved your earlier copy to {}.",
            workbook.show(aside).display()
        )?;
    }
    writeln!(
        stdout,
        "Exercise {number}: {}\n\nYour copy is {}: the code of chapter {} (chapters/{}), with \
         the tests of chapter {number}.\n",
        started.task.title,
        copy.display(),
        number - 1,
        started.exercise.previous().name(),
    )?;
    writeln!(stdout, "{}", started.task.body().trim_end())?;
    writeln!(
        stdout,
        "\nEdit the files under {}/src, then check your work with:\n\n    cargo run -- check \
         {number}\n\nStuck? `cargo run -- hint {number}` shows one hint at a time.",
        copy.display()
    )?;
    Ok(())
}

/// `poolbook reset N`: the starting copy again, the old one aside.
fn reset(workbook: &Workbook, number: u32) -> Result<(), Box<dyn Error>> {
    let reset = exercise::reset(workbook, number)?;
    let mut stdout = io::stdout().lock();
    writeln!(
        stdout,
        "Exercise {number} is back to its starting code in {}.",
        workbook.show(&reset.copy).display()
    )?;
    if let Some(aside) = &reset.moved_aside {
        writeln!(
            stdout,
            "Your copy was moved to {}.",
            workbook.show(aside).display()
        )?;
    }
    Ok(())
}

/// `poolbook reset --all`: every started exercise, after the reader says yes.
fn reset_all(workbook: &Workbook, yes: bool) -> Result<(), Box<dyn Error>> {
    let started = exercise::started(workbook)?;
    if started.is_empty() {
        say("No exercise has been started, so there is nothing to reset.");
        return Ok(());
    }
    let numbers: Vec<String> = started.iter().map(|e| e.number().to_string()).collect();
    if !yes {
        let question = format!(
            "Reset exercise{} {} to the starting code? Each copy is moved aside (to \
             exercises/chNN-….old-N), not deleted. [y/N] ",
            if numbers.len() == 1 { "" } else { "s" },
            numbers.join(", ")
        );
        if !confirm(&question)? {
            return Err("not reset: that needs a yes (y); nothing was changed".into());
        }
    }
    for exercise in &started {
        reset(workbook, exercise.number())?;
    }
    Ok(())
}

/// Asks `question` on stderr and reads the answer from stdin: true for `y` or `yes`.
///
/// Anything else is a no, and so is a closed stdin, so a script that pipes nothing in changes
/// nothing.
fn confirm(question: &str) -> io::Result<bool> {
    eprint!("{question}");
    io::stderr().flush()?;
    let mut answer = String::new();
    io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim().to_lowercase().as_str(), "y" | "yes"))
}

/// `poolbook check N`: build and test the copy, record the result, and summarise it.
fn check(workbook: &Workbook, number: u32) -> Result<(), Box<dyn Error>> {
    let exercise = workbook.exercise(number)?;
    let copy = workbook.copy_dir(&exercise);
    if !copy.is_dir() {
        return Err(exercise::Error::NotStarted {
            number,
            copy: workbook.show(&copy),
        }
        .into());
    }
    // Read before the long check, so a broken progress file is reported before, not after it.
    let mut progress = workbook.progress()?;
    // Ctrl-C stops the check and everything it started (the tests run in a process group of
    // their own, which the terminal's Ctrl-C does not reach).
    let interrupted = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&interrupted))
            .map_err(|e| format!("cannot install the Ctrl-C handler: {e}"))?;
    }
    let checker =
        Checker::new(workbook.target_dir(), workbook.loom_target_dir()).interrupt_on(interrupted);
    eprintln!(
        "Checking exercise {number} in {}",
        workbook.show(&copy).display()
    );
    let outcome = checker.check(&copy, exercise.has_loom_models(), &mut ProgressLine::new())?;
    progress.record_mut(&exercise).checked = Some(if outcome.passed() {
        Checked::Passing
    } else {
        Checked::Failing
    });
    progress.save(&workbook.progress_path())?;
    let next = workbook.exercise(number + 1).ok().map(|next| next.number());
    // Paths inside the workbook (a panic in the test kit) are shown from its root, as the
    // reader's own files already are from their copy's.
    let root = format!("{}/", workbook.root().display());
    let summary = outcome.summary(number, &workbook.show(&copy), next);
    print!("{}", summary.replace(&root, ""));
    if outcome.passed() {
        Ok(())
    } else {
        Err(NotYet.into())
    }
}

/// `poolbook watch [N]`: check, then check again on every save, until `q` or Ctrl-C.
fn watch(workbook: &Workbook, number: Option<u32>) -> Result<(), Box<dyn Error>> {
    let checker = Checker::new(workbook.target_dir(), workbook.loom_target_dir());
    match watch::run_in_terminal(workbook, number, checker)? {
        Ending::Quit => Ok(()),
        Ending::Stopped => Err(exercise::Error::Interrupted.into()),
    }
}

/// `check` found the exercise unfinished: the summary said it all, but the exit status must say
/// it too, for scripts.
#[derive(Debug)]
struct NotYet;

impl std::fmt::Display for NotYet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not passing yet")
    }
}

impl Error for NotYet {}

/// `poolbook hint N`: the next hint.
fn hint(workbook: &Workbook, number: u32) -> Result<(), Box<dyn Error>> {
    let (exercise, task, hint) = exercise::hint(workbook, number)?;
    let mut stdout = io::stdout().lock();
    let another = format!("`cargo run -- hint {number}`");
    writeln!(stdout, "{}", hint.message(number, &task.title, &another))?;
    if !workbook.copy_dir(&exercise).exists() {
        writeln!(
            stdout,
            "\n(You have not started this exercise yet: `cargo run -- start {number}`.)"
        )?;
    }
    Ok(())
}

/// `poolbook solution N`: the diff to the reference stage.
fn solution(workbook: &Workbook, number: u32) -> Result<(), Box<dyn Error>> {
    let solution = exercise::solution(workbook, number)?;
    let reference = format!("chapters/{}/src", solution.exercise.stage().name());
    let from = match &solution.from_copy {
        Some(copy) => format!("your copy, {}/src", workbook.show(copy).display()),
        None => format!(
            "the code exercise {number} starts from (chapters/{}/src; you have no copy yet)",
            solution.exercise.previous().name()
        ),
    };
    let mut stdout = io::stdout().lock();
    if solution.diff.is_empty() {
        writeln!(
            stdout,
            "No difference between {from} and the book's solution, {reference}."
        )?;
    } else {
        writeln!(
            stdout,
            "The book's solution to exercise {number}: what changes from {from} to {reference}.\n"
        )?;
        write!(stdout, "{}", solution.diff)?;
    }
    Ok(())
}

fn bind(port: u16) -> Result<TcpListener, String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    poolbook_http::listener::bind(addr, BACKLOG).map_err(|e| {
        let hint = if e.kind() == io::ErrorKind::AddrInUse {
            // Another runner, or a chapter's server started with `--port 7878`, may hold it.
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
