//! The reader's progress as the served book shows it: `/progress.json`, read by the book's
//! `progress.js`.
//!
//! The runner answers `/progress.json` beside the book's files, from the progress file and the
//! reader's copies, as `cargo run -- exercises` lists them. Each chapter with an exercise shows
//! its status and the command to go on with; the table of contents marks the passing ones. A
//! book served by anything else (GitHub Pages, `mdbook serve`) has no such answer, and the script
//! shows nothing.

use poolbook_http::request::Request;
use poolbook_http::response::{Response, Status as HttpStatus};
use serde::Serialize;

use crate::exercise::{self, Status, Workbook};

/// The path the book's script asks for.
pub const PATH: &str = "/progress.json";

/// Every exercise's status, as `/progress.json` sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// One entry per exercise, by number.
    pub exercises: Vec<Entry>,
}

/// One exercise in a [`Report`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The exercise's number (its chapter's).
    pub number: u32,
    /// Its chapter's page in the book (the stage's folder name, `.html`).
    pub page: String,
    /// `not-started`, `started`, `failing` or `passing`.
    pub status: &'static str,
    /// What the status means, for the badge: `Not started`, …
    pub label: &'static str,
    /// The runner command that goes on from here.
    pub command: String,
}

/// The report for `workbook`, read without changing anything: a broken progress file is shown
/// as the runner's commands would rebuild it, and left for them to repair.
///
/// # Errors
///
/// If the stages or the progress file cannot be read.
pub fn report(workbook: &Workbook) -> Result<Report, exercise::Error> {
    let progress = workbook.load_progress()?.progress;
    Ok(Report {
        exercises: exercise::list_with(workbook, &progress)?
            .into_iter()
            .map(|listed| {
                let number = listed.number;
                let (status, label, command) = match listed.status {
                    Status::NotStarted => ("not-started", "Not started", "start"),
                    Status::Started => ("started", "Started, not checked yet", "watch"),
                    Status::Failing => ("failing", "Not passing yet", "watch"),
                    Status::Passing => ("passing", "Passing", "solution"),
                };
                Entry {
                    number,
                    page: format!("{}.html", listed.stage),
                    status,
                    label,
                    command: format!("cargo run -- {command} {number}"),
                }
            })
            .collect(),
    })
}

/// The answer to a request for [`PATH`]: the report as JSON, never cached (it changes as the
/// reader works), or a 500 that says why there is none.
pub fn respond(workbook: &Workbook, request: &Request) -> Response {
    if request.method != "GET" && request.method != "HEAD" {
        return Response::error(
            HttpStatus::METHOD_NOT_ALLOWED,
            "only GET and HEAD are served",
        )
        .with_header("Allow", "GET, HEAD");
    }
    let body = report(workbook)
        .map_err(|e| e.to_string())
        .and_then(|report| serde_json::to_vec(&report).map_err(|e| e.to_string()));
    match body {
        Ok(body) => Response::new(HttpStatus::OK, "application/json", body)
            .with_header("Cache-Control", "no-store"),
        Err(why) => {
            eprintln!("cannot answer {PATH}: {why}");
            Response::error(
                HttpStatus::INTERNAL_SERVER_ERROR,
                "the exercises' progress cannot be read; the runner's terminal says why",
            )
            .with_header("Cache-Control", "no-store")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exercise::tests::fixture;
    use crate::exercise::{Checked, start};
    use poolbook_http::request::Version;

    fn get(path: &str) -> Request {
        Request {
            method: "GET".to_owned(),
            target: path.to_owned(),
            version: Version::Http11,
            headers: Vec::new(),
        }
    }

    #[test]
    fn the_report_follows_the_copies_and_the_progress_file() {
        let dir = fixture();
        let workbook = Workbook::new(dir.path());
        let statuses = |workbook: &Workbook| -> Vec<(u32, &'static str, String, String)> {
            report(workbook)
                .unwrap()
                .exercises
                .into_iter()
                .map(|e| (e.number, e.status, e.page, e.command))
                .collect()
        };
        assert_eq!(
            statuses(&workbook),
            [
                (
                    3,
                    "not-started",
                    "ch03-add.html".into(),
                    "cargo run -- start 3".into()
                ),
                (
                    4,
                    "not-started",
                    "ch04-more.html".into(),
                    "cargo run -- start 4".into()
                ),
            ]
        );
        start(&workbook, 3, false).unwrap();
        assert_eq!(statuses(&workbook)[0].1, "started");
        assert_eq!(statuses(&workbook)[0].3, "cargo run -- watch 3");
        let exercise = workbook.exercise(3).unwrap();
        for (checked, status, command) in [
            (Checked::Failing, "failing", "cargo run -- watch 3"),
            (Checked::Passing, "passing", "cargo run -- solution 3"),
        ] {
            let mut progress = workbook.progress().unwrap();
            progress.record_mut(&exercise).checked = Some(checked);
            progress.save(&workbook.progress_path()).unwrap();
            assert_eq!(statuses(&workbook)[0].1, status);
            assert_eq!(statuses(&workbook)[0].3, command);
        }
    }

    #[test]
    fn a_broken_progress_file_is_shown_rebuilt_and_left_for_the_commands() {
        let dir = fixture();
        let workbook = Workbook::new(dir.path());
        start(&workbook, 3, false).unwrap();
        std::fs::write(workbook.progress_path(), "{").unwrap();
        assert_eq!(report(&workbook).unwrap().exercises[0].status, "started");
        assert_eq!(std::fs::read(workbook.progress_path()).unwrap(), b"{");
    }

    #[test]
    fn the_answer_is_json_never_cached() {
        let dir = fixture();
        let workbook = Workbook::new(dir.path());
        let response = respond(&workbook, &get(PATH));
        assert_eq!(response.status.code, 200);
        let header = |name: &str| {
            response
                .headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("Content-Type"), Some("application/json"));
        assert_eq!(header("Cache-Control"), Some("no-store"));
        let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(json["exercises"][0]["label"], "Not started");

        let mut post = get(PATH);
        post.method = "POST".to_owned();
        assert_eq!(respond(&workbook, &post).status.code, 405);

        let missing = Workbook::new(dir.path().join("nowhere"));
        assert_eq!(respond(&missing, &get(PATH)).status.code, 500);
    }
}
