//! Reading the schema back from each backend's catalogue (`sqlite_master` and the
//! `pragma_*` functions; `information_schema` and `pg_catalog` on PostgreSQL;
//! `information_schema` on MariaDB), in the same words `spec` uses.

use std::collections::BTreeMap;

use camcops_web::db::{Backend, DbConnection};
use diesel::query_builder::SqlQuery;
use diesel::query_dsl::LoadQuery;
use diesel::sql_types as st;
use diesel::{QueryableByName, RunQueryDsl};

use super::spec::{describe, Ty};

/// The application's tables (not diesel's bookkeeping or SQLite's own), sorted.
pub(super) fn tables(conn: &mut DbConnection) -> Vec<String> {
    let sql = per_backend(
        conn,
        r"SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'",
        "SELECT table_name::text AS name FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        "SELECT TABLE_NAME AS name FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'",
    );
    let mut names: Vec<String> = load::<NameRow>(conn, &sql)
        .into_iter()
        .map(|r| r.name)
        .filter(|n| n != "__diesel_schema_migrations")
        .collect();
    names.sort();
    names
}

/// Each column of `table` in order, described as `Col::describe` describes the expectation.
pub(super) fn columns(conn: &mut DbConnection, table: &str) -> Vec<String> {
    let t = checked(table);
    let sql = per_backend(
        conn,
        &format!(
            "SELECT name, type AS ty, NULL AS len, \
               CASE WHEN \"notnull\" = 0 AND pk = 0 THEN 1 ELSE 0 END AS nullable, \
               dflt_value AS dflt, \
               CASE WHEN pk = 1 AND (SELECT sql FROM sqlite_master WHERE name = '{t}') \
                 LIKE '%AUTOINCREMENT%' THEN 'auto_increment' ELSE '' END AS extra \
             FROM pragma_table_info('{t}') ORDER BY cid"
        ),
        &format!(
            "SELECT column_name::text AS name, data_type::text AS ty, \
               character_maximum_length::bigint AS len, \
               (CASE WHEN is_nullable = 'YES' THEN 1 ELSE 0 END)::bigint AS nullable, \
               (CASE WHEN column_default LIKE 'nextval(%' THEN NULL ELSE column_default END)::text AS dflt, \
               (CASE WHEN column_default LIKE 'nextval(%' THEN 'auto_increment' ELSE '' END)::text AS extra \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = '{t}' ORDER BY ordinal_position"
        ),
        &format!(
            "SELECT COLUMN_NAME AS name, COLUMN_TYPE AS ty, \
               CAST(CHARACTER_MAXIMUM_LENGTH AS SIGNED) AS len, \
               CAST(IS_NULLABLE = 'YES' AS SIGNED) AS nullable, \
               COLUMN_DEFAULT AS dflt, EXTRA AS extra \
             FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{t}' ORDER BY ORDINAL_POSITION"
        ),
    );
    load::<ColumnRow>(conn, &sql)
        .into_iter()
        .map(|c| {
            let ty = match normalise_type(&c.ty, c.len) {
                Some(ty) => ty.to_string(),
                None => format!("unexpected type {:?}", c.ty),
            };
            let default = c.dflt.as_deref().and_then(normalise_default);
            let autoinc = c.extra.to_ascii_lowercase().contains("auto_increment");
            describe(&c.name, &ty, c.nullable != 0, default.as_deref(), autoinc)
        })
        .collect()
}

/// Maps each backend's spelling of a type to `Ty`; `None` for anything else (e.g. MariaDB
/// `datetime` without microseconds).
fn normalise_type(ty: &str, len: Option<i64>) -> Option<Ty> {
    let t = ty.trim().to_ascii_lowercase();
    let varchar = |n: &str| n.parse().ok().map(Ty::Varchar);
    match t.as_str() {
        "integer" | "int" | "int(11)" => Some(Ty::Int),
        "bigint" | "bigint(20)" => Some(Ty::BigInt),
        "text" => Some(Ty::Text),
        "boolean" | "tinyint(1)" => Some(Ty::Bool),
        "timestamp" | "timestamp without time zone" | "datetime(6)" => Some(Ty::Timestamp),
        "date" => Some(Ty::Date),
        "character varying" => len.and_then(|n| u32::try_from(n).ok()).map(Ty::Varchar),
        other => other
            .strip_prefix("varchar(")
            .and_then(|rest| rest.strip_suffix(')'))
            .and_then(varchar),
    }
}

