//! The connection pool and the one way work reaches it: [`run_unit`] checks a connection out
//! (verifying it first when it may be stale), runs the work on a blocking thread under a
//! deadline, and keeps a connection that failed out of the pool.
//!
//! Outage behaviour, in short: a connection that reported a lost connection is closed instead
//! of returned; after any such failure, and after [`IDLE_VERIFY`] unused, a connection is
//! pinged before use (so the first request after the database returns gets a working one);
//! waiting for a connection gives up after the checkout timeout; the whole unit gives up after
//! its deadline even if the database does not answer at all (a frozen server), with a 503.
//! While the database refuses new connections outright (server down, port closed: the last
//! attempt to open one failed and none has opened since), a unit takes an idle connection if
//! there is one and otherwise gets its 503 at once instead of after the checkout timeout.

use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web;
use diesel::r2d2::event::{AcquireEvent, CheckoutEvent};
use diesel::r2d2::{
    Error as R2d2Error, HandleError, HandleEvent, Pool, PooledConnection, R2D2Connection,
};
use prometheus::{Histogram, HistogramOpts, IntCounter};

use super::connection::{mark_broken, ConnManager, ConnOptions, DbConnection};
use super::failure::Failure;
use super::url::{Backend, DbUrl};
use crate::error::{AppError, Unavailable};

/// A pooled connection not used for this long is pinged before it is handed out (a database
/// restarted meanwhile would otherwise fail the first request on each of them).
pub const IDLE_VERIFY: Duration = Duration::from_secs(1);

/// Waiting for a connection is done in slices of this length, so that a refusal reported
/// meanwhile (by the pool's background connection attempts) ends the wait at once.
const WAIT_SLICE: Duration = Duration::from_millis(50);

/// How the pool is built (from `DB_POOL_SIZE`, `DB_POOL_CHECKOUT_TIMEOUT_S`,
/// `DB_STATEMENT_TIMEOUT_S`, `DB_ECHO`).
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Most connections.
    pub size: u32,
    /// How long a unit waits for a connection (and a new connection may take to open).
    pub checkout_timeout: Duration,
    /// Per-connection settings (statement and lock timeouts, echo).
    pub connection: ConnOptions,
}

impl PoolOptions {
    /// The longest a unit of work may take in all before its request gets a 503: the checkout
    /// timeout, the statement timeout and one second for everything else.
    pub fn unit_deadline(&self) -> Duration {
        self.checkout_timeout + self.connection.statement_timeout + Duration::from_secs(1)
    }
}

/// Pool counters, registered in `/metrics` by [`crate::metrics`].
#[derive(Debug, Clone)]
pub struct PoolStats {
    /// Connections handed out.
    pub checkouts: IntCounter,
    /// Checkouts that had to wait (more than a millisecond) for a connection.
    pub waits: IntCounter,
    /// Time spent waiting for a connection.
    pub wait_seconds: Histogram,
    /// Checkouts that gave up (checkout timeout).
    pub timeouts: IntCounter,
    /// Connections closed instead of returned because they failed, or failed a ping.
    pub discarded: IntCounter,
    /// Units whose deadline passed before the database answered.
    pub deadlines_missed: IntCounter,
    /// Statements sent (see [`super::tally`]).
    pub statements: IntCounter,
}

impl PoolStats {
    fn new() -> prometheus::Result<PoolStats> {
        let counter = |name: &str, help: &str| IntCounter::new(name, help);
        Ok(PoolStats {
            checkouts: counter(
                "camcops_db_pool_checkouts_total",
                "Connections handed out by the pool.",
            )?,
            waits: counter(
                "camcops_db_pool_waits_total",
                "Checkouts that had to wait for a connection.",
            )?,
            wait_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "camcops_db_pool_wait_seconds",
                    "Time spent waiting for a pooled connection.",
                )
                .buckets(vec![0.001, 0.005, 0.025, 0.1, 0.5, 1.0, 2.0, 5.0]),
            )?,
            timeouts: counter(
                "camcops_db_pool_timeouts_total",
                "Checkouts that gave up after the checkout timeout.",
            )?,
            discarded: counter(
                "camcops_db_pool_discarded_total",
                "Connections closed instead of returned because they failed.",
            )?,
            deadlines_missed: counter(
                "camcops_db_deadlines_missed_total",
                "Units of database work abandoned at their deadline (database not answering).",
            )?,
            statements: counter(
                "camcops_db_statements_total",
                "Statements sent to the database (BEGIN and COMMIT included, pings excluded).",
            )?,
        })
    }
}

