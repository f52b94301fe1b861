//! The served book in a real browser: Debian's Chromium, headless, driven over the DevTools
//! protocol (the `headless_chrome` crate), against the runner on an ephemeral port.
//!
//! It checks what a reader would notice and no other test can: every page of `SUMMARY.md` loads
//! with no failed request and no console error; the search box finds a word from a late chapter
//! and its result opens that chapter; a chapter with a started exercise shows its status and
//! follows it as it changes; the table of contents ticks a passing chapter; a page read as the
//! published book is (not from loopback) asks for no progress and shows none. One screenshot per
//! page is saved in a temporary folder, whose path the test prints.
//!
//! Chromium must be installed (`apt-get install chromium` on Debian; `.ci/run` installs it).
//! Without it the test says so and passes, except under CI (`CI` set), where it fails.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use headless_chrome::protocol::cdp::Log::LogEntryLevel;
use headless_chrome::protocol::cdp::Network;
use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::protocol::cdp::Runtime::ConsoleAPICalledEventTypeOption;
use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::{Browser, LaunchOptions, Tab};

mod served;
use served::Runner;

/// How long an element may take to appear: a watchdog for a broken page, not a wait for time
/// to pass (a page of the book loads in milliseconds).
const ELEMENT_WATCHDOG: Duration = Duration::from_secs(20);

/// The host name the test gives the runner's address to, to see the book as a published copy
/// (a name that is not loopback) is seen. `.example` is reserved: it never names a real host.
const PUBLISHED: &str = "poolbook.example";

/// What went wrong in the browser, as it happened: failed requests and console errors.
#[derive(Debug, Default)]
struct Trouble {
    /// Request id → URL, to name a request that failed.
    urls: BTreeMap<String, String>,
    /// The page being checked, to say where a problem was seen.
    page: String,
    problems: Vec<String>,
}

/// Chromium, found the way `headless_chrome` looks for it (`CHROME`, then the usual names).
fn chromium() -> Option<PathBuf> {
    headless_chrome::browser::default_executable().ok()
}

/// A workbook whose exercises are the real ones (its `chapters` is a link to the workspace's),
/// with exercise 5 passing and exercise 7 failing, as the progress file records them.
fn workbook_with_progress() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let chapters = poolbook::scratch::workspace_root().join("chapters");
    std::os::unix::fs::symlink(chapters, dir.path().join("chapters")).expect("link chapters");
    for copy in ["ch05-shared-queue", "ch07-panic-isolation"] {
        fs::create_dir_all(dir.path().join("exercises").join(copy)).expect("a copy");
    }
    set_progress(dir.path(), "failing");
    dir
}

/// Records exercise 5 as passing and exercise 7 as `seven`.
fn set_progress(workbook: &Path, seven: &str) {
    let progress = format!(
        "{{\"exercises\": {{\"ch05-shared-queue\": {{\"checked\": \"passing\"}}, \
         \"ch07-panic-isolation\": {{\"checked\": \"{seven}\"}}}}}}\n"
    );
    let path = workbook.join("exercises/progress.json");
    let temporary = path.with_extension("json.new");
    fs::write(&temporary, progress).expect("write progress");
    fs::rename(&temporary, &path).expect("replace progress");
}

/// The pages of `SUMMARY.md`, in order, as the HTML files mdBook makes of them.
fn summary_pages() -> Vec<String> {
    let summary = poolbook::book::default_root().join("src/SUMMARY.md");
    let text = fs::read_to_string(&summary).expect("read SUMMARY.md");
    text.split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .filter_map(|target| target.strip_suffix(".md"))
        .map(|page| format!("{page}.html"))
        .collect()
}

