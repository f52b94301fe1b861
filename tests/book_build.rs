//! The book builds cleanly: mdBook warns about nothing, every include is expanded, and every
//! chapter in `SUMMARY.md` has its page.
//!
//! mdBook does not fail a build over a broken `{{#include}}` or `{{#rustdoc_include}}`: it logs
//! an error and leaves the directive in the page. This test is what turns that into a failure.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use mdbook_driver::MDBook;
use mdbook_driver::book::BookItem;
use poolbook::book;

#[test]
fn the_book_builds_without_warnings_and_with_every_page() {
    let root = book::default_root();
    let out = tempfile::tempdir().unwrap();
    // Its own folder, so a runner serving book/book is not disturbed.
    let built = match book::build_into(&root, &out.path().join("html")) {
        Ok(built) => built,
        Err(error) => {
            let diagnostics: Vec<String> =
                error.diagnostics().iter().map(|d| d.to_string()).collect();
            panic!(
                "{error}: {:#}\nmdBook logged:\n{}",
                error_chain(&error),
                diagnostics.join("\n")
            );
        }
    };

    let mut problems: Vec<String> = built
        .diagnostics
        .iter()
        .map(|d| format!("mdBook logged {d}"))
        .collect();

    // A directive mdBook could not expand stays in the page as `{{#...}}`. (A book that wants to
    // show one literally writes `\{{#...}}`; this one has no reason to.)
    for page in html_files(&built.html_dir) {
        let text = fs::read_to_string(&page).unwrap();
        for (number, line) in text.lines().enumerate().filter(|(_, l)| l.contains("{{#")) {
            problems.push(format!(
                "{}:{}: unexpanded directive: {}",
                page.display(),
                number + 1,
                line.trim()
            ));
        }
    }

    // Every relative link and image in every page leads to a file the build wrote: a plot the
    // sweep did not render, or a chapter renamed under a link, is a broken page.
    for page in html_files(&built.html_dir) {
        let text = fs::read_to_string(&page).unwrap();
        let targets: BTreeSet<&str> = local_targets(&text).into_iter().collect();
        for target in targets {
            let file = page.parent().unwrap().join(target);
            if !file.exists() {
                problems.push(format!(
                    "{}: links to {target}, which the build did not write",
                    page.display()
                ));
            }
        }
    }

    // The chapters as mdBook itself reads SUMMARY.md; draft chapters (no file) have no page.
    let loaded = MDBook::load(&root).unwrap();
    let mut chapters = 0;
    for item in loaded.iter() {
        let BookItem::Chapter(chapter) = item else {
            continue;
        };
        let Some(source) = &chapter.path else {
            continue;
        };
        chapters += 1;
        let page = built.html_dir.join(page_for(source));
        if !page.is_file() {
            problems.push(format!(
                "chapter {:?} ({}) has no page {}",
                chapter.name,
                source.display(),
                page.display()
            ));
        }
    }
    assert!(chapters > 0, "SUMMARY.md lists no chapter");
    assert!(built.html_dir.join("index.html").is_file());
    assert!(built.html_dir.join("print.html").is_file());

    assert!(
        problems.is_empty(),
        "the book has problems:\n{}",
        problems.join("\n")
    );
}

/// The page mdBook writes for a chapter's source file: the same path with `.html`, except that a
/// `README.md` becomes the folder's `index.html`.
fn page_for(source: &Path) -> PathBuf {
    let is_readme = source
        .file_stem()
        .is_some_and(|stem| stem.eq_ignore_ascii_case("readme"));
    if is_readme {
        source.with_file_name("index.html")
    } else {
        source.with_extension("html")
    }
}

/// The paths of the `href` and `src` attributes in `html` that name a file of the book itself:
/// not another site, not a fragment of the same page; without their fragment or query.
fn local_targets(html: &str) -> Vec<&str> {
    let mut targets = Vec::new();
    for attribute in [" href=\"", " src=\""] {
        for (start, _) in html.match_indices(attribute) {
            let value = &html[start + attribute.len()..];
            let Some(end) = value.find('"') else {
                continue;
            };
            let target = value[..end].split(['#', '?']).next().unwrap_or_default();
            let elsewhere = target.contains(':') || target.starts_with("//");
            if !target.is_empty() && !elsewhere {
                targets.push(target);
            }
        }
    }
    targets
}

#[test]
fn local_targets_are_the_books_own_files() {
    let html = r##"<a href="lab-time.html#the-models">x</a> <img src="lab/time.svg" alt="">
        <a href="https://github.com/wg/wrk">wrk</a> <a href="#top">top</a>
        <link href="css/chrome.css?v=1"> <a href="//example.com/x">x</a>"##;
    assert_eq!(
        local_targets(html),
        ["lab-time.html", "css/chrome.css", "lab/time.svg"]
    );
}

fn html_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(html_files(&path));
        } else if path.extension().is_some_and(|e| e == "html") {
            files.push(path);
        }
    }
    files
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut chain = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push(cause.to_string());
        source = cause.source();
    }
    chain.join(": ")
}
