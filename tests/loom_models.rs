//! Runs every loom model in the workspace as part of the normal test command, under loom and
//! under shuttle.
//!
//! The models live beside the code they check (`tests/loom.rs` in `crates/sync` and in each stage
//! from the shared queue on that has a pool of its own; see `SAME_POOL`) and compile only with `--cfg loom`, which swaps std's primitives for
//! loom's in `poolbook-sync`. That flag must reach every crate of the build, so the models run in
//! a nested `cargo test` with its own `RUSTFLAGS` and target directory (`target/loom`): it never
//! invalidates the normal build's artifacts, and the normal build never sees loom. They run in a
//! separate process for a second reason too: a deadlock found by loom aborts its whole process.
//!
//! The same files, built with `--cfg shuttle` instead (in `target/shuttle`), run the same models
//! under shuttle's schedulers, which try a fixed number of random schedules rather than every
//! one: what a randomized tester finds, and what it misses, on the same source.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use poolbook::scratch::workspace_members;

/// Every crate with loom models. A crate that gains a `tests/loom.rs` must be listed here; the
/// test below checks that none is forgotten, in any of the workspace's crates.
const MODELLED: [&str; 18] = [
    "poolbook-sync",
    "ch05-shared-queue",
    "ch06-graceful-shutdown",
    "ch07-panic-isolation",
    "ch08-job-results",
    "ch09-condvar-queue",
    "ch10-bounded-queue",
    "ch11-policies",
    "ch12-busy-server",
    "ch13-builder",
    "ch14-metrics",
    "ch15-join",
    "ch16-shutdown",
    "ch17-shutdown-now",
    "ch18-fewer-wakeups",
    "ch22-back-pressure",
    "ch23-time-waited",
    "ch24-shedding",
];

/// The files that make up a pool, from stage 13 on.
const POOL_MODULES: [&str; 4] = ["pool.rs", "queue.rs", "builder.rs", "handle.rs"];

/// Stages whose pool is an earlier stage's, unchanged: the earlier stage's models check it. Each
/// entry is `(stage, the stage whose pool it repeats)`; the test below holds them to it.
const SAME_POOL: [(&str, &str); 3] = [
    ("ch19-deadlines", "ch18-fewer-wakeups"),
    ("ch20-backoff", "ch18-fewer-wakeups"),
    ("ch21-hardened", "ch18-fewer-wakeups"),
];

#[test]
fn every_loom_model_passes() {
    run_every_model("loom", "loom", &[]);
}

// ANCHOR: shuttle-models
/// The same models, under shuttle's random scheduler and then its PCT scheduler, each trying
/// `poolbook_sync::model::SHUTTLE_ITERATIONS` schedules per model. In the test profile: shuttle
/// runs a schedule in microseconds even unoptimised, and the unoptimised build takes less than
/// half the time (25 s against 64 s here), which is most of what this test costs.
#[test]
fn every_model_passes_under_shuttle() {
    for scheduler in ["random", "pct"] {
        run_every_model(
            "shuttle",
            "test",
            &[("POOLBOOK_SHUTTLE_SCHEDULER", scheduler)],
        );
    }
}
// ANCHOR_END: shuttle-models

