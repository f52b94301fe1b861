//! `watch`: check an exercise, then check it again every time the reader saves, with one-key
//! commands in between, as rustlings' `watch` does.
//!
//! The loop ([`Watch::run`]) reads [`Event`]s from one channel: keys, debounced file changes,
//! the end of a check, a stop signal. Everything that waits (the terminal, the file watcher, the
//! check, which runs Cargo in a thread of its own) only sends to that channel, so a key is
//! answered while a check runs, and a save during a check stops it and starts a new one.
//! [`run_in_terminal`] feeds it from a real terminal; the tests feed it directly.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use notify::{EventKind, RecursiveMode, Watcher};

use crate::check::{Checker, Observer, Outcome, ProgressLine, Quiet};
use crate::exercise::{self, Checked, Error, Exercise, Status, Workbook};

/// How long the loop waits for a burst of writes (an editor's save, a formatter) to end before
/// it checks: the burst is one change.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// The keys, as the loop shows them after every result.
const KEYS: &str = "h: hint · l: list · c: check all · x: reset · q: quit";

/// What the loop reacts to.
#[derive(Debug)]
pub enum Event {
    /// A key the reader pressed.
    Key(char),
    /// Ctrl-C in the terminal (raw mode delivers it as a key, not a signal), or SIGINT or
    /// SIGTERM from elsewhere.
    Stop,
    /// Files changed: the paths, from anywhere under `exercises/`. Not files opened or read,
    /// which every check does.
    Changed(Vec<PathBuf>),
    /// The file watcher failed.
    WatchFailed(String),
    /// The check of one exercise ended.
    Checked(u32, Result<Outcome, Error>),
    /// The check of every started exercise (the `c` key) ended.
    CheckedAll(Result<Vec<(u32, Outcome)>, Error>),
}

/// How `watch` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The reader pressed `q`.
    Quit,
    /// Ctrl-C or a termination signal: any check was stopped, and the copy left as it was.
    Stopped,
}

/// Which exercise `watch` starts with: `number` if given, or else the first started exercise
/// that does not pass yet.
///
/// # Errors
///
/// [`Error::NotStarted`] (which says how to start it) if the exercise has no copy, or, without
/// `number`, if no started exercise is left to do: then the message names the next one to start.
pub fn first(workbook: &Workbook, number: Option<u32>) -> Result<Exercise, Error> {
    let exercise = match number {
        Some(number) => workbook.exercise(number)?,
        None => {
            let listed = exercise::list(workbook)?;
            let current = listed
                .iter()
                .find(|item| matches!(item.status, Status::Started | Status::Failing))
                .or_else(|| listed.iter().find(|item| item.status == Status::NotStarted))
                .ok_or_else(|| {
                    Error::Other(
                        "every exercise passes: there is nothing left to watch. `cargo run -- \
                         reset N` starts one over"
                            .to_owned(),
                    )
                })?;
            workbook.exercise(current.number)?
        }
    };
    let copy = workbook.copy_dir(&exercise);
    if !copy.is_dir() {
        return Err(Error::NotStarted {
            number: exercise.number(),
            copy: workbook.show(&copy),
        });
    }
    Ok(exercise)
}

/// A check running in its own thread.
struct Running {
    interrupt: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// A question waiting for `y` or `n`.
#[derive(Debug, Clone, Copy)]
enum Question {
    Reset,
}

/// The state of a `watch` session.
pub struct Watch<'w> {
    workbook: &'w Workbook,
    exercise: Exercise,
    checker: Checker,
    show_progress: bool,
    events: Sender<Event>,
    running: Option<Running>,
    /// A save came during the running check: check again when it ends.
    again: bool,
    asking: Option<Question>,
    /// The copy was deleted; the watch waits for it.
    gone: bool,
    /// The last check of the current exercise passed.
    passed: bool,
    /// A save was seen: check at this instant, unless another comes first.
    due: Option<Instant>,
    out: Box<dyn Write + 'w>,
}

