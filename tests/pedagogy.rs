//! The book's promise to its reader, measured: one idea per stage.
//!
//! For every stage under `chapters/`, this test counts the **code lines it adds** to the stage
//! before, its **compile-fail steps** and its **chapter's words**, prints the table, and fails when
//!
//! - a stage adds more than [`CODE_BUDGET`] code lines,
//! - a pool chapter (stage [`FIRST_POOL_STAGE`] on) has no compile-fail step, or
//! - a stage's chapter (`book/src/<stage>.md`) passes [`WORD_BUDGET`] words,
//!
//! unless the stage is listed in [`NOT_YET_RESTAGED`] with the figures it may not exceed. That list
//! is for stages written before the budget, while they are being split; a listed stage that meets
//! the budget fails too, so that the list only shrinks.
//!
//! The table is also in `ARCHITECTURE.md`, between `<!-- pedagogy:begin -->` and
//! `<!-- pedagogy:end -->`, and the test fails when it is out of date there (with the table to
//! paste; `POOLBOOK_UPDATE_PEDAGOGY=1` writes it).
//!
//! **Code lines** are the lines of the stage's `src/**/*.rs` other than `main.rs` (the binary is a
//! few lines of plumbing every stage repeats), that are not blank, not comments (`//`, `///`,
//! `//!`), and come before the file's test module (`#[cfg(test)]`, `#[cfg(all(test, …))]` or
//! `mod tests`). Each file is diffed against the file of the same path in the stage before (a new
//! file is all added). A line added in one place and removed in another, in the same stage, is
//! **moved**, not added: splitting a module out of a file costs the reader no new code to learn.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use similar::{ChangeTag, TextDiff};

/// The most code lines a stage may add to the one before.
const CODE_BUDGET: usize = 100;
/// The most words a stage's chapter may have.
const WORD_BUDGET: usize = 3_000;
/// The first stage with a pool, from which every chapter walks at least one compiler error.
const FIRST_POOL_STAGE: u32 = 3;

/// What a stage written before the budget may still measure, until it is split.
struct Ceiling {
    stage: &'static str,
    code_added: usize,
    words: usize,
    steps_missing: bool,
}

/// Stages still being re-staged into one idea each (issue "One idea per stage"), with the
/// figures they have today as ceilings: they may shrink, never grow.
const NOT_YET_RESTAGED: &[Ceiling] = &[];

/// One stage's figures.
#[derive(Debug)]
struct Measured {
    stage: String,
    number: u32,
    code_added: usize,
    code_moved: usize,
    steps: usize,
    bugs: usize,
    words: Option<usize>,
}

#[test]
fn every_stage_is_one_idea() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let measured = measure(root);
    let table = table(&measured);
    println!("{table}");
    let mut problems = Vec::new();
    for stage in &measured {
        let ceiling = NOT_YET_RESTAGED.iter().find(|c| c.stage == stage.stage);
        problems.extend(judge(stage, ceiling));
    }
    for ceiling in NOT_YET_RESTAGED {
        if !measured.iter().any(|m| m.stage == ceiling.stage) {
            problems.push(format!(
                "{}: listed in NOT_YET_RESTAGED but there is no such stage",
                ceiling.stage
            ));
        }
    }
    problems.extend(check_architecture(root, &table));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// What is wrong with `stage`, against the budget or its ceiling.
fn judge(stage: &Measured, ceiling: Option<&Ceiling>) -> Vec<String> {
    let name = &stage.stage;
    let words = stage.words.unwrap_or(0);
    let needs_step = stage.number >= FIRST_POOL_STAGE;
    let (code_limit, word_limit, step_excused) = match ceiling {
        Some(c) => (c.code_added, c.words, c.steps_missing),
        None => (CODE_BUDGET, WORD_BUDGET, false),
    };
    let mut problems = Vec::new();
    if stage.words.is_none() {
        problems.push(format!("{name} has no chapter: write book/src/{name}.md"));
    }
    if stage.code_added > code_limit {
        problems.push(format!(
            "{name} adds {} code lines to the stage before; at most {code_limit}: split it",
            stage.code_added
        ));
    }
    if words > word_limit {
        problems.push(format!(
            "{name}'s chapter has {words} words; at most {word_limit}: split it"
        ));
    }
    if needs_step && stage.steps == 0 && !step_excused {
        problems.push(format!(
            "{name} is a pool chapter with no compile-fail step: walk at least one real error"
        ));
    }
    if let Some(c) = ceiling {
        let within = stage.code_added <= CODE_BUDGET
            && words <= WORD_BUDGET
            && (!needs_step || stage.steps > 0);
        if within {
            problems.push(format!(
                "{name} meets the budget now: remove it from NOT_YET_RESTAGED"
            ));
        } else if c.code_added > CODE_BUDGET && stage.code_added < c.code_added
            || c.words > WORD_BUDGET && words < c.words
        {
            problems.push(format!(
                "{name} shrank to {} code lines and {words} words: lower its ceiling in \
                 NOT_YET_RESTAGED to match",
                stage.code_added
            ));
        }
    }
    problems
}