/// What all clones of one pool share.
#[derive(Debug)]
struct Shared {
    options: PoolOptions,
    backend: Backend,
    stats: PoolStats,
    /// The start of the millisecond clock below.
    base: Instant,
    /// When (ms since `base`, plus one; 0 = never) a connection last failed.
    last_failure: AtomicU64,
    /// Whether the last attempt to open a connection failed (set by the pool's error handler,
    /// cleared when a connection opens).
    refusing: Arc<AtomicBool>,
}

impl Shared {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(1)
    }
}

/// When a connection last completed work (ms since the pool's base, plus one).
#[derive(Debug, Clone, Copy)]
struct LastOk(u64);

/// The shared connection pool: r2d2 underneath (`Deref`), plus the outage handling.
#[derive(Clone)]
pub struct DbPool {
    inner: Pool<ConnManager>,
    shared: Arc<Shared>,
}

impl Deref for DbPool {
    type Target = Pool<ConnManager>;

    fn deref(&self) -> &Pool<ConnManager> {
        &self.inner
    }
}

#[derive(Debug)]
struct Events(PoolStats, Arc<AtomicBool>);

impl HandleEvent for Events {
    fn handle_acquire(&self, _event: AcquireEvent) {
        // A connection opened: the database takes connections again.
        self.1.store(false, Ordering::Relaxed);
    }

    fn handle_checkout(&self, event: CheckoutEvent) {
        self.0.checkouts.inc();
        let waited = event.duration();
        self.0.wait_seconds.observe(waited.as_secs_f64());
        if waited > Duration::from_millis(1) {
            self.0.waits.inc();
        }
    }
}

/// r2d2's failed connection attempts (it retries in the background while the database is
/// away), through the rate-limited log; each marks the database as refusing connections.
#[derive(Debug)]
struct ConnectErrors(Arc<AtomicBool>);

impl HandleError<R2d2Error> for ConnectErrors {
    fn handle_error(&self, error: R2d2Error) {
        self.0.store(true, Ordering::Relaxed);
        crate::log_limit::warn("database connect", || {
            format!("cannot open a database connection: {error}")
        });
    }
}

/// Builds the pool once at startup with default statement timeouts; fails with the backend's
/// own error if it cannot connect.
pub fn build_pool(url: &DbUrl, size: u32, checkout_timeout: Duration) -> anyhow::Result<DbPool> {
    build_pool_with(
        url,
        PoolOptions {
            size,
            checkout_timeout,
            connection: ConnOptions::default(),
        },
    )
}

/// Builds the pool with `options`.
pub fn build_pool_with(url: &DbUrl, options: PoolOptions) -> anyhow::Result<DbPool> {
    let stats = PoolStats::new()?;
    options.connection.tally.attach(stats.statements.clone());
    let url = url.with_connect_timeout(options.checkout_timeout);
    let refusing = Arc::new(AtomicBool::new(false));
    let inner = Pool::builder()
        .max_size(options.size.max(1))
        .min_idle(Some(1))
        .connection_timeout(options.checkout_timeout)
        // No ping on every checkout (a round trip per request): see `checkout`.
        .test_on_check_out(false)
        .event_handler(Box::new(Events(stats.clone(), refusing.clone())))
        .error_handler(Box::new(ConnectErrors(refusing.clone())))
        .build(ConnManager::with_options(
            url.clone(),
            options.connection.clone(),
        ))?;
    Ok(DbPool {
        inner,
        shared: Arc::new(Shared {
            options,
            backend: url.backend,
            stats,
            base: Instant::now(),
            last_failure: AtomicU64::new(0),
            refusing,
        }),
    })
}

impl DbPool {
    /// The options it was built with.
    pub fn options(&self) -> &PoolOptions {
        &self.shared.options
    }

    /// Its counters.
    pub fn stats(&self) -> &PoolStats {
        &self.shared.stats
    }

    /// What its connections have sent to the database so far.
    pub fn statement_counts(&self) -> super::Counts {
        self.shared.options.connection.tally.counts()
    }

    /// Its statement tally (tests record statement texts with it).
    pub fn tally(&self) -> &super::StatementTally {
        &self.shared.options.connection.tally
    }

    /// Whether `conn` must be pinged before use: it was never used, has been idle a while, or
    /// some connection failed since it last worked. SQLite files do not go away under a connection.
    fn suspect(&self, conn: &PooledConnection<ConnManager>) -> bool {
        if self.shared.backend == Backend::Sqlite {
            return false;
        }
        let Some(&LastOk(ok)) = PooledConnection::extensions(conn).get::<LastOk>() else {
            // Never used: it may have waited idle in the pool since it was opened.
            return true;
        };
        let now = self.shared.now_ms();
        let idle_ms = u64::try_from(IDLE_VERIFY.as_millis()).unwrap_or(u64::MAX);
        now.saturating_sub(ok) > idle_ms || self.shared.last_failure.load(Ordering::Relaxed) >= ok
    }

