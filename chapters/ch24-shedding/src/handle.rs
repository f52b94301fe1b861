//! The handle to a job started with [`ThreadPool::spawn`](crate::pool::ThreadPool::spawn), and why
//! it may have no value: the job panicked, or it never ran.

use std::any::Any;
use std::fmt;

use poolbook_sync::mpsc;

use crate::pool::panic_message;

// ANCHOR: job-handle
/// The result of a job started with [`ThreadPool::spawn`](crate::pool::ThreadPool::spawn), once
/// it has run.
#[derive(Debug)]
pub struct JobHandle<T> {
    pub(crate) receiver: mpsc::Receiver<std::thread::Result<T>>,
}

impl<T> JobHandle<T> {
    /// Waits for the job to finish and returns its value.
    ///
    /// # Errors
    ///
    /// [`JoinError::Panicked`], holding the panic's payload, if the job panicked;
    /// [`JoinError::Cancelled`] if it never ran:
    /// [`ThreadPool::shutdown_now`](crate::pool::ThreadPool::shutdown_now) handed it back, and
    /// it was dropped.
    pub fn join(self) -> Result<T, JoinError> {
        match self.receiver.recv() {
            Ok(result) => result.map_err(JoinError::Panicked),
            // The job, and the sender inside it, were dropped without running.
            Err(_) => Err(JoinError::Cancelled),
        }
    }
}
// ANCHOR_END: job-handle

// ANCHOR: join-error
/// Why a [`JobHandle`] has no value.
pub enum JoinError {
    /// The job panicked; the panic's payload is kept.
    Panicked(Box<dyn Any + Send + 'static>),
    /// The job never ran: [`ThreadPool::shutdown_now`](crate::pool::ThreadPool::shutdown_now)
    /// handed it back, and it was dropped.
    Cancelled,
}

impl JoinError {
    /// The panic's message, when the job panicked with a string payload (as `panic!` makes it).
    pub fn message(&self) -> Option<String> {
        match self {
            JoinError::Panicked(payload) => panic_message(payload.as_ref()),
            JoinError::Cancelled => None,
        }
    }

    /// Whether the job never ran.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, JoinError::Cancelled)
    }

    /// The panic's payload, if the job panicked: to inspect it with `downcast`, or to carry the
    /// panic on into the caller's thread with `std::panic::resume_unwind`.
    pub fn into_panic(self) -> Option<Box<dyn Any + Send + 'static>> {
        match self {
            JoinError::Panicked(payload) => Some(payload),
            JoinError::Cancelled => None,
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Panicked(_) => f
                .debug_struct("Panicked")
                .field("message", &self.message())
                .finish_non_exhaustive(),
            JoinError::Cancelled => f.write_str("Cancelled"),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, self.message()) {
            (JoinError::Panicked(_), Some(message)) => write!(f, "the job panicked: {message}"),
            (JoinError::Panicked(_), None) => f.write_str("the job panicked"),
            (JoinError::Cancelled, _) => f.write_str("the job was cancelled before it ran"),
        }
    }
}

impl std::error::Error for JoinError {}
// ANCHOR_END: join-error
