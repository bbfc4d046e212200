//! `/healthz`: 200 when the database answers, 503 when it does not.

use actix_web::{web, HttpResponse};
use diesel::RunQueryDsl;

use crate::db::run_db_read;
use crate::error::AppError;
use crate::state::AppState;

/// Checks the database with `SELECT 1`.
pub async fn healthz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    run_db_read(&state.pool, |conn| {
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("1"))
            .get_result::<i32>(conn)
            .map_err(|e| AppError::ServiceUnavailable(format!("health check: {e}")))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n"))
}
