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

/// The lines a unified diff adds, as `(file, line)` in the new file.
pub(crate) fn added_lines(patch: &str) -> BTreeSet<(String, u64)> {
    let mut added = BTreeSet::new();
    let mut file = String::new();
    let mut line = 0;
    for text in patch.lines() {
        if let Some(path) = text.strip_prefix("+++ b/") {
            file = path.to_owned();
        } else if let Some(hunk) = text.strip_prefix("@@ ") {
            // `@@ -a,b +c,d @@`: the new side starts at line c.
            line = hunk
                .split(' ')
                .nth(1)
                .and_then(|new| new.trim_start_matches('+').split(',').next())
                .and_then(|start| start.parse().ok())
                .unwrap_or(0);
        } else if text.starts_with('+') && !text.starts_with("+++") {
            added.insert((file.clone(), line));
            line += 1;
        } else if text.starts_with(' ') {
            line += 1;
        }
    }
    added
}

/// `a`, `a and b`, `a, b and c`.
pub(crate) fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// 1000 as `1,000`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Environment variables that change how a model runs or what it prints, beyond those
/// `poolbook::scratch::cargo_command` removes: libtest's and std's must not capture differently,
/// run more threads or print backtraces.
pub(crate) const UNSET_RUN_ENV: [&str; 5] = [
    "RUST_LIB_BACKTRACE",
    "RUST_TEST_THREADS",
    "RUST_TEST_NOCAPTURE",
    "RUST_TEST_SHUFFLE",
    "RUST_MIN_STACK",
];

/// `cargo test --profile loom --test loom` in `dir`, built with `--cfg <checker>` (`loom`,
/// `shuttle`, `stress`) into `target_dir`, without backtraces, and with none of [`UNSET_RUN_ENV`]
/// nor any `LOOM_*` or `POOLBOOK_*` variable: the models' knobs are the caller's to set.
pub(crate) fn model_command(checker: &str, dir: &Path, target_dir: &Path) -> Command {
    let mut command = poolbook::scratch::cargo_command(target_dir);
    command
        .args(["test", "--profile", "loom", "--test", "loom"])
        .current_dir(dir);
    clear_model_env(&mut command);
    command
        .env("RUSTFLAGS", format!("--cfg {checker}"))
        .env("RUST_BACKTRACE", "0");
    command
}

/// Removes [`UNSET_RUN_ENV`] and every `LOOM_*` and `POOLBOOK_*` variable from `command`'s
/// environment.
pub(crate) fn clear_model_env(command: &mut Command) {
    for var in UNSET_RUN_ENV {
        command.env_remove(var);
    }
    for (var, _) in std::env::vars_os() {
        let name = var.to_string_lossy();
        if name.starts_with("LOOM_") || name.starts_with("POOLBOOK_") {
            command.env_remove(var);
        }
    }
}

/// Brings `copy` up to date as a standalone copy of the crate in `crate_dir`: its `src/`,
/// `tests/` and `build.rs`, then `change` (a patch, or nothing) applied to that, a manifest made
/// standalone with `options`, and the workspace's `Cargo.lock`. The copy is built afresh beside
/// `copy` and synced into it, so files that did not change keep their times and Cargo rebuilds
/// only what did.
pub(crate) fn standalone_copy(
    root: &Path,
    root_manifest: &Table,
    crate_dir: &Path,
    copy: &Path,
    options: &poolbook::scratch::Standalone<'_>,
    change: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<(), String> {
    use poolbook::scratch::{copy_file, copy_tree, standalone_manifest, sync_tree};
    let staging = copy.with_file_name(format!("{}.staging", file_name(copy)));
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(|e| format!("removing {}: {e}", staging.display()))?;
    }
    for dir in ["src", "tests"] {
        copy_tree(&crate_dir.join(dir), &staging.join(dir))?;
    }
    if crate_dir.join("build.rs").exists() {
        copy_file(&crate_dir.join("build.rs"), &staging.join("build.rs"))?;
    }
    change(&staging)?;
    let member = fs::read_to_string(crate_dir.join("Cargo.toml"))
        .map_err(|e| format!("reading the crate's Cargo.toml: {e}"))?;
    let manifest = standalone_manifest(&member, crate_dir, root_manifest, root, options)?;
    fs::write(staging.join("Cargo.toml"), manifest)
        .map_err(|e| format!("writing Cargo.toml: {e}"))?;
    copy_file(&root.join("Cargo.lock"), &staging.join("Cargo.lock"))?;
    sync_tree(&staging, copy)?;
    fs::remove_dir_all(&staging).map_err(|e| format!("removing {}: {e}", staging.display()))
}
