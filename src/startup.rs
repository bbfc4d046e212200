//! Building the server: pool, state, middleware, the one route table, the listener(s) (and the
//! separate metrics listener), the limits on slow clients, and the housekeeping task.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, DefaultHeaders, ErrorHandlerResponse, ErrorHandlers};
use actix_web::{http::StatusCode, web, App, HttpServer};
use anyhow::Context;

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::{build_pool_with, schema_problem, DbPool};
use crate::error::{error_page, AppError};
use crate::request_body::FORM_LIMIT;
use crate::routes;
use crate::session::cookie;
use crate::session::housekeeping;
use crate::state::AppState;

/// A built, bound server.
pub struct Application {
    server: Server,
    /// The bound TCP port (0 when listening on a Unix socket).
    pub port: u16,
    /// The shared state (tests read the pool and clock through it).
    pub state: web::Data<AppState>,
    /// The bound port of the metrics listener, when `METRICS_PORT` is set.
    pub metrics_port: Option<u16>,
    metrics_server: Option<actix_web::dev::ServerHandle>,
}

impl Application {
    /// Builds the pool from the settings and binds as `[server]` says.
    pub fn build(settings: Settings) -> anyhow::Result<Application> {
        let pool =
            build_pool_with(&settings.db_url, settings.pool_options()).with_context(|| {
                format!("cannot connect to the {} database", settings.db_url.backend)
            })?;
        {
            let mut conn = pool.get().context("database connection")?;
            if let Some(problem) = schema_problem(&mut conn)? {
                anyhow::bail!("{problem}");
            }
        }
        Self::build_with(settings, pool, Clock::system(), None)
    }

    /// Like [`Application::build_with`], with a listener for the metrics endpoint too (tests).
    pub fn build_with_metrics(
        settings: Settings,
        pool: DbPool,
        clock: Clock,
        listener: TcpListener,
        metrics_listener: TcpListener,
    ) -> anyhow::Result<Application> {
        Self::build_inner(
            settings,
            pool,
            clock,
            Some(listener),
            Some(metrics_listener),
        )
    }

    /// Builds with a given pool and clock; `listener` overrides HOST/PORT (tests bind port 0).
    pub fn build_with(
        settings: Settings,
        pool: DbPool,
        clock: Clock,
        listener: Option<TcpListener>,
    ) -> anyhow::Result<Application> {
        Self::build_inner(settings, pool, clock, listener, None)
    }

    fn build_inner(
        settings: Settings,
        pool: DbPool,
        clock: Clock,
        listener: Option<TcpListener>,
        metrics_listener: Option<TcpListener>,
    ) -> anyhow::Result<Application> {
        let state = web::Data::new(AppState::new(settings.clone(), pool, clock)?);
        let app_state = state.clone();
        let hsts = settings.tls();
        let app_settings = settings.clone();
        // See `blocking`: each worker's blocking threads are its share of the pool plus one
        // hashing slot.
        let workers = crate::blocking::worker_count();
        let blocking_threads =
            crate::blocking::blocking_threads_per_worker(settings.db_pool_size, workers);
        let server = HttpServer::new(move || {
            let mut headers = DefaultHeaders::new()
                .add((
                    "Content-Security-Policy",
                    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; \
                     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
                ))
                .add(("X-Content-Type-Options", "nosniff"))
                .add(("X-Frame-Options", "DENY"))
                .add(("Referrer-Policy", "same-origin"))
                .add(("Cache-Control", "no-store"));
            if hsts {
                headers = headers.add(("Strict-Transport-Security", "max-age=31536000"));
            }
            App::new()
                .app_data(app_state.clone())
                .app_data(
                    web::FormConfig::default()
                        .limit(FORM_LIMIT)
                        .error_handler(|e, _| {
                            let msg = match e {
                                actix_web::error::UrlencodedError::Overflow { .. } => {
                                    return AppError::PayloadTooLarge.into()
                                }
                                _ => "The form could not be read. Go back and try again.",
                            };
                            AppError::BadRequest(msg.into()).into()
                        }),
                )
                .app_data(web::QueryConfig::default().error_handler(|_, _| {
                    AppError::BadRequest("The address has bad query parameters.".into()).into()
                }))
                .app_data(web::PathConfig::default().error_handler(|_, _| AppError::NotFound.into()))
                .wrap(from_fn(crate::input::refuse_control_characters))
                .wrap(cookie::middleware(&app_settings))
                .wrap(ErrorHandlers::new().default_handler(plain_errors_to_pages))
                .wrap(from_fn(crate::observe::observe))
                .wrap(headers)
                .configure(routes::configure)
                .default_service(web::to(|| async { Err::<String, _>(AppError::NotFound) }))
        })
        .workers(workers)
        .worker_max_blocking_threads(blocking_threads)
        // Slow clients: a request head must arrive within REQUEST_TIMEOUT_S of the
        // connection's first byte (actix answers 408 itself); `observe` times the body. At
        // most MAX_CONNECTIONS are open at once; more wait in the listen backlog.
        .client_request_timeout(settings.request_timeout())
        .max_connections(connections_per_worker(settings.max_connections, workers))
        .on_connect(crate::metrics::connection_counter(&state.metrics))
        .shutdown_timeout(10);
        let (server, port) = match listener {
            Some(l) => {
                let port = l.local_addr()?.port();
                (server.listen(l)?, port)
            }
            None => {
                let addr = (settings.host.as_str(), settings.port);
                let place = format!("{}:{}", settings.host, settings.port);
                #[cfg(unix)]
                let uds = settings.unix_domain_socket.clone();
                #[cfg(not(unix))]
                let uds: Option<std::path::PathBuf> = None;
                if let Some(path) = uds {
                    #[cfg(unix)]
                    let server = server.bind_uds(&path).with_context(|| {
                        format!("cannot listen on Unix socket {}", path.display())
                    })?;
                    (server, 0)
                } else if let (Some(cert), Some(key)) =
                    (&settings.ssl_certificate, &settings.ssl_private_key)
                {
                    let tls = crate::tls::server_config(cert, key)?;
                    let server = server
                        .bind_rustls_0_23(addr, tls)
                        .with_context(|| format!("cannot listen on {place}"))?;
                    let port = bound_port(&server.addrs(), settings.port);
                    (server, port)
                } else {
                    let server = server
                        .bind(addr)
                        .with_context(|| format!("cannot listen on {place}"))?;
                    let port = bound_port(&server.addrs(), settings.port);
                    (server, port)
                }
            }
        };
        let server = server.run();
        let (metrics_server, metrics_port) =
            match crate::metrics_listener::start_listener(&settings, &state, metrics_listener)? {
                Some((handle, port)) => (Some(handle), Some(port)),
                None => (None, None),
            };
        spawn_housekeeping(state.clone());
        spawn_log_summaries();
        Ok(Application {
            server,
            port,
            state,
            metrics_port,
            metrics_server,
        })
    }

