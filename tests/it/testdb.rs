//! Per-test databases on every available backend: the `TestDb` guard, `backends()`,
//! `for_each_backend` and the `backend_test!` macro that turns one test body into one
//! `#[test]` per backend (`<name>::sqlite`, `<name>::postgres`, `<name>::mysql`).
//!
//! SQLite always runs (a file in a temporary directory). PostgreSQL runs when
//! `TEST_POSTGRES_URL` is set (e.g. `postgres://postgres@127.0.0.1:5432/postgres`) and
//! MariaDB/MySQL when `TEST_MYSQL_URL` is set (e.g. `mysql://root@127.0.0.1:3306/mysql`):
//! each test then gets its own `camcops_test_<time>_<random>` database on that server,
//! dropped again when the guard is dropped. A variable that is set but cannot be used
//! (feature not compiled in, server unreachable) fails the test; it is never skipped.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use camcops_web::db::url::redact;
use camcops_web::db::{build_pool, run_migrations, DbConnection, DbPool};
pub use camcops_web::db::{Backend, DbUrl};
use diesel::connection::SimpleConnection;
use diesel::{QueryableByName, RunQueryDsl};

/// Environment variable naming the PostgreSQL server for tests (its maintenance database).
pub const POSTGRES_ENV: &str = "TEST_POSTGRES_URL";
/// Environment variable naming the MariaDB/MySQL server for tests (its `mysql` database).
pub const MYSQL_ENV: &str = "TEST_MYSQL_URL";
/// Every database a test creates on a server starts with this.
pub const DB_PREFIX: &str = "camcops_test_";
/// Leftover test databases older than this (a killed run) are dropped by the next run.
const STALE_AFTER: Duration = Duration::from_secs(6 * 3600);

/// The environment variable that enables `backend`, or `None` for SQLite (always enabled).
pub fn env_var(backend: Backend) -> Option<&'static str> {
    match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(POSTGRES_ENV),
        Backend::Mysql => Some(MYSQL_ENV),
    }
}

/// The server URL for `backend` from its environment variable (`None` if unset or empty).
///
/// Panics if the variable is set but this test binary lacks the backend's cargo feature.
fn server_url(backend: Backend) -> Option<String> {
    let var = env_var(backend)?;
    let value = std::env::var(var).ok().filter(|v| !v.trim().is_empty())?;
    assert!(
        backend.compiled_in(),
        "{var} is set, but this test binary was built without the `{feature}` feature: \
         run `cargo test --features {feature}` (or `--all-features`), or unset {var}",
        feature = backend.feature(),
    );
    Some(value.trim().to_string())
}

/// The backends the tests run on: SQLite, plus PostgreSQL and MariaDB when their
/// environment variables are set (panics if one is set but not compiled in).
pub fn backends() -> Vec<Backend> {
    let mut list = Vec::new();
    if Backend::Sqlite.compiled_in() {
        list.push(Backend::Sqlite);
    }
    for backend in [Backend::Postgres, Backend::Mysql] {
        if server_url(backend).is_some() {
            list.push(backend);
        }
    }
    list
}

/// Runs `body` once per backend in [`backends`], each time on a fresh migrated database,
/// and prints which backends ran. Prefer [`backend_test!`], which gives one test per backend.
pub fn for_each_backend(mut body: impl FnMut(TestDb)) {
    let list = backends();
    for &backend in &list {
        eprintln!("--- on {backend}");
        body(TestDb::new(backend));
    }
    let names: Vec<String> = list.iter().map(ToString::to_string).collect();
    eprintln!("ran on: {}", names.join(", "));
}

/// Where a test database lives, and what dropping the guard must remove.
enum Place {
    /// A file inside a temporary directory (removed with the directory).
    Sqlite(tempfile::TempDir),
    /// A database created on a server, dropped through `admin_url`.
    Server { admin_url: String, name: String },
}

/// A fresh database for one test, removed again on `Drop`.
///
/// Keep it alive for as long as anything (a pool, a spawned server) uses the database.
pub struct TestDb {
    backend: Backend,
    url: String,
    place: Place,
}

