//! A channel with std's `mpsc` contract, built from a `Mutex`, a `Condvar`, a queue, a count of
//! senders and a flag for the receiver.
//!
//! It exists so that loom can check pools that shut down by dropping their sender (see the crate
//! documentation). The contract, the same as `std::sync::mpsc`'s:
//!
//! - `recv` returns queued messages in order, and returns `Err(RecvError)` only when the queue is
//!   empty **and** every `Sender` has been dropped: buffered messages are never lost to a
//!   disconnection;
//! - `send` returns `Err(SendError(message))`, handing the message back, once the `Receiver` is
//!   gone;
//! - dropping the `Receiver` drops the messages still queued.

use std::collections::VecDeque;
use std::sync::PoisonError;
use std::sync::mpsc::{RecvError, SendError, TryRecvError};

use crate::{Arc, Condvar, Mutex, MutexGuard};

/// Creates a channel: messages sent on the `Sender` (or its clones) arrive at the `Receiver`.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            senders: 1,
            receiver_alive: true,
        }),
        changed: Condvar::new(),
    });
    (
        Sender {
            shared: Arc::clone(&shared),
        },
        Receiver { shared },
    )
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Signalled when a message arrives or the last sender leaves.
    changed: Condvar,
}

struct State<T> {
    queue: VecDeque<T>,
    senders: usize,
    receiver_alive: bool,
}

impl<T> Shared<T> {
    /// Nothing panics while holding this lock (no message is dropped under it); were it poisoned,
    /// the state would still be consistent, so a poisoned lock is used as is.
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The sending half; clone it for more producers.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Queues `message` for the receiver.
    ///
    /// # Errors
    ///
    /// Hands the message back if the receiver has been dropped.
    pub fn send(&self, message: T) -> Result<(), SendError<T>> {
        let mut state = self.shared.lock();
        if !state.receiver_alive {
            return Err(SendError(message));
        }
        state.queue.push_back(message);
        drop(state);
        self.shared.changed.notify_one();
        Ok(())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        Sender {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.senders -= 1;
        let last = state.senders == 0;
        drop(state);
        if last {
            // The receiver may be waiting for a message that will now never come.
            self.shared.changed.notify_all();
        }
    }
}

/// The receiving half.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Receiver<T> {
    // ANCHOR: recv
    /// Waits for the next message.
    ///
    /// # Errors
    ///
    /// `RecvError` once the queue is empty and every sender has been dropped.
    pub fn recv(&self) -> Result<T, RecvError> {
        let mut state = self.shared.lock();
        loop {
            if let Some(message) = state.queue.pop_front() {
                return Ok(message);
            }
            if state.senders == 0 {
                return Err(RecvError);
            }
            state = self
                .shared
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
    // ANCHOR_END: recv

    /// Takes the next message if one is queued, without waiting.
    ///
    /// # Errors
    ///
    /// `TryRecvError::Empty` if nothing is queued, `TryRecvError::Disconnected` if nothing is
    /// queued and every sender has been dropped.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut state = self.shared.lock();
        match state.queue.pop_front() {
            Some(message) => Ok(message),
            None if state.senders == 0 => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.receiver_alive = false;
        let undelivered = std::mem::take(&mut state.queue);
        drop(state);
        // Dropped outside the lock: a message's destructor may do anything.
        drop(undelivered);
    }
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}
