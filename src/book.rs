//! Building the book with mdBook's library, and collecting what mdBook warned about.
//!
//! mdBook does not fail a build for most problems in the sources: a `{{#include}}` whose file is
//! missing is logged as an error and left in the page as raw text. Its command-line tool prints
//! those logs; a library caller sees nothing unless it listens. So every build here listens, and
//! hands back what was logged at warning level or above as [`Diagnostic`]s.
//!
//! mdBook itself logs through `tracing`; the HTML parser it uses (`html5ever`) and its template
//! engine (`handlebars`) log through `log`. Both are collected.

use std::error::Error;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Once, PoisonError};

use anyhow::{Context as _, bail};
use mdbook_driver::MDBook;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_log::NormalizeEvent as _;

/// The book of this workspace: the `book/` folder next to the runner's `Cargo.toml`.
///
/// The path is fixed at compile time, so `cargo run` finds the book from any working directory
/// inside the workspace.
pub fn default_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("book")
}

/// A finished build.
#[derive(Debug, Clone)]
pub struct Built {
    /// The folder holding the HTML book (`index.html` and everything it links to).
    pub html_dir: PathBuf,
    /// What mdBook warned about during the build, in the order it was logged.
    pub diagnostics: Vec<Diagnostic>,
}

/// Builds the book at `book_root` into the build folder its `book.toml` names.
///
/// # Errors
///
/// If the book cannot be loaded (no `book.toml`, a chapter file missing) or rendered; the error
/// also carries what mdBook logged before it gave up.
pub fn build(book_root: &Path) -> Result<Built, BuildError> {
    build_to(book_root, None)
}

/// Builds the book at `book_root` into `dest` instead of its configured build folder.
///
/// Lets a test or a second runner build without touching the folder a running server is serving.
/// mdBook empties its output folder before writing, so `dest` must be missing, empty, or hold an
/// earlier build of a book; any other folder is refused rather than wiped.
///
/// # Errors
///
/// As [`build`], and if `dest` is a folder that does not look like an earlier build.
pub fn build_into(book_root: &Path, dest: &Path) -> Result<Built, BuildError> {
    build_to(book_root, Some(dest))
}

/// The folder a build of the book at `book_root` writes its HTML to, without building.
///
/// `dest` overrides the configured build folder, as in [`build_into`]. This is where a server
/// started with `--no-build` looks for an earlier build.
///
/// # Errors
///
/// If the book cannot be loaded.
pub fn html_dir(book_root: &Path, dest: Option<&Path>) -> Result<PathBuf, BuildError> {
    let (result, diagnostics) =
        collect_diagnostics(|| Ok(load(book_root, dest)?.build_dir_for("html")));
    result.map_err(|error| BuildError {
        action: "load",
        book_root: book_root.to_path_buf(),
        error,
        diagnostics,
    })
}

fn build_to(book_root: &Path, dest: Option<&Path>) -> Result<Built, BuildError> {
    let (result, diagnostics) = collect_diagnostics(|| {
        let book = load(book_root, dest)?;
        let html_dir = book.build_dir_for("html");
        refuse_foreign_folder(&html_dir)?;
        book.build().context("mdBook could not render the book")?;
        Ok(html_dir)
    });
    match result {
        Ok(html_dir) => Ok(Built {
            html_dir,
            diagnostics,
        }),
        Err(error) => Err(BuildError {
            action: "build",
            book_root: book_root.to_path_buf(),
            error,
            diagnostics,
        }),
    }
}

fn load(book_root: &Path, dest: Option<&Path>) -> anyhow::Result<MDBook> {
    // Without a `book.toml` mdBook would carry on with defaults, and could create a `src/`
    // folder there; a wrong root should be an error instead.
    if !book_root.join("book.toml").is_file() {
        bail!("there is no book.toml in {}", book_root.display());
    }
    let mut book = MDBook::load(book_root).context("mdBook could not load the book")?;
    if let Some(dest) = dest {
        // The output folder is read from the config when rendering, not when loading, so
        // changing it here is enough; an absolute path replaces the book root when joined.
        book.config.build.build_dir = std::path::absolute(dest)
            .with_context(|| format!("cannot resolve {}", dest.display()))?;
    }
    Ok(book)
}

/// mdBook deletes everything in its output folder first; make sure that is not somebody's work
/// (a mistyped `--dest .` would otherwise empty the workspace).
fn refuse_foreign_folder(dir: &Path) -> anyhow::Result<()> {
    let mut entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    // mdBook writes `.nojekyll` into every HTML build, so it marks a folder as its own.
    if entries.next().is_none() || dir.join(".nojekyll").is_file() {
        return Ok(());
    }
    bail!(
        "refusing to build into {}: it is not empty and holds no earlier build of a book, \
         and mdBook would delete everything in it",
        dir.display()
    )
}

/// A book that could not be built, or loaded to find its build.
#[derive(Debug)]
pub struct BuildError {
    /// What failed, for the message: "build" or "load".
    action: &'static str,
    book_root: PathBuf,
    error: anyhow::Error,
    diagnostics: Vec<Diagnostic>,
}

impl BuildError {
    /// What mdBook logged before it failed; often the more precise account of what went wrong.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (action, root) = (self.action, self.book_root.display());
        write!(f, "cannot {action} the book in {root}")
    }
}

impl Error for BuildError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.error.as_ref())
    }
}

/// How serious a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Logged at `WARN`: the book was built, but something in it may be wrong.
    Warning,
    /// Logged at `ERROR`: something in the book is wrong, though mdBook may have carried on.
    Error,
}

