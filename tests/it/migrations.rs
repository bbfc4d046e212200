//! Migrations on every backend: up, all the way down and up again, and the schema they make
//! read back from the catalogue (tables, columns, types, VARCHAR lengths, nullability,
//! defaults, keys, foreign keys, indexes, MariaDB charset) against the spec's sessions §1 tables.

mod catalogue;
mod spec;

use camcops_web::db::schema::{_security_users, _security_webviewer_sessions};
use camcops_web::db::{revert_all_migrations, run_migrations, Backend, DbConnection};
use diesel::prelude::*;

use crate::testdb::backend_test;
use catalogue::{columns, foreign_keys, indexes, mysql_charset_problems, primary_key, tables};
use spec::{Col, FOREIGN_KEYS, INDEXES, SERVER_ONLY_FOREIGN_KEYS, TABLES};

// ---------------------------------------------------------------------------------------
// The tests.

backend_test! {
    /// Up (done by `TestDb::new`), down to nothing, up again: the schema is right both times.
    fn migrations_run_up_down_and_up_again(db) {
        let mut conn = db.conn();
        assert_schema(&mut conn);

        let again = run_migrations(&mut conn).expect("second run");
        assert!(again.is_empty(), "a second run applied {again:?}");

        let mut reverted = revert_all_migrations(&mut conn).expect("revert all");
        assert!(!reverted.is_empty(), "nothing was reverted");
        assert_eq!(tables(&mut conn), Vec::<String>::new(), "tables left after reverting all");

        let mut applied = run_migrations(&mut conn).expect("up again");
        applied.sort();
        reverted.sort();
        assert_eq!(applied, reverted, "up again applies what down reverted");
        assert_schema(&mut conn);
    }

    /// The database itself refuses a second membership of the same user in the same group and
    /// names that differ from stored ones only in case (`ADMIN` next to `admin`).
    fn unique_memberships_and_names_regardless_of_case(db) {
        use camcops_web::db::schema::{_security_groups as g, _security_user_group as ug};
        use _security_users::dsl as u;
        let mut conn = db.conn();
        diesel::insert_into(u::_security_users)
            .values((u::username.eq("admin"), u::hashedpw.eq("x"), u::auto_generated.eq(false)))
            .execute(&mut conn)
            .expect("insert user");
        let clash = diesel::insert_into(u::_security_users)
            .values((u::username.eq("ADMIN"), u::hashedpw.eq("x"), u::auto_generated.eq(false)))
            .execute(&mut conn);
        assert!(clash.is_err(), "ADMIN next to admin was stored");
        diesel::insert_into(g::table).values(g::name.eq("demo_research")).execute(&mut conn).unwrap();
        assert!(diesel::insert_into(g::table).values(g::name.eq("DEMO_RESEARCH")).execute(&mut conn).is_err());
        let uid: i32 = u::_security_users.select(u::id).first(&mut conn).unwrap();
        let gid: i32 = g::table.select(g::id).first(&mut conn).unwrap();
        diesel::insert_into(ug::table).values((ug::user_id.eq(uid), ug::group_id.eq(gid))).execute(&mut conn).unwrap();
        let again = diesel::insert_into(ug::table).values((ug::user_id.eq(uid), ug::group_id.eq(gid))).execute(&mut conn);
        assert!(again.is_err(), "a second membership of the same user and group was stored");
        let n: i64 = ug::table.count().get_result(&mut conn).unwrap();
        assert_eq!(n, 1);
    }

    /// Deleting a user deletes their sessions (`ON DELETE CASCADE` really enforced).
    fn deleting_a_user_deletes_their_sessions(db) {
        use _security_users::dsl as u;
        use _security_webviewer_sessions::dsl as s;
        let mut conn = db.conn();
        let now = chrono::Utc::now().naive_utc();
        diesel::insert_into(u::_security_users)
            .values((u::username.eq("alice"), u::hashedpw.eq("x"), u::auto_generated.eq(false)))
            .execute(&mut conn)
            .expect("insert user");
        let uid: i32 = u::_security_users
            .select(u::id)
            .filter(u::username.eq("alice"))
            .first(&mut conn)
            .expect("user id");
        for token in ["a", "b"] {
            diesel::insert_into(s::_security_webviewer_sessions)
                .values((s::token.eq(token), s::user_id.eq(uid), s::created_at_utc.eq(now)))
                .execute(&mut conn)
                .expect("insert session");
        }
        let count = |conn: &mut DbConnection| -> i64 {
            s::_security_webviewer_sessions.count().get_result(conn).expect("count")
        };
        assert_eq!(count(&mut conn), 2);

        diesel::delete(u::_security_users.filter(u::id.eq(uid)))
            .execute(&mut conn)
            .expect("delete user");
        assert_eq!(count(&mut conn), 0, "sessions of a deleted user remain");
    }

    /// Four-byte UTF-8 survives a round trip (utf8mb4 on MariaDB), and the server-settings
    /// singleton and column defaults are in place.
    fn text_round_trips_and_defaults_apply(db) {
        use _security_users::dsl as u;
        let mut conn = db.conn();
        let name = "Zoë Ødegård ✓ 😀";
        diesel::insert_into(u::_security_users)
            .values((
                u::username.eq("zoe"),
                u::fullname.eq(name),
                u::hashedpw.eq(""),
                u::auto_generated.eq(false),
            ))
            .execute(&mut conn)
            .expect("insert user");
        let (fullname, mfa, counter): (Option<String>, String, i32) = u::_security_users
            .select((u::fullname, u::mfa_method, u::hotp_counter))
            .filter(u::username.eq("zoe"))
            .first(&mut conn)
            .expect("read back");
        assert_eq!(fullname.as_deref(), Some(name));
        assert_eq!((mfa.as_str(), counter), ("no_mfa", 0));

        use camcops_web::db::schema::_server_settings::dsl as ss;
        let ids: Vec<i32> = ss::_server_settings.select(ss::id).load(&mut conn).expect("settings");
        assert_eq!(ids, vec![1], "_server_settings holds exactly the row id 1");
    }
}

