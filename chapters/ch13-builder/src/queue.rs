//! The pool's own queue, now bounded: the jobs waiting for a worker, behind a `Mutex`; a
//! `Condvar` on which idle workers sleep until a job comes or the queue closes; and a second one
//! on which submitters sleep while the queue is full.
//!
//! Jobs come out in the order they went in; after `close`, the jobs already queued still come
//! out, then `None`.

use std::collections::VecDeque;
use std::sync::PoisonError;

use poolbook_sync::{Condvar, Mutex, MutexGuard};

use crate::pool::{Job, Rejected};

// ANCHOR: queue
/// The jobs waiting for a worker, shared by the pool and its workers.
pub(crate) struct Queue {
    state: Mutex<State>,
    /// Signalled when a job is pushed, or the queue closes: idle workers wait on it.
    job_ready: Condvar,
    /// Signalled when a worker takes a job, or the queue closes: submitters waiting for room wait
    /// on it.
    room: Condvar,
    /// The most jobs that may wait at once.
    capacity: usize,
}

/// Everything the queue's lock protects. `closed` lives here, beside the jobs, so that a worker
/// deciding to sleep and a `close` deciding to wake it cannot interleave (see [`Queue::pop`]).
struct State {
    jobs: VecDeque<Job>,
    closed: bool,
}
// ANCHOR_END: queue

impl Queue {
    /// An open, empty queue with room for `capacity` jobs.
    pub(crate) fn new(capacity: usize) -> Queue {
        Queue {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                closed: false,
            }),
            job_ready: Condvar::new(),
            room: Condvar::new(),
            capacity,
        }
    }

    /// Locks the state. No code panics while holding this lock (jobs run outside it), so a
    /// poisoned lock still guards consistent data and is used as it is.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    // ANCHOR: offer
    /// Queues the job `into_job` makes of `f`, once there is room for it: if the queue is full,
    /// sleeps until a worker makes some when `wait`, and otherwise gives `f` back at once as
    /// [`Rejected::Full`], leaving the queue as it was. Then wakes one sleeping worker to take the
    /// job. A closed queue gives `f` back as [`Rejected::Closed`], even to a submitter that was
    /// waiting for room when it closed.
    pub(crate) fn offer<F>(
        &self,
        f: F,
        wait: bool,
        into_job: impl Fn(F) -> Job,
    ) -> Result<(), Rejected<F>> {
        let mut state = self.lock();
        // A loop, as in `pop`: after every wake-up, look again, closed first, then for room.
        loop {
            if state.closed {
                return Err(Rejected::Closed(f));
            }
            if state.jobs.len() < self.capacity {
                break;
            }
            if !wait {
                return Err(Rejected::Full(f));
            }
            state = self
                .room
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.jobs.push_back(into_job(f));
        // Released before the notification: the worker woken here does not wake straight into
        // a lock that is still held.
        drop(state);
        self.job_ready.notify_one();
        Ok(())
    }
    // ANCHOR_END: offer

    // ANCHOR: pop
    /// Takes the next job, sleeping until there is one; `None` once the queue is closed *and*
    /// empty, which tells the worker to leave.
    pub(crate) fn pop(&self) -> Option<Job> {
        let mut state = self.lock();
        // `while`, not `if`: being woken means "look again", not "there is a job". Another
        // worker may have taken the job between the notification and this thread getting the
        // lock back, and `wait` may return with no notification at all (a spurious wake-up).
        while state.jobs.is_empty() && !state.closed {
            state = self
                .job_ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let job = state.jobs.pop_front();
        drop(state);
        if job.is_some() {
            // One job out, room for one more: wake one submitter waiting for it, if any.
            self.room.notify_one();
        }
        job
    }
    // ANCHOR_END: pop

    /// How many jobs are waiting.
    pub(crate) fn len(&self) -> usize {
        self.lock().jobs.len()
    }

    /// The most jobs that may wait at once.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    // ANCHOR: close
    /// Closes the queue: no job goes in after this; the jobs in it still come out, then `pop`
    /// returns `None`.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        // Every sleeping worker must wake, find the queue closed (once it is empty) and leave,
        // or `drop` waits for it forever; every submitter waiting for room must wake and get its
        // job back: `notify_all`, on both.
        self.job_ready.notify_all();
        self.room.notify_all();
    }
    // ANCHOR_END: close
}
