//! A `poolbook` runner as a process, for the tests that serve the book (`tests/runner.rs`,
//! `tests/browser.rs`; each includes this module with `mod served;`).

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long the runner may take to build the book and start listening. Generous, because the
/// test binary runs an unoptimised build of mdBook; it only turns a hang into a failure.
pub(crate) const STARTUP_WATCHDOG: Duration = Duration::from_secs(180);

/// A running `poolbook` process, killed when dropped if it is still running, so that a failing
/// test does not leave a server behind.
pub(crate) struct Runner {
    child: Child,
    /// Lines of its stdout as they come; `None` once stdout is closed.
    stdout: Receiver<Option<String>>,
    stderr: Option<JoinHandle<String>>,
}

impl Runner {
    pub(crate) fn spawn(args: &[&str], dest: &Path) -> Runner {
        let mut child = Command::new(env!("CARGO_BIN_EXE_poolbook"))
            .args(args)
            .arg("--dest")
            .arg(dest)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the poolbook binary");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let (lines, received) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines.send(Some(line)).is_err() {
                    return;
                }
            }
            let _ = lines.send(None);
        });
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Runner {
            child,
            stdout: received,
            stderr: Some(stderr),
        }
    }

    /// The process's id, to signal it.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// The next line of stdout, `None` at its end.
    pub(crate) fn next_line(&self, watchdog: Duration) -> Option<String> {
        match self.stdout.recv_timeout(watchdog) {
            Ok(line) => line,
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => panic!("poolbook printed nothing for {watchdog:?}"),
        }
    }

    /// Reads the `Serving the book at http://ADDR/` line and returns ADDR.
    pub(crate) fn wait_until_serving(&self) -> SocketAddr {
        let line = self
            .next_line(STARTUP_WATCHDOG)
            .expect("poolbook exited before serving");
        line.strip_prefix("Serving the book at http://")
            .and_then(|rest| rest.strip_suffix('/'))
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
    }

    /// Waits for the process to close stdout and exit; returns its status, the rest of its
    /// stdout and all of its stderr.
    pub(crate) fn finish(mut self, watchdog: Duration) -> (ExitStatus, Vec<String>, String) {
        let deadline = Instant::now() + watchdog;
        let mut stdout = Vec::new();
        while let Some(line) = self.next_line(deadline.saturating_duration_since(Instant::now())) {
            stdout.push(line);
        }
        // Stdout is closed only when the process exits, so this wait is short.
        let status = self.child.wait().expect("wait for poolbook");
        let stderr = self.stderr.take().map(join_text).unwrap_or_default();
        (status, stdout, stderr)
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if thread::panicking()
            && let Some(stderr) = self.stderr.take()
        {
            // Captured by the test harness and shown with the failure.
            eprintln!("poolbook's stderr:\n{}", join_text(stderr));
        }
    }
}

fn join_text(thread: JoinHandle<String>) -> String {
    thread.join().unwrap_or_default()
}
