//! The chapter exercises: which there are, the reader's working copies, hints, solutions and the
//! progress file.
//!
//! Exercise N is stage N of the workbook: the reader starts from stage N−1's code with stage N's
//! tests, and makes the tests pass. Everything here takes the workbook's root as a parameter
//! ([`Workbook`]), so tests can run it on a small fixture workbook.
//!
//! The content of an exercise is data, under its stage: `chapters/chNN-idea/exercise/task.md`
//! (what to do; its first heading is the exercise's title) and `hint-1.md`, `hint-2.md`, …
//! The reader's copy of exercise N is `exercises/chNN-idea/`, a standalone crate (see
//! [`crate::scratch`]); what `check` found and how many hints were shown is kept in
//! `exercises/progress.json`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::{Table, Value};

use crate::scratch::{self, Standalone, Tests};

/// The first stage that is an exercise. Stages 1 and 2 have no pool yet: they are the servers the
/// book starts from, read rather than written. Every later stage is an exercise.
pub const FIRST_EXERCISE: u32 = 3;

/// Where the reader's copies and the progress file live, relative to the workbook's root.
const COPIES: &str = "exercises";
/// The progress file, in [`COPIES`].
const PROGRESS_FILE: &str = "progress.json";
/// The shared target folder of every copy's normal build, relative to the workbook's root: the
/// dependencies (the HTTP crate, the test kit, proptest …) compile once for all exercises.
const TARGET: &str = "target/exercises";
/// The shared target folder of the loom builds (`--cfg loom` changes every crate's build, so it
/// cannot share [`TARGET`] without rebuilding everything each time one switches).
const LOOM_TARGET: &str = "target/exercises-loom";