    /// Runs until SIGTERM/ctrl-c (graceful shutdown), then stops the metrics listener.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        if let Some(m) = self.metrics_server {
            m.stop(true).await;
        }
        result
    }

    /// The server handle (tests stop it).
    pub fn server(self) -> Server {
        self.server
    }
}

/// Turns actix's own plain-text error replies (and empty error bodies) into our HTML pages.
fn plain_errors_to_pages<B>(
    res: actix_web::dev::ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_html = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let status = res.status();
    let path = res.request().path();
    let is_api = path == "/api" || path == "/database";
    if is_html || is_api || !(status.is_client_error() || status.is_server_error()) {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let message = match status {
        StatusCode::NOT_FOUND => "There is nothing at this address.",
        StatusCode::METHOD_NOT_ALLOWED => "This address does not accept that HTTP method.",
        StatusCode::PAYLOAD_TOO_LARGE => "The request body is too large.",
        s if s.is_server_error() => "Something went wrong on the server. It has been logged.",
        _ => "The request could not be understood.",
    };
    let (req, _) = res.into_parts();
    let page = error_page(status, message);
    Ok(ErrorHandlerResponse::Response(
        actix_web::dev::ServiceResponse::new(req, page).map_into_right_body(),
    ))
}

/// Runs housekeeping every 60 s on a blocking thread, logging what it deleted.
fn spawn_housekeeping(state: web::Data<AppState>) {
    actix_web::rt::spawn(async move {
        let mut ticker = actix_web::rt::time::interval(Duration::from_secs(60));
        loop {
            ticker.tick().await;
            let st = state.clone();
            let result = crate::db::run_db_conn(&state.pool, move |conn| {
                crate::db::tally::as_background(|| {
                    housekeeping::run(conn, &st.policy, st.clock.now())
                })
            })
            .await;
            match result {
                Ok(r) => {
                    state.metrics.housekeeping(&r);
                    if r != housekeeping::HousekeepingReport::default() {
                        log::info!(
                            "housekeeping: deleted {} expired sessions, {} task filters, {} ended lockouts, {} failures of unknown usernames",
                            r.sessions, r.filters, r.lockouts, r.dummy_failures
                        );
                    }
                }
                Err(e) => crate::log_limit::warn("housekeeping failed", || {
                    format!("housekeeping failed: {}", e.one_line())
                }),
            }
        }
    });
}

/// Writes the log's pending "N more like this" summaries every few seconds.
fn spawn_log_summaries() {
    actix_web::rt::spawn(async {
        let mut ticker = actix_web::rt::time::interval(Duration::from_secs(5));
        loop {
            ticker.tick().await;
            crate::log_limit::flush();
        }
    });
}

/// The port the first bound address listens on, else `default`.
fn bound_port(addrs: &[std::net::SocketAddr], default: u16) -> u16 {
    addrs.first().map_or(default, |a| a.port())
}

/// `MAX_CONNECTIONS` shared out among the workers (actix counts per worker; rounded up).
pub fn connections_per_worker(max_connections: u32, workers: usize) -> usize {
    usize::try_from(max_connections)
        .unwrap_or(usize::MAX)
        .div_ceil(workers.max(1))
        .max(1)
}
