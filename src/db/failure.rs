//! Which database errors mean "the database is unavailable" (a 503 with `Retry-After`, not a
//! 500), per backend, and of what kind (for the log and `/metrics`).
//!
//! The drivers report most of these as `DatabaseErrorKind::Unknown` with the server's or the
//! client library's message, so the messages are matched (English, as the servers send them by
//! default; PostgreSQL's `lc_messages` and MariaDB's `lc_messages` could translate them).

use std::fmt;

use diesel::result::{DatabaseErrorKind, Error};

/// Why the database could not serve a unit of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// The connection broke or the server went away during the work.
    ConnectionLost,
    /// No connection could be had from the pool within the checkout timeout (the server cannot
    /// be reached, or every connection is busy).
    PoolTimeout,
    /// A lock could not be had in time (SQLite busy, PostgreSQL `lock_timeout`, InnoDB lock
    /// wait timeout, deadlock, serialization failure).
    Locked,
    /// A statement ran past the statement timeout, or the whole unit past its deadline.
    Timeout,
    /// Something else reported as unavailable (shutting down, no hashing slot).
    Other,
}

impl Failure {
    /// A short label (log lines, the `kind` label of `camcops_db_errors_total`).
    pub fn label(self) -> &'static str {
        match self {
            Failure::ConnectionLost => "connection_lost",
            Failure::PoolTimeout => "pool_timeout",
            Failure::Locked => "locked",
            Failure::Timeout => "timeout",
            Failure::Other => "other",
        }
    }

    /// Every kind, for registering metrics up front.
    pub const ALL: [Failure; 5] = [
        Failure::ConnectionLost,
        Failure::PoolTimeout,
        Failure::Locked,
        Failure::Timeout,
        Failure::Other,
    ];

    /// Whether the connection that reported it must not go back into the pool.
    pub fn breaks_connection(self) -> bool {
        self == Failure::ConnectionLost
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Lower-case fragments of messages that mean the connection is gone (libpq, libmariadb,
/// server messages sent just before closing).
const CONNECTION_LOST: &[&str] = &[
    "no connection to the server",
    "server closed the connection",
    "terminating connection",
    "could not receive data from server",
    "could not send data to server",
    "connection to server",
    "ssl syscall error",
    "the database system is",
    "server has gone away",
    "lost connection to",
    "can't connect to",
    "connection was killed",
    "server shutdown in progress",
    "commands out of sync",
    "broken pipe",
    "connection reset",
    "connection refused",
];

/// Fragments meaning a lock was not granted in time.
const LOCKED: &[&str] = &[
    "database is locked",
    "database table is locked",
    "database schema is locked",
    "lock timeout",
    "lock wait timeout exceeded",
    "deadlock",
    "could not obtain lock",
];

/// Fragments meaning a statement was stopped for running too long.
const TIMEOUT: &[&str] = &[
    "statement timeout",
    "max_statement_time exceeded",
    "maximum statement execution time exceeded",
    "query execution was interrupted",
    "canceling statement due to user request",
];

/// The kind of unavailability `e` reports, or `None` for an ordinary error (a bug or bad data:
/// a 500).
pub fn classify(e: &Error) -> Option<Failure> {
    match e {
        Error::DatabaseError(kind, info) => match kind {
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => {
                Some(Failure::ConnectionLost)
            }
            DatabaseErrorKind::SerializationFailure => Some(Failure::Locked),
            _ => classify_message(info.message()),
        },
        Error::BrokenTransactionManager => Some(Failure::ConnectionLost),
        Error::RollbackErrorOnCommit { commit_error, .. } => classify(commit_error),
        Error::RollbackTransaction | Error::AlreadyInTransaction | Error::NotInTransaction => None,
        _ => None,
    }
}

/// The kind a driver or server message names, if any.
pub fn classify_message(message: &str) -> Option<Failure> {
    let m = message.to_ascii_lowercase();
    let has = |list: &[&str]| list.iter().any(|f| m.contains(f));
    if has(LOCKED) {
        Some(Failure::Locked)
    } else if has(TIMEOUT) {
        Some(Failure::Timeout)
    } else if has(CONNECTION_LOST) {
        Some(Failure::ConnectionLost)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unknown(msg: &str) -> Error {
        Error::DatabaseError(DatabaseErrorKind::Unknown, Box::new(msg.to_string()))
    }

    #[test]
    fn each_backend_s_outage_messages_are_classified() {
        for (msg, kind) in [
            ("database is locked", Failure::Locked),
            ("canceling statement due to lock timeout", Failure::Locked),
            (
                "Lock wait timeout exceeded; try restarting transaction",
                Failure::Locked,
            ),
            (
                "canceling statement due to statement timeout",
                Failure::Timeout,
            ),
            (
                "Query execution was interrupted (max_statement_time exceeded)",
                Failure::Timeout,
            ),
            ("no connection to the server\n", Failure::ConnectionLost),
            (
                "server closed the connection unexpectedly",
                Failure::ConnectionLost,
            ),
            ("MySQL server has gone away", Failure::ConnectionLost),
            (
                "Lost connection to server during query",
                Failure::ConnectionLost,
            ),
            (
                "Can't connect to server on '127.0.0.1' (111)",
                Failure::ConnectionLost,
            ),
            (
                "terminating connection due to administrator command",
                Failure::ConnectionLost,
            ),
        ] {
            assert_eq!(classify(&unknown(msg)), Some(kind), "{msg}");
        }
    }

    #[test]
    fn ordinary_errors_are_not_unavailability() {
        assert_eq!(classify(&unknown("no such table: users")), None);
        assert_eq!(classify(&Error::NotFound), None);
        assert_eq!(
            classify(&Error::DatabaseError(
                DatabaseErrorKind::UniqueViolation,
                Box::new("duplicate key".to_string())
            )),
            None
        );
        assert_eq!(
            classify(&Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection,
                Box::new(String::new())
            )),
            Some(Failure::ConnectionLost)
        );
        assert_eq!(
            classify(&Error::BrokenTransactionManager),
            Some(Failure::ConnectionLost)
        );
    }
}
