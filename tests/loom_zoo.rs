//! The bug zoo: known-buggy variants of the pool stages and of the channel, each of which loom
//! must catch.
//!
//! A bug is a folder `chapters/<stage>/bugs/<NN-name>/` (or `crates/<crate>/bugs/<NN-name>/` for a
//! bug in a shared crate, such as the channel in `crates/sync`; every workspace member's `bugs/`
//! is searched) holding:
//!
//! - `bug.toml`: `title` (one line), `model` (the `#[test]` in the crate's `tests/loom.rs` that
//!   must catch the bug), `caught_as` (`"deadlock"`, or `"panic"` for an assertion failing inside
//!   the model), `preemptions` (the fewest preemptions loom needs to catch it, at most the
//!   models' bound of 3) and, for a panic, `message`, a text the panic message must contain;
//! - `bug.patch`: a unified diff against the crate (`--- a/src/pool.rs`, `+++ b/src/pool.rs`),
//!   touching only files under `src/`; the book shows it in a `diff` block;
//! - `report.snap`: the insta snapshot of what loom reports, normalized; the book includes it from
//!   its fourth line: `{{#include ../../chapters/<stage>/bugs/<bug>/report.snap:4:}}`.
//!
//! For every bug this test:
//!
//! 1. checks that `model` is a `#[test]` of the crate's `tests/loom.rs`;
//! 2. copies the crate (`Cargo.toml`, `src/`, `tests/`, `build.rs` if any) and applies the patch
//!    with `git apply`, then makes the manifest standalone as `tests/compile_steps.rs` does, but
//!    keeping dev-dependencies (the models need them) and adding the workspace's `[profile.loom]`,
//!    next to a copy of the workspace's `Cargo.lock`, and with `+zoo.<bug>` added to its version,
//!    so that copies of one crate do not share artifact names. The copy lives in
//!    `target/loom-zoo-crates/<crate>/<bug>/` and is updated file by file, rewriting only files
//!    whose content changed, so that a second run does not rebuild it;
//! 3. runs `cargo test --profile loom --test loom -- <model> --exact` there with
//!    `RUSTFLAGS="--cfg loom"`, `LOOM_LOCATION=1` (so a deadlock report says where each thread is
//!    blocked) and `RUST_BACKTRACE=0`, in a child process, because a deadlock found by loom
//!    aborts its process. All bugs share the target folder `target/loom` with
//!    `tests/loom_models.rs`, so the dependencies are built once;
//! 4. checks that the run failed the declared way: a `deadlock` (loom's `deadlock; threads = [`
//!    report; the process then usually aborts, with `SIGABRT`, when the cleanup that follows
//!    panics in a destructor), or a `panic` whose message contains `message`, with no deadlock;
//! 5. compares the normalized report with `report.snap`: the command a reader types, then either
//!    the deadlock report with one thread per line, or the first panic (its `panicked at` line and
//!    message) without the backtraces and secondary panics that follow. Paths in the crate's copy
//!    become relative to the crate (`src/pool.rs`), paths in the workspace relative to its root
//!    (`crates/sync/src/model.rs`), registry paths `<loom>/src/…`, and thread ids are dropped;
//! 6. checks `preemptions`, with loom's `LOOM_MAX_PREEMPTIONS`: the model catches the bug, the
//!    declared way, when loom may preempt that many times, and passes when it may preempt one
//!    time fewer. So the book's claims about the bound ("a bound of 1 lets three bugs through")
//!    stay true, and a model that a change makes weaker shows up as a bug that needs more.
//!
//! Every problem with every bug is reported together. That the *unpatched* models pass is
//! `tests/loom_models.rs`'s job.
//!
//! To write a bug, edit the crate in place, then
//! `git diff --relative=chapters/<stage> > chapters/<stage>/bugs/<NN-name>/bug.patch` and undo the
//! edit (`git checkout chapters/<stage>/src`). After changing a bug, a model or the toolchain,
//! regenerate the snapshots and read the diff: `INSTA_UPDATE=always cargo test --test loom_zoo`.
//! With `CI=true`, insta writes nothing and a mismatch fails.

// Shared with the other tests that copy crates, which use the parts this one does not.
#[allow(dead_code)]
mod support;
mod zoo;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::time::Instant;