/// Something the reader asked for that cannot be done; every message says what to do instead.
#[derive(Debug)]
pub enum Error {
    /// No exercise has this number.
    UnknownExercise {
        /// The number asked for.
        number: u32,
        /// The numbers that exist.
        known: Vec<u32>,
    },
    /// A file of the exercise's content (task or hint) is missing or unreadable.
    MissingContent {
        /// The file, relative to the workbook.
        path: PathBuf,
        /// What it is for.
        what: String,
    },
    /// `check` was asked for an exercise that was never started.
    NotStarted {
        /// The exercise's number.
        number: u32,
        /// Where its copy would be, relative to the workbook.
        copy: PathBuf,
    },
    /// `start` would overwrite a copy that may hold the reader's work.
    CopyExists {
        /// The exercise's number.
        number: u32,
        /// The existing copy, relative to the workbook.
        copy: PathBuf,
    },
    /// Cargo or rustc cannot be run, or the toolchain lacks a component.
    Toolchain(String),
    /// The progress file exists but cannot be read or written.
    Progress {
        /// The progress file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The check was stopped by Ctrl-C or a termination signal.
    Interrupted,
    /// Anything else: a file that cannot be read or written, named in the message.
    Other(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownExercise { number, known } => {
                write!(f, "there is no exercise {number}")?;
                match (known.first(), known.last()) {
                    (Some(first), Some(last)) => write!(
                        f,
                        "; the exercises are {first} to {last} (`cargo run -- exercises` lists \
                         them)"
                    ),
                    _ => write!(f, "; this workbook has no exercises"),
                }
            }
            Error::MissingContent { path, what } => write!(
                f,
                "{} is missing or unreadable: it is {what}. The workbook is incomplete; get a \
                 fresh copy of it, or report this",
                path.display()
            ),
            Error::NotStarted { number, copy } => write!(
                f,
                "exercise {number} has no working copy ({} does not exist); start it with \
                 `cargo run -- start {number}`",
                copy.display()
            ),
            Error::CopyExists { number, copy } => write!(
                f,
                "{} already exists and may hold your work, so it is left as it is. To go on \
                 with it: `cargo run -- check {number}`. To start over: `cargo run -- start \
                 {number} --force`, which moves it aside (to {}.old-1, or the next free number) \
                 instead of deleting it",
                copy.display(),
                copy.display()
            ),
            Error::Toolchain(message) => f.write_str(message),
            Error::Progress { path, message } => write!(
                f,
                "the progress file {} cannot be used: {message}. Your code is not affected; \
                 repair the file, or delete it to start the record afresh (exercises then show \
                 as not started or started until checked again)",
                path.display()
            ),
            Error::Interrupted => f.write_str("interrupted; your code was not touched"),
            Error::Other(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(message: String) -> Error {
        Error::Other(message)
    }
}

/// A workbook: the folder holding `chapters/`, `Cargo.toml` and `Cargo.lock`.
#[derive(Debug, Clone)]
pub struct Workbook {
    root: PathBuf,
}

impl Workbook {
    /// The workbook at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Workbook {
        Workbook { root: root.into() }
    }

    /// The workbook this runner was built in.
    pub fn default_root() -> Workbook {
        Workbook::new(scratch::workspace_root())
    }

    /// The workbook's root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every exercise, by number.
    ///
    /// # Errors
    ///
    /// If `chapters/` cannot be read, or a stage has no readable `Cargo.toml`.
    pub fn exercises(&self) -> Result<Vec<Exercise>, Error> {
        let stages = self.stages()?;
        let mut exercises = Vec::new();
        for (number, stage) in &stages {
            if *number < FIRST_EXERCISE {
                continue;
            }
            let Some(previous) = stages.get(&(number - 1)) else {
                return Err(Error::Other(format!(
                    "stage {number} ({}) is an exercise, but there is no stage {} to start it from",
                    stage.name,
                    number - 1
                )));
            };
            exercises.push(Exercise {
                number: *number,
                stage: stage.clone(),
                previous: previous.clone(),
            });
        }
        Ok(exercises)
    }

    /// Exercise `number`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownExercise`] if there is none; as [`Workbook::exercises`].
    pub fn exercise(&self, number: u32) -> Result<Exercise, Error> {
        let exercises = self.exercises()?;
        let known = exercises.iter().map(|e| e.number).collect();
        exercises
            .into_iter()
            .find(|e| e.number == number)
            .ok_or(Error::UnknownExercise { number, known })
    }

    /// The stages under `chapters/`, by number: every `chNN-idea` folder with a `Cargo.toml`.
    fn stages(&self) -> Result<BTreeMap<u32, Stage>, Error> {
        let mut stages = BTreeMap::new();
        for dir in scratch::sorted_entries(&self.root.join("chapters"))? {
            let name = scratch::file_name(&dir);
            let Some(number) = stage_number(&name) else {
                continue;
            };
            if !dir.join("Cargo.toml").is_file() {
                continue;
            }
            let lib = library_name(&dir)?;
            if let Some(other) = stages.insert(number, Stage { name, dir, lib }) {
                return Err(Error::Other(format!(
                    "two stages have the number {number}: {} and another",
                    other.name
                )));
            }
        }
        Ok(stages)
    }

    /// The folder holding the reader's copies and the progress file.
    pub fn copies_dir(&self) -> PathBuf {
        self.root.join(COPIES)
    }

    /// Where the reader's copy of `exercise` lives.
    pub fn copy_dir(&self, exercise: &Exercise) -> PathBuf {
        self.copies_dir().join(&exercise.stage.name)
    }

    /// The progress file.
    pub fn progress_path(&self) -> PathBuf {
        self.copies_dir().join(PROGRESS_FILE)
    }

    /// The target folder every copy's normal build shares.
    pub fn target_dir(&self) -> PathBuf {
        self.root.join(TARGET)
    }

    /// The target folder every copy's loom build shares.
    pub fn loom_target_dir(&self) -> PathBuf {
        self.root.join(LOOM_TARGET)
    }

    /// `path` relative to the workbook, for messages.
    pub fn show(&self, path: &Path) -> PathBuf {
        path.strip_prefix(&self.root).unwrap_or(path).to_path_buf()
    }

    /// Reads the progress file, repairing it if it must.
    ///
    /// A file that is empty or not valid is moved aside (to `progress.json.broken-1`, or the
    /// next free number) and rebuilt from the reader's copies, and so is a missing file when
    /// copies exist; the runner says so on stderr, once, when it happens. A rebuilt record shows
    /// every copy as started: what `check` found and how many hints were shown are not in the
    /// copies, so they start over.
    ///
    /// # Errors
    ///
    /// [`Error::Progress`] if the file cannot be read at all (its permissions, say), moved aside
    /// or written; the exercises cannot be listed.
    pub fn progress(&self) -> Result<Progress, Error> {
        let loaded = self.load_progress()?;
        let Some(problem) = loaded.problem else {
            return Ok(loaded.progress);
        };
        let path = self.progress_path();
        let kept = if path.exists() {
            let aside = (1..)
                .map(|n| path.with_extension(format!("json.broken-{n}")))
                .find(|aside| !aside.exists())
                .expect("some number is free");
            fs::rename(&path, &aside).map_err(|e| Error::Progress {
                path: path.clone(),
                message: format!("it {problem}, and it cannot be moved aside: {e}"),
            })?;
            Some(aside)
        } else {
            None
        };
        loaded.progress.save(&path)?;
        let rebuilt = Rebuilt {
            path: self.show(&path),
            problem,
            kept_as: kept.map(|kept| self.show(&kept)),
            started: loaded.progress.exercises.keys().cloned().collect(),
        };
        eprintln!("note: {rebuilt}");
        Ok(loaded.progress)
    }

    /// Reads the progress file without changing anything: a file that is missing (while copies
    /// exist), empty or not valid gives the record rebuilt from the copies, with what was wrong.
    ///
    /// # Errors
    ///
    /// [`Error::Progress`] if the file exists but cannot be read, or the copies cannot be listed.
    pub fn load_progress(&self) -> Result<LoadedProgress, Error> {
        let path = self.progress_path();
        let problem = match fs::read_to_string(&path) {
            Ok(text) if text.trim().is_empty() => "is empty".to_owned(),
            Ok(text) => match serde_json::from_str(&text) {
                Ok(progress) => {
                    return Ok(LoadedProgress {
                        progress,
                        problem: None,
                    });
                }
                Err(e) => format!("is not a valid progress file ({e})"),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => "is missing".to_owned(),
            Err(e) => {
                return Err(Error::Progress {
                    path,
                    message: e.to_string(),
                });
            }
        };
        let progress = self.progress_from_copies()?;
        // No file and no copies: a workbook nobody has started, with nothing to repair.
        let missing_and_nothing_lost = !path.exists() && progress.exercises.is_empty();
        Ok(LoadedProgress {
            progress,
            problem: (!missing_and_nothing_lost).then_some(problem),
        })
    }

    /// A record with every exercise that has a copy, as started.
    fn progress_from_copies(&self) -> Result<Progress, Error> {
        let mut progress = Progress::default();
        for exercise in self.exercises()? {
            if self.copy_dir(&exercise).is_dir() {
                progress.record_mut(&exercise);
            }
        }
        Ok(progress)
    }
}

/// The progress file as read, and what was wrong with it if it had to be rebuilt.
#[derive(Debug, Clone)]
pub struct LoadedProgress {
    /// The record: the file's, or the one rebuilt from the copies.
    pub progress: Progress,
    /// What was wrong with the file (`is empty`, `is missing`, …), if the record was rebuilt.
    pub problem: Option<String>,
}

/// A progress file that [`Workbook::progress`] rebuilt, said in words for the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    /// The progress file, relative to the workbook.
    pub path: PathBuf,
    /// What was wrong with it.
    pub problem: String,
    /// Where the old file was moved, relative to the workbook.
    pub kept_as: Option<PathBuf>,
    /// The stages whose copies exist, now recorded as started.
    pub started: Vec<String>,
}

impl fmt::Display for Rebuilt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the progress file {} {}, so it was rebuilt from your copies",
            self.path.display(),
            self.problem
        )?;
        if self.started.is_empty() {
            write!(f, " (there are none)")?;
        } else {
            write!(
                f,
                ": {} now show{} as started; check {} again to record pass or fail, and hints \
                 start again from the first",
                self.started.join(", "),
                if self.started.len() == 1 { "s" } else { "" },
                if self.started.len() == 1 {
                    "it"
                } else {
                    "them"
                },
            )?;
        }
        if let Some(kept) = &self.kept_as {
            write!(f, ". The old file is kept as {}", kept.display())?;
        }
        f.write_str(".")
    }
}

/// `chNN-idea` → NN.
fn stage_number(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("ch")?.split_once('-')?.0;
    if digits.len() == 2 && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    }
}

