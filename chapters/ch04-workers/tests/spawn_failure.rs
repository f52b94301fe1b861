//! When the operating system refuses to create the pool's threads, the server says so and exits
//! with an error, instead of panicking.
//!
//! The refusal is real, not simulated: `RUST_MIN_STACK` asks for a petabyte of stack for every
//! thread the process spawns, which no machine can map.

use std::process::Command;

#[test]
fn the_server_reports_a_thread_it_cannot_create() {
    let output = Command::new(env!("CARGO_BIN_EXE_ch04-workers"))
        .args(["--port", "0"])
        .env("RUST_MIN_STACK", "1000000000000000")
        .output()
        .expect("run the stage's server");
    // ANCHOR: spawn-failure-asserts
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    let line = stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix(
                "cannot start the server's thread pool: could not create a worker thread",
            )
        })
        .unwrap_or_else(|| panic!("no error line in stderr: {stderr}"));
    // The operating system's reason follows, e.g. ": Resource temporarily unavailable (os error 11)".
    assert!(
        line.starts_with(": ") && line.len() > 2,
        "no cause given: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    // ANCHOR_END: spawn-failure-asserts
}
