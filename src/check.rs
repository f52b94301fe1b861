//! Checking a copy of an exercise: build it, run its tests, then its loom models, and say what a
//! newcomer should look at first.
//!
//! Cargo runs as a child process with a watchdog, in a process group of its own, so that a test
//! that hangs (a deadlocked pool) is killed with every process it started, and becomes an
//! [`Outcome::TimedOut`] instead of a check that never ends.
//!
//! The build runs first, alone, with `--message-format=json`: Cargo then reports each compiler
//! diagnostic as a message whose `rendered` field is exactly what the compiler would have printed,
//! so the first error can be shown as it is. The tests then run with Cargo's normal output, which
//! is libtest's, read line by line.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::exercise::Error;
use crate::scratch;

/// How long one Cargo command may take before the check gives up on it. Generous: a first build
/// compiles the dependencies, and the loom models explore thousands of interleavings.
pub const DEFAULT_WATCHDOG: Duration = Duration::from_secs(15 * 60);
/// How often the wait for Cargo's output looks at the interrupt flag.
const INTERRUPT_POLL: Duration = Duration::from_millis(100);
/// How long to wait for the last output after Cargo's process group was killed.
const DRAIN: Duration = Duration::from_secs(5);
/// What Cargo's messages about a missing toolchain or component say (from rustup, or from Cargo
/// failing to run `rustc`).
const TOOLCHAIN_TROUBLE: [&str; 4] = [
    "is not installed for the toolchain",
    "is not installed",
    "rustup component add",
    "could not execute process `rustc",
];

/// A part of the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `cargo test --no-run`: the code and its tests compile.
    Build,
    /// `cargo test`: unit tests, integration tests, properties, doc tests.
    Tests,
    /// The loom models' build (`--cfg loom`, `--profile loom`).
    LoomBuild,
    /// The loom models.
    LoomModels,
}

impl Phase {
    /// The command a reader types in the copy's folder to run this part alone.
    pub fn command(self) -> &'static str {
        match self {
            Phase::Build | Phase::Tests => "cargo test",
            Phase::LoomBuild | Phase::LoomModels => {
                "RUSTFLAGS=\"--cfg loom\" cargo test --profile loom --test loom"
            }
        }
    }

    fn is_loom(self) -> bool {
        matches!(self, Phase::LoomBuild | Phase::LoomModels)
    }
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Everything built and passed.
    Passed {
        /// Tests that passed (`cargo test`).
        tests: usize,
        /// Loom models that passed, if the exercise has them.
        models: Option<usize>,
    },
    /// The code (or its tests) does not compile.
    CompileError {
        /// [`Phase::Build`] or [`Phase::LoomBuild`].
        phase: Phase,
        /// The first error, as the compiler prints it.
        first: String,
        /// How many errors there were.
        errors: usize,
    },
    /// A test or a model failed.
    TestFailed {
        /// [`Phase::Tests`] or [`Phase::LoomModels`].
        phase: Phase,
        /// The first failing test's name.
        test: String,
        /// Where it is: `tests/server.rs`, `src/lib.rs` (unit tests), `doc tests`.
        file: Option<String>,
        /// Its panic: the `panicked at` line and the message. That is the panic of the test's own
        /// thread, unless `other_thread` says otherwise.
        message: String,
        /// `Some(name)` when the test's own thread did not panic (it returned an error, say) and
        /// `message` is the first panic of another thread, `name`, in the test's output.
        other_thread: Option<String>,
        /// The other panics in the test's output, each as its `panicked at` line and the first
        /// line of its message: those before the test's own panic, or, when `other_thread` is set,
        /// those after the one shown.
        context: Vec<String>,
        /// How many failed.
        failed: usize,
        /// How many ran.
        ran: usize,
    },
    /// Cargo failed without a compiler error or a failing test to show (a test binary that
    /// aborted, a broken manifest): the end of what it printed.
    Failed {
        /// The phase.
        phase: Phase,
        /// The last lines of Cargo's output.
        output: String,
    },
    /// A test ran for over 60 seconds (libtest says so), so the run was stopped: outside the loom
    /// models, no test of the workbook comes near that unless it waits for something that never
    /// happens.
    Stuck {
        /// [`Phase::Tests`].
        phase: Phase,
        /// The tests libtest reported.
        tests: Vec<String>,
    },
    /// A command did not finish within the watchdog's limit.
    TimedOut {
        /// The phase.
        phase: Phase,
        /// The limit.
        limit: Duration,
        /// Tests libtest reported as running for a long time.
        slow: Vec<String>,
    },
}

impl Outcome {
    /// Whether everything passed.
    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Passed { .. })
    }

    /// A summary for the reader of exercise `number`, whose copy is `copy` (as shown to them);
    /// `next` is the next exercise's number, if there is one. What to do next is said as
    /// commands (see [`Advice::commands`]).
    pub fn summary(&self, number: u32, copy: &Path, next: Option<u32>) -> String {
        self.summary_with(number, copy, &Advice::commands(number, next))
    }

    /// A summary as [`Outcome::summary`], with `advice` on what to do next.
    pub fn summary_with(&self, number: u32, copy: &Path, advice: &Advice) -> String {
        let copy = copy.display();
        let again = &advice.again;
        match self {
            Outcome::Passed { tests, models } => {
                let models = match models {
                    Some(n) => format!(" and {n} loom model{}", plural(*n)),
                    None => String::new(),
                };
                let next = &advice.next;
                format!(
                    "Exercise {number} passes: {tests} test{}{models}. Well done!\n\
                     Compare with the book's solution: `cargo run -- solution {number}`.\n{next}\n",
                    plural(*tests)
                )
            }
            Outcome::CompileError {
                phase,
                first,
                errors,
            } => {
                let under = if phase.is_loom() {
                    " under loom (`--cfg loom`)"
                } else {
                    ""
                };
                let more = match errors {
                    0 | 1 => String::new(),
                    n => format!(
                        "\n{} more error{} after this one; the first often causes the others. \
                         All of them: `{}` in {copy}.\n",
                        n - 1,
                        plural(n - 1),
                        phase.command()
                    ),
                };
                format!(
                    "Exercise {number} does not compile{under} yet. The compiler's first \
                     error:\n\n{}\n{more}\n{again}\n",
                    first.trim_end()
                )
            }
            Outcome::TestFailed {
                phase,
                test,
                file,
                message,
                other_thread,
                context,
                failed,
                ran,
            } => {
                let file = match file {
                    Some(file) => format!(" ({file})"),
                    None => String::new(),
                };
                let what = if phase.is_loom() {
                    "loom model"
                } else {
                    "test"
                };
                let whose = match other_thread {
                    Some(thread) => format!(
                        "Its own thread did not panic, so this is the first panic of another \
                         thread, `{thread}`, in its output; it may not be why the {what} \
                         failed:\n\n"
                    ),
                    None => String::new(),
                };
                let context = if context.is_empty() {
                    String::new()
                } else {
                    let when = if other_thread.is_some() {
                        "After it"
                    } else {
                        "Before it"
                    };
                    format!(
                        "\n\n{when}, other threads panicked ({}):\n{}",
                        context.len(),
                        other_panics(context)
                    )
                };
                format!(
                    "Exercise {number} is not done yet: {failed} of {ran} {what}s fail{}. The \
                     first, `{test}`{file}:\n\n{whose}{}{context}\n\nEvery failure: `{}` in \
                     {copy}.\n{again}\n",
                    if *failed == 1 { "s" } else { "" },
                    message.trim_end(),
                    phase.command()
                )
            }
            Outcome::Failed { phase, output } => format!(
                "Exercise {number}: `{}` failed in {copy}. The end of its output:\n\n{}\n\n{again}\n",
                phase.command(),
                output.trim_end()
            ),
            Outcome::Stuck { phase, tests } => format!(
                "Exercise {number} is not done yet: {} ran for over 60 seconds, so the check \
                 stopped {}. A test that does not end is usually waiting for something that \
                 never happens: a job no worker takes, a join on a thread that never exits, a \
                 lock that is never released. To watch it yourself: `{}` in {copy}.\n{again}\n",
                tests
                    .iter()
                    .map(|test| format!("`{test}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if tests.len() == 1 { "it" } else { "them" },
                phase.command()
            ),
            Outcome::TimedOut { phase, limit, slow } => {
                let slow = if slow.is_empty() {
                    String::new()
                } else {
                    format!(" Still running: {}.", slow.join(", "))
                };
                format!(
                    "Exercise {number}: `{}` did not finish within {} minutes, so it was \
                     stopped.{slow} A test that never ends usually waits for something that never \
                     happens: a worker that never receives, a join on a thread that never exits.\n\
                     {again}\n",
                    phase.command(),
                    limit.as_secs().div_ceil(60)
                )
            }
        }
    }
}

/// What a summary tells the reader to do next, which depends on how they checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    /// After a failure: how to check again, and where help is.
    pub again: String,
    /// After a pass: how to go on.
    pub next: String,
}

