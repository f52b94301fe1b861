//! The pool's own queue: the jobs waiting for a worker, behind a `Mutex`; a `Condvar` on which
//! idle workers sleep until a job comes or the queue closes; a second one on which submitters
//! sleep while the queue is full; a third on which threads in `join` wait for the pool to be
//! idle; and, behind the same lock, the counters the pool's [`Metrics`] are read from.
//!
//! Jobs come out in the order they went in; after `close`, the jobs already queued still come
//! out, then `None`. A job that waited too long comes out to be shed ([`Taken::Shed`]), if the
//! pool sheds ([`Shedding`]).

use std::collections::VecDeque;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

use poolbook_sync::atomic::{AtomicBool, Ordering};
use poolbook_sync::{Condvar, Mutex, MutexGuard, thread};

use crate::pool::{Finished, Job, Metrics, Policy, Rejected, Runner, Shedding, Waited};

// ANCHOR: queue
/// The jobs waiting for a worker, shared by the pool and its workers.
pub(crate) struct Queue {
    state: Mutex<State>,
    /// Signalled when a job is pushed, or the queue closes: idle workers wait on it.
    job_ready: Condvar,
    /// Signalled when a worker takes a job, or the queue closes: submitters waiting for room wait
    /// on it.
    room: Condvar,
    /// Signalled when the pool becomes idle, or a worker exits: `join` and `shutdown` wait on it.
    settled: Condvar,
    /// The most jobs that may wait at once.
    capacity: usize,
    /// Whether there is a job to take or the queue has closed, as of the last change under the
    /// lock: a hint a worker about to sleep watches without the lock (see [`Queue::watch`]).
    worth_a_look: AtomicBool,
    /// When a worker sheds a job instead of running it, if ever.
    shedding: Option<Shedding>,
}

/// Rounds a worker watches an empty queue before sleeping ([`Queue::watch`]). One under loom:
/// the models check the path through the watch without exploring every repetition of it.
const WATCH_ROUNDS: u32 = if cfg!(loom) { 1 } else { 11 };
/// Of those rounds, how many spin (1, 2, 4 … 64 times) before the rest yield the processor.
const SPIN_ROUNDS: u32 = 7;

/// Everything the queue's lock protects. `closed` lives here, beside the jobs, so that a worker
/// deciding to sleep and a `close` deciding to wake it cannot interleave (see [`Queue::next`]).
/// Every counter changes in the same critical section as the event it counts, so a snapshot
/// never sees a job in two states, or in none.
#[derive(Default)]
pub(crate) struct State {
    jobs: VecDeque<Queued>,
    closed: bool,
    /// Worker threads that have not exited.
    alive: usize,
    /// Workers running a job.
    busy_workers: usize,
    /// Submitting threads running a job under [`Policy::CallerRuns`].
    busy_callers: usize,
    accepted: u64,
    completed: u64,
    panicked: u64,
    rejected: u64,
    cancelled: u64,
    shed: u64,
    /// Since when the queue has held at least one job, without a break; `None` while empty.
    nonempty_since: Option<Instant>,
    /// Times a worker went to sleep on `job_ready`.
    sleeps: u64,
    /// Workers waiting on `job_ready`: a push wakes one only if there is one.
    sleeping_workers: usize,
    /// Submitters waiting on `room`: a take wakes one only if there is one.
    blocked_submitters: usize,
    /// Threads in `join` or `shutdown`, waiting on `settled`.
    watchers: usize,
    /// How long the jobs taken by workers had waited.
    waited: Waited,
}

// ANCHOR: queued
/// A job in the queue, with the instant it went in.
struct Queued {
    job: Job,
    since: Instant,
}
// ANCHOR_END: queued

// ANCHOR: taken
/// What `next` hands a worker: a job to run, or one to shed.
pub(crate) enum Taken {
    Run(Job),
    Shed(Job),
}
// ANCHOR_END: taken

