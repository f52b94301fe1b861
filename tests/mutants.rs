//! Mutation testing of every stage's pool: does anything notice when the pool's code is wrong?
//!
//! [cargo-mutants] makes small changes to the code (a `+=` becomes `-=`, a function returns a
//! default value, a `<` becomes `==`), each one a *mutant*, builds each and runs the checks
//! against it. A mutant that some check fails on is *caught*; one that every check passes is
//! *missed*: either the checks have a gap, or the change cannot alter what the pool does (an
//! *equivalent* mutant), which [`EQUIVALENT`] must then say, with the reason.
//!
//! Each stage is mutated where its pool (`src/pool.rs`, `queue.rs`, `builder.rs`, `handle.rs`)
//! differs from the stage before (cargo-mutants' `--in-diff`), so every line of every pool is
//! mutated once, in the stage that writes or changes it, against that stage's checks: the stage
//! that introduces an idea is where its checks must pin it down. Three passes:
//!
//! 1. **tests**: `cargo test` (unit, integration, property and doc tests) on every mutant;
//! 2. **models**: the stage's loom models (`--cfg loom`, `--test loom`) on every mutant of the
//!    file they model (`queue.rs`, or `pool.rs` before the queue has a file of its own) and on
//!    every mutant the tests missed elsewhere; so the data says, for each change to the queue,
//!    whether a model needs it;
//! 3. **wake-ups**: cargo-mutants does not delete statements, so this test deletes each
//!    `notify_one()` / `notify_all()` call itself, one at a time, and runs the models: a wake-up
//!    that can go without any model failing is a gap.
//!
//! `POOLBOOK_MUTANTS=write cargo test --test mutants -- --nocapture` installs cargo-mutants
//! ([`VERSION`], `cargo install --locked` into `target/tools/`) if needed, runs every pass on
//! every stage and writes [`DATA`] and the tables the chapter includes. It takes hours, so it is
//! not part of CI. `POOLBOOK_MUTANTS_ONLY=<text>,<text>…` runs only the stages whose name
//! contains one of the texts, and `POOLBOOK_MUTANTS_FROM=<stage>` only that stage and those after
//! it (to go on after an interruption), keeping the others' results. `POOLBOOK_MUTANTS=render`
//! only writes the tables again, from the data and [`EQUIVALENT`].
//!
//! Without `POOLBOOK_MUTANTS`, the test checks what is committed: a result for every stage with a
//! pool, every missed mutant explained in [`EQUIVALENT`] and nothing explained that was not
//! missed, the tables as the data renders them, and the chapter's sentences about the data.
//!
//! [cargo-mutants]: https://mutants.rs/

#[allow(dead_code, unused_imports, unused_macros)]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use poolbook::check::run_limited;
use poolbook::scratch::{Standalone, Tests, cargo_command, cargo_command_for};
use serde::{Deserialize, Serialize};

use support::{
    added_lines, clear_model_env, list, model_command, root_manifest, standalone_copy, thousands,
    workspace_root,
};

/// The cargo-mutants this test installs and the data was made with.
const VERSION: &str = "27.1.0";
/// The committed data, from the workspace's root.
const DATA: &str = "book/src/mutants/mutants.json";
/// The table of counts per stage, rendered from [`DATA`].
const TABLE: &str = "book/src/mutants/table.md";
/// Why each missed mutant cannot change what the pool does: written by hand, checked against
/// [`DATA`].
const EQUIVALENT: &str = "book/src/mutants/equivalent.toml";
/// [`EQUIVALENT`] as the chapter shows it.
const EQUIVALENT_TABLE: &str = "book/src/mutants/equivalent.md";
/// The chapter that shows the tables and says what they mean.
const CHAPTER: &str = "book/src/mutation-testing.md";
/// The files that make up a pool.
const POOL_FILES: [&str; 4] = [
    "src/pool.rs",
    "src/queue.rs",
    "src/builder.rs",
    "src/handle.rs",
];
/// How long the tests may run on one mutant before it counts as a hang (caught: the test suite
/// would never finish). The unmutated tests of the slowest stage run in under half a minute, and
/// a mutant that makes a worker give up its jobs hangs some test for ever.
const TEST_TIMEOUT: Duration = Duration::from_secs(90);
/// The same for the models (the latest stages' run in about half a minute).
const MODEL_TIMEOUT: Duration = Duration::from_secs(150);
/// Stages whose run has not been completed yet, and so are not in [`DATA`]: the check accepts
/// them missing (and fails when one is there, to be taken off this list), the table shows them as
/// not run, and the chapter names them. The list may only shrink.
const PENDING: &[&str] = &["ch18-fewer-wakeups"];
/// The command that writes the data.
const COMMAND: &str = "POOLBOOK_MUTANTS=write cargo test --test mutants -- --nocapture";

