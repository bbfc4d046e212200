//! The connection enum over the backends compiled in, and an r2d2 manager that picks the
//! backend from the URL scheme (so connection errors are the driver's own, not
//! "Invalid connection url").

use diesel::r2d2::{self as r2d2, Error as R2d2Error, ManageConnection, R2D2Connection};
use diesel::Connection;

use super::url::{Backend, DbUrl};

macro_rules! connection_enum {
    ($($(#[$m:meta])* $variant:ident($ty:ty)),+ $(,)?) => {
        /// One pooled connection to whichever backend `DB_URL` names.
        #[derive(diesel::MultiConnection)]
        pub enum DbConnection {
            $($(#[$m])* $variant($ty)),+
        }
    };
}

#[cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
connection_enum!(
    /// SQLite.
    Sqlite(diesel::SqliteConnection),
    /// PostgreSQL.
    Pg(diesel::PgConnection),
    /// MySQL/MariaDB.
    Mysql(diesel::MysqlConnection),
);
#[cfg(all(feature = "sqlite", feature = "postgres", not(feature = "mysql")))]
connection_enum!(
    /// SQLite.
    Sqlite(diesel::SqliteConnection),
    /// PostgreSQL.
    Pg(diesel::PgConnection),
);
#[cfg(all(feature = "sqlite", not(feature = "postgres"), feature = "mysql"))]
connection_enum!(
    /// SQLite.
    Sqlite(diesel::SqliteConnection),
    /// MySQL/MariaDB.
    Mysql(diesel::MysqlConnection),
);
#[cfg(all(feature = "sqlite", not(feature = "postgres"), not(feature = "mysql")))]
connection_enum!(
    /// SQLite.
    Sqlite(diesel::SqliteConnection),
);
#[cfg(all(not(feature = "sqlite"), feature = "postgres", feature = "mysql"))]
connection_enum!(
    /// PostgreSQL.
    Pg(diesel::PgConnection),
    /// MySQL/MariaDB.
    Mysql(diesel::MysqlConnection),
);
#[cfg(all(not(feature = "sqlite"), feature = "postgres", not(feature = "mysql")))]
connection_enum!(
    /// PostgreSQL.
    Pg(diesel::PgConnection),
);
#[cfg(all(not(feature = "sqlite"), not(feature = "postgres"), feature = "mysql"))]
connection_enum!(
    /// MySQL/MariaDB.
    Mysql(diesel::MysqlConnection),
);
#[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
compile_error!("enable at least one of the features sqlite, postgres, mysql");

/// Runs `$body` with `$c` bound to the backend's own connection inside a [`DbConnection`].
///
/// For the few statements run on every request (the session, user and membership lookups):
/// through the `MultiConnection` enum, diesel serialises the whole statement to SQL on every
/// execution (twice: once to decide whether it may be cached, once to collect its binds), which
/// cost about a quarter of the CPU of an authenticated page view on SQLite. On the concrete
/// connection a cached statement is only re-bound. `$body` must be generic over the backend (it
/// is compiled once per backend).
#[macro_export]
macro_rules! on_native_connection {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            #[cfg(feature = "sqlite")]
            $crate::db::DbConnection::Sqlite($c) => $body,
            #[cfg(feature = "postgres")]
            $crate::db::DbConnection::Pg($c) => $body,
            #[cfg(feature = "mysql")]
            $crate::db::DbConnection::Mysql($c) => $body,
        }
    };
}

impl DbConnection {
    /// Which backend this connection talks to.
    pub fn backend(&self) -> Backend {
        match self {
            #[cfg(feature = "sqlite")]
            DbConnection::Sqlite(_) => Backend::Sqlite,
            #[cfg(feature = "postgres")]
            DbConnection::Pg(_) => Backend::Postgres,
            #[cfg(feature = "mysql")]
            DbConnection::Mysql(_) => Backend::Mysql,
        }
    }

    /// Opens one connection to `url` with the default [`ConnOptions`].
    pub fn open(url: &DbUrl) -> Result<DbConnection, diesel::ConnectionError> {
        DbConnection::open_with(url, &ConnOptions::default())
    }

    /// Opens one connection to `url` and applies the per-connection settings: SQLite pragmas
    /// (`busy_timeout` from the lock timeout), the statement and lock timeouts of PostgreSQL and
    /// MariaDB/MySQL, and statement logging when `echo` is on.
    pub fn open_with(
        url: &DbUrl,
        options: &ConnOptions,
    ) -> Result<DbConnection, diesel::ConnectionError> {
        use diesel::connection::SimpleConnection;
        let setup = |e| diesel::ConnectionError::CouldntSetupConfiguration(e);
        let ms = options.statement_timeout.as_millis().max(1);
        let mut conn = match url.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => {
                let mut c = diesel::SqliteConnection::establish(&url.url)?;
                c.batch_execute(&format!(
                    "PRAGMA busy_timeout = {ms}; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
                ))
                .map_err(setup)?;
                DbConnection::Sqlite(c)
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres => {
                let mut c = diesel::PgConnection::establish(&url.url)?;
                // join_collapse_limit = 1: joins are planned in the order written. Every join
                // here is written driving from its most selective table (the session by id, a
                // page's keys), and PostgreSQL otherwise spends 2-5 ms planning the task page's
                // eight-table join on every execution that gets a custom plan (0.5 ms so).
                c.batch_execute(&format!(
                    "SET statement_timeout = {ms}; SET lock_timeout = {ms}; \
                     SET join_collapse_limit = 1"
                ))
                .map_err(setup)?;
                DbConnection::Pg(c)
            }
            #[cfg(feature = "mysql")]
            Backend::Mysql => {
                let mut c = diesel::MysqlConnection::establish(&url.url)?;
                let secs = options.statement_timeout.as_secs().max(1);
                c.batch_execute(&format!(
                    "SET SESSION innodb_lock_wait_timeout = {secs}, lock_wait_timeout = {secs}"
                ))
                .map_err(setup)?;
                // MariaDB's name, then MySQL's (which covers SELECT statements only).
                if c.batch_execute(&format!(
                    "SET SESSION max_statement_time = {}",
                    ms as f64 / 1000.0
                ))
                .is_err()
                {
                    c.batch_execute(&format!("SET SESSION max_execution_time = {ms}"))
                        .map_err(setup)?;
                }
                DbConnection::Mysql(c)
            }
            #[allow(unreachable_patterns)]
            other => {
                return Err(diesel::ConnectionError::BadConnection(format!(
                    "{other} support is not compiled in"
                )))
            }
        };
        conn.set_instrumentation(options.tally.instrument(options.echo));
        Ok(conn)
    }
}

/// Per-connection settings applied when a connection is opened.
#[derive(Debug, Clone)]
pub struct ConnOptions {
    /// Statement and lock timeout (PostgreSQL `statement_timeout`/`lock_timeout`, MariaDB
    /// `max_statement_time`/`innodb_lock_wait_timeout`, SQLite `busy_timeout`).
    pub statement_timeout: std::time::Duration,
    /// `DB_ECHO`: log every statement at debug level (without bind values).
    pub echo: bool,
    /// Where the pool's connections count their statements.
    pub tally: super::tally::StatementTally,
}

impl Default for ConnOptions {
    fn default() -> Self {
        ConnOptions {
            statement_timeout: std::time::Duration::from_secs(5),
            echo: false,
            tally: super::tally::StatementTally::default(),
        }
    }
}

/// r2d2 manager that opens connections with [`DbConnection::open_with`].
#[derive(Debug, Clone)]
pub struct ConnManager {
    url: DbUrl,
    options: ConnOptions,
}

impl ConnManager {
    /// A manager for `url` with the default options.
    pub fn new(url: DbUrl) -> Self {
        ConnManager::with_options(url, ConnOptions::default())
    }

    /// A manager for `url` with `options`.
    pub fn with_options(url: DbUrl, options: ConnOptions) -> Self {
        ConnManager { url, options }
    }
}

thread_local! {
    /// Set by [`mark_broken`] just before a connection that failed is dropped on this thread,
    /// read (and cleared) by `has_broken` as r2d2 takes it back: r2d2 offers no other way to
    /// say "do not return this one".
    static DISCARD_NEXT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Drops `conn` out of the pool: it is closed instead of being returned.
pub fn mark_broken(conn: r2d2::PooledConnection<ConnManager>) {
    DISCARD_NEXT.with(|d| d.set(true));
    drop(conn);
    DISCARD_NEXT.with(|d| d.set(false));
}

impl ManageConnection for ConnManager {
    type Connection = DbConnection;
    type Error = R2d2Error;

    fn connect(&self) -> Result<DbConnection, R2d2Error> {
        DbConnection::open_with(&self.url, &self.options).map_err(R2d2Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), R2d2Error> {
        conn.ping().map_err(R2d2Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        DISCARD_NEXT.with(|d| d.replace(false)) || conn.is_broken()
    }
}
