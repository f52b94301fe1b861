//! Checks the book's deliberate compile-fail steps.
//!
//! A step is a folder `chapters/<stage>/steps/<NN-name>/` holding a `step.toml` (`title`,
//! `command`, `errors`) and overlay files that replace or add files in a copy of the stage crate.
//! For every step this test:
//!
//! 1. copies the stage crate (`Cargo.toml`, `src/`, `build.rs` if any) to
//!    `target/compile-steps/<stage>/<step>/`, applies the overlay, and turns the manifest into a
//!    standalone one (workspace inheritance resolved, dev-dependencies dropped, its own empty
//!    `[workspace]`) next to a copy of the workspace's `Cargo.lock`;
//! 2. runs the step's command there (all steps share `target/compile-steps-target`, so the
//!    dependencies are built once), and checks that it fails with exactly the declared error codes
//!    and resolved no dependency to a version other than the workspace's;
//! 3. compares the normalized output with the step's `output.snap`, which the book includes from
//!    its fourth line: `{{#include ../../chapters/<stage>/steps/<step>/output.snap:4:}}`.
//!
//! After changing a step (or the toolchain), regenerate the snapshots and read the diff:
//! `INSTA_UPDATE=always cargo test --test compile_steps`. With `CI=true`, insta writes nothing
//! and a mismatch fails.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use toml::{Table, Value};

/// The keys a `step.toml` must have, and the only ones it may have.
const STEP_KEYS: [&str; 3] = ["title", "command", "errors"];
/// The snapshot's name; insta stores it as `output.snap` in the step folder.
const SNAPSHOT_NAME: &str = "output";
/// Files in a step folder that are not part of the overlay.
const NOT_OVERLAY: [&str; 3] = ["step.toml", "output.snap", "output.snap.new"];
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
/// Environment variables that would change what Cargo and rustc print, or how they build: flags
/// (CI often sets `RUSTFLAGS=-D warnings`), wrappers, a target, verbosity, logging, colors and
/// hyperlinks (CI often sets `CARGO_TERM_COLOR=always`; this test sets its own), and a jobserver
/// inherited from an outer `make`.
const UNSET_ENV: [&str; 24] = [
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTDOCFLAGS",
    "CARGO_ENCODED_RUSTDOCFLAGS",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_BUILD_RUSTC_WRAPPER",
    "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_BUILD_BUILD_DIR",
    "CARGO_BUILD_WARNINGS",
    "CARGO_TERM_VERBOSE",
    "CARGO_TERM_QUIET",
    "CARGO_TERM_PROGRESS_WHEN",
    "CARGO_TERM_UNICODE",
    "CARGO_LOG",
    "RUSTC_LOG",
    "CLICOLOR_FORCE",
    "MAKEFLAGS",
    "MFLAGS",
    "CARGO_MAKEFLAGS",
    "CARGO_TERM_HYPERLINKS",
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

impl Step {
    fn id(&self) -> String {
        format!("{}/{}", self.stage, self.name)
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

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
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

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| {
            entry
                .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
                .path()
        })
        .collect();
    entries.sort();
    entries
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .expect("a folder entry has a name")
        .to_string_lossy()
        .into_owned()
}

/// `path` relative to `root`, for messages.
fn display(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
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

/// The overlay files of a step folder, as paths relative to it, sorted.
fn overlay_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for path in sorted_entries(dir) {
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                out.push(
                    path.strip_prefix(base)
                        .expect("walked from base")
                        .to_path_buf(),
                );
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files);
    files.retain(|rel| !NOT_OVERLAY.iter().any(|name| rel == Path::new(name)));
    files
}

/// Turns a member's manifest into one that builds on its own, outside the workspace.
///
/// Resolves `x.workspace = true` in `[package]` from `[workspace.package]`, `dep.workspace = true`
/// from `[workspace.dependencies]` (with `path` made absolute), and `[lints] workspace = true` from
/// `[workspace.lints]`; makes the member's own relative dependency paths absolute; drops
/// dev-dependencies and test, example and bench targets (their files are not copied); and adds
/// an empty `[workspace]` (with the workspace's resolver) so that Cargo does not look further up.
fn standalone_manifest(
    member: &str,
    member_dir: &Path,
    root_manifest: &Table,
    root_dir: &Path,
) -> Result<String, String> {
    for key in ["patch", "replace"] {
        if root_manifest.contains_key(key) {
            return Err(format!(
                "the workspace's Cargo.toml has [{key}], which compile_steps.rs does not copy yet"
            ));
        }
    }
    let empty = Table::new();
    let workspace = table_at(root_manifest, "workspace").unwrap_or(&empty);
    let ws_package = table_at(workspace, "package").unwrap_or(&empty);
    let ws_dependencies = table_at(workspace, "dependencies").unwrap_or(&empty);

    let mut manifest: Table = member
        .parse()
        .map_err(|e| format!("the stage's Cargo.toml does not parse: {e}"))?;
    if manifest.contains_key("workspace") {
        return Err("the stage's Cargo.toml already has [workspace]".to_owned());
    }

    let package = match manifest.get_mut("package") {
        Some(Value::Table(package)) => package,
        _ => return Err("the stage's Cargo.toml has no [package]".to_owned()),
    };
    if package.contains_key("workspace") {
        return Err("the stage's Cargo.toml names its workspace in `package.workspace`".to_owned());
    }
    for (key, value) in package.iter_mut() {
        if inherits(value) {
            *value = ws_package
                .get(key)
                .ok_or_else(|| {
                    format!("package.{key}.workspace = true, but [workspace.package] has no {key}")
                })?
                .clone();
        }
    }

    for key in ["dev-dependencies", "dev_dependencies"] {
        manifest.remove(key);
    }
    for key in ["test", "example", "bench"] {
        manifest.remove(key);
    }
    for key in ["dependencies", "build-dependencies", "build_dependencies"] {
        if let Some(Value::Table(deps)) = manifest.get_mut(key) {
            resolve_dependencies(deps, ws_dependencies, root_dir, member_dir)?;
        }
    }
    if let Some(Value::Table(targets)) = manifest.get_mut("target") {
        for (_, target) in targets.iter_mut() {
            let Value::Table(target) = target else {
                continue;
            };
            for key in ["dev-dependencies", "dev_dependencies"] {
                target.remove(key);
            }
            for key in ["dependencies", "build-dependencies", "build_dependencies"] {
                if let Some(Value::Table(deps)) = target.get_mut(key) {
                    resolve_dependencies(deps, ws_dependencies, root_dir, member_dir)?;
                }
            }
        }
    }

    if let Some(lints) = manifest.get_mut("lints")
        && inherits(lints)
    {
        *lints = workspace
            .get("lints")
            .ok_or("[lints] workspace = true, but the workspace has no [workspace.lints]")?
            .clone();
    }

    let mut own_workspace = Table::new();
    if let Some(resolver) = workspace.get("resolver") {
        own_workspace.insert("resolver".to_owned(), resolver.clone());
    }
    manifest.insert("workspace".to_owned(), Value::Table(own_workspace));

    let text = toml::to_string(&manifest).map_err(|e| format!("writing the manifest: {e}"))?;
    Ok(format!(
        "# Written by tests/compile_steps.rs from the stage's Cargo.toml; do not edit.\n\n{text}"
    ))
}

fn table_at<'a>(table: &'a Table, key: &str) -> Option<&'a Table> {
    table.get(key).and_then(Value::as_table)
}

