//! A static-file handler that never serves anything outside its folder.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use percent_encoding::percent_decode_str;

use crate::request::Request;
use crate::resources::is_exhaustion;
use crate::response::{Response, Status};

/// Serves the files below one folder, as `cargo run` does with the built book.
///
/// A request path is percent-decoded once and mapped onto the folder segment by segment. Paths
/// that could climb out are refused before the file system is touched (`..` segments, encoded
/// slashes or backslashes, NUL bytes: `400`), and what remains is resolved and checked to lie
/// inside the folder, so a symbolic link that points outside is answered `404` like a missing file.
#[derive(Debug, Clone)]
pub struct StaticFiles {
    root: PathBuf,
}

impl StaticFiles {
    /// A handler for the files below `root`.
    ///
    /// # Errors
    ///
    /// If `root` does not exist or cannot be resolved.
    pub fn new(root: impl AsRef<Path>) -> io::Result<StaticFiles> {
        Ok(StaticFiles {
            root: fs::canonicalize(root)?,
        })
    }

    /// The folder being served, fully resolved.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Answers one request.
    pub fn handle(&self, request: &Request) -> Response {
        if request.method != "GET" && request.method != "HEAD" {
            return Response::error(Status::METHOD_NOT_ALLOWED, "only GET and HEAD are served")
                .with_header("Allow", "GET, HEAD");
        }
        let relative = match relative_path(request.path()) {
            Ok(relative) => relative,
            Err(why) => return Response::error(Status::BAD_REQUEST, why),
        };
        match self.read(&relative) {
            Ok(Some((path, body))) => {
                let mime = mime_guess::from_path(&path).first_or_octet_stream();
                Response::new(Status::OK, mime.essence_str(), body)
            }
            Ok(None) => self.not_found(),
            Err(e) => {
                // The file may well exist: saying 404 would be a lie a cache could keep.
                eprintln!("cannot read {}: {e}", request.path());
                Response::error(
                    Status::SERVICE_UNAVAILABLE,
                    "the server is short of resources; try again shortly",
                )
                .with_header("Retry-After", "1")
            }
        }
    }

    // ANCHOR: read
    /// Reads the file a relative path names (`index.html` for a folder), if it lies inside root:
    /// `Ok(None)` if there is no such file to serve (or it cannot be read for any reason but a
    /// shortage), an error only when resources ran out ([`is_exhaustion`]).
    fn read(&self, relative: &Path) -> io::Result<Option<(PathBuf, Vec<u8>)>> {
        let found = |result: io::Result<PathBuf>| match result {
            Ok(path) => Ok(Some(path)),
            Err(e) if is_exhaustion(&e) => Err(e),
            Err(_) => Ok(None),
        };
        let Some(mut path) = found(fs::canonicalize(self.root.join(relative)))? else {
            return Ok(None);
        };
        if path.is_dir() {
            let Some(index) = found(fs::canonicalize(path.join("index.html")))? else {
                return Ok(None);
            };
            path = index;
        }
        if !path.starts_with(&self.root) || !path.is_file() {
            return Ok(None);
        }
        match fs::read(&path) {
            Ok(body) => Ok(Some((path, body))),
            Err(e) if is_exhaustion(&e) => Err(e),
            Err(_) => Ok(None),
        }
    }
    // ANCHOR_END: read

    /// The folder's own `404.html` if it has one (mdBook writes one), else a plain page.
    fn not_found(&self) -> Response {
        match fs::read(self.root.join("404.html")) {
            Ok(page) => Response::html(Status::NOT_FOUND, page),
            Err(_) => Response::error(Status::NOT_FOUND, "no such file"),
        }
    }
}

// ANCHOR: relative-path
/// Maps a request path onto a relative file path, or says why it is refused.
fn relative_path(path: &str) -> Result<PathBuf, &'static str> {
    let lower = path.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") {
        return Err("encoded slashes are not allowed in paths");
    }
    let decoded = percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| "the path is not UTF-8 once decoded")?;
    if decoded.contains(['\0', '\\']) {
        return Err("the path has a NUL byte or a backslash");
    }
    let mut relative = PathBuf::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Err("`..` is not allowed in paths"),
            segment => {
                // On Windows `C:` would make the join absolute; refuse anything that is not a
                // plain name.
                let mut components = Path::new(segment).components();
                match (components.next(), components.next()) {
                    (Some(Component::Normal(_)), None) => relative.push(segment),
                    _ => return Err("the path has a segment that is not a plain name"),
                }
            }
        }
    }
    Ok(relative)
}
// ANCHOR_END: relative-path

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Version;

    fn request(target: &str) -> Request {
        Request {
            method: "GET".to_owned(),
            target: target.to_owned(),
            version: Version::Http11,
            headers: Vec::new(),
        }
    }

    fn site() -> (tempfile::TempDir, StaticFiles) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("site");
        fs::create_dir_all(root.join("css")).unwrap();
        fs::write(root.join("index.html"), "<p>index</p>").unwrap();
        fs::write(root.join("css/style.css"), "p {}").unwrap();
        fs::write(root.join("a b.js"), "1").unwrap();
        fs::write(dir.path().join("secret.txt"), "secret").unwrap();
        let files = StaticFiles::new(&root).unwrap();
        (dir, files)
    }

    #[test]
    fn serves_files_with_their_types() {
        let (_dir, files) = site();
        let index = files.handle(&request("/"));
        assert_eq!(index.status, Status::OK);
        assert_eq!(index.body, b"<p>index</p>");
        assert_eq!(index.headers[0].1, "text/html");
        let css = files.handle(&request("/css/style.css?v=1"));
        assert_eq!(css.headers[0].1, "text/css");
        let js = files.handle(&request("/a%20b.js"));
        assert_eq!(js.status, Status::OK);
        assert!(js.headers[0].1.ends_with("javascript"));
    }

    #[test]
    fn nothing_outside_the_root_is_served() {
        let (_dir, files) = site();
        for target in [
            "/../secret.txt",
            "/css/../../secret.txt",
            "/%2e%2e/secret.txt",
            "/%2E%2E/secret.txt",
            "/..%2fsecret.txt",
            "/..%5csecret.txt",
            "/%00",
        ] {
            let response = files.handle(&request(target));
            assert_eq!(response.status, Status::BAD_REQUEST, "{target}");
        }
        assert_eq!(
            files.handle(&request("//secret.txt")).status,
            Status::NOT_FOUND
        );
        assert_eq!(
            files.handle(&request("/nope.html")).status,
            Status::NOT_FOUND
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_out_of_the_root_is_not_followed() {
        let (dir, files) = site();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), files.root().join("link.txt"))
            .unwrap();
        assert_eq!(
            files.handle(&request("/link.txt")).status,
            Status::NOT_FOUND
        );
    }
}