impl<'w> Watch<'w> {
    /// A session on `exercise`, checking with `checker`, writing to `out`. `events` is the
    /// sending side of the channel [`Watch::run`] reads; checks send their results through it.
    /// With `show_progress`, a check shows its progress line on the terminal.
    pub fn new(
        workbook: &'w Workbook,
        exercise: Exercise,
        checker: Checker,
        events: Sender<Event>,
        out: Box<dyn Write + 'w>,
        show_progress: bool,
    ) -> Watch<'w> {
        Watch {
            workbook,
            exercise,
            checker,
            show_progress,
            events,
            running: None,
            again: false,
            asking: None,
            gone: false,
            passed: false,
            due: None,
            out,
        }
    }

    /// Checks the exercise, then reacts to every event until `q` or [`Event::Stop`].
    ///
    /// File changes reach the loop from a watcher on the workbook's `exercises/` folder (the
    /// copy's parent, so that a deleted copy is seen coming back).
    ///
    /// # Errors
    ///
    /// If the file watcher cannot be started, or the output cannot be written. A failing check
    /// is shown, not returned.
    pub fn run(mut self, events: &Receiver<Event>) -> Result<Ending, Error> {
        let sender = self.events.clone();
        let mut watcher =
            notify::recommended_watcher(move |result: notify::Result<notify::Event>| {
                let event = match result {
                    // Opening and reading files (as the check does) changes nothing.
                    Ok(event) if matches!(event.kind, EventKind::Access(_)) => return,
                    Ok(event) => Event::Changed(event.paths),
                    Err(error) => Event::WatchFailed(error.to_string()),
                };
                // The loop has ended: nobody is listening any more.
                let _ = sender.send(event);
            })
            .map_err(|e| Error::Other(format!("cannot watch for changes: {e}")))?;
        let copies = self.workbook.copies_dir();
        watcher
            .watch(&copies, RecursiveMode::Recursive)
            .map_err(|e| Error::Other(format!("cannot watch {}: {e}", copies.display())))?;

        self.say(&format!(
            "Watching exercise {} ({}): it is checked again every time you save.",
            self.exercise.number(),
            self.shown_copy().display()
        ))?;
        self.check();
        loop {
            let event = match self.due {
                Some(due) => {
                    match events.recv_timeout(due.saturating_duration_since(Instant::now())) {
                        Ok(event) => event,
                        Err(mpsc::RecvTimeoutError::Timeout) => {
                            self.due = None;
                            self.check();
                            continue;
                        }
                        Err(mpsc::RecvTimeoutError::Disconnected) => {
                            return Ok(self.finish(Ending::Stopped));
                        }
                    }
                }
                None => match events.recv() {
                    Ok(event) => event,
                    Err(_) => return Ok(self.finish(Ending::Stopped)),
                },
            };
            match event {
                Event::Stop => return Ok(self.finish(Ending::Stopped)),
                Event::Key(key) => {
                    if let Some(ending) = self.key(key)? {
                        return Ok(self.finish(ending));
                    }
                }
                Event::Changed(paths) => self.changed(&paths)?,
                Event::WatchFailed(why) => {
                    self.say(&format!("The file watcher reported a problem: {why}"))?;
                }
                Event::Checked(number, result) => self.checked(number, result)?,
                Event::CheckedAll(result) => self.checked_all(result)?,
            }
        }
    }

    /// Stops a running check (killing Cargo and its tests) and waits for it.
    fn finish(&mut self, ending: Ending) -> Ending {
        if let Some(running) = self.running.take() {
            running.interrupt.store(true, Ordering::Relaxed);
            let _ = running.thread.join();
        }
        let _ = self.out.flush();
        ending
    }

    fn copy(&self) -> PathBuf {
        self.workbook.copy_dir(&self.exercise)
    }

    fn shown_copy(&self) -> PathBuf {
        self.workbook.show(&self.copy())
    }

    fn say(&mut self, text: &str) -> Result<(), Error> {
        writeln!(self.out, "{}", text.trim_end())
            .and_then(|()| self.out.flush())
            .map_err(|e| Error::Other(format!("cannot write to the terminal: {e}")))
    }

    fn observer(&self) -> Box<dyn Observer + Send> {
        if self.show_progress {
            Box::new(ProgressLine::new())
        } else {
            Box::new(Quiet)
        }
    }

    /// Starts checking the current exercise, unless a check is running: then it is stopped, and
    /// the new one starts when it has ended.
    fn check(&mut self) {
        if let Some(running) = &self.running {
            running.interrupt.store(true, Ordering::Relaxed);
            self.again = true;
            return;
        }
        self.again = false;
        self.passed = false;
        let interrupt = Arc::new(AtomicBool::new(false));
        let checker = self.checker.clone().interrupt_on(Arc::clone(&interrupt));
        let copy = self.copy();
        let number = self.exercise.number();
        let loom = self.exercise.has_loom_models();
        let mut observer = self.observer();
        let events = self.events.clone();
        let thread = thread::spawn(move || {
            let result = checker.check(&copy, loom, &mut *observer);
            let _ = events.send(Event::Checked(number, result));
        });
        self.running = Some(Running { interrupt, thread });
    }

    /// Checks every started exercise in turn (the `c` key).
    fn check_all(&mut self) -> Result<(), Error> {
        if self.running.is_some() {
            return self.say("A check is running; press c again when it has finished.");
        }
        let started = exercise::started(self.workbook)?;
        self.say(&format!(
            "Checking every started exercise: {}.",
            started
                .iter()
                .map(|e| e.number().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))?;
        let interrupt = Arc::new(AtomicBool::new(false));
        let checker = self.checker.clone().interrupt_on(Arc::clone(&interrupt));
        let copies: Vec<(u32, PathBuf, bool)> = started
            .iter()
            .map(|e| (e.number(), self.workbook.copy_dir(e), e.has_loom_models()))
            .collect();
        let mut observer = self.observer();
        let events = self.events.clone();
        let thread = thread::spawn(move || {
            let result = copies
                .into_iter()
                .map(|(number, copy, loom)| {
                    checker
                        .check(&copy, loom, &mut *observer)
                        .map(|outcome| (number, outcome))
                })
                .collect();
            let _ = events.send(Event::CheckedAll(result));
        });
        self.running = Some(Running { interrupt, thread });
        Ok(())
    }

    fn record(&self, number: u32, outcome: &Outcome) -> Result<(), Error> {
        let exercise = self.workbook.exercise(number)?;
        let mut progress = self.workbook.progress()?;
        progress.record_mut(&exercise).checked = Some(if outcome.passed() {
            Checked::Passing
        } else {
            Checked::Failing
        });
        progress.save(&self.workbook.progress_path())
    }

    fn checked(&mut self, number: u32, result: Result<Outcome, Error>) -> Result<(), Error> {
        self.running = None;
        if self.again {
            // Stopped for a newer save; its result is stale.
            self.check();
            return Ok(());
        }
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(Error::Interrupted) => return Ok(()),
            Err(error) => {
                return self.say(&format!("The check could not run: {error}\n\n{KEYS}"));
            }
        };
        self.record(number, &outcome)?;
        let next = self
            .workbook
            .exercise(number + 1)
            .ok()
            .map(|next| next.number());
        let root = format!("{}/", self.workbook.root().display());
        let summary = outcome
            .summary(number, &self.shown_copy(), next)
            .replace(&root, "");
        self.say(&summary)?;
        if outcome.passed() {
            self.passed = true;
            match next {
                Some(next) => self.say(&format!(
                    "Press n to go on to exercise {next} (it is started for you if it is not \
                     yet), or keep editing: every save checks again.\n{KEYS}"
                )),
                None => self.say(KEYS),
            }
        } else {
            self.say(&format!("Save your changes to check again.\n{KEYS}"))
        }
    }

    fn checked_all(&mut self, result: Result<Vec<(u32, Outcome)>, Error>) -> Result<(), Error> {
        self.running = None;
        let outcomes = match result {
            Ok(outcomes) => outcomes,
            Err(Error::Interrupted) => return Ok(()),
            Err(error) => return self.say(&format!("The check could not run: {error}")),
        };
        let mut lines = Vec::new();
        for (number, outcome) in &outcomes {
            self.record(*number, outcome)?;
            let verdict = if outcome.passed() {
                "passes"
            } else {
                "does not pass yet"
            };
            lines.push(format!("Exercise {number} {verdict}."));
        }
        if outcomes.is_empty() {
            lines.push("No exercise is started.".to_owned());
        }
        lines.push(KEYS.to_owned());
        self.say(&lines.join("\n"))?;
        if self.again {
            self.check();
        }
        Ok(())
    }

    fn changed(&mut self, paths: &[PathBuf]) -> Result<(), Error> {
        let copy = self.copy();
        if !paths.iter().any(|path| path.starts_with(&copy)) {
            return Ok(());
        }
        if !copy.is_dir() {
            if !self.gone {
                self.gone = true;
                if let Some(running) = &self.running {
                    running.interrupt.store(true, Ordering::Relaxed);
                }
                let number = self.exercise.number();
                let shown = self.shown_copy();
                self.say(&format!(
                    "Your copy {} is gone. Waiting for it to come back (undo the deletion, or \
                     `cargo run -- reset {number}` for the starting code).",
                    shown.display()
                ))?;
            }
            return Ok(());
        }
        if self.gone {
            self.gone = false;
            self.say("Your copy is back.")?;
        } else if !paths.iter().any(|path| worth_a_check(&copy, path)) {
            return Ok(());
        }
        self.due = Some(Instant::now() + DEBOUNCE);
        Ok(())
    }

    /// Answers a key; `Some` to end the watch.
    fn key(&mut self, key: char) -> Result<Option<Ending>, Error> {
        if let Some(question) = self.asking.take() {
            return self.answer(question, key).map(|()| None);
        }
        let number = self.exercise.number();
        match key {
            'q' => return Ok(Some(Ending::Quit)),
            'h' => {
                let (_, task, hint) = exercise::hint(self.workbook, number)?;
                let text = hint.message(number, &task.title, "press h");
                self.say(&text)?;
            }
            'l' => {
                let listed = exercise::list(self.workbook)?;
                let lines: Vec<String> = listed.iter().map(exercise::Listed::line).collect();
                self.say(&lines.join("\n"))?;
            }
            'c' => self.check_all()?,
            'x' => {
                self.asking = Some(Question::Reset);
                let shown = self.shown_copy();
                self.say(&format!(
                    "Reset exercise {number} to its starting code? Your copy {} is moved aside \
                     (to {}.old-N), not deleted. y: reset · any other key: keep it",
                    shown.display(),
                    shown.display()
                ))?;
            }
            'n' if self.passed => self.next()?,
            _ => self.say(KEYS)?,
        }
        Ok(None)
    }

    fn answer(&mut self, question: Question, key: char) -> Result<(), Error> {
        match (question, key) {
            (Question::Reset, 'y' | 'Y') => {
                let number = self.exercise.number();
                // A check reading files that are being moved would report nonsense.
                if let Some(running) = self.running.take() {
                    running.interrupt.store(true, Ordering::Relaxed);
                    let _ = running.thread.join();
                }
                let reset = exercise::reset(self.workbook, number)?;
                let aside = reset
                    .moved_aside
                    .map(|aside| self.workbook.show(&aside).display().to_string())
                    .unwrap_or_default();
                self.say(&format!(
                    "Exercise {number} is back to its starting code; your copy is now {aside}."
                ))?;
                self.check();
                Ok(())
            }
            (Question::Reset, _) => self.say("Kept your copy as it is."),
        }
    }

    /// Goes on to the next exercise, starting it if it has no copy.
    fn next(&mut self) -> Result<(), Error> {
        let number = self.exercise.number() + 1;
        let next = self.workbook.exercise(number)?;
        if !self.workbook.copy_dir(&next).is_dir() {
            let started = exercise::start(self.workbook, number, false)?;
            self.say(&format!(
                "Exercise {number}: {}\n\n{}\n\nYour copy is {}: edit its src/ folder.",
                started.task.title,
                started.task.body().trim_end(),
                self.workbook.show(&started.copy).display()
            ))?;
        }
        self.exercise = next;
        self.gone = false;
        self.say(&format!(
            "Watching exercise {number} ({}).",
            self.shown_copy().display()
        ))?;
        self.check();
        Ok(())
    }
}

