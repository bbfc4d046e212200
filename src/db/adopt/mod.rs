//! Adopting an existing CamCOPS 2.4 database: recognising one (its `_alembic_version` table)
//! before diesel's migration harness touches anything, the CamCOPS revisions accepted, and the
//! additive steps of `migrations-adopt/` (applied by `upgrade-db`, undone by `undo-adoption`)
//! with their bookkeeping rows in `__diesel_schema_migrations`.

mod steps;

use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl};

pub use steps::{steps_for, Step};

use super::{Backend, DbConnection};

/// CamCOPS' own migration table: present in every database CamCOPS made, never written here.
pub const ALEMBIC_TABLE: &str = "_alembic_version";
/// The bookkeeping table (diesel's name and layout): one row per adoption step applied.
pub const BOOKKEEPING_TABLE: &str = "__diesel_schema_migrations";
/// The CamCOPS 2.4 alembic revisions whose shared tables camcops-web knows (0087 is 2.4.24).
pub const REVISIONS: std::ops::RangeInclusive<u32> = 70..=87;

/// What a database is, as far as `upgrade-db` and `serve` are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Not made by CamCOPS: camcops-web's own migrations apply.
    Own,
    /// Made by CamCOPS, at this alembic revision.
    Camcops(CamcopsDb),
}

/// A CamCOPS database and how far it is adopted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CamcopsDb {
    /// The alembic revision stamped by CamCOPS (for example "0087").
    pub revision: String,
    /// Adoption steps not applied yet (all of them before the first `upgrade-db`).
    pub pending: Vec<&'static str>,
}

impl CamcopsDb {
    /// Whether the revision is one camcops-web can run beside.
    pub fn revision_supported(&self) -> bool {
        revision_number(&self.revision).is_some_and(|n| REVISIONS.contains(&n))
    }

    /// The error for an unsupported revision, naming it.
    pub fn unsupported_message(&self) -> String {
        format!(
            "this CamCOPS database is at alembic revision '{}'; camcops-web runs beside CamCOPS \
             2.4 databases at revisions {:04} to {:04} only (0087 is CamCOPS 2.4.24): upgrade \
             CamCOPS and its database first (`camcops_server upgrade_db`), or use a camcops-web \
             release made for that version",
            self.revision,
            REVISIONS.start(),
            REVISIONS.end()
        )
    }
}

/// "0087" → 87; anything but four digits → None.
fn revision_number(rev: &str) -> Option<u32> {
    (rev.len() == 4 && rev.bytes().all(|b| b.is_ascii_digit()))
        .then(|| rev.parse().ok())
        .flatten()
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Text)]
    v: String,
}

/// Whether `table` exists in the connection's database (names here are constants, never input).
pub fn table_exists(conn: &mut DbConnection, table: &'static str) -> diesel::QueryResult<bool> {
    let sql = match conn.backend() {
        Backend::Sqlite => format!(
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
        ),
        Backend::Postgres => format!(
            "SELECT COUNT(*) AS n FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = '{table}'"
        ),
        Backend::Mysql => format!(
            "SELECT COUNT(*) AS n FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name = '{table}'"
        ),
    };
    Ok(diesel::sql_query(sql).get_result::<Count>(conn)?.n > 0)
}

