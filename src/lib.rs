//! The poolbook runner: builds the workbook's book and serves it with the reader's own server.
//!
//! `cargo run --release` at the top of the workspace runs the `poolbook` binary, which uses the
//! two halves of this library:
//!
//! - [`book`] builds the mdBook under `book/` in-process with mdBook's library, and collects
//!   what mdBook warned about, so that a broken include is reported instead of silently rendered;
//! - [`serve`] serves the built HTML with the most advanced server stage the workbook has, so the
//!   reader reads the book through the server they are building.

pub mod book;
pub mod serve;