fn browser(path: PathBuf) -> Browser {
    // Without these, Chromium calls home at start-up, which a closed network refuses noisily.
    let args = [
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        // A name that is not loopback for the same server: the book as a reader of the
        // published copy gets it, from an address the runner is not at.
        &format!("--host-resolver-rules=MAP {PUBLISHED} 127.0.0.1"),
    ];
    let options = LaunchOptions::default_builder()
        .path(Some(path))
        .headless(true)
        // Containers and CI often run as root, where Chromium's sandbox cannot start.
        .sandbox(false)
        .window_size(Some((1280, 900)))
        .idle_browser_timeout(Duration::from_secs(300))
        .args(args.iter().map(OsStr::new).collect())
        .build()
        .expect("launch options");
    Browser::new(options).expect("start Chromium")
}

/// Sends every failed request and console error on `tab` to `trouble`.
fn listen(tab: &Tab, trouble: &Arc<Mutex<Trouble>>) {
    tab.call_method(Network::Enable {
        max_total_buffer_size: None,
        max_resource_buffer_size: None,
        max_post_data_size: None,
        report_direct_socket_traffic: None,
        enable_durable_messages: None,
    })
    .expect("enable the network log");
    tab.enable_runtime().expect("enable the console");
    tab.enable_log().expect("enable the browser log");
    let trouble = Arc::clone(trouble);
    tab.add_event_listener(Arc::new(move |event: &Event| {
        let mut trouble = trouble.lock().expect("the trouble log");
        let Trouble {
            urls,
            page,
            problems,
        } = &mut *trouble;
        let mut problem = |text: String| problems.push(format!("{page}: {text}"));
        match event {
            Event::NetworkRequestWillBeSent(sent) => {
                let params = &sent.params;
                urls.insert(params.request_id.clone(), params.request.url.clone());
            }
            Event::NetworkResponseReceived(received) => {
                let response = &received.params.response;
                if response.status >= 400 {
                    problem(format!("HTTP {} for {}", response.status, response.url));
                }
            }
            Event::NetworkLoadingFailed(failed) => {
                let params = &failed.params;
                let url = urls.get(&params.request_id).unwrap_or(&params.request_id);
                problem(format!("request failed ({}): {url}", params.error_text));
            }
            Event::RuntimeConsoleAPICalled(called)
                if called.params.Type == ConsoleAPICalledEventTypeOption::Error =>
            {
                let text: Vec<String> = called
                    .params
                    .args
                    .iter()
                    .map(|arg| {
                        arg.description
                            .clone()
                            .or_else(|| arg.value.as_ref().map(ToString::to_string))
                            .unwrap_or_default()
                    })
                    .collect();
                problem(format!("console.error: {}", text.join(" ")));
            }
            Event::RuntimeExceptionThrown(thrown) => {
                let details = &thrown.params.exception_details;
                let description = details
                    .exception
                    .as_ref()
                    .and_then(|e| e.description.clone())
                    .unwrap_or_else(|| details.text.clone());
                problem(format!("uncaught exception: {description}"));
            }
            Event::LogEntryAdded(added) if added.params.entry.level == LogEntryLevel::Error => {
                let entry = &added.params.entry;
                problem(format!(
                    "browser log: {} ({})",
                    entry.text,
                    entry.url.clone().unwrap_or_default()
                ));
            }
            _ => {}
        }
    }))
    .expect("listen to the tab");
}

/// Opens `url` and waits for its `load` event, which comes once every script, style sheet and
/// image of the page has loaded (or failed); problems seen from now on are reported as this
/// page's. Not `wait_until_navigated`, which waits for the network to have been quiet for half a
/// second, a second and a half a page here, for nothing this test needs.
fn open(tab: &Tab, trouble: &Mutex<Trouble>, url: &str) {
    trouble.lock().expect("the trouble log").page = url.to_owned();
    tab.navigate_to(url)
        .unwrap_or_else(|e| panic!("open {url}: {e}"));
    let loaded = format!(
        "location.href === {} && document.readyState === 'complete' \
         && !!document.querySelector('#mdbook-content main')",
        serde_json::Value::String(url.to_owned())
    );
    wait_for(tab, &loaded, &format!("{url} loads"));
}

