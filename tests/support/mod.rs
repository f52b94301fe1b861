//! What `tests/compile_steps.rs` and `tests/loom_zoo.rs` share beyond the scratch copies (which
//! are the runner's own code, `poolbook::scratch`): the driver that checks every item (step or
//! bug) and reports every problem at once, the insta snapshots the book includes, and the
//! patches (`step.patch`, `bug.patch`) that turn a copy of a crate into the step or the bug.
//!
//! Both include this module (`mod support;`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use toml::Table;

pub(crate) use poolbook::scratch::{display, file_name, workspace_root};

/// The entries of `dir`, sorted; panics (failing the test) if it cannot be listed.
pub(crate) fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    poolbook::scratch::sorted_entries(dir).unwrap_or_else(|e| panic!("{e}"))
}

/// The workspace's `Cargo.toml`, parsed.
pub(crate) fn root_manifest(root: &Path) -> Table {
    fs::read_to_string(root.join("Cargo.toml"))
        .expect("reading the workspace's Cargo.toml")
        .parse()
        .expect("the workspace's Cargo.toml parses")
}

/// One thing to check (a compile-fail step, a zoo bug) with a snapshot in its folder.
pub(crate) trait Item {
    /// How problems name it, e.g. `chapters/ch05-shared-queue/bugs/01-lock-held-during-job`.
    fn id(&self) -> String;
    /// The folder holding its snapshot.
    fn dir(&self) -> &Path;
}

/// Checks every item with `check`, then the header of every item's snapshot `<name>.snap`
/// (after the runs, which may have just written them), and fails with every problem found.
pub(crate) fn check_all<T: Item>(
    what: &str,
    mut problems: Vec<String>,
    items: &[T],
    snapshot: &str,
    mut check: impl FnMut(&T) -> Result<(), Vec<String>>,
) {
    assert!(!items.is_empty(), "found no {what}");
    let started = Instant::now();
    let mut failed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for item in items {
        if let Err(item_problems) = check(item) {
            failed.insert(item.id(), item_problems);
        }
    }
    eprintln!("{} {what} took {:.1?}", items.len(), started.elapsed());

    for item in items {
        let path = item.dir().join(format!("{snapshot}.snap"));
        if let Ok(text) = fs::read_to_string(&path)
            && let Err(problem) = check_snapshot_header(&text)
        {
            failed
                .entry(item.id())
                .or_default()
                .push(format!("{snapshot}.snap: {problem}"));
        }
    }
    for (id, item_problems) in failed {
        for problem in item_problems {
            problems.push(format!("{id}: {problem}"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s) with the {what}:\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

/// Compares `$text` with the insta snapshot `<$dir>/<$name>.snap`; `Err` with `$how_to_accept`
/// and the text if it is missing or differs. `INSTA_UPDATE=always` writes it in place instead;
/// otherwise, outside CI, insta leaves the new text beside it as `<$name>.snap.new`.
///
/// A macro, so that insta's `file!()` names the calling test in the snapshot's `source:` line,
/// as it did before this helper existed.
macro_rules! compare_snapshot {
    ($dir:expr, $name:expr, $text:expr, $how_to_accept:expr) => {{
        let (name, text): (&str, &str) = ($name, &$text);
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path($dir);
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        let matched = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            settings.bind(|| insta::assert_snapshot!(name, text));
        }));
        matched.map_err(|_| {
            format!(
                "{name}.snap is missing or differs (insta's diff is above; to accept the new \
                 output: {}). The normalized output:\n{text}",
                $how_to_accept
            )
        })
    }};
}
pub(crate) use compare_snapshot;

/// Checks a snapshot's insta header: exactly `---`, `source: …`, `---`, so that its content
/// starts on line 4, where the book's `output.snap:4:` includes begin.
pub(crate) fn check_snapshot_header(text: &str) -> Result<(), String> {
    let lines: Vec<&str> = text.lines().collect();
    let ok = lines.len() > 3
        && lines[0] == "---"
        && lines[1].starts_with("source: ")
        && lines[2] == "---";
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the header is not exactly `---`, `source: …`, `---`, so the content does not start \
             on line 4: {:?}",
            &lines[..lines.len().min(5)]
        ))
    }
}

