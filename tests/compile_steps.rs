//! Checks the book's deliberate compile-fail steps.
//!
//! A step is a folder `chapters/<stage>/steps/<NN-name>/` holding:
//!
//! - `step.toml`: `title`, `command` (`cargo check`) and `errors` (the error codes it must
//!   produce);
//! - `step.patch`: a unified diff against the stage crate (`--- a/src/pool.rs`,
//!   `+++ b/src/pool.rs`), touching only files under `src/`, and as small as the change the book
//!   describes; the book shows it in a `diff` block;
//! - `output.snap`: the insta snapshot of what the command prints, normalized.
//!
//! A step is a patch, not a copy of the files it changes, so that it cannot drift from its stage:
//! when the stage's code moves, the patch either still applies (and the snapshot shows the new
//! line numbers) or fails with `git`'s reason.
//!
//! For every step this test:
//!
//! 1. copies the stage crate (`Cargo.toml`, `src/`, `build.rs` if any) to
//!    `target/compile-steps/<stage>/<step>/`, applies the patch with `git apply` (a patch that no
//!    longer applies fails the step), and turns the manifest into a standalone one (workspace
//!    inheritance resolved, dev-dependencies dropped, its own empty `[workspace]`) next to a copy
//!    of the workspace's `Cargo.lock`;
//! 2. runs the step's command there (all steps share `target/compile-steps-target`, so the
//!    dependencies are built once), and checks that it fails with exactly the declared error codes
//!    and resolved no dependency to a version other than the workspace's;
//! 3. compares the normalized output with the step's `output.snap`, which the book includes from
//!    its fourth line: `{{#include ../../chapters/<stage>/steps/<step>/output.snap:4:}}`.
//!
//! To write a step, edit the stage in place until it shows the error, then
//! `git diff --relative=chapters/<stage> > chapters/<stage>/steps/<NN-name>/step.patch` and undo
//! the edit (`git checkout chapters/<stage>/src`). After changing a step, its stage (where the
//! patch touches or the lines it reports move) or the toolchain, regenerate the snapshots and
//! read the diff:
//! `INSTA_UPDATE=always cargo test --test compile_steps`. With `CI=true`, insta writes nothing
//! and a mismatch fails.

// Shared with the other tests that copy crates, which use the parts this one does not.
#[allow(dead_code)]
mod support;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use poolbook::scratch::{
    Standalone, Tests, cargo_command, check_lock_subset, copy_file, copy_tree, standalone_manifest,
};
use toml::{Table, Value};

use support::{
    Item, PatchFile, check_all, compare_snapshot, display, file_name, root_manifest,
    sorted_entries, workspace_root,
};

/// How a step's copy of its stage is made standalone: library and binaries only.
const STANDALONE: Standalone<'static> = Standalone {
    written_by: "tests/compile_steps.rs",
    tests: Tests::Drop,
    profiles: &[],
    build_metadata: None,
};

/// The keys a `step.toml` must have, and the only ones it may have.
const STEP_KEYS: [&str; 3] = ["title", "command", "errors"];
/// The snapshot's name; insta stores it as `output.snap` in the step folder.
const SNAPSHOT_NAME: &str = "output";
/// The files a step folder holds.
const STEP_FILES: [&str; 4] = ["step.toml", "step.patch", "output.snap", "output.snap.new"];
/// The step itself, a patch against its stage.
const STEP_PATCH: PatchFile = PatchFile {
    name: "step.patch",
    only_src: "the step is a change to the stage's code; its manifest stays as it is",
    documented_in: "tests/compile_steps.rs",
};
/// The first word of Cargo's progress lines dropped from the output unless they name the stage.
const PROGRESS_VERBS: [&str; 9] = [
    "Compiling",
    "Checking",
    "Locking",
    "Updating",
    "Downloading",
    "Downloaded",
    "Blocking",
    "Adding",
    "Removing",
];

/// One compile-fail step, as found on disk.
struct Step {
    /// The stage crate's folder name, e.g. `ch03-pool-interface`.
    stage: String,
    /// The step's folder name, e.g. `01-undeclared-type`.
    name: String,
    /// `chapters/<stage>/steps/<name>`.
    dir: PathBuf,
}

impl Item for Step {
    fn id(&self) -> String {
        format!("chapters/{}/steps/{}", self.stage, self.name)
    }

    fn dir(&self) -> &Path {
        &self.dir
    }
}

/// What a `step.toml` declares.
#[derive(Debug)]
struct StepSpec {
    /// The command as the reader types it, e.g. `cargo check`.
    command: String,
    /// The error codes the command must report, e.g. `E0433`.
    errors: BTreeSet<String>,
}