/// The name other code uses for the stage's library: `[lib] name`, or the package's name with
/// `-` as `_`, as Cargo makes it.
fn library_name(stage_dir: &Path) -> Result<String, Error> {
    let path = stage_dir.join("Cargo.toml");
    let manifest: Table = fs::read_to_string(&path)
        .map_err(|e| format!("reading {}: {e}", path.display()))?
        .parse()
        .map_err(|e| format!("{} does not parse: {e}", path.display()))?;
    if let Some(name) = manifest
        .get("lib")
        .and_then(|lib| lib.get("name"))
        .and_then(Value::as_str)
    {
        return Ok(name.to_owned());
    }
    manifest
        .get("package")
        .and_then(|package| package.get("name"))
        .and_then(Value::as_str)
        .map(|name| name.replace('-', "_"))
        .ok_or_else(|| Error::Other(format!("{} has no package name", path.display())))
}

/// One stage crate of the workbook.
#[derive(Debug, Clone)]
pub struct Stage {
    /// The folder's name, e.g. `ch05-shared-queue`.
    name: String,
    /// `chapters/<name>`.
    dir: PathBuf,
    /// The library's name, e.g. `ch05_shared_queue`.
    lib: String,
}

impl Stage {
    /// The folder's name, e.g. `ch05-shared-queue`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The stage's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Which code a copy of an exercise starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// The previous stage's code, as the reader starts.
    Start,
    /// The stage's own code, the reference solution.
    Reference,
}

/// What an exercise asks, from its `task.md`.
#[derive(Debug, Clone)]
pub struct Task {
    /// The first heading, without its `#`s.
    pub title: String,
    /// The whole file.
    pub text: String,
}

impl Task {
    /// The text after the title's heading, for a terminal that shows the title above it.
    pub fn body(&self) -> &str {
        let mut rest = self.text.as_str();
        while let Some((line, after)) = rest.split_once('\n') {
            rest = after;
            if line.starts_with('#') {
                break;
            }
        }
        rest.trim_start_matches('\n')
    }
}

/// One exercise: a stage, and the stage before it that the reader starts from.
#[derive(Debug, Clone)]
pub struct Exercise {
    number: u32,
    stage: Stage,
    previous: Stage,
}

impl Exercise {
    /// Its number, which is its stage's.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// The stage the reader builds.
    pub fn stage(&self) -> &Stage {
        &self.stage
    }

    /// The stage the reader starts from.
    pub fn previous(&self) -> &Stage {
        &self.previous
    }

    fn content_dir(&self) -> PathBuf {
        self.stage.dir.join("exercise")
    }

    /// Whether the stage has loom models (`tests/loom.rs`), which `check` runs too.
    pub fn has_loom_models(&self) -> bool {
        self.stage.dir.join("tests/loom.rs").is_file()
    }

    /// Reads `exercise/task.md`.
    ///
    /// # Errors
    ///
    /// [`Error::MissingContent`] if it is missing, or has no heading to title the exercise.
    pub fn task(&self, workbook: &Workbook) -> Result<Task, Error> {
        let path = self.content_dir().join("task.md");
        let missing = |what: &str| Error::MissingContent {
            path: workbook.show(&path),
            what: what.to_owned(),
        };
        let what = format!("what exercise {} asks of the reader", self.number);
        let text = strip_anchors(&fs::read_to_string(&path).map_err(|_| missing(&what))?);
        let title = text
            .lines()
            .find_map(|line| line.strip_prefix('#'))
            .map(|heading| heading.trim_start_matches('#').trim().to_owned())
            .filter(|title| !title.is_empty())
            .ok_or_else(|| missing("a task whose first heading is the exercise's title"))?;
        Ok(Task { title, text })
    }

    /// Reads the hints, `exercise/hint-1.md`, `hint-2.md`, … in order.
    ///
    /// # Errors
    ///
    /// [`Error::MissingContent`] if there is no `hint-1.md`, or the numbers have a gap (a hint
    /// after the gap would never be shown).
    pub fn hints(&self, workbook: &Workbook) -> Result<Vec<String>, Error> {
        let dir = self.content_dir();
        let mut numbers = BTreeSet::new();
        if let Ok(entries) = scratch::sorted_entries(&dir) {
            for path in entries {
                let name = scratch::file_name(&path);
                if let Some(n) = name
                    .strip_prefix("hint-")
                    .and_then(|rest| rest.strip_suffix(".md"))
                    .and_then(|n| n.parse::<usize>().ok())
                {
                    numbers.insert(n);
                }
            }
        }
        let count = numbers.len();
        let expected = (1..=count).collect::<BTreeSet<_>>();
        if count == 0 || numbers != expected {
            let first_missing = (1..).find(|n| !numbers.contains(n)).unwrap_or(1);
            return Err(Error::MissingContent {
                path: workbook.show(&dir.join(format!("hint-{first_missing}.md"))),
                what: format!(
                    "hint {first_missing} of exercise {} (hints are numbered from 1 without gaps)",
                    self.number
                ),
            });
        }
        (1..=count)
            .map(|n| {
                let path = dir.join(format!("hint-{n}.md"));
                fs::read_to_string(&path)
                    .map(|text| strip_anchors(&text))
                    .map_err(|_| Error::MissingContent {
                        path: workbook.show(&path),
                        what: format!("hint {n} of exercise {}", self.number),
                    })
            })
            .collect()
    }

    /// The files of `src/` a copy starts with, by path relative to the crate (`src/pool.rs`).
    ///
    /// [`Code::Start`] is the previous stage's `src/`, with its library's name replaced by this
    /// stage's in every `.rs` file (stage N's tests import stage N's library, and the binary
    /// names its own library); [`Code::Reference`] is this stage's `src/`.
    ///
    /// # Errors
    ///
    /// If a file cannot be read.
    pub fn sources(&self, code: Code) -> Result<BTreeMap<PathBuf, Vec<u8>>, Error> {
        let stage = match code {
            Code::Start => &self.previous,
            Code::Reference => &self.stage,
        };
        let mut files = BTreeMap::new();
        read_tree(&stage.dir, &stage.dir.join("src"), &mut files)?;
        if code == Code::Start {
            for (path, bytes) in &mut files {
                if path.extension().is_some_and(|ext| ext == "rs")
                    && let Ok(text) = std::str::from_utf8(bytes)
                {
                    *bytes =
                        rename_identifier(text, &self.previous.lib, &self.stage.lib).into_bytes();
                }
            }
        }
        Ok(files)
    }

