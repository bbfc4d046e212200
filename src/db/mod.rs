//! Database access: the connection enum over the compiled-in backends, the pool, migrations,
//! and `run_db`, the one blocking hop per unit of work.

pub mod adopt;
pub mod connection;
pub mod echo;
pub mod failure;
pub mod lock;
mod pool;
pub mod schema;
pub mod tally;
pub mod url;

#[cfg(feature = "sqlite")]
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub use connection::{ConnManager, ConnOptions, DbConnection, MultiBackend};
pub use failure::Failure;
pub use pool::{
    build_pool, build_pool_with, run_unit, DbPool, PoolOptions, PoolStats, IDLE_VERIFY,
};
pub use tally::{Counts, StatementTally};
pub use url::{Backend, DbUrl};

use crate::error::AppError;

#[cfg(feature = "sqlite")]
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
#[cfg(feature = "postgres")]
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
#[cfg(feature = "mysql")]
const MYSQL_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/mysql");

fn migrations_for(conn: &DbConnection) -> EmbeddedMigrations {
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(_) => SQLITE_MIGRATIONS,
        #[cfg(feature = "postgres")]
        DbConnection::Pg(_) => POSTGRES_MIGRATIONS,
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(_) => MYSQL_MIGRATIONS,
    }
}

/// Applies every pending migration; returns the names of those applied.
pub fn run_migrations(conn: &mut DbConnection) -> anyhow::Result<Vec<String>> {
    let source = migrations_for(conn);
    let applied = conn
        .run_pending_migrations(source)
        .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
    Ok(applied.iter().map(|v| v.to_string()).collect())
}

/// Reverts every migration (used by tests and by `upgrade_db --downgrade-all`).
pub fn revert_all_migrations(conn: &mut DbConnection) -> anyhow::Result<Vec<String>> {
    let source = migrations_for(conn);
    let reverted = conn
        .revert_all_migrations(source)
        .map_err(|e| anyhow::anyhow!("migration revert failed: {e}"))?;
    Ok(reverted.iter().map(|v| v.to_string()).collect())
}

/// Whether the database has migrations still to apply.
pub fn has_pending_migrations(conn: &mut DbConnection) -> anyhow::Result<bool> {
    let source = migrations_for(conn);
    conn.has_pending_migration(source)
        .map_err(|e| anyhow::anyhow!("cannot read migration state: {e}"))
}

/// What `upgrade-db` did.
#[derive(Debug)]
pub enum Upgrade {
    /// A database of camcops-web's own (or an empty one): these migrations were applied.
    Migrated(Vec<String>),
    /// A CamCOPS database at this revision: these adoption steps were applied.
    Adopted {
        /// Its alembic revision.
        revision: String,
        /// The steps applied now (empty: it was adopted already).
        steps: Vec<&'static str>,
    },
}

/// `upgrade-db`: a CamCOPS database (recognised by its `_alembic_version` table before diesel's
/// harness touches anything) is adopted with additive steps only; any other database gets
/// camcops-web's own migrations.
pub fn upgrade(conn: &mut DbConnection) -> anyhow::Result<Upgrade> {
    match adopt::detect(conn)? {
        adopt::Kind::Own => {
            // The unique indexes of the migrations would fail on duplicates: say which.
            if has_pending_migrations(conn)? && adopt::table_exists(conn, "_security_users")? {
                let found = adopt::clashes(conn)?;
                if !found.is_empty() {
                    anyhow::bail!(
                        "the database holds {}; names must be unique regardless of case and a \
                         user may be in a group once: rename or remove them, then run \
                         `upgrade-db` again",
                        found.join(" and ")
                    );
                }
            }
            Ok(Upgrade::Migrated(run_migrations(conn)?))
        }
        adopt::Kind::Camcops(db) => {
            let steps = adopt::adopt(conn, &db)?;
            Ok(Upgrade::Adopted {
                revision: db.revision,
                steps,
            })
        }
    }
}

/// Why the server must not start on this database, or `None` when the schema is ready.
pub fn schema_problem(conn: &mut DbConnection) -> anyhow::Result<Option<String>> {
    Ok(match adopt::detect(conn)? {
        adopt::Kind::Own => has_pending_migrations(conn)?.then(|| {
            "the database schema is not up to date: run `camcops-web upgrade-db` first".to_string()
        }),
        adopt::Kind::Camcops(db) if !db.revision_supported() => Some(db.unsupported_message()),
        adopt::Kind::Camcops(db) if !db.pending.is_empty() => Some(
            "this is a CamCOPS database that camcops-web has not adopted yet: back it up, then \
             run `camcops-web upgrade-db` (it only adds what camcops-web needs; see the README, \
             \"Running on an existing CamCOPS database\")"
                .to_string(),
        ),
        adopt::Kind::Camcops(_) => None,
    })
}

