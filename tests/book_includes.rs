//! Checks every `{{#include}}` in the book, because mdBook does not.
//!
//! mdBook logs an error and carries on when an included file is missing, and includes nothing, or
//! the rest of the file, for a misspelt anchor; `mdbook build` still exits 0. This test reads every
//! `book/src/**/*.md` the way mdBook's link preprocessor does and fails, listing every problem
//! with its file and line, when:
//!
//! - an included file does not exist;
//! - a named anchor has no `ANCHOR: name` … `ANCHOR_END: name` pair in the file, or the region
//!   between them is empty (for `rustdoc_include`, all regions with that name together);
//! - a numeric line range is used on anything but a `.snap` file (line numbers go stale silently;
//!   use an anchor), or a `.snap` file is included other than from the line after its insta
//!   header to its end (`output.snap:4:`);
//! - an included `.rs` or `.toml` file lies outside the crates the workspace's `members` name
//!   (`chapters/*`, `crates/*`, `measure/*`), so that the book only shows code that a workspace
//!   member builds and tests;
//! - the book includes nothing at all, so that this test cannot pass vacuously;
//! - the prose cites a line ("asleep on line 205") that no compiler or loom report the same page
//!   includes shows: the reports are snapshots that tests keep true, but a number typed into a
//!   sentence is not, and goes stale when the code above it moves.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Component, Path, PathBuf};

use poolbook::scratch::workspace_members;

/// What an include directive does with the file it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `{{#include}}`: the selected lines only.
    Include,
    /// `{{#rustdoc_include}}`: the whole file, lines outside the selection hidden behind `# `.
    RustdocInclude,
    /// `{{#playground}}` (or its old name `{{#playpen}}`): the whole file.
    Playground,
}

/// Which lines of the file a directive selects, as mdBook reads the part after the path's `:`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Selector {
    /// No selector, or one mdBook reads as the whole file (`PATH:`, `PATH::`).
    Whole,
    /// `PATH:name`.
    Anchor(String),
    /// `PATH:N` (`start == end`), `PATH:N:`, `PATH:N:M`, `PATH::M`: 1-based, inclusive.
    Lines {
        start: Option<usize>,
        end: Option<usize>,
    },
}

/// One include directive found in a Markdown file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Link {
    kind: Kind,
    /// The 1-based line the directive starts on.
    line: usize,
    /// The path as written, relative to the Markdown file's folder.
    path: String,
    selector: Selector,
}