    /// Writes a copy of the exercise to `dest`: [`Exercise::sources`] for `code`, this stage's
    /// `tests/`, its manifest made standalone (dev-dependencies, loom's among them, kept; the
    /// workspace's `[profile.loom]` copied) and the workspace's `Cargo.lock`.
    ///
    /// The copy is made next to `dest` and then moved there if `dest` does not exist, or synced
    /// into it file by file (only changed files are rewritten, so Cargo rebuilds only what
    /// changed). `build_metadata` is added to the package's version, so that copies of one stage
    /// that share a target folder do not overwrite each other's artifacts.
    ///
    /// # Errors
    ///
    /// If a file cannot be read or written, or the manifest cannot be made standalone.
    pub fn write_copy(
        &self,
        workbook: &Workbook,
        code: Code,
        dest: &Path,
        build_metadata: Option<&str>,
    ) -> Result<(), Error> {
        let parent = dest
            .parent()
            .ok_or_else(|| format!("{} has no parent folder", dest.display()))?;
        let staging = parent.join(format!(".{}.staging", scratch::file_name(dest)));
        // The staging folder is only ever this function's: a leftover of a run that was stopped.
        if staging.exists() {
            fs::remove_dir_all(&staging)
                .map_err(|e| format!("removing {}: {e}", staging.display()))?;
        }
        let written = self.write_files(workbook, code, &staging, build_metadata);
        let placed = written.and_then(|()| {
            if dest.exists() {
                scratch::sync_tree(&staging, dest)?;
                fs::remove_dir_all(&staging)
                    .map_err(|e| format!("removing {}: {e}", staging.display()).into())
            } else {
                fs::rename(&staging, dest).map_err(|e| {
                    format!("moving {} to {}: {e}", staging.display(), dest.display()).into()
                })
            }
        });
        if placed.is_err() {
            let _ = fs::remove_dir_all(&staging);
        }
        placed
    }

    fn write_files(
        &self,
        workbook: &Workbook,
        code: Code,
        dir: &Path,
        build_metadata: Option<&str>,
    ) -> Result<(), Error> {
        for (rel, bytes) in self.sources(code)? {
            write_file(&dir.join(rel), &bytes)?;
        }
        let code_stage = match code {
            Code::Start => &self.previous,
            Code::Reference => &self.stage,
        };
        if code_stage.dir.join("build.rs").is_file() {
            scratch::copy_file(&code_stage.dir.join("build.rs"), &dir.join("build.rs"))?;
        }
        scratch::copy_tree(&self.stage.dir.join("tests"), &dir.join("tests"))?;

        let root = workbook.root();
        let root_manifest: Table = read(&root.join("Cargo.toml"))?
            .parse()
            .map_err(|e| format!("the workbook's Cargo.toml does not parse: {e}"))?;
        let member = read(&self.stage.dir.join("Cargo.toml"))?;
        let written_by = format!(
            "poolbook (`cargo run -- start {}`) from chapters/{}/Cargo.toml",
            self.number, self.stage.name
        );
        let options = Standalone {
            written_by: &written_by,
            tests: Tests::Keep,
            profiles: &["loom"],
            build_metadata,
        };
        let manifest =
            scratch::standalone_manifest(&member, &self.stage.dir, &root_manifest, root, &options)?;
        write_file(&dir.join("Cargo.toml"), manifest.as_bytes())?;
        scratch::copy_file(&root.join("Cargo.lock"), &dir.join("Cargo.lock"))?;
        Ok(())
    }
}

/// `text` without mdBook's anchor lines (`<!-- ANCHOR: task -->`, `<!-- ANCHOR_END: task -->`):
/// the book includes parts of the exercise files, the terminal shows them whole.
fn strip_anchors(text: &str) -> String {
    text.lines()
        .filter(|line| {
            let line = line.trim();
            !(line.starts_with("<!--")
                && line.ends_with("-->")
                && line[4..line.len() - 3].trim().starts_with("ANCHOR"))
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

fn read(path: &Path) -> Result<String, Error> {
    fs::read_to_string(path).map_err(|e| Error::Other(format!("reading {}: {e}", path.display())))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    fs::write(path, bytes).map_err(|e| Error::Other(format!("writing {}: {e}", path.display())))
}

/// Reads every file under `dir` into `files`, keyed by its path relative to `base`.
fn read_tree(base: &Path, dir: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) -> Result<(), Error> {
    for path in scratch::sorted_entries(dir)? {
        if path.is_dir() {
            read_tree(base, &path, files)?;
        } else {
            let bytes = fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
            let rel = path.strip_prefix(base).expect("walked from base");
            files.insert(rel.to_path_buf(), bytes);
        }
    }
    Ok(())
}

/// `text` with every whole-identifier occurrence of `from` replaced by `to`: `ch04_workers::serve`
/// becomes `ch05_shared_queue::serve`, but `my_ch04_workers` is left alone.
pub fn rename_identifier(text: &str, from: &str, to: &str) -> String {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(from) {
        // At the start of `rest`, the character before is the last one already written.
        let before = rest[..at].chars().last().or_else(|| out.chars().last());
        let after = rest[at + from.len()..].chars().next();
        out.push_str(&rest[..at]);
        if before.is_some_and(is_ident) || after.is_some_and(is_ident) {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = &rest[at + from.len()..];
    }
    out.push_str(rest);
    out
}

/// What `check` last found for an exercise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Checked {
    /// It did not build, or a test or model failed.
    Failing,
    /// Everything passed.
    Passing,
}

/// An exercise's entry in the progress file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// What the last `check` found; `None` until the copy is checked (and again after a
    /// `start --force`, which makes a new copy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked: Option<Checked>,
    /// How many hints `hint` has shown.
    #[serde(default)]
    pub hints_shown: usize,
}

/// The progress file: one [`Record`] per exercise, keyed by its stage's folder name (which, unlike
/// a number, still names the same exercise if stages are renumbered).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The records.
    #[serde(default)]
    pub exercises: BTreeMap<String, Record>,
}

impl Progress {
    /// Writes the progress file at `path`, through a temporary file and a rename, so that a
    /// crash never leaves half a file.
    ///
    /// # Errors
    ///
    /// [`Error::Progress`] if it cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let error = |message: String| Error::Progress {
            path: path.to_path_buf(),
            message,
        };
        let mut text = serde_json::to_string_pretty(self).map_err(|e| error(e.to_string()))?;
        text.push('\n');
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| error(e.to_string()))?;
        }
        let temporary = path.with_extension("json.new");
        fs::write(&temporary, text).map_err(|e| error(e.to_string()))?;
        fs::rename(&temporary, path).map_err(|e| error(e.to_string()))
    }

    /// The record of `exercise` (empty if it has none).
    pub fn record(&self, exercise: &Exercise) -> Record {
        self.exercises
            .get(exercise.stage.name())
            .cloned()
            .unwrap_or_default()
    }

    /// The record of `exercise`, to change.
    pub fn record_mut(&mut self, exercise: &Exercise) -> &mut Record {
        self.exercises
            .entry(exercise.stage.name().to_owned())
            .or_default()
    }
}

