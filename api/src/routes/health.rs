//! Liveness and readiness.

use actix_web::{get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, Problem};

/// A health answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` for liveness, `ready` for readiness.
    #[schema(example = "ready")]
    pub status: &'static str,
}

/// The process is running
///
/// Answers without touching the database; an orchestrator restarts the server when this fails.
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, description = "The server is running", body = Health),
        (status = 500, description = "Internal error", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/health/live")]
pub async fn get_liveness() -> web::Json<Health> {
    web::Json(Health { status: "ok" })
}

/// The server can serve requests
///
/// Checks that a database connection can be had and answers; 503 while it cannot.
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, description = "The database answers", body = Health),
        (status = 503, description = "The database does not answer", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/health/ready")]
pub async fn get_readiness(state: web::Data<AppState>) -> Result<web::Json<Health>, ApiError> {
    let pool = state.pool.clone();
    web::block(move || persistence::connection::ping(&pool))
        .await?
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(web::Json(Health { status: "ready" }))
}
