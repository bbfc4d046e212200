//! The server's clock: UTC now, shiftable by tests (an injected clock; no sleeps in tests).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{Duration, NaiveDateTime, Utc};

/// A clock that reads UTC now plus an offset that tests may advance.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The real clock (offset zero).
    pub fn system() -> Clock {
        Clock::default()
    }

    /// Now, as naive UTC (how the database stores times), to the microsecond.
    pub fn now(&self) -> NaiveDateTime {
        let now =
            Utc::now().naive_utc() + Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed));
        // Microsecond precision: what PostgreSQL and MariaDB DATETIME(6) keep.
        now.with_nanosecond_trunc()
    }

    /// Moves this clock (and every clone of it) forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }
}

trait TruncNanos {
    fn with_nanosecond_trunc(self) -> Self;
}

impl TruncNanos for NaiveDateTime {
    fn with_nanosecond_trunc(self) -> Self {
        use chrono::Timelike;
        let micros = self.nanosecond() / 1000;
        self.with_nanosecond(micros * 1000).unwrap_or(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_all_clones() {
        let c = Clock::system();
        let d = c.clone();
        let before = d.now();
        c.advance(Duration::minutes(31));
        assert!(d.now() - before >= Duration::minutes(31));
    }
}
