//! Row locks for read-validate-write units: the rows a decision rests on are locked before
//! they are read, so that a concurrent change waits for the decision or is seen by it.

use diesel::{QueryResult, RunQueryDsl};

use super::{Backend, DbConnection};

/// Tables whose rows administrative writes lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locked {
    /// `_security_users` (a user's row stands for the user, their memberships and sessions).
    Users,
    /// `_security_groups`.
    Groups,
}

impl Locked {
    fn table(self) -> &'static str {
        match self {
            Locked::Users => "_security_users",
            Locked::Groups => "_security_groups",
        }
    }
}

/// Locks the rows `ids` of `table` until the transaction ends. On PostgreSQL and MariaDB this is
/// `SELECT ... FOR UPDATE` in ascending id order (so that two units locking the same rows never
/// wait for each other in a cycle); it must be the unit's first statement on MariaDB, whose
/// REPEATABLE READ snapshot starts at the first plain read, so that what is read after the lock
/// is what the last writer committed. On SQLite write units already hold the database write lock
/// (`BEGIN IMMEDIATE`, see [`super::transaction`]), which serialises them.
pub fn lock_rows(conn: &mut DbConnection, table: Locked, ids: &[i32]) -> QueryResult<()> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() || conn.backend() == Backend::Sqlite {
        return Ok(());
    }
    // Integers only: formatting them into the statement cannot inject anything.
    let list = ids
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT id FROM {} WHERE id IN ({list}) ORDER BY id FOR UPDATE",
        table.table()
    );
    diesel::sql_query(sql).execute(conn).map(|_| ())
}