impl TestDb {
    /// A fresh database on `backend` with every migration applied.
    ///
    /// Panics (with the driver's message) if the database cannot be made or migrated, and
    /// for PostgreSQL/MariaDB if the backend's environment variable is not set.
    pub fn new(backend: Backend) -> TestDb {
        let db = TestDb::empty(backend);
        let mut conn = db.conn();
        if let Err(e) = run_migrations(&mut conn) {
            panic!("migrating the test database on {backend} failed: {e:#}");
        }
        db
    }

    /// A fresh database on `backend` with no tables at all (for migration tests).
    pub fn empty(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::Builder::new()
                    .prefix("camcops-test-")
                    .tempdir()
                    .unwrap_or_else(|e| panic!("cannot make a temporary directory: {e}"));
                let path: PathBuf = dir.path().join("camcops.sqlite");
                TestDb {
                    backend,
                    url: format!("sqlite://{}", path.display()),
                    place: Place::Sqlite(dir),
                }
            }
            Backend::Postgres | Backend::Mysql => {
                let Some(admin_url) = server_url(backend) else {
                    panic!(
                        "a {backend} test database needs {} to be set",
                        env_var(backend).unwrap_or_default()
                    );
                };
                sweep_stale_databases(backend, &admin_url);
                let name = new_database_name();
                let create = match backend {
                    Backend::Postgres => format!("CREATE DATABASE {name}"),
                    _ => format!(
                        "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                    ),
                };
                let mut admin = connect_admin(backend, &admin_url);
                if let Err(e) = admin.batch_execute(&create) {
                    panic!("`{create}` on {} failed: {e}", redact(&admin_url));
                }
                TestDb {
                    backend,
                    url: with_database(&admin_url, &name),
                    place: Place::Server { admin_url, name },
                }
            }
        }
    }

    /// For `backend_test!`: the migrated database, or `None` (after saying so) when the
    /// backend's environment variable is not set.
    pub fn for_test(backend: Backend) -> Option<TestDb> {
        if let Some(var) = env_var(backend) {
            if server_url(backend).is_none() {
                eprintln!("skipped: {var} not set");
                note_skip_once(backend, var);
                return None;
            }
        }
        Some(TestDb::new(backend))
    }

    /// Like [`TestDb::for_test`] but with no tables at all (for tests that load a schema of
    /// their own, such as CamCOPS' in `camcops_fixture`).
    pub fn empty_for_test(backend: Backend) -> Option<TestDb> {
        if let Some(var) = env_var(backend) {
            if server_url(backend).is_none() {
                eprintln!("skipped: {var} not set");
                note_skip_once(backend, var);
                return None;
            }
        }
        Some(TestDb::empty(backend))
    }

    /// Which backend this database is on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database's URL as a `DB_URL` value (`sqlite:///tmp/…`, `postgres://…/camcops_test_…`).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The URL parsed as the application parses `DB_URL`.
    pub fn db_url(&self) -> DbUrl {
        DbUrl::parse(&self.url)
            .unwrap_or_else(|e| panic!("the test database URL does not parse: {e}"))
    }

    /// A new connection (migrated if the guard came from [`TestDb::new`]).
    pub fn conn(&self) -> DbConnection {
        DbConnection::open(&self.db_url()).unwrap_or_else(|e| {
            panic!(
                "cannot connect to the {} test database {}: {e}",
                self.backend,
                redact(&self.url)
            )
        })
    }

    /// A small pool on this database, built as the application builds it.
    pub fn pool(&self) -> DbPool {
        build_pool(&self.db_url(), 4, Duration::from_secs(10)).unwrap_or_else(|e| {
            panic!(
                "cannot build a pool on the {} test database: {e:#}",
                self.backend
            )
        })
    }

    /// The server-side database name (`None` for SQLite).
    pub fn database_name(&self) -> Option<&str> {
        match &self.place {
            Place::Sqlite(_) => None,
            Place::Server { name, .. } => Some(name),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Place::Server { admin_url, name } = &self.place else {
            return; // the TempDir removes the SQLite file
        };
        if let Err(e) = drop_database(self.backend, admin_url, name) {
            let msg = format!(
                "could not drop test database {name} on {}: {e}",
                self.backend
            );
            if std::thread::panicking() {
                eprintln!("{msg}");
            } else {
                panic!("{msg}");
            }
        }
    }
}