/// What one run of a step's command printed.
struct RunOutput {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Finds every `chapters/<stage>/steps/<step>/` folder, sorted by stage, then step.
fn discover_steps(root: &Path, problems: &mut Vec<String>) -> Vec<Step> {
    let mut steps = Vec::new();
    for stage_dir in sorted_entries(&root.join("chapters")) {
        let steps_dir = stage_dir.join("steps");
        if !steps_dir.exists() {
            continue;
        }
        let stage = file_name(&stage_dir);
        for dir in sorted_entries(&steps_dir) {
            if dir.is_dir() {
                steps.push(Step {
                    stage: stage.clone(),
                    name: file_name(&dir),
                    dir,
                });
            } else {
                problems.push(format!(
                    "{}: only step folders belong in steps/",
                    display(root, &dir)
                ));
            }
        }
    }
    steps
}

/// Parses a `step.toml`, refusing missing, unknown or ill-typed keys.
fn parse_step_toml(text: &str) -> Result<StepSpec, String> {
    let table: Table = text
        .parse()
        .map_err(|e| format!("step.toml does not parse: {e}"))?;
    let unknown: Vec<&str> = table
        .keys()
        .map(String::as_str)
        .filter(|key| !STEP_KEYS.contains(key))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "step.toml has unknown keys {unknown:?} (allowed: {STEP_KEYS:?})"
        ));
    }
    match table.get("title") {
        Some(Value::String(title)) if !title.trim().is_empty() => {}
        _ => return Err("step.toml needs `title`, a non-empty string".to_owned()),
    }
    let command = match table.get("command") {
        Some(Value::String(command)) => command.clone(),
        _ => return Err("step.toml needs `command`, a string such as \"cargo check\"".to_owned()),
    };
    if command.split_whitespace().next() != Some("cargo") || command.trim() != command {
        return Err(format!(
            "step.toml: `command` must be a cargo command, not {command:?}"
        ));
    }
    let Some(Value::Array(codes)) = table.get("errors") else {
        return Err(
            "step.toml needs `errors`, a list of error codes such as [\"E0433\"]".to_owned(),
        );
    };
    let mut errors = BTreeSet::new();
    for code in codes {
        match code {
            Value::String(code) if is_error_code(code) => {
                if !errors.insert(code.clone()) {
                    return Err(format!("step.toml lists {code} twice in `errors`"));
                }
            }
            other => {
                return Err(format!(
                    "step.toml: {other} in `errors` is not a code like E0433"
                ));
            }
        }
    }
    Ok(StepSpec { command, errors })
}

fn is_error_code(code: &str) -> bool {
    code.len() == 5 && code.starts_with('E') && code[1..].bytes().all(|b| b.is_ascii_digit())
}

/// Makes `target/compile-steps/<stage>/<step>/` afresh: the stage crate with the step's patch
/// applied, a standalone manifest and the workspace's `Cargo.lock`.
fn prepare_scratch(
    root: &Path,
    root_manifest: &Table,
    step: &Step,
    patched: &BTreeSet<String>,
) -> Result<PathBuf, String> {
    let stage_dir = root.join("chapters").join(&step.stage);
    let scratch = root
        .join("target")
        .join("compile-steps")
        .join(&step.stage)
        .join(&step.name);
    if scratch.exists() {
        fs::remove_dir_all(&scratch).map_err(|e| format!("removing {}: {e}", scratch.display()))?;
    }
    fs::create_dir_all(&scratch).map_err(|e| format!("creating {}: {e}", scratch.display()))?;
    copy_tree(&stage_dir.join("src"), &scratch.join("src"))?;
    for file in ["Cargo.toml", "build.rs"] {
        if stage_dir.join(file).exists() {
            copy_file(&stage_dir.join(file), &scratch.join(file))?;
        }
    }
    STEP_PATCH.apply(
        &step.dir.join(STEP_PATCH.name),
        &stage_dir,
        &scratch,
        patched,
    )?;
    let member = fs::read_to_string(scratch.join("Cargo.toml"))
        .map_err(|e| format!("reading the stage's Cargo.toml: {e}"))?;
    let manifest = standalone_manifest(&member, &stage_dir, root_manifest, root, &STANDALONE)?;
    fs::write(scratch.join("Cargo.toml"), manifest)
        .map_err(|e| format!("writing Cargo.toml: {e}"))?;
    copy_file(&root.join("Cargo.lock"), &scratch.join("Cargo.lock"))?;
    Ok(scratch)
}

