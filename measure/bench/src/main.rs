//! `cargo run --release -p poolbook-bench -- [--jobs N] [--rounds R] [--json]`: what poolbook's
//! final pool stage costs per job, empty and small, next to stage 6, the threadpool crate, rayon,
//! a thread per job and a raw channel.

use std::process::ExitCode;

use clap::Parser;
use poolbook_bench::report::{self, Config};

/// Submits N empty jobs, and N small ones, to each variant and waits until all have run, in
/// interleaved rounds; prints each variant's median ns/job, its ratios to poolbook's final pool
/// stage and to a raw channel, and whether the final stage meets its targets.
#[derive(Debug, Parser)]
#[command(name = "poolbook-bench")]
struct Args {
    /// Jobs per round for every variant but thread-per-job (at most 1,000,000).
    #[arg(long, default_value_t = report::DEFAULT_JOBS, value_parser = bounded::<{ report::MAX_JOBS }>)]
    jobs: usize,
    /// Jobs (threads) per round for thread-per-job (at most 10,000).
    #[arg(long, default_value_t = report::DEFAULT_THREAD_JOBS, value_parser = bounded::<{ report::MAX_THREAD_JOBS }>)]
    thread_jobs: usize,
    /// Measured rounds; each runs every variant once on each workload (at most 51).
    #[arg(long, default_value_t = report::DEFAULT_ROUNDS, value_parser = bounded::<{ report::MAX_ROUNDS }>)]
    rounds: usize,
    /// Rounds run first and thrown away (at most 5; 0 for none).
    #[arg(long, default_value_t = report::DEFAULT_WARMUP_ROUNDS, value_parser = warmup)]
    warmup: usize,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Parses a count from 1 to `MAX`.
fn bounded<const MAX: usize>(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number from 1 to {MAX}")),
    }
}

/// Parses a number of warm-up rounds, from 0 to the maximum.
fn warmup(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n <= report::MAX_WARMUP_ROUNDS => Ok(n),
        _ => Err(format!(
            "expected a whole number from 0 to {}",
            report::MAX_WARMUP_ROUNDS
        )),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = Config {
        jobs: args.jobs,
        thread_per_job_jobs: args.thread_jobs,
        rounds: args.rounds,
        warmup_rounds: args.warmup,
    };
    let report = match report::measure(&config) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("poolbook-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.json {
        println!("{:#}", report.json());
    } else {
        print!("{}", report.table());
    }
    ExitCode::SUCCESS
}