/// Finds the include directives in `text` as mdBook's link preprocessor does.
///
/// mdBook matches, leftmost first, either an escaped directive `\{{#` … `}}` (which swallows
/// everything up to the *last* `}}` on its line) or `{{`, optional whitespace, `#`, a name of
/// `[A-Za-z0-9_]`, whitespace, then anything but `}` (newlines included) up to `}}`. The first
/// whitespace-separated word of that last part is the path, with an optional `:` selector.
fn find_links(text: &str) -> Vec<Link> {
    let mut links = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if rest.starts_with("\\{{#") {
            let line = &rest[..rest.find('\n').unwrap_or(rest.len())];
            if let Some(close) = line.rfind("}}").filter(|&close| close >= 4) {
                i += close + 2;
                continue;
            }
        }
        if rest.starts_with("{{")
            && let Some((link, len)) = parse_directive(rest)
        {
            if let Some((kind, path, selector)) = link {
                let line = text[..i].matches('\n').count() + 1;
                links.push(Link {
                    kind,
                    line,
                    path,
                    selector,
                });
            }
            i += len;
            continue;
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    links
}

/// What [`parse_directive`] found: a file include, or `None` for another directive (`title`, or a
/// name mdBook does not know, which it leaves as text).
type Directive = Option<(Kind, String, Selector)>;

/// Parses a directive at the start of `rest` (which starts with `{{`); returns it and its length
/// in bytes, or `None` if mdBook would not match a directive here.
fn parse_directive(rest: &str) -> Option<(Directive, usize)> {
    let after_braces = &rest[2..];
    let after_space = after_braces.trim_start();
    let after_hash = after_space.strip_prefix('#')?;
    let name_len = after_hash
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(after_hash.len());
    let (name, after_name) = after_hash.split_at(name_len);
    let args_len = after_name.find('}')?;
    let args = &after_name[..args_len];
    // `\s+` then `[^}]+`: at least one whitespace character, then at least one more character.
    if name.is_empty() || !args.starts_with(char::is_whitespace) || args.chars().count() < 2 {
        return None;
    }
    if !after_name[args_len..].starts_with("}}") {
        return None;
    }
    let len = rest.len() - after_name.len() + args_len + 2;
    let kind = match name {
        "include" => Kind::Include,
        "rustdoc_include" => Kind::RustdocInclude,
        "playground" | "playpen" => Kind::Playground,
        _ => return Some((None, len)),
    };
    let Some(target) = args.split_whitespace().next() else {
        return Some((None, len));
    };
    let (path, selector) = match kind {
        Kind::Playground => (target.to_owned(), Selector::Whole),
        Kind::Include | Kind::RustdocInclude => match target.split_once(':') {
            Some((path, selector)) => (path.to_owned(), parse_selector(selector)),
            None => (target.to_owned(), Selector::Whole),
        },
    };
    Some((Some((kind, path, selector)), len))
}

/// Reads what follows a path's first `:`, exactly as mdBook's `parse_range_or_anchor` does.
fn parse_selector(selector: &str) -> Selector {
    let mut parts = selector.splitn(3, ':');
    let first = parts.next().unwrap_or("");
    let start = match first.parse::<usize>() {
        Ok(start) => Some(start),
        Err(_) if first.is_empty() => None,
        Err(_) => return Selector::Anchor(first.to_owned()),
    };
    let end = parts.next().map(str::parse::<usize>);
    match (start, end) {
        (Some(start), None) => Selector::Lines {
            start: Some(start),
            end: Some(start),
        },
        (Some(start), Some(Ok(end))) => Selector::Lines {
            start: Some(start),
            end: Some(end),
        },
        (Some(start), Some(Err(_))) => Selector::Lines {
            start: Some(start),
            end: None,
        },
        (None, Some(Ok(end))) => Selector::Lines {
            start: None,
            end: Some(end),
        },
        (None, None | Some(Err(_))) => Selector::Whole,
    }
}

/// The anchor name a line opens (`marker` = `ANCHOR:`) or closes (`ANCHOR_END:`), matched as
/// mdBook's `MARKER\s*([\w_-]+)` anywhere in the line.
fn anchor_marker<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(found) = line[from..].find(marker) {
        let after = line[from + found + marker.len()..].trim_start();
        let len = after
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(after.len());
        if len > 0 {
            return Some(&after[..len]);
        }
        from += found + marker.len();
    }
    None
}

/// One `ANCHOR: name` … `ANCHOR_END: name` region of a file.
#[derive(Debug)]
struct Region {
    /// The 1-based line of `ANCHOR: name`.
    start: usize,
    /// Whether `ANCHOR_END: name` follows.
    closed: bool,
    /// Whether a line that mdBook shows (any line without an anchor marker) is not blank.
    has_content: bool,
}

/// The regions of `text` named `name`, in order, as mdBook's `rustdoc_include` reads them
/// (`include` shows the first only).
fn anchored_regions(text: &str, name: &str) -> Vec<Region> {
    let mut regions: Vec<Region> = Vec::new();
    let mut inside = false;
    for (index, line) in text.lines().enumerate() {
        let opens = anchor_marker(line, "ANCHOR:");
        let closes = anchor_marker(line, "ANCHOR_END:");
        if inside {
            if closes == Some(name) {
                inside = false;
                regions.last_mut().expect("inside a region").closed = true;
            } else if opens.is_none() && closes.is_none() && !line.trim().is_empty() {
                regions.last_mut().expect("inside a region").has_content = true;
            }
        } else if opens == Some(name) {
            inside = true;
            regions.push(Region {
                start: index + 1,
                closed: false,
                has_content: false,
            });
        }
    }
    regions
}

/// The 1-based line of the `---` that closes a snapshot's insta header.
fn snapshot_header_end(text: &str) -> Option<usize> {
    let mut lines = text.lines();
    if lines.next() != Some("---") {
        return None;
    }
    lines.position(|line| line == "---").map(|index| index + 2)
}