/// Waits until `script` (an expression) is true in the page: the page's own scripts work
/// asynchronously (the progress badge, the search results). A watchdog, not a wait for time.
fn wait_for(tab: &Tab, script: &str, what: &str) {
    let limit = Instant::now() + ELEMENT_WATCHDOG;
    let mut last_error = None;
    loop {
        // While a page is being replaced, there may be no document to ask: an error then means
        // "not yet", and only the watchdog decides when it has gone on too long.
        match tab.evaluate(script, false) {
            Ok(result) if result.value == Some(serde_json::Value::Bool(true)) => return,
            Ok(_) => {}
            Err(error) => last_error = Some(error.to_string()),
        }
        assert!(
            Instant::now() < limit,
            "{what}: still not so after {ELEMENT_WATCHDOG:?} (last error: {last_error:?})"
        );
        // Ask the page to run its tasks before asking again; no fixed sleep.
        let _ = tab.evaluate(
            "new Promise(resolve => requestAnimationFrame(() => resolve(true)))",
            true,
        );
    }
}

/// Saves what `tab` shows, as a PNG, at `path`.
fn screenshot(tab: &Tab, path: &Path) {
    let png = tab
        .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
        .expect("a screenshot");
    fs::write(path, png).unwrap_or_else(|e| panic!("save {}: {e}", path.display()));
}

fn text_of(tab: &Tab, selector: &str) -> String {
    tab.wait_for_element_with_custom_timeout(selector, ELEMENT_WATCHDOG)
        .and_then(|element| element.get_inner_text())
        .unwrap_or_else(|e| panic!("no {selector}: {e}"))
}