/// Reads what kind of database this is, without creating or writing anything.
pub fn detect(conn: &mut DbConnection) -> diesel::QueryResult<Kind> {
    if !table_exists(conn, ALEMBIC_TABLE)? {
        return Ok(Kind::Own);
    }
    let revisions: Vec<Version> =
        diesel::sql_query(format!("SELECT version_num AS v FROM {ALEMBIC_TABLE}")).load(conn)?;
    let revision = match revisions.as_slice() {
        [one] => one.v.clone(),
        [] => "(none)".to_string(),
        many => many
            .iter()
            .map(|r| r.v.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    };
    let applied = applied_steps(conn)?;
    let pending = steps_for(conn.backend())
        .iter()
        .filter(|s| !applied.iter().any(|a| a == &s.version()))
        .map(|s| s.name)
        .collect();
    Ok(Kind::Camcops(CamcopsDb { revision, pending }))
}

/// The adoption versions recorded in the bookkeeping table (none if it does not exist).
fn applied_steps(conn: &mut DbConnection) -> diesel::QueryResult<Vec<String>> {
    if !table_exists(conn, BOOKKEEPING_TABLE)? {
        return Ok(Vec::new());
    }
    let rows: Vec<Version> = diesel::sql_query(format!(
        "SELECT version AS v FROM {BOOKKEEPING_TABLE} WHERE version LIKE '{}%'",
        steps::VERSION_PREFIX
    ))
    .load(conn)?;
    Ok(rows.into_iter().map(|r| r.v).collect())
}

const CREATE_BOOKKEEPING: &str = "CREATE TABLE __diesel_schema_migrations (\
     version VARCHAR(50) PRIMARY KEY NOT NULL, \
     run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)";

/// Applies the pending adoption steps; returns their names (empty when already adopted).
///
/// SQLite and PostgreSQL: one transaction for everything, bookkeeping table included, so a
/// failure leaves the database as it was. MySQL/MariaDB cannot roll DDL back: on a failure
/// the statements that ran are undone one by one (newest first) and a bookkeeping table made
/// by this run is dropped again.
pub fn adopt(conn: &mut DbConnection, db: &CamcopsDb) -> anyhow::Result<Vec<&'static str>> {
    if !db.revision_supported() {
        anyhow::bail!("{}", db.unsupported_message());
    }
    let pending: Vec<&Step> = steps_for(conn.backend())
        .iter()
        .filter(|s| db.pending.contains(&s.name))
        .collect();
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let names = pending.iter().map(|s| s.name).collect();
    match conn.backend() {
        Backend::Mysql => adopt_undoing_on_failure(conn, &pending)?,
        _ => conn
            .transaction(|conn| apply_all(conn, &pending))
            .map_err(|e| anyhow::anyhow!("adoption failed, nothing was changed: {e}"))?,
    }
    Ok(names)
}

fn apply_all(conn: &mut DbConnection, pending: &[&Step]) -> diesel::QueryResult<()> {
    if !table_exists(conn, BOOKKEEPING_TABLE)? {
        conn.batch_execute(CREATE_BOOKKEEPING)?;
    }
    for step in pending {
        for stmt in step.up() {
            if blocked_by_data(conn, stmt)?.is_none() {
                conn.batch_execute(stmt)?;
            }
        }
        record(conn, step)?;
    }
    Ok(())
}

/// The kinds of stored data that a unique index of the adoption steps would refuse.
const CLASH_CHECKS: [(&str, &str, &str); 3] = [
    (
        "_security_user_group (user_id, group_id)",
        "SELECT COUNT(*) AS n FROM (SELECT user_id FROM _security_user_group \
         WHERE user_id IS NOT NULL AND group_id IS NOT NULL \
         GROUP BY user_id, group_id HAVING COUNT(*) > 1) d",
        "users who are members of the same group more than once",
    ),
    (
        "_security_users (",
        "SELECT COUNT(*) AS n FROM (SELECT lower(username) AS k FROM _security_users \
         GROUP BY lower(username) HAVING COUNT(*) > 1) d",
        "usernames that differ only in upper/lower case",
    ),
    (
        "_security_groups (",
        "SELECT COUNT(*) AS n FROM (SELECT lower(name) AS k FROM _security_groups \
         GROUP BY lower(name) HAVING COUNT(*) > 1) d",
        "group names that differ only in upper/lower case",
    ),
];

/// Why the stored data refuses the unique index `stmt` creates (None: it can be created, or
/// `stmt` creates no unique index).
fn blocked_by_data(conn: &mut DbConnection, stmt: &str) -> diesel::QueryResult<Option<String>> {
    if !stmt.to_ascii_uppercase().contains("CREATE UNIQUE INDEX") {
        return Ok(None);
    }
    for (target, count_sql, what) in CLASH_CHECKS {
        if stmt.contains(target) {
            let c: Count = diesel::sql_query(count_sql).get_result(conn)?;
            return Ok((c.n > 0).then(|| format!("{} set(s) of {what}", c.n)));
        }
    }
    Ok(None)
}

/// What `upgrade-db` warns about (never changes): duplicate memberships and names that differ
/// only in case. The server refuses new ones in code; a unique index is added only where none
/// exist.
pub fn clashes(conn: &mut DbConnection) -> diesel::QueryResult<Vec<String>> {
    let mut out = Vec::new();
    for (target, _, _) in CLASH_CHECKS {
        let probe = format!("CREATE UNIQUE INDEX x ON {target}");
        if let Some(w) = blocked_by_data(conn, &probe)? {
            out.push(w);
        }
    }
    Ok(out)
}

fn record(conn: &mut DbConnection, step: &Step) -> diesel::QueryResult<()> {
    conn.batch_execute(&format!(
        "INSERT INTO {BOOKKEEPING_TABLE} (version) VALUES ('{}')",
        step.version()
    ))
}

