//! The sentences of the fewer-wake-ups chapter that state measured figures, checked against the
//! benchmark run committed beside the stage (`chapters/ch18-fewer-wakeups/measured/bench.json`,
//! written by `cargo run --release -p poolbook-bench -- --json --rounds 21`). A new run that no
//! longer bears a sentence out, or a sentence rewritten away from its data, fails here.

use std::fs;
use std::path::Path;

use serde_json::Value;

/// The committed run and the chapter's text.
fn sources() -> (Value, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = fs::read_to_string(root.join("chapters/ch18-fewer-wakeups/measured/bench.json"))
        .expect("read the committed benchmark run");
    let chapter =
        fs::read_to_string(root.join("book/src/ch18-fewer-wakeups.md")).expect("read the chapter");
    // The chapter wraps lines; sentences are checked with single spaces.
    let chapter = chapter.split_whitespace().collect::<Vec<_>>().join(" ");
    (
        serde_json::from_str(&data).expect("the run is JSON"),
        chapter,
    )
}

/// The median cost per job of `variant` on `workload`, in ns, rounded as the chapter prints it.
fn median(data: &Value, workload: &str, variant: &str) -> f64 {
    let workload = data["workloads"]
        .as_array()
        .expect("workloads")
        .iter()
        .find(|w| w["name"] == workload)
        .unwrap_or_else(|| panic!("no workload {workload}"));
    workload["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .find(|v| v["name"] == variant)
        .unwrap_or_else(|| panic!("no variant {variant}"))["median_ns_per_job"]
        .as_f64()
        .expect("a median")
}

#[test]
fn the_chapter_states_the_committed_run() {
    let (data, chapter) = sources();
    assert_eq!(data["config"]["rounds"], 21, "the chapter says 21 rounds");
    // The final stage repeats stage 18's pool, byte for byte (tests/loom_models.rs holds it so):
    // the benchmark's "final" is stage 18's pool.
    assert_eq!(data["config"]["final_stage"], "ch21-hardened");
    for (workload, phrase) in [("empty", "On empty jobs"), ("small", "On small jobs")] {
        let before = median(&data, workload, "stage17");
        let after = median(&data, workload, "final");
        let ratio = before / after;
        assert!(
            ratio > 1.0,
            "{workload}: stage 17 ({before:.0} ns) is no dearer than stage 18 ({after:.0} ns)"
        );
        let start = chapter
            .find(phrase)
            .unwrap_or_else(|| panic!("the chapter no longer says {phrase:?}"));
        let said = &chapter[start..(start + 260).min(chapter.len())];
        for figure in [
            format!("stage 17 cost {before:.0} ns"),
            format!("stage 18 {after:.0} ns"),
            format!("{ratio:.2} times as much"),
        ] {
            assert!(
                said.contains(&figure),
                "{workload}: the chapter's sentence {said:?} does not say {figure:?}"
            );
        }
    }
}
