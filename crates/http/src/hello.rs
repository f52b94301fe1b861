//! The demonstration routes every server stage answers: a page, a slow page, and a 404.

use std::thread;
use std::time::Duration;

use crate::request::Request;
use crate::response::{Response, Status};

/// The page served at `/` and, after the delay, at `/sleep`.
pub const HELLO_PAGE: &str = include_str!("../pages/hello.html");
/// The page served for any other path.
pub const NOT_FOUND_PAGE: &str = include_str!("../pages/404.html");

// ANCHOR: routes
/// The routes of the book's demo server.
///
/// - `GET /` answers at once with [`HELLO_PAGE`];
/// - `GET /sleep` waits `sleep` first, standing in for a slow request (a big query, a slow disk);
/// - any other path gets `404 Not Found`, any other method `405 Method Not Allowed`.
///
/// `HEAD` gets the same response as `GET`; [`crate::connection::handle_connection`] leaves out
/// the body.
pub fn routes(sleep: Duration) -> impl Fn(&Request) -> Response + Send + Sync + Clone + 'static {
    move |request: &Request| {
        if request.method != "GET" && request.method != "HEAD" {
            return Response::error(Status::METHOD_NOT_ALLOWED, "only GET and HEAD are served")
                .with_header("Allow", "GET, HEAD");
        }
        match request.path() {
            "/" => Response::html(Status::OK, HELLO_PAGE),
            "/sleep" => {
                thread::sleep(sleep);
                Response::html(Status::OK, HELLO_PAGE)
            }
            _ => Response::html(Status::NOT_FOUND, NOT_FOUND_PAGE),
        }
    }
}
// ANCHOR_END: routes

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Version;

    fn get(method: &str, target: &str) -> Response {
        let request = Request {
            method: method.to_owned(),
            target: target.to_owned(),
            version: Version::Http11,
            headers: Vec::new(),
        };
        routes(Duration::ZERO)(&request)
    }

    #[test]
    fn routes_answer_as_documented() {
        assert_eq!(get("GET", "/").status, Status::OK);
        assert_eq!(get("GET", "/sleep").status, Status::OK);
        assert_eq!(get("HEAD", "/?q").status, Status::OK);
        assert_eq!(get("GET", "/nope").status, Status::NOT_FOUND);
        let post = get("POST", "/");
        assert_eq!(post.status, Status::METHOD_NOT_ALLOWED);
        assert!(
            post.headers
                .iter()
                .any(|(n, v)| n == "Allow" && v == "GET, HEAD")
        );
    }
}