/// Something mdBook logged at warning level or above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Warning or error.
    pub severity: Severity,
    /// The module that logged it, such as `mdbook_driver::builtin_preprocessors::links`.
    pub target: String,
    /// The message, followed by any structured fields as `name=value`.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{severity} ({}): {}", self.target, self.message)
    }
}

/// Runs `f` on this thread and returns what was logged during it at warning level or above.
///
/// The collector is installed for this thread only, so builds on other threads (parallel tests)
/// neither see nor spoil each other's diagnostics; mdBook builds on the calling thread.
fn collect_diagnostics<T>(f: impl FnOnce() -> T) -> (T, Vec<Diagnostic>) {
    forward_log_records();
    let diagnostics = Arc::new(Mutex::new(Vec::new()));
    let collector = Collector {
        diagnostics: Arc::clone(&diagnostics),
    };
    let value = tracing::subscriber::with_default(collector, f);
    let diagnostics =
        std::mem::take(&mut *diagnostics.lock().unwrap_or_else(PoisonError::into_inner));
    (value, diagnostics)
}

/// Turns `log` records into `tracing` events, which reach the collector of the thread that
/// logged them.
///
/// `log` has a single process-wide logger. If the program already installed one, that logger
/// keeps the records and they are not collected here; nothing else breaks.
fn forward_log_records() {
    static FORWARD: Once = Once::new();
    FORWARD.call_once(|| {
        let _ = tracing_log::LogTracer::init_with_filter(tracing_log::log::LevelFilter::Warn);
    });
}

/// A minimal `tracing` subscriber that keeps warnings and errors and ignores everything else.
///
/// mdBook opens no spans, and the collector has no use for them, so they all share one id.
struct Collector {
    diagnostics: Arc<Mutex<Vec<Diagnostic>>>,
}

impl Subscriber for Collector {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= Level::WARN
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::WARN)
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        // Records forwarded from `log` arrive under a generic target, with the real one in a
        // field; the normalized metadata puts it back.
        let normalized = event.normalized_metadata();
        let metadata = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let severity = if *metadata.level() == Level::ERROR {
            Severity::Error
        } else {
            Severity::Warning
        };
        let mut message = Message::default();
        event.record(&mut message);
        let diagnostic = Diagnostic {
            severity,
            target: metadata.target().to_owned(),
            message: message.0,
        };
        self.diagnostics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(diagnostic);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// Renders an event's fields as one line: the message first, other fields after it.
#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        use fmt::Write as _;
        let name = field.name();
        if name.starts_with("log.") {
            // Where a `log` record came from; already in the normalized metadata.
            return;
        }
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        let _ = if name == "message" {
            write!(self.0, "{value:?}")
        } else {
            write!(self.0, "{name}={value:?}")
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A book of one chapter whose text is `chapter`.
    fn book_with(chapter: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("src")).unwrap();
        fs::write(dir.path().join("book.toml"), "[book]\ntitle = \"t\"\n").unwrap();
        fs::write(
            dir.path().join("src/SUMMARY.md"),
            "# Summary\n\n- [One](one.md)\n",
        )
        .unwrap();
        fs::write(dir.path().join("src/one.md"), chapter).unwrap();
        dir
    }

    #[test]
    fn a_clean_book_builds_without_diagnostics() {
        let book = book_with("# One\n\nHello.\n");
        let built = build(book.path()).unwrap();
        assert_eq!(built.html_dir, book.path().join("book"));
        assert!(built.html_dir.join("one.html").is_file());
        assert_eq!(built.diagnostics, []);
    }

    #[test]
    fn a_broken_include_is_reported() {
        let book = book_with("# One\n\n{{#include missing.rs}}\n");
        let built = build(book.path()).unwrap();
        let errors: Vec<_> = built
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        assert_eq!(errors.len(), 1, "{:?}", built.diagnostics);
        assert!(errors[0].message.contains("missing.rs"), "{}", errors[0]);
        assert!(errors[0].target.starts_with("mdbook"), "{}", errors[0]);
    }

    #[test]
    fn log_records_are_collected_too() {
        let ((), diagnostics) = collect_diagnostics(|| {
            tracing_log::log::warn!(target: "some_parser", "odd input");
            tracing_log::log::info!("not collected");
        });
        assert_eq!(
            diagnostics,
            [Diagnostic {
                severity: Severity::Warning,
                target: "some_parser".to_owned(),
                message: "odd input".to_owned(),
            }]
        );
    }

    #[test]
    fn builds_into_another_folder_and_finds_it_again() {
        let book = book_with("# One\n");
        let out = tempfile::tempdir().unwrap();
        let dest = out.path().join("html");
        let built = build_into(book.path(), &dest).unwrap();
        assert_eq!(built.html_dir, dest);
        assert!(dest.join("index.html").is_file());
        assert!(!book.path().join("book").exists());
        assert_eq!(html_dir(book.path(), Some(&dest)).unwrap(), dest);
        // An earlier build may be replaced.
        build_into(book.path(), &dest).unwrap();
    }

    #[test]
    fn refuses_to_empty_a_folder_that_is_not_a_build() {
        let book = book_with("# One\n");
        let out = tempfile::tempdir().unwrap();
        fs::write(out.path().join("precious.txt"), "work").unwrap();
        let error = build_into(book.path(), out.path()).unwrap_err();
        let cause = error.source().unwrap().to_string();
        assert!(cause.contains("refusing"), "{cause}");
        assert!(out.path().join("precious.txt").is_file());
    }

    #[test]
    fn a_missing_book_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let error = build(&dir.path().join("nope")).unwrap_err();
        assert!(error.to_string().contains("nope"), "{error}");
    }
}
