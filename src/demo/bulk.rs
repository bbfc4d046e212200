//! Multi-row `INSERT` statements built as text for bulk loading generated demo data (the
//! connection enum cannot do multi-row `values(&vec)`). Only generated values go in; strings
//! are quoted anyway.

use std::fmt::Write as _;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::connection::SimpleConnection;
use diesel::Connection;

use crate::db::{Backend, DbConnection};

/// Rows per `INSERT` statement.
pub const ROWS_PER_STATEMENT: usize = 500;
/// Statements per transaction.
pub const STATEMENTS_PER_TRANSACTION: usize = 10;

/// One SQL literal.
#[derive(Debug, Clone, Copy)]
pub enum Lit<'a> {
    /// `NULL`.
    Null,
    /// An integer.
    Int(i64),
    /// `TRUE`/`FALSE` (all three backends accept these).
    Bool(bool),
    /// A string, quoted for the backend.
    Str(&'a str),
    /// `'YYYY-MM-DD'`.
    Date(NaiveDate),
    /// `'YYYY-MM-DD HH:MM:SS'` (whole seconds).
    Timestamp(NaiveDateTime),
}

impl<'a> From<Option<&'a str>> for Lit<'a> {
    fn from(v: Option<&'a str>) -> Lit<'a> {
        v.map_or(Lit::Null, Lit::Str)
    }
}

impl From<Option<i32>> for Lit<'_> {
    fn from(v: Option<i32>) -> Self {
        v.map_or(Lit::Null, |n| Lit::Int(i64::from(n)))
    }
}

/// Appends `s` as a string literal: quotes doubled; on MySQL/MariaDB (where backslash
/// escapes by default) backslashes doubled too; NUL characters dropped.
pub fn push_quoted(out: &mut String, backend: Backend, s: &str) {
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' if backend == Backend::Mysql => out.push_str("\\\\"),
            '\0' => {}
            c => out.push(c),
        }
    }
    out.push('\'');
}

/// Appends one literal.
pub fn push_lit(out: &mut String, backend: Backend, lit: Lit<'_>) {
    match lit {
        Lit::Null => out.push_str("NULL"),
        Lit::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Lit::Bool(b) => out.push_str(if b { "TRUE" } else { "FALSE" }),
        Lit::Str(s) => push_quoted(out, backend, s),
        Lit::Date(d) => {
            let _ = write!(out, "'{}'", d.format("%Y-%m-%d"));
        }
        Lit::Timestamp(t) => {
            let _ = write!(out, "'{}'", t.format("%Y-%m-%d %H:%M:%S"));
        }
    }
}

/// Collects rows for one table and runs them as multi-row `INSERT`s, a few statements per
/// transaction.
pub struct BulkInserter {
    backend: Backend,
    head: String,
    columns: usize,
    pending: Vec<String>,
    pending_rows: usize,
    sql: String,
    rows_in_statement: usize,
}

impl BulkInserter {
    /// An inserter for `table (columns…)`.
    pub fn new(backend: Backend, table: &str, columns: &[&str]) -> BulkInserter {
        BulkInserter {
            backend,
            head: format!("INSERT INTO {table} ({}) VALUES ", columns.join(", ")),
            columns: columns.len(),
            pending: Vec::new(),
            pending_rows: 0,
            sql: String::new(),
            rows_in_statement: 0,
        }
    }

    /// Adds a row; runs a transaction when enough statements are pending. Returns the number
    /// of rows written by this call (0 or a multiple of the batch size).
    pub fn push(&mut self, conn: &mut DbConnection, row: &[Lit<'_>]) -> anyhow::Result<usize> {
        if row.len() != self.columns {
            anyhow::bail!(
                "bulk insert: {} values for {} columns",
                row.len(),
                self.columns
            );
        }
        if self.rows_in_statement == 0 {
            self.sql.clear();
            self.sql.push_str(&self.head);
        } else {
            self.sql.push(',');
        }
        self.sql.push('(');
        for (i, lit) in row.iter().enumerate() {
            if i > 0 {
                self.sql.push(',');
            }
            push_lit(&mut self.sql, self.backend, *lit);
        }
        self.sql.push(')');
        self.rows_in_statement += 1;
        self.pending_rows += 1;
        if self.rows_in_statement == ROWS_PER_STATEMENT {
            self.pending.push(std::mem::take(&mut self.sql));
            self.rows_in_statement = 0;
            if self.pending.len() == STATEMENTS_PER_TRANSACTION {
                return self.run_pending(conn);
            }
        }
        Ok(0)
    }

    /// Writes everything still pending; returns the number of rows written.
    pub fn finish(&mut self, conn: &mut DbConnection) -> anyhow::Result<usize> {
        if self.rows_in_statement > 0 {
            self.pending.push(std::mem::take(&mut self.sql));
            self.rows_in_statement = 0;
        }
        self.run_pending(conn)
    }

    fn run_pending(&mut self, conn: &mut DbConnection) -> anyhow::Result<usize> {
        if self.pending.is_empty() {
            return Ok(0);
        }
        let statements = std::mem::take(&mut self.pending);
        let rows = std::mem::take(&mut self.pending_rows);
        conn.transaction::<_, diesel::result::Error, _>(|c| {
            for s in &statements {
                c.batch_execute(s)?;
            }
            Ok(())
        })?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_quoted_per_backend() {
        let mut s = String::new();
        push_quoted(&mut s, Backend::Sqlite, "O'Brien \\ x\0");
        assert_eq!(s, "'O''Brien \\ x'");
        let mut s = String::new();
        push_quoted(&mut s, Backend::Mysql, "O'Brien \\ x");
        assert_eq!(s, "'O''Brien \\\\ x'");
        let mut s = String::new();
        let t = NaiveDate::from_ymd_opt(2024, 2, 29)
            .unwrap()
            .and_hms_opt(13, 14, 15)
            .unwrap();
        for l in [Lit::Null, Lit::Int(-3), Lit::Bool(true), Lit::Timestamp(t)] {
            push_lit(&mut s, Backend::Postgres, l);
            s.push(' ');
        }
        assert_eq!(s, "NULL -3 TRUE '2024-02-29 13:14:15' ");
    }
}
