//! The `poolbook` binary, end to end: it builds the book, serves it on a real socket, refuses to
//! serve anything outside the book, and stops cleanly on a signal.
//!
//! Each runner builds into its own temporary folder (`--dest`), so the tests never race with a
//! runner the reader has serving `book/book`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use poolbook_testkit::{Reply, get};

mod served;
use served::{Runner, STARTUP_WATCHDOG};

/// The value of a header, by case-insensitive name.
fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply.head.lines().skip(1).find_map(|line| {
        let (n, value) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// The media type of a reply, without parameters such as `charset`.
fn media_type(reply: &Reply) -> String {
    let value = header(reply, "content-type").unwrap_or_default();
    let essence = value.split(';').next().unwrap_or_default();
    essence.trim().to_ascii_lowercase()
}

/// The values of `attribute` in the tags `<tag ...>` of `html` that contain `marker`, as the
/// absolute paths a browser would request from the site's root page.
fn local_links(html: &str, tag: &str, marker: &str, attribute: &str) -> Vec<String> {
    let open = format!("<{tag} ");
    let needle = format!("{attribute}=\"");
    html.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split('>').next())
        .filter(|tag| tag.contains(marker))
        .filter_map(|tag| {
            let value = tag.split(&needle).nth(1)?.split('"').next()?;
            let local = !value.contains("://") && !value.starts_with("//");
            local.then(|| format!("/{}", value.trim_start_matches("./")))
        })
        .collect()
}

/// Escapes text as mdBook's templates (Handlebars) do.
fn html_escape(text: &str) -> String {
    let mut escaped = String::new();
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#x27;"),
            '`' => escaped.push_str("&#x60;"),
            '=' => escaped.push_str("&#x3D;"),
            c => escaped.push(c),
        }
    }
    escaped
}

fn book_title() -> String {
    let book_toml = poolbook::book::default_root().join("book.toml");
    let config = mdbook_driver::config::Config::from_disk(&book_toml).expect("read book.toml");
    config.book.title.expect("book.toml names a title")
}

#[test]
fn serves_the_book_and_stops_on_a_signal() {
    let out = tempfile::tempdir().unwrap();
    let runner = Runner::spawn(&["serve", "--port", "0"], &out.path().join("html"));
    let addr = runner.wait_until_serving();

    let index = get(addr, "/").unwrap();
    assert_eq!(index.status, 200, "{}", index.head);
    assert_eq!(media_type(&index), "text/html");
    let html = index.text();
    let title = html_escape(&book_title());
    assert!(
        html.contains(&title),
        "the index page lacks the title {title:?}"
    );

    // mdBook names its assets with a content hash, so take their names from the page.
    let stylesheets = local_links(&html, "link", "rel=\"stylesheet\"", "href");
    let scripts = local_links(&html, "script", "src=", "src");
    assert!(
        stylesheets.iter().any(|s| s.ends_with(".css")),
        "{stylesheets:?}"
    );
    assert!(scripts.iter().any(|s| s.ends_with(".js")), "{scripts:?}");
    for path in stylesheets.iter().filter(|s| s.ends_with(".css")) {
        let reply = get(addr, path).unwrap();
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(media_type(&reply), "text/css", "{path}");
        assert!(!reply.body.is_empty(), "{path}");
    }
    for path in scripts.iter().filter(|s| s.ends_with(".js")) {
        let reply = get(addr, path).unwrap();
        assert_eq!(reply.status, 200, "{path}");
        let media = media_type(&reply);
        assert!(
            media == "text/javascript" || media == "application/javascript",
            "{path}: {media}"
        );
    }

    for attempt in [
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/%2E%2E/%2E%2E/Cargo.toml",
        "/..%2fCargo.toml",
    ] {
        assert_eq!(get(addr, attempt).unwrap().status, 400, "{attempt}");
    }
    assert_eq!(get(addr, "//etc/passwd").unwrap().status, 404);
    let missing = get(addr, "/no-such-page.html").unwrap();
    assert_eq!(missing.status, 404);
    assert_eq!(media_type(&missing), "text/html");

    stop_and_check(runner);
}

/// Interrupts the runner as Ctrl-C would, and checks that it stops cleanly.
#[cfg(unix)]
fn stop_and_check(runner: Runner) {
    let pid = runner.id().to_string();
    let kill = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(kill.success(), "kill -INT {pid}: {kill}");
    let (status, stdout, stderr) = runner.finish(poolbook_testkit::WATCHDOG);
    assert_eq!(status.code(), Some(0), "{status}; stderr:\n{stderr}");
    assert_eq!(stdout, ["Stopped."], "stderr:\n{stderr}");
}

