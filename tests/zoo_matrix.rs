//! Which tool catches which bug: every bug of the zoo (see `tests/loom_zoo.rs`) under loom, under
//! shuttle's random and PCT schedulers, as a stress test on real threads, and under clippy's
//! lints. The results are committed data, `book/src/zoo/matrix.json`, and a table rendered from
//! them, `book/src/zoo/matrix.md`, which the model-checking chapter includes.
//!
//! `POOLBOOK_ZOO_MATRIX=write cargo test --test zoo_matrix -- --nocapture` runs every tool on every
//! bug and writes both files; `POOLBOOK_ZOO_MATRIX=check` runs them and fails if a tool no longer
//! catches a bug the committed data says it catches (the stress test aside), writing nothing. Without it, the test checks what is committed: a row for every bug
//! in the zoo and no other, a result for every tool, the table as the data renders it, and the
//! chapter's sentences about the data. `POOLBOOK_ZOO_MATRIX_ONLY=<text>` limits a run to the bugs
//! whose folder contains the text, to try the command out; what it writes then fails the checks.
//!
//! Each bug runs in its patched copy of its crate (`target/loom-zoo-crates/`, as the zoo test
//! makes it), against the model its `bug.toml` names, every tool on the same file:
//!
//! - **loom** (`--cfg loom`): every interleaving up to the models' bound; the preemptions are the
//!   zoo test's, which checks them;
//! - **shuttle** (`--cfg shuttle`), with the random scheduler and then PCT: [`SCHEDULES`] schedules
//!   each, and the number of the first that failed;
//! - **stress** (`--cfg stress`): the model on real threads with std's primitives, again and again,
//!   [`STRESS_RUNS`] times or for [`STRESS_SECONDS`]; a run that never returns is a hang, which
//!   is how a stress test in CI shows a deadlock (a job that times out), and is counted caught;
//! - **lints**: `cargo clippy` with its lints about locks and threads on ([`SYNC_LINTS`]), on the
//!   patched copy; a lint counts when it points at a line the bug's patch added.
//!
//! Times are wall-clock seconds of the run that caught the bug (or of the whole budget), test
//! binary start included: a figure to compare tools with, measured here, not a promise.

// Shared with the zoo's and the steps' tests, which use the parts this test does not.
#[allow(dead_code, unused_imports, unused_macros)]
mod support;
#[allow(dead_code)]
mod zoo;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use poolbook::check::run_limited;
use poolbook::scratch::cargo_command;
use serde::{Deserialize, Serialize};

use support::{added_lines, list, root_manifest, thousands, workspace_root};
use zoo::{BUG_PATCH, Bug, BugSpec, Caught, discover_bugs, parse_bug_toml, prepare_scratch};

/// The committed data, from the workspace's root.
const DATA: &str = "book/src/zoo/matrix.json";
/// The table rendered from it, which the chapter includes.
const TABLE: &str = "book/src/zoo/matrix.md";
/// A failing shuttle run and its replay, which the chapter includes.
const REPLAY: &str = "book/src/zoo/replay.md";
/// The bug whose failing shuttle schedule the chapter replays: the `if` that should be a `while`.
const REPLAYED: &str = "chapters/ch09-condvar-queue/bugs/01-if-instead-of-while";
/// The chapter that shows the table and says what it means.
const CHAPTER: &str = "book/src/model-checking.md";

/// Schedules shuttle tries per bug, with each scheduler.
const SCHEDULES: u64 = 1000;
/// Runs of a stress test, at most.
const STRESS_RUNS: u64 = 10_000;
/// Seconds a stress test may run, at most.
const STRESS_SECONDS: u64 = 10;
/// How much longer than its budget a stress test may take before it counts as hung: starting
/// the binary, and the last run.
const HANG_GRACE: Duration = Duration::from_secs(20);
/// How long loom or shuttle may take on one bug before the matrix gives up on it.
const CHECKER_LIMIT: Duration = Duration::from_secs(600);
/// clippy's lints about locks and sharing between threads, each turned on (some are off by
/// default): the ones that could speak to a bug of the zoo. A style lint that happens to point at
/// a line a bug added says nothing about the bug, so no other lint counts.
const SYNC_LINTS: [&str; 8] = [
    "clippy::significant_drop_in_scrutinee",
    "clippy::significant_drop_tightening",
    "clippy::let_underscore_lock",
    "clippy::mutex_atomic",
    "clippy::mutex_integer",
    "clippy::await_holding_lock",
    "clippy::arc_with_non_send_sync",
    "clippy::readonly_write_lock",
];

