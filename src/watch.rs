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

use crate::check::{Advice, Checker, Observer, Outcome, ProgressLine, Quiet};
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
            let handled = match event {
                Event::Stop => return Ok(self.finish(Ending::Stopped)),
                Event::Key(key) => match self.key(key) {
                    Ok(Some(ending)) => return Ok(self.finish(ending)),
                    Ok(None) => Ok(()),
                    Err(error) => Err(error),
                },
                Event::Changed(paths) => self.changed(&paths),
                Event::WatchFailed(why) => {
                    self.say(&format!("The file watcher reported a problem: {why}"))
                }
                Event::Checked(number, result) => self.checked(number, result),
                Event::CheckedAll(result) => self.checked_all(result),
            };
            // A hint file missing, a progress file that cannot be written: said, and the watch
            // goes on. Only a terminal that cannot be written to ends it.
            if let Err(error) = handled
                && let Err(unsaid) = self.say(&format!("error: {error}"))
            {
                self.finish(Ending::Stopped);
                return Err(unsaid);
            }
        }
    }

    /// Stops a running check, then ends the watch with `ending`.
    fn finish(&mut self, ending: Ending) -> Ending {
        self.stop_running();
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
        let copy = self.copy();
        let number = self.exercise.number();
        let loom = self.exercise.has_loom_models();
        self.in_background(move |checker, observer| {
            Event::Checked(number, checker.check(&copy, loom, observer))
        });
    }

    /// Runs `work` in a thread of its own, with a checker that stops when the watch stops it and
    /// an observer for the terminal, and sends the event it returns to the loop.
    fn in_background(
        &mut self,
        work: impl FnOnce(&Checker, &mut dyn Observer) -> Event + Send + 'static,
    ) {
        let interrupt = Arc::new(AtomicBool::new(false));
        let checker = self.checker.clone().interrupt_on(Arc::clone(&interrupt));
        let mut observer = self.observer();
        let events = self.events.clone();
        let thread = thread::spawn(move || {
            let _ = events.send(work(&checker, &mut *observer));
        });
        self.running = Some(Running { interrupt, thread });
    }

    /// Stops a running check, killing Cargo and its tests, and waits for it.
    fn stop_running(&mut self) {
        if let Some(running) = self.running.take() {
            running.interrupt.store(true, Ordering::Relaxed);
            let _ = running.thread.join();
        }
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
        let copies: Vec<(u32, PathBuf, bool)> = started
            .iter()
            .map(|e| (e.number(), self.workbook.copy_dir(e), e.has_loom_models()))
            .collect();
        self.in_background(move |checker, observer| {
            let result = copies
                .into_iter()
                .map(|(number, copy, loom)| {
                    checker
                        .check(&copy, loom, observer)
                        .map(|outcome| (number, outcome))
                })
                .collect();
            Event::CheckedAll(result)
        });
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
            .summary_with(number, &self.shown_copy(), &Advice::watch(next))
            .replace(&root, "");
        self.passed = outcome.passed();
        self.say(&format!("{summary}\n{KEYS}"))
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
                self.stop_running();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exercise::tests::fixture;
    use std::fs;

    /// Output that arrives, chunk by chunk, on a channel the test reads.
    struct Sent(Sender<String>);

    impl Write for Sent {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let _ = self.0.send(String::from_utf8_lossy(buf).into_owned());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// What the watch has printed since the last expectation.
    struct Screen {
        chunks: Receiver<String>,
        text: String,
    }

    impl Screen {
        /// Reads output until `needle` appears, and returns everything up to and including it.
        /// The limit is a watchdog for a broken watch (a first build of the fixture takes
        /// seconds), never a wait for something to happen.
        fn expect(&mut self, needle: &str) -> String {
            let limit = Instant::now() + Duration::from_secs(180);
            loop {
                if let Some(at) = self.text.find(needle) {
                    let rest = self.text.split_off(at + needle.len());
                    return std::mem::replace(&mut self.text, rest);
                }
                let left = limit.saturating_duration_since(Instant::now());
                match self.chunks.recv_timeout(left) {
                    Ok(chunk) => self.text.push_str(&chunk),
                    Err(_) => panic!("no {needle:?} in the watch's output:\n{}", self.text),
                }
            }
        }
    }

    /// Starts `watch` on exercise 3 of the fixture in a thread.
    fn watch(
        dir: &Path,
        checker: Checker,
    ) -> (Sender<Event>, Screen, JoinHandle<Result<Ending, Error>>) {
        let workbook = Workbook::new(dir);
        let (events, received) = mpsc::channel();
        let (chunks, screen) = mpsc::channel();
        let sender = events.clone();
        let thread = thread::spawn(move || {
            let exercise = first(&workbook, Some(3))?;
            let out = Box::new(Sent(chunks));
            Watch::new(&workbook, exercise, checker, sender, out, false).run(&received)
        });
        let screen = Screen {
            chunks: screen,
            text: String::new(),
        };
        (events, screen, thread)
    }

    fn checker(dir: &Path) -> Checker {
        let target = dir.join("target");
        Checker::new(target.join("exercises"), target.join("exercises-loom"))
    }

    /// One exercise from its start to a pass with `watch` alone, the keys on the way, a copy
    /// deleted and brought back, a reset, and the move to the next exercise.
    #[test]
    fn an_exercise_from_start_to_pass_with_watch_alone() {
        let dir = fixture();
        let root = dir.path();
        let workbook = Workbook::new(root);
        exercise::start(&workbook, 3, false).unwrap();
        fs::create_dir_all(root.join("chapters/ch04-more/exercise")).unwrap();
        fs::write(
            root.join("chapters/ch04-more/exercise/task.md"),
            "# More\n\nMake `answer` return 3.\n",
        )
        .unwrap();
        let copy = root.join("exercises/ch03-add");
        let (events, mut screen, thread) = watch(root, checker(root));

        screen.expect("Watching exercise 3 (exercises/ch03-add): it is checked again");
        let failed = screen.expect("Press h for a hint.");
        assert!(failed.contains("1 of 1 tests fails"), "{failed}");
        assert!(failed.contains("stage 3"), "{failed}");
        let record = |number| {
            workbook
                .progress()
                .unwrap()
                .record(&workbook.exercise(number).unwrap())
        };
        assert_eq!(record(3).checked, Some(Checked::Failing));

        events.send(Event::Key('h')).unwrap();
        let hint = screen.expect("Another: press h.");
        assert!(
            hint.contains("(hint 1 of 2)\n\nLook at `answer`."),
            "{hint}"
        );
        // `n` does nothing before a pass but show the keys.
        events.send(Event::Key('n')).unwrap();
        screen.expect(KEYS);

        // The reader saves the fix: the watch checks again, by itself.
        fs::write(
            copy.join("src/lib.rs"),
            "pub fn answer() -> u32 {\n    2\n}\n",
        )
        .unwrap();
        let passed = screen.expect("Press n to go on to exercise 4");
        assert!(
            passed.contains("Exercise 3 passes: 1 test. Well done!"),
            "{passed}"
        );
        assert_eq!(record(3).checked, Some(Checked::Passing));

        // Deleted (moved away), then back.
        let away = root.join("away");
        fs::rename(&copy, &away).unwrap();
        screen.expect("Your copy exercises/ch03-add is gone. Waiting for it to come back");
        fs::rename(&away, &copy).unwrap();
        screen.expect("Your copy is back.");
        screen.expect("Exercise 3 passes");

        // A reset asks first; any key but y keeps the copy.
        events.send(Event::Key('x')).unwrap();
        screen.expect("y: reset · any other key: keep it");
        events.send(Event::Key('k')).unwrap();
        screen.expect("Kept your copy as it is.");
        events.send(Event::Key('x')).unwrap();
        screen.expect("keep it");
        events.send(Event::Key('y')).unwrap();
        screen.expect("your copy is now exercises/ch03-add.old-1");
        screen.expect("is not done yet");
        assert!(
            fs::read_to_string(copy.join("src/lib.rs"))
                .unwrap()
                .contains("    1\n")
        );
        assert!(
            fs::read_to_string(root.join("exercises/ch03-add.old-1/src/lib.rs"))
                .unwrap()
                .contains("    2\n")
        );

        fs::write(
            copy.join("src/lib.rs"),
            "pub fn answer() -> u32 {\n    2\n}\n",
        )
        .unwrap();
        screen.expect("Exercise 3 passes");
        events.send(Event::Key('n')).unwrap();
        let next = screen.expect("Watching exercise 4 (exercises/ch04-more).");
        assert!(
            next.contains("Exercise 4: More\n\nMake `answer` return 3."),
            "{next}"
        );
        screen.expect("Exercise 4 is not done yet");
        screen.expect(KEYS);
        assert!(root.join("exercises/ch04-more/src/lib.rs").is_file());

        events.send(Event::Key('l')).unwrap();
        let list = screen.expect(" More");
        assert!(list.contains(" 3  passing      Add one"), "{list}");
        assert!(list.contains(" 4  failing      More"), "{list}");

        events.send(Event::Key('q')).unwrap();
        assert_eq!(thread.join().unwrap().unwrap(), Ending::Quit);
    }

    /// Ctrl-C during a check that would never end: the watch stops it, and everything it
    /// started, and leaves the copy as it was.
    #[cfg(unix)]
    #[test]
    fn a_stop_ends_the_watch_and_the_check_and_leaves_the_copy() {
        use std::os::unix::fs::PermissionsExt;
        let dir = fixture();
        let root = dir.path();
        let workbook = Workbook::new(root);
        exercise::start(&workbook, 3, false).unwrap();
        let before = fs::read(root.join("exercises/ch03-add/src/lib.rs")).unwrap();
        let cargo = root.join("fake-cargo");
        let started = root.join("started");
        fs::write(
            &cargo,
            format!(
                "#!/bin/sh\ntouch {}\nsleep 600 &\nwait\n",
                started.display()
            ),
        )
        .unwrap();
        fs::set_permissions(&cargo, fs::Permissions::from_mode(0o755)).unwrap();
        let (events, mut screen, thread) = watch(root, checker(root).cargo(&cargo));
        screen.expect("Watching exercise 3");
        events.send(Event::Stop).unwrap();
        assert_eq!(thread.join().unwrap().unwrap(), Ending::Stopped);
        assert_eq!(
            fs::read(root.join("exercises/ch03-add/src/lib.rs")).unwrap(),
            before
        );
        // Not checked, so nothing recorded.
        let record = workbook
            .progress()
            .unwrap()
            .record(&workbook.exercise(3).unwrap());
        assert_eq!(record.checked, None);
    }

    #[test]
    fn watch_starts_with_a_started_exercise_or_says_how_to_start_one() {
        let dir = fixture();
        let workbook = Workbook::new(dir.path());
        let error = first(&workbook, None).unwrap_err().to_string();
        assert!(
            error.contains("start it with `cargo run -- start 3`"),
            "{error}"
        );
        let error = first(&workbook, Some(4)).unwrap_err().to_string();
        assert!(error.contains("`cargo run -- start 4`"), "{error}");
        exercise::start(&workbook, 3, false).unwrap();
        assert_eq!(first(&workbook, None).unwrap().number(), 3);
    }

    #[test]
    fn only_sources_and_manifests_are_worth_a_check() {
        let copy = Path::new("/w/exercises/ch03-add");
        for (path, worth) in [
            ("/w/exercises/ch03-add/src/lib.rs", true),
            ("/w/exercises/ch03-add/Cargo.toml", true),
            ("/w/exercises/ch03-add/src/.lib.rs.swp", false),
            ("/w/exercises/ch03-add/src/lib.rs~", false),
            ("/w/exercises/ch03-add/src/4913", false),
            ("/w/exercises/ch03-add/.git/index.toml", false),
            ("/w/exercises/progress.json", false),
            ("/w/exercises/ch04-more/src/lib.rs", false),
        ] {
            assert_eq!(worth_a_check(copy, Path::new(path)), worth, "{path}");
        }
    }

    #[test]
    fn raw_lines_return_to_the_start_of_each_line() {
        let mut out = RawLines(Vec::new());
        write!(out, "one\ntwo\n\nthree").unwrap();
        assert_eq!(out.0, b"one\r\ntwo\r\n\r\nthree");
    }
}