/// Connects to the server's maintenance database, panicking with the driver's error.
fn connect_admin(backend: Backend, admin_url: &str) -> DbConnection {
    let var = env_var(backend).unwrap_or_default();
    let url = DbUrl::parse(admin_url).unwrap_or_else(|e| panic!("{var}: {e}"));
    assert_eq!(
        url.backend,
        backend,
        "{var} must be a {backend} URL, not {}",
        redact(admin_url)
    );
    DbConnection::open(&url).unwrap_or_else(|e| {
        panic!(
            "{var} is set but {backend} at {} cannot be reached: {e} \
             (is the server running? .ci/run starts it)",
            redact(admin_url)
        )
    })
}

/// Drops `name` on the server, first ending any session still connected to it.
fn drop_database(backend: Backend, admin_url: &str, name: &str) -> Result<(), String> {
    let url = DbUrl::parse(admin_url)?;
    let mut admin = DbConnection::open(&url).map_err(|e| e.to_string())?;
    if backend == Backend::Mysql {
        // A pooled connection left open would hold the DROP on a metadata lock.
        let sql = format!(
            "SELECT CAST(ID AS SIGNED) AS id FROM information_schema.PROCESSLIST WHERE DB = '{name}'"
        );
        let ids: Vec<IdRow> = diesel::sql_query(sql)
            .load(&mut admin)
            .map_err(|e| e.to_string())?;
        for IdRow { id } in ids {
            // It may have gone by itself meanwhile.
            let _ = admin.batch_execute(&format!("KILL CONNECTION {id}"));
        }
    }
    let sql = match backend {
        Backend::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        _ => format!("DROP DATABASE IF EXISTS {name}"),
    };
    admin.batch_execute(&sql).map_err(|e| e.to_string())
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct NameRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

/// Names of the `camcops_test_*` databases now on the server behind `admin_url`.
pub fn test_databases(backend: Backend, admin_url: &str) -> Vec<String> {
    let sql = match backend {
        Backend::Postgres => {
            r"SELECT datname::text AS name FROM pg_database WHERE datname LIKE 'camcops\_test\_%'"
        }
        _ => {
            r"SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'camcops\_test\_%'"
        }
    };
    let mut admin = connect_admin(backend, admin_url);
    let rows: Vec<NameRow> = diesel::sql_query(sql)
        .load(&mut admin)
        .unwrap_or_else(|e| panic!("listing test databases on {backend} failed: {e}"));
    rows.into_iter().map(|r| r.name).collect()
}

/// `camcops_test_<unix seconds>_<16 random hex digits>`: unique, and its age is readable.
fn new_database_name() -> String {
    format!("{DB_PREFIX}{}_{:016x}", unix_now(), rand::random::<u64>())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Once per process and server: drops test databases left by a killed run (older than
/// [`STALE_AFTER`]; younger ones may belong to a run going on now).
fn sweep_stale_databases(backend: Backend, admin_url: &str) {
    static SWEPT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut swept = SWEPT.lock().unwrap_or_else(|p| p.into_inner());
    if swept.iter().any(|u| u == admin_url) {
        return;
    }
    swept.push(admin_url.to_string());
    let now = unix_now();
    for name in test_databases(backend, admin_url) {
        let created = name
            .strip_prefix(DB_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|t| now.saturating_sub(t) > STALE_AFTER.as_secs()) {
            match drop_database(backend, admin_url, &name) {
                Ok(()) => eprintln!("dropped stale test database {name}"),
                Err(e) => eprintln!("could not drop stale test database {name}: {e}"),
            }
        }
    }
}

/// `url` with its database (path) replaced by `database`, keeping any query string.
fn with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (location, query) = match rest.split_once('?') {
        Some((l, q)) => (l, Some(q)),
        None => (rest, None),
    };
    let authority = location.split('/').next().unwrap_or(location);
    let mut out = format!("{scheme}://{authority}/{database}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Says once per process, past the test harness's output capture, that a backend's tests
/// were skipped, so a CI log shows it.
fn note_skip_once(backend: Backend, var: &str) {
    static NOTED: OnceLock<Mutex<Vec<Backend>>> = OnceLock::new();
    let mut noted = NOTED
        .get_or_init(|| Mutex::new(Vec::new()))
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if !noted.contains(&backend) {
        noted.push(backend);
        let _ = writeln!(
            std::io::stderr(),
            "note: {backend} tests skipped: {var} not set"
        );
    }
}

/// Defines one test per backend from one body: `<name>::sqlite`, `<name>::postgres`,
/// `<name>::mysql`. The body gets `$db: TestDb` (fresh, migrated, owned). A backend whose
/// environment variable is unset passes after printing `skipped: … not set`.
///
/// ```ignore
/// use crate::testdb::backend_test;
///
/// backend_test! {
///     /// Sentence-style name saying what must hold.
///     fn sessions_table_starts_empty(db) {
///         let mut conn = db.conn();
///         // ... assertions ...
///     }
///
///     async fn login_page_renders(db) {   // runs under #[actix_web::test]
///         let pool = db.pool();
///         // ...
///     }
/// }
/// ```
macro_rules! backend_test {
    () => {};
    ($(#[$meta:meta])* fn $name:ident($db:ident) $body:block $($rest:tt)*) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $crate::testdb::backend_test!(@sync [$(#[$meta])*] sqlite Sqlite $db $body);
            $crate::testdb::backend_test!(@sync [$(#[$meta])*] postgres Postgres $db $body);
            $crate::testdb::backend_test!(@sync [$(#[$meta])*] mysql Mysql $db $body);
        }
        $crate::testdb::backend_test!($($rest)*);
    };
    ($(#[$meta:meta])* async fn $name:ident($db:ident) $body:block $($rest:tt)*) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $crate::testdb::backend_test!(@async [$(#[$meta])*] sqlite Sqlite $db $body);
            $crate::testdb::backend_test!(@async [$(#[$meta])*] postgres Postgres $db $body);
            $crate::testdb::backend_test!(@async [$(#[$meta])*] mysql Mysql $db $body);
        }
        $crate::testdb::backend_test!($($rest)*);
    };
    (@sync [$(#[$meta:meta])*] $fn_name:ident $variant:ident $db:ident $body:block) => {
        #[test]
        $(#[$meta])*
        fn $fn_name() {
            let Some($db) =
                $crate::testdb::TestDb::for_test($crate::testdb::Backend::$variant)
            else {
                return;
            };
            $body
        }
    };
    (@async [$(#[$meta:meta])*] $fn_name:ident $variant:ident $db:ident $body:block) => {
        #[actix_web::test]
        $(#[$meta])*
        async fn $fn_name() {
            let Some($db) =
                $crate::testdb::TestDb::for_test($crate::testdb::Backend::$variant)
            else {
                return;
            };
            $body
        }
    };
}
pub(crate) use backend_test;

#[cfg(test)]
mod harness_tests {
    use super::*;

    #[test]
    fn with_database_replaces_only_the_path() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("mysql://root@127.0.0.1:3306/mysql?ssl_mode=disabled", "x"),
            "mysql://root@127.0.0.1:3306/x?ssl_mode=disabled"
        );
        assert_eq!(with_database("mysql://root@h", "x"), "mysql://root@h/x");
    }

    backend_test! {
        /// Each test gets its own database, and dropping the guard removes it.
        fn test_databases_are_separate_and_dropped(db) {
            let other = TestDb::new(db.backend());
            assert_ne!(db.url(), other.url());
            let Some(name) = other.database_name().map(str::to_string) else {
                return; // SQLite: the TempDir goes with the guard
            };
            let admin = server_url(db.backend()).unwrap_or_default();
            assert!(test_databases(db.backend(), &admin).contains(&name));
            drop(other);
            assert!(!test_databases(db.backend(), &admin).contains(&name));
        }
    }
}
