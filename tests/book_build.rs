//! The book builds cleanly: mdBook warns about nothing, every include is expanded, every link
//! and image leads to a page, file or heading of the book, and every chapter in `SUMMARY.md` has
//! its page.
//!
//! mdBook does not fail a build over a broken `{{#include}}` or `{{#rustdoc_include}}`: it logs
//! an error and leaves the directive in the page. This test is what turns that into a failure.

use std::collections::{BTreeMap, BTreeSet};
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

    // Every relative link and image in every page leads to a file the build wrote, and every
    // fragment to an element of that page: a plot the sweep did not render, a chapter renamed
    // under a link, or a heading reworded under a `#section` link is a broken page.
    let mut ids = IdCache::default();
    for page in html_files(&built.html_dir) {
        let text = fs::read_to_string(&page).unwrap();
        let links: BTreeSet<Link> = local_links(&text).into_iter().collect();
        for Link { path, fragment } in links {
            let file = if path.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(path)
            };
            if !file.exists() {
                problems.push(format!(
                    "{}: links to {path}, which the build did not write",
                    page.display()
                ));
            } else if let Some(fragment) = fragment
                && !ids.of(&file).contains(fragment)
            {
                problems.push(format!(
                    "{}: links to {path}#{fragment}, which has no element with that id",
                    page.display()
                ));
            }
        }
    }

    // A listing shows code, not the markers that select it. mdBook drops `ANCHOR` lines only
    // from what an anchored include selects: a whole-file include shows them, and so does a
    // patch whose context lines happen to hold one.
    let mut still_showing = BTreeSet::new();
    for page in html_files(&built.html_dir) {
        let name = page_name(&built.html_dir, &page);
        if name == "print.html" {
            continue; // every chapter again, each checked on its own page
        }
        let text = fs::read_to_string(&page).unwrap();
        let shown = anchor_lines_in_code(&text);
        if shown.is_empty() {
            continue;
        }
        if KNOWN_TO_SHOW_ANCHORS.contains(&name.as_str()) {
            still_showing.insert(name);
            continue;
        }
        problems.push(format!(
            "{name} shows anchor markers in its code (include the file through an anchor, `PATH:name`, \
             that leaves them out; for a bug patch, wrap the patch in `ANCHOR: bug` … \
             `ANCHOR_END: bug` lines, which `git apply` skips):\n    {}",
            shown.join("\n    ")
        ));
    }
    for known in KNOWN_TO_SHOW_ANCHORS {
        if !still_showing.contains(*known) {
            problems.push(format!(
                "{known} no longer shows anchor markers: remove it from KNOWN_TO_SHOW_ANCHORS"
            ));
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

/// Pages that still show anchor markers in their code, each for a reason outside this test: the
/// bug patches they include have anchor lines in their context, and their chapters are being
/// re-staged. Wrap those patches in `ANCHOR: bug` … `ANCHOR_END: bug` lines, include them as
/// `bug.patch:bug`, and take the page off this list (the test fails until you do, so the list
/// only shrinks).
const KNOWN_TO_SHOW_ANCHORS: &[&str] = &[];

/// `page`'s path under `html_dir`, with `/` between folders.
fn page_name(html_dir: &Path, page: &Path) -> String {
    let relative = page.strip_prefix(html_dir).unwrap_or(page);
    relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The lines inside `<code>` elements of `html` that hold an mdBook anchor marker, trimmed and
/// with their markup removed.
fn anchor_lines_in_code(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<code") {
        let code = &rest[start..];
        let end = code.find("</code>").unwrap_or(code.len());
        for line in code[..end].lines() {
            let text = strip_tags(line);
            if text.contains("ANCHOR:") || text.contains("ANCHOR_END:") {
                found.push(text.trim().to_owned());
            }
        }
        rest = &code[end..];
    }
    found
}

/// `line` without its HTML tags (syntax highlighting wraps words in `<span>`s).
fn strip_tags(line: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in line.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

#[test]
fn anchor_markers_are_found_in_code_and_nowhere_else() {
    let html = "<p>The ANCHOR: lines are markers.</p>\n\
        <pre><code class=\"language-rust\">fn a() {}\n\
        <span class=\"hljs-comment\">// ANCHOR: worker-loop</span>\n\
        loop {}\n   // ANCHOR_END: worker-loop\n</code></pre>\n\
        <p><code>ANCHOR_END</code> alone is prose.</p>";
    assert_eq!(
        anchor_lines_in_code(html),
        ["// ANCHOR: worker-loop", "// ANCHOR_END: worker-loop"]
    );
    assert!(anchor_lines_in_code("<pre><code>fn a() {}</code></pre>").is_empty());
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

/// A link from a page to a file of the book itself, and to an element of it if it names one.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Link<'a> {
    /// Relative to the linking page; empty for a fragment of the page itself.
    path: &'a str,
    fragment: Option<&'a str>,
}

/// The `href` and `src` attributes in `html` that name the book's own files or elements: not
/// another site, and not a bare `#`; without their query.
fn local_links(html: &str) -> Vec<Link<'_>> {
    let mut links = Vec::new();
    for attribute in [" href=\"", " src=\""] {
        for (start, _) in html.match_indices(attribute) {
            let value = &html[start + attribute.len()..];
            let Some(end) = value.find('"') else {
                continue;
            };
            let (target, fragment) = match value[..end].split_once('#') {
                Some((target, fragment)) => (target, Some(fragment).filter(|f| !f.is_empty())),
                None => (&value[..end], None),
            };
            let path = target.split('?').next().unwrap_or_default();
            let elsewhere = path.contains(':') || path.starts_with("//");
            if !elsewhere && (!path.is_empty() || fragment.is_some()) {
                links.push(Link { path, fragment });
            }
        }
    }
    links
}

/// The `id` attributes of each page read so far, so that a page linked from every other is read
/// once.
#[derive(Default)]
struct IdCache(BTreeMap<PathBuf, BTreeSet<String>>);

impl IdCache {
    fn of(&mut self, page: &Path) -> &BTreeSet<String> {
        self.0.entry(page.to_owned()).or_insert_with(|| {
            let html = fs::read_to_string(page).unwrap_or_default();
            ids(&html).map(str::to_owned).collect()
        })
    }
}

fn ids(html: &str) -> impl Iterator<Item = &str> {
    html.match_indices(" id=\"")
        .filter_map(move |(start, attribute)| {
            let value = &html[start + attribute.len()..];
            value.find('"').map(|end| &value[..end])
        })
}

#[test]
fn local_links_are_to_the_books_own_files_and_elements() {
    let html = r##"<a href="lab-time.html#the-models">x</a> <img src="lab/time.svg" alt="">
        <a href="https://github.com/wg/wrk">wrk</a> <a href="#top">top</a> <a href="#">menu</a>
        <link href="css/chrome.css?v=1"> <a href="//example.com/x">x</a>"##;
    let link = |path, fragment| Link { path, fragment };
    assert_eq!(
        local_links(html),
        [
            link("lab-time.html", Some("the-models")),
            link("", Some("top")),
            link("css/chrome.css", None),
            link("lab/time.svg", None),
        ]
    );
}

#[test]
fn ids_are_read_from_every_element() {
    let html = r##"<h2 id="the-models"><a class="header" href="#the-models">x</a></h2>
        <div id="top" class="x"></div><p data-id="not-this">"##;
    assert_eq!(ids(html).collect::<Vec<_>>(), ["the-models", "top"]);
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
