//! The state every handler shares: settings, pool, clock, session policy, counters, metrics.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use crate::auth::throttle::Throttle;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::DbPool;
use crate::messaging::messenger::Messenger;
use crate::metrics::Metrics;
use crate::session::SessionPolicy;

/// Shared application state (behind `web::Data`).
pub struct AppState {
    /// Settings from the config file.
    pub settings: Settings,
    /// The connection pool.
    pub pool: DbPool,
    /// The clock (shiftable in tests).
    pub clock: Clock,
    /// Session rules derived from the settings.
    pub policy: SessionPolicy,
    /// Number of bcrypt verifications run (lets tests prove a reused API session skipped it).
    pub bcrypt_verifications: Arc<AtomicU64>,
    /// The counters served on `/metrics`.
    pub metrics: Arc<Metrics>,
    /// E-mail and SMS senders.
    pub messenger: Arc<Messenger>,
    /// The failed-login budget per client address (this process's memory).
    pub login_throttle: Arc<Throttle>,
}

impl AppState {
    /// State for these settings and pool.
    pub fn new(settings: Settings, pool: DbPool, clock: Clock) -> anyhow::Result<AppState> {
        let policy = SessionPolicy::from_settings(&settings);
        let metrics = Arc::new(Metrics::new(&pool)?);
        let messenger = Arc::new(Messenger::from_settings(&settings)?);
        let login_throttle = Arc::new(Throttle::new(
            settings.login_failures_per_address,
            settings.login_failures_per_address_window_minutes,
        ));
        Ok(AppState {
            settings,
            pool,
            clock,
            policy,
            bcrypt_verifications: Arc::new(AtomicU64::new(0)),
            metrics,
            messenger,
            login_throttle,
        })
    }
}
