//! The adoption steps of `migrations-adopt/{sqlite,postgres,mysql}/`, embedded in the binary,
//! and how their SQL files are read (one statement per `;`-terminated group of lines).

use crate::db::Backend;

/// Bookkeeping versions of adoption steps start with this (never a diesel migration version).
pub const VERSION_PREFIX: &str = "camcops_web_adopt_";
/// The step that adds `created_at_utc` to the sessions table.
pub const SESSIONS_STEP: &str = "0001_sessions";

/// One additive step.
#[derive(Debug)]
pub struct Step {
    /// Folder name, for example "0001_sessions".
    pub name: &'static str,
    up: &'static str,
    down: &'static str,
}

impl Step {
    /// Its version in the bookkeeping table.
    pub fn version(&self) -> String {
        format!("{VERSION_PREFIX}{}", self.name)
    }

    /// The statements of `up.sql`, in order.
    pub fn up(&self) -> Vec<&'static str> {
        statements(self.up)
    }

    /// The statements of `down.sql`, in order (each undoes one of `up`, in reverse).
    pub fn down(&self) -> Vec<&'static str> {
        statements(self.down)
    }
}

/// Splits a file into statements: `--` comment lines dropped, each statement ending with `;`
/// at the end of a line.
fn statements(sql: &'static str) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut offset = 0;
    for line in sql.split_inclusive('\n') {
        let trimmed = line.trim();
        if start.is_none() && !trimmed.is_empty() && !trimmed.starts_with("--") {
            start = Some(offset);
        }
        offset += line.len();
        if let Some(s) = start {
            if trimmed.ends_with(';') {
                out.push(sql[s..offset].trim().trim_end_matches(';'));
                start = None;
            }
        }
    }
    out
}

macro_rules! steps {
    ($dialect:literal: $($name:literal),* $(,)?) => {
        &[$(Step {
            name: $name,
            up: include_str!(concat!("../../../migrations-adopt/", $dialect, "/", $name, "/up.sql")),
            down: include_str!(concat!("../../../migrations-adopt/", $dialect, "/", $name, "/down.sql")),
        }),*]
    };
}

static SQLITE: &[Step] = steps!("sqlite": "0001_sessions", "0002_task_list", "0003_memberships", "0004_audit_trail", "0005_unique_names", "0006_totp_last_step", "0007_mfa_recovery_codes");
static POSTGRES: &[Step] = steps!("postgres": "0001_sessions", "0002_task_list", "0003_memberships", "0004_audit_trail", "0005_unique_names", "0006_totp_last_step", "0007_mfa_recovery_codes");
static MYSQL: &[Step] = steps!("mysql": "0001_sessions", "0002_task_list", "0003_memberships", "0004_audit_trail", "0005_unique_names", "0006_totp_last_step", "0007_mfa_recovery_codes");

/// The steps for `backend`, in the order they are applied.
pub fn steps_for(backend: Backend) -> &'static [Step] {
    match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
        Backend::Mysql => MYSQL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dialect_has_the_same_steps_and_each_down_undoes_its_up() {
        for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
            let names: Vec<_> = steps_for(backend).iter().map(|s| s.name).collect();
            assert_eq!(
                names,
                [
                    "0001_sessions",
                    "0002_task_list",
                    "0003_memberships",
                    "0004_audit_trail",
                    "0005_unique_names",
                    "0006_totp_last_step",
                    "0007_mfa_recovery_codes"
                ]
            );
            for step in steps_for(backend) {
                let (up, down) = (step.up(), step.down());
                assert_eq!(up.len(), down.len(), "{backend} {}", step.name);
                for (u, d) in up.iter().zip(down.iter().rev()) {
                    assert!(!u.contains(';') && !d.contains(';'), "{u} / {d}");
                    // Additive only: nothing of CamCOPS' is dropped or altered.
                    let u = u.to_ascii_uppercase();
                    let words: Vec<&str> = u
                        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                        .collect();
                    for w in ["DROP", "RENAME", "MODIFY", "CHANGE"] {
                        assert!(!words.contains(&w), "{u}");
                    }
                    let index = u
                        .strip_prefix("CREATE UNIQUE INDEX ")
                        .or_else(|| u.strip_prefix("CREATE INDEX "))
                        .map(|rest| rest.strip_prefix("IF NOT EXISTS ").unwrap_or(rest));
                    if let Some(rest) = u.strip_prefix("CREATE TABLE ") {
                        // Tables of camcops-web's own only, each removed by its down step.
                        assert!(rest.starts_with("CW_"), "{u}");
                        let name = rest.split_whitespace().next().unwrap_or_default();
                        assert!(d.to_ascii_uppercase().contains(name), "{d} undoes {u}");
                    } else if let Some(rest) = index {
                        // Indexes named as ours, each removed by its down step.
                        assert!(rest.starts_with("CW_IX_"), "{u}");
                        let name = rest.split_whitespace().next().unwrap_or_default();
                        assert!(d.to_ascii_uppercase().contains(name), "{d} undoes {u}");
                    } else {
                        assert!(
                            u.starts_with("ALTER TABLE") && u.contains(" ADD COLUMN "),
                            "{u}"
                        );
                        assert!(!u.contains("NOT NULL"), "added columns are nullable: {u}");
                    }
                }
            }
        }
    }

    #[test]
    fn statements_are_split_at_line_ends() {
        let s: &'static str = "-- c\nCREATE INDEX a\n  ON t (x);\n\nDROP INDEX b;\n";
        assert_eq!(
            statements(s),
            ["CREATE INDEX a\n  ON t (x)", "DROP INDEX b"]
        );
        assert!(statements("-- nothing\n").is_empty());
    }
}