impl State {
    // ANCHOR: is-idle
    /// No job is pending: none is queued and none is running. A job is pending from the moment
    /// it is accepted (pushed, under the lock) until it has finished (counted, under the lock);
    /// in between it is always either in `jobs` or counted busy, never neither.
    fn is_idle(&self) -> bool {
        self.jobs.is_empty() && self.busy_workers == 0 && self.busy_callers == 0
    }
    // ANCHOR_END: is-idle

    /// Counts a job that has finished, panicked or not.
    fn count_finished(&mut self, finished: Finished) {
        match finished {
            Finished::Returned => self.completed += 1,
            Finished::Panicked => self.panicked += 1,
            Finished::Shed => self.shed += 1,
        }
    }
}
// ANCHOR_END: queue

impl Queue {
    /// An open, empty queue with room for `capacity` jobs, for `workers` workers, shedding as
    /// `shedding` says.
    pub(crate) fn new(capacity: usize, workers: usize, shedding: Option<Shedding>) -> Queue {
        Queue {
            state: Mutex::new(State {
                alive: workers,
                ..State::default()
            }),
            job_ready: Condvar::new(),
            room: Condvar::new(),
            settled: Condvar::new(),
            capacity,
            worth_a_look: AtomicBool::new(false),
            shedding,
        }
    }