#[test]
fn the_served_book_works_in_a_real_browser() {
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "no Chromium, and CI must run this test: .ci/run installs Debian's chromium"
        );
        eprintln!(
            "the browser test did not run: no Chromium (Debian: `apt-get install chromium`, or \
             set CHROME to a Chrome or Chromium binary)"
        );
        return;
    };
    let started = Instant::now();
    let workbook = workbook_with_progress();
    let html = tempfile::tempdir().expect("a build folder");
    let workbook_arg = workbook.path().to_str().expect("a UTF-8 temporary path");
    let runner = Runner::spawn(
        &["serve", "--port", "0", "--workbook", workbook_arg],
        html.path(),
    );
    let addr = runner.wait_until_serving();
    let base = format!("http://{addr}/");

    let shots = std::env::temp_dir().join(format!("poolbook-browser-{}", std::process::id()));
    fs::create_dir_all(&shots).expect("the screenshot folder");
    let browser = browser(chromium);
    let tab = browser.new_tab().expect("a tab");
    tab.set_default_timeout(ELEMENT_WATCHDOG);
    let trouble = Arc::new(Mutex::new(Trouble::default()));
    listen(&tab, &trouble);

    // Every page loads, with its title, and nothing fails.
    let pages = summary_pages();
    assert!(pages.len() >= 25, "{pages:?}");
    for page in &pages {
        open(&tab, &trouble, &format!("{base}{page}"));
        let title = text_of(&tab, "#mdbook-content main h1");
        assert!(!title.trim().is_empty(), "{page} has an empty title");
        screenshot(&tab, &shots.join(page.replace(".html", ".png")));
    }

    // A chapter with an exercise shows its status and the command to go on with, and follows
    // the progress file as it changes; a passing chapter is ticked in the table of contents;
    // a page without an exercise shows no badge.
    open(&tab, &trouble, &format!("{base}ch07-panic-isolation.html"));
    wait_for(
        &tab,
        "document.getElementById('poolbook-progress')?.dataset.status === 'failing'",
        "the badge of exercise 7 shows it failing",
    );
    let badge = text_of(&tab, "#poolbook-progress");
    assert_eq!(
        badge,
        "Exercise 7: Not passing yet. Go on with cargo run -- watch 7"
    );
    wait_for(
        &tab,
        "!!document.querySelector('#mdbook-sidebar a.poolbook-done[href$=\"ch05-shared-queue.html\"]') \
         && !document.querySelector('#mdbook-sidebar a.poolbook-done[href$=\"ch07-panic-isolation.html\"]')",
        "the table of contents ticks chapter 5 and not chapter 7",
    );
    set_progress(workbook.path(), "passing");
    wait_for(
        &tab,
        "document.getElementById('poolbook-progress')?.dataset.status === 'passing' \
         && !!document.querySelector('#mdbook-sidebar a.poolbook-done[href$=\"ch07-panic-isolation.html\"]')",
        "the badge and the table of contents follow the progress file",
    );
    assert_eq!(
        text_of(&tab, "#poolbook-progress"),
        "Exercise 7: Passing. Go on with cargo run -- solution 7"
    );
    screenshot(&tab, &shots.join("progress-badge.png"));
    open(&tab, &trouble, &format!("{base}introduction.html"));
    wait_for(
        &tab,
        "!!document.querySelector('#mdbook-sidebar a.poolbook-done')",
        "the introduction has the ticks too",
    );
    assert!(
        tab.find_element("#poolbook-progress").is_err(),
        "no exercise, no badge"
    );

    // The same page under a name that is not loopback, as the published book is read: the
    // script does not ask for progress, so there is no badge and no failed request, although
    // this server could answer.
    open(
        &tab,
        &trouble,
        &format!(
            "http://{PUBLISHED}:{}/ch07-panic-isolation.html",
            addr.port()
        ),
    );
    let asked = tab
        .evaluate(
            "performance.getEntriesByType('resource').some(e => e.name.includes('progress.json'))",
            false,
        )
        .expect("the page's resources")
        .value;
    assert_eq!(
        asked,
        Some(serde_json::Value::Bool(false)),
        "a published page asked for progress"
    );
    assert!(
        tab.find_element("#poolbook-progress").is_err(),
        "a published page has a badge"
    );
    open(&tab, &trouble, &format!("{base}introduction.html"));

    // The search box finds a word of a late chapter, and its result opens that chapter.
    let word = "reserve";
    let late = "ch21-hardened.html";
    let source = fs::read_to_string(poolbook::book::default_root().join("src/ch21-hardened.md"))
        .expect("read chapter 21");
    assert!(
        source.to_lowercase().contains(word),
        "chapter 21 no longer says {word:?}"
    );
    tab.wait_for_element("#mdbook-search-toggle")
        .and_then(|toggle| toggle.click().map(|_| ()))
        .expect("open the search box");
    tab.wait_for_element("#mdbook-searchbar")
        .and_then(|bar| bar.click().map(|_| ()))
        .expect("focus the search box");
    tab.type_str(word).expect("type the word");
    let result = format!("#mdbook-searchresults a[href^=\"{late}\"]");
    wait_for(
        &tab,
        &format!(
            "!!document.querySelector('{}')",
            result.replace('\'', "\\'")
        ),
        "the search results link to chapter 21",
    );
    screenshot(&tab, &shots.join("search.png"));
    tab.find_element(&result)
        .and_then(|link| link.click().map(|_| ()))
        .expect("click the result");
    wait_for(
        &tab,
        &format!("location.pathname.endsWith('/{late}')"),
        "the result opens chapter 21",
    );
    tab.wait_for_element("#mdbook-content main h1")
        .expect("chapter 21 loads");

    let problems = std::mem::take(&mut trouble.lock().expect("the trouble log").problems);
    assert!(
        problems.is_empty(),
        "the browser saw problems:\n{}",
        problems.join("\n")
    );
    drop(tab);
    drop(browser);

    let pid = runner.id().to_string();
    let kill = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(kill.success());
    let (status, _, stderr) = runner.finish(poolbook_testkit::WATCHDOG);
    assert_eq!(status.code(), Some(0), "{status}; stderr:\n{stderr}");
    eprintln!(
        "the browser test checked {} pages in {:.1?}; screenshots in {}",
        pages.len(),
        started.elapsed(),
        shots.display()
    );
}
