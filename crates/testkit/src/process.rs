//! A stage's server binary run as a process, for the tests that signal it, starve it of
//! descriptors, or count what it holds.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::WATCHDOG;

/// A server binary started with `--port 0`, killed if the test fails before it exits.
///
/// Its standard output and error are read by threads as they come, so that a chatty server (one
/// printing a panic message per request, say) never blocks on a full pipe.
pub struct ServerProcess {
    child: Child,
    addr: SocketAddr,
    stderr: Receiver<String>,
    stderr_all: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
    stdout: Receiver<String>,
    stdout_rest: Arc<Mutex<Vec<String>>>,
}

/// How a [`ServerProcess`] ended.
#[derive(Debug)]
pub struct Exit {
    /// The exit status, or `None` if a signal ended it.
    pub code: Option<i32>,
    /// What it printed on standard output after its ready line.
    pub stdout: String,
    /// Everything it printed on standard error.
    pub stderr: String,
}

impl ServerProcess {
    /// Starts `binary <args> --port 0` and waits until it prints its ready line (signal handlers
    /// installed, about to accept).
    ///
    /// # Panics
    ///
    /// If it cannot be started, or does not print its address and ready line within the watchdog.
    pub fn start(binary: &str, args: &[&str]) -> ServerProcess {
        let mut command = Command::new(binary);
        // After the arguments, which may begin with a subcommand (`timelab serve`).
        command.args(args).args(["--port", "0"]);
        ServerProcess::spawn(command, Ready::SignalsInstalled)
    }

    /// [`ServerProcess::start`] for the servers of stages 1 to 5, which install no signal
    /// handlers and so print no ready line: ready once they print their address. The listener is
    /// bound by then, so a client that connects before the server accepts waits in its backlog.
    ///
    /// # Panics
    ///
    /// If it cannot be started, or does not print its address within the watchdog.
    pub fn start_listening(binary: &str, args: &[&str]) -> ServerProcess {
        let mut command = Command::new(binary);
        command.args(args).args(["--port", "0"]);
        ServerProcess::spawn(command, Ready::Listening)
    }

    /// [`ServerProcess::start`], with the process's open-file limit (`ulimit -n`) lowered to
    /// `limit`: a shell lowers it, then replaces itself with the server, which keeps its pid.
    ///
    /// # Panics
    ///
    /// As [`ServerProcess::start`].
    #[cfg(unix)]
    pub fn start_with_open_files_limit(binary: &str, args: &[&str], limit: u32) -> ServerProcess {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
            .arg(binary)
            .args(args)
            .args(["--port", "0"]);
        ServerProcess::spawn(command, Ready::SignalsInstalled)
    }