/// Where an exercise stands, as `exercises` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// No copy, and never checked.
    NotStarted,
    /// A copy exists, not checked yet.
    Started,
    /// The last check failed.
    Failing,
    /// The last check passed.
    Passing,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so that `{:<12}` lines the list up.
        f.pad(match self {
            Status::NotStarted => "not started",
            Status::Started => "started",
            Status::Failing => "failing",
            Status::Passing => "passing",
        })
    }
}

/// One line of the `exercises` list.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The exercise's number.
    pub number: u32,
    /// Its stage's folder name (`ch07-panic-isolation`), which its copy and its chapter's page
    /// are named after.
    pub stage: String,
    /// Its title, or why it has none (a missing `task.md`).
    pub title: Result<String, String>,
    /// Where it stands.
    pub status: Status,
}

impl Listed {
    /// The exercise's line in the list: number, status, title.
    pub fn line(&self) -> String {
        let title = match &self.title {
            Ok(title) => title.clone(),
            Err(problem) => format!("(no title: {problem})"),
        };
        format!("{:>2}  {:<12} {title}", self.number, self.status)
    }
}

/// Every exercise, with its title and status.
///
/// # Errors
///
/// If the stages or the progress file cannot be read. A missing `task.md` is shown in the list
/// instead, so the other exercises stay usable.
pub fn list(workbook: &Workbook) -> Result<Vec<Listed>, Error> {
    list_with(workbook, &workbook.progress()?)
}

/// Every exercise, with its title and its status in `progress`.
///
/// # Errors
///
/// If the stages cannot be read.
pub fn list_with(workbook: &Workbook, progress: &Progress) -> Result<Vec<Listed>, Error> {
    Ok(workbook
        .exercises()?
        .into_iter()
        .map(|exercise| {
            let record = progress.record(&exercise);
            let status = match record.checked {
                Some(Checked::Passing) => Status::Passing,
                Some(Checked::Failing) => Status::Failing,
                None if workbook.copy_dir(&exercise).exists() => Status::Started,
                None => Status::NotStarted,
            };
            Listed {
                number: exercise.number,
                stage: exercise.stage.name.clone(),
                title: exercise
                    .task(workbook)
                    .map(|task| task.title)
                    .map_err(|e| e.to_string()),
                status,
            }
        })
        .collect())
}

/// What `start` did.
#[derive(Debug)]
pub struct Started {
    /// The exercise.
    pub exercise: Exercise,
    /// Its task.
    pub task: Task,
    /// The new copy.
    pub copy: PathBuf,
    /// Where an earlier copy was moved, with `--force`.
    pub moved_aside: Option<PathBuf>,
}

/// Creates the reader's copy of exercise `number` (see [`Exercise::write_copy`]).
///
/// An existing copy is never overwritten: without `force` this is an error; with it, the old copy
/// is renamed to `<copy>.old-1` (or the next free number) first. The record in the progress file
/// loses its check result (the new copy has not been checked) and keeps its hint count.
///
/// # Errors
///
/// [`Error::UnknownExercise`], [`Error::MissingContent`] (no task), [`Error::CopyExists`], or a
/// file that cannot be written. Nothing is left half made.
pub fn start(workbook: &Workbook, number: u32, force: bool) -> Result<Started, Error> {
    let exercise = workbook.exercise(number)?;
    let task = exercise.task(workbook)?;
    let mut progress = workbook.progress()?;
    let copy = workbook.copy_dir(&exercise);
    let mut moved_aside = None;
    if copy.exists() {
        if !force {
            return Err(Error::CopyExists {
                number,
                copy: workbook.show(&copy),
            });
        }
        let aside = (1..)
            .map(|n| copy.with_file_name(format!("{}.old-{n}", exercise.stage.name)))
            .find(|path| !path.exists())
            .expect("some number is free");
        fs::rename(&copy, &aside).map_err(|e| {
            format!(
                "moving {} aside to {}: {e}; nothing was changed",
                copy.display(),
                aside.display()
            )
        })?;
        moved_aside = Some(aside);
    }
    exercise.write_copy(workbook, Code::Start, &copy, None)?;
    progress.record_mut(&exercise).checked = None;
    progress.save(&workbook.progress_path())?;
    Ok(Started {
        exercise,
        task,
        copy,
        moved_aside,
    })
}

/// Puts back the starting copy of exercise `number`, as `start --force` does: the reader's copy
/// is moved aside, never deleted.
///
/// # Errors
///
/// [`Error::NotStarted`] if there is no copy to reset (nothing is made); as [`start`].
pub fn reset(workbook: &Workbook, number: u32) -> Result<Started, Error> {
    let exercise = workbook.exercise(number)?;
    let copy = workbook.copy_dir(&exercise);
    if !copy.exists() {
        return Err(Error::NotStarted {
            number,
            copy: workbook.show(&copy),
        });
    }
    start(workbook, number, true)
}

/// The exercises that have a copy, by number.
///
/// # Errors
///
/// If the stages cannot be read.
pub fn started(workbook: &Workbook) -> Result<Vec<Exercise>, Error> {
    Ok(workbook
        .exercises()?
        .into_iter()
        .filter(|exercise| workbook.copy_dir(exercise).exists())
        .collect())
}

/// What `hint` has to say.
#[derive(Debug)]
pub enum Hint {
    /// The next hint.
    Next {
        /// Its number, from 1.
        number: usize,
        /// How many hints there are.
        of: usize,
        /// The hint.
        text: String,
    },
    /// Every hint was shown already.
    NoMore {
        /// How many hints there are.
        count: usize,
    },
}

