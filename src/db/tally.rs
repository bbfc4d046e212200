//! Statement counting: every statement a pooled connection sends to the database (`BEGIN`
//! and `COMMIT` included; the pool's health pings and the server's background work, such as
//! housekeeping, counted apart), for `/metrics`
//! (`camcops_db_statements_total`) and for the tests that hold each page to its budget of
//! round trips. Optionally the statement texts (never bind values) are kept, for a test to
//! show which statements a request ran.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use diesel::connection::{Instrumentation, InstrumentationEvent};
use prometheus::IntCounter;

use super::echo;

/// Most statement texts kept while recording (a runaway loop must not eat the memory).
const RECORD_MAX: usize = 1_000;

#[derive(Debug, Default)]
struct Inner {
    statements: AtomicU64,
    transactions: AtomicU64,
    pings: AtomicU64,
    background: AtomicU64,
    recording: AtomicBool,
    texts: Mutex<Vec<String>>,
    /// `camcops_db_statements_total`, once the pool's metrics exist.
    metric: OnceLock<IntCounter>,
}

/// The counters shared by every connection of one pool (clones share them).
#[derive(Debug, Clone, Default)]
pub struct StatementTally(Arc<Inner>);

/// What a tally has counted so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Statements sent for requests, `BEGIN`/`COMMIT`/`ROLLBACK` included.
    pub statements: u64,
    /// Transactions begun (outermost and savepoints).
    pub transactions: u64,
    /// Health pings of the pool (`SELECT 1` before reusing a connection idle a while).
    pub pings: u64,
    /// Statements of background work (housekeeping), not of any request.
    pub background: u64,
}

impl std::ops::Sub for Counts {
    type Output = Counts;

    fn sub(self, before: Counts) -> Counts {
        Counts {
            statements: self.statements.saturating_sub(before.statements),
            transactions: self.transactions.saturating_sub(before.transactions),
            pings: self.pings.saturating_sub(before.pings),
            background: self.background.saturating_sub(before.background),
        }
    }
}

/// What the statements run on a thread are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Request,
    Ping,
    Background,
}

thread_local! {
    static PURPOSE: Cell<Purpose> = const { Cell::new(Purpose::Request) };
}

fn with_purpose<T>(purpose: Purpose, f: impl FnOnce() -> T) -> T {
    let before = PURPOSE.with(|p| p.replace(purpose));
    let out = f();
    PURPOSE.with(|p| p.set(before));
    out
}

/// Runs `f` (a pool health ping) so that its statement counts as a ping, not as work.
pub fn as_ping<T>(f: impl FnOnce() -> T) -> T {
    with_purpose(Purpose::Ping, f)
}

/// Runs `f` (background work of the server) so that its statements count apart.
pub fn as_background<T>(f: impl FnOnce() -> T) -> T {
    with_purpose(Purpose::Background, f)
}

impl StatementTally {
    /// Also counts into `metric` (the pool's `/metrics` counter).
    pub fn attach(&self, metric: IntCounter) {
        let _ = self.0.metric.set(metric);
    }

    /// The counts so far.
    pub fn counts(&self) -> Counts {
        Counts {
            statements: self.0.statements.load(Ordering::Relaxed),
            transactions: self.0.transactions.load(Ordering::Relaxed),
            pings: self.0.pings.load(Ordering::Relaxed),
            background: self.0.background.load(Ordering::Relaxed),
        }
    }

    /// Starts keeping statement texts (without bind values), dropping those kept before.
    pub fn start_recording(&self) {
        if let Ok(mut t) = self.0.texts.lock() {
            t.clear();
        }
        self.0.recording.store(true, Ordering::Relaxed);
    }

    /// The texts kept since [`start_recording`](Self::start_recording), in order.
    pub fn recorded(&self) -> Vec<String> {
        self.0.texts.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// The instrumentation to set on one connection of the pool.
    pub fn instrument(&self, echo: bool) -> Counted {
        Counted {
            tally: self.clone(),
            echo,
        }
    }

    fn count_in_metric(&self) {
        if let Some(m) = self.0.metric.get() {
            m.inc();
        }
    }

    fn on_statement(&self, text: impl FnOnce() -> String) {
        match PURPOSE.with(Cell::get) {
            Purpose::Ping => {
                self.0.pings.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Purpose::Background => {
                self.0.background.fetch_add(1, Ordering::Relaxed);
                self.count_in_metric();
                return;
            }
            Purpose::Request => {}
        }
        self.0.statements.fetch_add(1, Ordering::Relaxed);
        self.count_in_metric();
        if self.0.recording.load(Ordering::Relaxed) {
            if let Ok(mut t) = self.0.texts.lock() {
                if t.len() < RECORD_MAX {
                    t.push(text());
                }
            }
        }
    }
}

/// The instrumentation of one connection: counts into its pool's tally and, with `DB_ECHO`,
/// logs each statement (see [`echo`]).
#[derive(Debug)]
pub struct Counted {
    tally: StatementTally,
    echo: bool,
}

impl Instrumentation for Counted {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { query, .. } => {
                let shown = || echo::without_binds(&query.to_string()).to_owned();
                self.tally.on_statement(shown);
                if self.echo {
                    echo::log_statement(query);
                }
            }
            InstrumentationEvent::BeginTransaction { .. } => {
                self.tally.0.transactions.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_are_counted_apart_and_texts_kept_only_while_recording() {
        let t = StatementTally::default();
        t.on_statement(|| "SELECT a".into());
        as_ping(|| t.on_statement(|| "SELECT 1".into()));
        as_background(|| t.on_statement(|| "DELETE x".into()));
        assert_eq!(
            t.counts(),
            Counts {
                statements: 1,
                transactions: 0,
                pings: 1,
                background: 1,
            }
        );
        assert!(t.recorded().is_empty());
        t.start_recording();
        let before = t.counts();
        t.on_statement(|| "SELECT b".into());
        assert_eq!((t.counts() - before).statements, 1);
        assert_eq!(t.recorded(), vec!["SELECT b".to_owned()]);
    }
}
