//! The builder from the outside: each setting takes effect, the defaults are the documented ones,
//! and a setting of zero is refused with its own error.

use ch15_join::pool::{Policy, PoolCreationError, ThreadPool};

/// The name of the thread that runs a job on `pool`.
fn thread_name(pool: &ThreadPool) -> Option<String> {
    pool.spawn(|| std::thread::current().name().map(str::to_owned))
        .expect("room for the job")
        .join()
        .expect("the job returns")
}

// ANCHOR: builder-test
#[test]
fn the_builder_sets_names_stack_capacity_and_policy() {
    let pool = ThreadPool::builder()
        .threads(2)
        .name_prefix("tester")
        .stack_size(256 * 1024)
        .capacity(8)
        .policy(Policy::CallerRuns)
        .build()
        .expect("the pool starts");
    assert_eq!(pool.capacity(), 8);
    assert_eq!(pool.policy(), Policy::CallerRuns);
    let name = thread_name(&pool);
    assert!(
        matches!(name.as_deref(), Some("tester-0" | "tester-1")),
        "{name:?}"
    );
}
// ANCHOR_END: builder-test

#[test]
fn the_defaults_are_named_workers_no_limit_and_block() {
    let pool = ThreadPool::builder()
        .threads(1)
        .build()
        .expect("the pool starts");
    assert_eq!(thread_name(&pool).as_deref(), Some("pool-worker-0"));
    assert_eq!(pool.capacity(), usize::MAX);
    assert_eq!(pool.policy(), Policy::Block);
}

#[test]
fn zero_threads_or_zero_capacity_is_an_error() {
    assert!(matches!(
        ThreadPool::builder().threads(0).build(),
        Err(PoolCreationError::ZeroThreads)
    ));
    assert!(matches!(
        ThreadPool::builder().capacity(0).build(),
        Err(PoolCreationError::ZeroCapacity)
    ));
}
