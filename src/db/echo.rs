//! `DB_ECHO`: every statement a connection runs, logged at debug level under the target
//! `camcops_web::sql`, without its bind values (which may be passwords, tokens or session ids).

/// The log target of the statement lines (`RUST_LOG=camcops_web::sql=debug` shows them; with
/// `DB_ECHO` on the server enables it itself).
pub const TARGET: &str = "camcops_web::sql";

/// What diesel appends to a statement's text before listing its bind values.
const BINDS_MARKER: &str = " -- binds: ";

/// Logs one statement (without its binds) at debug level, if that level is enabled.
pub fn log_statement(query: &dyn diesel::connection::DebugQuery) {
    if log::log_enabled!(target: TARGET, log::Level::Debug) {
        log::debug!(target: TARGET, "{}", without_binds(&query.to_string()));
    }
}

/// The statement text of diesel's `SQL -- binds: [...]` display form: everything before the
/// first marker (bind values come after the SQL, so a value containing the marker is cut too).
pub fn without_binds(shown: &str) -> &str {
    match shown.find(BINDS_MARKER) {
        Some(at) => &shown[..at],
        None => shown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_values_are_cut_off() {
        assert_eq!(
            without_binds(
                "SELECT 1 FROM users WHERE password = ? -- binds: [\"secret -- binds: x\"]"
            ),
            "SELECT 1 FROM users WHERE password = ?"
        );
        assert_eq!(
            without_binds("PRAGMA foreign_keys = ON"),
            "PRAGMA foreign_keys = ON"
        );
    }
}