/// `'no_mfa'::character varying` (PostgreSQL), `'no_mfa'` → `no_mfa`; MariaDB's `NULL` → none.
fn normalise_default(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("null") {
        return None;
    }
    let raw = if raw.starts_with('\'') {
        raw.rsplit_once("::").map_or(raw, |(value, _)| value)
    } else {
        raw
    };
    let raw = raw
        .strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .unwrap_or(raw);
    Some(raw.to_string())
}

pub(super) fn primary_key(conn: &mut DbConnection, table: &str) -> Vec<String> {
    let t = checked(table);
    let sql = per_backend(
        conn,
        &format!("SELECT name FROM pragma_table_info('{t}') WHERE pk > 0 ORDER BY pk"),
        &format!(
            "SELECT kcu.column_name::text AS name \
             FROM information_schema.table_constraints tc \
             JOIN information_schema.key_column_usage kcu \
               ON kcu.constraint_schema = tc.constraint_schema \
              AND kcu.constraint_name = tc.constraint_name \
             WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema() \
               AND tc.table_name = '{t}' ORDER BY kcu.ordinal_position"
        ),
        &format!(
            "SELECT COLUMN_NAME AS name FROM information_schema.KEY_COLUMN_USAGE \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{t}' AND CONSTRAINT_NAME = 'PRIMARY' \
             ORDER BY ORDINAL_POSITION"
        ),
    );
    load::<NameRow>(conn, &sql)
        .into_iter()
        .map(|r| r.name)
        .collect()
}

/// `name: column -> table.column ON DELETE action` for each foreign key of `table`, sorted.
pub(super) fn foreign_keys(conn: &mut DbConnection, table: &str) -> Vec<String> {
    let t = checked(table);
    let sql = per_backend(
        conn,
        &format!(
            "SELECT '' AS name, \"from\" AS col, \"table\" AS ref_table, \"to\" AS ref_col, \
               on_delete FROM pragma_foreign_key_list('{t}')"
        ),
        &format!(
            "SELECT tc.constraint_name::text AS name, kcu.column_name::text AS col, \
               ccu.table_name::text AS ref_table, ccu.column_name::text AS ref_col, \
               rc.delete_rule::text AS on_delete \
             FROM information_schema.table_constraints tc \
             JOIN information_schema.key_column_usage kcu \
               ON kcu.constraint_schema = tc.constraint_schema AND kcu.constraint_name = tc.constraint_name \
             JOIN information_schema.referential_constraints rc \
               ON rc.constraint_schema = tc.constraint_schema AND rc.constraint_name = tc.constraint_name \
             JOIN information_schema.constraint_column_usage ccu \
               ON ccu.constraint_schema = tc.constraint_schema AND ccu.constraint_name = tc.constraint_name \
             WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema() \
               AND tc.table_name = '{t}'"
        ),
        &format!(
            "SELECT k.CONSTRAINT_NAME AS name, k.COLUMN_NAME AS col, \
               k.REFERENCED_TABLE_NAME AS ref_table, k.REFERENCED_COLUMN_NAME AS ref_col, \
               r.DELETE_RULE AS on_delete \
             FROM information_schema.KEY_COLUMN_USAGE k \
             JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
               ON r.CONSTRAINT_SCHEMA = k.TABLE_SCHEMA AND r.TABLE_NAME = k.TABLE_NAME \
              AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME \
             WHERE k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME = '{t}' \
               AND k.REFERENCED_TABLE_NAME IS NOT NULL"
        ),
    );
    // SQLite's catalogue has no constraint names: read them from the CREATE TABLE text.
    let sqlite_names = if conn.backend() == Backend::Sqlite {
        let sql =
            format!("SELECT sql AS name FROM sqlite_master WHERE type = 'table' AND name = '{t}'");
        load::<NameRow>(conn, &sql)
            .first()
            .map(|r| sqlite_constraint_names(&r.name))
            .unwrap_or_default()
    } else {
        BTreeMap::new()
    };
    let mut fks: Vec<String> = load::<FkRow>(conn, &sql)
        .into_iter()
        .map(|fk| {
            let name = if fk.name.is_empty() {
                sqlite_names
                    .get(&fk.col)
                    .cloned()
                    .unwrap_or_else(|| "<unnamed>".into())
            } else {
                fk.name
            };
            let on_delete = match fk.on_delete.to_ascii_uppercase().as_str() {
                // MariaDB reports the default as RESTRICT; it behaves as NO ACTION.
                "RESTRICT" | "NO ACTION" => "NO ACTION".to_string(),
                other => other.to_string(),
            };
            format!(
                "{name}: {} -> {}.{} ON DELETE {on_delete}",
                fk.col, fk.ref_table, fk.ref_col
            )
        })
        .collect();
    fks.sort();
    fks
}

