//! Rounds, medians and ratios, and the report as a table or as JSON.

use std::fmt::Write as _;
use std::io;
use std::thread;

use serde_json::{Value, json};

use crate::{SMALL_JOB_STEPS, Variant, WORKERS, Workload};

/// Jobs per round for every variant but [`Variant::ThreadPerJob`], by default.
pub const DEFAULT_JOBS: usize = 100_000;
/// The most jobs per round: a producer that outruns the workers queues them all (tens of bytes
/// each), so this bounds the queue's memory to tens of megabytes.
pub const MAX_JOBS: usize = 1_000_000;
/// Jobs per round for [`Variant::ThreadPerJob`], by default: a thread costs ~100 times a pool job.
pub const DEFAULT_THREAD_JOBS: usize = 2_000;
/// The most jobs (threads) per round for [`Variant::ThreadPerJob`]: every thread is joined only
/// after all have been created, so this bounds the threads (and stacks) alive at once.
pub const MAX_THREAD_JOBS: usize = 10_000;
/// Measured rounds, by default.
pub const DEFAULT_ROUNDS: usize = 7;
/// The most measured rounds.
pub const MAX_ROUNDS: usize = 51;
/// Rounds run first and thrown away (page faults, lazy initialisation, frequency ramp-up).
pub const DEFAULT_WARMUP_ROUNDS: usize = 1;
/// The most warm-up rounds.
pub const MAX_WARMUP_ROUNDS: usize = 5;

/// What to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Jobs per round for each variant but [`Variant::ThreadPerJob`].
    pub jobs: usize,
    /// Jobs per round for [`Variant::ThreadPerJob`].
    pub thread_per_job_jobs: usize,
    /// Measured rounds; each runs every variant once.
    pub rounds: usize,
    /// Rounds run before the measured ones and not recorded.
    pub warmup_rounds: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            jobs: DEFAULT_JOBS,
            thread_per_job_jobs: DEFAULT_THREAD_JOBS,
            rounds: DEFAULT_ROUNDS,
            warmup_rounds: DEFAULT_WARMUP_ROUNDS,
        }
    }
}

impl Config {
    /// The jobs per round `variant` runs.
    pub fn jobs_for(&self, variant: Variant) -> usize {
        match variant {
            Variant::ThreadPerJob => self.thread_per_job_jobs,
            _ => self.jobs,
        }
    }
}

/// Facts about the machine and the build that the numbers depend on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Machine {
    /// `std::thread::available_parallelism`, if the platform says.
    pub cores: Option<usize>,
    /// `rustc --version` of the compiler that built this benchmark.
    pub rustc: &'static str,
    /// Operating system and architecture, as `std::env::consts` names them.
    pub target: String,
    /// Whether this is an optimised build without debug assertions (`--release`).
    pub release: bool,
}

impl Machine {
    /// This machine and this build.
    pub fn current() -> Machine {
        Machine {
            cores: thread::available_parallelism().ok().map(usize::from),
            rustc: env!("POOLBOOK_BENCH_RUSTC"),
            target: format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
            release: !cfg!(debug_assertions),
        }
    }
}

/// One variant's rounds on one workload.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Which variant.
    pub variant: Variant,
    /// Which workload.
    pub workload: Workload,
    /// Jobs it ran per round.
    pub jobs: usize,
    /// Nanoseconds per job, one per measured round, in round order.
    pub samples: Vec<f64>,
}

impl Summary {
    /// The median of the samples, in nanoseconds per job.
    pub fn median(&self) -> f64 {
        median(&self.samples)
    }

    /// The smallest sample.
    pub fn min(&self) -> f64 {
        self.samples.iter().copied().fold(f64::INFINITY, f64::min)
    }

    /// The largest sample.
    pub fn max(&self) -> f64 {
        self.samples
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    }
}

/// The median of `samples` (the mean of the middle two for an even count); NaN if empty.
pub fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        _ if n.is_multiple_of(2) => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        _ => sorted[n / 2],
    }
}

