//! What every model in poolbook shares: how it is run (by loom, or by shuttle), and a count
//! threads can wait on.

use std::sync::PoisonError;

use crate::{Condvar, Mutex};

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
/// When `model` panics in some schedule, or deadlocks, after printing the failing schedule, which
/// `shuttle::replay` runs again; and on a scheduler or iteration count it cannot read.
#[cfg(all(shuttle, not(loom)))]
pub fn check(model: impl Fn() + Sync + Send + 'static) {
    let iterations = match std::env::var("POOLBOOK_SHUTTLE_ITERATIONS") {
        Ok(count) => count
            .parse()
            .unwrap_or_else(|_| panic!("POOLBOOK_SHUTTLE_ITERATIONS={count} is not a count")),
        Err(_) => SHUTTLE_ITERATIONS,
    };
    match std::env::var("POOLBOOK_SHUTTLE_SCHEDULER").as_deref() {
        Ok("random") | Err(_) => shuttle::check_random(model, iterations),
        Ok("pct") => shuttle::check_pct(model, iterations, PCT_DEPTH),
        Ok(other) => panic!("POOLBOOK_SHUTTLE_SCHEDULER={other}: `random` or `pct`"),
    }
}
// ANCHOR_END: shuttle-check

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