/// Every stage's figures, in stage order.
fn measure(root: &Path) -> Vec<Measured> {
    let mut stages: Vec<(u32, PathBuf)> = fs::read_dir(root.join("chapters"))
        .expect("list chapters/")
        .map(|entry| entry.expect("read chapters/").path())
        .filter(|path| path.join("Cargo.toml").is_file())
        .filter_map(|path| Some((stage_number(&file_name(&path))?, path)))
        .collect();
    stages.sort();
    let mut previous: Option<BTreeMap<PathBuf, Vec<String>>> = None;
    let mut measured = Vec::new();
    for (number, dir) in stages {
        let stage = file_name(&dir);
        let code = stage_code(&dir);
        let (code_added, code_moved) = match &previous {
            Some(before) => added_lines(before, &code),
            None => (0, 0),
        };
        let words = fs::read_to_string(root.join("book/src").join(format!("{stage}.md")))
            .ok()
            .map(|text| text.split_whitespace().count());
        measured.push(Measured {
            number,
            code_added,
            code_moved,
            steps: count_dirs(&dir.join("steps")),
            bugs: count_dirs(&dir.join("bugs")),
            words,
            stage,
        });
        previous = Some(code);
    }
    measured
}

/// The stage's code lines, by file path relative to `src/`.
fn stage_code(stage: &Path) -> BTreeMap<PathBuf, Vec<String>> {
    let src = stage.join("src");
    let mut files = BTreeMap::new();
    let mut pending = vec![src.clone()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).expect("list a stage's src/") {
            let path = entry.expect("read a stage's src/").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && path.file_name().is_some_and(|n| n != "main.rs")
            {
                let text = fs::read_to_string(&path).expect("read a source file");
                let relative = path.strip_prefix(&src).expect("under src/").to_path_buf();
                files.insert(relative, code_lines(&text));
            }
        }
    }
    files
}

/// The code lines of one file: trimmed, without blanks, comments or the test module.
fn code_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("#[cfg(test)]")
            || line.starts_with("#[cfg(all(test")
            || line.starts_with("mod tests")
        {
            break;
        }
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        lines.push(line.to_owned());
    }
    lines
}

/// Code lines added from `before` to `after`, file by file, and how many of the lines that look
/// added were moved (removed elsewhere in the same stage): `(added, moved)`.
fn added_lines(
    before: &BTreeMap<PathBuf, Vec<String>>,
    after: &BTreeMap<PathBuf, Vec<String>>,
) -> (usize, usize) {
    let mut added: BTreeMap<&str, usize> = BTreeMap::new();
    let mut removed: BTreeMap<&str, usize> = BTreeMap::new();
    let empty = Vec::new();
    let paths: std::collections::BTreeSet<&PathBuf> = before.keys().chain(after.keys()).collect();
    for path in paths {
        let old = before.get(path).unwrap_or(&empty);
        let new = after.get(path).unwrap_or(&empty);
        let old: Vec<&str> = old.iter().map(String::as_str).collect();
        let new: Vec<&str> = new.iter().map(String::as_str).collect();
        let diff = TextDiff::from_slices(&old, &new);
        for change in diff.iter_all_changes() {
            match change.tag() {
                ChangeTag::Insert => *added.entry(change.value()).or_default() += 1,
                ChangeTag::Delete => *removed.entry(change.value()).or_default() += 1,
                ChangeTag::Equal => {}
            }
        }
    }
    let mut total = 0;
    let mut moved = 0;
    for (line, count) in added {
        let gone = removed.get(line).copied().unwrap_or(0);
        moved += count.min(gone);
        total += count.saturating_sub(gone);
    }
    (total, moved)
}

/// How many folders `dir` holds (0 if it does not exist).
fn count_dirs(dir: &Path) -> usize {
    fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter(|entry| entry.as_ref().is_ok_and(|e| e.path().is_dir()))
            .count()
    })
}

