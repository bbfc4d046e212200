//! `/healthz`: 200 when the database answers (and on SQLite, when its write lock can be had),
//! 503 naming nothing internal otherwise; always within [`HEALTH_DEADLINE`].

use std::time::Duration;

use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;
use diesel::RunQueryDsl;

use crate::db::{run_unit, Backend, DbConnection};
use crate::error::AppError;
use crate::state::AppState;

/// The longest `/healthz` takes, whatever the database does.
pub const HEALTH_DEADLINE: Duration = Duration::from_millis(800);

/// How long the SQLite check waits for the write lock.
const SQLITE_LOCK_WAIT_MS: u64 = 300;

/// Checks the database: `SELECT 1`; on SQLite also that a writer could start now.
pub async fn healthz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let normal_busy_ms = state.settings.db_statement_timeout_s.saturating_mul(1000);
    run_unit(
        &state.pool,
        HEALTH_DEADLINE / 2,
        HEALTH_DEADLINE,
        move |conn| check(conn, normal_busy_ms),
    )
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n"))
}

fn check(conn: &mut DbConnection, normal_busy_ms: u64) -> Result<(), AppError> {
    diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("1")).get_result::<i32>(conn)?;
    if conn.backend() == Backend::Sqlite {
        // Readers never wait in WAL mode, so `SELECT 1` passes while another process holds
        // the write lock and every login fails: try to take it, briefly.
        conn.batch_execute(&format!("PRAGMA busy_timeout = {SQLITE_LOCK_WAIT_MS}"))?;
        let taken = conn.batch_execute("BEGIN IMMEDIATE; ROLLBACK");
        conn.batch_execute(&format!("PRAGMA busy_timeout = {normal_busy_ms}"))?;
        taken?;
    }
    Ok(())
}