/// The ratios the report shows for each workload, as (numerator, denominator) of medians: every
/// alternative against the final stage, and the final stage against the floor.
pub const RATIOS: [(Variant, Variant); 6] = [
    (Variant::Threadpool, Variant::Final),
    (Variant::Rayon, Variant::Final),
    (Variant::Stage17, Variant::Final),
    (Variant::Stage6, Variant::Final),
    (Variant::ThreadPerJob, Variant::Final),
    (Variant::Final, Variant::ChannelFloor),
];

/// A goal set for the final stage: `variant`'s cost per job is at least `at_least` times the
/// final stage's, on each workload. Reported as information; a run never fails on it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Target {
    /// The goal, as the report prints it.
    pub goal: &'static str,
    /// The variant the final stage is compared with.
    pub variant: Variant,
    /// The least `variant ÷ final` that meets the goal.
    pub at_least: f64,
}

/// The goals of the issue the benchmark answers: no dearer per job than the `threadpool` crate,
/// and at least 100 times cheaper than a thread per job.
pub const TARGETS: [Target; 2] = [
    Target {
        goal: "final ≤ threadpool per job",
        variant: Variant::Threadpool,
        at_least: 1.0,
    },
    Target {
        goal: "thread-per-job ≥ 100× final",
        variant: Variant::ThreadPerJob,
        at_least: 100.0,
    },
];

/// Everything one run of the benchmark found.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Where it ran.
    pub machine: Machine,
    /// What it ran.
    pub config: Config,
    /// One per variant and workload: [`Workload::all`] order, and [`Variant::all`] order within
    /// a workload.
    pub summaries: Vec<Summary>,
}

/// Runs every variant of [`Variant::all`] on every workload of [`Workload::all`] once per round,
/// the warm-up rounds first.
///
/// Rounds are interleaved rather than one variant's rounds after another's, and both workloads
/// share every round, so that a slow stretch of the machine (another process, frequency scaling)
/// falls on all of them alike. The order changes from round to round ([`round_order`]), so no
/// variant always runs first or always right after thread-per-job, whose thousands of exiting
/// threads leave the kernel work to do.
///
/// # Errors
///
/// The first error of [`Variant::run`]: a pool or thread that could not be created, a thread that
/// panicked, a job that was refused or did not run.
pub fn measure(config: &Config) -> io::Result<Report> {
    let mut summaries: Vec<Summary> = Workload::all()
        .into_iter()
        .flat_map(|workload| {
            Variant::all().into_iter().map(move |variant| Summary {
                variant,
                workload,
                jobs: config.jobs_for(variant),
                samples: Vec::with_capacity(config.rounds),
            })
        })
        .collect();
    let cases = summaries.len();
    for round in 0..config.warmup_rounds + config.rounds {
        for index in round_order(round, cases) {
            let summary = &mut summaries[index];
            let measurement = summary.variant.run(summary.workload, summary.jobs)?;
            if round >= config.warmup_rounds {
                summary.samples.push(measurement.ns_per_job());
            }
        }
    }
    Ok(Report {
        machine: Machine::current(),
        config: *config,
        summaries,
    })
}

/// The order in which round `round` runs `n` variants: a balanced Latin square (Williams
/// design), so that over a full cycle of rounds (`n` rounds for even `n`, `2n` for odd) every
/// variant runs in every position equally often and directly after every other variant equally
/// often.
pub fn round_order(round: usize, n: usize) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    // First row: 0, 1, n-1, 2, n-2, …; row r adds r to each entry, modulo n.
    let first = (0..n).map(|j| {
        if j.is_multiple_of(2) {
            (n - j / 2) % n
        } else {
            j.div_ceil(2)
        }
    });
    let cycle = if n.is_multiple_of(2) { n } else { 2 * n };
    let row = round % cycle;
    let mut order: Vec<usize> = first.map(|entry| (entry + row) % n).collect();
    // With an odd n, rows n..2n are the first n reversed; only the two halves together balance.
    if row >= n {
        order.reverse();
    }
    order
}

impl Report {
    /// The summary of `variant` on `workload`, if it ran.
    pub fn summary(&self, variant: Variant, workload: Workload) -> Option<&Summary> {
        self.summaries
            .iter()
            .find(|s| s.variant == variant && s.workload == workload)
    }

    /// `variant`'s median divided by `against`'s on `workload`: how many times as costly per job.
    pub fn ratio(&self, variant: Variant, against: Variant, workload: Workload) -> Option<f64> {
        Some(self.summary(variant, workload)?.median() / self.summary(against, workload)?.median())
    }

