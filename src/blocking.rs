//! How blocking work is scheduled off the async workers.
//!
//! Each actix worker thread has its own pool of blocking threads (`web::block`). Two kinds of
//! work run there: database units (`db::run_db*`) and bcrypt. The pool of each worker is
//! capped at its share of `DB_POOL_SIZE` plus [`HASHING_SLOTS_PER_WORKER`]:
//!
//! - a small cap lets a blocking thread take the next queued unit as soon as it finishes one,
//!   instead of every unit waking an idle thread (a futex wake and two context switches per
//!   request); more threads than pooled connections would only wait for a connection;
//! - bcrypt (~200 ms a hash at cost 12) runs only in a hashing slot, awaited asynchronously
//!   before the blocking call, so a storm of logins can never occupy the threads that serve
//!   page views, and at most one hash per worker (one per core) runs at a time.

use std::sync::Arc;

use actix_web::web;
use tokio::sync::Semaphore;

use crate::error::AppError;

/// Concurrent bcrypt computations per worker thread.
pub const HASHING_SLOTS_PER_WORKER: usize = 1;

/// Worker threads: one per available core (actix-web's own default).
pub fn worker_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The blocking-thread cap of one worker: its share of the database pool (rounded up) plus
/// the hashing slots.
pub fn blocking_threads_per_worker(db_pool_size: u32, workers: usize) -> usize {
    let pool = usize::try_from(db_pool_size.max(1)).unwrap_or(usize::MAX);
    pool.div_ceil(workers.max(1)) + HASHING_SLOTS_PER_WORKER
}

thread_local! {
    static HASHING_SLOTS: Arc<Semaphore> = Arc::new(Semaphore::new(HASHING_SLOTS_PER_WORKER));
}

/// Runs password hashing `f` on a blocking thread once one of this worker's hashing slots is
/// free (waiting for it without blocking the worker).
pub async fn run_hashing<T, F>(f: F) -> Result<T, AppError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let slots = HASHING_SLOTS.with(Arc::clone);
    let _slot = slots
        .acquire_owned()
        .await
        .map_err(|_| AppError::ServiceUnavailable("password hashing is shut down".into()))?;
    Ok(web::block(f).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocking_threads_are_the_pool_share_plus_hashing() {
        assert_eq!(
            blocking_threads_per_worker(10, 2),
            5 + HASHING_SLOTS_PER_WORKER
        );
        assert_eq!(
            blocking_threads_per_worker(3, 2),
            2 + HASHING_SLOTS_PER_WORKER
        );
        assert_eq!(
            blocking_threads_per_worker(1, 4),
            1 + HASHING_SLOTS_PER_WORKER
        );
        assert_eq!(
            blocking_threads_per_worker(0, 0),
            1 + HASHING_SLOTS_PER_WORKER
        );
    }

    #[actix_web::test]
    async fn hashing_runs_one_at_a_time_per_worker() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let job = || {
            let (running, most) = (running.clone(), most.clone());
            run_hashing(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
            })
        };
        let (a, b, c) = futures_util::future::join3(job(), job(), job()).await;
        assert!(a.is_ok() && b.is_ok() && c.is_ok());
        assert_eq!(most.load(Ordering::SeqCst), HASHING_SLOTS_PER_WORKER);
    }
}
