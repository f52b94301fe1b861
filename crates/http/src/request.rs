//! Reading one HTTP/1.x request head from a byte stream, with limits.
//!
//! The parser is deliberately strict and bounded: every input, however hostile, ends in either a
//! [`Request`] or a [`RequestError`] that says which response (if any) the client gets. It never
//! panics, and never consumes more than [`Limits`] allows, plus the one byte that shows a line is
//! over its limit.

use std::fmt;
use std::io::{self, BufRead, Read};

use crate::response::{Response, Status};

// ANCHOR: limits
/// How much of a request head the server is willing to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest request line, in bytes, including its CRLF.
    pub request_line: usize,
    /// Largest header section, in bytes, including every CRLF and the final empty line.
    pub header_bytes: usize,
    /// Most header fields in one request.
    pub header_count: usize,
}
// ANCHOR_END: limits

impl Default for Limits {
    /// 8 KiB for the request line and for the headers, at most 100 header fields: the same order
    /// of magnitude as common servers (nginx, Apache httpd) use by default.
    fn default() -> Self {
        Limits {
            request_line: 8 * 1024,
            header_bytes: 8 * 1024,
            header_count: 100,
        }
    }
}

/// A parsed request head. The server answers `GET` and `HEAD` only, so no body is ever read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method, as sent (`GET`, `HEAD`, …); always a non-empty token.
    pub method: String,
    /// The request target in origin form, still percent-encoded: it starts with `/`.
    pub target: String,
    /// The protocol version.
    pub version: Version,
    /// Header fields in the order received; names as sent, values trimmed.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The target's path, without the query string (still percent-encoded).
    pub fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(&self.target, |(path, _)| path)
    }

    /// The first header with this name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the response must omit its body (RFC 9110 §9.3.2).
    pub fn is_head(&self) -> bool {
        self.method == "HEAD"
    }
}

/// The HTTP versions this server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `HTTP/1.0`
    Http10,
    /// `HTTP/1.1`
    Http11,
}

/// Why no [`Request`] could be read. Each variant knows what the client should be told.
#[derive(Debug)]
pub enum RequestError {
    /// The peer closed the connection before sending a single byte (browsers' speculative
    /// connections do this). Nothing to answer.
    Closed,
    /// Reading failed: a read timeout, a reset, or any other I/O error.
    Io(io::Error),
    /// The request line or a header is not UTF-8.
    NotUtf8,
    /// The request line is longer than [`Limits::request_line`].
    RequestLineTooLong,
    /// The headers exceed [`Limits::header_bytes`] or [`Limits::header_count`].
    HeadersTooLarge,
    /// The HTTP version is well-formed but not 1.0 or 1.1.
    UnsupportedVersion,
    /// Anything else that is not a valid request head; the text says what.
    Malformed(&'static str),
}

// ANCHOR: error-response
impl RequestError {
    /// The response owed to the client, or `None` when the connection should just be closed.
    pub fn response(&self) -> Option<Response> {
        let (status, why) = match self {
            RequestError::Closed => return None,
            RequestError::Io(e) if is_timeout(e) => (
                Status::REQUEST_TIMEOUT,
                "the request did not arrive in time",
            ),
            RequestError::Io(_) => return None,
            RequestError::NotUtf8 => (Status::BAD_REQUEST, "the request head is not UTF-8"),
            RequestError::RequestLineTooLong => {
                (Status::URI_TOO_LONG, "the request line is too long")
            }
            RequestError::HeadersTooLarge => (
                Status::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "the request headers are too large",
            ),
            RequestError::UnsupportedVersion => (
                Status::HTTP_VERSION_NOT_SUPPORTED,
                "only HTTP/1.0 and HTTP/1.1 are supported",
            ),
            RequestError::Malformed(why) => (Status::BAD_REQUEST, *why),
        };
        Some(Response::error(status, why))
    }
}
// ANCHOR_END: error-response

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Closed => f.write_str("connection closed before a request was sent"),
            RequestError::Io(e) => write!(f, "reading the request failed: {e}"),
            RequestError::NotUtf8 => f.write_str("request head is not UTF-8"),
            RequestError::RequestLineTooLong => f.write_str("request line too long"),
            RequestError::HeadersTooLarge => f.write_str("request headers too large"),
            RequestError::UnsupportedVersion => f.write_str("unsupported HTTP version"),
            RequestError::Malformed(why) => write!(f, "malformed request: {why}"),
        }
    }
}

impl std::error::Error for RequestError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RequestError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Whether an I/O error is a read timeout: `WouldBlock` from a Unix socket's timeout, `TimedOut`
/// from Windows or from a connection's deadline.
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

