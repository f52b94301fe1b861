//! The poolbook runner: builds the workbook's book and serves it with the reader's own server,
//! and runs the chapter exercises.
//!
//! `cargo run` at the top of the workspace runs the `poolbook` binary, which uses these modules:
//!
//! - [`book`] builds the mdBook under `book/` in-process with mdBook's library, and collects
//!   what mdBook warned about, so that a broken include is reported instead of silently rendered;
//! - [`serve`] serves the built HTML with the most advanced server stage the workbook has, so the
//!   reader reads the book through the server they are building;
//! - [`exercise`] knows the exercises (stage N−1's code, stage N's tests), makes the reader's
//!   working copies, and keeps their progress, hints and solutions;
//! - [`progress`] answers `/progress.json`, the reader's progress that the served book shows;
//! - [`check`] builds and tests a copy, loom models included, and summarises what failed first;
//! - [`watch`] checks an exercise on every save, with rustlings' one-key commands;
//! - [`scratch`] makes a workspace member into a standalone crate, for the exercises and for the
//!   workspace's own tests of compile-fail steps and loom bugs.

pub mod book;
pub mod check;
pub mod exercise;
pub mod progress;
pub mod scratch;
pub mod serve;
pub mod watch;
