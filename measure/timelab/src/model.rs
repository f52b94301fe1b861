//! The server models `timelab serve` can run, and the sweep measures side by side.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How a TIME server serves its connections: the pool and the threads are in [`crate::server`],
/// the tokio models in [`crate::async_server`].
///
/// Each variant's first line is its `--model` help, so it speaks to the command's user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Model {
    /// poolbook's pool: a fixed number of workers and a bounded queue.
    Pool,
    /// A thread per connection, unbounded: the lab's own server.
    Threads,
    /// Tasks on tokio's current-thread runtime: single-threaded async I/O.
    TokioCurrent,
    /// Tasks on tokio's multi-thread runtime, with a fixed number of worker threads.
    TokioMulti,
}

impl Model {
    /// Every model, in the order tables and plots list them.
    pub const ALL: [Model; 4] = [
        Model::Threads,
        Model::Pool,
        Model::TokioCurrent,
        Model::TokioMulti,
    ];

    /// The model's name on the command line (`--model`) and in the sweep's data.
    pub fn name(self) -> &'static str {
        match self {
            Model::Pool => "pool",
            Model::Threads => "threads",
            Model::TokioCurrent => "tokio-current",
            Model::TokioMulti => "tokio-multi",
        }
    }

    /// A short description for tables and plot legends.
    pub fn label(self) -> &'static str {
        match self {
            Model::Pool => "pool (poolbook)",
            Model::Threads => "thread per connection",
            Model::TokioCurrent => "tokio, current-thread",
            Model::TokioMulti => "tokio, multi-thread",
        }
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
