//! Smoke test: every variant runs every workload with a tiny N and sees all its jobs run, and the
//! report shows every pair, ratio and target. No timing is checked.

use poolbook_bench::report::{self, Config, RATIOS, TARGETS};
use poolbook_bench::{Variant, Workload};

const JOBS: usize = 100;

#[test]
fn every_variant_runs_every_job_of_every_workload() {
    for workload in Workload::all() {
        for variant in Variant::all() {
            let measurement = variant
                .run(workload, JOBS)
                .unwrap_or_else(|e| panic!("{variant} on {workload}: {e}"));
            assert_eq!(measurement.jobs, JOBS, "{variant} on {workload}");
            assert_eq!(measurement.ran, JOBS, "{variant} on {workload}");
        }
    }
}

/// The stage names in the report come from the crates' type paths; this pins the format.
#[test]
fn pool_stages_are_named_by_package() {
    assert_eq!(
        Variant::Stage6.package().as_deref(),
        Some("ch06-graceful-shutdown")
    );
    let final_stage = Variant::Final.package().unwrap();
    assert!(
        final_stage.starts_with("ch") && !final_stage.contains([':', '_']),
        "{final_stage}"
    );
    assert_eq!(Variant::Threadpool.package(), None);
}

#[test]
fn one_round_reports_every_variant_workload_ratio_and_target() {
    let config = Config {
        jobs: JOBS,
        thread_per_job_jobs: JOBS,
        rounds: 1,
        warmup_rounds: 0,
    };
    let report = report::measure(&config).unwrap();
    let cases: Vec<_> = report
        .summaries
        .iter()
        .map(|s| (s.workload, s.variant))
        .collect();
    let expected: Vec<_> = Workload::all()
        .into_iter()
        .flat_map(|w| Variant::all().into_iter().map(move |v| (w, v)))
        .collect();
    assert_eq!(cases, expected);
    for summary in &report.summaries {
        assert_eq!(summary.jobs, JOBS, "{}", summary.variant);
        assert_eq!(summary.samples.len(), 1, "{}", summary.variant);
    }

    let table = report.table();
    let json = report.json();
    let json_workloads = json["workloads"].as_array().unwrap();
    assert_eq!(json_workloads.len(), Workload::all().len(), "{json:#}");
    for (workload, json_workload) in Workload::all().into_iter().zip(json_workloads) {
        assert_eq!(json_workload["name"], workload.name());
        assert!(table.contains(&workload.description()), "{table}");
        assert_eq!(
            report.ratio(Variant::Final, Variant::Final, workload),
            Some(1.0)
        );
        for variant in Variant::all() {
            assert!(table.contains(variant.name()), "{table}");
            assert!(
                json_workload["variants"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|v| v["name"] == variant.name()),
                "{json:#}"
            );
        }
        for (variant, against) in RATIOS {
            assert!(
                report.ratio(variant, against, workload).is_some(),
                "{variant} ÷ {against} on {workload}"
            );
            assert!(
                json_workload["ratios"][format!("{variant}/{against}")].is_number(),
                "{json:#}"
            );
        }
        for (target, json_target) in TARGETS
            .iter()
            .zip(json_workload["targets"].as_array().unwrap())
        {
            assert!(report.target(target, workload).is_some(), "{}", target.goal);
            assert!(table.contains(target.goal), "{table}");
            assert!(json_target["met"].is_boolean(), "{json:#}");
        }
    }
}