// ANCHOR: data
/// Every bug under every tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Matrix {
    /// The command that wrote this.
    command: String,
    /// Schedules shuttle tried per bug, with each scheduler.
    schedules: u64,
    /// A stress test's budget: runs, and seconds.
    stress_runs: u64,
    stress_seconds: u64,
    /// One row per bug, in the zoo's order.
    bugs: Vec<Row>,
    /// [`REPLAYED`]'s failing schedule under shuttle's random scheduler, replayed.
    replay: Replay,
}

/// A failing schedule, and what running it again did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Replay {
    bug: String,
    model: String,
    /// The schedule, as shuttle printed it.
    schedule: String,
    /// How the run that found it failed: its panic message.
    failed: String,
    /// How the replay failed: the same, if the replay is faithful.
    replayed: String,
}

/// One bug, and what each tool made of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Row {
    /// `chapters/<stage>/bugs/<bug>`.
    bug: String,
    title: String,
    /// The model that must catch it.
    model: String,
    loom: Outcome,
    shuttle_random: Outcome,
    shuttle_pct: Outcome,
    stress: Outcome,
    lints: Lints,
}

/// What one checker did with one bug.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Outcome {
    /// `deadlock`, `panic` or `hang` when caught; `missed` when the budget ran out first.
    how: String,
    /// loom: the fewest preemptions it needs; shuttle: the schedule that failed, or every one
    /// tried; stress: the run that failed, or every one made (for a hang, none is known).
    tries: Option<u64>,
    /// Wall-clock seconds of the run.
    seconds: f64,
}

/// What clippy said about the lines the bug added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Lints {
    /// Each warning on an added line: `clippy::<lint> at <file>:<line>`.
    warnings: Vec<String>,
}
// ANCHOR_END: data

impl Outcome {
    fn caught(&self) -> bool {
        self.how != "missed"
    }
}

impl Row {
    /// Every tool's verdict, in the table's order: loom, shuttle random, shuttle PCT, stress,
    /// lints.
    fn verdicts(&self) -> [bool; 5] {
        [
            self.loom.caught(),
            self.shuttle_random.caught(),
            self.shuttle_pct.caught(),
            self.stress.caught(),
            !self.lints.warnings.is_empty(),
        ]
    }
}

