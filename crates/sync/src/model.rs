//! What every model in poolbook shares: how it is run (by loom, by shuttle, or again and again on
//! real threads as a stress test), and a count threads can wait on.

use std::sync::PoisonError;

use crate::{Condvar, Mutex};

/// A counter that threads increment and wait on.
#[derive(Debug, Default)]
pub struct Tally {
    count: Mutex<usize>,
    changed: Condvar,
}

impl Tally {
    /// A tally at zero.
    pub fn new() -> Tally {
        Tally::default()
    }

    /// Adds one and wakes every waiter.
    pub fn add(&self) {
        *self.count.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.changed.notify_all();
    }

    /// The current count.
    pub fn get(&self) -> usize {
        *self.count.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until the count is at least `n`.
    pub fn wait_for(&self, n: usize) {
        let mut count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        while *count < n {
            count = self
                .changed
                .wait(count)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

// ANCHOR: check
/// How many times loom may preempt a thread in one explored execution. Bound 1 lets five of the
/// zoo's bugs through and bound 2 none (the hardest need two); 3 keeps a margin over every bug in
/// the zoo and still explores a two-worker pool in well under a second.
pub const PREEMPTION_BOUND: usize = 3;

/// Explores every interleaving of `model` up to [`PREEMPTION_BOUND`] preemptions, or as many as
/// loom's own `LOOM_MAX_PREEMPTIONS` says, when it is set: `LOOM_MAX_PREEMPTIONS=1` shows what a
/// smaller bound would miss.
///
/// # Panics
///
/// When `model` panics in some interleaving (an assertion failed), with that interleaving's
/// panic; a deadlock (every thread blocked) is a `deadlock; threads = …` panic, then an abort.
#[cfg(loom)]
pub fn check(model: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = builder.preemption_bound.or(Some(PREEMPTION_BOUND));
    builder.check(model);
}
// ANCHOR_END: check

// ANCHOR: shuttle-check
/// How many schedules shuttle tries per model, unless `POOLBOOK_SHUTTLE_ITERATIONS` says.
pub const SHUTTLE_ITERATIONS: usize = 1000;

/// The depth PCT looks for bugs at: the number of ordering constraints a bug needs, here as
/// deep as [`PREEMPTION_BOUND`] lets loom look.
pub const PCT_DEPTH: usize = PREEMPTION_BOUND;

/// Runs `model` under shuttle: [`SHUTTLE_ITERATIONS`] schedules (or `POOLBOOK_SHUTTLE_ITERATIONS`),
/// chosen by the scheduler `POOLBOOK_SHUTTLE_SCHEDULER` names: `random` (the default), each step
/// a coin toss among the runnable threads, or `pct`, Probabilistic Concurrency Testing, which
/// gives threads random priorities and changes them at [`PCT_DEPTH`] random points.
///
/// # Panics
///
/// When `model` panics in some schedule, or deadlocks, after printing the failing schedule and
/// how many schedules it took to find; and on a scheduler or iteration count it cannot read.
/// With `POOLBOOK_SHUTTLE_REPLAY` set to a schedule a failing run printed, runs that schedule
/// alone, which fails the same way every time (`shuttle::replay`).
#[cfg(all(shuttle, not(loom)))]
pub fn check(model: impl Fn() + Sync + Send + 'static) {
    use std::sync::atomic::{AtomicUsize, Ordering};

    // A schedule that a failing run printed: run exactly that one again.
    if let Ok(schedule) = std::env::var("POOLBOOK_SHUTTLE_REPLAY") {
        shuttle::replay(model, &schedule);
        return;
    }
    let iterations = count_from_env("POOLBOOK_SHUTTLE_ITERATIONS", SHUTTLE_ITERATIONS);
    // std's atomic, not shuttle's: counting the schedules is not part of what is explored.
    let tried = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&tried);
    let counted = move || {
        counter.fetch_add(1, Ordering::Relaxed);
        model();
    };
    let scheduler = std::env::var("POOLBOOK_SHUTTLE_SCHEDULER");
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        match scheduler.as_deref() {
            Ok("random") | Err(_) => shuttle::check_random(counted, iterations),
            Ok("pct") => shuttle::check_pct(counted, iterations, PCT_DEPTH),
            Ok(other) => panic!("POOLBOOK_SHUTTLE_SCHEDULER={other}: `random` or `pct`"),
        }
    }));
    if let Err(panic) = run {
        eprintln!(
            "shuttle: schedule {} of {iterations} failed",
            tried.load(Ordering::Relaxed)
        );
        std::panic::resume_unwind(panic);
    }
}
// ANCHOR_END: shuttle-check

// ANCHOR: stress-check
/// How many times a stress run repeats a model on real threads, unless `POOLBOOK_STRESS_RUNS`
/// says.
pub const STRESS_RUNS: usize = 10_000;

/// How long a stress run may take at most, in seconds, unless `POOLBOOK_STRESS_SECONDS` says.
pub const STRESS_SECONDS: usize = 10;

/// Runs `model` on real threads, with std's primitives, again and again: [`STRESS_RUNS`] times
/// or for [`STRESS_SECONDS`], whichever ends first. What most projects' tests of a pool do: the
/// operating system's scheduler picks the interleavings, and nobody knows which it tried.
///
/// # Panics
///
/// When a run of `model` panics, after saying which run it was. A run that deadlocks never
/// returns: whoever started the run must time it out.
#[cfg(all(stress, not(any(loom, shuttle))))]
pub fn check(model: impl Fn() + Sync + Send + 'static) {
    let runs = count_from_env("POOLBOOK_STRESS_RUNS", STRESS_RUNS);
    let seconds = count_from_env("POOLBOOK_STRESS_SECONDS", STRESS_SECONDS);
    let cap = std::time::Duration::from_secs(seconds as u64);
    let start = std::time::Instant::now();
    for run in 1..=runs {
        if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&model)) {
            eprintln!("stress: run {run} of at most {runs} failed");
            std::panic::resume_unwind(panic);
        }
        if start.elapsed() >= cap {
            eprintln!("stress: {run} runs passed before the {seconds} s cap");
            return;
        }
    }
    eprintln!("stress: all {runs} runs passed");
}
// ANCHOR_END: stress-check

/// The count in the environment variable `name`, or `default` when it is not set.
///
/// # Panics
///
/// When it is set to something other than a count.
#[cfg(any(shuttle, stress))]
fn count_from_env(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(count) => count
            .parse()
            .unwrap_or_else(|_| panic!("{name}={count} is not a count")),
        Err(_) => default,
    }
}