    fn spawn(mut command: Command, ready: Ready) -> ServerProcess {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (stdout_tx, stdout_lines) = mpsc::channel();
        let (stderr_tx, stderr_lines) = mpsc::channel();
        let stderr_all = Arc::new(Mutex::new(Vec::new()));
        let all = Arc::clone(&stderr_all);
        let readers = vec![
            thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if stdout_tx.send(line).is_err() {
                        break;
                    }
                }
            }),
            thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    all.lock().expect("stderr lines").push(line.clone());
                    let _ = stderr_tx.send(line);
                }
            }),
        ];
        let mut addr = None;
        loop {
            let Ok(line) = stdout_lines.recv_timeout(WATCHDOG) else {
                let _ = child.kill();
                let lines = stderr_all.lock().expect("stderr lines").join("\n");
                panic!("the server printed no ready line; stderr:\n{lines}");
            };
            // `Listening on http://127.0.0.1:7879`, or without the scheme for a server that
            // does not speak HTTP (the TIME lab's).
            if let Some(rest) = line.strip_prefix("Listening on ") {
                let rest = rest.strip_prefix("http://").unwrap_or(rest);
                addr = Some(rest.parse().expect("a socket address"));
                if ready == Ready::Listening {
                    break;
                }
            }
            // Printed once the signal handlers are installed.
            if line.starts_with("Ctrl-C or SIGTERM stops the server") {
                break;
            }
        }
        // The rest of standard output is collected for `wait`, and passed on for
        // `wait_for_stdout`.
        let stdout_rest = Arc::new(Mutex::new(Vec::new()));
        let rest = Arc::clone(&stdout_rest);
        let (rest_tx, stdout) = mpsc::channel();
        let mut readers = readers;
        readers.push(thread::spawn(move || {
            for line in stdout_lines {
                rest.lock().expect("stdout lines").push(line.clone());
                let _ = rest_tx.send(line);
            }
        }));
        ServerProcess {
            child,
            addr: addr.expect("an address before the ready line"),
            stderr: stderr_lines,
            stderr_all,
            readers,
            stdout,
            stdout_rest,
        }
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`TERM`, `INT`, …).
    ///
    /// # Panics
    ///
    /// If `kill` cannot be run or fails.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for a line on standard error that contains `needle`, and returns it; `None` if the
    /// process closes its standard error or `within` passes first. Lines before it are skipped
    /// (they stay in [`Exit::stderr`]).
    pub fn wait_for_stderr(&self, needle: &str, within: Duration) -> Option<String> {
        wait_for_line(&self.stderr, needle, within)
    }

    /// Waits for a line on standard output, after the ready line, that contains `needle`, and
    /// returns it; `None` if the process closes its standard output or `within` passes first.
    /// Lines before it are skipped (they stay in [`Exit::stdout`]).
    pub fn wait_for_stdout(&self, needle: &str, within: Duration) -> Option<String> {
        wait_for_line(&self.stdout, needle, within)
    }

    /// How many descriptors the process has open, from `/proc/<pid>/fd` (Linux only).
    pub fn open_descriptors(&self) -> Option<usize> {
        Some(
            std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
                .ok()?
                .count(),
        )
    }

    /// How many of the process's descriptors are numbered below `limit`, from `/proc/<pid>/fd`
    /// (Linux only): those that take up room under an open-file limit (`ulimit -n`) of `limit`.
    ///
    /// The kernel gives a new descriptor the lowest free number and fails once no number below
    /// the limit is free, so a descriptor inherited with a higher number (a pipe some parent
    /// opened at 251, say) is open, but takes no room: [`ServerProcess::open_descriptors`]
    /// counts it, and this does not.
    pub fn descriptors_below(&self, limit: u32) -> Option<usize> {
        let numbers = std::fs::read_dir(format!("/proc/{}/fd", self.pid())).ok()?;
        Some(
            numbers
                .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .filter(|&number| number < limit)
                .count(),
        )
    }

    /// How many threads the process has, from `/proc/<pid>/task` (Linux only).
    pub fn threads(&self) -> Option<usize> {
        Some(
            std::fs::read_dir(format!("/proc/{}/task", self.pid()))
                .ok()?
                .count(),
        )
    }

    /// Waits for the process to exit (killing it if the watchdog runs out first) and returns how
    /// it ended and what it printed.
    ///
    /// # Panics
    ///
    /// If waiting for the process fails.
    pub fn wait(mut self) -> Exit {
        let (done_tx, done) = mpsc::channel();
        let id = self.child.id();
        let watchdog = thread::spawn(move || {
            if done.recv_timeout(WATCHDOG).is_err() {
                let _ = Command::new("kill")
                    .args(["-KILL", &id.to_string()])
                    .status();
            }
        });
        let status = self.child.wait().expect("wait for the server");
        let _ = done_tx.send(());
        watchdog.join().expect("the watchdog");
        for reader in self.readers.drain(..) {
            reader.join().expect("an output reader");
        }
        let stdout = self.stdout_rest.lock().expect("stdout lines").join("\n");
        let stderr = self.stderr_all.lock().expect("stderr lines").join("\n");
        Exit {
            code: status.code(),
            stdout,
            stderr,
        }
    }
}

/// The line a [`ServerProcess`] waits for before its server counts as started.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ready {
    /// `Ctrl-C or SIGTERM stops the server …`, printed once the signal handlers are installed.
    SignalsInstalled,
    /// `Listening on …`, printed once the listener is bound.
    Listening,
}

/// The next line from `lines` that contains `needle`, skipping others; `None` at the end of the
/// lines or after `within`.
fn wait_for_line(lines: &Receiver<String>, needle: &str, within: Duration) -> Option<String> {
    let deadline = std::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return Some(line),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