#[test]
fn the_matrix_covers_the_zoo_and_the_chapter_says_what_it_shows() {
    let root = workspace_root();
    let mode = std::env::var("POOLBOOK_ZOO_MATRIX").unwrap_or_default();
    let fresh = matches!(mode.as_str(), "write" | "check").then(|| measure(&root));
    if let (Some(matrix), "write") = (&fresh, mode.as_str()) {
        let json = serde_json::to_string_pretty(matrix).expect("the matrix serializes") + "\n";
        fs::create_dir_all(root.join(DATA).parent().expect("a folder")).expect("book/src/zoo");
        fs::write(root.join(DATA), json).expect("write the data");
        fs::write(root.join(TABLE), render(matrix)).expect("write the table");
        fs::write(root.join(REPLAY), render_replay(&matrix.replay)).expect("write the replay");
        println!("wrote {DATA}, {TABLE} and {REPLAY}");
    }
    let matrix: Matrix = serde_json::from_str(
        &fs::read_to_string(root.join(DATA))
            .unwrap_or_else(|e| panic!("{DATA}: {e}; write it with POOLBOOK_ZOO_MATRIX=write")),
    )
    .unwrap_or_else(|e| panic!("{DATA} does not parse: {e}"));

    let mut problems = Vec::new();
    let zoo: Vec<String> = discover_bugs(&root, &mut problems)
        .iter()
        .map(|bug| bug.krate.clone() + "/bugs/" + &bug.name)
        .collect();
    assert!(problems.is_empty(), "{problems:?}");
    if let (Some(fresh), "check") = (&fresh, mode.as_str()) {
        let lost = no_longer_caught(&matrix, fresh);
        assert!(
            lost.is_empty(),
            "tools that caught a bug in {DATA} no longer do:\n{}",
            lost.join("\n")
        );
    }
    let rows: Vec<String> = matrix.bugs.iter().map(|row| row.bug.clone()).collect();
    assert_eq!(
        rows, zoo,
        "the matrix must have a row for every bug in the zoo, in order: run it again"
    );
    for row in &matrix.bugs {
        assert!(
            row.loom.caught(),
            "{}: loom catches every bug in the zoo (tests/loom_zoo.rs)",
            row.bug
        );
    }
    let table = fs::read_to_string(root.join(TABLE)).expect("the table");
    assert_eq!(table, render(&matrix), "{TABLE} is not what {DATA} renders");
    assert_eq!(matrix.replay.bug, REPLAYED);
    assert!(
        !matrix.replay.failed.is_empty() && matrix.replay.replayed == matrix.replay.failed,
        "the replay fails as the run that found the schedule did: {:?}",
        matrix.replay
    );
    assert_eq!(
        fs::read_to_string(root.join(REPLAY)).expect("the replay"),
        render_replay(&matrix.replay),
        "{REPLAY} is not what {DATA} renders"
    );
    let chapter = fs::read_to_string(root.join(CHAPTER)).expect("the chapter");
    let chapter = chapter.split_whitespace().collect::<Vec<_>>().join(" ");
    for sentence in claims(&matrix) {
        assert!(
            chapter.contains(&sentence),
            "{CHAPTER} should say: {sentence:?}"
        );
    }
    for file in ["{{#include zoo/matrix.md}}", "{{#include zoo/replay.md}}"] {
        assert!(chapter.contains(file), "{CHAPTER} includes {file}");
    }
}

/// The bugs a tool caught in `committed` and misses in `fresh`, for the tools whose verdict does
/// not depend on the operating system's scheduling: loom, shuttle (its schedules are random, but
/// a bug it caught within a few dozen of a thousand is found again), and the lints. The stress
/// test is left out: which bugs it catches changes from run to run, which is the point the
/// chapter makes about it.
fn no_longer_caught(committed: &Matrix, fresh: &Matrix) -> Vec<String> {
    const TOOLS: [&str; 5] = ["loom", "shuttle random", "shuttle PCT", "stress", "lints"];
    let mut lost = Vec::new();
    for old in &committed.bugs {
        let Some(new) = fresh.bugs.iter().find(|row| row.bug == old.bug) else {
            lost.push(format!("{}: not run", old.bug));
            continue;
        };
        for (tool, (was, is)) in TOOLS
            .iter()
            .zip(old.verdicts().into_iter().zip(new.verdicts()))
        {
            if *tool != "stress" && was && !is {
                lost.push(format!("{}: {tool}", old.bug));
            }
        }
    }
    lost
}

// ANCHOR: claims
/// The sentences the chapter must contain, with the figures the data gives.
fn claims(matrix: &Matrix) -> Vec<String> {
    let count = |tool: usize| {
        matrix
            .bugs
            .iter()
            .filter(|row| row.verdicts()[tool])
            .count()
    };
    let hangs = matrix
        .bugs
        .iter()
        .filter(|row| row.stress.how == "hang")
        .count();
    let only_loom: Vec<String> = matrix
        .bugs
        .iter()
        .filter(|row| row.verdicts()[1..].iter().all(|caught| !caught))
        .map(|row| format!("`{}`", short(&row.bug)))
        .collect();
    vec![
        format!(
            "Of the zoo's {} bugs, loom catches all {0}; shuttle's random scheduler catches {} \
             and PCT {} within {} schedules each; the stress test catches {} ({} of them by \
             hanging) within {} runs or {} seconds; clippy's lints flag {}.",
            matrix.bugs.len(),
            count(1),
            count(2),
            thousands(matrix.schedules),
            count(3),
            hangs,
            thousands(matrix.stress_runs),
            matrix.stress_seconds,
            count(4),
        ),
        if only_loom.is_empty() {
            "Every bug is caught by some tool besides loom.".to_owned()
        } else {
            format!("Only loom catches {}.", list(&only_loom))
        },
        match missed(matrix, |row| !row.verdicts()[1] && !row.verdicts()[2]).as_slice() {
            [] => "shuttle misses no bug with either scheduler.".to_owned(),
            bugs => format!("With both schedulers, shuttle misses {}.", list(bugs)),
        },
        match missed(matrix, |row| !row.verdicts()[3]).as_slice() {
            [] => "The stress test misses none.".to_owned(),
            bugs => format!("The stress test misses {}.", list(bugs)),
        },
    ]
}
// ANCHOR_END: claims