/// The problems with what `link` selects from `text`, the content of `path`.
fn check_selection(link: &Link, path: &Path, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let is_snapshot = path.extension().is_some_and(|ext| ext == "snap");
    if is_snapshot {
        match snapshot_header_end(text) {
            None => problems.push("this .snap file has no insta header (`---` … `---`)".to_owned()),
            Some(header_end) => {
                let wanted = Selector::Lines {
                    start: Some(header_end + 1),
                    end: None,
                };
                if link.selector != wanted {
                    problems.push(format!(
                        "include a snapshot from the line after its header to its end, \
                         `{}:{}:`, so that the insta header is left out and nothing is cut off",
                        link.path,
                        header_end + 1
                    ));
                }
            }
        }
        return problems;
    }
    match &link.selector {
        Selector::Whole => {}
        Selector::Lines { .. } => problems.push(
            "a line range goes stale silently when the file changes: mark the lines with \
             `ANCHOR: name` … `ANCHOR_END: name` and include `PATH:name`"
                .to_owned(),
        ),
        Selector::Anchor(name) => {
            let mut regions = anchored_regions(text, name);
            if link.kind == Kind::Include {
                regions.truncate(1);
            }
            if regions.is_empty() {
                problems.push(format!("no `ANCHOR: {name}` in the file"));
            }
            for region in regions.iter().filter(|region| !region.closed) {
                problems.push(format!(
                    "`ANCHOR: {name}` on line {} has no `ANCHOR_END: {name}` after it",
                    region.start
                ));
            }
            if !regions.is_empty() && !regions.iter().any(|region| region.has_content) {
                problems.push(format!("the region `{name}` is empty"));
            }
        }
    }
    problems
}

/// `path` with `.` and `..` resolved without touching the file system.
fn normalize_path(path: &Path) -> PathBuf {
    let mut normalized = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normalized.pop();
            }
            other => normalized.push(other),
        }
    }
    normalized
}

/// The folders that hold the workspace's members (`chapters/`, `crates/`, …), for messages:
/// `chapters/, crates/ and measure/`.
fn member_folders(root: &Path, members: &[PathBuf]) -> String {
    let folders: BTreeSet<String> = members
        .iter()
        .map(|member| {
            let folder = member.parent().filter(|parent| *parent != root);
            format!("{}/", display(root, folder.unwrap_or(member)))
        })
        .collect();
    let folders: Vec<String> = folders.into_iter().collect();
    match folders.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => "the workspace's members (it has none)".to_owned(),
    }
}

/// The problems with one include in `md` (a file in `root`, whose workspace's members are in
/// `members`).
fn check_link(root: &Path, members: &[PathBuf], md: &Path, link: &Link) -> Vec<String> {
    if link.path.is_empty() {
        return vec!["the directive names no file".to_owned()];
    }
    let folder = md.parent().expect("a Markdown file is in a folder");
    let path = normalize_path(&folder.join(&link.path));
    if !path.is_file() {
        return vec![format!("{} does not exist", display(root, &path))];
    }
    let mut problems = Vec::new();
    let is_code = path
        .extension()
        .is_some_and(|ext| ext == "rs" || ext == "toml");
    let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
    let in_member = members.iter().any(|member| {
        canonical.starts_with(member.canonicalize().unwrap_or_else(|_| member.clone()))
    });
    if is_code && !in_member {
        problems.push(format!(
            "{} is outside {}: the book includes only code that a workspace member builds and \
             tests",
            display(root, &path),
            member_folders(root, members)
        ));
    }
    match fs::read_to_string(&path) {
        Ok(text) => problems.extend(check_selection(link, &path, &text)),
        Err(e) => problems.push(format!("reading {}: {e}", display(root, &path))),
    }
    problems
}

fn display(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The book's source folder, from `book/book.toml`'s `book.src` (mdBook's default: `src`).
fn book_src(root: &Path) -> PathBuf {
    let book = root.join("book");
    let config: toml::Table = fs::read_to_string(book.join("book.toml"))
        .expect("reading book/book.toml")
        .parse()
        .expect("book/book.toml parses");
    let src = config
        .get("book")
        .and_then(|book| book.get("src"))
        .and_then(toml::Value::as_str)
        .unwrap_or("src");
    book.join(src)
}

fn markdown_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("reading a folder entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files.extend(markdown_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "md") {
            files.push(path);
        }
    }
    files
}