/// Without `kill`, there is no portable way to send Ctrl-C; the runner's guard ends the process.
#[cfg(not(unix))]
fn stop_and_check(runner: Runner) {
    drop(runner);
}

#[test]
fn no_build_serves_an_earlier_build() {
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("html");
    let built = poolbook::book::build_into(&poolbook::book::default_root(), &dest).unwrap();
    // Something the runner would not have written, to tell that it did not build again.
    std::fs::write(built.html_dir.join("marker.txt"), "earlier").unwrap();
    let runner = Runner::spawn(&["serve", "--port", "0", "--no-build"], &dest);
    let addr = runner.wait_until_serving();
    let marker = get(addr, "/marker.txt").unwrap();
    assert_eq!(marker.status, 200);
    assert_eq!(marker.text(), "earlier");
    stop_and_check(runner);
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = tempfile::tempdir().unwrap();
    let runner = Runner::spawn(&["serve", "--port", &port], out.path());
    let (status, stdout, stderr) = runner.finish(STARTUP_WATCHDOG);
    assert_eq!(status.code(), Some(1), "{status}; stderr:\n{stderr}");
    assert_eq!(stdout, Vec::<String>::new());
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn no_build_without_a_build_is_a_clear_error() {
    let out = tempfile::tempdir().unwrap();
    let runner = Runner::spawn(
        &["serve", "--port", "0", "--no-build"],
        &out.path().join("html"),
    );
    let (status, stdout, stderr) = runner.finish(STARTUP_WATCHDOG);
    assert_eq!(status.code(), Some(1), "{status}; stderr:\n{stderr}");
    assert_eq!(stdout, Vec::<String>::new());
    assert!(stderr.contains("no built book"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn refuses_to_build_over_a_folder_that_is_not_a_build() {
    let out = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("notes.txt"), "mine").unwrap();
    let runner = Runner::spawn(&["--port", "0"], out.path());
    let (status, _, stderr) = runner.finish(STARTUP_WATCHDOG);
    assert_eq!(status.code(), Some(1), "{status}; stderr:\n{stderr}");
    assert!(stderr.contains("refusing to build into"), "{stderr}");
    assert!(out.path().join("notes.txt").is_file());
}

/// Runs `poolbook <args> --workbook <workbook>` to its end (these commands do not serve);
/// returns whether it succeeded, its stdout and its stderr.
fn exercise_command(workbook: &Path, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_poolbook"))
        .args(args)
        .arg("--workbook")
        .arg(workbook)
        .stdin(Stdio::null())
        .output()
        .expect("run poolbook");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A workbook with stages 2 to 4 (exercises 3 and 4; only 3 has its task and hints), crates with
/// no dependencies.
fn fixture_workbook() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create a folder");
        std::fs::write(path, text).expect("write a fixture file");
    };
    file(
        "Cargo.toml",
        "[workspace]\nmembers = [\"chapters/*\"]\n[workspace.package]\nversion = \"0.1.0\"\n\
         [profile.loom]\ninherits = \"release\"\n",
    );
    file("Cargo.lock", "version = 4\n");
    for (name, answer) in [("ch02-start", 1), ("ch03-add", 2), ("ch04-more", 3)] {
        file(
            &format!("chapters/{name}/Cargo.toml"),
            &format!(
                "[package]\nname = \"{name}\"\nversion.workspace = true\nedition = \"2024\"\n"
            ),
        );
        file(
            &format!("chapters/{name}/src/lib.rs"),
            &format!("pub fn answer() -> u32 {{\n    {answer}\n}}\n"),
        );
        file(&format!("chapters/{name}/tests/answer.rs"), "");
    }
    file(
        "chapters/ch03-add/exercise/task.md",
        "# Add one\n\nMake `answer` return 2.\n",
    );
    file(
        "chapters/ch03-add/exercise/hint-1.md",
        "Look at `answer`.\n",
    );
    dir
}

#[test]
fn the_exercise_commands_work_on_a_workbook_and_keep_the_readers_work() {
    let dir = fixture_workbook();
    let workbook = dir.path();

    let (ok, list, _) = exercise_command(workbook, &["exercises"]);
    assert!(ok);
    assert!(list.contains(" 3  not started  Add one"), "{list}");
    assert!(list.contains(" 4  not started  (no title: "), "{list}");

    let (ok, started, stderr) = exercise_command(workbook, &["start", "3"]);
    assert!(ok, "{stderr}");
    assert!(started.starts_with("Exercise 3: Add one\n"), "{started}");
    assert!(started.contains("Make `answer` return 2."), "{started}");
    assert!(started.contains("cargo run -- check 3"), "{started}");
    let lib = workbook.join("exercises/ch03-add/src/lib.rs");
    std::fs::write(&lib, "// my work\n").expect("edit the copy");

    let (ok, _, stderr) = exercise_command(workbook, &["start", "3"]);
    assert!(!ok);
    assert!(stderr.contains("already exists"), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&lib).expect("the copy"),
        "// my work\n"
    );

    let (ok, forced, stderr) = exercise_command(workbook, &["start", "3", "--force"]);
    assert!(ok, "{stderr}");
    assert!(
        forced.starts_with("Moved your earlier copy to exercises/ch03-add.old-1."),
        "{forced}"
    );
    let kept = workbook.join("exercises/ch03-add.old-1/src/lib.rs");
    assert_eq!(
        std::fs::read_to_string(kept).expect("the old copy"),
        "// my work\n"
    );

    let (ok, list, _) = exercise_command(workbook, &["list"]);
    assert!(ok);
    assert!(list.contains(" 3  started      Add one"), "{list}");

    let (ok, first, _) = exercise_command(workbook, &["hint", "3"]);
    assert!(ok);
    assert!(
        first.starts_with("Exercise 3: Add one (hint 1 of 1)\n\nLook at `answer`."),
        "{first}"
    );
    assert!(first.contains("That was the last hint"), "{first}");
    let (ok, none, _) = exercise_command(workbook, &["hint", "3"]);
    assert!(ok);
    assert!(none.contains("No more hints"), "{none}");
    assert!(none.contains("cargo run -- solution 3"), "{none}");

    let (ok, diff, _) = exercise_command(workbook, &["solution", "3"]);
    assert!(ok);
    assert!(
        diff.contains("--- a/src/lib.rs\n+++ b/src/lib.rs\n"),
        "{diff}"
    );
    assert!(diff.contains("+    2\n"), "{diff}");
}

#[test]
fn the_exercise_commands_fail_clearly() {
    let dir = fixture_workbook();
    let workbook = dir.path();
    let (ok, _, stderr) = exercise_command(workbook, &["start", "9"]);
    assert!(!ok);
    assert_eq!(
        stderr,
        "error: there is no exercise 9; the exercises are 3 to 4 (`cargo run -- exercises` \
         lists them)\n"
    );
    let (ok, _, stderr) = exercise_command(workbook, &["check", "3"]);
    assert!(!ok);
    assert!(
        stderr.contains("start it with `cargo run -- start 3`"),
        "{stderr}"
    );
    let (ok, _, stderr) = exercise_command(workbook, &["start", "4"]);
    assert!(!ok);
    assert!(
        stderr.contains("chapters/ch04-more/exercise/task.md is missing"),
        "{stderr}"
    );
    assert!(!workbook.join("exercises/ch04-more").exists());
}

#[test]
fn reset_moves_copies_aside_and_reset_all_asks_first() {
    let dir = fixture_workbook();
    let workbook = dir.path();
    let (ok, _, stderr) = exercise_command(workbook, &["reset", "3"]);
    assert!(!ok);
    assert!(
        stderr.contains("start it with `cargo run -- start 3`"),
        "{stderr}"
    );
    let (ok, said, _) = exercise_command(workbook, &["reset", "--all"]);
    assert!(ok);
    assert_eq!(
        said,
        "No exercise has been started, so there is nothing to reset.\n"
    );

    exercise_command(workbook, &["start", "3"]);
    let lib = workbook.join("exercises/ch03-add/src/lib.rs");
    std::fs::write(&lib, "// my work\n").expect("edit the copy");
    let (ok, said, stderr) = exercise_command(workbook, &["reset", "3"]);
    assert!(ok, "{stderr}");
    assert_eq!(
        said,
        "Exercise 3 is back to its starting code in exercises/ch03-add.\nYour copy was moved to \
         exercises/ch03-add.old-1.\n"
    );
    let kept = workbook.join("exercises/ch03-add.old-1/src/lib.rs");
    assert_eq!(
        std::fs::read_to_string(&kept).expect("kept"),
        "// my work\n"
    );

    // No answer (stdin is empty) is no.
    let (ok, _, stderr) = exercise_command(workbook, &["reset", "--all"]);
    assert!(!ok);
    assert!(
        stderr.starts_with("Reset exercise 3 to the starting code?"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was changed"), "{stderr}");
    assert!(!workbook.join("exercises/ch03-add.old-2").exists());
    let (ok, _, stderr) = exercise_command(workbook, &["reset", "--all", "--yes"]);
    assert!(ok, "{stderr}");
    assert!(workbook.join("exercises/ch03-add.old-2").is_dir());
    let (ok, _, stderr) = exercise_command(workbook, &["reset", "3", "--yes"]);
    assert!(!ok);
    assert!(stderr.contains("cannot be used with '--yes'"), "{stderr}");
}

#[test]
fn a_broken_progress_file_is_reported_and_rebuilt() {
    let dir = fixture_workbook();
    let workbook = dir.path();
    exercise_command(workbook, &["start", "3"]);
    let progress = workbook.join("exercises/progress.json");
    std::fs::write(&progress, "{ \"exercises\": ").expect("break the file");
    let (ok, list, stderr) = exercise_command(workbook, &["list"]);
    assert!(ok, "{stderr}");
    assert!(list.contains(" 3  started      Add one"), "{list}");
    assert!(
        stderr.starts_with(
            "note: the progress file exercises/progress.json is not a valid progress file"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("kept as exercises/progress.json.broken-1."),
        "{stderr}"
    );
    // Repaired once: the next command says nothing.
    let (ok, _, stderr) = exercise_command(workbook, &["list"]);
    assert!(ok);
    assert_eq!(stderr, "");
}

#[test]
fn watch_needs_a_started_exercise_and_a_terminal() {
    let dir = fixture_workbook();
    let workbook = dir.path();
    let (ok, _, stderr) = exercise_command(workbook, &["watch"]);
    assert!(!ok);
    assert!(
        stderr.contains("start it with `cargo run -- start 3`"),
        "{stderr}"
    );
    exercise_command(workbook, &["start", "3"]);
    let (ok, _, stderr) = exercise_command(workbook, &["watch", "3"]);
    assert!(!ok);
    assert_eq!(
        stderr,
        "error: watch reads single keys from a terminal, and its input is not one. Run it in a \
         terminal, or check once with `cargo run -- check 3`\n"
    );
}

/// `watch` in a real terminal: util-linux's `script` gives it a pseudo-terminal, and the keys
/// are written to `script`'s input once the watch has shown what it is waiting on.
#[cfg(target_os = "linux")]
#[test]
fn watch_takes_single_keys_in_a_terminal_and_stops_on_ctrl_c() {
    use std::io::{Read, Write};

    let dir = fixture_workbook();
    let workbook = dir.path();
    exercise_command(workbook, &["start", "3"]);
    let run = |keys: &[(&str, &str)]| -> (bool, String) {
        let command = format!(
            "{} watch 3 --workbook {}",
            env!("CARGO_BIN_EXE_poolbook"),
            workbook.display()
        );
        let mut child = Command::new("script")
            .args([
                "--quiet",
                "--flush",
                "--return",
                "--command",
                &command,
                "/dev/null",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run script (util-linux)");
        let mut stdout = child.stdout.take().expect("stdout");
        let (chunks, received) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut buffer = [0; 4096];
            while let Ok(n) = stdout.read(&mut buffer) {
                if n == 0 || chunks.send(buffer[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let mut stdin = child.stdin.take().expect("stdin");
        let mut seen = String::new();
        for (wait_for, key) in keys {
            // A watchdog for a broken watch, not a wait for time to pass.
            let limit = std::time::Instant::now() + Duration::from_secs(120);
            while !seen.contains(wait_for) {
                let left = limit.saturating_duration_since(std::time::Instant::now());
                match received.recv_timeout(left) {
                    Ok(chunk) => seen.push_str(&String::from_utf8_lossy(&chunk).replace('\r', "")),
                    Err(_) => {
                        let _ = child.kill();
                        panic!("no {wait_for:?} from watch:\n{seen}");
                    }
                }
            }
            stdin.write_all(key.as_bytes()).expect("type a key");
            stdin.flush().expect("flush");
        }
        let status = child.wait().expect("wait for script");
        reader.join().expect("the reader");
        while let Ok(chunk) = received.try_recv() {
            seen.push_str(&String::from_utf8_lossy(&chunk).replace('\r', ""));
        }
        (status.success(), seen)
    };

    let (ok, seen) = run(&[("Exercise 3 passes", "l"), ("Add one", "q")]);
    assert!(ok, "{seen}");
    assert!(
        seen.contains("Watching exercise 3 (exercises/ch03-add)"),
        "{seen}"
    );
    assert!(
        seen.contains(" 3  passing      Add one\n"),
        "lines end in \\r\\n: {seen}"
    );

    // Ctrl-C reaches the watch as a key in raw mode: it stops, with a failing status.
    let (ok, seen) = run(&[("Exercise 3 passes", "\u{3}")]);
    assert!(!ok, "{seen}");
    assert!(
        seen.contains("interrupted; your code was not touched"),
        "{seen}"
    );
}
