//! The demonstration routes every server stage answers: a page, a slow page, and a 404.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use crate::request::Request;
use crate::response::{Response, Status};

/// The page served at `/` and, after the delay, at `/sleep`.
pub const HELLO_PAGE: &str = include_str!("../pages/hello.html");
/// The page served for any other path.
pub const NOT_FOUND_PAGE: &str = include_str!("../pages/404.html");

/// Whether the demo routes print who served each request (see [`log_jobs`]).
///
/// Process-wide, like a logging library's level: every stage's `main` passes only the `/sleep`
/// delay to [`routes`], and a demonstration option must not add a line to any stage's code.
static LOG_JOBS: AtomicBool = AtomicBool::new(false);

/// Makes the demo routes print one line per request to standard output, naming the thread that
/// serves it and the request: `pool-worker-2: GET /sleep`.
///
/// The stage binaries turn it on with `--log-jobs` ([`crate::cli::ServerArgs`]), which shows
/// which of a pool's workers ran which connection. A thread without a name (stage 2's, one per
/// connection) is named by its id, `ThreadId(7)`, which is unique in the process.
pub fn log_jobs(on: bool) {
    // Relaxed: the flag orders nothing; a request that misses the change by a moment is fine.
    LOG_JOBS.store(on, Ordering::Relaxed);
}

/// Prints the line [`log_jobs`] describes, if it is on.
fn log_job(request: &Request) {
    if !LOG_JOBS.load(Ordering::Relaxed) {
        return;
    }
    let current = thread::current();
    let (method, target) = (&request.method, &request.target);
    // One `println!` per line: it locks standard output, so lines from workers never interleave.
    match current.name() {
        Some(name) => println!("{name}: {method} {target}"),
        None => println!("{:?}: {method} {target}", current.id()),
    }
}

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
        log_job(request);
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
