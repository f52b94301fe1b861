//! Every exercise, checked both ways, with the functions `start` and `check` use.
//!
//! Exercise N is stage N: the reader starts from stage N−1's code with stage N's tests. For each:
//!
//! 1. stage N's tests must **fail** on the starting code: a compile error counts, a failing test
//!    counts; if the tests pass, the loom models run too, and if those pass as well the exercise
//!    asks nothing ("exercise N's tests already pass on the starting code");
//! 2. the same tests must **pass** on stage N's own code in the same copy layout (standalone
//!    manifest, renamed library, the workspace's lock file). The loom models of the reference code
//!    already run in `tests/loom_models.rs`, so they are not run again here.
//!
//! The copies live in `target/exercise-checks/<stage>/{start,reference}` and are updated file by
//! file, so an unchanged exercise is not rebuilt. They build in the same target folders as the
//! reader's copies (`target/exercises`, `target/exercises-loom`), so the dependencies compile
//! once for both; a build-metadata suffix on the version keeps the copies' own artifacts apart.
//! A watchdog turns a hang into a failure. Two exercises are checked at a time: most of a check
//! is spent waiting (for a failing test's watchdog, for a stage's server to stop), and Cargo
//! serialises the builds in a shared target folder anyway.
//!
//! A second test checks each exercise's content: a task with a title, and at least one hint.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use poolbook::check::{Checker, Outcome, Quiet};
use poolbook::exercise::{Code, Exercise, FIRST_EXERCISE, Workbook};
use poolbook::scratch::workspace_root;

/// How long one Cargo command may run (a build, or a test run) before it counts as a hang.
const WATCHDOG: Duration = Duration::from_secs(5 * 60);
/// How many exercises are checked at once.
const AT_ONCE: usize = 2;

#[test]
fn every_exercise_fails_on_its_starting_code_and_passes_on_the_reference() {
    let workbook = Workbook::new(workspace_root());
    let exercises = workbook.exercises().expect("the exercises are found");
    let last = exercises
        .last()
        .expect("the workbook has exercises")
        .number();
    let numbers: Vec<u32> = exercises.iter().map(Exercise::number).collect();
    assert_eq!(
        numbers,
        (FIRST_EXERCISE..=last).collect::<Vec<_>>(),
        "every stage from {FIRST_EXERCISE} on is an exercise"
    );
    let checker =
        Checker::new(workbook.target_dir(), workbook.loom_target_dir()).watchdog(WATCHDOG);

    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let problems = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for _ in 0..AT_ONCE {
            scope.spawn(|| {
                while let Some(exercise) = exercises.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let found = check_both_ways(&workbook, &checker, exercise);
                    problems
                        .lock()
                        .expect("no check panics while holding the lock")
                        .extend(found);
                }
            });
        }
    });
    eprintln!(
        "{} exercises, both ways, took {:.1?}",
        exercises.len(),
        started.elapsed()
    );
    let mut problems = problems.into_inner().expect("the checks are over");
    problems.sort();
    assert!(
        problems.is_empty(),
        "{} problem(s) with the exercises:\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

/// Checks one exercise both ways; returns its problems.
fn check_both_ways(workbook: &Workbook, checker: &Checker, exercise: &Exercise) -> Vec<String> {
    let number = exercise.number();
    let name = exercise.stage().name();
    let dir = workspace_root().join("target/exercise-checks").join(name);
    let shown = format!("target/exercise-checks/{name}");
    let run = |code: Code, loom: bool| -> Result<Outcome, String> {
        let (side, metadata) = match code {
            Code::Start => ("start", "check-start"),
            Code::Reference => ("reference", "check-reference"),
        };
        let copy = dir.join(side);
        exercise
            .write_copy(workbook, code, &copy, Some(metadata))
            .map_err(|e| format!("making the {side} copy: {e}"))?;
        let at = Instant::now();
        let outcome = checker
            .check(&copy, loom, &mut Quiet)
            .map_err(|e| format!("checking the {side} copy: {e}"))?;
        eprintln!(
            "exercise {number}, {side} code: {} in {:.1?}",
            kind(&outcome),
            at.elapsed()
        );
        Ok(outcome)
    };

    let mut problems = Vec::new();
    match run(Code::Start, exercise.has_loom_models()) {
        Err(problem) => problems.push(format!("exercise {number}: {problem}")),
        Ok(outcome @ Outcome::Passed { .. }) => problems.push(format!(
            "exercise {number}'s tests already pass on the starting code (chapters/{}): the \
             exercise asks nothing. {outcome:?}",
            exercise.previous().name()
        )),
        Ok(outcome @ Outcome::TimedOut { .. }) => problems.push(format!(
            "exercise {number}: on the starting code, {}",
            outcome.summary(number, shown.as_ref(), None)
        )),
        Ok(_) => {}
    }
    match run(Code::Reference, false) {
        Err(problem) => problems.push(format!("exercise {number}: {problem}")),
        Ok(Outcome::Passed { .. }) => {}
        Ok(outcome) => problems.push(format!(
            "exercise {number}'s tests fail on the reference code (chapters/{name}) in the \
             exercise's copy layout:\n{}",
            outcome.summary(number, shown.as_ref(), None)
        )),
    }
    problems
}

/// A word for the log: how a check ended.
fn kind(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Passed { .. } => "passed".to_owned(),
        Outcome::CompileError { phase, first, .. } => format!(
            "{phase:?}: compile error ({})",
            first.lines().next().unwrap_or_default()
        ),
        Outcome::TestFailed {
            phase, test, file, ..
        } => format!(
            "{phase:?}: {test} failed ({})",
            file.as_deref().unwrap_or("")
        ),
        Outcome::Failed { phase, .. } => format!("{phase:?} failed"),
        Outcome::Stuck { tests, .. } => format!("stuck in {}", tests.join(", ")),
        Outcome::TimedOut { phase, .. } => format!("{phase:?} timed out"),
    }
}

#[test]
fn every_exercise_has_a_task_and_hints() {
    let workbook = Workbook::new(workspace_root());
    let mut problems = Vec::new();
    for exercise in workbook.exercises().expect("the exercises are found") {
        if let Err(problem) = exercise.task(&workbook) {
            problems.push(problem.to_string());
        }
        if let Err(problem) = exercise.hints(&workbook) {
            problems.push(problem.to_string());
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