// ANCHOR: read-request
/// Reads one request head from `reader`, never more than `limits` allows (and the one byte past a
/// limit that shows a line is over it).
///
/// # Errors
///
/// Returns a [`RequestError`] for a connection closed before any byte, an I/O error, or a
/// request head that is malformed or too large; [`RequestError::response`] says what to answer.
pub fn read_request<R: BufRead>(reader: &mut R, limits: &Limits) -> Result<Request, RequestError> {
    let line = match read_line(reader, limits.request_line)? {
        Line::Complete(line) => line,
        Line::Eof => return Err(RequestError::Closed),
        Line::Truncated => {
            return Err(RequestError::Malformed(
                "the request ended before its line did",
            ));
        }
        Line::TooLong => return Err(RequestError::RequestLineTooLong),
    };
    let (method, target, version) = parse_request_line(&line)?;

    let mut headers = Vec::new();
    let mut budget = limits.header_bytes;
    loop {
        let line = match read_line(reader, budget)? {
            Line::Complete(line) => line,
            Line::Eof | Line::Truncated => {
                return Err(RequestError::Malformed(
                    "the request ended inside its headers",
                ));
            }
            Line::TooLong => return Err(RequestError::HeadersTooLarge),
        };
        budget -= line.len() + 2;
        if line.is_empty() {
            break;
        }
        if headers.len() == limits.header_count {
            return Err(RequestError::HeadersTooLarge);
        }
        headers.push(parse_header(&line)?);
    }

    Ok(Request {
        method: method.to_owned(),
        target: target.to_owned(),
        version,
        headers,
    })
}
// ANCHOR_END: read-request

/// The outcome of reading one CRLF-terminated line.
enum Line {
    /// A whole line, without its CRLF.
    Complete(String),
    /// End of stream before any byte of the line.
    Eof,
    /// End of stream in the middle of the line.
    Truncated,
    /// More than the allowed bytes before the line end.
    TooLong,
}

// ANCHOR: read-line
/// Reads one line of at most `max` bytes (CRLF included), taking at most `max + 1` from `reader`.
fn read_line<R: BufRead>(reader: &mut R, max: usize) -> Result<Line, RequestError> {
    let mut buf = Vec::new();
    // Reading one byte past the limit tells "exactly at the limit" from "over it".
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(limit)
        .read_until(b'\n', &mut buf)
        .map_err(RequestError::Io)?;
    if buf.is_empty() {
        return Ok(Line::Eof);
    }
    if buf.last() != Some(&b'\n') {
        return Ok(if buf.len() > max {
            Line::TooLong
        } else {
            Line::Truncated
        });
    }
    if buf.len() > max {
        return Ok(Line::TooLong);
    }
    buf.pop();
    if buf.pop() != Some(b'\r') {
        return Err(RequestError::Malformed("lines must end with CRLF"));
    }
    String::from_utf8(buf)
        .map(Line::Complete)
        .map_err(|_| RequestError::NotUtf8)
}
// ANCHOR_END: read-line

fn parse_request_line(line: &str) -> Result<(&str, &str, Version), RequestError> {
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(RequestError::Malformed(
            "the request line must be `METHOD TARGET HTTP/1.1`",
        ));
    };
    if method.is_empty() || !method.bytes().all(is_token_byte) {
        return Err(RequestError::Malformed("the method is not a token"));
    }
    if !target.starts_with('/') || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(RequestError::Malformed(
            "the target must be a path starting with `/`",
        ));
    }
    let version = match version {
        "HTTP/1.1" => Version::Http11,
        "HTTP/1.0" => Version::Http10,
        v if is_http_version(v) => return Err(RequestError::UnsupportedVersion),
        _ => return Err(RequestError::Malformed("the version is not `HTTP/x.y`")),
    };
    Ok((method, target, version))
}

fn is_http_version(v: &str) -> bool {
    v.strip_prefix("HTTP/")
        .and_then(|n| n.split_once('.'))
        .is_some_and(|(major, minor)| {
            [major, minor]
                .iter()
                .all(|d| d.len() == 1 && d.bytes().all(|b| b.is_ascii_digit()))
        })
}

fn parse_header(line: &str) -> Result<(String, String), RequestError> {
    let Some((name, value)) = line.split_once(':') else {
        return Err(RequestError::Malformed("a header line has no `:`"));
    };
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        // This also rejects obsolete line folding (a line starting with a space).
        return Err(RequestError::Malformed("a header name is not a token"));
    }
    // RFC 9110 §5.5: a bare CR, a NUL or another control character in a value is either an
    // attempt to smuggle a line end past a proxy or garbage; refusing it is allowed, and safest.
    if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
        return Err(RequestError::Malformed(
            "a header value has a control character",
        ));
    }
    Ok((name.to_owned(), value.trim_matches([' ', '\t']).to_owned()))
}