/// The bugs for which `missed` holds, as the chapter names them.
fn missed(matrix: &Matrix, missed: impl Fn(&Row) -> bool) -> Vec<String> {
    matrix
        .bugs
        .iter()
        .filter(|row| missed(row))
        .map(|row| format!("`{}`", short(&row.bug)))
        .collect()
}

/// `chapters/ch05-shared-queue/bugs/01-lock-held-during-job` as `ch05/01-lock-held-during-job`.
fn short(bug: &str) -> String {
    let mut parts = bug.split('/');
    let krate = parts.nth(1).unwrap_or(bug);
    let name = bug.rsplit('/').next().unwrap_or(bug);
    let stage = krate.split('-').next().unwrap_or(krate);
    format!("{stage}/{name}")
}

/// Seconds as the table shows them: milliseconds below one.
fn duration(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{:.0} ms", seconds * 1000.0)
    } else {
        format!("{seconds:.1} s")
    }
}

/// The table the chapter includes.
fn render(matrix: &Matrix) -> String {
    let mut out = "<!-- Written by `POOLBOOK_ZOO_MATRIX=write cargo test --test zoo_matrix` from \
         matrix.json: do not edit by hand. -->\n\n\
         | bug | loom: preemptions (time) | shuttle random: schedule | shuttle PCT: schedule | stress: run | clippy |\n\
         | :-- | --: | --: | --: | --: | :-- |\n"
        .to_owned();
    let checker = |outcome: &Outcome| {
        let time = duration(outcome.seconds);
        match (outcome.how.as_str(), outcome.tries) {
            ("missed", _) => format!("missed ({time})"),
            ("hang", _) => format!("hang ({time})"),
            (_, Some(tries)) => format!("{} ({time})", thousands(tries)),
            (how, None) => format!("{how} ({time})"),
        }
    };
    for row in &matrix.bugs {
        let lints = if row.lints.warnings.is_empty() {
            "—".to_owned()
        } else {
            let names: BTreeSet<&str> = row
                .lints
                .warnings
                .iter()
                .filter_map(|warning| warning.split(' ').next())
                .collect();
            names
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out += &format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            short(&row.bug),
            row.loom.tries.map_or("-".to_owned(), |n| format!(
                "{n} ({})",
                duration(row.loom.seconds)
            )),
            checker(&row.shuttle_random),
            checker(&row.shuttle_pct),
            checker(&row.stress),
            lints
        );
    }
    out += &format!(
        "\nshuttle: {} schedules per scheduler, PCT at depth 3. Stress: at most {} runs or {} s on \
         real threads; a hang is a run that had not returned {} s after the budget. A number is \
         the schedule or run that failed; a time is the wall-clock time of the run that caught \
         the bug, or spent the budget, test binary start (some tens of milliseconds) included. \
         clippy: its lints about locks and threads, counted when one points at a line the bug \
         added.\n",
        thousands(matrix.schedules),
        thousands(matrix.stress_runs),
        matrix.stress_seconds,
        HANG_GRACE.as_secs()
    );
    out
}

