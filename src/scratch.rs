//! Standalone copies of workspace members: a crate copied out of the workspace, with a manifest
//! that builds on its own, next to the workspace's `Cargo.lock`, built by a Cargo whose
//! environment does not change its output.
//!
//! The exercises ([`crate::exercise`]) make the reader's working copy this way; the workspace's
//! tests make their scratch copies this way too (`tests/compile_steps.rs` for the compile-fail
//! steps, `tests/loom_zoo.rs` for the bug zoo, `tests/exercises.rs` for the exercises). Errors are
//! messages that name the file at fault, for a person to read.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use toml::{Table, Value};

/// Environment variables that would change what Cargo and rustc print, or how they build: flags
/// (CI often sets `RUSTFLAGS=-D warnings`), wrappers, a target, verbosity, logging, colors and
/// hyperlinks (CI often sets `CARGO_TERM_COLOR=always`; the command sets its own), and a jobserver
/// inherited from an outer `make`.
pub const UNSET_ENV: [&str; 24] = [
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

/// The dependency tables a manifest (or a `[target.'cfg(…)']` table) may have, resolved alike.
const DEPENDENCY_TABLES: [&str; 5] = [
    "dependencies",
    "build-dependencies",
    "build_dependencies",
    "dev-dependencies",
    "dev_dependencies",
];

/// What a standalone copy keeps of the member's tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tests {
    /// Drops dev-dependencies and test targets: only the library and binaries are built.
    Drop,
    /// Keeps dev-dependencies (resolved like the others) and test targets, for `cargo test`.
    Keep,
}

/// How [`standalone_manifest`] writes the copy's manifest.
#[derive(Debug, Clone, Copy)]
pub struct Standalone<'a> {
    /// The tool or test that writes it, named in the manifest's first comment.
    pub written_by: &'a str,
    /// Whether the copy keeps the member's tests and dev-dependencies.
    pub tests: Tests,
    /// Profiles to copy from the workspace's manifest (`loom`): Cargo reads profiles only from a
    /// workspace root, which the copy is.
    pub profiles: &'a [&'a str],
    /// Semver build metadata to add to the package's version (`0.1.0+<this>`). Cargo names a
    /// path package's artifacts after its name, version and path *relative to its workspace
    /// root*, which is the same for every standalone copy of one crate; copies that share a
    /// target folder and must not overwrite each other's artifacts need distinct versions.
    pub build_metadata: Option<&'a str>,
}

/// The Cargo to run: the `CARGO` that started this process (so `cargo run` and `cargo test` use the
/// same toolchain for the copies), or `cargo` from `PATH`.
pub fn cargo_program() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"))
}

/// `program` (a Cargo) with an environment that neither changes what it prints nor how it builds:
/// [`UNSET_ENV`] and every `CARGO_TARGET_<triple>_…` variable removed, colors and hyperlinks off,
/// and the given target folder.
pub fn cargo_command_for(program: &OsStr, target_dir: &Path) -> Command {
    let mut cmd = Command::new(program);
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
    cmd
}

/// [`cargo_command_for`] the [`cargo_program`].
pub fn cargo_command(target_dir: &Path) -> Command {
    cargo_command_for(&cargo_program(), target_dir)
}

