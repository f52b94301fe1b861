//! One function per [`Variant`], each generic over the job's work so that every variant runs the
//! very same job: `work()`, then [`Countdown::job_ran`].

use std::io;
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Instant;

use crate::{Countdown, Measurement, Variant, WATCHDOG, WORKERS};

// The final stage: poolbook's most advanced pool. When a later stage supersedes it, this line
// (`use chNN_… as final_stage;`) and the dependency in Cargo.toml are the whole change; the report
// takes the stage's name from this path. That assumes the new stage keeps `ThreadPool::new(n)`
// and an `execute` returning `Result<(), E: Display>`; if it does not, only `final_stage` below
// needs adapting.
use ch21_hardened as final_stage;

/// The package of the final stage, as Cargo names it.
pub(crate) fn final_stage_package() -> String {
    package_of::<final_stage::pool::ThreadPool>()
}

/// The package of stage 17, as Cargo names it.
pub(crate) fn stage17_package() -> String {
    package_of::<ch17_shutdown_now::pool::ThreadPool>()
}

/// The package of stage 6, as Cargo names it.
pub(crate) fn stage6_package() -> String {
    package_of::<ch06_graceful_shutdown::pool::ThreadPool>()
}

/// The package that defines `T`, read from its type name (`ch21_hardened::pool::…` gives
/// `ch21-hardened`), so that the report's label cannot drift from the `use` line above.
fn package_of<T>() -> String {
    let path = std::any::type_name::<T>();
    path.split("::").next().unwrap_or(path).replace('_', "-")
}

/// The work a job does before counting itself: a zero-sized function item or closure, so that
/// every variant's job captures only its [`Countdown`].
pub(crate) trait Work: Fn() + Copy + Send + 'static {}

impl<W: Fn() + Copy + Send + 'static> Work for W {}

/// Runs `jobs` jobs of `work` as `variant` does.
pub(crate) fn run(variant: Variant, jobs: usize, work: impl Work) -> io::Result<Measurement> {
    match variant {
        Variant::Final => final_stage(jobs, work),
        Variant::Stage17 => stage17(jobs, work),
        Variant::Stage6 => stage6(jobs, work),
        Variant::Threadpool => Ok(threadpool(jobs, work)),
        Variant::Rayon => rayon(jobs, work),
        Variant::ThreadPerJob => thread_per_job(jobs, work),
        Variant::ChannelFloor => channel_floor(jobs, work),
        Variant::Inline => Ok(inline(jobs, work)),
    }
}

fn final_stage(jobs: usize, work: impl Work) -> io::Result<Measurement> {
    // `new`, not `build`: the constructor every stage keeps (stage 13 builds through a
    // `Builder` instead), and the unbounded queue. It panics if a worker cannot be created,
    // which ends the benchmark with the reason: nothing would be left to measure.
    let pool = final_stage::pool::ThreadPool::new(WORKERS);
    let done = Countdown::new(jobs);
    let start = Instant::now();
    for _ in 0..jobs {
        let done = Arc::clone(&done);
        // Checked, not ignored: an unbounded, open pool never refuses a job, and a job it did
        // refuse would otherwise surface only as a watchdog timeout two minutes later.
        if let Err(rejected) = pool.execute(move || {
            work();
            done.job_ran();
        }) {
            return Err(io::Error::other(format!(
                "{}: a job was refused: {rejected}",
                Variant::Final
            )));
        }
    }
    let ran = done.wait(WATCHDOG);
    let elapsed = start.elapsed();
    drop(pool);
    Ok(Measurement { jobs, ran, elapsed })
}

fn stage17(jobs: usize, work: impl Work) -> io::Result<Measurement> {
    let pool = ch17_shutdown_now::pool::ThreadPool::new(WORKERS);
    let done = Countdown::new(jobs);
    let start = Instant::now();
    for _ in 0..jobs {
        let done = Arc::clone(&done);
        if let Err(rejected) = pool.execute(move || {
            work();
            done.job_ran();
        }) {
            return Err(io::Error::other(format!(
                "{}: a job was refused: {rejected}",
                Variant::Stage17
            )));
        }
    }
    let ran = done.wait(WATCHDOG);
    let elapsed = start.elapsed();
    drop(pool);
    Ok(Measurement { jobs, ran, elapsed })
}

fn stage6(jobs: usize, work: impl Work) -> io::Result<Measurement> {
    let pool =
        ch06_graceful_shutdown::pool::ThreadPool::build(WORKERS).map_err(io::Error::other)?;
    let done = Countdown::new(jobs);
    let start = Instant::now();
    for _ in 0..jobs {
        let done = Arc::clone(&done);
        pool.execute(move || {
            work();
            done.job_ran();
        });
    }
    let ran = done.wait(WATCHDOG);
    let elapsed = start.elapsed();
    drop(pool);
    Ok(Measurement { jobs, ran, elapsed })
}