/// A kind of patch against a crate: the compile steps' `step.patch`, the zoo's `bug.patch`. Both
/// are unified diffs made with `git diff --relative=<crate>`, change only files under `src/`, and
/// are applied with `git apply` to a copy of the crate.
pub(crate) struct PatchFile {
    /// The patch's file name in its folder: `step.patch`, `bug.patch`.
    pub(crate) name: &'static str,
    /// Why it may change only `src/`, for the message that refuses anything else.
    pub(crate) only_src: &'static str,
    /// The test whose documentation says how to remake it, for the message when it no longer
    /// applies: `tests/compile_steps.rs`, `tests/loom_zoo.rs`.
    pub(crate) documented_in: &'static str,
}

impl PatchFile {
    /// The files `patch` changes, relative to the crate, from its `--- a/…` and `+++ b/…` lines;
    /// refuses a patch that changes nothing, or anything outside `src/`, or creates or deletes
    /// files.
    pub(crate) fn patched_files(&self, patch: &str) -> Result<BTreeSet<String>, String> {
        let name = self.name;
        let mut files = BTreeSet::new();
        for line in patch.lines() {
            for (marker, prefix) in [("--- ", "a/"), ("+++ ", "b/")] {
                let Some(path) = line.strip_prefix(marker) else {
                    continue;
                };
                // A traditional diff may follow the path with a tab and a time stamp.
                let path = path.split('\t').next().unwrap_or(path).trim_end();
                let Some(path) = path.strip_prefix(prefix) else {
                    return Err(format!(
                        "{name}: `{line}` must name `{prefix}<path in the crate>`, not create or \
                         delete a file"
                    ));
                };
                if !path.starts_with("src/") || path.split('/').any(|part| part == "..") {
                    return Err(format!(
                        "{name} changes {path}, but it may only change files under src/ ({})",
                        self.only_src
                    ));
                }
                files.insert(path.to_owned());
            }
        }
        if files.is_empty() {
            return Err(format!(
                "{name} has no `--- a/src/…` / `+++ b/src/…` lines: it is not a unified diff"
            ));
        }
        Ok(files)
    }

    /// Applies `patch` to the copy of a crate in `copy` with `git apply`, then checks that each of
    /// `patched` (from [`PatchFile::patched_files`]) differs from the crate's own in `original`.
    ///
    /// `git` runs outside any repository (so that it neither reads this workspace's repository
    /// nor skips paths outside its current folder) and without any user or system configuration.
    pub(crate) fn apply(
        &self,
        patch: &Path,
        original: &Path,
        copy: &Path,
        patched: &BTreeSet<String>,
    ) -> Result<(), String> {
        let mut git = Command::new("git");
        git.arg("apply").arg(patch).current_dir(copy);
        for (var, _) in std::env::vars_os() {
            if var.to_string_lossy().starts_with("GIT_") {
                git.env_remove(var);
            }
        }
        let ceiling = copy.parent().unwrap_or(copy);
        git.env("GIT_CEILING_DIRECTORIES", ceiling)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("LC_ALL", "C");
        let output = git
            .output()
            .map_err(|e| format!("running `git apply` (is git installed?): {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "{} no longer applies to the crate's current source: the code it changes has \
                 moved on. Remake the patch against today's source (see {}). `git apply` says:\n{}",
                self.name,
                self.documented_in,
                String::from_utf8_lossy(&output.stderr).trim_end()
            ));
        }
        for rel in patched {
            let before = fs::read(original.join(rel)).unwrap_or_default();
            let after = fs::read(copy.join(rel)).unwrap_or_default();
            if before == after {
                return Err(format!(
                    "{} applied, but left {rel} as it was: `git apply` skipped it",
                    self.name
                ));
            }
        }
        Ok(())
    }
}