/// Runs every tool on every bug.
fn measure(root: &Path) -> Matrix {
    let mut problems = Vec::new();
    let bugs = discover_bugs(root, &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    let manifest = root_manifest(root);
    // For trying the command on a few bugs: the partial matrix it writes fails the checks.
    let only = std::env::var("POOLBOOK_ZOO_MATRIX_ONLY").unwrap_or_default();
    let mut rows = Vec::new();
    let mut replay = None;
    for bug in &bugs {
        let id = format!("{}/bugs/{}", bug.krate, bug.name);
        if !id.contains(&only) {
            continue;
        }
        let toml = fs::read_to_string(bug.dir.join("bug.toml")).expect("bug.toml");
        let spec = parse_bug_toml(&toml).unwrap_or_else(|e| panic!("{id}: {e}"));
        let title = toml::from_str::<toml::Table>(&toml).expect("parsed")["title"]
            .as_str()
            .expect("a title")
            .to_owned();
        let patch = fs::read_to_string(bug.dir.join(BUG_PATCH.name)).expect("bug.patch");
        let patched = BUG_PATCH
            .patched_files(&patch)
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        let copy =
            prepare_scratch(root, &manifest, bug, &patched).unwrap_or_else(|e| panic!("{id}: {e}"));
        if id == REPLAYED {
            replay = Some(replay_schedule(root, &copy, &id, &spec));
        }
        let row = Row {
            bug: id.clone(),
            title,
            model: spec.model.clone(),
            loom: loom(root, &copy, &spec),
            shuttle_random: shuttle(root, &copy, &spec, "random"),
            shuttle_pct: shuttle(root, &copy, &spec, "pct"),
            stress: stress(root, &copy, &spec),
            lints: lints(root, &copy, bug),
        };
        println!(
            "{id}: loom {:?}, random {:?}, pct {:?}, stress {:?}, lints {:?}",
            row.loom, row.shuttle_random, row.shuttle_pct, row.stress, row.lints.warnings
        );
        rows.push(row);
    }
    Matrix {
        command: "POOLBOOK_ZOO_MATRIX=write cargo test --test zoo_matrix -- --nocapture".to_owned(),
        schedules: SCHEDULES,
        stress_runs: STRESS_RUNS,
        stress_seconds: STRESS_SECONDS,
        bugs: rows,
        replay: replay.unwrap_or_else(|| panic!("{REPLAYED} was not run")),
    }
}

// ANCHOR: replay
/// Runs `spec`'s model under shuttle's random scheduler until it fails, takes the schedule it
/// printed, and runs the model again with `POOLBOOK_SHUTTLE_REPLAY` set to it.
fn replay_schedule(root: &Path, copy: &Path, id: &str, spec: &BugSpec) -> Replay {
    let env = [
        ("POOLBOOK_SHUTTLE_SCHEDULER", "random".to_owned()),
        ("POOLBOOK_SHUTTLE_ITERATIONS", SCHEDULES.to_string()),
    ];
    let (failed, text, _, _) = run(root, copy, "shuttle", &spec.model, &env, CHECKER_LIMIT);
    assert!(
        failed,
        "{id}: shuttle did not fail, so there is no schedule to replay"
    );
    // shuttle prints `failing schedule:`, then the schedule in quotes, over several lines.
    let schedule: String = text
        .split("failing schedule:")
        .nth(1)
        .and_then(|rest| rest.split('"').nth(1))
        .unwrap_or_else(|| panic!("{id}: no failing schedule in:\n{text}"))
        .split_whitespace()
        .collect();
    let env = [("POOLBOOK_SHUTTLE_REPLAY", schedule.clone())];
    let (again, replayed, _, _) = run(root, copy, "shuttle", &spec.model, &env, CHECKER_LIMIT);
    assert!(again, "{id}: the replay passed");
    Replay {
        bug: id.to_owned(),
        model: spec.model.clone(),
        schedule,
        failed: failure(&text),
        replayed: failure(&replayed),
    }
}

/// The line that says how a shuttle run failed: a deadlock's list of blocked tasks, or the
/// first panic's message (the line after `panicked at`).
fn failure(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if let Some(deadlock) = lines.iter().find(|line| line.starts_with("deadlock!")) {
        return (*deadlock).to_owned();
    }
    lines
        .iter()
        .position(|line| line.contains("panicked at"))
        .and_then(|at| lines.get(at + 1))
        .map_or_else(String::new, |message| (*message).to_owned())
}

/// The commands and what they print, as the chapter shows them.
fn render_replay(replay: &Replay) -> String {
    let command = |env: &str| {
        format!(
            "$ {env}RUSTFLAGS=\"--cfg shuttle\" cargo test --profile loom --test loom -- {} --exact",
            replay.model
        )
    };
    format!(
        "<!-- Written by `POOLBOOK_ZOO_MATRIX=write cargo test --test zoo_matrix` from \
         matrix.json: do not edit by hand. -->\n\n```console\n{}\n…\nfailing schedule:\n\"\n{}\n\"\n…\n{}\n{}\n…\n{}\n```\n",
        command("POOLBOOK_SHUTTLE_SCHEDULER=random "),
        replay.schedule,
        replay.failed,
        command(&format!("POOLBOOK_SHUTTLE_REPLAY={} ", replay.schedule)),
        replay.replayed
    )
}
// ANCHOR_END: replay

/// [`support::model_command`] in `copy` for `checker`, in `target/<checker>`, with `env`.
fn model_command(root: &Path, copy: &Path, checker: &str, env: &[(&str, String)]) -> Command {
    let mut command = support::model_command(checker, copy, &root.join("target").join(checker));
    command.envs(env.iter().map(|(var, value)| (*var, value)));
    command
}

/// Builds the copy's models for `checker`, then runs `model` alone; returns whether it failed,
/// everything it printed, whether it was killed at `limit`, and how long the run took.
fn run(
    root: &Path,
    copy: &Path,
    checker: &str,
    model: &str,
    env: &[(&str, String)],
    limit: Duration,
) -> (bool, String, bool, f64) {
    let mut build = model_command(root, copy, checker, env);
    build.arg("--no-run");
    let built = run_limited(build, CHECKER_LIMIT).expect("cargo runs");
    assert!(
        built.success,
        "{} ({checker}) does not build:\n{}",
        copy.display(),
        built.stderr.join("\n")
    );
    let mut command = model_command(root, copy, checker, env);
    command.args(["--", model, "--exact"]);
    let start = Instant::now();
    let ran = run_limited(command, limit).expect("cargo runs");
    let seconds = start.elapsed().as_secs_f64();
    let text = [ran.stdout.join("\n"), ran.stderr.join("\n")].join("\n");
    (!ran.success, text, ran.timed_out, seconds)
}

/// How a failed run of a model ended, in the zoo's words.
fn how(text: &str) -> &'static str {
    if text.contains("deadlock") {
        "deadlock"
    } else {
        "panic"
    }
}