fn adopt_undoing_on_failure(conn: &mut DbConnection, pending: &[&Step]) -> anyhow::Result<()> {
    let made_table = !table_exists(conn, BOOKKEEPING_TABLE)?;
    // Every statement that ran, with the one that undoes it.
    let mut done: Vec<String> = Vec::new();
    let mut recorded: Vec<String> = Vec::new();
    let result = (|| -> diesel::QueryResult<()> {
        if made_table {
            conn.batch_execute(CREATE_BOOKKEEPING)?;
        }
        for step in pending {
            for (up, down) in step.up().iter().zip(step.down().iter().rev()) {
                if blocked_by_data(conn, up)?.is_some() {
                    continue;
                }
                conn.batch_execute(up)?;
                done.push(down.to_string());
            }
            record(conn, step)?;
            recorded.push(step.version());
        }
        Ok(())
    })();
    let Err(e) = result else {
        return Ok(());
    };
    let mut undo_errors = Vec::new();
    for down in done.iter().rev() {
        if let Err(u) = conn.batch_execute(down) {
            undo_errors.push(format!("{down}: {u}"));
        }
    }
    let cleanup = if made_table {
        format!("DROP TABLE {BOOKKEEPING_TABLE}")
    } else {
        let list: Vec<String> = recorded.iter().map(|v| format!("'{v}'")).collect();
        format!(
            "DELETE FROM {BOOKKEEPING_TABLE} WHERE version IN ({})",
            if list.is_empty() {
                "''".to_string()
            } else {
                list.join(", ")
            }
        )
    };
    if let Err(u) = conn.batch_execute(&cleanup) {
        undo_errors.push(format!("{cleanup}: {u}"));
    }
    if undo_errors.is_empty() {
        anyhow::bail!("adoption failed, and what it had done was undone: {e}")
    }
    anyhow::bail!(
        "adoption failed ({e}), and undoing it failed too; restore the backup taken before \
         `upgrade-db`. Undo errors: {}",
        undo_errors.join("; ")
    )
}

/// Undoes every applied adoption step (newest first), ending camcops-web's own sessions
/// first; drops the bookkeeping table when nothing else is recorded in it. Returns the names
/// of the steps undone.
pub fn undo(conn: &mut DbConnection) -> anyhow::Result<Vec<&'static str>> {
    let Kind::Camcops(db) = detect(conn)? else {
        anyhow::bail!("this is not a CamCOPS database (no {ALEMBIC_TABLE} table): nothing to undo");
    };
    let applied: Vec<&Step> = steps_for(conn.backend())
        .iter()
        .rev()
        .filter(|s| !db.pending.contains(&s.name))
        .collect();
    if applied.is_empty() {
        return Ok(Vec::new());
    }
    let names = applied.iter().map(|s| s.name).collect();
    let run = |conn: &mut DbConnection| -> diesel::QueryResult<()> {
        if applied.iter().any(|s| s.name == steps::SESSIONS_STEP) {
            // The rows camcops-web made are of no use to CamCOPS (their tokens are hashed).
            conn.batch_execute(
                "DELETE FROM _security_webviewer_sessions WHERE created_at_utc IS NOT NULL",
            )?;
        }
        for step in &applied {
            for stmt in step.down() {
                conn.batch_execute(stmt)?;
            }
            conn.batch_execute(&format!(
                "DELETE FROM {BOOKKEEPING_TABLE} WHERE version = '{}'",
                step.version()
            ))?;
        }
        let left: Count =
            diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {BOOKKEEPING_TABLE}"))
                .get_result(conn)?;
        if left.n == 0 {
            conn.batch_execute(&format!("DROP TABLE {BOOKKEEPING_TABLE}"))?;
        }
        Ok(())
    };
    match conn.backend() {
        Backend::Mysql => run(conn)?,
        _ => conn.transaction(run).map_err(|e| {
            anyhow::anyhow!("undoing the adoption failed, nothing was changed: {e}")
        })?,
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_accepted_are_0070_to_0087() {
        let db = |r: &str| CamcopsDb {
            revision: r.into(),
            pending: vec![],
        };
        assert!(db("0070").revision_supported());
        assert!(db("0087").revision_supported());
        for bad in [
            "0069",
            "0088",
            "87",
            "00870",
            "abcd",
            "(none)",
            "0087, 0086",
            "",
        ] {
            assert!(!db(bad).revision_supported(), "{bad}");
        }
        let msg = db("0091").unsupported_message();
        assert!(
            msg.contains("'0091'") && msg.contains("0070 to 0087"),
            "{msg}"
        );
    }
}
