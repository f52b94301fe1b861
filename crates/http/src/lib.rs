//! The HTTP plumbing shared by every server stage in poolbook.
//!
//! The stages differ only in how connections are handed to threads; reading a request, routing
//! it and writing the response is the same everywhere and lives here, so that the diff between
//! two stages is the chapter's idea and nothing else.

pub mod cli;
pub mod connection;
pub mod hello;
pub mod listener;
pub mod request;
pub mod resources;
pub mod response;
pub mod signals;
pub mod static_files;

pub use connection::{ConnectionConfig, Outcome, handle_connection, handle_connection_with};
pub use request::{Limits, Request, RequestError, Version, read_request};
pub use response::{Response, Status};