/// Every stage's mutants and what caught them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Mutants {
    /// The command that wrote this.
    command: String,
    /// `cargo-mutants <version>`.
    tool: String,
    /// One entry per stage with a pool, in order.
    stages: Vec<Stage>,
}

/// One stage: the mutants of what it changed since the stage before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Stage {
    /// The crate, `ch09-condvar-queue`.
    stage: String,
    /// The stage its pool is compared with; `None` for the first pool.
    since: Option<String>,
    /// Whether the stage has loom models (`tests/loom.rs`).
    models: bool,
    /// cargo-mutants' mutants, in its order.
    mutants: Vec<Mutant>,
    /// The deleted wake-ups.
    wakeups: Vec<Mutant>,
}

/// One mutant and the verdict of each pass that ran on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Mutant {
    /// As cargo-mutants names it: `src/queue.rs:207:13: replace += with -= in Queue::push`; a
    /// deleted wake-up as `src/queue.rs:207: delete self.job_ready.notify_one()`.
    name: String,
    /// `caught`, `missed`, `timeout` or `unviable` (does not build); `None` when not run.
    tests: Option<String>,
    /// The same, for the models.
    models: Option<String>,
}

/// What a mutant's passes add up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// The tests fail (or hang) on it.
    Tests,
    /// The tests pass, a model fails.
    Models,
    /// It does not compile: nothing to catch.
    Unviable,
    /// Every check passes.
    Missed,
}

impl Mutant {
    fn verdict(&self) -> Verdict {
        let caught = |v: &Option<String>| matches!(v.as_deref(), Some("caught" | "timeout"));
        if caught(&self.tests) {
            Verdict::Tests
        } else if caught(&self.models) {
            Verdict::Models
        } else if self.tests.as_deref() == Some("unviable")
            || (self.tests.is_none() && self.models.as_deref() == Some("unviable"))
        {
            Verdict::Unviable
        } else {
            Verdict::Missed
        }
    }

    /// The name without its line and column, which move when code above it changes: how
    /// [`EQUIVALENT`] names it.
    fn key(&self) -> String {
        key(&self.name)
    }

    /// Whether a model catches it.
    fn needs_a_model(&self) -> bool {
        matches!(self.models.as_deref(), Some("caught" | "timeout"))
    }
}

/// `src/queue.rs:207:13: replace …` as `src/queue.rs: replace …`.
fn key(name: &str) -> String {
    let mut parts = name.splitn(2, ": ");
    let place = parts.next().unwrap_or(name);
    let what = parts.next().unwrap_or("");
    let file = place.split(':').next().unwrap_or(place);
    format!("{file}: {what}")
}

/// What [`EQUIVALENT`] holds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Explained {
    equivalent: Vec<Equivalent>,
}

/// One missed mutant, and why it cannot change what the pool does.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Equivalent {
    stage: String,
    /// Its name without line and column ([`Mutant::key`]).
    mutant: String,
    reason: String,
}