/// The number after `prefix` in the line of `text` that has it.
fn number_after(text: &str, prefix: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.split(prefix).nth(1))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
}

fn loom(root: &Path, copy: &Path, spec: &BugSpec) -> Outcome {
    let (failed, text, timed_out, seconds) =
        run(root, copy, "loom", &spec.model, &[], CHECKER_LIMIT);
    assert!(!timed_out, "{}: loom ran out of time", copy.display());
    let declared = match &spec.caught {
        Caught::Deadlock => "deadlock",
        Caught::Panic(_) => "panic",
    };
    Outcome {
        how: if failed { declared } else { "missed" }.to_owned(),
        tries: failed.then_some(spec.preemptions as u64),
        seconds,
    }
    .checked(&text, failed)
}

fn shuttle(root: &Path, copy: &Path, spec: &BugSpec, scheduler: &str) -> Outcome {
    let env = [
        ("POOLBOOK_SHUTTLE_SCHEDULER", scheduler.to_owned()),
        ("POOLBOOK_SHUTTLE_ITERATIONS", SCHEDULES.to_string()),
    ];
    let (failed, text, timed_out, seconds) =
        run(root, copy, "shuttle", &spec.model, &env, CHECKER_LIMIT);
    assert!(!timed_out, "{}: shuttle ran out of time", copy.display());
    let failing = number_after(&text, "shuttle: schedule ");
    Outcome {
        how: if failed { how(&text) } else { "missed" }.to_owned(),
        tries: if failed { failing } else { Some(SCHEDULES) },
        seconds,
    }
    .checked(&text, failed)
}

