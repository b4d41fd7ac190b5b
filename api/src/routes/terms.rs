//! Locking a school's terms: afterwards only the administration changes their grades and
//! attendance, with a reason.

use actix_web::{delete, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use domain::SchoolId;
use domain::access::{self, Operation};
use persistence::admin;
use serde::Serialize;
use utoipa::ToSchema;

use super::common::{db, school_actor, utc};
use crate::AppState;
use crate::auth::{Caller, enforce};
use crate::error::{ApiError, Problem};

/// A term of the school's year.
#[derive(Debug, Serialize, ToSchema)]
pub struct TermView {
    pub id: i64,
    #[schema(example = "2 четверть")]
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    /// When it was locked; absent while open.
    pub locked_at: Option<DateTime<Utc>>,
}

async fn set_lock(
    state: web::Data<AppState>,
    caller: Caller,
    school: i64,
    term: i64,
    lock: bool,
) -> Result<web::Json<TermView>, ApiError> {
    let found = db(&state, move |conn| {
        match persistence::access::school(conn, SchoolId(school))? {
            Some(found) => enforce(access::lock_term(&caller.principal, &found))?,
            None => {
                enforce(access::when_missing(&caller.principal, Operation::LockTerm))?;
                return Err(ApiError::NotFound);
            }
        }
        let actor = school_actor(&caller, SchoolId(school))?;
        admin::set_term_lock(conn, actor, term, lock)?.ok_or(ApiError::NotFound)
    })
    .await?;
    Ok(web::Json(TermView {
        id: found.id,
        name: found.name,
        starts_on: found.starts_on,
        ends_on: found.ends_on,
        locked_at: found.locked_at.map(utc),
    }))
}

/// Lock a term
///
/// Closes a term: teachers can no longer change its grades or attendance; the school's
/// administration still can, with a reason kept in the history. Locking a locked term changes
/// nothing. Audited.
#[utoipa::path(
    tag = "administration",
    params(
        ("school_id" = i64, Path, description = "The school"),
        ("term_id" = i64, Path, description = "The term"),
    ),
    responses(
        (status = 200, description = "The term, locked", body = TermView),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school, or no such term in it", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/schools/{school_id}/terms/{term_id}/lock")]
pub async fn lock_term(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
) -> Result<web::Json<TermView>, ApiError> {
    let (school, term) = path.into_inner();
    set_lock(state, caller, school, term, true).await
}

/// Unlock a term
///
/// Opens a locked term again for its teachers. Audited.
#[utoipa::path(
    tag = "administration",
    params(
        ("school_id" = i64, Path, description = "The school"),
        ("term_id" = i64, Path, description = "The term"),
    ),
    responses(
        (status = 200, description = "The term, open", body = TermView),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school, or no such term in it", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/schools/{school_id}/terms/{term_id}/lock")]
pub async fn unlock_term(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
) -> Result<web::Json<TermView>, ApiError> {
    let (school, term) = path.into_inner();
    set_lock(state, caller, school, term, false).await
}