/// Runs `f` in one transaction on one connection: on SQLite with `BEGIN IMMEDIATE`, so that a
/// unit that reads and then writes waits for the write lock instead of failing mid-way.
#[allow(irrefutable_let_patterns)] // only one variant when built with SQLite alone
pub fn transaction<T, F>(conn: &mut DbConnection, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, AppError>,
{
    #[cfg(feature = "sqlite")]
    if let DbConnection::Sqlite(inner) = conn {
        AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
        let result = f(conn);
        if let DbConnection::Sqlite(inner) = conn {
            return match result {
                Ok(v) => {
                    <AnsiTransactionManager as TransactionManager<_>>::commit_transaction(inner)?;
                    Ok(v)
                }
                Err(e) => {
                    let _ = <AnsiTransactionManager as TransactionManager<_>>::rollback_transaction(
                        inner,
                    );
                    Err(e)
                }
            };
        }
        return result;
    }
    conn.transaction(f)
}

/// Runs one unit of database work off the async workers: checks out one pooled connection,
/// runs `f` inside one transaction and returns its result. Pool exhaustion becomes a 503.
pub async fn run_db<T, F>(pool: &DbPool, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    run_db_conn(pool, move |conn| transaction(conn, f)).await
}

/// Like [`run_db`] but for read-only work: a plain (deferred) transaction, so that on SQLite
/// readers do not queue behind the write lock. `f` must not write.
///
/// On PostgreSQL no transaction at all: under its default READ COMMITTED isolation every
/// statement of a transaction takes its own snapshot anyway, so `BEGIN`/`COMMIT` would only
/// add two round trips to every page view. (SQLite's and MariaDB's read transactions keep
/// one snapshot for all the statements, which the page's count and rows rely on.)
pub async fn run_db_read<T, F>(pool: &DbPool, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    run_db_conn(pool, move |conn| match conn.backend() {
        Backend::Postgres => f(conn),
        _ => conn.transaction(f),
    })
    .await
}

/// Runs one unit of database work off the async workers on one pooled connection, without an
/// enclosing transaction: `f` opens its own ([`transaction`] for writes, `conn.transaction` for
/// reads). Used where a read is usually all that is needed and a write only sometimes (session
/// resolution), so that on SQLite readers do not take the write lock.
///
/// Waits at most the pool's checkout timeout for a connection and its unit deadline in all
/// (see `pool`): a database that is away, locked or frozen gives a 503, never a hang.
pub async fn run_db_conn<T, F>(pool: &DbPool, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let options = pool.options();
    let (checkout, deadline) = (options.checkout_timeout, options.unit_deadline());
    run_unit(pool, checkout, deadline, f).await
}

/// The id given to the row just inserted on this connection (call inside the same transaction).
pub fn last_insert_id(conn: &mut DbConnection) -> diesel::QueryResult<i32> {
    use diesel::RunQueryDsl;
    let id: i64 = match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => {
            diesel::select(sql_fns::last_insert_rowid()).get_result::<i64>(c)?
        }
        #[cfg(feature = "postgres")]
        DbConnection::Pg(c) => diesel::select(sql_fns::lastval()).get_result::<i64>(c)?,
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => {
            let v: u64 = diesel::select(sql_fns::last_insert_id()).get_result(c)?;
            i64::try_from(v).unwrap_or(i64::MAX)
        }
    };
    i32::try_from(id).map_err(|_| {
        diesel::result::Error::DeserializationError("inserted id does not fit in INTEGER".into())
    })
}

pub use sql_fns::lower;

mod sql_fns {
    diesel::define_sql_function! {
        /// SQL `lower(text)` (names compared regardless of case; ASCII names on SQLite).
        fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
    }
    #[cfg(feature = "sqlite")]
    diesel::define_sql_function! { fn last_insert_rowid() -> diesel::sql_types::BigInt; }
    #[cfg(feature = "mysql")]
    diesel::define_sql_function! { fn last_insert_id() -> diesel::sql_types::Unsigned<diesel::sql_types::BigInt>; }
    #[cfg(feature = "postgres")]
    diesel::define_sql_function! { fn lastval() -> diesel::sql_types::BigInt; }
}