/// Whether a change to `path` can change a check of the copy at `copy`: its sources and
/// manifests, not an editor's swap and backup files.
fn worth_a_check(copy: &Path, path: &Path) -> bool {
    let Ok(relative) = path.strip_prefix(copy) else {
        return false;
    };
    let name = relative
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let hidden = relative
        .components()
        .any(|part| part.as_os_str().to_string_lossy().starts_with('.'));
    let source = Path::new(&name)
        .extension()
        .is_some_and(|ext| ext == "rs" || ext == "toml");
    !hidden && source && !name.ends_with('~')
}

/// `watch` in the reader's terminal: keys one at a time (raw mode, restored on every way out),
/// Ctrl-C and termination signals as [`Event::Stop`].
///
/// # Errors
///
/// If stdin is not a terminal (a pipe, a script): `watch` would wait for keys that never come,
/// so it says so instead; or as [`first`] and [`Watch::run`].
pub fn run_in_terminal(
    workbook: &Workbook,
    number: Option<u32>,
    checker: Checker,
) -> Result<Ending, Error> {
    let exercise = first(workbook, number)?;
    if !io::stdin().is_terminal() {
        return Err(Error::Other(format!(
            "watch reads single keys from a terminal, and its input is not one. Run it in a \
             terminal, or check once with `cargo run -- check {}`",
            exercise.number()
        )));
    }
    let (sender, events) = mpsc::channel();
    let signals = {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
            .map_err(|e| Error::Other(format!("cannot install the Ctrl-C handler: {e}")))?;
        let sender = sender.clone();
        let handle = signals.handle();
        thread::spawn(move || {
            if signals.forever().next().is_some() {
                let _ = sender.send(Event::Stop);
            }
        });
        handle
    };
    let raw = RawMode::enable()?;
    let keys = sender.clone();
    // Blocks in the terminal until the process ends; nothing to join.
    thread::spawn(move || read_keys(&keys));
    let out = Box::new(RawLines(io::stdout()));
    let ending = Watch::new(workbook, exercise, checker, sender, out, true).run(&events);
    drop(raw);
    signals.close();
    ending
}