/// `tchar` from RFC 9110 §5.6.2.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &[u8]) -> Result<Request, RequestError> {
        read_request(&mut &input[..], &Limits::default())
    }

    fn status(input: &[u8]) -> Option<u16> {
        parse(input)
            .expect_err("input should be rejected")
            .response()
            .map(|r| r.status.code)
    }

    #[test]
    fn parses_a_simple_get() {
        let req =
            parse(b"GET /sleep?x=1 HTTP/1.1\r\nHost: localhost\r\nAccept:  */* \r\n\r\n").unwrap();
        assert_eq!(req.method, "GET");
        assert_eq!(req.target, "/sleep?x=1");
        assert_eq!(req.path(), "/sleep");
        assert_eq!(req.version, Version::Http11);
        assert_eq!(req.header("host"), Some("localhost"));
        assert_eq!(req.header("ACCEPT"), Some("*/*"));
    }

    #[test]
    fn closed_before_any_byte_is_not_answered() {
        assert!(matches!(parse(b""), Err(RequestError::Closed)));
        assert_eq!(
            parse(b"").unwrap_err().response().map(|r| r.status.code),
            None
        );
    }

    #[test]
    fn each_bad_input_has_its_status() {
        assert_eq!(status(b"GET / HTTP/1.1"), Some(400), "no line end");
        assert_eq!(status(b"GET / HTTP/1.1\n\n"), Some(400), "bare LF");
        assert_eq!(
            status(b"GET /\xff HTTP/1.1\r\n\r\n"),
            Some(400),
            "not UTF-8"
        );
        assert_eq!(
            status(b"GET / HTTP/1.1\r\nHost: x\r\n"),
            Some(400),
            "no empty line"
        );
        assert_eq!(
            status(b"GET  / HTTP/1.1\r\n\r\n"),
            Some(400),
            "double space"
        );
        assert_eq!(
            status(b"G(T / HTTP/1.1\r\n\r\n"),
            Some(400),
            "method not a token"
        );
        assert_eq!(
            status(b"GET http://x/ HTTP/1.1\r\n\r\n"),
            Some(400),
            "absolute form"
        );
        assert_eq!(status(b"GET / HTTP/2.0\r\n\r\n"), Some(505));
        assert_eq!(status(b"GET / HTTX/1.1\r\n\r\n"), Some(400));
        assert_eq!(status(b"GET / HTTP/1.1\r\n folded\r\n\r\n"), Some(400));
        assert_eq!(status(b"GET / HTTP/1.1\r\nno colon\r\n\r\n"), Some(400));
        assert_eq!(
            status(b"GET / HTTP/1.1\r\nA: x\ry\r\n\r\n"),
            Some(400),
            "bare CR"
        );
        assert_eq!(
            status(b"GET / HTTP/1.1\r\nA: x\0\r\n\r\n"),
            Some(400),
            "NUL"
        );
        assert!(
            parse(b"GET / HTTP/1.1\r\nA: x\ty\r\n\r\n").is_ok(),
            "a tab is allowed"
        );
    }

    #[test]
    fn limits_are_enforced_exactly() {
        let limits = Limits {
            request_line: 16,
            header_bytes: 12,
            header_count: 2,
        };
        // "GET /abc HTTP/1.1\r\n" is 19 bytes; "GET / HTTP/1.1\r\n" is 16.
        let at_limit = b"GET / HTTP/1.1\r\n\r\n";
        assert!(read_request(&mut &at_limit[..], &limits).is_ok());
        let over = b"GET /abc HTTP/1.1\r\n\r\n";
        assert!(matches!(
            read_request(&mut &over[..], &limits),
            Err(RequestError::RequestLineTooLong)
        ));
        // Headers: "A: 1\r\n" (6) + "\r\n" (2) = 8 fits in 12; a third field breaks the count.
        let ok = b"GET / HTTP/1.1\r\nA: 1\r\n\r\n";
        assert!(read_request(&mut &ok[..], &limits).is_ok());
        let too_big = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n";
        assert!(matches!(
            read_request(&mut &too_big[..], &limits),
            Err(RequestError::HeadersTooLarge)
        ));
        let loose = Limits {
            header_bytes: 100,
            ..limits
        };
        let too_many = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        assert!(matches!(
            read_request(&mut &too_many[..], &loose),
            Err(RequestError::HeadersTooLarge)
        ));
    }

    #[test]
    fn an_endless_line_is_cut_at_the_limit() {
        let endless = std::io::repeat(b'a');
        let mut reader = std::io::BufReader::new(endless);
        assert!(matches!(
            read_request(&mut reader, &Limits::default()),
            Err(RequestError::RequestLineTooLong)
        ));
    }
}