/// The table, as Markdown.
fn table(measured: &[Measured]) -> String {
    let mut out = String::from(
        "| stage | code lines added | moved | compile-fail steps | zoo bugs | chapter words |\n\
         | :-- | --: | --: | --: | --: | --: |\n",
    );
    for m in measured {
        let words = m.words.map_or_else(|| "no chapter".to_owned(), thousands);
        let flag = if NOT_YET_RESTAGED.iter().any(|c| c.stage == m.stage) {
            " (being re-staged)"
        } else {
            ""
        };
        writeln!(
            out,
            "| {}{flag} | {} | {} | {} | {} | {words} |",
            m.stage, m.code_added, m.code_moved, m.steps, m.bugs
        )
        .expect("write to a String");
    }
    out
}

/// `n` with a comma between thousands, as the book writes numbers.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

const BEGIN: &str = "<!-- pedagogy:begin -->\n";
const END: &str = "<!-- pedagogy:end -->";

/// Problems with the table in `ARCHITECTURE.md`; rewrites it with `POOLBOOK_UPDATE_PEDAGOGY=1`.
fn check_architecture(root: &Path, table: &str) -> Vec<String> {
    let path = root.join("ARCHITECTURE.md");
    let text = fs::read_to_string(&path).expect("read ARCHITECTURE.md");
    let (Some(start), Some(end)) = (text.find(BEGIN), text.find(END)) else {
        return vec![format!("ARCHITECTURE.md has no {BEGIN:?} … {END:?} block")];
    };
    let current = &text[start + BEGIN.len()..end];
    if current == table {
        return Vec::new();
    }
    if std::env::var_os("POOLBOOK_UPDATE_PEDAGOGY").is_some() && std::env::var_os("CI").is_none() {
        let updated = format!("{}{table}{}", &text[..start + BEGIN.len()], &text[end..]);
        fs::write(&path, updated).expect("write ARCHITECTURE.md");
        return Vec::new();
    }
    vec![format!(
        "ARCHITECTURE.md's stage table is out of date; it should read:\n{table}\
         (POOLBOOK_UPDATE_PEDAGOGY=1 cargo test --test pedagogy writes it)"
    )]
}

/// `chNN-idea` → NN.
fn stage_number(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("ch")?.split_once('-')?.0;
    (digits.len() == 2 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .expect("a named folder")
        .to_string_lossy()
        .into_owned()
}

mod unit {
    use super::*;

    fn files(pairs: &[(&str, &[&str])]) -> BTreeMap<PathBuf, Vec<String>> {
        pairs
            .iter()
            .map(|(path, lines)| {
                (
                    PathBuf::from(path),
                    lines.iter().map(|l| (*l).to_owned()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn comments_blanks_and_the_test_module_are_not_code() {
        let text = "//! doc\nuse a;\n\n/// item doc\nfn f() {}\n// why\n#[cfg(test)]\nmod tests {\n fn t() {}\n}\n";
        assert_eq!(code_lines(text), ["use a;", "fn f() {}"]);
    }

    #[test]
    fn a_new_file_is_added_and_a_moved_block_is_not() {
        let before = files(&[("pool.rs", &["a", "b", "c"])]);
        let after = files(&[("pool.rs", &["a"]), ("queue.rs", &["b", "c", "d"])]);
        assert_eq!(added_lines(&before, &after), (1, 2));
    }

    #[test]
    fn the_budget_and_the_ceilings_are_enforced() {
        let stage = |code_added, steps, words| Measured {
            stage: "ch20-x".to_owned(),
            number: 20,
            code_added,
            code_moved: 0,
            steps,
            bugs: 0,
            words: Some(words),
        };
        assert!(judge(&stage(100, 1, 3_000), None).is_empty());
        assert_eq!(judge(&stage(101, 1, 3_000), None).len(), 1);
        assert_eq!(judge(&stage(50, 0, 3_001), None).len(), 2);
        let unwritten = Measured {
            words: None,
            ..stage(10, 1, 0)
        };
        assert!(judge(&unwritten, None)[0].contains("no chapter"));
        let ceiling = Ceiling {
            stage: "ch20-x",
            code_added: 300,
            words: 4_000,
            steps_missing: false,
        };
        assert!(judge(&stage(300, 1, 4_000), Some(&ceiling)).is_empty());
        assert_eq!(judge(&stage(301, 1, 4_000), Some(&ceiling)).len(), 1);
        let shrank = judge(&stage(200, 1, 4_000), Some(&ceiling));
        assert!(shrank[0].contains("lower its ceiling"), "{shrank:?}");
        let done = judge(&stage(90, 1, 2_000), Some(&ceiling));
        assert!(done[0].contains("remove it"), "{done:?}");
    }

    #[test]
    fn numbers_have_thousands_separators() {
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(5_103), "5,103");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
