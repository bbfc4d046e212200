//! The connection enum over the backends compiled in, and an r2d2 manager that picks the
//! backend from the URL scheme (so connection errors are the driver's own, not
//! "Invalid connection url").

use diesel::r2d2::{Error as R2d2Error, ManageConnection, R2D2Connection};
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

    /// Opens one connection to `url`, applying the per-connection settings (SQLite pragmas).
    pub fn open(url: &DbUrl) -> Result<DbConnection, diesel::ConnectionError> {
        match url.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => {
                use diesel::connection::SimpleConnection;
                let mut c = diesel::SqliteConnection::establish(&url.url)?;
                c.batch_execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(c))
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres => diesel::PgConnection::establish(&url.url).map(DbConnection::Pg),
            #[cfg(feature = "mysql")]
            Backend::Mysql => diesel::MysqlConnection::establish(&url.url).map(DbConnection::Mysql),
            #[allow(unreachable_patterns)]
            other => Err(diesel::ConnectionError::BadConnection(format!(
                "{other} support is not compiled in"
            ))),
        }
    }
}

/// r2d2 manager that opens connections with [`DbConnection::open`].
#[derive(Debug, Clone)]
pub struct ConnManager {
    url: DbUrl,
}

impl ConnManager {
    /// A manager for `url`.
    pub fn new(url: DbUrl) -> Self {
        ConnManager { url }
    }
}

impl ManageConnection for ConnManager {
    type Connection = DbConnection;
    type Error = R2d2Error;

    fn connect(&self) -> Result<DbConnection, R2d2Error> {
        DbConnection::open(&self.url).map_err(R2d2Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), R2d2Error> {
        conn.ping().map_err(R2d2Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        conn.is_broken()
    }
}
