//! The counters of one server process (the `prometheus` crate's registry), kept in
//! `AppState`. Serving them (`GET /metrics` on the separate `METRICS_HOST`/`METRICS_PORT`
//! listener) is `metrics_listener`'s work; this module imports nothing of `state`.
//!
//! Requests by route and status, latency by route, the pool (size, in use, waits, timeouts,
//! discarded connections), database errors by kind, active sessions (counted from
//! `last_activity_utc` at scrape time, so accurate to `SESSION_ACTIVITY_WRITE_INTERVAL_S`),
//! logins, failed logins, lockouts, housekeeping deletions and open client connections.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::db::{DbPool, Failure};
use crate::session::housekeeping::HousekeepingReport;

/// Every metric of one application.
pub struct Metrics {
    registry: Registry,
    /// `camcops_http_requests_total{route,method,status}`.
    pub requests: IntCounterVec,
    /// `camcops_http_request_duration_seconds{route}`.
    pub latency: HistogramVec,
    /// `camcops_db_errors_total{kind}`: requests (web pages and tablet API) that failed with
    /// the database unavailable; count them with [`Metrics::db_unavailable`].
    pub db_errors: IntCounterVec,
    /// Successful logins (web and tablet API).
    pub logins: IntCounter,
    /// Failed logins and failed re-authentications.
    pub login_failures: IntCounter,
    /// Failed logins that locked an account.
    pub lockouts: IntCounter,
    /// `camcops_housekeeping_deleted_total{what}`.
    pub housekeeping_deleted: IntCounterVec,
    /// Client connections open now.
    pub open_connections: IntGauge,
    /// `camcops_messages_total{channel,outcome}`: e-mails and text messages sent or failed.
    pub messages: IntCounterVec,
    pool_connections: IntGauge,
    pool_idle: IntGauge,
    pool_in_use: IntGauge,
    pool_max: IntGauge,
    /// `camcops_sessions_active`, set by each scrape.
    pub(crate) active_sessions: IntGauge,
}