/// Forwards key presses as events until the channel closes or the terminal fails.
fn read_keys(events: &Sender<Event>) {
    use crossterm::event::{self, KeyCode, KeyEventKind, KeyModifiers};
    while let Ok(event) = event::read() {
        let event::Event::Key(key) = event else {
            continue;
        };
        if key.kind != KeyEventKind::Press {
            continue;
        }
        let event = match key.code {
            KeyCode::Char('c' | 'd') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                Event::Stop
            }
            KeyCode::Char(c) => Event::Key(c.to_ascii_lowercase()),
            _ => continue,
        };
        if events.send(event).is_err() {
            return;
        }
    }
}

/// The terminal in raw mode until dropped.
struct RawMode;

impl RawMode {
    fn enable() -> Result<RawMode, Error> {
        crossterm::terminal::enable_raw_mode()
            .map_err(|e| Error::Other(format!("cannot read keys from the terminal: {e}")))?;
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// Output for a terminal in raw mode, which moves down a line on `\n` without returning to its
/// start: every `\n` is written as `\r\n`.
struct RawLines<W: Write>(W);

impl<W: Write> Write for RawLines<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut start = 0;
        for (i, byte) in buf.iter().enumerate() {
            if *byte == b'\n' {
                self.0.write_all(&buf[start..i])?;
                self.0.write_all(b"\r\n")?;
                start = i + 1;
            }
        }
        self.0.write_all(&buf[start..])?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}
