//! Holding many slow requests open at once, to watch what a server spends on each.
//!
//! The connections are plain sockets owned by one thread, not client threads, so every thread the
//! process gains while they are held belongs to the server.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use crate::{Gate, WATCHDOG, parse_reply};

/// The soft limit on open descriptors for this process (Linux only), which the flood example
/// prints beside the threads a flood costs.
pub use poolbook_http::resources::open_files_limit;

/// Connections that each sent `GET /block` and wait for the answer.
pub struct Flood {
    addr: SocketAddr,
    gate: Arc<Gate>,
    streams: Vec<TcpStream>,
}

impl Flood {
    /// A flood against the server at `addr`, whose handler holds `/block` at `gate`.
    pub fn new(addr: SocketAddr, gate: Arc<Gate>) -> Flood {
        Flood {
            addr,
            gate,
            streams: Vec::new(),
        }
    }

    /// Opens connections until `total` requests are held inside the server's handlers.
    ///
    /// # Errors
    ///
    /// If a connection fails, or the server does not take the requests in before the watchdog
    /// (a server that handles one request at a time never will).
    pub fn hold(&mut self, total: usize) -> io::Result<()> {
        while self.streams.len() < total {
            let mut stream = TcpStream::connect(self.addr)?;
            stream.set_read_timeout(Some(WATCHDOG))?;
            stream.write_all(b"GET /block HTTP/1.1\r\n\r\n")?;
            self.streams.push(stream);
        }
        if self.gate.wait_arrived(total) {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "only {} of {total} requests reached a handler",
                    self.gate.arrived()
                ),
            ))
        }
    }

    /// How many connections are open.
    pub fn held(&self) -> usize {
        self.streams.len()
    }

    /// Lets every held request finish and returns each status code (or the error reading it).
    pub fn release(self) -> Vec<io::Result<u16>> {
        self.gate.open();
        self.streams
            .into_iter()
            .map(|mut stream| {
                let mut raw = Vec::new();
                stream.read_to_end(&mut raw)?;
                Ok(parse_reply(&raw)?.status)
            })
            .collect()
    }
}