// ---------------------------------------------------------------------------------------
// Reading the catalogue.

/// Checks every expected table, column, key, foreign key and index; panics listing every
/// difference at once.
fn assert_schema(conn: &mut DbConnection) {
    let backend = conn.backend();
    let mut problems: Vec<String> = Vec::new();

    let mut expected_tables: Vec<String> = TABLES.iter().map(|t| t.name.to_string()).collect();
    expected_tables.sort();
    let actual_tables = tables(conn);
    if actual_tables != expected_tables {
        problems.push(format!(
            "tables: expected {expected_tables:?}\n         found    {actual_tables:?}"
        ));
    }

    for table in TABLES {
        let expected: Vec<String> = table.cols.iter().map(Col::describe).collect();
        let actual = columns(conn, table.name);
        if actual != expected {
            problems.push(format!(
                "columns of {}:\n{}",
                table.name,
                line_diff(&expected, &actual)
            ));
        }

        let pk = primary_key(conn, table.name);
        if pk != table.pk {
            problems.push(format!(
                "primary key of {}: expected {:?}, found {pk:?}",
                table.name, table.pk
            ));
        }

        let server_fks = match backend {
            Backend::Sqlite => &[][..],
            _ => SERVER_ONLY_FOREIGN_KEYS,
        };
        let mut expected_fks: Vec<String> = FOREIGN_KEYS
            .iter()
            .chain(server_fks)
            .filter(|fk| fk.0 == table.name)
            .map(|&(_, name, col, rt, rc, del)| {
                format!("{name}: {col} -> {rt}.{rc} ON DELETE {del}")
            })
            .collect();
        expected_fks.sort();
        let fks = foreign_keys(conn, table.name);
        if fks != expected_fks {
            problems.push(format!(
                "foreign keys of {}:\n{}",
                table.name,
                line_diff(&expected_fks, &fks)
            ));
        }

        let found = indexes(conn, table.name);
        for &(_, name, cols, unique) in INDEXES.iter().filter(|ix| ix.0 == table.name) {
            let want = (
                unique,
                cols.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            );
            match found.get(name) {
                Some(got) if *got == want => {}
                Some(got) => problems.push(format!(
                    "index {name} on {}: expected (unique {}, {:?}), found (unique {}, {:?})",
                    table.name, want.0, want.1, got.0, got.1
                )),
                None => problems.push(format!(
                    "index {name} on {}({}) is missing; found {:?}",
                    table.name,
                    cols.join(", "),
                    found.keys().collect::<Vec<_>>()
                )),
            }
        }
    }

    if backend == Backend::Mysql {
        mysql_charset_problems(conn, &mut problems);
    }

    assert!(
        problems.is_empty(),
        "{backend} schema differs from the spec:\n{}",
        problems.join("\n")
    );
}

/// The lines that differ, position by position: `- expected` / `+ found`.
fn line_diff(expected: &[String], found: &[String]) -> String {
    let mut out = String::new();
    for i in 0..expected.len().max(found.len()) {
        let (e, f) = (expected.get(i), found.get(i));
        if e != f {
            if let Some(e) = e {
                out.push_str(&format!("  - {e}\n"));
            }
            if let Some(f) = f {
                out.push_str(&format!("  + {f}\n"));
            }
        }
    }
    out
}
