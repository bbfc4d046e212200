//! Databases made by CamCOPS 2.4.24 itself (copies of its DDL and data dumps in
//! `tests/fixtures/camcops-2.4.24/`, see the README there) loaded into fresh per-test
//! databases, adopted or not, and the `camcops_test!` macro that runs a test on each backend
//! starting from an empty database.
//!
//! - [`schema_db`]: CamCOPS' full schema (183 tables) stamped at alembic revision 0087 and no
//!   rows: all three backends.
//! - [`demo_db`]: CamCOPS' own dummy data and staff users: SQLite and MariaDB (there is no
//!   PostgreSQL dump); `None` on PostgreSQL.
//! - [`adopt`]: what `camcops-web upgrade-db` does to either.

use std::io::Read as _;

use camcops_web::db::{self, Backend, DbConnection};
use diesel::connection::SimpleConnection;

use crate::testdb::TestDb;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/camcops-2.4.24");

/// The users of the data fixtures and their passwords (the fixture README).
pub const ADMIN: (&str, &str) = ("admin", "Admin-Passw0rd-123");
/// A clinician: may_use_webviewer, view_all_patients_when_unfiltered, may_upload, ...
pub const CLINICIAN: (&str, &str) = ("clinician", "Clinician-Passw0rd-1");
/// A researcher: may_use_webviewer only (MariaDB: in the second group).
pub const RESEARCHER: (&str, &str) = ("researcher", "Researcher-Passw0rd-1");
/// A group administrator of the first group.
pub const GRPADMIN: (&str, &str) = ("grpadmin", "Grpadmin-Passw0rd-1");

fn gunzip(file: &str) -> String {
    let path = format!("{DIR}/{file}");
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(raw.as_slice())
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("cannot gunzip {path}: {e}"));
    text
}

fn run_script(conn: &mut DbConnection, what: &str, sql: &str) {
    if let Err(e) = conn.batch_execute(sql) {
        panic!("loading {what} failed: {e}");
    }
}

/// CamCOPS' schema for `backend`, stamped as CamCOPS' `create_db` stamps it (revision 0087),
/// with no rows and not adopted.
pub fn schema_db(backend: Backend) -> Option<TestDb> {
    let db = TestDb::empty_for_test(backend)?;
    let file = match backend {
        Backend::Sqlite => "schema-sqlite.sql.gz",
        Backend::Postgres => "schema-postgresql.sql.gz",
        Backend::Mysql => "schema-mysql.sql.gz",
    };
    let mut conn = db.conn();
    run_script(&mut conn, file, &gunzip(file));
    stamp(&mut conn, "0087");
    Some(db)
}

/// Writes `_alembic_version` as CamCOPS does (one row).
pub fn stamp(conn: &mut DbConnection, revision: &str) {
    run_script(
        conn,
        "the alembic stamp",
        &format!(
            "CREATE TABLE IF NOT EXISTS _alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY); \
             DELETE FROM _alembic_version; \
             INSERT INTO _alembic_version (version_num) VALUES ('{revision}')"
        ),
    );
}

/// CamCOPS' dummy data (SQLite: one copy; MariaDB: two, in two groups and two eras), not
/// adopted; `None` on PostgreSQL (no dump) or when the backend is not enabled.
pub fn demo_db(backend: Backend) -> Option<TestDb> {
    let file = match backend {
        Backend::Sqlite => "demo-sqlite.sql.gz",
        Backend::Mysql => "demo-mariadb.sql.gz",
        Backend::Postgres => {
            eprintln!("skipped: no CamCOPS data dump for PostgreSQL");
            return None;
        }
    };
    let db = TestDb::empty_for_test(backend)?;
    let mut conn = db.conn();
    // The first line of a MariaDB 10.11 dump is a sandbox-mode marker for its own client.
    let text = gunzip(file);
    let sql = text
        .strip_prefix("/*M!999999\\- enable the sandbox mode */")
        .unwrap_or(&text);
    run_script(&mut conn, file, sql);
    Some(db)
}

/// `camcops-web upgrade-db` on `db`; panics unless it adopted a CamCOPS database.
pub fn adopt(db: &TestDb) -> Vec<&'static str> {
    let mut conn = db.conn();
    match db::upgrade(&mut conn) {
        Ok(db::Upgrade::Adopted { steps, .. }) => steps,
        Ok(other) => panic!("expected an adoption, got {other:?}"),
        Err(e) => panic!("adoption failed on {}: {e:#}", db.backend()),
    }
}

/// Lets every fixture user in: CamCOPS' staff users have not agreed the terms of use yet.
pub fn agree_terms_for_all(conn: &mut DbConnection) {
    run_script(
        conn,
        "agreeing the terms",
        "UPDATE _security_users SET when_agreed_terms_of_use = '2026-12-01T12:00:00.000000+00:00'",
    );
}

/// Like `backend_test!`, but the body's database starts with no tables at all: one test per
/// backend, `<name>::sqlite`, `<name>::postgres`, `<name>::mysql`.
macro_rules! camcops_test {
    () => {};
    ($(#[$meta:meta])* fn $name:ident($backend:ident) $body:block $($rest:tt)*) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $crate::camcops_fixture::camcops_test!(@sync [$(#[$meta])*] sqlite Sqlite $backend $body);
            $crate::camcops_fixture::camcops_test!(@sync [$(#[$meta])*] postgres Postgres $backend $body);
            $crate::camcops_fixture::camcops_test!(@sync [$(#[$meta])*] mysql Mysql $backend $body);
        }
        $crate::camcops_fixture::camcops_test!($($rest)*);
    };
    ($(#[$meta:meta])* async fn $name:ident($backend:ident) $body:block $($rest:tt)*) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $crate::camcops_fixture::camcops_test!(@async [$(#[$meta])*] sqlite Sqlite $backend $body);
            $crate::camcops_fixture::camcops_test!(@async [$(#[$meta])*] postgres Postgres $backend $body);
            $crate::camcops_fixture::camcops_test!(@async [$(#[$meta])*] mysql Mysql $backend $body);
        }
        $crate::camcops_fixture::camcops_test!($($rest)*);
    };
    (@sync [$(#[$meta:meta])*] $fn_name:ident $variant:ident $backend:ident $body:block) => {
        #[test]
        $(#[$meta])*
        fn $fn_name() {
            let $backend = $crate::testdb::Backend::$variant;
            $body
        }
    };
    (@async [$(#[$meta:meta])*] $fn_name:ident $variant:ident $backend:ident $body:block) => {
        #[actix_web::test]
        $(#[$meta])*
        async fn $fn_name() {
            let $backend = $crate::testdb::Backend::$variant;
            $body
        }
    };
}
pub(crate) use camcops_test;
