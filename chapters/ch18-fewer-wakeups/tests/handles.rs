//! `spawn` and `join` from the outside: each handle gives its own job's value, or its panic with
//! the payload kept.

use ch18_fewer_wakeups::pool::ThreadPool;

#[test]
fn each_handle_joins_its_own_jobs_value() {
    let pool = ThreadPool::new(2);
    let handles: Vec<_> = (0..8_u64)
        .map(|n| pool.spawn(move || n * 10).unwrap())
        .collect();
    let values: Vec<u64> = handles
        .into_iter()
        .map(|handle| handle.join().expect("the job returns"))
        .collect();
    assert_eq!(values, [0, 10, 20, 30, 40, 50, 60, 70]);
}

#[test]
fn a_panicking_job_gives_its_handle_the_panic() {
    let pool = ThreadPool::new(1);
    let error = pool
        .spawn(|| -> u8 { panic!("no answer for {}", 42) })
        .unwrap()
        .join()
        .expect_err("the job panics");
    assert_eq!(error.message().as_deref(), Some("no answer for 42"));
    assert_eq!(
        pool.spawn(|| "the worker survived").unwrap().join().ok(),
        Some("the worker survived")
    );
}