/// The workspace this runner belongs to: the folder of its `Cargo.toml`, fixed at compile time so
/// that `cargo run` finds it from any working directory.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The folders of the workspace's members, as the `members` of `root`'s `Cargo.toml` name them
/// (`"chapters/*"` is every folder in `chapters/`), sorted; the root package itself is not among
/// them. The workspace's tests that look for something in every crate (loom models, zoo bugs,
/// the code the book may include) walk these, so a new folder of members is never missed.
///
/// # Errors
///
/// If the manifest cannot be read or parsed, has no `[workspace] members` list, or a member is a
/// pattern other than a plain path or `folder/*`, or a folder it names cannot be listed.
pub fn workspace_members(root: &Path) -> Result<Vec<PathBuf>, String> {
    let path = root.join("Cargo.toml");
    let manifest: Table = fs::read_to_string(&path)
        .map_err(|e| format!("reading {}: {e}", path.display()))?
        .parse()
        .map_err(|e| format!("{} does not parse: {e}", path.display()))?;
    let members = manifest
        .get("workspace")
        .and_then(|workspace| workspace.get("members"))
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{} has no `[workspace] members` list", path.display()))?;
    let mut folders = Vec::new();
    for member in members {
        let member = member
            .as_str()
            .ok_or_else(|| format!("{}: a workspace member is not a string", path.display()))?;
        match member.strip_suffix("/*") {
            Some(parent) if !parent.contains(['*', '?', '[']) => folders.extend(
                sorted_entries(&root.join(parent))?
                    .into_iter()
                    .filter(|entry| entry.is_dir()),
            ),
            None if !member.contains(['*', '?', '[']) => folders.push(root.join(member)),
            _ => {
                return Err(format!(
                    "{}: the member pattern `{member}` is neither a path nor `folder/*`",
                    path.display()
                ));
            }
        }
    }
    folders.sort();
    Ok(folders)
}

/// The entries of `dir`, sorted, so that every walk visits files in the same order.
///
/// # Errors
///
/// If `dir` cannot be listed.
pub fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let read = |e: std::io::Error| format!("reading {}: {e}", dir.display());
    let mut entries = fs::read_dir(dir)
        .map_err(read)?
        .map(|entry| entry.map(|entry| entry.path()).map_err(read))
        .collect::<Result<Vec<PathBuf>, String>>()?;
    entries.sort();
    Ok(entries)
}

/// The last component of `path`, for messages and folder names.
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .expect("a folder entry has a name")
        .to_string_lossy()
        .into_owned()
}

