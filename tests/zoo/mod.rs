//! The bug zoo's folders, what a `bug.toml` declares, and the patched copy of a crate each bug
//! is run in: what `tests/loom_zoo.rs` (loom must catch every bug, as declared) and
//! `tests/zoo_matrix.rs` (which tools catch which bug) share. Both include this module
//! (`mod zoo;`), beside `mod support;`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use poolbook::scratch::{Standalone, Tests, workspace_members};
use toml::{Table, Value};

use crate::support::{Item, PatchFile, display, file_name, sorted_entries, standalone_copy};

/// The keys a `bug.toml` may have (`message` only with `caught_as = "panic"`).
pub(crate) const BUG_KEYS: [&str; 5] = ["title", "model", "caught_as", "preemptions", "message"];
/// The models' preemption bound: `poolbook_sync::model::PREEMPTION_BOUND`, which exists only in a
/// loom build (a unit test below holds the two together).
pub(crate) const PREEMPTION_BOUND: usize = 3;
/// The bug itself, a patch against the crate.
pub(crate) const BUG_PATCH: PatchFile = PatchFile {
    name: "bug.patch",
    only_src: "the models in tests/ stay as they are",
    documented_in: "tests/loom_zoo.rs",
};
/// How a bug's copy of its crate is made standalone: with its tests and the loom profile.
pub(crate) const STANDALONE: Standalone<'static> = Standalone {
    written_by: "tests/loom_zoo.rs",
    tests: Tests::Keep,
    profiles: &["loom"],
    build_metadata: None,
};
/// One bug, as found on disk.
pub(crate) struct Bug {
    /// The crate's folder, relative to the workspace: `chapters/ch05-shared-queue`, `crates/sync`.
    pub(crate) krate: String,
    /// The bug's folder name, e.g. `01-lock-held-during-job`.
    pub(crate) name: String,
    /// `<krate>/bugs/<name>`.
    pub(crate) dir: PathBuf,
}

impl Item for Bug {
    fn id(&self) -> String {
        format!("{}/bugs/{}", self.krate, self.name)
    }

    fn dir(&self) -> &Path {
        &self.dir
    }
}

/// How loom must catch a bug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Caught {
    /// Every thread blocked: loom reports `deadlock; threads = [...]` (as a panic, often followed
    /// by an abort).
    Deadlock,
    /// A panic inside the model (a failed assertion, an `unwrap` on an error), whose message
    /// contains this text.
    Panic(String),
}

/// What a `bug.toml` declares.
#[derive(Debug)]
pub(crate) struct BugSpec {
    /// The `#[test]` in the crate's `tests/loom.rs` that must catch the bug.
    pub(crate) model: String,
    pub(crate) caught: Caught,
    /// The fewest preemptions with which loom catches the bug.
    pub(crate) preemptions: usize,
}

/// Finds the `bugs/*/` folders of every workspace member (the root `Cargo.toml`'s `members`:
/// `chapters/*`, `crates/*`, `measure/*`), sorted.
pub(crate) fn discover_bugs(root: &Path, problems: &mut Vec<String>) -> Vec<Bug> {
    let mut bugs = Vec::new();
    for crate_dir in workspace_members(root).unwrap_or_else(|e| panic!("{e}")) {
        let bugs_dir = crate_dir.join("bugs");
        if !bugs_dir.exists() {
            continue;
        }
        let krate = display(root, &crate_dir);
        for dir in sorted_entries(&bugs_dir) {
            if dir.is_dir() {
                bugs.push(Bug {
                    krate: krate.clone(),
                    name: file_name(&dir),
                    dir,
                });
            } else {
                problems.push(format!(
                    "{}: only bug folders belong in bugs/",
                    display(root, &dir)
                ));
            }
        }
    }
    bugs
}