    /// Notes that a connection failed: every connection older than now gets verified.
    fn note_failure(&self) {
        self.shared
            .last_failure
            .store(self.shared.now_ms(), Ordering::Relaxed);
    }

    /// Whether the database refuses new connections (the last attempt to open one failed).
    pub fn refusing(&self) -> bool {
        self.shared.refusing.load(Ordering::Relaxed)
    }

    /// A pooled connection within `timeout` of `start`, waited for in slices: while the
    /// database refuses new connections only an idle one is taken, and without one the wait
    /// ends at once with a 503.
    fn get(
        &self,
        start: Instant,
        timeout: Duration,
    ) -> Result<PooledConnection<ConnManager>, AppError> {
        loop {
            if self.refusing() {
                return self.inner.try_get().ok_or_else(|| {
                    AppError::ServiceUnavailable(Unavailable::new(
                        Failure::ConnectionLost,
                        "the database refuses new connections",
                    ))
                });
            }
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                self.shared.stats.timeouts.inc();
                return Err(AppError::ServiceUnavailable(Unavailable::new(
                    Failure::PoolTimeout,
                    format!(
                        "database pool: no connection within {} ms",
                        timeout.as_millis()
                    ),
                )));
            }
            if let Ok(conn) = self
                .inner
                .get_timeout(left.min(WAIT_SLICE).max(Duration::from_millis(1)))
            {
                return Ok(conn);
            }
        }
    }

    /// A connection that answers, within `timeout`: a suspect one is pinged first, and one
    /// that fails the ping is closed and the next one tried.
    fn checkout(&self, timeout: Duration) -> Result<PooledConnection<ConnManager>, AppError> {
        let start = Instant::now();
        loop {
            let mut conn = self.get(start, timeout)?;
            if !self.suspect(&conn) {
                return Ok(conn);
            }
            match super::tally::as_ping(|| conn.ping()) {
                Ok(()) => {
                    let now = self.shared.now_ms();
                    PooledConnection::extensions_mut(&mut conn).insert(LastOk(now));
                    return Ok(conn);
                }
                Err(e) => {
                    self.note_failure();
                    self.shared.stats.discarded.inc();
                    mark_broken(conn);
                    if start.elapsed() >= timeout {
                        return Err(AppError::from(e));
                    }
                }
            }
        }
    }

    /// Returns `conn` after a unit: closed if the unit reported a lost connection.
    fn check_in<T>(&self, mut conn: PooledConnection<ConnManager>, result: &Result<T, AppError>) {
        let broken = matches!(result, Err(AppError::ServiceUnavailable(u))
            if u.kind.breaks_connection());
        if broken {
            self.note_failure();
            self.shared.stats.discarded.inc();
            mark_broken(conn);
        } else {
            let now = self.shared.now_ms();
            PooledConnection::extensions_mut(&mut conn).insert(LastOk(now));
        }
    }
}

/// Runs `f` on one pooled connection on a blocking thread, waiting at most `checkout_timeout`
/// for the connection and `deadline` for everything. Past the deadline the request gets a 503
/// at once; the blocking thread finishes by itself when the database answers, and work that
/// had not started by then is skipped.
pub async fn run_unit<T, F>(
    pool: &DbPool,
    checkout_timeout: Duration,
    deadline: Duration,
    f: F,
) -> Result<T, AppError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    let stats = pool.shared.stats.clone();
    let abandoned = Arc::new(AtomicBool::new(false));
    let skip = abandoned.clone();
    let work = web::block(move || {
        if skip.load(Ordering::Relaxed) {
            return Err(AppError::ServiceUnavailable(Unavailable::new(
                Failure::Timeout,
                "database work abandoned before it started",
            )));
        }
        let mut conn = pool.checkout(checkout_timeout)?;
        let result = f(&mut conn);
        pool.check_in(conn, &result);
        result
    });
    match actix_web::rt::time::timeout(deadline, work).await {
        Ok(done) => done?,
        Err(_) => {
            abandoned.store(true, Ordering::Relaxed);
            stats.deadlines_missed.inc();
            Err(AppError::ServiceUnavailable(Unavailable::new(
                Failure::Timeout,
                format!(
                    "the database did not answer within {} ms",
                    deadline.as_millis()
                ),
            )))
        }
    }
}
