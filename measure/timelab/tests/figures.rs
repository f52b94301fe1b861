//! The book's committed figures are the ones the committed data renders to: a change to the data
//! or to `figures.rs` that is not followed by rendering again fails here.
//!
//! `UPDATE_FIGURES=1 cargo test -p poolbook-timelab --test figures` writes them instead, as
//! `timelab figures` does.

use std::fs;
use std::path::{Path, PathBuf};

use poolbook_timelab::figures::{self, COMMAND};

/// Where the sweep's data and the figures rendered from it live: beside the chapter that
/// includes them.
fn lab_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the crate is two folders below the workspace");
    workspace.join("book/src/lab")
}

#[test]
fn committed_figures_match_the_committed_data() {
    let dir = lab_dir();
    if std::env::var_os("UPDATE_FIGURES").is_some_and(|value| value == "1") {
        let written = figures::write(&dir, &dir).unwrap_or_else(|error| panic!("{error}"));
        eprintln!("wrote {} figures into {}", written.len(), dir.display());
        return;
    }
    let rendered = figures::render(&dir).unwrap_or_else(|error| panic!("{error}"));
    let stale: Vec<String> = rendered
        .iter()
        .filter_map(|figure| {
            let path = dir.join(&figure.name);
            match fs::read_to_string(&path) {
                Ok(committed) if committed == figure.contents => None,
                Ok(_) => Some(format!("{} differs", figure.name)),
                Err(error) => Some(format!("{} cannot be read: {error}", figure.name)),
            }
        })
        .collect();
    assert!(
        stale.is_empty(),
        "the figures in {} are not what its data renders to:\n  {}\nrender them again with \
         `{COMMAND}` (or UPDATE_FIGURES=1 on this test), then review and commit them",
        dir.display(),
        stale.join("\n  ")
    );
}