impl Metrics {
    /// Registers every metric, the pool's counters included.
    pub fn new(pool: &DbPool) -> prometheus::Result<Metrics> {
        let registry = Registry::new();
        let counter = |name: &str, help: &str| -> prometheus::Result<IntCounter> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let gauge = |name: &str, help: &str| -> prometheus::Result<IntGauge> {
            let g = IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let counter_vec =
            |name: &str, help: &str, labels: &[&str]| -> prometheus::Result<IntCounterVec> {
                let v = IntCounterVec::new(Opts::new(name, help), labels)?;
                registry.register(Box::new(v.clone()))?;
                Ok(v)
            };
        let requests = counter_vec(
            "camcops_http_requests_total",
            "HTTP requests answered.",
            &["route", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "camcops_http_request_duration_seconds",
                "Time from the request head to the response.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["route"],
        )?;
        registry.register(Box::new(latency.clone()))?;
        let db_errors = counter_vec(
            "camcops_db_errors_total",
            "Requests (web and tablet API) that failed because the database was unavailable, by kind.",
            &["kind"],
        )?;
        for kind in Failure::ALL {
            db_errors.with_label_values(&[kind.label()]);
        }
        let housekeeping_deleted = counter_vec(
            "camcops_housekeeping_deleted_total",
            "Rows deleted by housekeeping.",
            &["what"],
        )?;
        let messages = counter_vec(
            "camcops_messages_total",
            "E-mails and text messages (codes and notices) by channel and outcome (sent, failed).",
            &["channel", "outcome"],
        )?;
        for channel in crate::messaging::channel::Channel::ALL {
            for outcome in ["sent", "failed"] {
                messages.with_label_values(&[channel.name(), outcome]);
            }
        }
        let stats = pool.stats();
        let pool_collectors: [Box<dyn prometheus::core::Collector>; 7] = [
            Box::new(stats.checkouts.clone()),
            Box::new(stats.waits.clone()),
            Box::new(stats.wait_seconds.clone()),
            Box::new(stats.timeouts.clone()),
            Box::new(stats.discarded.clone()),
            Box::new(stats.deadlines_missed.clone()),
            Box::new(stats.statements.clone()),
        ];
        for c in pool_collectors {
            registry.register(c)?;
        }
        Ok(Metrics {
            requests,
            latency,
            db_errors,
            logins: counter("camcops_logins_total", "Successful logins.")?,
            login_failures: counter(
                "camcops_login_failures_total",
                "Failed logins and re-authentications.",
            )?,
            lockouts: counter(
                "camcops_lockouts_total",
                "Failed logins that locked an account.",
            )?,
            housekeeping_deleted,
            messages,
            open_connections: gauge(
                "camcops_http_open_connections",
                "Client connections open now.",
            )?,
            pool_connections: gauge(
                "camcops_db_pool_connections",
                "Database connections open (idle or in use).",
            )?,
            pool_idle: gauge(
                "camcops_db_pool_idle_connections",
                "Idle pooled connections.",
            )?,
            pool_in_use: gauge(
                "camcops_db_pool_in_use_connections",
                "Pooled connections in use.",
            )?,
            pool_max: gauge("camcops_db_pool_max_size", "DB_POOL_SIZE.")?,
            active_sessions: gauge(
                "camcops_sessions_active",
                "Sessions with activity within the idle timeout (to the activity write interval).",
            )?,
            registry,
        })
    }

    /// Counts a request that got a 503 because the database was unavailable.
    pub fn db_unavailable(&self, kind: Failure) {
        self.db_errors.with_label_values(&[kind.label()]).inc();
    }

    /// Counts a message sent.
    pub fn message_sent(&self, channel: crate::messaging::channel::Channel) {
        self.messages
            .with_label_values(&[channel.name(), "sent"])
            .inc();
    }

    /// Counts a message that could not be sent.
    pub fn message_failed(&self, channel: crate::messaging::channel::Channel) {
        self.messages
            .with_label_values(&[channel.name(), "failed"])
            .inc();
    }

    /// Counts a failed login (and whether it locked the account).
    pub fn login_failed(&self, locked: bool) {
        self.login_failures.inc();
        if locked {
            self.lockouts.inc();
        }
    }

    /// Adds what a housekeeping run deleted.
    pub fn housekeeping(&self, r: &HousekeepingReport) {
        for (what, n) in [
            ("sessions", r.sessions),
            ("task_filters", r.filters),
            ("lockouts", r.lockouts),
            ("unknown_user_failures", r.dummy_failures),
        ] {
            self.housekeeping_deleted
                .with_label_values(&[what])
                .inc_by(u64::try_from(n).unwrap_or(u64::MAX));
        }
    }

    /// The text exposition of every metric, after reading the pool's state.
    pub fn render(&self, pool: &DbPool) -> String {
        let st = pool.state();
        self.pool_connections.set(i64::from(st.connections));
        self.pool_idle.set(i64::from(st.idle_connections));
        self.pool_in_use.set(i64::from(
            st.connections.saturating_sub(st.idle_connections),
        ));
        self.pool_max.set(i64::from(pool.max_size()));
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            log::warn!("metrics: cannot encode: {e}");
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Keeps `camcops_http_open_connections` up while its connection is open (it lives in the
/// connection's extensions, dropped when the connection closes).
struct OpenConnection(IntGauge);

impl OpenConnection {
    fn new(gauge: &IntGauge) -> OpenConnection {
        gauge.inc();
        OpenConnection(gauge.clone())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The `HttpServer::on_connect` callback that counts open connections.
pub fn connection_counter(
    metrics: &Metrics,
) -> impl Fn(&dyn std::any::Any, &mut actix_web::dev::Extensions) + Send + Sync + Clone + 'static {
    let gauge = metrics.open_connections.clone();
    move |_, ext| {
        ext.insert(OpenConnection::new(&gauge));
    }
}