/// Parses a `bug.toml`, refusing missing, unknown or ill-typed keys.
pub(crate) fn parse_bug_toml(text: &str) -> Result<BugSpec, String> {
    let table: Table = text
        .parse()
        .map_err(|e| format!("bug.toml does not parse: {e}"))?;
    let unknown: Vec<&str> = table
        .keys()
        .map(String::as_str)
        .filter(|key| !BUG_KEYS.contains(key))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "bug.toml has unknown keys {unknown:?} (allowed: {BUG_KEYS:?})"
        ));
    }
    match table.get("title") {
        Some(Value::String(title)) if !title.trim().is_empty() && !title.contains('\n') => {}
        _ => return Err("bug.toml needs `title`, a non-empty string on one line".to_owned()),
    }
    let model = match table.get("model") {
        Some(Value::String(model)) if is_identifier(model) => model.clone(),
        _ => {
            return Err(
                "bug.toml needs `model`, the name of a test function in tests/loom.rs".to_owned(),
            );
        }
    };
    let message = match table.get("message") {
        None => None,
        Some(Value::String(message)) if !message.trim().is_empty() => Some(message.clone()),
        Some(_) => return Err("bug.toml: `message` must be a non-empty string".to_owned()),
    };
    let caught = match (table.get("caught_as").and_then(Value::as_str), message) {
        (Some("deadlock"), None) => Caught::Deadlock,
        (Some("deadlock"), Some(_)) => {
            return Err("bug.toml: `message` is only for `caught_as = \"panic\"`".to_owned());
        }
        (Some("panic"), Some(message)) => Caught::Panic(message),
        (Some("panic"), None) => {
            return Err(
                "bug.toml: `caught_as = \"panic\"` needs `message`, text the panic message \
                 must contain"
                    .to_owned(),
            );
        }
        _ => {
            return Err("bug.toml needs `caught_as`, either \"deadlock\" or \"panic\"".to_owned());
        }
    };
    let preemptions = match table.get("preemptions").and_then(Value::as_integer) {
        Some(n) if (0..=PREEMPTION_BOUND as i64).contains(&n) => n as usize,
        _ => {
            return Err(format!(
                "bug.toml needs `preemptions`, the fewest preemptions with which loom catches the \
                 bug: a whole number from 0 to the models' bound, {PREEMPTION_BOUND}"
            ));
        }
    };
    Ok(BugSpec {
        model,
        caught,
        preemptions,
    })
}

pub(crate) fn is_identifier(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `models` (a `tests/loom.rs`) has `fn <model>()` marked `#[test]`.
pub(crate) fn has_model(models: &str, model: &str) -> bool {
    let lines: Vec<&str> = models.lines().map(str::trim).collect();
    let signature = format!("fn {model}()");
    lines.iter().enumerate().any(|(i, line)| {
        line.strip_prefix("pub ")
            .unwrap_or(line)
            .starts_with(&signature)
            && lines[..i]
                .iter()
                .rev()
                .take_while(|line| line.starts_with("#[") || line.starts_with("//"))
                .any(|line| *line == "#[test]")
    })
}

/// Brings `target/loom-zoo-crates/<crate>/<bug>/` up to date: the crate with the bug's patch
/// applied, a standalone manifest with the loom profile, and the workspace's `Cargo.lock`.
pub(crate) fn prepare_scratch(
    root: &Path,
    root_manifest: &Table,
    bug: &Bug,
    patched: &BTreeSet<String>,
) -> Result<PathBuf, String> {
    let crate_dir = root.join(&bug.krate);
    let scratch = root
        .join("target")
        .join("loom-zoo-crates")
        .join(file_name(&crate_dir))
        .join(&bug.name);
    // Every copy of a crate has the same path relative to its own workspace root, so without a
    // version of its own each copy would overwrite the others' artifacts in the shared target
    // folder, and a later run could test another bug's binary.
    let build =
        format!("zoo.{}", bug.name).replace(|c: char| !c.is_ascii_alphanumeric() && c != '.', "-");
    let options = Standalone {
        build_metadata: Some(&build),
        ..STANDALONE
    };
    standalone_copy(
        root,
        root_manifest,
        &crate_dir,
        &scratch,
        &options,
        |staging| BUG_PATCH.apply(&bug.dir.join(BUG_PATCH.name), &crate_dir, staging, patched),
    )?;
    Ok(scratch)
}