/// Runs `command` (`cargo …`) in `dir`, with an environment that does not change its output.
fn run(command: &str, dir: &Path, target_dir: &Path) -> Result<RunOutput, String> {
    let mut words = command.split_whitespace();
    assert_eq!(words.next(), Some("cargo"), "parse_step_toml checked this");
    let output = cargo_command(target_dir)
        .args(words)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("running `{command}`: {e}"))?;
    Ok(RunOutput {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// The error codes in `output`'s `error[E0433]: …` lines.
fn error_codes(output: &str) -> BTreeSet<String> {
    output
        .lines()
        .filter_map(|line| line.strip_prefix("error[")?.split_once(']'))
        .map(|(code, _)| code.to_owned())
        .collect()
}

/// Paths to replace in the output, longest first, each with what the book shows instead.
fn path_replacements(
    scratch: &Path,
    target_dir: &Path,
    root: &Path,
    stage: &str,
) -> Vec<(String, String)> {
    let mut replacements = Vec::new();
    let mut add = |path: &Path, with: String| {
        let mut forms = vec![path.to_string_lossy().into_owned()];
        if let Ok(canonical) = path.canonicalize() {
            forms.push(canonical.to_string_lossy().into_owned());
        }
        for form in forms {
            if !replacements.iter().any(|(from, _)| *from == form) {
                replacements.push((form, with.clone()));
            }
        }
    };
    add(scratch, format!("/projects/{stage}"));
    add(target_dir, format!("/projects/{stage}/target"));
    add(root, "/projects/poolbook".to_owned());
    replacements.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
    replacements
}

/// What the book shows of a run: `$ <command>`, then Cargo's output without the progress lines of
/// dependencies (which depend on what was built before), with machine paths replaced and trailing
/// whitespace removed.
fn normalize(
    command: &str,
    output: &str,
    package: &str,
    replacements: &[(String, String)],
) -> String {
    let mut lines = vec![format!("$ {command}")];
    for line in output.lines() {
        let mut words = line.split_whitespace();
        if let Some(verb) = words.next()
            && PROGRESS_VERBS.contains(&verb)
            && words.next() != Some(package)
        {
            continue;
        }
        let mut line = line.to_owned();
        for (from, to) in replacements {
            line = line.replace(from.as_str(), to);
        }
        lines.push(line.trim_end().to_owned());
    }
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines.join("\n") + "\n"
}

/// Runs one step; returns its problems (empty if it passed).
fn check_step(
    root: &Path,
    root_manifest: &Table,
    target_dir: &Path,
    step: &Step,
) -> Result<(), Vec<String>> {
    let one = |problem: String| vec![problem];
    let spec_path = step.dir.join("step.toml");
    let spec_text =
        fs::read_to_string(&spec_path).map_err(|e| one(format!("no readable step.toml ({e})")))?;
    let spec = parse_step_toml(&spec_text).map_err(one)?;
    let strays: Vec<String> = sorted_entries(&step.dir)
        .iter()
        .map(|path| file_name(path))
        .filter(|name| !STEP_FILES.contains(&name.as_str()))
        .collect();
    if !strays.is_empty() {
        return Err(one(format!(
            "unexpected files {strays:?} (a step folder holds {STEP_FILES:?}; the step's code is \
             its step.patch)"
        )));
    }
    let patch = fs::read_to_string(step.dir.join(STEP_PATCH.name))
        .map_err(|e| one(format!("no readable {} ({e})", STEP_PATCH.name)))?;
    let patched = STEP_PATCH.patched_files(&patch).map_err(one)?;
    let scratch = prepare_scratch(root, root_manifest, step, &patched).map_err(one)?;

    let started = Instant::now();
    let output = run(&spec.command, &scratch, target_dir).map_err(one)?;
    eprintln!(
        "{}: `{}` took {:.1?}",
        step.id(),
        spec.command,
        started.elapsed()
    );

    let mut problems = Vec::new();
    if output.success {
        problems.push(format!(
            "`{}` succeeded, but this step must fail",
            spec.command
        ));
    }
    if !output.stdout.trim().is_empty() {
        problems.push(format!(
            "`{}` printed to stdout:\n{}",
            spec.command, output.stdout
        ));
    }
    if output.stderr.contains('\x1b') {
        problems.push("the output has terminal escape codes".to_owned());
    }
    let package = fs::read_to_string(scratch.join("Cargo.toml"))
        .ok()
        .and_then(|text| text.parse::<Table>().ok())
        .and_then(|manifest| {
            manifest
                .get("package")?
                .get("name")?
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_default();
    if !output.success
        && !output
            .stderr
            .contains(&format!("could not compile `{package}`"))
    {
        problems.push(format!("the failure is not in the stage crate `{package}`"));
    }
    let codes = error_codes(&output.stderr);
    if codes != spec.errors {
        problems.push(format!(
            "error codes {codes:?}, but step.toml declares {:?}",
            spec.errors
        ));
    }
    let lock = |dir: &Path| fs::read_to_string(dir.join("Cargo.lock")).unwrap_or_default();
    if let Err(problem) = check_lock_subset(&lock(&scratch), &lock(root)) {
        problems.push(problem);
    }

    let replacements = path_replacements(&scratch, target_dir, root, &step.stage);
    let text = normalize(&spec.command, &output.stderr, &package, &replacements);
    if let Err(problem) = compare_snapshot!(
        &step.dir,
        SNAPSHOT_NAME,
        text,
        "INSTA_UPDATE=always cargo test --test compile_steps"
    ) {
        problems.push(problem);
    }

    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[test]
fn compile_fail_steps_fail_as_declared_and_match_their_snapshots() {
    let root = workspace_root();
    let root_manifest = root_manifest(&root);
    let target_dir = root.join("target").join("compile-steps-target");
    let mut problems = Vec::new();
    let steps = discover_steps(&root, &mut problems);
    check_all(
        "compile-fail steps (chapters/*/steps/)",
        problems,
        &steps,
        SNAPSHOT_NAME,
        |step| check_step(&root, &root_manifest, &target_dir, step),
    );
}

mod unit {
    use super::*;

    #[test]
    fn step_toml_refuses_unknown_and_missing_keys() {
        let ok = "title = \"t\"\ncommand = \"cargo check\"\nerrors = [\"E0433\"]\n";
        let spec = parse_step_toml(ok).unwrap();
        assert_eq!(spec.command, "cargo check");
        assert_eq!(spec.errors, BTreeSet::from(["E0433".to_owned()]));

        let unknown = format!("{ok}expect = 1\n");
        assert!(
            parse_step_toml(&unknown)
                .unwrap_err()
                .contains("unknown keys [\"expect\"]")
        );
        assert!(parse_step_toml("title = \"t\"\ncommand = \"cargo check\"\n").is_err());
        assert!(parse_step_toml(&ok.replace("E0433", "0433")).is_err());
        assert!(parse_step_toml(&ok.replace("cargo check", "rustc lib.rs")).is_err());
    }

    #[test]
    fn normalize_keeps_only_the_stage_progress_line_and_hides_paths() {
        let output = "   Compiling proc-macro2 v1.0.0\n    Checking clap v4.6.7\n    \
                      Checking poolbook-http v0.1.0 (/w/crates/http)\n    \
                      Checking ch03 v0.1.0 (/w/target/compile-steps/ch03/01)\n\
                      error[E0433]: cannot find type `X`   \n  --> src/lib.rs:1:1\n\n";
        let replacements = vec![
            (
                "/w/target/compile-steps/ch03/01".to_owned(),
                "/projects/ch03".to_owned(),
            ),
            ("/w".to_owned(), "/projects/poolbook".to_owned()),
        ];
        assert_eq!(
            normalize("cargo check", output, "ch03", &replacements),
            "$ cargo check\n    Checking ch03 v0.1.0 (/projects/ch03)\n\
             error[E0433]: cannot find type `X`\n  --> src/lib.rs:1:1\n"
        );
        assert_eq!(error_codes(output), BTreeSet::from(["E0433".to_owned()]));
    }

    #[test]
    fn a_step_patch_may_change_only_the_stage_source() {
        let patch = "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1 +1 @@\n-a\n+b\n";
        assert_eq!(
            STEP_PATCH.patched_files(patch).unwrap(),
            BTreeSet::from(["src/lib.rs".to_owned()])
        );
        let manifest = STEP_PATCH
            .patched_files(&patch.replace("src/lib.rs", "Cargo.toml"))
            .unwrap_err();
        assert!(
            manifest.starts_with("step.patch changes Cargo.toml"),
            "{manifest}"
        );
        assert!(STEP_PATCH.patched_files("not a diff\n").is_err());
    }

    #[test]
    fn snapshot_header_must_be_three_lines() {
        use support::check_snapshot_header;
        assert!(check_snapshot_header("---\nsource: tests/x.rs\n---\n$ cargo check\n").is_ok());
        let with_expression = "---\nsource: tests/x.rs\nexpression: text\n---\n$ cargo check\n";
        assert!(check_snapshot_header(with_expression).is_err());
    }
}
