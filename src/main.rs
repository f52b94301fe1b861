//! The poolbook runner.
fn main() {}