/// `path` relative to `root`, for messages.
pub fn display(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Turns a member's manifest into one that builds on its own, outside the workspace.
///
/// Resolves `x.workspace = true` in `[package]` from `[workspace.package]`, `dep.workspace = true`
/// from `[workspace.dependencies]` (with `path` made absolute), and `[lints] workspace = true` from
/// `[workspace.lints]`; makes the member's own relative dependency paths absolute; drops example
/// and bench targets, and with [`Tests::Drop`] dev-dependencies and test targets too (their files
/// are not copied); copies the workspace's `[profile.<name>]` for each of `options.profiles`; and
/// adds an empty `[workspace]` (with the workspace's resolver) so that Cargo does not look further
/// up.
///
/// # Errors
///
/// If either manifest does not parse, or names something this function cannot resolve (an
/// inherited key the workspace does not define, a `[patch]`, a missing profile).
pub fn standalone_manifest(
    member: &str,
    member_dir: &Path,
    root_manifest: &Table,
    root_dir: &Path,
    options: &Standalone<'_>,
) -> Result<String, String> {
    for key in ["patch", "replace"] {
        if root_manifest.contains_key(key) {
            return Err(format!(
                "the workspace's Cargo.toml has [{key}], which src/scratch.rs does not copy \
                 yet"
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
    if let Some(build) = options.build_metadata {
        let Some(Value::String(version)) = package.get_mut("version") else {
            return Err("the stage's Cargo.toml has no `package.version`".to_owned());
        };
        if version.contains('+') {
            return Err(format!(
                "the stage's version {version} already has build metadata"
            ));
        }
        *version = format!("{version}+{build}");
    }

    if options.tests == Tests::Drop {
        for key in ["dev-dependencies", "dev_dependencies"] {
            manifest.remove(key);
        }
        manifest.remove("test");
    }
    for key in ["example", "bench"] {
        manifest.remove(key);
    }
    for key in DEPENDENCY_TABLES {
        if let Some(Value::Table(deps)) = manifest.get_mut(key) {
            resolve_dependencies(deps, ws_dependencies, root_dir, member_dir)?;
        }
    }
    if let Some(Value::Table(targets)) = manifest.get_mut("target") {
        for (_, target) in targets.iter_mut() {
            let Value::Table(target) = target else {
                continue;
            };
            if options.tests == Tests::Drop {
                for key in ["dev-dependencies", "dev_dependencies"] {
                    target.remove(key);
                }
            }
            for key in DEPENDENCY_TABLES {
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

    if !options.profiles.is_empty() {
        let root_profiles = table_at(root_manifest, "profile").unwrap_or(&empty);
        let mut profiles = Table::new();
        for name in options.profiles {
            let profile = root_profiles.get(*name).ok_or_else(|| {
                format!("the workspace's Cargo.toml has no [profile.{name}] to copy")
            })?;
            profiles.insert((*name).to_owned(), profile.clone());
        }
        manifest.insert("profile".to_owned(), Value::Table(profiles));
    }

    let text = toml::to_string(&manifest).map_err(|e| format!("writing the manifest: {e}"))?;
    Ok(format!(
        "# Written by {} from the stage's Cargo.toml; do not edit.\n\n{text}",
        options.written_by
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

/// Copies the folder `from` to `to`, with everything in it.
///
/// # Errors
///
/// If a file cannot be read or written; the message names it.
pub fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    for path in sorted_entries(from)? {
        let target = to.join(path.file_name().expect("a folder entry has a name"));
        if path.is_dir() {
            copy_tree(&path, &target)?;
        } else {
            copy_file(&path, &target)?;
        }
    }
    Ok(())
}

/// Copies the file `from` to `to`, creating `to`'s folder first.
///
/// # Errors
///
/// If the folder cannot be created or the file copied; the message names both files.
pub fn copy_file(from: &Path, to: &Path) -> Result<(), String> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    fs::copy(from, to)
        .map_err(|e| format!("copying {} to {}: {e}", from.display(), to.display()))?;
    Ok(())
}

/// Makes `to` hold exactly the files of `from`, rewriting only those whose content differs, so
/// that Cargo, which compares modification times, does not rebuild what has not changed.
///
/// # Errors
///
/// If a file cannot be read, written or removed; the message names it.
pub fn sync_tree(from: &Path, to: &Path) -> Result<(), String> {
    fn files(base: &Path, dir: &Path, out: &mut BTreeSet<PathBuf>) -> Result<(), String> {
        if !dir.is_dir() {
            return Ok(());
        }
        for path in sorted_entries(dir)? {
            if path.is_dir() {
                files(base, &path, out)?;
            } else {
                out.insert(
                    path.strip_prefix(base)
                        .expect("walked from base")
                        .to_owned(),
                );
            }
        }
        Ok(())
    }
    let (mut wanted, mut present) = (BTreeSet::new(), BTreeSet::new());
    files(from, from, &mut wanted)?;
    files(to, to, &mut present)?;
    for rel in &wanted {
        let new =
            fs::read(from.join(rel)).map_err(|e| format!("reading {}: {e}", rel.display()))?;
        if fs::read(to.join(rel)).ok().as_ref() != Some(&new) {
            copy_file(&from.join(rel), &to.join(rel))?;
        }
    }
    for rel in present.difference(&wanted) {
        fs::remove_file(to.join(rel)).map_err(|e| format!("removing {}: {e}", rel.display()))?;
    }
    Ok(())
}

/// Checks that every registry or git package in `scratch_lock` is locked, with the same checksum,
/// in the workspace's lock: the step resolved nothing the workspace did not.
///
/// (`--locked` cannot be used: the copied lock also holds the workspace's other members and
/// dev-dependencies, and Cargo's pruning of them counts as an update.)
///
/// # Errors
///
/// If either lock file does not parse, or names the packages the workspace does not lock.
pub fn check_lock_subset(scratch_lock: &str, workspace_lock: &str) -> Result<(), String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    const STANDALONE: Standalone<'static> = Standalone {
        written_by: "a test",
        tests: Tests::Drop,
        profiles: &[],
        build_metadata: None,
    };

    #[test]
    fn workspace_members_expands_folder_patterns() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        for dir in [
            "crates/a",
            "chapters/ch01",
            "chapters/ch02",
            "measure/m",
            "tool",
        ] {
            fs::create_dir_all(root.join(dir)).unwrap();
        }
        fs::write(root.join("chapters/notes.md"), "").unwrap();
        fs::write(
            root.join("Cargo.toml"),
            "[workspace]\nmembers = [\"chapters/*\", \"crates/*\", \"measure/*\", \"tool\"]\n",
        )
        .unwrap();
        let members: Vec<String> = workspace_members(root)
            .unwrap()
            .iter()
            .map(|member| display(root, member))
            .collect();
        assert_eq!(
            members,
            [
                "chapters/ch01",
                "chapters/ch02",
                "crates/a",
                "measure/m",
                "tool"
            ]
        );
        fs::write(
            root.join("Cargo.toml"),
            "[workspace]\nmembers = [\"chapters/ch0*\"]\n",
        )
        .unwrap();
        let error = workspace_members(root).unwrap_err();
        assert!(error.contains("`chapters/ch0*`"), "{error}");
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
            &STANDALONE,
        )
        .unwrap();
        assert!(text.starts_with("# Written by a test from"), "{text}");
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
    fn kept_tests_keep_dev_dependencies_profiles_and_build_metadata() {
        let root: Table = r#"
            [workspace]
            [workspace.dependencies]
            testkit = { path = "crates/testkit" }
            [profile.loom]
            inherits = "release"
        "#
        .parse()
        .unwrap();
        let member = r#"
            [package]
            name = "stage"
            version = "0.1.0"
            [dev-dependencies]
            testkit.workspace = true
            [target.'cfg(loom)'.dev-dependencies]
            loom = "0.7"
        "#;
        let options = Standalone {
            tests: Tests::Keep,
            profiles: &["loom"],
            build_metadata: Some("start"),
            ..STANDALONE
        };
        let text = standalone_manifest(member, Path::new("/w/s"), &root, Path::new("/w"), &options)
            .unwrap();
        let manifest: Table = text.parse().unwrap();
        assert_eq!(manifest["package"]["version"].as_str(), Some("0.1.0+start"));
        assert_eq!(
            manifest["dev-dependencies"]["testkit"]["path"].as_str(),
            Some("/w/crates/testkit")
        );
        assert_eq!(
            manifest["target"]["cfg(loom)"]["dev-dependencies"]["loom"].as_str(),
            Some("0.7")
        );
        assert_eq!(
            manifest["profile"]["loom"]["inherits"].as_str(),
            Some("release")
        );
        let missing = Standalone {
            profiles: &["bench"],
            ..options
        };
        let error =
            standalone_manifest(member, Path::new("/w/s"), &root, Path::new("/w"), &missing)
                .unwrap_err();
        assert!(error.contains("[profile.bench]"), "{error}");
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

    #[test]
    fn sync_tree_rewrites_only_what_changed_and_removes_what_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("from"), dir.path().join("to"));
        fs::create_dir_all(from.join("src")).unwrap();
        fs::write(from.join("src/lib.rs"), "new").unwrap();
        fs::write(from.join("same.rs"), "same").unwrap();
        fs::create_dir_all(&to).unwrap();
        fs::write(to.join("same.rs"), "same").unwrap();
        fs::write(to.join("gone.rs"), "gone").unwrap();
        // A file rewritten with the same content would get a new modification time.
        let before = fs::metadata(to.join("same.rs"))
            .unwrap()
            .modified()
            .unwrap();
        sync_tree(&from, &to).unwrap();
        assert_eq!(fs::read_to_string(to.join("src/lib.rs")).unwrap(), "new");
        assert!(!to.join("gone.rs").exists());
        let after = fs::metadata(to.join("same.rs"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(before, after);
    }

    #[test]
    fn a_missing_folder_is_an_error_that_names_it() {
        let error = sorted_entries(Path::new("/no/such/folder")).unwrap_err();
        assert!(error.contains("/no/such/folder"), "{error}");
    }
}
