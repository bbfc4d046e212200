//! Adopting a CamCOPS 2.4.24 database (issue: "Run on an existing CamCOPS 2.4 database"):
//! CamCOPS' own DDL loaded into a fresh database on each backend, adopted by `upgrade-db`,
//! adopted again, undone; every catalogue object CamCOPS made compared before and after;
//! refusals (other revisions, demo data) and a failed adoption leaving nothing behind.

use camcops_web::db::{self, adopt, Backend, DbConnection};
use diesel::sql_types::Text;
use diesel::{QueryableByName, RunQueryDsl};

use crate::camcops_fixture::{camcops_test, schema_db, stamp};

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

/// Every table, column, index and constraint of the database, one line each, sorted.
pub fn catalogue(conn: &mut DbConnection) -> Vec<String> {
    let sql = match conn.backend() {
        Backend::Sqlite => {
            "SELECT 'table ' || name AS line FROM sqlite_master WHERE type = 'table' \
             UNION ALL SELECT 'column ' || m.name || '.' || p.name || ' ' || p.type || ' notnull=' \
               || p.\"notnull\" || ' default=' || coalesce(p.dflt_value, '-') || ' pk=' || p.pk \
               FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' \
             UNION ALL SELECT 'index ' || name || ' on ' || tbl_name || ' ' || coalesce(sql, '(auto)') \
               FROM sqlite_master WHERE type = 'index' \
             UNION ALL SELECT 'fk ' || m.name || ' ' || f.\"from\" || ' -> ' || f.\"table\" || '.' \
               || f.\"to\" || ' on delete ' || f.on_delete \
               FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f WHERE m.type = 'table'"
        }
        Backend::Postgres => {
            "SELECT 'table ' || table_name AS line FROM information_schema.tables \
               WHERE table_schema = current_schema() \
             UNION ALL SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type \
               || ' ' || coalesce(character_maximum_length::text, '') || ' nullable=' || is_nullable \
               || ' default=' || coalesce(column_default, '-') || ' #' || ordinal_position \
               FROM information_schema.columns WHERE table_schema = current_schema() \
             UNION ALL SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes \
               WHERE schemaname = current_schema() \
             UNION ALL SELECT 'constraint ' || conname || ' on ' || conrelid::regclass::text || ' ' \
               || pg_get_constraintdef(oid) FROM pg_constraint \
               WHERE connamespace = current_schema()::regnamespace \
             UNION ALL SELECT 'sequence ' || sequence_name FROM information_schema.sequences \
               WHERE sequence_schema = current_schema()"
        }
        Backend::Mysql => {
            "SELECT CONCAT('table ', TABLE_NAME, ' ', ENGINE, ' ', TABLE_COLLATION) AS line \
               FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
             UNION ALL SELECT CONCAT('column ', TABLE_NAME, '.', COLUMN_NAME, ' ', COLUMN_TYPE, \
               ' nullable=', IS_NULLABLE, ' default=', COALESCE(COLUMN_DEFAULT, '-'), ' #', \
               ORDINAL_POSITION, ' ', COALESCE(COLLATION_NAME, ''), ' ', EXTRA) \
               FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
             UNION ALL SELECT CONCAT('index ', TABLE_NAME, '.', INDEX_NAME, ' ', SEQ_IN_INDEX, ' ', \
               COLUMN_NAME, ' unique=', 1 - NON_UNIQUE) \
               FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() \
             UNION ALL SELECT CONCAT('fk ', k.TABLE_NAME, '.', k.CONSTRAINT_NAME, ' ', k.COLUMN_NAME, \
               ' -> ', k.REFERENCED_TABLE_NAME, '.', k.REFERENCED_COLUMN_NAME, ' on delete ', \
               r.DELETE_RULE) \
               FROM information_schema.KEY_COLUMN_USAGE k \
               JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
                 ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME \
               WHERE k.TABLE_SCHEMA = DATABASE()"
        }
    };
    let mut lines: Vec<String> = diesel::sql_query(sql)
        .load::<Line>(conn)
        .unwrap_or_else(|e| panic!("reading the catalogue failed: {e}"))
        .into_iter()
        .map(|l| l.line)
        .collect();
    lines.sort();
    lines
}