/// Whether `value` is `{ workspace = true, ... }`.
fn inherits(value: &Value) -> bool {
    value
        .as_table()
        .and_then(|t| t.get("workspace"))
        .and_then(Value::as_bool)
        == Some(true)
}

fn resolve_dependencies(
    deps: &mut Table,
    ws_dependencies: &Table,
    root_dir: &Path,
    member_dir: &Path,
) -> Result<(), String> {
    for (name, dep) in deps.iter_mut() {
        if inherits(dep) {
            let mut resolved = match ws_dependencies.get(name) {
                Some(Value::String(version)) => {
                    Table::from_iter([("version".to_owned(), Value::String(version.clone()))])
                }
                Some(Value::Table(table)) => table.clone(),
                _ => {
                    return Err(format!(
                        "{name}.workspace = true, but [workspace.dependencies] has no {name}"
                    ));
                }
            };
            absolutize_path(&mut resolved, root_dir);
            let own = dep.as_table().expect("inherits() saw a table");
            for (key, value) in own {
                match (key.as_str(), resolved.get_mut(key)) {
                    ("workspace", _) => {}
                    ("features", Some(Value::Array(features))) => {
                        for feature in value.as_array().into_iter().flatten() {
                            if !features.contains(feature) {
                                features.push(feature.clone());
                            }
                        }
                    }
                    _ => {
                        resolved.insert(key.clone(), value.clone());
                    }
                }
            }
            *dep = Value::Table(resolved);
        } else if let Value::Table(table) = dep {
            absolutize_path(table, member_dir);
        }
    }
    Ok(())
}

fn absolutize_path(dep: &mut Table, base: &Path) {
    if let Some(Value::String(path)) = dep.get_mut("path") {
        *path = base.join(&*path).to_string_lossy().replace('\\', "/");
    }
}