    /// `target`'s ratio on `workload` and whether it meets the target; `None` if a variant it
    /// compares did not run.
    pub fn target(&self, target: &Target, workload: Workload) -> Option<(f64, bool)> {
        let ratio = self.ratio(target.variant, Variant::Final, workload)?;
        Some((ratio, ratio >= target.at_least))
    }

    /// The report as a plain-text table, with the machine facts above it.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let Report {
            machine, config, ..
        } = self;
        let cores = machine
            .cores
            .map_or_else(|| "unknown".to_owned(), |n| n.to_string());
        let build = if machine.release {
            "release build"
        } else {
            "DEBUG BUILD (numbers mean little; run with --release)"
        };
        let workloads = Workload::all();
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "poolbook-bench: submit N jobs, wait until all have run; {} rounds interleaved \
             (after {} warm-up) over both workloads, median per variant",
            config.rounds, config.warmup_rounds
        );
        let _ = writeln!(
            out,
            "machine: {cores} cores (available_parallelism), {}, {}, {build}",
            machine.rustc, machine.target
        );
        let _ = writeln!(
            out,
            "final = {}, stage6 = {}; {WORKERS} workers; N = {} ({} for thread-per-job)",
            Variant::Final.package().unwrap_or_default(),
            Variant::Stage6.package().unwrap_or_default(),
            config.jobs,
            config.thread_per_job_jobs
        );
        for workload in workloads {
            let _ = writeln!(out, "\n{}", workload.description());
            let _ = writeln!(
                out,
                "{:<15} {:>8} {:>10} {:>19} {:>8} {:>8}",
                "variant", "N", "ns/job", "min–max ns/job", "× final", "× floor"
            );
            for summary in self.summaries.iter().filter(|s| s.workload == workload) {
                let range = format!("{:.0}–{:.0}", summary.min(), summary.max());
                let _ = writeln!(
                    out,
                    "{:<15} {:>8} {:>10.1} {:>19} {:>8} {:>8}",
                    summary.variant.name(),
                    summary.jobs,
                    summary.median(),
                    range,
                    format_ratio(self.ratio(summary.variant, Variant::Final, workload)),
                    format_ratio(self.ratio(summary.variant, Variant::ChannelFloor, workload)),
                );
            }
        }

        let _ = write!(out, "\n{:<30}", "ratio (median ÷ median)");
        for workload in workloads {
            let _ = write!(out, " {:>16}", workload.name());
        }
        let _ = writeln!(out);
        for (variant, against) in RATIOS {
            let _ = write!(out, "{:<30}", ratio_name(variant, against));
            for workload in workloads {
                let _ = write!(
                    out,
                    " {:>16}",
                    format_ratio(self.ratio(variant, against, workload))
                );
            }
            let _ = writeln!(out);
        }

        let _ = write!(out, "\n{:<30}", "target (information only)");
        for workload in workloads {
            let _ = write!(out, " {:>16}", workload.name());
        }
        let _ = writeln!(out);
        for target in &TARGETS {
            let _ = write!(out, "{:<30}", target.goal);
            for workload in workloads {
                let verdict = match self.target(target, workload) {
                    Some((ratio, met)) => {
                        let met = if met { "met" } else { "NOT met" };
                        // One more decimal than the ratio table, so that a ratio just under the
                        // line does not print as the line itself ("NOT met (1.00)").
                        if ratio >= 100.0 {
                            format!("{met} ({ratio:.0})")
                        } else {
                            format!("{met} ({ratio:.3})")
                        }
                    }
                    None => "-".to_owned(),
                };
                let _ = write!(out, " {verdict:>16}");
            }
            let _ = writeln!(out);
        }

        let _ = writeln!(out);
        for variant in Variant::all() {
            let _ = writeln!(out, "{:<15} {}", variant.name(), variant.description());
        }
        let _ = writeln!(
            out,
            "\nOn small jobs the floor's one consumer runs every job itself, so it is no floor there: \
             read the pools against inline ({WORKERS} workers sharing the work perfectly would take \
             1/{WORKERS} of it)."
        );
        let _ = writeln!(
            out,
            "Compare ratios within one run: absolute ns/job shift between runs on the same \
             machine, and a ratio near a target's line can fall either side of it from run to run."
        );
        out
    }

    /// The report as JSON, for plotting: machine facts, configuration, and per workload each
    /// variant's samples, median, range and ratios, the report's ratios and the targets.
    pub fn json(&self) -> Value {
        let Report {
            machine, config, ..
        } = self;
        let workloads: Vec<Value> = Workload::all()
            .into_iter()
            .map(|workload| {
                let variants: Vec<Value> = self
                    .summaries
                    .iter()
                    .filter(|s| s.workload == workload)
                    .map(|summary| {
                        json!({
                            "name": summary.variant.name(),
                            "description": summary.variant.description(),
                            "jobs_per_round": summary.jobs,
                            "median_ns_per_job": summary.median(),
                            "min_ns_per_job": summary.min(),
                            "max_ns_per_job": summary.max(),
                            "samples_ns_per_job": summary.samples,
                            "ratio_vs_final": self.ratio(summary.variant, Variant::Final, workload),
                            "ratio_vs_floor":
                                self.ratio(summary.variant, Variant::ChannelFloor, workload),
                        })
                    })
                    .collect();
                let ratios: serde_json::Map<String, Value> = RATIOS
                    .into_iter()
                    .map(|(variant, against)| {
                        (
                            format!("{variant}/{against}"),
                            json!(self.ratio(variant, against, workload)),
                        )
                    })
                    .collect();
                let targets: Vec<Value> = TARGETS
                    .iter()
                    .map(|target| {
                        let result = self.target(target, workload);
                        json!({
                            "goal": target.goal,
                            "ratio": format!("{}/{}", target.variant, Variant::Final),
                            "at_least": target.at_least,
                            "value": result.map(|(ratio, _)| ratio),
                            "met": result.map(|(_, met)| met),
                        })
                    })
                    .collect();
                json!({
                    "name": workload.name(),
                    "description": workload.description(),
                    "variants": variants,
                    "ratios": ratios,
                    "targets": targets,
                })
            })
            .collect();
        json!({
            "schema": "poolbook-bench/2",
            "machine": {
                "cores": machine.cores,
                "rustc": machine.rustc,
                "target": machine.target,
                "release": machine.release,
            },
            "config": {
                "final_stage": Variant::Final.package(),
                "stage6": Variant::Stage6.package(),
                "workers": WORKERS,
                "jobs": config.jobs,
                "thread_per_job_jobs": config.thread_per_job_jobs,
                "rounds": config.rounds,
                "warmup_rounds": config.warmup_rounds,
                "small_job_steps": SMALL_JOB_STEPS,
            },
            "baseline": Variant::Final.name(),
            "floor": Variant::ChannelFloor.name(),
            "workloads": workloads,
        })
    }
}