/// What adoption may add: its column, its indexes (`cw_ix_`), its own tables (`cw_`) and its
/// bookkeeping table.
fn is_ours(line: &str) -> bool {
    line.contains("_security_webviewer_sessions.created_at_utc")
        || line.contains("cw_mfa_recovery_codes")
        || line.contains("cw_totp_last_step")
        || line.contains("cw_ix_")
        || line.contains("__diesel_schema_migrations")
}

fn minus(a: &[String], b: &[String]) -> Vec<String> {
    a.iter().filter(|l| !b.contains(l)).cloned().collect()
}

fn alembic_rows(conn: &mut DbConnection) -> Vec<String> {
    diesel::sql_query("SELECT version_num AS line FROM _alembic_version")
        .load::<Line>(conn)
        .expect("alembic table")
        .into_iter()
        .map(|l| l.line)
        .collect()
}

camcops_test! {
    /// Adoption adds only what camcops-web needs, changes nothing CamCOPS made, never touches
    /// `_alembic_version`, and a second run changes nothing at all.
    fn adoption_is_additive_and_idempotent(backend) {
        let Some(db) = schema_db(backend) else { return };
        let mut conn = db.conn();
        let before = catalogue(&mut conn);
        assert!(before.iter().filter(|l| l.starts_with("table ")).count() >= 183);
        assert!(!before.iter().any(|l| is_ours(l)), "a fresh CamCOPS schema has none of ours");

        let applied = crate::camcops_fixture::adopt(&db);
        assert_eq!(applied, ["0001_sessions", "0002_task_list", "0003_memberships", "0004_audit_trail", "0005_unique_names", "0006_totp_last_step", "0007_mfa_recovery_codes"]);
        let after = catalogue(&mut conn);
        let removed = minus(&before, &after);
        assert!(removed.is_empty(), "adoption changed CamCOPS objects: {removed:#?}");
        let added = minus(&after, &before);
        assert!(added.iter().all(|l| is_ours(l)), "unexpected additions: {added:#?}");
        assert!(
            added.iter().any(|l| l.starts_with("column _security_webviewer_sessions.created_at_utc")),
            "{added:#?}"
        );
        // The column is NULLABLE (CamCOPS inserts rows without it).
        let col = added.iter().find(|l| l.contains(".created_at_utc")).cloned().unwrap_or_default();
        assert!(col.contains("notnull=0") || col.contains("nullable=YES"), "{col}");
        assert_eq!(alembic_rows(&mut conn), ["0087"]);

        let again = crate::camcops_fixture::adopt(&db);
        assert!(again.is_empty(), "second run applied {again:?}");
        assert_eq!(catalogue(&mut conn), after, "a second adoption changed the catalogue");
        assert_eq!(db::schema_problem(&mut conn).expect("schema check"), None);
    }

    /// `serve` refuses an un-adopted CamCOPS database and says to run `upgrade-db`, without
    /// writing anything (the check must not create diesel's bookkeeping table).
    fn serve_check_on_unadopted_camcops_database(backend) {
        let Some(db) = schema_db(backend) else { return };
        let mut conn = db.conn();
        let before = catalogue(&mut conn);
        let problem = db::schema_problem(&mut conn).expect("schema check").unwrap_or_default();
        assert!(problem.contains("upgrade-db") && problem.contains("CamCOPS"), "{problem}");
        assert_eq!(catalogue(&mut conn), before);
    }

    /// Revisions outside 0070..=0087 are refused with a message naming them; nothing is written.
    fn other_revisions_are_refused(backend) {
        let Some(db) = schema_db(backend) else { return };
        let mut conn = db.conn();
        for rev in ["0069", "0088", "0091"] {
            stamp(&mut conn, rev);
            let before = catalogue(&mut conn);
            let err = db::upgrade(&mut conn).expect_err("must be refused");
            assert!(format!("{err:#}").contains(&format!("'{rev}'")), "{err:#}");
            assert_eq!(catalogue(&mut conn), before, "refusing {rev} wrote something");
            let problem = db::schema_problem(&mut conn).expect("check").unwrap_or_default();
            assert!(problem.contains(rev), "{problem}");
        }
        stamp(&mut conn, "0070");
        assert!(!crate::camcops_fixture::adopt(&db).is_empty(), "0070 is accepted");
    }

    /// A failed adoption (one index name already taken) leaves the database exactly as it was:
    /// no column, no indexes, no bookkeeping table (on MariaDB by undoing what ran).
    fn failed_adoption_leaves_nothing_behind(backend) {
        let Some(db) = schema_db(backend) else { return };
        let mut conn = db.conn();
        diesel::sql_query("CREATE INDEX cw_ix__task_index_patient_group ON _task_index (era)")
            .execute(&mut conn)
            .expect("blocking index");
        let before = catalogue(&mut conn);
        let err = db::upgrade(&mut conn).expect_err("the taken name must fail the adoption");
        assert!(format!("{err:#}").contains("adoption failed"), "{err:#}");
        let after = catalogue(&mut conn);
        assert_eq!(minus(&after, &before), Vec::<String>::new(), "left behind");
        assert_eq!(minus(&before, &after), Vec::<String>::new(), "removed");
        assert!(!adopt::table_exists(&mut conn, adopt::BOOKKEEPING_TABLE).expect("catalogue"));
    }

    /// `undo-adoption` removes exactly what adoption added (and camcops-web's sessions).
    fn undo_restores_the_camcops_catalogue(backend) {
        let Some(db) = schema_db(backend) else { return };
        let mut conn = db.conn();
        let before = catalogue(&mut conn);
        crate::camcops_fixture::adopt(&db);
        let undone = adopt::undo(&mut conn).expect("undo");
        assert_eq!(undone, ["0007_mfa_recovery_codes", "0006_totp_last_step", "0005_unique_names", "0004_audit_trail", "0003_memberships", "0002_task_list", "0001_sessions"]);
        assert_eq!(catalogue(&mut conn), before);
        assert!(adopt::undo(&mut conn).expect("second undo").is_empty());
        assert_eq!(alembic_rows(&mut conn), ["0087"]);
    }

    /// Look-alike names and duplicate memberships in a CamCOPS database: adoption still
    /// succeeds, leaves them as they are, skips the unique indexes they would break, and
    /// reports them (what `upgrade-db` prints as warnings).
    fn adoption_reports_clashes_and_leaves_them(backend) {
        let Some(db) = schema_db(backend) else { return };
        let mut conn = db.conn();
        let mut rows = vec![
            "INSERT INTO _security_users (username, hashedpw, mfa_method, hotp_counter, auto_generated) VALUES ('dup', 'x', 'no_mfa', 0, false)",
            "INSERT INTO _security_groups (name) VALUES ('grp')",
            "INSERT INTO _security_user_group (user_id, group_id) SELECT u.id, g.id FROM _security_users u, _security_groups g",
            "INSERT INTO _security_user_group (user_id, group_id) SELECT u.id, g.id FROM _security_users u, _security_groups g",
        ];
        // MariaDB's collation refuses look-alike names already, as CamCOPS' schema there does.
        if backend != Backend::Mysql {
            rows.push("INSERT INTO _security_users (username, hashedpw, mfa_method, hotp_counter, auto_generated) VALUES ('DUP', 'x', 'no_mfa', 0, false)");
            rows.push("INSERT INTO _security_groups (name) VALUES ('GRP')");
        }
        for sql in &rows {
            diesel::sql_query(*sql).execute(&mut conn).expect(sql);
        }
        let applied = crate::camcops_fixture::adopt(&db);
        assert!(applied.contains(&"0005_unique_names"), "{applied:?}");
        let found = adopt::clashes(&mut conn).expect("clash report");
        let expected = if backend == Backend::Mysql { 1 } else { 3 };
        // (On MariaDB nothing is added; the duplicate is reported all the same.)
        assert_eq!(found.len(), expected, "{found:?}");
        assert!(found[0].contains("same group more than once"), "{found:?}");
        // Left as they were: the duplicate membership is still there.
        let n: Vec<Line> = diesel::sql_query(
            "SELECT CAST(COUNT(*) AS CHAR(10)) AS line FROM _security_user_group",
        )
        .load(&mut conn)
        .expect("count");
        assert_eq!(n[0].line.trim(), "2");
        assert!(adopt::undo(&mut conn).is_ok(), "undo works with the skipped indexes");
    }
}
