//! The TIME protocol: reading request lines, and the replies.

use std::io::{self, BufRead, Read, Write};
use std::time::{SystemTime, UNIX_EPOCH};

/// The lab's port.
pub const PORT: u16 = 45000;

/// The longest request line accepted, CR LF included. `TIME` with a short comment fits (the
/// lab's students sent `TIME thread \r\n`); a line this long is not a request anyone means.
pub const MAX_LINE: usize = 64;

// ANCHOR: replies
/// The reply to a line that is not a request this server knows. The connection stays open.
pub const UNKNOWN: &str = "ERR unknown request\r\n";
/// The reply to a line longer than [`MAX_LINE`]. The connection is closed after it: what follows
/// is the rest of a line of unknown length, not a request.
pub const TOO_LONG: &str = "ERR request too long\r\n";
/// The reply to a connection that finds every worker busy and the queue full. Closed after it.
pub const BUSY: &str = "ERR busy\r\n";
// ANCHOR_END: replies

/// A request the server knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Any line that starts with `TIME`: answered `JAM hh:mm:ss`.
    Time,
    /// `QUIT`: the server closes the connection without a reply.
    Quit,
}

/// One line read from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A request this server knows.
    Command(Command),
    /// A complete line that is not a known request (including one ended by a bare LF).
    Unknown,
    /// More than [`MAX_LINE`] bytes without a line end.
    TooLong,
    /// The client closed the connection, before any byte of a line or in the middle of one.
    Closed,
}

// ANCHOR: read-line
/// Reads one request line, however the bytes are split across reads, never more than
/// [`MAX_LINE`] bytes.
///
/// # Errors
///
/// A read error, including a read timeout.
pub fn read_line<R: BufRead>(reader: &mut R) -> io::Result<Line> {
    let mut buf = Vec::with_capacity(16);
    reader.take(READ_LIMIT).read_until(b'\n', &mut buf)?;
    Ok(classify(&buf))
}
// ANCHOR_END: read-line

/// How many bytes to read for one line: one past the limit tells "exactly at the limit" from
/// "over it".
pub const READ_LIMIT: u64 = MAX_LINE as u64 + 1;

/// What a line is, from the bytes read for it: up to and including its `\n`, or up to
/// [`READ_LIMIT`] bytes, or whatever came before the end of the stream. Shared by the blocking
/// and the async servers, which differ only in how they read.
pub fn classify(buf: &[u8]) -> Line {
    if buf.last() != Some(&b'\n') {
        return if buf.len() > MAX_LINE {
            Line::TooLong
        } else {
            Line::Closed
        };
    }
    if buf.len() > MAX_LINE {
        return Line::TooLong;
    }
    parse(buf)
}

/// Parses a line that ends with `\n`.
fn parse(line: &[u8]) -> Line {
    let Some(text) = line.strip_suffix(b"\r\n") else {
        return Line::Unknown;
    };
    if text.starts_with(b"TIME") {
        Line::Command(Command::Time)
    } else if text == b"QUIT" {
        Line::Command(Command::Quit)
    } else {
        Line::Unknown
    }
}

// ANCHOR: jam
/// The reply to `TIME` at `now`: `JAM hh:mm:ss` and CR LF, in UTC (std has no time zones, and a
/// server's clock in UTC is what a log can be compared with).
pub fn jam(now: SystemTime) -> String {
    let seconds = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) % 86_400;
    format!(
        "JAM {:02}:{:02}:{:02}\r\n",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}
// ANCHOR_END: jam

/// Whether `reply` is a well-formed answer to `TIME`: `JAM hh:mm:ss` and CR LF, with a valid time.
pub fn is_jam(reply: &[u8]) -> bool {
    let Some(time) = reply
        .strip_prefix(b"JAM ")
        .and_then(|r| r.strip_suffix(b"\r\n"))
    else {
        return false;
    };
    let [h1, h2, b':', m1, m2, b':', s1, s2] = *time else {
        return false;
    };
    let two = |a: u8, b: u8| {
        (a.is_ascii_digit() && b.is_ascii_digit()).then(|| (a - b'0') * 10 + (b - b'0'))
    };
    matches!(
        (two(h1, h2), two(m1, m2), two(s1, s2)),
        (Some(h), Some(m), Some(s)) if h < 24 && m < 60 && s < 60
    )
}

/// How one connection ended, and how many requests it carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Served {
    /// `TIME` requests answered.
    pub answered: u64,
    /// Lines answered [`UNKNOWN`].
    pub unknown: u64,
    /// Why the connection ended.
    pub end: End,
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The client sent `QUIT`.
    Quit,
    /// The client closed its side.
    Closed,
    /// A line was too long; the client was told [`TOO_LONG`].
    TooLong,
    /// Reading or writing failed (a timeout, a reset).
    Failed,
}

/// What the server does after reading a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write this reply and read the next line.
    Reply(String),
    /// Write this reply, then close.
    ReplyAndClose(&'static str),
    /// Close without a reply.
    Close(End),
}

// ANCHOR: respond
/// What to do about `line`, counting it in `served`. Both servers act on this, so they answer
/// every input alike.
pub fn respond(line: &Line, served: &mut Served, clock: impl Fn() -> SystemTime) -> Action {
    match line {
        Line::Command(Command::Time) => {
            served.answered += 1;
            Action::Reply(jam(clock()))
        }
        Line::Command(Command::Quit) => Action::Close(End::Quit),
        Line::Unknown => {
            served.unknown += 1;
            Action::Reply(UNKNOWN.to_owned())
        }
        Line::TooLong => Action::ReplyAndClose(TOO_LONG),
        Line::Closed => Action::Close(End::Closed),
    }
}
// ANCHOR_END: respond