/// How the table names a ratio: `threadpool ÷ final`.
fn ratio_name(variant: Variant, against: Variant) -> String {
    format!("{variant} ÷ {against}")
}

fn format_ratio(ratio: Option<f64>) -> String {
    match ratio {
        Some(r) if r >= 100.0 => format!("{r:.0}"),
        Some(r) => format!("{r:.2}"),
        None => "-".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{median, round_order};

    /// Every row is a permutation, and over one cycle every ordered pair of variants is adjacent
    /// equally often.
    #[test]
    fn round_orders_are_balanced() {
        for n in 1..=6_usize {
            let cycle = if n.is_multiple_of(2) { n } else { 2 * n };
            let mut follows = vec![vec![0; n]; n];
            for round in 0..cycle {
                let order = round_order(round, n);
                let mut sorted = order.clone();
                sorted.sort_unstable();
                assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "n = {n}, round {round}");
                for pair in order.windows(2) {
                    follows[pair[0]][pair[1]] += 1;
                }
            }
            let expected = if n.is_multiple_of(2) { 1 } else { 2 };
            for (a, row) in follows.iter().enumerate() {
                for (b, &count) in row.iter().enumerate() {
                    let want = if a == b { 0 } else { expected };
                    assert_eq!(count, want, "n = {n}: {b} after {a}");
                }
            }
        }
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