/// Runs every crate's `tests/loom.rs` built with `--cfg <checker>` (`loom` or `shuttle`) and
/// `profile`, in the target folder `target/<checker>`, with `env` set, and checks that every
/// model declared ran and passed.
fn run_every_model(checker: &str, profile: &str, env: &[(&str, &str)]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut command = Command::new(env!("CARGO"));
    command
        .current_dir(root)
        .args(["test", "--locked", "--profile", profile, "--test", "loom"])
        .env("RUSTFLAGS", format!("--cfg {checker}"))
        .env("CARGO_TARGET_DIR", root.join("target").join(checker))
        .env("CARGO_TERM_COLOR", "never")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS");
    // loom reads its settings from LOOM_* variables, and `LOOM_MAX_PREEMPTIONS=1` left in a shell
    // would check the pools with a smaller bound than the one the book claims; the same goes for
    // a shuttle budget left in the environment.
    for (var, _) in std::env::vars_os() {
        let name = var.to_string_lossy();
        if name.starts_with("LOOM_") || name.starts_with("POOLBOOK_SHUTTLE_") {
            command.env_remove(var);
        }
    }
    command.envs(env.iter().copied());
    for package in MODELLED {
        command.args(["-p", package]);
    }
    if checker == "loom" {
        // One model at a time: two loom models side by side took longer than the same two one
        // after the other (stage 24's 18 models: 34 s on two test threads, 22 s on one). shuttle's
        // run side by side as usual.
        command.args(["--", "--test-threads=1"]);
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("run cargo test for the {checker} models: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Shown with --nocapture, and on failure: which models ran, how long each binary took.
    println!("{checker} {env:?}:\n{stdout}");
    assert!(
        output.status.success(),
        "{checker} models failed ({env:?}):\n{stdout}\n{stderr}"
    );
    let passed: usize = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test result: ok. "))
        .filter_map(|l| l.split(' ').next()?.parse::<usize>().ok())
        .sum();
    let packages = packages(root);
    let declared: usize = MODELLED
        .iter()
        .map(|package| {
            let dir = packages
                .get(*package)
                .unwrap_or_else(|| panic!("{package} is not a package of the workspace"));
            let models = std::fs::read_to_string(dir.join("tests/loom.rs")).expect("tests/loom.rs");
            models.matches("#[test]").count()
        })
        .sum();
    assert_eq!(
        passed, declared,
        "every model declared must run and pass under {checker}:\n{stdout}"
    );
}

/// Every package of the workspace, by name, with its folder: each member the root `Cargo.toml`'s
/// `members` names (`crates/*`, `chapters/*`, `measure/*`), and the root package.
fn packages(root: &Path) -> BTreeMap<String, PathBuf> {
    let mut folders = workspace_members(root).unwrap_or_else(|e| panic!("{e}"));
    folders.push(root.to_path_buf());
    folders
        .into_iter()
        .map(|folder| {
            let path = folder.join("Cargo.toml");
            let manifest: toml::Table = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
                .parse()
                .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
            let name = manifest
                .get("package")
                .and_then(|package| package.get("name"))
                .and_then(toml::Value::as_str)
                .unwrap_or_else(|| panic!("{} names no package", path.display()))
                .to_owned();
            (name, folder)
        })
        .collect()
}

#[test]
fn no_crate_with_models_is_left_out() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let packages = packages(root);
    // Not a vacuous scan: it reaches the shared crates, every stage and the measuring crates.
    for package in ["poolbook-sync", "ch01-single-threaded", "poolbook-timelab"] {
        assert!(
            packages.contains_key(package),
            "{package} is not among the workspace's packages: {:?}",
            packages.keys()
        );
    }
    let found: Vec<&str> = packages
        .iter()
        .filter(|(_, folder)| folder.join("tests/loom.rs").is_file())
        .map(|(name, _)| name.as_str())
        .collect();
    let mut listed = MODELLED.to_vec();
    listed.sort_unstable();
    assert_eq!(
        found, listed,
        "MODELLED must list every crate of the workspace with tests/loom.rs"
    );
}

/// A stage listed in [`SAME_POOL`] must have exactly the modelled stage's `src/pool.rs`, but for
/// the crate name its documentation examples import from: otherwise its pool is code no model
/// has checked.
#[test]
fn a_stage_that_repeats_a_pool_repeats_it_exactly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("chapters");
    for (stage, modelled) in SAME_POOL {
        assert!(MODELLED.contains(&modelled), "{modelled} has no models");
        for module in POOL_MODULES {
            let read = |package: &str| {
                std::fs::read_to_string(root.join(package).join("src").join(module))
                    .unwrap_or_else(|e| panic!("chapters/{package}/src/{module}: {e}"))
                    .replace(&package.replace('-', "_"), "<crate>")
            };
            assert!(
                read(stage) == read(modelled),
                "chapters/{stage}/src/{module} must be chapters/{modelled}/src/{module}, \
                 unchanged but for the crate name; a stage that changes its pool needs its own \
                 tests/loom.rs"
            );
        }
    }
}