/// Column → constraint name for each `CONSTRAINT name FOREIGN KEY (column)` in `sql`.
fn sqlite_constraint_names(sql: &str) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for part in sql.split("CONSTRAINT ").skip(1) {
        let Some((name, rest)) = part.trim_start().split_once(char::is_whitespace) else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix("FOREIGN KEY") else {
            continue;
        };
        let column = rest
            .split_once('(')
            .and_then(|(_, r)| r.split_once(')'))
            .map(|(c, _)| c.trim().to_string());
        if let Some(column) = column {
            names.insert(column, name.to_string());
        }
    }
    names
}

/// Index name → (unique, columns in order), primary keys left out.
pub(super) fn indexes(
    conn: &mut DbConnection,
    table: &str,
) -> BTreeMap<String, (bool, Vec<String>)> {
    let t = checked(table);
    let sql = per_backend(
        conn,
        &format!(
            "SELECT il.name AS name, ii.name AS col, ii.seqno AS pos, il.\"unique\" AS uniq \
             FROM pragma_index_list('{t}') AS il, pragma_index_info(il.name) AS ii \
             WHERE il.origin <> 'pk' ORDER BY il.name, ii.seqno"
        ),
        &format!(
            "SELECT i.relname::text AS name, a.attname::text AS col, k.ord::bigint AS pos, \
               (CASE WHEN ix.indisunique THEN 1 ELSE 0 END)::bigint AS uniq \
             FROM pg_index ix \
             JOIN pg_class t ON t.oid = ix.indrelid \
             JOIN pg_class i ON i.oid = ix.indexrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             CROSS JOIN LATERAL unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
             LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
             WHERE n.nspname = current_schema() AND t.relname = '{t}' AND NOT ix.indisprimary \
             ORDER BY 1, 3"
        ),
        &format!(
            "SELECT INDEX_NAME AS name, COLUMN_NAME AS col, CAST(SEQ_IN_INDEX AS SIGNED) AS pos, \
               CAST(1 - NON_UNIQUE AS SIGNED) AS uniq \
             FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{t}' AND INDEX_NAME <> 'PRIMARY' \
             ORDER BY INDEX_NAME, SEQ_IN_INDEX"
        ),
    );
    let mut map: BTreeMap<String, (bool, Vec<String>)> = BTreeMap::new();
    for row in load::<IndexRow>(conn, &sql) {
        let entry = map.entry(row.name).or_insert((row.uniq != 0, Vec::new()));
        entry
            .1
            .push(row.col.unwrap_or_else(|| "<expression>".into()));
    }
    map
}

/// MariaDB: every table InnoDB, DYNAMIC, utf8mb4_unicode_ci, and no column in another charset.
pub(super) fn mysql_charset_problems(conn: &mut DbConnection, problems: &mut Vec<String>) {
    let rows: Vec<TableOptionsRow> = load(
        conn,
        "SELECT TABLE_NAME AS name, COALESCE(TABLE_COLLATION, '') AS collation, \
           COALESCE(ENGINE, '') AS engine, COALESCE(ROW_FORMAT, '') AS row_format \
         FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> '__diesel_schema_migrations'",
    );
    for r in rows {
        let got = (
            r.collation.as_str(),
            r.engine.as_str(),
            r.row_format.to_ascii_lowercase(),
        );
        if got != ("utf8mb4_unicode_ci", "InnoDB", "dynamic".to_string()) {
            problems.push(format!(
                "table {}: collation {}, engine {}, row format {} \
                 (want utf8mb4_unicode_ci, InnoDB, Dynamic)",
                r.name, r.collation, r.engine, r.row_format
            ));
        }
    }
    let odd: Vec<NameRow> = load(
        conn,
        "SELECT CONCAT(TABLE_NAME, '.', COLUMN_NAME, ' ', CHARACTER_SET_NAME) AS name \
         FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> '__diesel_schema_migrations' \
           AND CHARACTER_SET_NAME IS NOT NULL AND CHARACTER_SET_NAME <> 'utf8mb4'",
    );
    for r in odd {
        problems.push(format!("column not utf8mb4: {}", r.name));
    }
}