/// Makes `target/compile-steps/<stage>/<step>/` afresh: the stage crate, the overlay on top, a
/// standalone manifest and the workspace's `Cargo.lock`.
fn prepare_scratch(
    root: &Path,
    root_manifest: &Table,
    step: &Step,
    overlay: &[PathBuf],
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
    for rel in overlay {
        let from = step.dir.join(rel);
        let to = scratch.join(rel);
        if let Ok(original) = fs::read(&to)
            && fs::read(&from).ok().as_ref() == Some(&original)
        {
            return Err(format!(
                "overlay file {} is identical to the stage's own",
                rel.display()
            ));
        }
        copy_file(&from, &to)?;
    }
    let member = fs::read_to_string(scratch.join("Cargo.toml"))
        .map_err(|e| format!("reading the stage's Cargo.toml: {e}"))?;
    let manifest = standalone_manifest(&member, &stage_dir, root_manifest, root)?;
    fs::write(scratch.join("Cargo.toml"), manifest)
        .map_err(|e| format!("writing Cargo.toml: {e}"))?;
    copy_file(&root.join("Cargo.lock"), &scratch.join("Cargo.lock"))?;
    Ok(scratch)
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    for path in sorted_entries(from) {
        let target = to.join(path.file_name().expect("a folder entry has a name"));
        if path.is_dir() {
            copy_tree(&path, &target)?;
        } else {
            copy_file(&path, &target)?;
        }
    }
    Ok(())
}

fn copy_file(from: &Path, to: &Path) -> Result<(), String> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    fs::copy(from, to)
        .map_err(|e| format!("copying {} to {}: {e}", from.display(), to.display()))?;
    Ok(())
}

/// Runs `command` (`cargo …`) in `dir`, with an environment that does not change its output.
fn run(command: &str, dir: &Path, target_dir: &Path) -> Result<RunOutput, String> {
    let mut words = command.split_whitespace();
    assert_eq!(words.next(), Some("cargo"), "parse_step_toml checked this");
    // The cargo that runs this test, so that the toolchain is the same.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(cargo);
    cmd.args(words).current_dir(dir);
    for var in UNSET_ENV {
        cmd.env_remove(var);
    }
    for (var, _) in std::env::vars_os() {
        let var = var.to_string_lossy();
        // CARGO_TARGET_<triple>_RUSTFLAGS, _LINKER, _RUNNER …
        if var.starts_with("CARGO_TARGET_") && var != "CARGO_TARGET_DIR" {
            cmd.env_remove(&*var);
        }
    }
    cmd.env("CARGO_TARGET_DIR", target_dir)
        .env("CARGO_TERM_COLOR", "never")
        .env("CARGO_TERM_HYPERLINKS", "false");
    let output = cmd
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

/// Checks that every registry or git package in `scratch_lock` is locked, with the same checksum,
/// in the workspace's lock: the step resolved nothing the workspace did not.
///
/// (`--locked` cannot be used: the copied lock also holds the workspace's other members and
/// dev-dependencies, and Cargo's pruning of them counts as an update.)
fn check_lock_subset(scratch_lock: &str, workspace_lock: &str) -> Result<(), String> {
    fn packages(lock: &str) -> Result<BTreeSet<Vec<String>>, String> {
        let table: Table = lock
            .parse()
            .map_err(|e| format!("Cargo.lock does not parse: {e}"))?;
        let packages = table
            .get("package")
            .and_then(Value::as_array)
            .ok_or("no [[package]]")?;
        Ok(packages
            .iter()
            .filter_map(Value::as_table)
            .filter(|package| package.contains_key("source"))
            .map(|package| {
                ["name", "version", "source", "checksum"]
                    .iter()
                    .map(|key| {
                        package
                            .get(*key)
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned()
                    })
                    .collect()
            })
            .collect())
    }
    let workspace = packages(workspace_lock)?;
    let foreign: Vec<String> = packages(scratch_lock)?
        .into_iter()
        .filter(|package| !workspace.contains(package))
        .map(|package| format!("{} {}", package[0], package[1]))
        .collect();
    if foreign.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "resolved packages the workspace's Cargo.lock does not have: {foreign:?}"
        ))
    }
}

