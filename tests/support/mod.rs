//! What `tests/compile_steps.rs` and `tests/loom_zoo.rs` share beyond the scratch copies (which
//! are the runner's own code, `poolbook::scratch`): the driver that checks every item (step or
//! bug) and reports every problem at once, and the insta snapshots the book includes.
//!
//! Both include this module (`mod support;`).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
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