fn threadpool(jobs: usize, work: impl Work) -> Measurement {
    let pool = threadpool::ThreadPool::new(WORKERS);
    let done = Countdown::new(jobs);
    let start = Instant::now();
    for _ in 0..jobs {
        let done = Arc::clone(&done);
        pool.execute(move || {
            work();
            done.job_ran();
        });
    }
    // The crate's own way to wait. Its workers keep the counters `join` reads (and wake joiners
    // whenever the queue runs dry) for every job whether anyone joins or not, so waiting on a
    // `Countdown` instead would not make its jobs any cheaper.
    pool.join();
    let elapsed = start.elapsed();
    Measurement {
        jobs,
        ran: done.count(),
        elapsed,
    }
}

// Why `spawn` and a `Countdown`, and not `scope`: every other pool here is handed its jobs by a
// thread outside it, and `ThreadPool::spawn` from outside is rayon's version of that (a boxed job
// pushed on the pool's shared injector queue, a sleeping worker woken). `pool.scope` would run
// the submitting loop *on* one of the pool's two threads, pushing to that worker's own deque and
// leaving one worker to run jobs: rayon's in-pool fork-join, a different thing.
// `in_place_scope` keeps the loop outside but wraps each job in the scope's own counting and
// panic capture. With `spawn`, job body and wait are the final stage's exactly, so the ratio
// compares the hand-offs and nothing else. (A spawned job that panicked would abort the
// process, rayon's default without a panic handler; these jobs do not panic.)
fn rayon(jobs: usize, work: impl Work) -> io::Result<Measurement> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(WORKERS)
        .build()
        .map_err(io::Error::other)?;
    let done = Countdown::new(jobs);
    let start = Instant::now();
    for _ in 0..jobs {
        let done = Arc::clone(&done);
        pool.spawn(move || {
            work();
            done.job_ran();
        });
    }
    let ran = done.wait(WATCHDOG);
    let elapsed = start.elapsed();
    // Dropping a rayon pool tells its threads to exit but does not join them. They are idle by
    // now and exit within microseconds: noise next to the next variant's thousands of jobs.
    drop(pool);
    Ok(Measurement { jobs, ran, elapsed })
}

fn thread_per_job(jobs: usize, work: impl Work) -> io::Result<Measurement> {
    let done = Countdown::new(jobs);
    let mut handles = Vec::with_capacity(jobs);
    let mut spawn_error = None;
    let start = Instant::now();
    for _ in 0..jobs {
        let done = Arc::clone(&done);
        match thread::Builder::new().spawn(move || {
            work();
            done.job_ran();
        }) {
            Ok(handle) => handles.push(handle),
            Err(e) => {
                spawn_error = Some(e);
                break;
            }
        }
    }
    let mut panicked = false;
    for handle in handles {
        panicked |= handle.join().is_err();
    }
    let elapsed = start.elapsed();
    if let Some(e) = spawn_error {
        return Err(io::Error::new(
            e.kind(),
            format!("{}: cannot create a thread: {e}", Variant::ThreadPerJob),
        ));
    }
    if panicked {
        return Err(io::Error::other(format!(
            "{}: a job's thread panicked",
            Variant::ThreadPerJob
        )));
    }
    Ok(Measurement {
        jobs,
        ran: done.count(),
        elapsed,
    })
}

/// A job as the floor's channels carry it: boxed, like a pool's.
type Job = Box<dyn FnOnce() + Send + 'static>;

// One consumer, not one per worker: measured on empty jobs, a single consumer that keeps
// finding work is a cheaper hand-off than two fed round-robin, each idle (and woken) half the
// time. On small jobs that consumer runs all the work alone, so there the pools, sharing it
// between two workers, can beat this "floor"; the `inline` row is the reference for that.
fn channel_floor(jobs: usize, work: impl Work) -> io::Result<Measurement> {
    let (sender, receiver) = mpsc::channel::<Job>();
    let consumer = thread::Builder::new()
        .name("floor-consumer".to_owned())
        .spawn(move || {
            for job in receiver {
                job();
            }
        })?;
    let done = Countdown::new(jobs);
    let start = Instant::now();
    for _ in 0..jobs {
        let done = Arc::clone(&done);
        let job: Job = Box::new(move || {
            work();
            done.job_ran();
        });
        if sender.send(job).is_err() {
            break; // The consumer is gone (it panicked); the count says how many ran.
        }
    }
    let ran = done.wait(WATCHDOG);
    let elapsed = start.elapsed();
    drop(sender);
    if consumer.join().is_err() {
        return Err(io::Error::other(format!(
            "{}: the consumer thread panicked",
            Variant::ChannelFloor
        )));
    }
    Ok(Measurement { jobs, ran, elapsed })
}

fn inline(jobs: usize, work: impl Work) -> Measurement {
    let done = Countdown::new(jobs);
    let start = Instant::now();
    for _ in 0..jobs {
        // Made as the other variants make their jobs (an `Arc` clone and a closure), so the only
        // difference left is that nothing is handed over.
        let done = Arc::clone(&done);
        let job = move || {
            work();
            done.job_ran();
        };
        job();
    }
    let elapsed = start.elapsed();
    Measurement {
        jobs,
        ran: done.count(),
        elapsed,
    }
}