    /// Locks the state. No code panics while holding this lock (jobs run outside it), so a
    /// poisoned lock still guards consistent data and is used as it is.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    // ANCHOR: offer
    /// Queues the job `into_job` makes of `f`, once there is room for it. If the queue is full,
    /// `policy` decides: [`Policy::Block`] sleeps until a worker makes room, and
    /// [`Policy::BlockFor`] too, until its time is up; the others, and `BlockFor` whose time is
    /// up, give `f` back as [`Rejected::Full`], leaving the queue as it was, and count it
    /// rejected ([`Policy::CallerRuns`] will run it, so it is not).
    /// Then wakes one sleeping worker to take the job. A closed queue gives `f` back as
    /// [`Rejected::Closed`], even to a submitter that was waiting for room when it closed.
    pub(crate) fn offer<F>(
        &self,
        f: F,
        policy: Policy,
        into_job: impl Fn(F) -> Job,
    ) -> Result<(), Rejected<F>> {
        let deadline = match policy {
            Policy::BlockFor(patience) => Instant::now().checked_add(patience),
            _ => None,
        };
        let mut state = self.lock();
        // A loop, as in `next`: after every wake-up, look again, closed first, then for room.
        loop {
            if state.closed {
                state.rejected += 1;
                return Err(Rejected::Closed(f));
            }
            if state.jobs.len() < self.capacity {
                break;
            }
            let left = deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
            let waits = match policy {
                Policy::Block => true,
                Policy::BlockFor(_) => left.is_none_or(|left| !left.is_zero()),
                Policy::Reject | Policy::CallerRuns => false,
            };
            if !waits {
                // A job given back for `CallerRuns` to run is not refused.
                state.rejected += u64::from(policy != Policy::CallerRuns);
                return Err(Rejected::Full(f));
            }
            state.blocked_submitters += 1;
            state = match left {
                None => self
                    .room
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(left) => {
                    self.room
                        .wait_timeout(state, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
            state.blocked_submitters -= 1;
        }
        let now = Instant::now();
        state.jobs.push_back(Queued {
            job: into_job(f),
            since: now,
        });
        state.nonempty_since.get_or_insert(now);
        state.accepted += 1;
        self.worth_a_look.store(true, Ordering::Relaxed);
        // `notify_one` is a system call even when nobody waits, so it is only made when the
        // count says someone does. Both are read and written under the lock: no wake-up is lost.
        let wake = state.sleeping_workers > 0;
        drop(state);
        if wake {
            self.job_ready.notify_one();
        }
        Ok(())
    }
    // ANCHOR_END: offer

    // ANCHOR: next
    /// Counts the job this worker just finished, if any, then takes the next job, sleeping until
    /// there is one; `None` once the queue is closed *and* empty, which tells the worker to leave.
    /// A job that waited too long comes as [`Taken::Shed`], counted busy until it is dropped.
    ///
    /// Finishing one job and taking the next are one visit to the lock, so a busy worker still
    /// locks the queue once per job, and its job is never uncounted in between.
    pub(crate) fn next(&self, finished: Option<Finished>) -> Option<Taken> {
        let mut state = self.lock();
        if let Some(finished) = finished {
            state.count_finished(finished);
            state.busy_workers -= 1;
            if state.is_idle() && state.watchers > 0 {
                // This worker's job was the last one pending: `join` may return now.
                self.settled.notify_all();
            }
        }
        if state.jobs.is_empty() && !state.closed {
            // Not asleep yet: watch for a job for a moment first, without the lock.
            drop(state);
            self.watch();
            state = self.lock();
        }
        // `while`, not `if`: being woken means "look again", not "there is a job".
        while state.jobs.is_empty() && !state.closed {
            state.sleeping_workers += 1;
            state.sleeps += 1;
            state = self
                .job_ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.sleeping_workers -= 1;
        }
        let queued = state.jobs.pop_front();
        let job = queued.map(|queued| self.take(&mut state, queued));
        if state.jobs.is_empty() {
            state.nonempty_since = None;
            if !state.closed {
                self.worth_a_look.store(false, Ordering::Relaxed);
            }
        }
        // Taken from the queue and counted busy, or gone, in the same critical section.
        match job {
            Some(_) => state.busy_workers += 1,
            None => {
                state.alive -= 1;
                // `shutdown` waits for the last worker to leave.
                if state.watchers > 0 {
                    self.settled.notify_all();
                }
            }
        }
        // One job out, room for one more: wake one submitter waiting for it, if any.
        let wake = job.is_some() && state.blocked_submitters > 0;
        drop(state);
        if wake {
            self.room.notify_one();
        }
        job
    }
    // ANCHOR_END: next

    // ANCHOR: take
    /// Records how long `queued` waited and decides, by [`Shedding::sheds`], whether it runs.
    /// Called under the lock, as the job leaves the queue, which had held it since then.
    fn take(&self, state: &mut State, queued: Queued) -> Taken {
        let now = Instant::now();
        let wait = now.saturating_duration_since(queued.since);
        state.waited.record(wait);
        let standing = state
            .nonempty_since
            .map_or(Duration::ZERO, |since| now.saturating_duration_since(since));
        match self.shedding {
            Some(shedding) if shedding.sheds(wait, standing) => Taken::Shed(queued.job),
            _ => Taken::Run(queued.job),
        }
    }
    // ANCHOR_END: take

    // ANCHOR: watch
    /// Waits a moment for `worth_a_look`, without the lock: a few rounds of spinning, each twice
    /// as long as the last, then a few of yielding the processor.
    fn watch(&self) {
        for round in 0..WATCH_ROUNDS {
            if self.worth_a_look.load(Ordering::Relaxed) {
                return;
            }
            if round < SPIN_ROUNDS {
                for _ in 0..1 << round {
                    std::hint::spin_loop();
                }
            } else {
                thread::yield_now();
            }
        }
    }
    // ANCHOR_END: watch

    // ANCHOR: run-on-caller
    /// Runs `job` on the calling thread (under [`Policy::CallerRuns`]),
    /// counted as accepted and running while it runs, and as finished after.
    pub(crate) fn run_on_caller(&self, job: Job, runner: &Runner) {
        let mut state = self.lock();
        state.accepted += 1;
        state.busy_callers += 1;
        drop(state);
        // No lock is held while the job runs, on a caller's thread as on a worker's.
        let finished = runner.run(job, None);
        let mut state = self.lock();
        state.count_finished(finished);
        state.busy_callers -= 1;
        if state.is_idle() && state.watchers > 0 {
            self.settled.notify_all();
        }
    }
    // ANCHOR_END: run-on-caller

    // ANCHOR: wait-until
    /// Waits until `done` says the state is settled, or `deadline` passes (never, if `None`).
    /// Returns whether it is settled, and what was left when the deadline passed:
    /// `(running, queued)`.
    pub(crate) fn wait_until(
        &self,
        deadline: Option<Instant>,
        done: impl Fn(&State) -> bool,
    ) -> Result<(), (usize, usize)> {
        let mut state = self.lock();
        // `while`, as everywhere a thread waits: a notification says "look again".
        while !done(&state) {
            let left = deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
            if left.is_some_and(|left| left.is_zero()) {
                return Err((state.busy_workers, state.jobs.len()));
            }
            // Counted while it waits, so that nobody notifies `settled` for nothing.
            state.watchers += 1;
            state = match left {
                None => self
                    .settled
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(left) => {
                    self.settled
                        .wait_timeout(state, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
            state.watchers -= 1;
        }
        Ok(())
    }

    /// Waits until no job is queued or running.
    pub(crate) fn wait_until_idle(&self) {
        // With no deadline, the wait cannot time out.
        let _ = self.wait_until(None, State::is_idle);
    }

    /// Waits until every worker has left its loop, or `deadline` passes: see
    /// [`Queue::wait_until`].
    pub(crate) fn wait_until_exited(
        &self,
        deadline: Option<Instant>,
    ) -> Result<(), (usize, usize)> {
        self.wait_until(deadline, |state| state.alive == 0)
    }
    // ANCHOR_END: wait-until

    // ANCHOR: metrics
    /// A snapshot of the counters, taken in one visit to the lock, so its figures agree.
    pub(crate) fn metrics(&self) -> Metrics {
        let state = self.lock();
        Metrics {
            threads: state.alive,
            queued: state.jobs.len(),
            active: state.busy_workers + state.busy_callers,
            idle: state.alive.saturating_sub(state.busy_workers),
            accepted: state.accepted,
            completed: state.completed,
            panicked: state.panicked,
            rejected: state.rejected,
            cancelled: state.cancelled,
            shed: state.shed,
            sleeps: state.sleeps,
            waited: state.waited,
        }
    }
    // ANCHOR_END: metrics

    /// The most jobs that may wait at once.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    // ANCHOR: close
    /// Closes the queue: no job goes in after this; the jobs in it still come out, then `next`
    /// returns `None`.
    pub(crate) fn close(&self) {
        let state = self.lock();
        self.close_locked(state);
    }

    /// Closes the queue and takes every job still in it, counted as cancelled: workers then
    /// find it closed and empty, and leave once their running jobs end.
    pub(crate) fn close_and_take(&self) -> Vec<Job> {
        let mut state = self.lock();
        let taken: Vec<Job> = state.jobs.drain(..).map(|queued| queued.job).collect();
        state.cancelled += taken.len() as u64;
        state.nonempty_since = None;
        if state.is_idle() && state.watchers > 0 {
            // Taking the queued jobs may have left the pool idle: `join` may return now.
            self.settled.notify_all();
        }
        self.close_locked(state);
        taken
    }

    /// Marks the locked queue closed, releases the lock, and wakes every waiter to find out.
    fn close_locked(&self, mut state: MutexGuard<'_, State>) {
        state.closed = true;
        self.worth_a_look.store(true, Ordering::Relaxed);
        drop(state);
        // Every sleeping worker must wake, find the queue closed (once it is empty) and leave,
        // or `drop` waits for it forever; every submitter waiting for room must wake and get its
        // job back: `notify_all`, on both.
        self.job_ready.notify_all();
        self.room.notify_all();
    }
    // ANCHOR_END: close
}