// ---------------------------------------------------------------------------------------
// Plumbing.

/// The SQL for the connection's backend.
fn per_backend(conn: &DbConnection, sqlite: &str, postgres: &str, mysql: &str) -> String {
    match conn.backend() {
        Backend::Sqlite => sqlite,
        Backend::Postgres => postgres,
        Backend::Mysql => mysql,
    }
    .to_string()
}

/// `name`, after checking it is safe to put into SQL text (catalogue queries take no binds
/// portably: PostgreSQL wants `$1`, the others `?`).
fn checked(name: &str) -> &str {
    assert!(
        name.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "unexpected table name {name:?}"
    );
    name
}

fn load<T>(conn: &mut DbConnection, sql: &str) -> Vec<T>
where
    for<'a> SqlQuery: LoadQuery<'a, DbConnection, T>,
{
    diesel::sql_query(sql)
        .load(conn)
        .unwrap_or_else(|e| panic!("catalogue query failed: {e}\n{sql}"))
}

#[derive(QueryableByName)]
struct NameRow {
    #[diesel(sql_type = st::Text)]
    name: String,
}

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = st::Text)]
    name: String,
    #[diesel(sql_type = st::Text)]
    ty: String,
    #[diesel(sql_type = st::Nullable<st::BigInt>)]
    len: Option<i64>,
    #[diesel(sql_type = st::BigInt)]
    nullable: i64,
    #[diesel(sql_type = st::Nullable<st::Text>)]
    dflt: Option<String>,
    #[diesel(sql_type = st::Text)]
    extra: String,
}

#[derive(QueryableByName)]
struct FkRow {
    #[diesel(sql_type = st::Text)]
    name: String,
    #[diesel(sql_type = st::Text)]
    col: String,
    #[diesel(sql_type = st::Text)]
    ref_table: String,
    #[diesel(sql_type = st::Text)]
    ref_col: String,
    #[diesel(sql_type = st::Text)]
    on_delete: String,
}

#[derive(QueryableByName)]
struct IndexRow {
    #[diesel(sql_type = st::Text)]
    name: String,
    #[diesel(sql_type = st::Nullable<st::Text>)]
    col: Option<String>,
    #[diesel(sql_type = st::BigInt)]
    #[allow(dead_code)] // ordering is done in SQL
    pos: i64,
    #[diesel(sql_type = st::BigInt)]
    uniq: i64,
}

#[derive(QueryableByName)]
struct TableOptionsRow {
    #[diesel(sql_type = st::Text)]
    name: String,
    #[diesel(sql_type = st::Text)]
    collation: String,
    #[diesel(sql_type = st::Text)]
    engine: String,
    #[diesel(sql_type = st::Text)]
    row_format: String,
}

#[test]
fn normalisers_understand_each_backends_spelling() {
    assert_eq!(normalise_type("VARCHAR(88)", None), Some(Ty::Varchar(88)));
    assert_eq!(
        normalise_type("character varying", Some(45)),
        Some(Ty::Varchar(45))
    );
    assert_eq!(normalise_type("tinyint(1)", None), Some(Ty::Bool));
    assert_eq!(
        normalise_type("datetime", None),
        None,
        "MariaDB DATETIME must keep µs"
    );
    assert_eq!(
        normalise_default("'no_mfa'::character varying").as_deref(),
        Some("no_mfa")
    );
    assert_eq!(normalise_default("NULL"), None);
    assert_eq!(normalise_default("0").as_deref(), Some("0"));
    let names = sqlite_constraint_names(
        "CREATE TABLE x (a INTEGER, CONSTRAINT fk_x_a FOREIGN KEY (a) REFERENCES y (id) ON DELETE CASCADE)",
    );
    assert_eq!(names.get("a").map(String::as_str), Some("fk_x_a"));
}
