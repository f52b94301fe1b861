//! What every TIME server test does as a client: connect with a watchdog, read a reply line.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};

use poolbook_testkit::WATCHDOG;

/// A connection to `addr` and a line reader on it; a server that never answers fails the test at
/// the watchdog instead of hanging it.
pub(crate) fn connect(addr: SocketAddr) -> (TcpStream, BufReader<TcpStream>) {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(WATCHDOG)).expect("timeout");
    let reader = BufReader::new(stream.try_clone().expect("clone"));
    (stream, reader)
}

/// The next reply line, with its CRLF.
pub(crate) fn reply(reader: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).expect("a reply");
    line
}
