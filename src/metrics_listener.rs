//! `GET /metrics` on its own listener (`METRICS_HOST`/`METRICS_PORT`): the counters of
//! [`Metrics`](crate::metrics::Metrics) in the Prometheus text format, with the active
//! sessions counted at scrape time. Apart from `metrics` so that `state` (which holds the
//! counters) does not import the endpoint that reads the state.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use prometheus::{Encoder, TextEncoder};

use crate::db::run_unit;
use crate::session::model::n_sessions_active_since;
use crate::state::AppState;

/// How long a scrape waits for the active-session count before leaving the last value.
const SCRAPE_DB_DEADLINE: Duration = Duration::from_millis(800);

/// `GET /metrics` (metrics listener only).
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let since =
        state.clock.now() - chrono::Duration::minutes(state.settings.session_timeout_minutes);
    let counted = run_unit(
        &state.pool,
        SCRAPE_DB_DEADLINE / 2,
        SCRAPE_DB_DEADLINE,
        move |conn| Ok(n_sessions_active_since(conn, since)?),
    )
    .await;
    if let Ok(n) = counted {
        state.metrics.active_sessions.set(n);
    }
    HttpResponse::Ok()
        .content_type(TextEncoder::new().format_type())
        .body(state.metrics.render(&state.pool))
}

/// Starts the metrics listener on `listener`, or on `METRICS_HOST:METRICS_PORT` when set:
/// one worker, one route (`GET /metrics`), the security headers; `None` when it is off.
pub fn start_listener(
    settings: &crate::config::Settings,
    state: &web::Data<AppState>,
    listener: Option<std::net::TcpListener>,
) -> anyhow::Result<Option<(actix_web::dev::ServerHandle, u16)>> {
    use anyhow::Context as _;
    let app_state = state.clone();
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(app_state.clone())
            .wrap(
                actix_web::middleware::DefaultHeaders::new()
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("Cache-Control", "no-store")),
            )
            .route("/metrics", web::get().to(metrics))
    })
    .workers(1)
    .disable_signals()
    .client_request_timeout(settings.request_timeout())
    .max_connections(64);
    let server = match (listener, settings.metrics_port) {
        (Some(l), _) => server.listen(l)?,
        (None, Some(port)) => server
            .bind((settings.metrics_host.as_str(), port))
            .with_context(|| {
                format!(
                    "cannot listen for metrics on {}:{port}",
                    settings.metrics_host
                )
            })?,
        (None, None) => return Ok(None),
    };
    let port = server.addrs().first().map_or(0, |a| a.port());
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    log::info!("metrics on port {port} (/metrics)");
    Ok(Some((handle, port)))
}