impl Served {
    /// Nothing served yet.
    pub fn new() -> Served {
        Served {
            answered: 0,
            unknown: 0,
            end: End::Closed,
        }
    }
}

impl Default for Served {
    fn default() -> Self {
        Served::new()
    }
}

// ANCHOR: serve-connection
/// Serves requests from `reader` to `writer` until the client quits or closes, a line is too
/// long, or an I/O error (a timeout included) ends the connection.
pub fn serve_connection<R: BufRead, W: Write>(
    reader: &mut R,
    writer: &mut W,
    clock: impl Fn() -> SystemTime,
) -> Served {
    let mut served = Served::new();
    served.end = loop {
        let Ok(line) = read_line(reader) else {
            break End::Failed;
        };
        match respond(&line, &mut served, &clock) {
            Action::Reply(reply) => {
                if writer.write_all(reply.as_bytes()).is_err() {
                    break End::Failed;
                }
            }
            Action::ReplyAndClose(reply) => {
                let _ = writer.write_all(reply.as_bytes());
                break End::TooLong;
            }
            Action::Close(end) => break end,
        }
    };
    served
}
// ANCHOR_END: serve-connection

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(h: u64, m: u64, s: u64) -> SystemTime {
        // Some day in 2026, plus the time of day.
        UNIX_EPOCH + Duration::from_secs(20_000 * 86_400 + h * 3600 + m * 60 + s)
    }

    fn serve(input: &[u8]) -> (Served, String) {
        let mut out = Vec::new();
        let served = serve_connection(&mut &input[..], &mut out, || at(14, 5, 9));
        (served, String::from_utf8(out).unwrap())
    }

    #[test]
    fn jam_is_the_time_of_day_in_utc() {
        assert_eq!(jam(at(14, 5, 9)), "JAM 14:05:09\r\n");
        assert_eq!(jam(at(0, 0, 0)), "JAM 00:00:00\r\n");
        assert_eq!(jam(at(23, 59, 59)), "JAM 23:59:59\r\n");
        assert!(is_jam(jam(SystemTime::now()).as_bytes()));
    }

    #[test]
    fn only_well_formed_jams_are_recognised() {
        assert!(is_jam(b"JAM 14:05:09\r\n"));
        for bad in [
            &b"JAM 14:05:09\n"[..],
            b"JAM 24:00:00\r\n",
            b"JAM 12:60:00\r\n",
            b"JAM 1:05:09\r\n",
            b"JAM 14-05-09\r\n",
            b"jam 14:05:09\r\n",
            b"ERR busy\r\n",
            b"",
        ] {
            assert!(!is_jam(bad), "{bad:?}");
        }
    }

    #[test]
    fn every_line_that_starts_with_time_is_answered() {
        let (served, out) = serve(b"TIME\r\nTIME thread \r\nTIME\r\n\r\nQUIT\r\nTIME\r\n");
        assert_eq!(
            out,
            "JAM 14:05:09\r\nJAM 14:05:09\r\nJAM 14:05:09\r\nERR unknown request\r\n"
        );
        assert_eq!(
            served,
            Served {
                answered: 3,
                unknown: 1,
                end: End::Quit
            }
        );
    }

    #[test]
    fn unknown_lines_get_an_error_and_the_connection_goes_on() {
        let (served, out) = serve(b"time\r\nTIME\nHELLO\r\nTIME\r\n");
        assert_eq!(
            out,
            "ERR unknown request\r\nERR unknown request\r\nERR unknown request\r\nJAM 14:05:09\r\n"
        );
        assert_eq!(served.end, End::Closed);
        assert_eq!((served.answered, served.unknown), (1, 3));
    }

    #[test]
    fn a_line_over_the_limit_is_refused_and_ends_the_connection() {
        let exactly = format!("TIME{}\r\n", " ".repeat(MAX_LINE - 6));
        assert_eq!(exactly.len(), MAX_LINE);
        assert_eq!(serve(exactly.as_bytes()).0.answered, 1);
        let over = format!("TIME{}\r\nTIME\r\n", " ".repeat(MAX_LINE - 5));
        let (served, out) = serve(over.as_bytes());
        assert_eq!(out, TOO_LONG);
        assert_eq!(served.end, End::TooLong);
        let endless = format!("TIME{}", " ".repeat(10 * MAX_LINE));
        assert_eq!(serve(endless.as_bytes()).0.end, End::TooLong);
    }

    #[test]
    fn a_line_cut_short_by_the_client_is_not_answered() {
        let (served, out) = serve(b"TIME\r\nTIM");
        assert_eq!(out, "JAM 14:05:09\r\n");
        assert_eq!(served.end, End::Closed);
    }

    /// A reader that hands out one byte per read, as a slow network might.
    struct OneByte<'a>(&'a [u8]);

    impl Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), buf.is_empty()) {
                (Some((&b, rest)), false) => {
                    buf[0] = b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn a_request_split_across_reads_is_one_request() {
        let mut reader = io::BufReader::with_capacity(1, OneByte(b"TI\r\nTIME\r\n"));
        let mut out = Vec::new();
        let served = serve_connection(&mut reader, &mut out, || at(1, 2, 3));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ERR unknown request\r\nJAM 01:02:03\r\n"
        );
        assert_eq!(served.answered, 1);
    }
}