/// The line numbers a sentence cites (`line 205`, `on line 50 of`), with the 1-based line of the
/// Markdown file each is on; code blocks and include directives are skipped.
fn cited_lines(text: &str) -> Vec<(usize, u32)> {
    let mut cited = Vec::new();
    let mut in_code = false;
    for (index, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code || line.contains("{{#") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("line ") {
            let word_starts = at == 0 || !rest.as_bytes()[at - 1].is_ascii_alphanumeric();
            let after = &rest[at + "line ".len()..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            if word_starts && let Ok(number) = after[..digits].parse() {
                cited.push((index + 1, number));
            }
            rest = after;
        }
    }
    cited
}

/// The line numbers a compiler or loom report shows: `line: 205` in a location, and the `N` of
/// `file.rs:N:M` in a panic message or a compiler's `-->` pointer.
fn reported_lines(report: &str) -> Vec<u32> {
    let number = |text: &str| {
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        text[..digits].parse().ok()
    };
    let locations = report
        .match_indices("line: ")
        .filter_map(|(at, found)| number(&report[at + found.len()..]));
    let positions = report
        .match_indices(".rs:")
        .filter_map(|(at, found)| number(&report[at + found.len()..]));
    locations.chain(positions).collect()
}

/// The problems with the line numbers `text` (the page `md`, whose includes are `links`) cites.
fn check_cited_lines(md: &Path, text: &str, links: &[Link]) -> Vec<(usize, String)> {
    let folder = md.parent().expect("a Markdown file is in a folder");
    let reported: Vec<u32> = links
        .iter()
        .filter(|link| link.path.ends_with(".snap"))
        .filter_map(|link| fs::read_to_string(normalize_path(&folder.join(&link.path))).ok())
        .flat_map(|report| reported_lines(&report))
        .collect();
    cited_lines(text)
        .into_iter()
        .filter(|(_, number)| !reported.contains(number))
        .map(|(line, number)| {
            (
                line,
                format!(
                    "cites line {number}, which no report this page includes shows: the code \
                     moved, or the sentence cites something a test does not keep true"
                ),
            )
        })
        .collect()
}

/// The problems with every include in the Markdown files under `src` (in the workspace `root`),
/// and with the line numbers their prose cites.
fn check_book(root: &Path, src: &Path) -> Vec<String> {
    let members = workspace_members(root).unwrap_or_else(|e| panic!("{e}"));
    let mut problems = Vec::new();
    let mut includes = 0;
    for md in markdown_files(src) {
        let text = fs::read_to_string(&md).expect("reading a chapter");
        let links = find_links(&text);
        for link in &links {
            includes += 1;
            for problem in check_link(root, &members, &md, link) {
                problems.push(format!(
                    "{}:{}: {}: {problem}",
                    display(root, &md),
                    link.line,
                    link.path
                ));
            }
        }
        for (line, problem) in check_cited_lines(&md, &text, &links) {
            problems.push(format!("{}:{line}: {problem}", display(root, &md)));
        }
    }
    if includes == 0 {
        problems.push(format!(
            "{}: no {{{{#include}}}} or {{{{#rustdoc_include}}}} in the whole book",
            display(root, src)
        ));
    }
    problems
}

#[test]
fn every_include_in_the_book_shows_what_it_means_to() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let problems = check_book(&root, &book_src(&root));
    assert!(
        problems.is_empty(),
        "{} problem(s) with the book's includes:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

mod unit {
    use super::*;

    fn include(line: usize, path: &str, selector: Selector) -> Link {
        Link {
            kind: Kind::Include,
            line,
            path: path.to_owned(),
            selector,
        }
    }

    fn anchor(name: &str) -> Selector {
        Selector::Anchor(name.to_owned())
    }

    #[test]
    fn finds_the_lines_a_sentence_cites_and_not_those_in_code() {
        let text = "Asleep on line 205, the `wait`.\n\
                    ```console\n\
                    line 7 of a listing\n\
                    ```\n\
                    {{#include report.snap:4:}}\n\
                    Line 3 starts a sentence; an outline 12 is no line; (line 50 of `x.rs`)\n";
        assert_eq!(cited_lines(text), [(1, 205), (6, 50)]);
    }

    #[test]
    fn reads_the_lines_a_report_shows() {
        let report = "thread 'm' panicked at tests/loom.rs:285:13:\n\
                      (Id(0), Blocked(Location { file: \"src/pool.rs\", line: 694, column: 30 })),\n\
                      --> src/lib.rs:12:5\n";
        assert_eq!(reported_lines(report), [694, 285, 12]);
    }

    #[test]
    fn a_cited_line_must_be_in_a_report_the_page_includes() {
        let dir = std::env::temp_dir().join(format!("book-cited-lines-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("report.snap"), "line: 205, column: 18\n").unwrap();
        let md = dir.join("page.md");
        let links = [include(
            1,
            "report.snap",
            Selector::Lines {
                start: Some(4),
                end: None,
            },
        )];
        let cites = |sentence: &str| check_cited_lines(&md, sentence, &links);
        assert!(cites("Asleep on line 205.").is_empty());
        let stale = cites("Asleep on line 187.");
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].0, 1);
        assert!(stale[0].1.contains("line 187"), "{}", stale[0].1);
        assert_eq!(check_cited_lines(&md, "Asleep on line 205.", &[]).len(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn finds_several_includes_on_a_line_with_their_line_numbers() {
        let text = "intro\n{{#include a.rs:use-pool}} and {{#rustdoc_include ../b.rs:new}}\n\
                    {{ #include c.toml }} {{#title Not a file}} {{#unknown x.rs}}\n";
        assert_eq!(
            find_links(text),
            vec![
                include(2, "a.rs", anchor("use-pool")),
                Link {
                    kind: Kind::RustdocInclude,
                    line: 2,
                    path: "../b.rs".to_owned(),
                    selector: anchor("new")
                },
                include(3, "c.toml", Selector::Whole),
            ]
        );
    }

    #[test]
    fn skips_escaped_includes_as_mdbook_does() {
        assert_eq!(find_links(r"show \{{#include a.rs}} literally"), vec![]);
        // The escape swallows everything up to the last `}}` on its line, as in mdBook.
        assert_eq!(
            find_links(r"\{{#include a.rs}} then {{#include b.rs}}"),
            vec![]
        );
        // … but not past the line's end.
        assert_eq!(
            find_links("\\{{#include a.rs}}\n{{#include b.rs}}"),
            vec![include(2, "b.rs", Selector::Whole)]
        );
        // An escape without `}}` on its line escapes nothing.
        assert_eq!(
            find_links("\\{{#include a.rs\n}}"),
            vec![include(1, "a.rs", Selector::Whole)]
        );
    }

    #[test]
    fn reads_malformed_directives_as_mdbook_does() {
        assert_eq!(
            find_links("{{#include}} {{#include a.rs} }} {{include a.rs}}"),
            vec![]
        );
        assert_eq!(
            find_links("{{{#include a.rs}}}"),
            vec![include(1, "a.rs", Selector::Whole)]
        );
        // The part after `#name` may span lines.
        assert_eq!(
            find_links("{{#include\n  a.rs:x}}"),
            vec![include(1, "a.rs", anchor("x"))]
        );
    }

    #[test]
    fn reads_selectors_as_mdbook_does() {
        let lines = |start, end| Selector::Lines { start, end };
        assert_eq!(parse_selector("4:"), lines(Some(4), None));
        assert_eq!(parse_selector("4"), lines(Some(4), Some(4)));
        assert_eq!(parse_selector("2:5"), lines(Some(2), Some(5)));
        assert_eq!(parse_selector(":5"), lines(None, Some(5)));
        assert_eq!(parse_selector(""), Selector::Whole);
        assert_eq!(parse_selector("::"), Selector::Whole);
        assert_eq!(parse_selector("thread-pool"), anchor("thread-pool"));
        assert_eq!(parse_selector("a:b"), anchor("a"));
    }

    #[test]
    fn finds_anchor_markers_in_any_comment_style() {
        assert_eq!(
            anchor_marker("    // ANCHOR: use-pool", "ANCHOR:"),
            Some("use-pool")
        );
        assert_eq!(anchor_marker("<!-- ANCHOR:x -->", "ANCHOR:"), Some("x"));
        assert_eq!(
            anchor_marker("# ANCHOR_END: deps", "ANCHOR_END:"),
            Some("deps")
        );
        assert_eq!(anchor_marker("# ANCHOR_END: deps", "ANCHOR:"), None);
        assert_eq!(anchor_marker("// ANCHOR:", "ANCHOR:"), None);
    }

    #[test]
    fn checks_anchored_regions() {
        let file = "// ANCHOR: use-pool\nuse pool::ThreadPool;\n// ANCHOR_END: use-pool\n\
                    // ANCHOR: empty\n\n// ANCHOR: inner\n// ANCHOR_END: inner\n// ANCHOR_END: empty\n\
                    // ANCHOR: open\nfn f() {}\n\
                    // ANCHOR: twice\n// ANCHOR_END: twice\n// ANCHOR: twice\nx\n// ANCHOR_END: twice\n";
        let check = |kind, name: &str| {
            let link = Link {
                kind,
                line: 1,
                path: "f.rs".to_owned(),
                selector: anchor(name),
            };
            check_selection(&link, Path::new("f.rs"), file)
        };
        assert_eq!(check(Kind::Include, "use-pool"), Vec::<String>::new());
        // A hyphenated name is not matched by its prefix.
        assert_eq!(
            check(Kind::Include, "use"),
            vec!["no `ANCHOR: use` in the file"]
        );
        assert_eq!(
            check(Kind::Include, "empty"),
            vec!["the region `empty` is empty"]
        );
        assert_eq!(
            check(Kind::Include, "open"),
            vec!["`ANCHOR: open` on line 9 has no `ANCHOR_END: open` after it"]
        );
        // `include` shows the first region only; `rustdoc_include` shows them all.
        assert_eq!(
            check(Kind::Include, "twice"),
            vec!["the region `twice` is empty"]
        );
        assert_eq!(check(Kind::RustdocInclude, "twice"), Vec::<String>::new());
    }

    #[test]
    fn allows_line_ranges_only_for_snapshot_content() {
        let snapshot = "---\nsource: tests/compile_steps.rs\n---\n$ cargo check\n";
        let check = |path: &str, selector| {
            check_selection(&include(1, path, selector), Path::new(path), snapshot)
        };
        let lines = |start, end| Selector::Lines { start, end };
        assert!(check("output.snap", lines(Some(4), None)).is_empty());
        assert_eq!(check("output.snap", lines(Some(3), None)).len(), 1);
        assert_eq!(check("output.snap", lines(Some(4), Some(9))).len(), 1);
        assert_eq!(check("output.snap", Selector::Whole).len(), 1);
        assert_eq!(check("lib.rs", lines(Some(4), None)).len(), 1);
        assert!(check("lib.rs", Selector::Whole).is_empty());
        assert_eq!(
            check_selection(
                &include(1, "x.snap", lines(Some(4), None)),
                Path::new("x.snap"),
                "no header\n"
            )
            .len(),
            1
        );
    }

    #[test]
    fn normalizes_parent_folders() {
        assert_eq!(
            normalize_path(Path::new("/w/book/src/../../chapters/./a.rs")),
            PathBuf::from("/w/chapters/a.rs")
        );
    }

    #[test]
    fn reports_every_problem_in_a_small_book() {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("book-includes-fixture");
        let write = |rel: &str, text: &str| {
            let path = root.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        };
        if root.exists() {
            fs::remove_dir_all(&root).unwrap();
        }
        write(
            "chapters/s/src/lib.rs",
            "// ANCHOR: a\nfn a() {}\n// ANCHOR_END: a\n",
        );
        write(
            "chapters/s/steps/01/output.snap",
            "---\nsource: x\n---\n$ cargo check\n",
        );
        write("src/main.rs", "fn main() {}\n");
        write("Cargo.toml", "[workspace]\nmembers = [\"chapters/*\"]\n");
        write(
            "book/src/empty.md",
            "# Nothing here\n\\{{#include ../../src/main.rs}}\n",
        );
        assert_eq!(
            check_book(&root, &root.join("book/src")),
            vec!["book/src: no {{#include}} or {{#rustdoc_include}} in the whole book"]
        );
        write(
            "book/src/sub/ch.md",
            "{{#include ../../../chapters/s/src/lib.rs:a}}\n\
             {{#include ../../../chapters/s/src/lib.rs:b}}\n\
             {{#rustdoc_include ../../../chapters/s/src/missing.rs}}\n\
             {{#include ../../../chapters/s/steps/01/output.snap:4:}}\n\
             {{#include ../../../chapters/s/steps/01/output.snap}}\n\
             {{#include ../../../src/main.rs}}\n",
        );
        assert_eq!(
            check_book(&root, &root.join("book/src")),
            vec![
                "book/src/sub/ch.md:2: ../../../chapters/s/src/lib.rs: no `ANCHOR: b` in the file",
                "book/src/sub/ch.md:3: ../../../chapters/s/src/missing.rs: \
                 chapters/s/src/missing.rs does not exist",
                "book/src/sub/ch.md:5: ../../../chapters/s/steps/01/output.snap: include a \
                 snapshot from the line after its header to its end, \
                 `../../../chapters/s/steps/01/output.snap:4:`, so that the insta header is left \
                 out and nothing is cut off",
                "book/src/sub/ch.md:6: ../../../src/main.rs: src/main.rs is outside chapters/: \
                 the book includes only code that a workspace member builds and tests",
            ]
        );
    }
}