#[test]
fn every_mutant_of_every_pool_is_caught_or_explained() {
    let root = workspace_root();
    let stages = pool_stages(&root);
    let mode = std::env::var("POOLBOOK_MUTANTS").unwrap_or_default();
    if mode == "render" {
        write(&root, &read_data(&root).unwrap_or_else(|e| panic!("{e}")));
    }
    if mode == "write" {
        let only = std::env::var("POOLBOOK_MUTANTS_ONLY").unwrap_or_default();
        let from = std::env::var("POOLBOOK_MUTANTS_FROM").unwrap_or_default();
        let tool = install(&root);
        // The stages this run measured, put into the data file afresh after each one: another
        // run may be writing other stages into it meanwhile.
        let mut measured: Vec<Stage> = Vec::new();
        for (previous, stage) in std::iter::once(None)
            .chain(stages.iter().map(Some))
            .zip(&stages)
        {
            if !only.split(',').any(|part| stage.contains(part)) || stage.as_str() < from.as_str() {
                continue;
            }
            measured.push(measure(&root, &tool, previous.map(String::as_str), stage));
            let mut data = read_data(&root).unwrap_or_else(|_| Mutants {
                command: COMMAND.to_owned(),
                tool: format!("cargo-mutants {VERSION}"),
                stages: Vec::new(),
            });
            data.stages
                .retain(|old| measured.iter().all(|new| new.stage != old.stage));
            data.stages.extend(measured.iter().cloned());
            data.stages.sort_by(|a, b| a.stage.cmp(&b.stage));
            write(&root, &data);
        }
    }
    let data =
        read_data(&root).unwrap_or_else(|e| panic!("{e}; write it with POOLBOOK_MUTANTS=write"));
    let mut problems = Vec::new();
    let measured: Vec<&str> = data.stages.iter().map(|s| s.stage.as_str()).collect();
    let expected: Vec<&str> = stages
        .iter()
        .map(String::as_str)
        .filter(|stage| !PENDING.contains(stage))
        .collect();
    if measured != expected {
        problems.push(format!(
            "{DATA} has the stages {measured:?}, but the pools not PENDING are {expected:?}: run \
             it again (a measured stage comes off PENDING)"
        ));
    }
    problems.extend(unexplained(&root, &data));
    let table = fs::read_to_string(root.join(TABLE)).unwrap_or_default();
    if table != render(&data) {
        problems.push(format!("{TABLE} is not what {DATA} renders"));
    }
    let explained = fs::read_to_string(root.join(EQUIVALENT_TABLE)).unwrap_or_default();
    if explained != render_equivalent(&read_equivalent(&root)) {
        problems.push(format!(
            "{EQUIVALENT_TABLE} is not what {EQUIVALENT} renders"
        ));
    }
    let chapter = fs::read_to_string(root.join(CHAPTER)).unwrap_or_default();
    let chapter = chapter.split_whitespace().collect::<Vec<_>>().join(" ");
    for sentence in claims(&root, &data) {
        if !chapter.contains(&sentence) {
            problems.push(format!("{CHAPTER} should say: {sentence:?}"));
        }
    }
    for file in [
        "{{#include mutants/table.md}}",
        "{{#include mutants/equivalent.md}}",
    ] {
        if !chapter.contains(file) {
            problems.push(format!("{CHAPTER} includes {file}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The stages with a pool (`src/pool.rs`), in order.
fn pool_stages(root: &Path) -> Vec<String> {
    support::sorted_entries(&root.join("chapters"))
        .iter()
        .filter(|dir| dir.join("src/pool.rs").exists())
        .map(|dir| support::file_name(dir))
        .collect()
}

fn read_data(root: &Path) -> Result<Mutants, String> {
    let text = fs::read_to_string(root.join(DATA)).map_err(|e| format!("{DATA}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{DATA} does not parse: {e}"))
}

fn read_equivalent(root: &Path) -> Explained {
    let text =
        fs::read_to_string(root.join(EQUIVALENT)).unwrap_or_else(|e| panic!("{EQUIVALENT}: {e}"));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{EQUIVALENT} does not parse: {e}"))
}

fn write(root: &Path, data: &Mutants) {
    let json = serde_json::to_string_pretty(data).expect("the data serializes") + "\n";
    fs::create_dir_all(root.join(DATA).parent().expect("a folder")).expect("book/src/mutants");
    fs::write(root.join(DATA), json).expect("write the data");
    fs::write(root.join(TABLE), render(data)).expect("write the table");
    if root.join(EQUIVALENT).exists() {
        fs::write(
            root.join(EQUIVALENT_TABLE),
            render_equivalent(&read_equivalent(root)),
        )
        .expect("write the equivalent mutants");
    }
    println!("wrote {DATA} and {TABLE}");
}

/// Every missed mutant without an explanation, and every explanation of a mutant that is not
/// missed (a test caught it since, or the code changed): each a problem.
fn unexplained(root: &Path, data: &Mutants) -> Vec<String> {
    let explained = read_equivalent(root);
    let mut reasons: BTreeMap<(String, String), &str> = BTreeMap::new();
    let mut problems = Vec::new();
    for entry in &explained.equivalent {
        if entry.reason.trim().len() < 20 {
            problems.push(format!(
                "{EQUIVALENT}: {} {}: say why it cannot change what the pool does",
                entry.stage, entry.mutant
            ));
        }
        if reasons
            .insert((entry.stage.clone(), entry.mutant.clone()), &entry.reason)
            .is_some()
        {
            problems.push(format!(
                "{EQUIVALENT}: {} {} twice",
                entry.stage, entry.mutant
            ));
        }
    }
    let mut used = BTreeSet::new();
    for stage in &data.stages {
        for mutant in stage.mutants.iter().chain(&stage.wakeups) {
            if mutant.verdict() != Verdict::Missed {
                continue;
            }
            let id = (stage.stage.clone(), mutant.key());
            if reasons.contains_key(&id) {
                used.insert(id);
            } else {
                problems.push(format!(
                    "{}: {} is missed by every check: catch it with a test or a model, or say \
                     in {EQUIVALENT} why it cannot change what the pool does",
                    stage.stage, mutant.name
                ));
            }
        }
    }
    for id in reasons.keys() {
        if !used.contains(id) {
            problems.push(format!(
                "{EQUIVALENT} explains {} {}, which is not a missed mutant in {DATA}",
                id.0, id.1
            ));
        }
    }
    problems
}

/// Counts for one stage.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Counts {
    mutants: usize,
    tests: usize,
    models: usize,
    timeouts: usize,
    unviable: usize,
    missed: usize,
    wakeups: usize,
    wakeups_caught: usize,
}

impl Counts {
    fn of(stage: &Stage) -> Counts {
        let mut counts = Counts {
            mutants: stage.mutants.len(),
            wakeups: stage.wakeups.len(),
            ..Counts::default()
        };
        for mutant in &stage.mutants {
            match mutant.verdict() {
                Verdict::Tests => counts.tests += 1,
                Verdict::Models => counts.models += 1,
                Verdict::Unviable => counts.unviable += 1,
                Verdict::Missed => counts.missed += 1,
            }
            if mutant.tests.as_deref() == Some("timeout") {
                counts.timeouts += 1;
            }
        }
        counts.wakeups_caught = stage.wakeups.iter().filter(|m| m.needs_a_model()).count();
        counts
    }

    fn add(self, other: Counts) -> Counts {
        Counts {
            mutants: self.mutants + other.mutants,
            tests: self.tests + other.tests,
            models: self.models + other.models,
            timeouts: self.timeouts + other.timeouts,
            unviable: self.unviable + other.unviable,
            missed: self.missed + other.missed,
            wakeups: self.wakeups + other.wakeups,
            wakeups_caught: self.wakeups_caught + other.wakeups_caught,
        }
    }
}

/// The table of counts the chapter includes.
fn render(data: &Mutants) -> String {
    let mut out = format!(
        "<!-- Written by `{COMMAND}` from mutants.json: do not edit by hand. -->\n\n\
         | stage | mutants | caught by tests | only by models | unviable | missed | wake-ups deleted: caught by a model |\n\
         | :-- | --: | --: | --: | --: | --: | --: |\n"
    );
    let mut total = Counts::default();
    for stage in &data.stages {
        let c = Counts::of(stage);
        total = total.add(c);
        let wakeups = if c.wakeups == 0 {
            "—".to_owned()
        } else {
            format!("{} of {}", c.wakeups_caught, c.wakeups)
        };
        out += &format!(
            "| `{}` | {} | {}{} | {} | {} | {} | {} |\n",
            stage.stage,
            c.mutants,
            c.tests,
            if c.timeouts > 0 {
                format!(" ({} by hanging)", c.timeouts)
            } else {
                String::new()
            },
            if stage.models {
                c.models.to_string()
            } else {
                "no models".to_owned()
            },
            c.unviable,
            c.missed,
            wakeups
        );
    }
    for stage in PENDING {
        out += &format!("| `{stage}` | not run yet | | | | | |\n");
    }
    out += &format!(
        "| **all** | **{}** | **{}** | **{}** | **{}** | **{}** | **{} of {}** |\n\n\
         {}: each stage's mutants are those of the lines its pool adds or changes since the \
         stage before. A missed mutant is one every check passes; each is explained below.\n",
        total.mutants,
        total.tests,
        total.models,
        total.unviable,
        total.missed,
        total.wakeups_caught,
        total.wakeups,
        data.tool
    );
    out
}

/// [`EQUIVALENT`] as a table.
fn render_equivalent(explained: &Explained) -> String {
    let mut out = format!(
        "<!-- Written by `{COMMAND}` from equivalent.toml: do not edit by hand. -->\n\n\
         | stage | mutant | why it changes nothing |\n| :-- | :-- | :-- |\n"
    );
    for entry in &explained.equivalent {
        out += &format!(
            "| `{}` | `{}` | {} |\n",
            entry.stage,
            entry.mutant,
            entry
                .reason
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    out
}

// ANCHOR: claims
/// The sentences the chapter must contain, with the figures the data gives.
fn claims(root: &Path, data: &Mutants) -> Vec<String> {
    let total = data
        .stages
        .iter()
        .map(Counts::of)
        .fold(Counts::default(), Counts::add);
    let viable = total.mutants - total.unviable;
    // A counter update in the file the models model, turned into another operator.
    let counters: Vec<(&Stage, &Mutant)> = data
        .stages
        .iter()
        .filter(|stage| stage.models)
        .flat_map(|stage| {
            let file = modelled_file(root, &stage.stage);
            stage
                .mutants
                .iter()
                .filter(move |m| {
                    m.name.starts_with(file)
                        && (m.name.contains(": replace += with")
                            || m.name.contains(": replace -= with"))
                        && m.tests.as_deref() != Some("unviable")
                })
                .map(move |m| (stage, m))
        })
        .collect();
    let counted = counters.iter().filter(|(_, m)| m.needs_a_model()).count();
    let only_models: Vec<String> = data
        .stages
        .iter()
        .flat_map(|stage| {
            stage
                .mutants
                .iter()
                .filter(|m| m.verdict() == Verdict::Models)
                .map(move |m| format!("`{}` in {}", key(&m.name), stage.stage))
        })
        .collect();
    vec![
        format!(
            "Over {} of the {} stages with a pool, cargo-mutants made {} mutants, {} of which \
             compile; the tests catch {}, the loom models {} more, and {} are missed by every \
             check.",
            data.stages.len(),
            pool_stages(root).len(),
            thousands(total.mutants as u64),
            thousands(viable as u64),
            thousands(total.tests as u64),
            total.models,
            total.missed,
        ),
        format!(
            "Of the {} wake-ups deleted one at a time, a model fails on {}.",
            total.wakeups, total.wakeups_caught
        ),
        {
            let by_tests: Vec<String> = counters
                .iter()
                .filter(|(_, m)| !m.needs_a_model() && m.verdict() == Verdict::Tests)
                .map(|(stage, m)| format!("`{}` in {}", key(&m.name), stage.stage))
                .collect();
            let mut sentence = format!(
                "Of the {} mutants that change how a counter of the queue is kept, a model fails \
                 on {counted}",
                counters.len()
            );
            if !by_tests.is_empty() {
                sentence += &format!("; only a test catches {}", list(&by_tests));
            }
            sentence + "."
        },
        match PENDING {
            [] => "Every stage with a pool has been run.".to_owned(),
            pending => format!(
                "Not run to the end yet: {}.",
                list(&pending.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>())
            ),
        },
        match only_models.as_slice() {
            [] => "No mutant is caught by a model alone.".to_owned(),
            found => format!("Only a model catches {}.", list(found)),
        },
    ]
}
// ANCHOR_END: claims

/// The file the stage's models model: the queue's, or the pool's before the queue had one.
fn modelled_file(root: &Path, stage: &str) -> &'static str {
    if root
        .join("chapters")
        .join(stage)
        .join("src/queue.rs")
        .exists()
    {
        "src/queue.rs"
    } else {
        "src/pool.rs"
    }
}

/// cargo-mutants [`VERSION`], installed into `target/tools/` unless it is there already.
fn install(root: &Path) -> PathBuf {
    let tools = root.join("target").join("tools");
    let program = tools.join("bin").join("cargo-mutants");
    let version = Command::new(&program).arg("--version").output();
    if version.is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(VERSION)) {
        return program;
    }
    println!(
        "installing cargo-mutants {VERSION} into {}",
        tools.display()
    );
    let mut command = cargo_command(&root.join("target").join("tools-build"));
    command
        .args(["install", "--locked", "--version", VERSION, "--root"])
        .arg(&tools)
        .arg("cargo-mutants");
    let status = command.status().expect("cargo install runs");
    assert!(status.success(), "cargo install cargo-mutants failed");
    program
}

/// Runs the three passes on `stage`.
fn measure(root: &Path, tool: &Path, previous: Option<&str>, stage: &str) -> Stage {
    let started = Instant::now();
    let copy = prepare(root, stage);
    let diff = stage_diff(root, previous, stage);
    let diff_file = copy.with_extension("diff");
    fs::write(&diff_file, &diff).expect("write the diff");
    let models = root
        .join("chapters")
        .join(stage)
        .join("tests/loom.rs")
        .exists();
    let modelled = modelled_file(root, stage);
    let out = root.join("target").join("mutants-out").join(stage);
    let mut mutants: BTreeMap<String, Mutant> = BTreeMap::new();
    let mut order = Vec::new();
    if !diff.trim().is_empty() {
        let tests = mutate(
            tool,
            root,
            &copy,
            &diff_file,
            &out.join("tests"),
            Pass::Tests,
            &[],
        );
        for (name, verdict) in tests {
            order.push(name.clone());
            mutants.insert(
                name.clone(),
                Mutant {
                    name,
                    tests: Some(verdict),
                    models: None,
                },
            );
        }
        if models {
            // The models skip what the tests caught outside the file they model, and what
            // does not build.
            let skip: Vec<String> = mutants
                .values()
                .filter(|m| {
                    m.tests.as_deref() == Some("unviable")
                        || (m.verdict() == Verdict::Tests && !m.name.starts_with(modelled))
                })
                .map(|m| m.name.clone())
                .collect();
            if skip.len() < mutants.len() {
                let verdicts = mutate(
                    tool,
                    root,
                    &copy,
                    &diff_file,
                    &out.join("models"),
                    Pass::Models,
                    &skip,
                );
                for (name, verdict) in verdicts {
                    if let Some(mutant) = mutants.get_mut(&name) {
                        mutant.models = Some(verdict);
                    }
                }
            }
        }
    }
    let wakeups = if models {
        delete_wakeups(root, &copy, &diff)
    } else {
        Vec::new()
    };
    let stage = Stage {
        stage: stage.to_owned(),
        since: previous.map(str::to_owned),
        models,
        mutants: order.iter().map(|name| mutants[name].clone()).collect(),
        wakeups,
    };
    let c = Counts::of(&stage);
    println!(
        "{}: {} mutants, {} caught by tests, {} only by models, {} unviable, {} missed; wake-ups \
         {} of {} caught ({:.0?})",
        stage.stage,
        c.mutants,
        c.tests,
        c.models,
        c.unviable,
        c.missed,
        c.wakeups_caught,
        c.wakeups,
        started.elapsed()
    );
    stage
}

/// Brings `target/mutants-crates/<stage>/` up to date: the crate made standalone, with its tests
/// and the loom profile, which cargo-mutants mutates in place.
fn prepare(root: &Path, stage: &str) -> PathBuf {
    let crate_dir = root.join("chapters").join(stage);
    let copy = root.join("target").join("mutants-crates").join(stage);
    let options = Standalone {
        written_by: "tests/mutants.rs",
        tests: Tests::Keep,
        profiles: &["loom"],
        build_metadata: None,
    };
    standalone_copy(
        root,
        &root_manifest(root),
        &crate_dir,
        &copy,
        &options,
        |_| Ok(()),
    )
    .unwrap_or_else(|e| panic!("{stage}: {e}"));
    copy
}

/// The unified diff from `previous`'s pool to `stage`'s, file by file, with paths as the copy
/// has them (`a/src/queue.rs`, `b/src/queue.rs`); a file the previous stage lacks is all new.
fn stage_diff(root: &Path, previous: Option<&str>, stage: &str) -> String {
    let mut diff = String::new();
    for file in POOL_FILES {
        let new = root.join("chapters").join(stage).join(file);
        if !new.exists() {
            continue;
        }
        let old = previous
            .map(|p| root.join("chapters").join(p).join(file))
            .filter(|old| old.exists())
            .unwrap_or_else(|| PathBuf::from("/dev/null"));
        let output = Command::new("diff")
            .args([
                "-u",
                "--label",
                &format!("a/{file}"),
                "--label",
                &format!("b/{file}"),
            ])
            .arg(&old)
            .arg(&new)
            .output()
            .expect("diff runs");
        // 0: the same, 1: different, 2: trouble.
        assert!(
            output.status.code() != Some(2),
            "diff failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        diff += &String::from_utf8_lossy(&output.stdout);
    }
    diff
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Pass {
    Tests,
    Models,
}

/// Runs cargo-mutants in `copy` on the mutants of the lines `diff` changes, except `skip`;
/// returns each mutant's name and verdict.
fn mutate(
    tool: &Path,
    root: &Path,
    copy: &Path,
    diff: &Path,
    out: &Path,
    pass: Pass,
    skip: &[String],
) -> Vec<(String, String)> {
    // `--iterate` skips the mutants that `caught.txt` in the output folder names.
    let _ = fs::remove_dir_all(out);
    let listed = out.join("mutants.out");
    fs::create_dir_all(&listed).expect("the output folder");
    let skipped: String = skip.iter().map(|name| format!("{name}\n")).collect();
    fs::write(listed.join("caught.txt"), skipped).expect("caught.txt");
    let target = root.join("target").join("mutants-target").join(match pass {
        Pass::Tests => "tests",
        Pass::Models => "loom",
    });
    // The environment Cargo gets in every copy this workspace builds; cargo-mutants passes it on
    // (and runs the Cargo that `CARGO` names, this test's).
    let mut command = cargo_command_for(tool.as_os_str(), &target);
    command
        .arg("mutants")
        .arg("--dir")
        .arg(copy)
        .arg("--in-place")
        .arg("--in-diff")
        .arg(diff)
        .arg("--iterate")
        .arg("--output")
        .arg(out)
        .args(["--no-shuffle", "--colors=never", "--caught", "--unviable"])
        .env("RUST_BACKTRACE", "0");
    for file in POOL_FILES {
        command.args(["--file", file]);
    }
    match pass {
        Pass::Tests => {
            command.args(["--timeout", &TEST_TIMEOUT.as_secs().to_string()]);
        }
        Pass::Models => {
            command
                .args(["--timeout", &MODEL_TIMEOUT.as_secs().to_string()])
                .args([
                    "--cargo-arg=--profile=loom",
                    "--",
                    "--test",
                    "loom",
                    "--",
                    "--test-threads=1",
                ])
                .env("RUSTFLAGS", "--cfg loom");
        }
    }
    clear_model_env(&mut command);
    command.env_remove("PROPTEST_CASES");
    println!("{pass:?}: {command:?}");
    // cargo-mutants exits non-zero when a mutant is missed: its lists say what happened.
    let status = command.status().expect("cargo-mutants runs");
    let mut verdicts = Vec::new();
    for (list, verdict) in [
        ("caught.txt", "caught"),
        ("missed.txt", "missed"),
        ("timeout.txt", "timeout"),
        ("unviable.txt", "unviable"),
    ] {
        let text = fs::read_to_string(listed.join(list)).unwrap_or_default();
        for name in text.lines().filter(|line| !line.trim().is_empty()) {
            if !skip.iter().any(|s| s == name) {
                verdicts.push((name.to_owned(), verdict.to_owned()));
            }
        }
    }
    assert!(
        !verdicts.is_empty() || !skip.is_empty() || status.success(),
        "cargo-mutants failed in {} ({status}): see {}",
        copy.display(),
        listed.display()
    );
    verdicts
}

/// Deletes each wake-up (`….notify_one();`, `….notify_all();` on a line of its own) among the
/// lines `diff` adds, one at a time, and runs the copy's models on it.
fn delete_wakeups(root: &Path, copy: &Path, diff: &str) -> Vec<Mutant> {
    let mut results = Vec::new();
    for (file, line) in added_lines(diff) {
        let line = line as usize;
        let path = copy.join(&file);
        let original = fs::read_to_string(&path).expect("the pool's file");
        let lines: Vec<&str> = original.lines().collect();
        let text = lines[line - 1].trim();
        let is_wakeup = (text.ends_with(".notify_one();") || text.ends_with(".notify_all();"))
            && !text.starts_with("//");
        if !is_wakeup {
            continue;
        }
        let mut mutated: Vec<&str> = lines.clone();
        mutated.remove(line - 1);
        fs::write(&path, mutated.join("\n") + "\n").expect("write the mutant");
        let verdict = run_models(root, copy);
        fs::write(&path, &original).expect("restore the pool");
        let name = format!("{file}:{line}: delete {}", text.trim_end_matches(';'));
        println!("{name}: {verdict}");
        results.push(Mutant {
            name,
            tests: None,
            models: Some(verdict.to_owned()),
        });
    }
    results
}

/// The copy's loom models, as cargo-mutants runs them in the models pass.
fn run_models(root: &Path, copy: &Path) -> &'static str {
    let mut command = model_command(
        "loom",
        copy,
        &root.join("target").join("mutants-target").join("loom"),
    );
    command.args(["--", "--test-threads=1"]);
    let ran = run_limited(command, MODEL_TIMEOUT).expect("cargo runs");
    if ran.timed_out {
        "timeout"
    } else if ran.success {
        "missed"
    } else if ran.stderr.iter().any(|line| {
        line.starts_with("error[")
            || line.starts_with("error:") && line.contains("could not compile")
    }) {
        "unviable"
    } else {
        "caught"
    }
}

#[test]
fn a_mutant_is_keyed_without_its_place_and_judged_by_its_passes() {
    assert_eq!(
        key("src/queue.rs:207:13: replace += with -= in Queue::push"),
        "src/queue.rs: replace += with -= in Queue::push"
    );
    assert_eq!(
        key("src/queue.rs:207: delete self.room.notify_one()"),
        "src/queue.rs: delete self.room.notify_one()"
    );
    let mutant = |tests: Option<&str>, models: Option<&str>| Mutant {
        name: String::new(),
        tests: tests.map(str::to_owned),
        models: models.map(str::to_owned),
    };
    assert_eq!(mutant(Some("caught"), None).verdict(), Verdict::Tests);
    assert_eq!(mutant(Some("timeout"), None).verdict(), Verdict::Tests);
    assert_eq!(
        mutant(Some("missed"), Some("caught")).verdict(),
        Verdict::Models
    );
    assert_eq!(
        mutant(Some("missed"), Some("missed")).verdict(),
        Verdict::Missed
    );
    assert_eq!(mutant(Some("missed"), None).verdict(), Verdict::Missed);
    assert_eq!(mutant(Some("unviable"), None).verdict(), Verdict::Unviable);
    assert_eq!(mutant(None, Some("missed")).verdict(), Verdict::Missed);
    assert!(mutant(Some("caught"), Some("caught")).needs_a_model());
}