impl Hint {
    /// What the reader is shown for exercise `exercise`, titled `title`: the hint, and how to
    /// get another (`another` says what to type: a command, or a key in `watch`).
    pub fn message(&self, exercise: u32, title: &str, another: &str) -> String {
        match self {
            Hint::Next { number, of, text } => {
                let next = if number < of {
                    format!("Another: {another}.")
                } else {
                    format!(
                        "That was the last hint. The solution: `cargo run -- solution {exercise}`."
                    )
                };
                format!(
                    "Exercise {exercise}: {title} (hint {number} of {of})\n\n{}\n\n{next}",
                    text.trim_end()
                )
            }
            Hint::NoMore { count } => format!(
                "Exercise {exercise}: {title}\n\nNo more hints: you have seen all {count}. The \
                 solution, as a diff from your code: `cargo run -- solution {exercise}`."
            ),
        }
    }
}

/// The next hint of exercise `number`, remembered in the progress file.
///
/// # Errors
///
/// [`Error::UnknownExercise`], [`Error::MissingContent`] (no hints), or a progress file that
/// cannot be read or written.
pub fn hint(workbook: &Workbook, number: u32) -> Result<(Exercise, Task, Hint), Error> {
    let exercise = workbook.exercise(number)?;
    let task = exercise.task(workbook)?;
    let hints = exercise.hints(workbook)?;
    let mut progress = workbook.progress()?;
    let record = progress.record_mut(&exercise);
    let hint = match hints.get(record.hints_shown) {
        Some(text) => {
            record.hints_shown += 1;
            let hint = Hint::Next {
                number: record.hints_shown,
                of: hints.len(),
                text: text.clone(),
            };
            progress.save(&workbook.progress_path())?;
            hint
        }
        None => Hint::NoMore { count: hints.len() },
    };
    Ok((exercise, task, hint))
}

/// `solution`'s answer: a unified diff to the reference stage's `src/`.
#[derive(Debug)]
pub struct Solution {
    /// The exercise.
    pub exercise: Exercise,
    /// The reader's copy the diff starts from, or `None` if it starts from the starting code.
    pub from_copy: Option<PathBuf>,
    /// The diff, `--- a/src/…` / `+++ b/src/…` per changed file; empty if there is no difference.
    pub diff: String,
}

/// The diff from the reader's copy's `src/` (or, without a copy, from the code the exercise
/// starts from) to the reference solution's.
///
/// # Errors
///
/// [`Error::UnknownExercise`], or a file that cannot be read.
pub fn solution(workbook: &Workbook, number: u32) -> Result<Solution, Error> {
    let exercise = workbook.exercise(number)?;
    let copy = workbook.copy_dir(&exercise);
    let (from, from_copy) = if copy.join("src").is_dir() {
        let mut files = BTreeMap::new();
        read_tree(&copy, &copy.join("src"), &mut files)?;
        (files, Some(copy))
    } else {
        (exercise.sources(Code::Start)?, None)
    };
    let to = exercise.sources(Code::Reference)?;
    let diff = unified_diff(&from, &to);
    Ok(Solution {
        exercise,
        from_copy,
        diff,
    })
}