impl Advice {
    /// For `cargo run -- check N`: the commands to type.
    pub fn commands(number: u32, next: Option<u32>) -> Advice {
        Advice {
            again: format!(
                "Fix it and run `cargo run -- check {number}` again. Stuck? `cargo run -- hint \
                 {number}`."
            ),
            next: match next {
                Some(next) => format!("Next: `cargo run -- start {next}`."),
                None => LAST.to_owned(),
            },
        }
    }

    /// For `watch`: saving checks again, and keys do the rest.
    pub fn watch(next: Option<u32>) -> Advice {
        Advice {
            again: "Fix it and save: every save checks again. Stuck? Press h for a hint."
                .to_owned(),
            next: match next {
                Some(next) => format!(
                    "Press n to go on to exercise {next} (it is started for you if it is not \
                     yet), or keep editing: every save checks again."
                ),
                None => LAST.to_owned(),
            },
        }
    }
}

/// What a pass of the last exercise says.
const LAST: &str = "That was the last exercise: the pool is complete.";

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// How many other threads' panics a summary lists: a test of panic isolation makes a handful on
/// purpose, and they are only context for the failure.
const OTHER_PANICS_SHOWN: usize = 3;

/// The first [`OTHER_PANICS_SHOWN`] of `panics` (each a `panicked at` line and a message line),
/// indented under their heading, then how many more there were.
fn other_panics(panics: &[String]) -> String {
    let mut lines = Vec::new();
    for panic in panics.iter().take(OTHER_PANICS_SHOWN) {
        let mut panic = panic.lines();
        lines.extend(panic.next().map(|header| format!("  {header}")));
        lines.extend(panic.map(|line| format!("    {line}")));
    }
    if panics.len() > OTHER_PANICS_SHOWN {
        lines.push(format!(
            "  … and {} more",
            panics.len() - OTHER_PANICS_SHOWN
        ));
    }
    lines.join("\n")
}

/// What a check reports while it runs, for a progress display.
pub trait Observer {
    /// A phase begins.
    fn phase(&mut self, phase: Phase);
    /// Cargo finished compiling a crate.
    fn compiled(&mut self, name: &str);
    /// A test (or model) finished.
    fn test_finished(&mut self, name: &str, passed: bool);
    /// The check is over.
    fn finished(&mut self);
}

/// An [`Observer`] that shows nothing.
#[derive(Debug, Default)]
pub struct Quiet;

impl Observer for Quiet {
    fn phase(&mut self, _: Phase) {}
    fn compiled(&mut self, _: &str) {}
    fn test_finished(&mut self, _: &str, _: bool) {}
    fn finished(&mut self) {}
}

/// An [`Observer`] that shows one progress line on the terminal's stderr (nothing when stderr is
/// not a terminal).
#[derive(Debug)]
pub struct ProgressLine {
    bar: indicatif::ProgressBar,
    tests: usize,
    failed: usize,
}

impl ProgressLine {
    /// A progress line on stderr.
    pub fn new() -> ProgressLine {
        let bar = indicatif::ProgressBar::new_spinner();
        let style = indicatif::ProgressStyle::with_template("{spinner} {elapsed:>3} {msg}")
            .expect("the template is valid");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(120));
        ProgressLine {
            bar,
            tests: 0,
            failed: 0,
        }
    }
}

impl Default for ProgressLine {
    fn default() -> Self {
        ProgressLine::new()
    }
}

impl Observer for ProgressLine {
    fn phase(&mut self, phase: Phase) {
        self.tests = 0;
        self.failed = 0;
        self.bar.set_message(match phase {
            Phase::Build => "building",
            Phase::Tests => "running the tests",
            Phase::LoomBuild => "building the loom models",
            Phase::LoomModels => "running the loom models (this can take a minute)",
        });
    }

    fn compiled(&mut self, name: &str) {
        self.bar.set_message(format!("building: compiled {name}"));
    }

    fn test_finished(&mut self, name: &str, passed: bool) {
        self.tests += 1;
        if !passed {
            self.failed += 1;
        }
        self.bar.set_message(format!(
            "{} run, {} failed: {name}",
            self.tests, self.failed
        ));
    }

