//! Smoke test: every variant runs with a tiny N and sees all its jobs run. No timing is checked.

use poolbook_bench::Variant;
use poolbook_bench::report::{self, Config};

const JOBS: usize = 100;

#[test]
fn every_variant_runs_every_job() {
    for variant in Variant::all() {
        let measurement = variant
            .run(JOBS)
            .unwrap_or_else(|e| panic!("{variant}: {e}"));
        assert_eq!(measurement.jobs, JOBS, "{variant}");
        assert_eq!(measurement.ran, JOBS, "{variant}");
    }
}

#[test]
fn one_round_reports_every_variant() {
    let config = Config {
        jobs: JOBS,
        thread_per_job_jobs: JOBS,
        rounds: 1,
        warmup_rounds: 0,
    };
    let report = report::measure(&config).unwrap();
    let names: Vec<_> = report.summaries.iter().map(|s| s.variant).collect();
    assert_eq!(names, Variant::all());
    for summary in &report.summaries {
        assert_eq!(summary.jobs, JOBS, "{}", summary.variant);
        assert_eq!(summary.samples.len(), 1, "{}", summary.variant);
    }
    assert_eq!(report.ratio(Variant::Pool, Variant::Pool), Some(1.0));

    let table = report.table();
    let json = report.json();
    for variant in Variant::all() {
        assert!(table.contains(variant.name()), "{table}");
        assert!(
            json["variants"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["name"] == variant.name()),
            "{json:#}"
        );
    }
}