use poolbook::scratch::check_lock_subset;
use toml::Table;

use support::{
    Item, check_all, compare_snapshot, file_name, model_command, root_manifest, sorted_entries,
    workspace_root,
};
use zoo::{
    BUG_PATCH, Bug, BugSpec, Caught, PREEMPTION_BOUND, discover_bugs, has_model, parse_bug_toml,
    prepare_scratch,
};

/// The files a bug folder holds.
const BUG_FILES: [&str; 4] = ["bug.toml", "bug.patch", "report.snap", "report.snap.new"];
/// The snapshot's name; insta stores it as `report.snap` in the bug folder.
const SNAPSHOT_NAME: &str = "report";
/// What loom prints, as a panic message, when every thread is blocked.
const DEADLOCK: &str = "deadlock; threads = [";

/// What one run of a model printed.
struct RunOutput {
    success: bool,
    stdout: String,
    stderr: String,
}

/// The command a reader types, in the crate's folder, to see what loom reports.
fn reader_command(model: &str) -> String {
    format!(
        "LOOM_LOCATION=1 RUSTFLAGS=\"--cfg loom\" cargo test --profile loom --test loom -- \
         {model} --exact"
    )
}

/// Runs `model` under loom in the bug's copy at `dir`, in a child process (a deadlock aborts it),
/// with loom's preemption bound set to `preemptions`, or left to the models' own
/// ([`PREEMPTION_BOUND`]).
fn run_model(
    model: &str,
    dir: &Path,
    target_dir: &Path,
    preemptions: Option<usize>,
) -> Result<RunOutput, String> {
    let mut cmd = model_command("loom", dir, target_dir);
    cmd.args(["--", model, "--exact"]).env("LOOM_LOCATION", "1");
    if let Some(preemptions) = preemptions {
        cmd.env("LOOM_MAX_PREEMPTIONS", preemptions.to_string());
    }
    let output = cmd
        .output()
        .map_err(|e| format!("running `cargo test` for {model}: {e}"))?;
    Ok(RunOutput {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// How paths in the output are shown: the crate's copy becomes relative to the crate, the
/// workspace relative to its root.
struct Paths {
    /// Absolute prefixes (with their trailing `/`), longest first, and what replaces each.
    prefixes: Vec<(String, String)>,
}

impl Paths {
    fn new(scratch: &Path, root: &Path) -> Paths {
        let mut prefixes = Vec::new();
        for (path, with) in [(scratch, ""), (root, "")] {
            let mut forms = vec![path.to_path_buf()];
            if let Ok(canonical) = path.canonicalize() {
                forms.push(canonical);
            }
            for form in forms {
                let form = format!("{}/", form.to_string_lossy().trim_end_matches('/'));
                if !prefixes.iter().any(|(from, _)| *from == form) {
                    prefixes.push((form, with.to_owned()));
                }
            }
        }
        prefixes.sort_by_key(|(from, _): &(String, String)| std::cmp::Reverse(from.len()));
        Paths { prefixes }
    }

    fn normalize(&self, line: &str) -> String {
        let mut line = line.to_owned();
        for (from, to) in &self.prefixes {
            line = line.replace(from.as_str(), to);
        }
        shorten_toolchain_paths(&line)
    }
}

/// `…/registry/src/<index>/loom-0.7.2/src/rt/execution.rs` becomes `<loom>/src/rt/execution.rs`,
/// and `/rustc/<commit>/library/…` becomes `<rustc>/library/…`: the book shows the same text on
/// every machine and for every patch release.
fn shorten_toolchain_paths(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    loop {
        let registry = rest.find("/registry/src/");
        let rustc = rest.find("/rustc/");
        let (at, is_registry) = match (registry, rustc) {
            (Some(r), Some(c)) if c < r => (c, false),
            (Some(r), _) => (r, true),
            (None, Some(c)) => (c, false),
            (None, None) => break,
        };
        // The path starts after the last delimiter before the marker.
        let start = rest[..at]
            .rfind(|c: char| c.is_whitespace() || c == '"' || c == '`' || c == '(')
            .map_or(0, |i| i + 1);
        let after_marker = if is_registry {
            at + "/registry/src/".len()
        } else {
            at + "/rustc/".len()
        };
        // Skip the index folder (registry) or the commit (rustc).
        let Some(slash) = rest[after_marker..].find('/') else {
            break;
        };
        let component_start = after_marker + slash + 1;
        if is_registry {
            let Some(end) = rest[component_start..].find('/') else {
                break;
            };
            let package = &rest[component_start..component_start + end];
            let name = package
                .rmatch_indices('-')
                .find(|(i, _)| package[i + 1..].starts_with(|c: char| c.is_ascii_digit()))
                .map_or(package, |(i, _)| &package[..i]);
            out.push_str(&rest[..start]);
            out.push('<');
            out.push_str(name);
            out.push('>');
            rest = &rest[component_start + end..];
        } else {
            out.push_str(&rest[..start]);
            out.push_str("<rustc>/");
            rest = &rest[component_start..];
        }
    }
    out.push_str(rest);
    out
}

/// `thread 'name' (7794) panicked at …` without the OS thread id, which changes on every run.
fn drop_thread_id(line: &str) -> String {
    if let Some(rest) = line.strip_prefix("thread '")
        && let Some(close) = rest.find("' (")
        && let Some(end) = rest[close + 3..].find(") ")
        && rest[close + 3..close + 3 + end]
            .chars()
            .all(|c| c.is_ascii_digit())
    {
        let (name, after) = (&rest[..close], &rest[close + 3 + end + 2..]);
        return format!("thread '{name}' {after}");
    }
    line.to_owned()
}

/// Splits loom's one-line `deadlock; threads = [(Id(0), …), …]` into one thread per line, with
/// `Location(Some(Location { … }))` shown as `Location { … }`.
fn format_deadlock(line: &str) -> Result<Vec<String>, String> {
    let list = line
        .strip_prefix(DEADLOCK)
        .and_then(|rest| rest.trim_end().strip_suffix(']'))
        .ok_or_else(|| format!("not a deadlock report: {line}"))?;
    let mut threads = Vec::new();
    let (mut depth, mut quoted, mut start) = (0_usize, false, 0);
    let mut previous = ' ';
    for (i, c) in list.char_indices() {
        match c {
            '"' if previous != '\\' => quoted = !quoted,
            '(' | '[' | '{' if !quoted => depth += 1,
            ')' | ']' | '}' if !quoted => depth = depth.saturating_sub(1),
            ',' if !quoted && depth == 0 => {
                threads.push(list[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
        previous = c;
    }
    if !list[start..].trim().is_empty() {
        threads.push(list[start..].trim());
    }
    let mut lines = vec![DEADLOCK.to_owned()];
    for thread in threads {
        let thread = thread
            .replace("Location(Some(Location {", "Location {")
            .replace(" }))", " }");
        lines.push(format!("    {thread},"));
    }
    lines.push("]".to_owned());
    Ok(lines)
}

/// The first panic report in `text` whose message contains `message` (any, if `None`): its
/// `thread '…' panicked at <path>:<line>:<col>:` line and the message lines after it, up to a
/// blank line, a `note:`, a backtrace or the next panic.
///
/// A model may print panics that are part of its scenario (a job that panics on purpose, caught by
/// the pool) before the one that fails it; the declared message picks the failure out.
fn first_panic(text: &str, message: Option<&str>) -> Option<Vec<String>> {
    let mut reports = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in text.lines() {
        if line.starts_with("thread '") && line.contains("panicked at") {
            reports.extend(current.take());
            current = Some(vec![line.to_owned()]);
        } else if let Some(report) = current.as_mut() {
            if line.trim().is_empty()
                || line.starts_with("note: ")
                || line.starts_with("stack backtrace:")
            {
                reports.extend(current.take());
            } else {
                report.push(line.to_owned());
            }
        }
    }
    reports.extend(current);
    reports
        .into_iter()
        .find(|report| message.is_none_or(|m| report[1..].join("\n").contains(m)))
}

/// What the book shows of a caught bug: the reader's command, then loom's report.
fn normalize_report(
    model: &str,
    message: Option<&str>,
    output: &RunOutput,
    paths: &Paths,
) -> Result<String, String> {
    let mut lines = vec![format!("$ {}", reader_command(model))];
    // libtest prints the test thread's panics to stdout, the process's last words to stderr.
    let combined = format!("{}\n{}", output.stdout, output.stderr);
    if let Some(deadlock) = combined.lines().find(|line| line.starts_with(DEADLOCK)) {
        lines.extend(format_deadlock(&paths.normalize(deadlock))?);
    } else {
        let first = first_panic(&output.stdout, message)
            .or_else(|| first_panic(&output.stderr, message))
            .ok_or("the output has no `panicked at` line")?;
        lines.extend(
            first
                .iter()
                .map(|line| drop_thread_id(&paths.normalize(line))),
        );
    }
    let mut text: String = lines
        .iter()
        .map(|line| line.trim_end())
        .collect::<Vec<_>>()
        .join("\n");
    text.push('\n');
    Ok(text)
}

/// Whether the run was caught the declared way; the problems if not.
fn check_caught(spec: &BugSpec, output: &RunOutput) -> Vec<String> {
    let shown = || {
        format!(
            "\n--- stdout:\n{}\n--- stderr:\n{}",
            output.stdout.trim_end(),
            output.stderr.trim_end()
        )
    };
    if output.success {
        return vec![format!(
            "the model `{}` passed: loom did not catch this bug{}",
            spec.model,
            shown()
        )];
    }
    if !output.stdout.contains("running 1 test") {
        return vec![format!(
            "the model `{}` did not run (did the patched crate fail to build?){}",
            spec.model,
            shown()
        )];
    }
    let combined = format!("{}\n{}", output.stdout, output.stderr);
    let deadlock = combined.lines().any(|line| line.starts_with(DEADLOCK));
    let mut problems = Vec::new();
    match &spec.caught {
        Caught::Deadlock => {
            if !deadlock {
                problems.push(format!(
                    "bug.toml declares a deadlock, but loom reported none (no `{DEADLOCK}` line){}",
                    shown()
                ));
            }
        }
        Caught::Panic(message) => {
            if deadlock {
                problems.push(format!(
                    "bug.toml declares a panic, but loom reported a deadlock{}",
                    shown()
                ));
            } else {
                let first = first_panic(&output.stdout, Some(message))
                    .or_else(|| first_panic(&output.stderr, Some(message)))
                    .or_else(|| first_panic(&output.stdout, None));
                match first {
                    None => problems.push(format!("the model failed without a panic{}", shown())),
                    Some(report) if !report[1..].join("\n").contains(message.as_str()) => {
                        problems.push(format!(
                            "the model panicked, but its message does not contain {message:?}:\n{}",
                            report.join("\n")
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
    }
    problems
}

/// Runs one bug; returns its problems (empty if loom caught it as declared and the report matches
/// the snapshot).
fn check_bug(
    root: &Path,
    root_manifest: &Table,
    target_dir: &Path,
    bug: &Bug,
) -> Result<(), Vec<String>> {
    let one = |problem: String| vec![problem];
    let spec_text = fs::read_to_string(bug.dir.join("bug.toml"))
        .map_err(|e| one(format!("no readable bug.toml ({e})")))?;
    let spec = parse_bug_toml(&spec_text).map_err(one)?;
    let strays: Vec<String> = sorted_entries(&bug.dir)
        .iter()
        .map(|path| file_name(path))
        .filter(|name| !BUG_FILES.contains(&name.as_str()))
        .collect();
    if !strays.is_empty() {
        return Err(one(format!(
            "unexpected files {strays:?} (a bug folder holds {BUG_FILES:?})"
        )));
    }
    let models = fs::read_to_string(root.join(&bug.krate).join("tests/loom.rs"))
        .map_err(|e| one(format!("{}/tests/loom.rs is not readable ({e})", bug.krate)))?;
    if !has_model(&models, &spec.model) {
        return Err(one(format!(
            "bug.toml names the model `{}`, but {}/tests/loom.rs has no `#[test] fn {}()`",
            spec.model, bug.krate, spec.model
        )));
    }
    let patch = fs::read_to_string(bug.dir.join(BUG_PATCH.name))
        .map_err(|e| one(format!("no readable {} ({e})", BUG_PATCH.name)))?;
    let patched = BUG_PATCH.patched_files(&patch).map_err(one)?;
    let scratch = prepare_scratch(root, root_manifest, bug, &patched).map_err(one)?;

    let started = Instant::now();
    let output = run_model(&spec.model, &scratch, target_dir, None).map_err(one)?;
    eprintln!(
        "{}: `cargo test … {}` took {:.1?}",
        bug.id(),
        spec.model,
        started.elapsed()
    );

    let mut problems = check_caught(&spec, &output);
    let lock = |dir: &Path| fs::read_to_string(dir.join("Cargo.lock")).unwrap_or_default();
    if let Err(problem) = check_lock_subset(&lock(&scratch), &lock(root)) {
        problems.push(problem);
    }
    if !problems.is_empty() {
        // The report of a run that was not caught as declared is not worth a snapshot.
        return Err(problems);
    }

    let paths = Paths::new(&scratch, root);
    let message = match &spec.caught {
        Caught::Panic(message) => Some(message.as_str()),
        Caught::Deadlock => None,
    };
    let text = normalize_report(&spec.model, message, &output, &paths).map_err(one)?;
    if let Err(problem) = compare_snapshot!(
        &bug.dir,
        SNAPSHOT_NAME,
        text,
        "INSTA_UPDATE=always cargo test --test loom_zoo"
    ) {
        problems.push(problem);
    }
    problems.extend(check_preemptions(&spec, &scratch, target_dir));

    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Checks that `spec.preemptions` is the fewest preemptions that catch the bug: caught, as
/// declared, with that many (the run at the models' own bound already showed it when they are
/// equal), and missed with one fewer.
fn check_preemptions(spec: &BugSpec, scratch: &Path, target_dir: &Path) -> Vec<String> {
    let n = spec.preemptions;
    let mut problems = Vec::new();
    let mut run = |bound: usize| match run_model(&spec.model, scratch, target_dir, Some(bound)) {
        Ok(output) => Some(output),
        Err(problem) => {
            problems.push(problem);
            None
        }
    };
    let caught = (n < PREEMPTION_BOUND).then(|| run(n)).flatten();
    let missed = n.checked_sub(1).and_then(&mut run);
    if let Some(output) = caught
        && let Some(first) = check_caught(spec, &output).into_iter().next()
    {
        problems.push(format!(
            "bug.toml says {n} preemptions catch this bug, but with LOOM_MAX_PREEMPTIONS={n}: {first}"
        ));
    }
    if let Some(output) = missed
        && !(output.success && output.stdout.contains("test result: ok. 1 passed"))
    {
        problems.push(format!(
            "bug.toml says this bug needs {n} preemptions, but the model did not pass with \
             LOOM_MAX_PREEMPTIONS={}: declare fewer\n--- stdout:\n{}",
            n - 1,
            output.stdout.trim_end()
        ));
    }
    problems
}

/// The loom chapter's sentence about the preemption bound, checked against the zoo: how many bugs
/// there are, how many a bound of 1 would let through, and that a bound of 2 lets none through.
#[test]
fn the_loom_chapters_count_of_the_zoo_is_true() {
    let root = workspace_root();
    let mut problems = Vec::new();
    let bugs = discover_bugs(&root, &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    let needs: Vec<usize> = bugs
        .iter()
        .map(|bug| {
            let text = fs::read_to_string(bug.dir.join("bug.toml")).expect("read bug.toml");
            parse_bug_toml(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", bug.id()))
                .preemptions
        })
        .collect();
    let past_one = needs.iter().filter(|&&n| n > 1).count();
    let past_two = needs.iter().filter(|&&n| n > 2).count();
    let chapter =
        fs::read_to_string(root.join("book/src/model-checking.md")).expect("read the loom chapter");
    let chapter = chapter.split_whitespace().collect::<Vec<_>>().join(" ");
    let two = if past_two == 0 {
        "none".to_owned()
    } else {
        past_two.to_string()
    };
    let sentence = format!(
        "Of the zoo's {} bugs, most of them in stages still ahead, a bound of 1 would let {past_one} \
         through and a bound of 2 {two}.",
        needs.len()
    );
    assert!(
        chapter.contains(&sentence),
        "the loom chapter should say: {sentence:?}"
    );
}

#[test]
fn every_bug_in_the_zoo_is_caught_by_loom_as_declared() {
    let root = workspace_root();
    let root_manifest = root_manifest(&root);
    let target_dir = root.join("target").join("loom");
    let mut problems = Vec::new();
    let bugs = discover_bugs(&root, &mut problems);
    check_all(
        "bugs in the zoo (the bugs/ folder of every workspace member)",
        problems,
        &bugs,
        SNAPSHOT_NAME,
        |bug| check_bug(&root, &root_manifest, &target_dir, bug),
    );
}

mod unit {
    use super::*;

    #[test]
    fn bug_toml_needs_a_message_exactly_for_panics() {
        let deadlock =
            "title = \"t\"\nmodel = \"m_1\"\ncaught_as = \"deadlock\"\npreemptions = 2\n";
        let spec = parse_bug_toml(deadlock).unwrap();
        assert_eq!(
            (spec.model.as_str(), spec.caught, spec.preemptions),
            ("m_1", Caught::Deadlock, 2)
        );

        let panic = "title = \"t\"\nmodel = \"m\"\ncaught_as = \"panic\"\npreemptions = 0\n\
                     message = \"lost\"\n";
        assert_eq!(
            parse_bug_toml(panic).unwrap().caught,
            Caught::Panic("lost".to_owned())
        );

        assert!(parse_bug_toml(&format!("{deadlock}message = \"x\"\n")).is_err());
        assert!(parse_bug_toml(&panic.replace("message = \"lost\"\n", "")).is_err());
        assert!(parse_bug_toml(&deadlock.replace("deadlock", "hang")).is_err());
        assert!(parse_bug_toml(&deadlock.replace("m_1", "m 1")).is_err());
        assert!(parse_bug_toml(&deadlock.replace("\"t\"", "\"t\\nu\"")).is_err());
        for preemptions in [
            "",
            "preemptions = 4\n",
            "preemptions = -1\n",
            "preemptions = \"2\"\n",
        ] {
            let error =
                parse_bug_toml(&deadlock.replace("preemptions = 2\n", preemptions)).unwrap_err();
            assert!(
                error.contains("needs `preemptions`"),
                "{preemptions:?}: {error}"
            );
        }
        assert!(
            parse_bug_toml(&format!("{deadlock}expect = 1\n"))
                .unwrap_err()
                .contains("unknown keys [\"expect\"]")
        );
    }

    #[test]
    fn the_bound_here_is_the_models_bound() {
        let model = fs::read_to_string(workspace_root().join("crates/sync/src/model.rs")).unwrap();
        let declared = format!("pub const PREEMPTION_BOUND: usize = {PREEMPTION_BOUND};");
        assert!(
            model.contains(&declared),
            "crates/sync/src/model.rs lacks `{declared}`"
        );
    }

    #[test]
    fn a_model_is_a_test_function() {
        let models = "#[test]\nfn a() {}\n\n/// Doc.\n#[test]\nfn b() {\n}\n\nfn helper() {}\n";
        assert!(has_model(models, "a"));
        assert!(has_model(models, "b"));
        assert!(!has_model(models, "helper"));
        assert!(!has_model(models, "c"));
    }

    #[test]
    fn a_patch_may_change_only_existing_files_under_src() {
        let patch = "--- a/src/pool.rs\n+++ b/src/pool.rs\n@@ -1 +1 @@\n-a\n+b\n";
        assert_eq!(
            BUG_PATCH.patched_files(patch).unwrap(),
            BTreeSet::from(["src/pool.rs".to_owned()])
        );
        assert!(
            BUG_PATCH
                .patched_files(&patch.replace("src/pool", "tests/loom"))
                .is_err()
        );
        assert!(
            BUG_PATCH
                .patched_files(&patch.replace("a/src/pool.rs", "/dev/null"))
                .is_err()
        );
        assert!(BUG_PATCH.patched_files("not a diff\n").is_err());
    }

    #[test]
    fn a_patch_that_no_longer_applies_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let (original, copy) = (dir.path().join("crate"), dir.path().join("copy"));
        for crate_dir in [&original, &copy] {
            fs::create_dir_all(crate_dir.join("src")).unwrap();
            fs::write(crate_dir.join("src/pool.rs"), "fn a() {}\nfn b() {}\n").unwrap();
        }
        let patch = dir.path().join("bug.patch");
        let stale = "--- a/src/pool.rs\n+++ b/src/pool.rs\n@@ -1,2 +1,2 @@\n fn a() {}\n-fn c() {}\n+fn d() {}\n";
        fs::write(&patch, stale).unwrap();
        let patched = BUG_PATCH.patched_files(stale).unwrap();
        let error = BUG_PATCH
            .apply(&patch, &original, &copy, &patched)
            .unwrap_err();
        assert!(error.contains("bug.patch no longer applies"), "{error}");
        assert!(error.contains("tests/loom_zoo.rs"), "{error}");

        let fits = "--- a/src/pool.rs\n+++ b/src/pool.rs\n@@ -1,2 +1,2 @@\n fn a() {}\n-fn b() {}\n+fn d() {}\n";
        fs::write(&patch, fits).unwrap();
        BUG_PATCH.apply(&patch, &original, &copy, &patched).unwrap();
        assert_eq!(
            fs::read_to_string(copy.join("src/pool.rs")).unwrap(),
            "fn a() {}\nfn d() {}\n"
        );
    }

    #[test]
    fn paths_become_relative_to_the_crate_the_workspace_or_the_package() {
        let paths = Paths::new(
            Path::new("/w/target/loom-zoo-crates/ch05/01-bug"),
            Path::new("/w"),
        );
        let line = "(Id(1), Blocked(Location(Some(Location { file: \"/w/crates/sync/src/model.rs\", \
                    line: 54, column: 18 }))))";
        assert_eq!(
            paths.normalize(line),
            "(Id(1), Blocked(Location(Some(Location { file: \"crates/sync/src/model.rs\", \
             line: 54, column: 18 }))))"
        );
        assert_eq!(
            paths.normalize("at /w/target/loom-zoo-crates/ch05/01-bug/src/pool.rs:3:1:"),
            "at src/pool.rs:3:1:"
        );
        assert_eq!(
            paths.normalize(
                "panicked at /home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/\
                 loom-0.7.2/src/rt/execution.rs:216:13: and /rustc/5980761/library/core/src/x.rs"
            ),
            "panicked at <loom>/src/rt/execution.rs:216:13: and <rustc>/library/core/src/x.rs"
        );
    }

    #[test]
    fn a_deadlock_report_shows_one_thread_per_line() {
        let line = "deadlock; threads = [(Id(0), Blocked(Location(Some(Location { file: \
                    \"a, (b).rs\", line: 1, column: 2 })))), (Id(1), Terminated)]";
        assert_eq!(
            format_deadlock(line).unwrap(),
            [
                "deadlock; threads = [",
                "    (Id(0), Blocked(Location { file: \"a, (b).rs\", line: 1, column: 2 })),",
                "    (Id(1), Terminated),",
                "]",
            ]
        );
    }

    #[test]
    fn only_the_first_panic_is_reported_without_its_thread_id() {
        let stdout = "\nrunning 1 test\n\nthread 'm' (7794) panicked at tests/loom.rs:20:9:\n\
                      assertion `left == right` failed\n  left: 1\n right: 2\nnote: run with \
                      `RUST_BACKTRACE=1`\n\nthread 'm' (7794) panicked at src/x.rs:1:1:\nsecond\n";
        let output = RunOutput {
            success: false,
            stdout: stdout.to_owned(),
            stderr: String::new(),
        };
        let paths = Paths::new(Path::new("/s"), Path::new("/w"));
        assert_eq!(
            normalize_report("m", None, &output, &paths).unwrap(),
            "$ LOOM_LOCATION=1 RUSTFLAGS=\"--cfg loom\" cargo test --profile loom --test loom -- \
             m --exact\nthread 'm' panicked at tests/loom.rs:20:9:\nassertion `left == right` \
             failed\n  left: 1\n right: 2\n"
        );
        assert_eq!(
            normalize_report("m", Some("second"), &output, &paths).unwrap(),
            "$ LOOM_LOCATION=1 RUSTFLAGS=\"--cfg loom\" cargo test --profile loom --test loom -- \
             m --exact\nthread 'm' panicked at src/x.rs:1:1:\nsecond\n"
        );
    }
}