/// A unified diff of two sets of files keyed by relative path; a file on one side only is diffed
/// against `/dev/null`, as `git diff` shows it.
pub fn unified_diff(from: &BTreeMap<PathBuf, Vec<u8>>, to: &BTreeMap<PathBuf, Vec<u8>>) -> String {
    let paths: BTreeSet<&PathBuf> = from.keys().chain(to.keys()).collect();
    let mut out = String::new();
    for path in paths {
        let (old, new) = (from.get(path), to.get(path));
        if old == new {
            continue;
        }
        let shown = path.to_string_lossy().replace('\\', "/");
        let old_name = old.map_or("/dev/null".to_owned(), |_| format!("a/{shown}"));
        let new_name = new.map_or("/dev/null".to_owned(), |_| format!("b/{shown}"));
        let text = |bytes: Option<&Vec<u8>>| {
            bytes.map_or(String::new(), |b| String::from_utf8_lossy(b).into_owned())
        };
        let (old_text, new_text) = (text(old), text(new));
        let diff = similar::TextDiff::from_lines(&old_text, &new_text);
        out.push_str(
            &diff
                .unified_diff()
                .context_radius(3)
                .header(&old_name, &new_name)
                .to_string(),
        );
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A workbook with stages 2 and 3 (exercise 3) and 4 (exercise 4): crates with no
    /// dependencies, so that building them takes a second.
    pub(crate) fn fixture() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let file = |path: &str, text: &str| write_file(&root.join(path), text.as_bytes()).unwrap();
        file(
            "Cargo.toml",
            "[workspace]\nmembers = [\"chapters/*\"]\nresolver = \"3\"\n\n\
             [workspace.package]\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [profile.loom]\ninherits = \"release\"\n",
        );
        file("Cargo.lock", "version = 4\n");
        for (number, name, answer) in [
            (2, "ch02-start", 1),
            (3, "ch03-add", 2),
            (4, "ch04-more", 3),
        ] {
            let lib = name.replace('-', "_");
            file(
                &format!("chapters/{name}/Cargo.toml"),
                &format!(
                    "[package]\nname = \"{name}\"\nversion.workspace = true\n\
                     edition.workspace = true\n"
                ),
            );
            file(
                &format!("chapters/{name}/src/lib.rs"),
                &format!(
                    "//! Stage {number}.\n\n/// The answer.\npub fn answer() -> u32 {{\n    {answer}\n}}\n"
                ),
            );
            file(
                &format!("chapters/{name}/src/main.rs"),
                &format!("fn main() {{\n    println!(\"{{}}\", {lib}::answer());\n}}\n"),
            );
            file(
                &format!("chapters/{name}/tests/answer.rs"),
                &format!(
                    "#[test]\nfn the_answer_is_right() {{\n    assert_eq!({lib}::answer(), {answer}, \"stage {number}\");\n}}\n"
                ),
            );
        }
        file(
            "chapters/ch03-add/exercise/task.md",
            "# Add one\n<!-- ANCHOR: task -->\n\nMake `answer` return 2.\n<!-- ANCHOR_END: task -->\n",
        );
        file(
            "chapters/ch03-add/exercise/hint-1.md",
            "Look at `answer`.\n",
        );
        file("chapters/ch03-add/exercise/hint-2.md", "Return 2.\n");
        dir
    }

    #[test]
    fn exercises_start_at_the_first_stage_with_a_pool() {
        let dir = fixture();
        let workbook = Workbook::new(dir.path());
        let numbers: Vec<u32> = workbook
            .exercises()
            .unwrap()
            .iter()
            .map(Exercise::number)
            .collect();
        assert_eq!(numbers, [3, 4]);
        let error = workbook.exercise(9).unwrap_err().to_string();
        assert_eq!(
            error,
            "there is no exercise 9; the exercises are 3 to 4 (`cargo run -- exercises` lists them)"
        );
        assert_eq!(stage_number("ch10-bounded-queue"), Some(10));
        assert_eq!(stage_number("ch1-x"), None);
        assert_eq!(stage_number("notes"), None);
    }

    #[test]
    fn task_and_hints_come_from_the_exercise_folder() {
        let dir = fixture();
        let workbook = Workbook::new(dir.path());
        let three = workbook.exercise(3).unwrap();
        let task = three.task(&workbook).unwrap();
        assert_eq!(task.title, "Add one");
        assert_eq!(task.text, "# Add one\n\nMake `answer` return 2.\n");
        assert_eq!(task.body(), "Make `answer` return 2.\n");
        assert_eq!(three.hints(&workbook).unwrap().len(), 2);

        let four = workbook.exercise(4).unwrap();
        let error = four.task(&workbook).unwrap_err().to_string();
        assert!(
            error.starts_with("chapters/ch04-more/exercise/task.md is missing"),
            "{error}"
        );
        let error = four.hints(&workbook).unwrap_err().to_string();
        assert!(
            error.starts_with("chapters/ch04-more/exercise/hint-1.md is missing"),
            "{error}"
        );

        fs::remove_file(dir.path().join("chapters/ch03-add/exercise/hint-1.md")).unwrap();
        let error = three.hints(&workbook).unwrap_err().to_string();
        assert!(error.contains("hint-1.md"), "{error}");
    }

    #[test]
    fn the_starting_code_names_the_new_stage_library() {
        let dir = fixture();
        let workbook = Workbook::new(dir.path());
        let sources = workbook.exercise(3).unwrap().sources(Code::Start).unwrap();
        let main = String::from_utf8(sources[Path::new("src/main.rs")].clone()).unwrap();
        assert!(main.contains("ch03_add::answer()"), "{main}");
        let lib = String::from_utf8(sources[Path::new("src/lib.rs")].clone()).unwrap();
        assert!(lib.contains("    1\n"), "the code is stage 2's: {lib}");
    }

    #[test]
    fn rename_replaces_whole_identifiers_only() {
        let text = "use ch04_workers::X; ch04_workers::serve(); my_ch04_workers; ch04_workers_2";
        assert_eq!(
            rename_identifier(text, "ch04_workers", "ch05_queue"),
            "use ch05_queue::X; ch05_queue::serve(); my_ch04_workers; ch04_workers_2"
        );
    }

    #[test]
    fn start_never_overwrites_and_force_moves_the_old_copy_aside() {
        let dir = fixture();
        let workbook = Workbook::new(dir.path());
        let started = start(&workbook, 3, false).unwrap();
        let copy = dir.path().join("exercises/ch03-add");
        assert_eq!(started.copy, copy);
        assert!(copy.join("src/lib.rs").is_file());
        assert!(copy.join("tests/answer.rs").is_file());
        assert!(copy.join("Cargo.lock").is_file());
        let manifest = fs::read_to_string(copy.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"), "{manifest}");
        assert!(manifest.contains("[profile.loom]"), "{manifest}");
        assert!(!dir.path().join("exercises/.ch03-add.staging").exists());

        // The reader's work.
        fs::write(copy.join("src/lib.rs"), "// mine\n").unwrap();
        let error = start(&workbook, 3, false).unwrap_err();
        assert!(
            matches!(error, Error::CopyExists { number: 3, .. }),
            "{error}"
        );
        assert!(error.to_string().contains("--force"), "{error}");
        assert_eq!(
            fs::read_to_string(copy.join("src/lib.rs")).unwrap(),
            "// mine\n"
        );

        let again = start(&workbook, 3, true).unwrap();
        let aside = dir.path().join("exercises/ch03-add.old-1");
        assert_eq!(again.moved_aside.as_deref(), Some(aside.as_path()));
        assert_eq!(
            fs::read_to_string(aside.join("src/lib.rs")).unwrap(),
            "// mine\n"
        );
        let third = start(&workbook, 3, true).unwrap();
        assert_eq!(
            third.moved_aside.unwrap(),
            dir.path().join("exercises/ch03-add.old-2")
        );
    }

    #[test]
    fn start_without_a_task_creates_nothing() {
        let dir = fixture();
        let workbook = Workbook::new(dir.path());
        let error = start(&workbook, 4, false).unwrap_err();
        assert!(matches!(error, Error::MissingContent { .. }), "{error}");
        assert!(!dir.path().join("exercises/ch04-more").exists());
    }

    #[test]
    fn hints_come_one_more_per_call_then_no_more() {
        let dir = fixture();
        let workbook = Workbook::new(dir.path());
        let texts: Vec<String> = (0..3)
            .map(|_| match hint(&workbook, 3).unwrap().2 {
                Hint::Next { number, of, text } => format!("{number}/{of} {text}"),
                Hint::NoMore { count } => format!("no more of {count}"),
            })
            .collect();
        assert_eq!(
            texts,
            ["1/2 Look at `answer`.\n", "2/2 Return 2.\n", "no more of 2"]
        );
        let progress = workbook.progress().unwrap();
        let exercise = workbook.exercise(3).unwrap();
        assert_eq!(progress.record(&exercise).hints_shown, 2);
    }

    #[test]
    fn list_shows_titles_statuses_and_missing_tasks() {
        let dir = fixture();
        let workbook = Workbook::new(dir.path());
        start(&workbook, 3, false).unwrap();
        let listed = list(&workbook).unwrap();
        assert_eq!(listed[0].title.as_deref(), Ok("Add one"));
        assert_eq!(listed[0].status, Status::Started);
        assert!(listed[1].title.as_ref().unwrap_err().contains("task.md"));
        assert_eq!(listed[1].status, Status::NotStarted);

        let mut progress = workbook.progress().unwrap();
        let exercise = workbook.exercise(3).unwrap();
        progress.record_mut(&exercise).checked = Some(Checked::Passing);
        progress.save(&workbook.progress_path()).unwrap();
        assert_eq!(list(&workbook).unwrap()[0].status, Status::Passing);
    }

    #[test]
    fn a_broken_progress_file_is_kept_aside_and_rebuilt_from_the_copies() {
        let dir = fixture();
        let workbook = Workbook::new(dir.path());
        start(&workbook, 3, false).unwrap();
        hint(&workbook, 3).unwrap();
        for (contents, problem) in [
            (&b""[..], "is empty"),
            (b"  \n", "is empty"),
            (b"{ not json", "is not a valid progress file"),
            (b"[1, 2]", "is not a valid progress file"),
        ] {
            write_file(&workbook.progress_path(), contents).unwrap();
            let loaded = workbook.load_progress().unwrap();
            assert!(loaded.problem.as_deref().unwrap().starts_with(problem));
            // Reading does not change the file; `progress` repairs it.
            assert_eq!(fs::read(workbook.progress_path()).unwrap(), contents);
            let progress = workbook.progress().unwrap();
            let exercise = workbook.exercise(3).unwrap();
            assert_eq!(progress.record(&exercise), Record::default());
            assert_eq!(Workbook::new(dir.path()).progress().unwrap(), progress);
            let kept = fs::read_dir(workbook.copies_dir())
                .unwrap()
                .filter(|entry| {
                    let name = entry.as_ref().unwrap().file_name();
                    name.to_string_lossy().starts_with("progress.json.broken-")
                })
                .count();
            assert!(kept >= 1);
        }
        // Every broken file was kept, each under its own number.
        let last = workbook.copies_dir().join("progress.json.broken-4");
        assert_eq!(fs::read(last).unwrap(), b"[1, 2]");
        assert_eq!(list(&workbook).unwrap()[0].status, Status::Started);
    }

    #[test]
    fn a_missing_progress_file_is_rebuilt_only_if_there_are_copies() {
        let dir = fixture();
        let workbook = Workbook::new(dir.path());
        let fresh = workbook.load_progress().unwrap();
        assert_eq!((fresh.progress, fresh.problem), (Progress::default(), None));
        start(&workbook, 3, false).unwrap();
        fs::remove_file(workbook.progress_path()).unwrap();
        let loaded = workbook.load_progress().unwrap();
        assert_eq!(loaded.problem.as_deref(), Some("is missing"));
        assert_eq!(
            loaded.progress.exercises.keys().collect::<Vec<_>>(),
            ["ch03-add"]
        );
        workbook.progress().unwrap();
        assert!(workbook.progress_path().is_file());
        assert!(workbook.load_progress().unwrap().problem.is_none());
    }

    #[test]
    fn the_rebuild_note_says_what_happened_and_what_it_costs() {
        let rebuilt = Rebuilt {
            path: PathBuf::from("exercises/progress.json"),
            problem: "is empty".to_owned(),
            kept_as: Some(PathBuf::from("exercises/progress.json.broken-1")),
            started: vec![
                "ch05-shared-queue".to_owned(),
                "ch07-panic-isolation".to_owned(),
            ],
        };
        assert_eq!(
            rebuilt.to_string(),
            "the progress file exercises/progress.json is empty, so it was rebuilt from your \
             copies: ch05-shared-queue, ch07-panic-isolation now show as started; check them \
             again to record pass or fail, and hints start again from the first. The old file \
             is kept as exercises/progress.json.broken-1."
        );
    }

    #[test]
    fn reset_needs_a_copy_and_keeps_the_old_one_aside() {
        let dir = fixture();
        let workbook = Workbook::new(dir.path());
        let error = reset(&workbook, 3).unwrap_err();
        assert!(
            matches!(error, Error::NotStarted { number: 3, .. }),
            "{error}"
        );
        assert!(!workbook.copies_dir().join("ch03-add").exists());
        assert!(started(&workbook).unwrap().is_empty());

        start(&workbook, 3, false).unwrap();
        let copy = workbook.copies_dir().join("ch03-add");
        fs::write(copy.join("src/lib.rs"), "// mine\n").unwrap();
        let mut progress = workbook.progress().unwrap();
        let exercise = workbook.exercise(3).unwrap();
        progress.record_mut(&exercise).checked = Some(Checked::Failing);
        progress.record_mut(&exercise).hints_shown = 1;
        progress.save(&workbook.progress_path()).unwrap();

        let reset = reset(&workbook, 3).unwrap();
        let aside = workbook.copies_dir().join("ch03-add.old-1");
        assert_eq!(reset.moved_aside.as_deref(), Some(aside.as_path()));
        assert_eq!(
            fs::read_to_string(aside.join("src/lib.rs")).unwrap(),
            "// mine\n"
        );
        assert!(
            fs::read_to_string(copy.join("src/lib.rs"))
                .unwrap()
                .contains("    1\n")
        );
        let record = workbook.progress().unwrap().record(&exercise);
        assert_eq!((record.checked, record.hints_shown), (None, 1));
        let numbers: Vec<u32> = started(&workbook)
            .unwrap()
            .iter()
            .map(Exercise::number)
            .collect();
        assert_eq!(numbers, [3]);
    }

    #[test]
    fn solution_diffs_the_copy_or_the_starting_code_against_the_reference() {
        let dir = fixture();
        let workbook = Workbook::new(dir.path());
        let from_start = solution(&workbook, 3).unwrap();
        assert!(from_start.from_copy.is_none());
        assert!(
            from_start
                .diff
                .starts_with("--- a/src/lib.rs\n+++ b/src/lib.rs\n@@"),
            "{}",
            from_start.diff
        );
        assert!(
            from_start.diff.contains("-    1\n+    2\n"),
            "{}",
            from_start.diff
        );
        // main.rs differs only in the library's name, which the starting code already has.
        assert!(!from_start.diff.contains("main.rs"), "{}", from_start.diff);

        start(&workbook, 3, false).unwrap();
        let copy = dir.path().join("exercises/ch03-add");
        fs::write(copy.join("src/extra.rs"), "// mine\n").unwrap();
        let from_copy = solution(&workbook, 3).unwrap();
        assert_eq!(from_copy.from_copy.as_deref(), Some(copy.as_path()));
        assert!(
            from_copy
                .diff
                .contains("--- a/src/extra.rs\n+++ /dev/null\n"),
            "{}",
            from_copy.diff
        );
    }
}