    fn finished(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// Runs the checks of a copy with one Cargo and a pair of target folders.
#[derive(Debug, Clone)]
pub struct Checker {
    cargo: OsString,
    target_dir: PathBuf,
    loom_target_dir: PathBuf,
    watchdog: Duration,
    interrupt: Option<Arc<AtomicBool>>,
}

impl Checker {
    /// A checker building into `target_dir` and, for loom, `loom_target_dir`, with the Cargo
    /// that runs this process and [`DEFAULT_WATCHDOG`].
    pub fn new(target_dir: impl Into<PathBuf>, loom_target_dir: impl Into<PathBuf>) -> Checker {
        Checker {
            cargo: scratch::cargo_program(),
            target_dir: target_dir.into(),
            loom_target_dir: loom_target_dir.into(),
            watchdog: DEFAULT_WATCHDOG,
            interrupt: None,
        }
    }

    /// Uses `program` as Cargo.
    pub fn cargo(mut self, program: impl Into<OsString>) -> Checker {
        self.cargo = program.into();
        self
    }

    /// Gives up on a Cargo command after `limit`.
    pub fn watchdog(mut self, limit: Duration) -> Checker {
        self.watchdog = limit;
        self
    }

    /// Stops (killing Cargo and everything it started) when `flag` becomes true, as a signal
    /// handler sets it.
    pub fn interrupt_on(mut self, flag: Arc<AtomicBool>) -> Checker {
        self.interrupt = Some(flag);
        self
    }

    /// Builds and tests the crate in `dir`, then, if `loom` and all passed, its loom models
    /// (`tests/loom.rs`).
    ///
    /// # Errors
    ///
    /// [`Error::Toolchain`] if Cargo cannot be run or waited for, or a toolchain component is
    /// missing; [`Error::Interrupted`]. A failing build or test is an [`Outcome`], not an error.
    pub fn check(
        &self,
        dir: &Path,
        loom: bool,
        observer: &mut dyn Observer,
    ) -> Result<Outcome, Error> {
        let result = self.check_phases(dir, loom, observer);
        observer.finished();
        result
    }

    fn check_phases(
        &self,
        dir: &Path,
        loom: bool,
        observer: &mut dyn Observer,
    ) -> Result<Outcome, Error> {
        let tests = match self.build_and_test(dir, false, observer)? {
            Ok(passed) => passed,
            Err(outcome) => return Ok(outcome),
        };
        let models = if loom {
            match self.build_and_test(dir, true, observer)? {
                Ok(passed) => Some(passed),
                Err(outcome) => return Ok(outcome),
            }
        } else {
            None
        };
        Ok(Outcome::Passed { tests, models })
    }

    /// Builds, then runs; `Ok(passed)` if everything passed, or the outcome that stopped it.
    fn build_and_test(
        &self,
        dir: &Path,
        loom: bool,
        observer: &mut dyn Observer,
    ) -> Result<Result<usize, Outcome>, Error> {
        let (build, run) = if loom {
            (Phase::LoomBuild, Phase::LoomModels)
        } else {
            (Phase::Build, Phase::Tests)
        };
        observer.phase(build);
        let mut diagnostics = Diagnostics::default();
        let ended = self.cargo_run(
            dir,
            loom,
            &["--no-run", "--message-format=json"],
            |stream, line| {
                if stream == Stream::Stdout {
                    diagnostics.read(line, observer);
                }
                true
            },
        )?;
        let output = match ended {
            Ended::TimedOut(output) => return Ok(Err(timed_out(build, self.watchdog, &output))),
            Ended::Exited(output) | Ended::Stopped(output) => output,
        };
        if let Some(first) = diagnostics.first_error {
            return Ok(Err(Outcome::CompileError {
                phase: build,
                first,
                errors: diagnostics.errors,
            }));
        }
        if !output.status.success() {
            if let Some(error) = toolchain_trouble(&output) {
                return Err(error);
            }
            // A manifest Cargo rejects, a dependency it cannot fetch: its own words.
            return Ok(Err(Outcome::Failed {
                phase: build,
                output: tail(&output.stderr, 20),
            }));
        }

        observer.phase(run);
        let mut report = TestReport::default();
        // loom models one at a time: two side by side ran slower than one after the other (the
        // workspace's tests/loom_models.rs measured it on stage 24's models: 34 s against 22 s).
        let args: &[&str] = if loom {
            &["--no-fail-fast", "--", "--test-threads=1"]
        } else {
            &["--no-fail-fast"]
        };
        let ended = self.cargo_run(dir, loom, args, |stream, line| {
            report.read(stream, line, observer);
            // Loom models may legitimately run for minutes; other tests never come near one.
            loom || report.slow.is_empty()
        })?;
        let output = match ended {
            Ended::TimedOut(output) => return Ok(Err(timed_out(run, self.watchdog, &output))),
            Ended::Stopped(_) => {
                return Ok(Err(Outcome::Stuck {
                    phase: run,
                    tests: report.slow.clone(),
                }));
            }
            Ended::Exited(output) => output,
        };
        if output.status.success() {
            return Ok(Ok(report.passed));
        }
        Ok(Err(report.outcome(run, &output)))
    }

    /// Runs `cargo test <args>` in `dir` (with loom's flags, profile and target folder if
    /// `loom`), passing every line of output to `on_line` as it comes; `on_line` returns `false`
    /// to stop the run.
    fn cargo_run(
        &self,
        dir: &Path,
        loom: bool,
        args: &[&str],
        mut on_line: impl FnMut(Stream, &str) -> bool,
    ) -> Result<Ended, Error> {
        let target = if loom {
            &self.loom_target_dir
        } else {
            &self.target_dir
        };
        let mut command = scratch::cargo_command_for(&self.cargo, target);
        command.arg("test").current_dir(dir);
        if loom {
            command
                .args(["--profile", "loom", "--test", "loom"])
                .env("RUSTFLAGS", "--cfg loom");
        }
        command.args(args);
        run_with_watchdog(
            command,
            self.watchdog,
            self.interrupt.as_deref(),
            &mut on_line,
        )
        .map_err(|error| match error {
            RunError::Spawn(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Error::Toolchain(format!(
                    "Cargo was not found (tried to run `{}`). Install Rust with rustup \
                     (https://rustup.rs); this workbook's rust-toolchain.toml then selects the \
                     right version",
                    self.cargo.to_string_lossy()
                ))
            }
            RunError::Spawn(e) => Error::Toolchain(format!(
                "cannot run `{}`: {e}",
                self.cargo.to_string_lossy()
            )),
            RunError::Interrupted => Error::Interrupted,
        })
    }
}

/// Cargo's stderr says rustc or a component is missing.
fn toolchain_trouble(output: &Output) -> Option<Error> {
    let stderr = output.stderr.join("\n");
    TOOLCHAIN_TROUBLE
        .iter()
        .any(|marker| stderr.contains(marker))
        .then(|| {
            Error::Toolchain(format!(
                "the Rust toolchain is incomplete. Cargo said:\n{}\n\nWith rustup, `rustup show` \
                 in this workbook installs the toolchain its rust-toolchain.toml names, and \
                 `rustup component add <name>` a missing component",
                stderr.trim_end()
            ))
        })
}

fn timed_out(phase: Phase, limit: Duration, output: &Output) -> Outcome {
    let slow = output
        .stdout
        .iter()
        .filter_map(|line| {
            line.strip_prefix("test ")?
                .strip_suffix(" has been running for over 60 seconds")
                .map(str::to_owned)
        })
        .collect();
    Outcome::TimedOut { phase, limit, slow }
}

/// The last `n` lines of `lines`.
fn tail(lines: &[String], n: usize) -> String {
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// One of Cargo's `--message-format=json` messages, as far as the check reads them.
#[derive(Debug, Deserialize)]
#[serde(tag = "reason")]
enum Message {
    #[serde(rename = "compiler-message")]
    Compiler { message: CompilerDiagnostic },
    #[serde(rename = "compiler-artifact")]
    Artifact { target: Target },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
struct CompilerDiagnostic {
    level: String,
    message: String,
    rendered: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Target {
    name: String,
}

/// The compiler errors of a build.
#[derive(Debug, Default)]
struct Diagnostics {
    first_error: Option<String>,
    /// Each error once: `cargo test` compiles the library twice (as itself, and with its unit
    /// tests), and a mistake in it is reported by both.
    seen: BTreeSet<String>,
    errors: usize,
}

impl Diagnostics {
    fn read(&mut self, line: &str, observer: &mut dyn Observer) {
        match serde_json::from_str::<Message>(line) {
            Ok(Message::Compiler { message }) => {
                // rustc ends with a summary that is itself an error: "aborting due to 2 previous
                // errors". It is not one to count or show.
                if message.level == "error" && !message.message.starts_with("aborting due to") {
                    let text = message.rendered.unwrap_or(message.message);
                    if self.seen.insert(text.clone()) {
                        self.errors += 1;
                        self.first_error.get_or_insert(text);
                    }
                }
            }
            Ok(Message::Artifact { target }) => observer.compiled(&target.name),
            Ok(Message::Other) | Err(_) => {}
        }
    }
}

/// What libtest's output says about a run.
#[derive(Debug, Default)]
struct TestReport {
    passed: usize,
    failed: Vec<String>,
    /// The integration test file or unit tests running, from Cargo's `Running …` lines.
    current: Option<String>,
    /// Where each failed test ran.
    failed_in: Vec<(String, Option<String>)>,
    slow: Vec<String>,
}

impl TestReport {
    fn read(&mut self, stream: Stream, line: &str, observer: &mut dyn Observer) {
        if stream == Stream::Stderr {
            let line = line.trim_start();
            if let Some(rest) = line.strip_prefix("Running ") {
                // "Running tests/server.rs (target/debug/deps/server-1234)"
                self.current = rest.split(" (").next().map(str::to_owned);
            } else if line.starts_with("Doc-tests ") {
                self.current = Some("doc tests".to_owned());
            }
            return;
        }
        let Some(rest) = line.strip_prefix("test ") else {
            return;
        };
        if let Some(name) = rest.strip_suffix(" ... ok") {
            self.passed += 1;
            observer.test_finished(name, true);
        } else if let Some(name) = rest.strip_suffix(" ... FAILED") {
            self.failed.push(name.to_owned());
            self.failed_in.push((name.to_owned(), self.current.clone()));
            observer.test_finished(name, false);
        } else if let Some(name) = rest.strip_suffix(" has been running for over 60 seconds") {
            self.slow.push(name.to_owned());
        }
    }

    fn outcome(&self, phase: Phase, output: &Output) -> Outcome {
        let (test, file, failure) = match self.failed_in.first() {
            Some((test, file)) => {
                let failure = failure_in_section(&output.stdout, test).or_else(|| {
                    [&output.stdout, &output.stderr]
                        .into_iter()
                        .find_map(|lines| failure_of(lines, |thread| thread == test))
                });
                (test.clone(), file.clone(), failure)
            }
            None => {
                // A test binary that aborted (a deadlock found by loom does that) never prints
                // its FAILED line; libtest then prints the test's output itself, and the test is
                // the one whose thread panicked. Other threads may have panicked first.
                let found = [&output.stdout, &output.stderr]
                    .into_iter()
                    .find_map(|lines| {
                        let test = panics(lines)
                            .into_iter()
                            .map(|panic| panic.thread)
                            .find(|thread| could_be_test(thread))?;
                        Some((test.to_owned(), failure_of(lines, |thread| thread == test)))
                    });
                let Some((test, failure)) = found else {
                    return Outcome::Failed {
                        phase,
                        output: tail(&output.stderr, 20),
                    };
                };
                (test, self.current.clone(), failure)
            }
        };
        let failure = failure.unwrap_or_else(|| Failure {
            message: "(it printed no panic message)".to_owned(),
            other_thread: None,
            context: Vec::new(),
        });
        Outcome::TestFailed {
            phase,
            test,
            file: file.filter(|_| !phase.is_loom()),
            message: failure.message,
            other_thread: failure.other_thread,
            context: failure.context,
            failed: self.failed.len().max(1),
            ran: self.passed + self.failed.len().max(1),
        }
    }
}

/// Why a test failed, as its output tells.
#[derive(Debug, PartialEq, Eq)]
struct Failure {
    /// A panic's report, or what the test printed if nothing panicked.
    message: String,
    /// The thread that panicked, when it is not the test's own.
    other_thread: Option<String>,
    /// Each other panic's `panicked at` line and first message line.
    context: Vec<String>,
}

/// The failure in libtest's `---- <test> stdout ----` section: the panic of the test's own
/// thread, or, if it did not panic, the first panic of another thread, or, if nothing panicked,
/// the whole section (`Error: …` from a test that returned an error, libtest's `note: test did not
/// panic as expected`).
fn failure_in_section(stdout: &[String], test: &str) -> Option<Failure> {
    let header = format!("---- {test} stdout ----");
    let start = stdout.iter().position(|line| *line == header)? + 1;
    let length = stdout[start..]
        .iter()
        .position(|line| line.starts_with("---- ") || line == "failures:")
        .unwrap_or(stdout.len() - start);
    let section = &stdout[start..start + length];
    // rustdoc runs each doc test as a program of its own, whose main thread is the test's.
    let doc_test = test.ends_with(')') && test.contains(" (line ");
    failure_of(section, |thread| {
        thread == test || (doc_test && thread == "main")
    })
    .or_else(|| {
        let text = section.join("\n").trim().to_owned();
        (!text.is_empty()).then_some(Failure {
            message: text,
            other_thread: None,
            context: Vec::new(),
        })
    })
}

/// The failure in `lines`: the first panic of a thread `is_own` accepts, with the other threads'
/// panics before it as context; failing that, the first panic of any thread, with the panics after
/// it.
fn failure_of(lines: &[String], is_own: impl Fn(&str) -> bool) -> Option<Failure> {
    let panics = panics(lines);
    let (shown, others, other_thread) = match panics.iter().position(|panic| is_own(panic.thread)) {
        // Panics after the test's own happened while it was already failing: they do not explain
        // it.
        Some(own) => (&panics[own], &panics[..own], None),
        None => {
            let first = panics.first()?;
            (first, &panics[1..], Some(first.thread.to_owned()))
        }
    };
    Some(Failure {
        message: shown.report.join("\n"),
        other_thread,
        context: others
            .iter()
            .map(|panic| {
                panic
                    .report
                    .iter()
                    .take(2)
                    .copied()
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .collect(),
    })
}

/// One panic in libtest's output.
#[derive(Debug)]
struct Panic<'a> {
    /// The thread's name: libtest names a test's thread after the test; other threads are
    /// `<unnamed>` unless their creator named them.
    thread: &'a str,
    /// The `panicked at` line and the message, without a note or a backtrace.
    report: Vec<&'a str>,
}

/// The panics reported in `lines`, in order.
fn panics(lines: &[String]) -> Vec<Panic<'_>> {
    let mut panics = Vec::new();
    let mut at = 0;
    while at < lines.len() {
        let Some((who, thread)) = panic_header(&lines[at]) else {
            at += 1;
            continue;
        };
        let mut report = vec![lines[at].as_str()];
        // Inside a note or a backtrace, which the report leaves out.
        let mut skipping = false;
        at += 1;
        while let Some(line) = lines.get(at) {
            if let Some((next, _)) = panic_header(line) {
                if !same_thread(next, who) {
                    break;
                }
                report.extend(["", line]);
                skipping = false;
            } else if line.trim().is_empty() {
                // The panic hook starts each report with a blank line, so one ends this report;
                // unless the same thread panics again next, in a destructor while it unwinds,
                // which is what makes a test binary abort and so part of the story.
                let next = lines[at..].iter().find(|line| !line.trim().is_empty());
                if !next
                    .and_then(|line| panic_header(line))
                    .is_some_and(|(next, _)| same_thread(next, who))
                {
                    break;
                }
            } else if skipping || line.starts_with("note: ") || line.starts_with("stack backtrace:")
            {
                skipping = true;
            } else {
                report.push(line);
            }
            at += 1;
        }
        panics.push(Panic { thread, report });
    }
    panics
}

/// The thread of a `thread '<name>' (<id>) panicked at <file>:<line>:<column>:` line: all before
/// ` panicked at`, and the name alone. Rust 1.95 prints the thread's id; earlier versions did not.
fn panic_header(line: &str) -> Option<(&str, &str)> {
    let (who, _) = line.split_once(" panicked at ")?;
    let name = who.strip_prefix("thread '")?;
    let name = match name.rsplit_once(" (") {
        Some((name, id))
            if id
                .strip_suffix(')')
                .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())) =>
        {
            name
        }
        _ => name,
    };
    Some((who, name.strip_suffix('\'')?))
}

/// Whether two panics' `thread '<name>' (<id>)` parts name the same thread: unnamed threads can
/// only be told apart by their ids.
fn same_thread(a: &str, b: &str) -> bool {
    a == b && a != "thread '<unnamed>'"
}

/// Whether a thread's name could be a test's: libtest names a test's thread after it, a path of
/// identifiers (`pool::tests::drop_joins`), while other threads are `<unnamed>`, named like
/// `pool-worker-0`, or the harness's `main`.
fn could_be_test(name: &str) -> bool {
    name != "main"
        && name.split("::").all(|part| {
            let mut chars = part.chars();
            chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
                && chars.all(|c| c == '_' || c.is_alphanumeric())
        })
}

/// Which output a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

/// Everything a command printed, and how it ended.
#[derive(Debug)]
struct Output {
    status: ExitStatus,
    stdout: Vec<String>,
    stderr: Vec<String>,
}

#[derive(Debug)]
enum Ended {
    Exited(Output),
    /// Killed by the watchdog; what it printed until then.
    TimedOut(Output),
    /// Killed because a line asked for it; what it printed until then.
    Stopped(Output),
}

#[derive(Debug)]
enum RunError {
    Spawn(std::io::Error),
    Interrupted,
}

/// What [`run_limited`] saw a command do.
#[derive(Debug)]
pub struct Limited {
    /// It was killed, with every process it started, when its time was up.
    pub timed_out: bool,
    /// It exited with status 0 (never, if it timed out).
    pub success: bool,
    /// Its standard output, one line per item.
    pub stdout: Vec<String>,
    /// Its standard error, one line per item.
    pub stderr: Vec<String>,
}

/// Runs `command`, in a process group of its own, until it ends or `limit` passes; then kills
/// it with every process it started (a `cargo test` and the test binary it runs, say). What a
/// test needs to run a program that may hang without hanging itself.
///
/// # Errors
///
/// If `command` cannot be started.
pub fn run_limited(command: Command, limit: Duration) -> std::io::Result<Limited> {
    let ended = run_with_watchdog(command, limit, None, &mut |_, _| true).map_err(|e| match e {
        RunError::Spawn(e) => e,
        // Nothing can interrupt it: there is no interrupt flag.
        RunError::Interrupted => std::io::Error::other("interrupted"),
    })?;
    let (timed_out, output) = match ended {
        Ended::Exited(output) | Ended::Stopped(output) => (false, output),
        Ended::TimedOut(output) => (true, output),
    };
    Ok(Limited {
        timed_out,
        success: !timed_out && output.status.success(),
        stdout: output.stdout,
        stderr: output.stderr,
    })
}

/// Runs `command` to its end, or until `limit` passes, `interrupt` is set or `on_line` returns
/// `false` for a line, in which cases it is killed with every process it started.
fn run_with_watchdog(
    mut command: Command,
    limit: Duration,
    interrupt: Option<&AtomicBool>,
    on_line: &mut dyn FnMut(Stream, &str) -> bool,
) -> Result<Ended, RunError> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // A group of its own, so that killing the group reaches the test binaries Cargo starts (and
    // the servers they start), not only Cargo. The runner's own Ctrl-C handler then stops it.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().map_err(RunError::Spawn)?;
    let (lines, received) = mpsc::channel();
    let readers = [
        forward_lines(child.stdout.take(), Stream::Stdout, lines.clone()),
        forward_lines(child.stderr.take(), Stream::Stderr, lines),
    ];
    let started = Instant::now();
    let mut output = (Vec::new(), Vec::new());
    let mut record = |stream: Stream, line: String, output: &mut (Vec<String>, Vec<String>)| {
        let go_on = on_line(stream, &line);
        match stream {
            Stream::Stdout => output.0.push(line),
            Stream::Stderr => output.1.push(line),
        }
        go_on
    };
    let mut stop: Option<RunError> = None;
    let mut timed_out = false;
    let mut stopped = false;
    loop {
        if interrupt.is_some_and(|flag| flag.load(Ordering::Relaxed)) {
            stop = Some(RunError::Interrupted);
            break;
        }
        let Some(left) = limit.checked_sub(started.elapsed()) else {
            timed_out = true;
            break;
        };
        let wait = if interrupt.is_some() {
            left.min(INTERRUPT_POLL)
        } else {
            left
        };
        match received.recv_timeout(wait) {
            Ok((stream, line)) => {
                if !record(stream, line, &mut output) {
                    stopped = true;
                    break;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            // Both pipes closed: the command and everything it started are done writing.
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    if timed_out || stopped || stop.is_some() {
        kill_group(&mut child);
        let drain_until = Instant::now() + DRAIN;
        while let Some(left) = drain_until.checked_duration_since(Instant::now()) {
            match received.recv_timeout(left) {
                Ok((stream, line)) => {
                    record(stream, line, &mut output);
                }
                Err(_) => break,
            }
        }
    }
    let status = child.wait().map_err(RunError::Spawn)?;
    for reader in readers {
        // A reader still blocked holds a pipe some escaped process keeps open; it ends with it.
        if reader.is_finished() {
            let _ = reader.join();
        }
    }
    if let Some(stop) = stop {
        return Err(stop);
    }
    let output = Output {
        status,
        stdout: output.0,
        stderr: output.1,
    };
    Ok(if timed_out {
        Ended::TimedOut(output)
    } else if stopped {
        Ended::Stopped(output)
    } else {
        Ended::Exited(output)
    })
}

fn forward_lines(
    pipe: Option<impl Read + Send + 'static>,
    stream: Stream,
    lines: mpsc::Sender<(Stream, String)>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let Some(pipe) = pipe else { return };
        let mut reader = BufReader::new(pipe);
        let mut buffer = Vec::new();
        // Lines are read as bytes: a test may print something that is not UTF-8.
        while let Ok(n) = reader.read_until(b'\n', &mut buffer) {
            if n == 0 {
                break;
            }
            let line = String::from_utf8_lossy(&buffer);
            let line = line.trim_end_matches(['\n', '\r']).to_owned();
            if lines.send((stream, line)).is_err() {
                break;
            }
            buffer.clear();
        }
    })
}

/// Kills `child`'s process group (it leads one, see [`run_with_watchdog`]), then `child` itself
/// in case the group could not be signalled.
fn kill_group(child: &mut Child) {
    #[cfg(unix)]
    {
        // `kill` rather than a system call: the workspace forbids `unsafe`, and the test kit
        // stops processes the same way.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exercise::tests::fixture;
    use crate::exercise::{Code, Workbook};
    use std::fs;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    /// What a run's output makes of a failure: `stderr` gives the test files, `stdout` libtest's
    /// report.
    fn outcome_of(stdout: &str, stderr: &str) -> Outcome {
        let mut report = TestReport::default();
        let output = Output {
            status: ExitStatus::default(),
            stdout: lines(stdout),
            stderr: lines(stderr),
        };
        for line in &output.stderr {
            report.read(Stream::Stderr, line, &mut Quiet);
        }
        for line in &output.stdout {
            report.read(Stream::Stdout, line, &mut Quiet);
        }
        report.outcome(Phase::Tests, &output)
    }

    #[test]
    fn a_failure_section_gives_the_panic_without_the_note() {
        let stdout = lines(
            "running 2 tests\ntest a ... ok\ntest b ... FAILED\n\nfailures:\n\n\
             ---- b stdout ----\n\nthread 'b' (123) panicked at tests/x.rs:3:5:\n\
             assertion `left == right` failed: stage 3\n  left: 1\n right: 2\n\
             note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n\n\n\
             failures:\n    b\n",
        );
        assert_eq!(
            failure_in_section(&stdout, "b"),
            Some(Failure {
                message: "thread 'b' (123) panicked at tests/x.rs:3:5:\nassertion `left == \
                          right` failed: stage 3\n  left: 1\n right: 2"
                    .to_owned(),
                other_thread: None,
                context: Vec::new(),
            })
        );
    }

    /// Exercise 7's starting code: the handlers the test makes panic on purpose panic on worker
    /// threads before the test's own assertion fails.
    const PANIC_ISOLATION: &str = "\nrunning 3 tests\n\
        test serves_others_while_one_request_is_held ... ok\n\
        test survives_panicking_handlers ... FAILED\n\
        test answers_hello ... ok\n\
        \n\
        failures:\n\
        \n\
        ---- survives_panicking_handlers stdout ----\n\
        \n\
        thread '<unnamed>' (41902) panicked at crates/testkit/src/conformance.rs:188:9:\n\
        a handler panicked, on purpose\n\
        note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n\
        \n\
        thread '<unnamed>' (41903) panicked at crates/testkit/src/conformance.rs:188:9:\n\
        a handler panicked, on purpose\n\
        \n\
        thread 'survives_panicking_handlers' (41899) panicked at \
        crates/testkit/src/conformance.rs:197:9:\n\
        assertion `left == right` failed\n  left: 500\n right: 200\n\
        \n\
        \n\
        failures:\n    survives_panicking_handlers\n\
        \n\
        test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; \
        finished in 0.52s\n";

    const SERVER_TESTS: &str =
        "     Running tests/server.rs (target/exercises/debug/deps/server-0123456789abcdef)";

    #[test]
    fn the_failure_is_the_test_threads_panic_not_the_workers_before_it() {
        let outcome = outcome_of(PANIC_ISOLATION, SERVER_TESTS);
        assert_eq!(
            outcome,
            Outcome::TestFailed {
                phase: Phase::Tests,
                test: "survives_panicking_handlers".to_owned(),
                file: Some("tests/server.rs".to_owned()),
                message: "thread 'survives_panicking_handlers' (41899) panicked at \
                          crates/testkit/src/conformance.rs:197:9:\n\
                          assertion `left == right` failed\n  left: 500\n right: 200"
                    .to_owned(),
                other_thread: None,
                context: vec![
                    "thread '<unnamed>' (41902) panicked at \
                     crates/testkit/src/conformance.rs:188:9:\n\
                     a handler panicked, on purpose"
                        .to_owned(),
                    "thread '<unnamed>' (41903) panicked at \
                     crates/testkit/src/conformance.rs:188:9:\n\
                     a handler panicked, on purpose"
                        .to_owned(),
                ],
                failed: 1,
                ran: 3,
            }
        );
        assert_eq!(
            outcome.summary(7, Path::new("exercises/ch07-panic-isolation"), Some(8)),
            "Exercise 7 is not done yet: 1 of 3 tests fails. The first, \
             `survives_panicking_handlers` (tests/server.rs):\n\
             \n\
             thread 'survives_panicking_handlers' (41899) panicked at \
             crates/testkit/src/conformance.rs:197:9:\n\
             assertion `left == right` failed\n  left: 500\n right: 200\n\
             \n\
             Before it, other threads panicked (2):\n\
             \x20 thread '<unnamed>' (41902) panicked at crates/testkit/src/conformance.rs:188:9:\n\
             \x20   a handler panicked, on purpose\n\
             \x20 thread '<unnamed>' (41903) panicked at crates/testkit/src/conformance.rs:188:9:\n\
             \x20   a handler panicked, on purpose\n\
             \n\
             Every failure: `cargo test` in exercises/ch07-panic-isolation.\n\
             Fix it and run `cargo run -- check 7` again. Stuck? `cargo run -- hint 7`.\n"
        );
    }

    /// A unit test's thread is named with its module path; before Rust 1.95 no thread id followed
    /// the name. Past three, the other panics are counted, not shown.
    #[test]
    fn the_test_thread_is_found_by_its_module_path_with_or_without_an_id() {
        let mut stdout = String::from(
            "running 1 test\n\
             test pool::tests::a_panicking_job_does_not_kill_its_worker ... FAILED\n\n\
             failures:\n\n\
             ---- pool::tests::a_panicking_job_does_not_kill_its_worker stdout ----\n",
        );
        for worker in 0..5 {
            stdout.push_str(&format!(
                "\nthread 'pool-worker-{worker}' panicked at src/pool.rs:88:13:\n\
                 job {worker} panics\non two lines\n"
            ));
        }
        stdout.push_str(
            "\nthread 'pool::tests::a_panicking_job_does_not_kill_its_worker' panicked at \
             src/pool.rs:140:9:\nthe pool lost a worker\n\n\
             thread 'pool-worker-5' panicked at src/pool.rs:88:13:\nafter the test's\n\n\n\
             failures:\n    pool::tests::a_panicking_job_does_not_kill_its_worker\n",
        );
        let outcome = outcome_of(
            &stdout,
            "     Running unittests src/lib.rs (target/debug/deps/ch07-0123456789abcdef)",
        );
        let Outcome::TestFailed {
            test,
            message,
            other_thread,
            context,
            ..
        } = &outcome
        else {
            panic!("{outcome:?}");
        };
        assert_eq!(
            test,
            "pool::tests::a_panicking_job_does_not_kill_its_worker"
        );
        assert_eq!(
            message,
            "thread 'pool::tests::a_panicking_job_does_not_kill_its_worker' panicked at \
             src/pool.rs:140:9:\nthe pool lost a worker"
        );
        assert_eq!(*other_thread, None);
        assert_eq!(context.len(), 5);
        assert_eq!(
            context[4],
            "thread 'pool-worker-4' panicked at src/pool.rs:88:13:\njob 4 panics"
        );
        let summary = outcome.summary(7, Path::new("exercises/ch07"), Some(8));
        assert!(
            summary.contains(
                "\n\nBefore it, other threads panicked (5):\n\
                 \x20 thread 'pool-worker-0' panicked at src/pool.rs:88:13:\n\
                 \x20   job 0 panics\n\
                 \x20 thread 'pool-worker-1' panicked at src/pool.rs:88:13:\n\
                 \x20   job 1 panics\n\
                 \x20 thread 'pool-worker-2' panicked at src/pool.rs:88:13:\n\
                 \x20   job 2 panics\n\
                 \x20 … and 2 more\n\nEvery failure:"
            ),
            "{summary}"
        );
    }

    /// A test that returned an error: only the workers panicked, and the summary says so.
    #[test]
    fn without_a_panic_of_its_own_the_first_panic_is_shown_as_another_threads() {
        let stdout = "running 1 test\ntest survives_panicking_handlers ... FAILED\n\n\
             failures:\n\n---- survives_panicking_handlers stdout ----\n\n\
             thread '<unnamed>' (501) panicked at crates/testkit/src/conformance.rs:188:9:\n\
             a handler panicked, on purpose\n\
             note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n\n\
             thread '<unnamed>' (502) panicked at crates/testkit/src/conformance.rs:188:9:\n\
             a handler panicked, on purpose\n\
             Error: \"no answer within 5s\"\n\n\n\
             failures:\n    survives_panicking_handlers\n";
        let outcome = outcome_of(stdout, SERVER_TESTS);
        let Outcome::TestFailed {
            message,
            other_thread,
            context,
            ..
        } = &outcome
        else {
            panic!("{outcome:?}");
        };
        assert_eq!(
            message,
            "thread '<unnamed>' (501) panicked at crates/testkit/src/conformance.rs:188:9:\n\
             a handler panicked, on purpose"
        );
        assert_eq!(other_thread.as_deref(), Some("<unnamed>"));
        assert_eq!(
            *context,
            [
                "thread '<unnamed>' (502) panicked at crates/testkit/src/conformance.rs:188:9:\n\
              a handler panicked, on purpose"
            ]
        );
        let summary = outcome.summary(7, Path::new("exercises/ch07"), Some(8));
        assert!(
            summary.starts_with(
                "Exercise 7 is not done yet: 1 of 1 tests fails. The first, \
                 `survives_panicking_handlers` (tests/server.rs):\n\n\
                 Its own thread did not panic, so this is the first panic of another thread, \
                 `<unnamed>`, in its output; it may not be why the test failed:\n\n\
                 thread '<unnamed>' (501) panicked at crates/testkit/src/conformance.rs:188:9:\n\
                 a handler panicked, on purpose\n\n\
                 After it, other threads panicked (1):\n\
                 \x20 thread '<unnamed>' (502) panicked at crates/testkit/src/conformance.rs:188:9:\n\
                 \x20   a handler panicked, on purpose\n\nEvery failure:"
            ),
            "{summary}"
        );
    }

    /// Without any panic, the section is what the test and libtest printed.
    #[test]
    fn a_section_without_a_panic_is_shown_whole() {
        let stdout = lines(
            "---- should_panic stdout ----\nnote: test did not panic as expected at \
             tests/x.rs:5:4\n\nfailures:\n",
        );
        assert_eq!(
            failure_in_section(&stdout, "should_panic").unwrap().message,
            "note: test did not panic as expected at tests/x.rs:5:4"
        );
    }

    /// rustdoc runs a doc test as a program: its main thread is the test's.
    #[test]
    fn a_doc_tests_main_thread_is_its_own() {
        let stdout = lines(
            "---- src/lib.rs - one (line 1) stdout ----\n\
             Test executable failed (exit status: 101).\n\nstderr:\n\n\
             thread 'main' (32361) panicked at /tmp/rustdoctest/doctest_bundle_2024.rs:6:1:\n\
             assertion `left == right` failed\n  left: 1\n right: 2\n\
             note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n\n\n\
             failures:\n",
        );
        let failure = failure_in_section(&stdout, "src/lib.rs - one (line 1)").unwrap();
        assert_eq!(failure.other_thread, None);
        assert!(
            failure
                .message
                .starts_with("thread 'main' (32361) panicked at"),
            "{failure:?}"
        );
    }

    /// A test binary that aborts prints no FAILED line: libtest prints the aborting test's output,
    /// in which worker threads may have panicked first, and a second panic of the test's thread,
    /// in a destructor, is why it aborted. With a backtrace on, its frames are left out.
    #[test]
    fn an_aborted_binarys_test_is_the_thread_that_looks_like_a_test() {
        let stdout = "\nrunning 2 tests\ntest fine ... ok\n\n\
             thread '<unnamed>' (32453) panicked at tests/abort.rs:5:35:\n\
             a handler panicked, on purpose\n\
             note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n\n\
             thread 'pool-worker-0' (32454) panicked at src/pool.rs:88:13:\njob panics\n\n\
             thread 'aborts' (32451) panicked at tests/abort.rs:7:5:\nfirst\n\n\
             thread 'aborts' (32451) panicked at tests/abort.rs:2:40:\ndrop panics\n\
             stack backtrace:\n   0: std::backtrace_rs::backtrace::libunwind::trace\n\
             \x20            at /rustc/library/std/src/backtrace.rs:117:9\n";
        let stderr = "     Running tests/abort.rs (target/debug/deps/abort-cad6ec122d11bdc4)\n\n\
             thread 'aborts' (32451) panicked at library/core/src/panicking.rs:233:5:\n\
             panic in a destructor during cleanup\n\
             thread caused non-unwinding panic. aborting.\n\
             error: test failed, to rerun pass `--test abort`";
        let outcome = outcome_of(stdout, stderr);
        assert_eq!(
            outcome,
            Outcome::TestFailed {
                phase: Phase::Tests,
                test: "aborts".to_owned(),
                file: Some("tests/abort.rs".to_owned()),
                message: "thread 'aborts' (32451) panicked at tests/abort.rs:7:5:\nfirst\n\n\
                          thread 'aborts' (32451) panicked at tests/abort.rs:2:40:\ndrop panics"
                    .to_owned(),
                other_thread: None,
                context: vec![
                    "thread '<unnamed>' (32453) panicked at tests/abort.rs:5:35:\n\
                     a handler panicked, on purpose"
                        .to_owned(),
                    "thread 'pool-worker-0' (32454) panicked at src/pool.rs:88:13:\njob panics"
                        .to_owned(),
                ],
                failed: 1,
                ran: 2,
            }
        );
        // When only worker threads panicked, no test can be named: Cargo's own words are shown.
        let workers_only = stdout.split("\n\nthread 'aborts'").next().unwrap();
        let stderr = stderr.replace("'aborts' (32451)", "'pool-worker-0' (32454)");
        let Outcome::Failed { output, .. } = outcome_of(workers_only, &stderr) else {
            panic!("not a plain failure");
        };
        assert!(output.ends_with("to rerun pass `--test abort`"), "{output}");
    }

    #[test]
    fn a_panic_line_gives_its_thread_with_or_without_an_id() {
        assert_eq!(
            panic_header("thread 'a::b' (1234) panicked at src/a.rs:1:2:"),
            Some(("thread 'a::b' (1234)", "a::b"))
        );
        assert_eq!(
            panic_header("thread 'a::b' panicked at src/a.rs:1:2:"),
            Some(("thread 'a::b'", "a::b"))
        );
        assert_eq!(
            panic_header("thread '<unnamed>' (7) panicked at src/a.rs:1:2:"),
            Some(("thread '<unnamed>' (7)", "<unnamed>"))
        );
        assert_eq!(panic_header("the thread panicked at noon"), None);
        assert!(could_be_test("pool::tests::drop_joins"));
        assert!(could_be_test("drop_joins"));
        for worker in ["<unnamed>", "pool-worker-0", "main", ""] {
            assert!(!could_be_test(worker), "{worker}");
        }
    }

    #[test]
    fn the_compiler_summary_is_not_an_error_to_show() {
        let mut diagnostics = Diagnostics::default();
        for line in [
            r#"{"reason":"compiler-artifact","target":{"name":"dep"},"fresh":true}"#,
            r#"{"reason":"compiler-message","message":{"level":"warning","message":"unused","rendered":"warning: unused\n"}}"#,
            r#"{"reason":"compiler-message","message":{"level":"error","message":"cannot find","rendered":"error[E0425]: cannot find\n"}}"#,
            r#"{"reason":"compiler-message","message":{"level":"error","message":"mismatched","rendered":"error[E0308]: mismatched\n"}}"#,
            r#"{"reason":"compiler-message","message":{"level":"error","message":"mismatched","rendered":"error[E0308]: mismatched\n"}}"#,
            r#"{"reason":"compiler-message","message":{"level":"error","message":"aborting due to 2 previous errors","rendered":"error: aborting\n"}}"#,
            r#"{"reason":"build-finished","success":false}"#,
            "not json",
        ] {
            diagnostics.read(line, &mut Quiet);
        }
        assert_eq!(
            diagnostics.first_error.as_deref(),
            Some("error[E0425]: cannot find\n")
        );
        assert_eq!(diagnostics.errors, 2);
    }

    #[test]
    fn summaries_say_what_to_do_next() {
        let copy = Path::new("exercises/ch05-shared-queue");
        let passed = Outcome::Passed {
            tests: 12,
            models: Some(3),
        };
        let text = passed.summary(5, copy, Some(6));
        assert!(
            text.starts_with("Exercise 5 passes: 12 tests and 3 loom models."),
            "{text}"
        );
        assert!(text.contains("`cargo run -- start 6`"), "{text}");
        assert!(passed.summary(10, copy, None).contains("last exercise"));

        let failed = Outcome::TestFailed {
            phase: Phase::LoomModels,
            test: "drop_joins".to_owned(),
            file: None,
            message: "thread 'drop_joins' panicked at src/pool.rs:1:1:\nboom".to_owned(),
            other_thread: None,
            context: Vec::new(),
            failed: 1,
            ran: 3,
        };
        let text = failed.summary(6, copy, Some(7));
        assert!(text.contains("1 of 3 loom models fails."), "{text}");
        assert!(
            text.contains("RUSTFLAGS=\"--cfg loom\" cargo test --profile loom"),
            "{text}"
        );
        assert!(text.contains("`cargo run -- hint 6`"), "{text}");
    }

    /// The fixture's exercise 3 (stage 2's code, stage 3's test) and its solution, built into a
    /// temporary target folder: a failing test, a pass, then a compile error.
    #[test]
    fn checks_a_copy_that_fails_passes_and_does_not_compile() {
        let dir = fixture();
        let workbook = Workbook::new(dir.path());
        let exercise = workbook.exercise(3).unwrap();
        let target = dir.path().join("target");
        let checker = Checker::new(target.join("exercises"), target.join("exercises-loom"))
            .watchdog(Duration::from_secs(300));

        let start = dir.path().join("start");
        exercise
            .write_copy(&workbook, Code::Start, &start, Some("start"))
            .unwrap();
        let outcome = checker.check(&start, false, &mut Quiet).unwrap();
        let Outcome::TestFailed {
            phase,
            test,
            file,
            message,
            other_thread,
            context,
            failed,
            ran,
        } = &outcome
        else {
            panic!("{outcome:?}");
        };
        assert_eq!(*phase, Phase::Tests);
        assert_eq!((other_thread, context), (&None, &Vec::new()));
        assert_eq!(test, "the_answer_is_right");
        assert_eq!(file.as_deref(), Some("tests/answer.rs"));
        assert!(message.contains("panicked at tests/answer.rs"), "{message}");
        assert!(message.contains("stage 3"), "{message}");
        assert_eq!((*failed, *ran), (1, 1));

        let reference = dir.path().join("reference");
        exercise
            .write_copy(&workbook, Code::Reference, &reference, Some("reference"))
            .unwrap();
        let outcome = checker.check(&reference, false, &mut Quiet).unwrap();
        assert_eq!(
            outcome,
            Outcome::Passed {
                tests: 1,
                models: None
            }
        );

        fs::write(
            reference.join("src/lib.rs"),
            "pub fn answer() -> u32 { \"two\" }\n",
        )
        .unwrap();
        let outcome = checker.check(&reference, false, &mut Quiet).unwrap();
        let Outcome::CompileError {
            phase,
            first,
            errors,
        } = &outcome
        else {
            panic!("{outcome:?}");
        };
        assert_eq!((*phase, *errors), (Phase::Build, 1));
        assert!(
            first.starts_with("error[E0308]: mismatched types"),
            "{first}"
        );
        assert!(first.contains("src/lib.rs:1:"), "{first}");
    }

    #[cfg(unix)]
    fn fake_cargo(dir: &Path, script: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("fake-cargo");
        fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn a_missing_cargo_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let checker = Checker::new(dir.path(), dir.path()).cargo(dir.path().join("no-cargo"));
        let error = checker.check(dir.path(), false, &mut Quiet).unwrap_err();
        assert!(matches!(error, Error::Toolchain(_)), "{error}");
        assert!(error.to_string().contains("https://rustup.rs"), "{error}");
    }

    #[cfg(unix)]
    #[test]
    fn a_missing_component_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let cargo = fake_cargo(
            dir.path(),
            "echo \"error: 'rustc' is not installed for the toolchain '1.95.0'\" >&2\nexit 1",
        );
        let checker = Checker::new(dir.path(), dir.path()).cargo(cargo);
        let error = checker.check(dir.path(), false, &mut Quiet).unwrap_err();
        assert!(matches!(error, Error::Toolchain(_)), "{error}");
        assert!(
            error.to_string().contains("'rustc' is not installed"),
            "{error}"
        );
    }

    /// A "cargo" that starts a process that never ends and waits for it: the watchdog must kill
    /// both, or the check would wait for the pipes the child holds.
    #[cfg(unix)]
    #[test]
    fn the_watchdog_kills_a_hang_and_everything_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let cargo = fake_cargo(dir.path(), "echo started\nsleep 600 &\nwait");
        let checker = Checker::new(dir.path(), dir.path())
            .cargo(cargo)
            .watchdog(Duration::from_secs(1));
        let outcome = checker.check(dir.path(), false, &mut Quiet).unwrap();
        assert_eq!(
            outcome,
            Outcome::TimedOut {
                phase: Phase::Build,
                limit: Duration::from_secs(1),
                slow: Vec::new()
            }
        );
    }

    /// libtest's "running for over 60 seconds" stops a run of the tests (not of the build).
    #[cfg(unix)]
    #[test]
    fn a_test_running_for_a_minute_is_reported_as_stuck() {
        let dir = tempfile::tempdir().unwrap();
        let cargo = fake_cargo(
            dir.path(),
            "case \"$*\" in *--no-run*) exit 0;; esac\n\
             echo 'test pool::drop_joins has been running for over 60 seconds'\n\
             sleep 600 &\nwait",
        );
        let checker = Checker::new(dir.path(), dir.path()).cargo(cargo);
        let outcome = checker.check(dir.path(), false, &mut Quiet).unwrap();
        assert_eq!(
            outcome,
            Outcome::Stuck {
                phase: Phase::Tests,
                tests: vec!["pool::drop_joins".to_owned()]
            }
        );
        let summary = outcome.summary(6, Path::new("exercises/ch06"), Some(7));
        assert!(
            summary.starts_with(
                "Exercise 6 is not done yet: `pool::drop_joins` ran for over 60 seconds, so the \
                 check stopped it. "
            ),
            "{summary}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn an_interrupt_stops_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let cargo = fake_cargo(dir.path(), "sleep 600 &\nwait");
        let flag = Arc::new(AtomicBool::new(true));
        let checker = Checker::new(dir.path(), dir.path())
            .cargo(cargo)
            .interrupt_on(flag);
        let error = checker.check(dir.path(), false, &mut Quiet).unwrap_err();
        assert!(matches!(error, Error::Interrupted), "{error}");
    }
}
