//! Turning Ctrl-C (SIGINT) and SIGTERM into a graceful stop.

use std::io;
use std::thread;

use crate::listener::StopHandle;

// ANCHOR: stop-on-signals
/// Stops `stop`'s accept loop when the process receives SIGINT or SIGTERM.
///
/// Without this, both signals kill the process at once: no destructor runs, so queued and
/// running requests are cut off. Here a thread waits for the first signal, prints a line, and
/// asks the accept loop to end; the server then finishes what it had accepted and returns from
/// `main` normally. A second signal while shutting down exits at once with status 130, so a
/// stuck shutdown can still be interrupted.
///
/// # Errors
///
/// If the signal handlers cannot be registered or the waiting thread cannot be started.
#[cfg(unix)]
pub fn stop_on_signals(stop: StopHandle) -> io::Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::flag::register_conditional_shutdown;
    use signal_hook::iterator::Signals;

    let shutting_down = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // Exit status 130 is what a shell reports for a process ended by Ctrl-C.
        register_conditional_shutdown(signal, 130, Arc::clone(&shutting_down))?;
    }
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    thread::Builder::new()
        .name("signals".to_owned())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                eprintln!("Received signal {signal}: finishing accepted requests, then exiting.");
                // From now on, another signal ends the process at once.
                shutting_down.store(true, Ordering::SeqCst);
                if let Err(e) = stop.stop() {
                    eprintln!("could not wake the accept loop: {e}");
                }
            }
        })?;
    Ok(())
}
// ANCHOR_END: stop-on-signals

/// Signals are a Unix notion; elsewhere the server stops only when its process is ended.
///
/// # Errors
///
/// Never.
#[cfg(not(unix))]
pub fn stop_on_signals(_stop: StopHandle) -> io::Result<()> {
    Ok(())
}
