//! The first server of chapter 1, as a reader writes it before any library: accept a
//! connection, read the request line, route `/` and `/sleep`, write a response, repeat.
//!
//! `cargo run -p ch01-single-threaded --example minimal`, then `curl -i http://127.0.0.1:7879/`.
//! The stages from `ch01-single-threaded`'s library on use `poolbook_http`, a hardened version of
//! the same moves; this file is the reader-sized version the chapter explains them with.

// ANCHOR: main
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use poolbook_http::hello::{HELLO_PAGE, NOT_FOUND_PAGE};

fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:7879")?;
    println!("Listening on http://127.0.0.1:7879");
    for stream in listener.incoming() {
        let handled = stream.and_then(|stream| handle_connection(stream, Duration::from_secs(5)));
        if let Err(e) = handled {
            eprintln!("connection failed: {e}");
        }
    }
    Ok(())
}
// ANCHOR_END: main

// ANCHOR: read-request
/// Reads one request from `stream`, answers it, and closes the connection; `/sleep` waits
/// `delay` before answering.
fn handle_connection(mut stream: TcpStream, delay: Duration) -> io::Result<()> {
    let mut lines = BufReader::new(&stream).lines();
    let Some(request_line) = lines.next() else {
        return Ok(()); // the client closed the connection without a request
    };
    let request_line = request_line?;
    // The headers are read up to the blank line that ends them, though nothing here uses them:
    // closing a socket with data still unread makes the kernel reset the connection, and the
    // client may lose the response.
    for line in &mut lines {
        if line?.is_empty() {
            break;
        }
    }
    // ANCHOR_END: read-request

    // ANCHOR: route
    let (status, page) = match request_line.as_str() {
        "GET / HTTP/1.1" => ("200 OK", HELLO_PAGE),
        "GET /sleep HTTP/1.1" => {
            thread::sleep(delay);
            ("200 OK", HELLO_PAGE)
        }
        _ => ("404 Not Found", NOT_FOUND_PAGE),
    };
    // ANCHOR_END: route

    // ANCHOR: respond
    let length = page.len();
    let response = format!(
        "HTTP/1.1 {status}\r\n\
         Content-Type: text/html; charset=utf-8\r\n\
         Content-Length: {length}\r\n\
         Connection: close\r\n\
         \r\n\
         {page}"
    );
    stream.write_all(response.as_bytes())
}
// ANCHOR_END: respond

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    // ANCHOR: routes-test
    #[test]
    fn answers_the_page_the_slow_page_and_404() {
        let page = exchange("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
        assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
        assert!(page.ends_with(HELLO_PAGE));

        let slow = exchange("GET /sleep HTTP/1.1\r\nHost: localhost\r\n\r\n");
        assert_eq!(slow, page);

        let missing = exchange("GET /nothing HTTP/1.1\r\nHost: localhost\r\n\r\n");
        assert!(missing.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(missing.ends_with(NOT_FOUND_PAGE));
    }
    // ANCHOR_END: routes-test

    #[test]
    fn says_how_long_the_body_is() {
        let page = exchange("GET / HTTP/1.1\r\n\r\n");
        let length = format!("\r\nContent-Length: {}\r\n", HELLO_PAGE.len());
        assert!(page.contains(&length), "{page}");
    }

    #[test]
    fn a_client_that_sends_nothing_gets_nothing() {
        assert_eq!(exchange(""), "");
    }

    // ANCHOR: exchange
    /// Sends `request` on a fresh connection, lets `handle_connection` serve it on this thread
    /// (with no delay for `/sleep`), and returns everything the server wrote.
    ///
    /// One thread is enough: `connect` returns once the kernel has completed the handshake, the
    /// request waits in the socket's buffer until `handle_connection` reads it, and the response
    /// waits in the client's buffer until it is read here.
    fn exchange(request: &str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        // A watchdog, not a synchronisation: a bug that leaves a read waiting fails the test.
        client
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        client.write_all(request.as_bytes()).unwrap();
        // The end of what the client sends, so that a request cut short, or none at all, ends
        // the server's reading instead of leaving it waiting.
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let (server, _) = listener.accept().unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        handle_connection(server, Duration::ZERO).unwrap();
        let mut response = String::new();
        client.read_to_string(&mut response).unwrap();
        response
    }
    // ANCHOR_END: exchange
}