fn stress(root: &Path, copy: &Path, spec: &BugSpec) -> Outcome {
    let env = [
        ("POOLBOOK_STRESS_RUNS", STRESS_RUNS.to_string()),
        ("POOLBOOK_STRESS_SECONDS", STRESS_SECONDS.to_string()),
    ];
    let limit = Duration::from_secs(STRESS_SECONDS) + HANG_GRACE;
    let (failed, text, timed_out, seconds) = run(root, copy, "stress", &spec.model, &env, limit);
    if timed_out {
        return Outcome {
            how: "hang".to_owned(),
            tries: None,
            seconds,
        };
    }
    let tries = if failed {
        number_after(&text, "stress: run ")
    } else {
        number_after(&text, "stress: ")
            .or_else(|| number_after(&text, "stress: all "))
            .or(Some(STRESS_RUNS))
    };
    Outcome {
        how: if failed { "panic" } else { "missed" }.to_owned(),
        tries,
        seconds,
    }
    .checked(&text, failed)
}

impl Outcome {
    /// A failed run must be the model failing, not the build or the harness: its output says
    /// which test failed.
    fn checked(self, text: &str, failed: bool) -> Outcome {
        assert!(
            !failed
                || text.contains("FAILED")
                || text.contains("deadlock")
                || text.contains("panicked"),
            "a failure that is not the model's:\n{text}"
        );
        self
    }
}

// ANCHOR: lints
/// clippy, with [`SYNC_LINTS`] on, on the patched copy: the warnings of those lints that point at
/// a line the bug's patch added.
fn lints(root: &Path, copy: &Path, bug: &Bug) -> Lints {
    let added = added_lines(&fs::read_to_string(bug.dir.join("bug.patch")).expect("bug.patch"));
    let mut command = cargo_command(&root.join("target").join("clippy-zoo"));
    command
        .args([
            "clippy",
            "--message-format=json",
            "--lib",
            "--",
            "--cap-lints",
            "warn",
        ])
        .current_dir(copy);
    for lint in SYNC_LINTS {
        command.args(["-W", lint]);
    }
    let output = run_limited(command, CHECKER_LIMIT).expect("cargo clippy runs");
    let mut warnings = BTreeSet::new();
    for line in &output.stdout {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let Some(diagnostic) = message.get("message") else {
            continue;
        };
        let Some(code) = diagnostic["code"]["code"].as_str() else {
            continue;
        };
        if !SYNC_LINTS.contains(&code) {
            continue;
        }
        for span in diagnostic["spans"].as_array().into_iter().flatten() {
            let (Some(file), Some(line)) =
                (span["file_name"].as_str(), span["line_start"].as_u64())
            else {
                continue;
            };
            if span["is_primary"].as_bool() == Some(true)
                && added.contains(&(file.to_owned(), line))
            {
                warnings.insert(format!("{code} at {file}:{line}"));
            }
        }
    }
    Lints {
        warnings: warnings.into_iter().collect(),
    }
}

// ANCHOR_END: lints

#[test]
fn the_added_lines_of_a_patch_are_numbered_as_in_the_new_file() {
    let patch = "--- a/src/q.rs\n+++ b/src/q.rs\n@@ -10,3 +10,4 @@\n a\n-b\n+c\n+d\n e\n";
    let added: Vec<(String, u64)> = added_lines(patch).into_iter().collect();
    assert_eq!(
        added,
        [("src/q.rs".to_owned(), 11), ("src/q.rs".to_owned(), 12)]
    );
    assert_eq!(thousands(10_000), "10,000");
    assert_eq!(thousands(999), "999");
    assert_eq!(
        short("chapters/ch05-shared-queue/bugs/01-lock-held-during-job"),
        "ch05/01-lock-held-during-job"
    );
    assert_eq!(short("crates/sync/bugs/02-x"), "sync/02-x");
    let names = ["`a`".to_owned(), "`b`".to_owned(), "`c`".to_owned()];
    assert_eq!(list(&names), "`a`, `b` and `c`");
}
