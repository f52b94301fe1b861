//! The command line every stage's server binary shares.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

use clap::Parser;

use crate::hello;
use crate::listener::{self, STD_BACKLOG};

/// Options of a stage's demo server.
#[derive(Debug, Clone, Parser)]
#[command(about = "Serves the book's demo routes: `/`, `/sleep` and a 404 page.")]
pub struct ServerArgs {
    /// Port to listen on, on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 7879)]
    pub port: u16,
    /// How long `GET /sleep` takes, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    pub sleep_ms: u64,
    /// Connections the kernel completes and holds until the server accepts them (the listen
    /// backlog; the kernel caps it at net.core.somaxconn).
    #[arg(long, default_value_t = STD_BACKLOG, value_parser = clap::value_parser!(u32).range(1..))]
    pub backlog: u32,
    /// Print one line per request the demo routes answer, naming the thread that served it:
    /// `pool-worker-2: GET /sleep`.
    #[arg(long)]
    pub log_jobs: bool,
}

impl ServerArgs {
    /// Parses the process's arguments, exiting with a usage message when they are wrong.
    pub fn from_env() -> ServerArgs {
        ServerArgs::parse()
    }

    /// Binds the listener and prints where the server can be reached; with `--log-jobs`, turns
    /// on [`hello::log_jobs`].
    ///
    /// The flag takes effect here because binding is the one call every stage's `main` makes
    /// before serving (stage 21's parses `ServerArgs` inside its own options), so every stage
    /// gets the flag without a line of its own.
    ///
    /// # Errors
    ///
    /// If the address cannot be bound (in use, not permitted), and then the error names the
    /// address; or if the bound address cannot be read.
    pub fn bind(&self) -> io::Result<TcpListener> {
        let listener = listener::bind(self.addr(), self.backlog).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot listen on {}: {e}", self.addr()))
        })?;
        println!("Listening on http://{}", listener.local_addr()?);
        hello::log_jobs(self.log_jobs);
        Ok(listener)
    }

    /// The loopback address to bind.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The `/sleep` delay.
    pub fn sleep(&self) -> Duration {
        Duration::from_millis(self.sleep_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_jobs_is_off_unless_asked_for() {
        let parse = |args: &[&str]| ServerArgs::try_parse_from(args).expect("valid arguments");
        assert!(!parse(&["server"]).log_jobs);
        assert!(parse(&["server", "--log-jobs", "--sleep-ms", "0"]).log_jobs);
    }
}
