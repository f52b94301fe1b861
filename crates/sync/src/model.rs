//! What every loom model in poolbook shares: how it is run, and a count threads can wait on.

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
pub fn check(model: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = builder.preemption_bound.or(Some(PREEMPTION_BOUND));
    builder.check(model);
}
// ANCHOR_END: check

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