/// Checks a snapshot's insta header: exactly `---`, `source: …`, `---`, so that its content
/// starts on line 4, where the book's `output.snap:4:` includes begin.
fn check_snapshot_header(text: &str) -> Result<(), String> {
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
    let overlay = overlay_files(&step.dir);
    if overlay.is_empty() {
        return Err(one("no overlay files next to step.toml".to_owned()));
    }
    let misplaced: Vec<String> = overlay
        .iter()
        .filter(|rel| !(rel.starts_with("src") || *rel == Path::new("Cargo.toml")))
        .map(|rel| rel.display().to_string())
        .collect();
    if !misplaced.is_empty() {
        return Err(one(format!(
            "overlay files must be Cargo.toml or under src/, not {misplaced:?}"
        )));
    }
    let scratch = prepare_scratch(root, root_manifest, step, &overlay).map_err(one)?;

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
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(&step.dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    let snapshot = panic::catch_unwind(AssertUnwindSafe(|| {
        settings.bind(|| insta::assert_snapshot!(SNAPSHOT_NAME, text));
    }));
    if snapshot.is_err() {
        problems.push(format!(
            "output.snap is missing or differs from the output (insta's diff is above; to accept \
             the new output: INSTA_UPDATE=always cargo test --test compile_steps). The \
             normalized output:\n{text}"
        ));
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
    let root_manifest: Table = fs::read_to_string(root.join("Cargo.toml"))
        .expect("reading the workspace's Cargo.toml")
        .parse()
        .expect("the workspace's Cargo.toml parses");
    let target_dir = root.join("target").join("compile-steps-target");

    let mut problems = Vec::new();
    let steps = discover_steps(&root, &mut problems);
    assert!(
        !steps.is_empty(),
        "found no compile-fail steps under chapters/*/steps/"
    );

    let started = Instant::now();
    let mut failed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for step in &steps {
        if let Err(step_problems) = check_step(&root, &root_manifest, &target_dir, step) {
            failed.insert(step.id(), step_problems);
        }
    }
    eprintln!("{} steps took {:.1?}", steps.len(), started.elapsed());

    // Checked after the runs, which may have just written the snapshots.
    for step in &steps {
        let path = step.dir.join(format!("{SNAPSHOT_NAME}.snap"));
        if let Ok(text) = fs::read_to_string(&path)
            && let Err(problem) = check_snapshot_header(&text)
        {
            failed
                .entry(step.id())
                .or_default()
                .push(format!("output.snap: {problem}"));
        }
    }

    for (id, step_problems) in failed {
        for problem in step_problems {
            problems.push(format!(
                "chapters/{}: {problem}",
                id.replacen('/', "/steps/", 1)
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s) with the compile-fail steps:\n\n{}",
        problems.len(),
        problems.join("\n\n")
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
    fn standalone_manifest_resolves_workspace_inheritance() {
        let root: Table = r#"
            [workspace]
            resolver = "3"
            [workspace.package]
            version = "0.1.0"
            edition = "2024"
            [workspace.dependencies]
            http = { path = "crates/http" }
            [workspace.lints.rust]
            missing_docs = "warn"
        "#
        .parse()
        .unwrap();
        let member = r#"
            [package]
            name = "stage"
            version.workspace = true
            edition.workspace = true
            [dependencies]
            http = { workspace = true, features = ["x"] }
            local = { path = "../local" }
            [dev-dependencies]
            testkit.workspace = true
            [lints]
            workspace = true
        "#;
        let text = standalone_manifest(
            member,
            Path::new("/w/chapters/stage"),
            &root,
            Path::new("/w"),
        )
        .unwrap();
        let manifest: Table = text.parse().unwrap();
        let expected: Table = r#"
            [package]
            name = "stage"
            version = "0.1.0"
            edition = "2024"
            [dependencies]
            http = { path = "/w/crates/http", features = ["x"] }
            local = { path = "/w/chapters/stage/../local" }
            [lints.rust]
            missing_docs = "warn"
            [workspace]
            resolver = "3"
        "#
        .parse()
        .unwrap();
        assert_eq!(manifest, expected);
    }

    #[test]
    fn snapshot_header_must_be_three_lines() {
        assert!(check_snapshot_header("---\nsource: tests/x.rs\n---\n$ cargo check\n").is_ok());
        let with_expression = "---\nsource: tests/x.rs\nexpression: text\n---\n$ cargo check\n";
        assert!(check_snapshot_header(with_expression).is_err());
    }

    #[test]
    fn lock_subset_spots_versions_the_workspace_does_not_lock() {
        let entry = |version: &str| {
            format!(
                "[[package]]\nname = \"clap\"\nversion = \"{version}\"\n\
                 source = \"registry+x\"\nchecksum = \"c\"\n"
            )
        };
        let local = "[[package]]\nname = \"stage\"\nversion = \"0.1.0\"\n";
        let workspace = entry("4.6.7");
        assert!(check_lock_subset(&format!("{workspace}{local}"), &workspace).is_ok());
        assert!(check_lock_subset(&entry("4.6.8"), &workspace).is_err());
    }
}
