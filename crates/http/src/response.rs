//! Responses: a status, a few headers and a body, written with an exact `Content-Length`.

use std::io::{self, Write};

/// An HTTP status code with its reason phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// The three-digit code.
    pub code: u16,
    /// The reason phrase sent after the code.
    pub reason: &'static str,
}

macro_rules! statuses {
    ($($name:ident = $code:literal $reason:literal;)*) => {
        impl Status {
            $(
                #[doc = concat!("`", stringify!($code), " ", $reason, "`")]
                pub const $name: Status = Status { code: $code, reason: $reason };
            )*
        }
    };
}

statuses! {
    OK = 200 "OK";
    BAD_REQUEST = 400 "Bad Request";
    NOT_FOUND = 404 "Not Found";
    METHOD_NOT_ALLOWED = 405 "Method Not Allowed";
    REQUEST_TIMEOUT = 408 "Request Timeout";
    URI_TOO_LONG = 414 "URI Too Long";
    REQUEST_HEADER_FIELDS_TOO_LARGE = 431 "Request Header Fields Too Large";
    INTERNAL_SERVER_ERROR = 500 "Internal Server Error";
    SERVICE_UNAVAILABLE = 503 "Service Unavailable";
    HTTP_VERSION_NOT_SUPPORTED = 505 "HTTP Version Not Supported";
}

/// A complete response, held in memory until it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status line's code and reason.
    pub status: Status,
    /// Extra header fields; `Content-Length` and `Connection` are added by [`Response::write_to`].
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with a body of the given media type.
    pub fn new(status: Status, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".to_owned(), content_type.to_owned())],
            body: body.into(),
        }
    }

    /// An HTML response.
    pub fn html(status: Status, body: impl Into<Vec<u8>>) -> Response {
        Response::new(status, "text/html; charset=utf-8", body)
    }

    /// A short plain-text error response that tells the client what went wrong.
    pub fn error(status: Status, why: &str) -> Response {
        let body = format!("{} {}: {why}\n", status.code, status.reason);
        Response::new(status, "text/plain; charset=utf-8", body)
    }

    /// Adds a header field and returns the response, for chaining.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    // ANCHOR: write-to
    /// Writes the status line, the headers and (unless `head_only`) the body.
    ///
    /// Every response closes its connection: the servers in this book handle one request per
    /// connection, and saying so lets clients stop waiting for more.
    ///
    /// # Errors
    ///
    /// Any error from writing to `w`.
    pub fn write_to<W: Write>(&self, w: &mut W, head_only: bool) -> io::Result<()> {
        /// A body this small goes out with the head in one write: one system call, not two, and
        /// no second small segment for Nagle's algorithm to hold back until the first is acked.
        const WITH_THE_HEAD: usize = 16 * 1024;
        let mut head = self.head().into_bytes();
        if head_only {
            w.write_all(&head)?;
        } else if self.body.len() <= WITH_THE_HEAD {
            head.extend_from_slice(&self.body);
            w.write_all(&head)?;
        } else {
            w.write_all(&head)?;
            w.write_all(&self.body)?;
        }
        w.flush()
    }

    fn head(&self) -> String {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status.code, self.status.reason);
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.body.len()
        ));
        head
    }
    // ANCHOR_END: write-to

    /// The whole response as [`Response::write_to`] writes it, head and body, for a caller that
    /// must send it in one write.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = self.head().into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_bytes_is_what_write_to_writes() {
        let response = Response::error(Status::SERVICE_UNAVAILABLE, "busy").with_header("A", "b");
        let mut written = Vec::new();
        response.write_to(&mut written, false).unwrap();
        assert_eq!(response.to_bytes(), written);
    }

    #[test]
    fn writes_length_and_close() {
        let mut out = Vec::new();
        Response::html(Status::OK, "hi")
            .with_header("X-Test", "1")
            .write_to(&mut out, false)
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nX-Test: 1\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\nhi"
        );
    }

    #[test]
    fn head_keeps_the_length_but_not_the_body() {
        let mut out = Vec::new();
        Response::html(Status::OK, "hello")
            .write_to(&mut out, true)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Content-Length: 5\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }
}
