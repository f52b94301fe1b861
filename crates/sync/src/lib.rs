//! The synchronisation primitives every pool stage uses, from one place.
//!
//! A stage writes `use poolbook_sync::{Arc, Mutex, mpsc, thread};` and otherwise reads as plain
//! std code. In a normal build these *are* std's types. Built with `RUSTFLAGS="--cfg loom"`, they
//! are the [loom](https://docs.rs/loom) model checker's stand-ins, so the same pool source that
//! ships is the source loom explores; built with `RUSTFLAGS="--cfg shuttle"`, they are
//! [shuttle](https://docs.rs/shuttle)'s, whose schedulers try random interleavings of the same
//! source instead of every one.
//!
//! One substitution is not a plain re-export. loom's own `mpsc` channel never reports that every
//! sender is gone (tokio-rs/loom#213): a receiver waits forever. A pool that shuts down by dropping
//! its sender, as correct pools do, would then look exactly like a pool with a real shutdown bug.
//! So under loom, [`mpsc`] is [`channel`], a small channel built from loom's `Mutex` and `Condvar`
//! that keeps std's contract: buffered messages first, then the disconnection error. The channel
//! is model-checked on its own (`tests/loom.rs`) and tested against std's behaviour (`tests/`).
//! shuttle's own channel keeps that contract (`tests/contract.rs` checks it under shuttle too),
//! so under shuttle [`mpsc`] is shuttle's.

pub mod channel;
#[cfg(any(loom, shuttle, stress))]
pub mod model;

// ANCHOR: facade
#[cfg(not(any(loom, shuttle)))]
pub use std::sync::{Arc, Condvar, Mutex, MutexGuard};
#[cfg(not(any(loom, shuttle)))]
pub use std::{sync::atomic, thread};

#[cfg(loom)]
pub use loom::sync::{Arc, Condvar, Mutex, MutexGuard};
#[cfg(loom)]
pub use loom::{sync::atomic, thread};

#[cfg(all(shuttle, not(loom)))]
pub use shuttle::sync::{Arc, Condvar, Mutex, MutexGuard};
#[cfg(all(shuttle, not(loom)))]
pub use shuttle::{sync::atomic, thread};
// ANCHOR_END: facade

/// Multi-producer, single-consumer channels: std's, [`channel`]'s under loom, shuttle's under
/// shuttle.
pub mod mpsc {
    #[cfg(not(any(loom, shuttle)))]
    pub use std::sync::mpsc::{Receiver, Sender, channel};

    #[cfg(loom)]
    pub use crate::channel::{Receiver, Sender, channel};

    #[cfg(all(shuttle, not(loom)))]
    pub use shuttle::sync::mpsc::{Receiver, Sender, channel};

    pub use std::sync::mpsc::{RecvError, SendError, TryRecvError};
}
