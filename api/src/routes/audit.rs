//! The audit trail of a school or a municipality: who changed what.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use domain::{MunicipalityId, SchoolId};
use persistence::audit::{self, Owner};
use serde::Serialize;
use utoipa::ToSchema;

use super::common::{PageQuery, db, managed_municipality, managed_school, paginate, utc};
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};

/// One recorded change.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEvent {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    /// The account that made the change (for an activation, the person themselves).
    pub actor_id: Option<i64>,
    /// What happened: `person.created`, `person.activated`, `person.password_reset`,
    /// `role.granted`, `role.revoked`, `student.account_attached`, `guardian.linked`,
    /// `guardian.unlinked`, `activation_code.issued`, `teaching.assigned`, `teaching.removed`,
    /// `integrator.registered`, `integrator.revoked`, `term.locked`, `term.unlocked`,
    /// `lesson.changed`, `lesson.individual_homework_set`, `group.created`,
    /// `group.members_set`, `holiday.declared`, `holiday.removed`, `timetable.replaced`,
    /// `timetable.generated`, `grade_scale.added`, `work_type.added`, `grading_rule.set`,
    /// `final_grade.set`.
    #[schema(example = "role.granted")]
    pub action: String,
    /// The kind of thing changed: `person`, `student`, `teaching_assignment`, `integrator`,
    /// `term`, `lesson`, `group`, `holiday`, `class`, `grade_scale`, `work_type`, `school`.
    pub target_type: String,
    pub target_id: i64,
    /// The change's values (never a secret or a password).
    #[schema(value_type = Object, example = json!({"role": "class_teacher", "class_id": 12}))]
    pub details: serde_json::Value,
}

/// A page of events, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEvent>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn page(events: Vec<audit::Event>, limit: i64) -> AuditPage {
    let (events, next) = paginate(events, limit, |e| e.id);
    AuditPage {
        items: events
            .into_iter()
            .map(|e| AuditEvent {
                id: e.id,
                occurred_at: utc(e.occurred_at),
                actor_id: e.actor_user_id,
                action: e.action,
                target_type: e.target_type,
                target_id: e.target_id,
                details: serde_json::from_str(&e.details).unwrap_or(serde_json::Value::Null),
            })
            .collect(),
        next_cursor: next,
    }
}

/// A school's audit trail
///
/// Every administrative change in the school, newest first.
#[utoipa::path(
    tag = "administration",
    params(("school_id" = i64, Path, description = "The school"), PageQuery),
    responses(
        (status = 200, description = "A page of events", body = AuditPage),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A query parameter is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/schools/{school_id}/audit-events")]
pub async fn list_school_audit_events(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    query: web::Query<PageQuery>,
) -> Result<web::Json<AuditPage>, ApiError> {
    let school = path.into_inner();
    let (limit, before) = query.parse()?;
    let events = db(&state, move |conn| {
        managed_school(conn, &caller.principal, school)?;
        Ok(audit::list(
            conn,
            Owner::School(SchoolId(school)),
            before,
            limit + 1,
        )?)
    })
    .await?;
    Ok(web::Json(page(events, limit)))
}

/// A municipality's audit trail
///
/// The municipality's own changes (its integrators), newest first.
#[utoipa::path(
    tag = "administration",
    params(("municipality_id" = i64, Path, description = "The municipality"), PageQuery),
    responses(
        (status = 200, description = "A page of events", body = AuditPage),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the municipality's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such municipality", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A query parameter is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/municipalities/{municipality_id}/audit-events")]
pub async fn list_municipality_audit_events(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    query: web::Query<PageQuery>,
) -> Result<web::Json<AuditPage>, ApiError> {
    let municipality = MunicipalityId(path.into_inner());
    let (limit, before) = query.parse()?;
    let events = db(&state, move |conn| {
        managed_municipality(conn, &caller.principal, municipality)?;
        Ok(audit::list(
            conn,
            Owner::Municipality(municipality),
            before,
            limit + 1,
        )?)
    })
    .await?;
    Ok(web::Json(page(events, limit)))
}
