//! A school's grading configuration: its scales (the 5-point and pass/fail ones every school
//! has, and others it adds, such as a 10- or 100-point scale) and its work types with their
//! weights in averages.

use actix_web::{HttpResponse, get, post, put, web};
use domain::SchoolId;
use domain::averages::RoundingRule;
use persistence::averages;
use persistence::journal::{self, Added};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::averages::RuleView;
use super::common::{db, db_write, managed_school, school_actor};
use super::journal::{ScaleView, WorkTypeView, scale_view, work_type_view};
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::ValidJson;

/// A school's scales and work types.
#[derive(Debug, Serialize, ToSchema)]
pub struct GradingView {
    pub scales: Vec<ScaleView>,
    pub work_types: Vec<WorkTypeView>,
    /// How averages turn into suggested term grades, and who is ranked.
    pub rule: RuleView,
}

/// The school's rule for suggested grades and ranks.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GradingRuleRequest {
    /// The hundredths from which an average rounds up: 50 makes 3.50 suggest 4, 60 makes it
    /// suggest 3 and 3.60 suggest 4; 100 never rounds up.
    #[validate(range(min = 1, max = 100, message = "must be between 1 and 100"))]
    #[schema(minimum = 1, maximum = 100, example = 60)]
    pub threshold: i64,
    /// The fewest grades in a subject for a suggested term grade and for a rank, 1 to 20.
    #[validate(range(min = 1, max = 20, message = "must be between 1 and 20"))]
    #[schema(minimum = 1, maximum = 20, example = 3)]
    pub min_grades: i64,
}

/// A points scale to add.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewScaleRequest {
    #[validate(length(min = 1, max = 50, message = "must be 1 to 50 characters"))]
    #[schema(min_length = 1, max_length = 50, example = "Десятибалльная")]
    pub name: String,
    /// The lowest grade, 0 to 99.
    #[validate(range(min = 0, max = 99, message = "must be between 0 and 99"))]
    #[schema(minimum = 0, maximum = 99)]
    pub min_points: i16,
    /// The highest grade, above `min_points`, at most 100.
    #[validate(range(min = 1, max = 100, message = "must be between 1 and 100"))]
    #[schema(minimum = 1, maximum = 100)]
    pub max_points: i16,
}

/// A work type to add.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWorkTypeRequest {
    #[validate(length(min = 1, max = 50, message = "must be 1 to 50 characters"))]
    #[schema(min_length = 1, max_length = 50, example = "Проект")]
    pub name: String,
    /// Its weight in averages, 1 to 10.
    #[validate(range(min = 1, max = 10, message = "must be between 1 and 10"))]
    #[schema(minimum = 1, maximum = 10)]
    pub weight: i16,
}

/// Show the school's grading
///
/// The school's scales and work types with their weights. For the school's administration
/// (teachers find them in every lesson).
#[utoipa::path(
    tag = "administration",
    params(("school_id" = i64, Path, description = "The school")),
    responses(
        (status = 200, description = "Scales and work types", body = GradingView),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/schools/{school_id}/grading")]
pub async fn get_grading(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
) -> Result<web::Json<GradingView>, ApiError> {
    let school = path.into_inner();
    let view = db(&state, move |conn| {
        managed_school(conn, &caller.principal, school)?;
        Ok(GradingView {
            scales: journal::scales(conn, SchoolId(school))?
                .into_iter()
                .map(scale_view)
                .collect(),
            work_types: journal::work_types(conn, SchoolId(school))?
                .into_iter()
                .map(work_type_view)
                .collect(),
            rule: averages::rounding_rule(conn, SchoolId(school))?.into(),
        })
    })
    .await?;
    Ok(web::Json(view))
}

/// Add a grading scale
///
/// Adds a points scale (for example 1 to 10, or 0 to 100) that teachers may then name as a
/// grade's `scale_id`. Its grades are shown in the journal and the diary; averages and ranks
/// count the school's default scale only, so that one average never mixes scales. For the
/// school's administration; audited.
#[utoipa::path(
    tag = "administration",
    params(("school_id" = i64, Path, description = "The school")),
    request_body = NewScaleRequest,
    responses(
        (status = 201, description = "The scale", body = ScaleView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The school has a scale of that name", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid (`max_points` not above `min_points`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/schools/{school_id}/grade-scales")]
pub async fn create_grade_scale(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    body: ValidJson<NewScaleRequest>,
) -> Result<HttpResponse, ApiError> {
    let school = path.into_inner();
    let request = body.0;
    let view = db(&state, move |conn| {
        managed_school(conn, &caller.principal, school)?;
        if request.max_points <= request.min_points {
            return Err(ApiError::field(
                "max_points",
                "out_of_range",
                "must be above min_points",
            ));
        }
        let actor = school_actor(&caller, SchoolId(school))?;
        let name = request.name.trim();
        match journal::add_scale(conn, &actor, name, request.min_points, request.max_points)? {
            Added::Done(id) => journal::scales(conn, SchoolId(school))?
                .into_iter()
                .find(|s| s.id == id)
                .map(scale_view)
                .ok_or(ApiError::NotFound),
            Added::NameTaken => Err(ApiError::Conflict(
                "the school has a scale of that name".to_owned(),
            )),
        }
    })
    .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Add a work type
///
/// Adds a kind of work with its weight in averages (1 to 10). For the school's
/// administration; audited.
#[utoipa::path(
    tag = "administration",
    params(("school_id" = i64, Path, description = "The school")),
    request_body = NewWorkTypeRequest,
    responses(
        (status = 201, description = "The work type", body = WorkTypeView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The school has a work type of that name", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/schools/{school_id}/work-types")]
pub async fn create_work_type(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    body: ValidJson<NewWorkTypeRequest>,
) -> Result<HttpResponse, ApiError> {
    let school = path.into_inner();
    let request = body.0;
    let view = db(&state, move |conn| {
        managed_school(conn, &caller.principal, school)?;
        let actor = school_actor(&caller, SchoolId(school))?;
        match journal::add_work_type(conn, &actor, request.name.trim(), request.weight)? {
            Added::Done(id) => journal::work_types(conn, SchoolId(school))?
                .into_iter()
                .find(|w| w.id == id)
                .map(work_type_view)
                .ok_or(ApiError::NotFound),
            Added::NameTaken => Err(ApiError::Conflict(
                "the school has a work type of that name".to_owned(),
            )),
        }
    })
    .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Set the rounding rule
///
/// Sets the school's rule for suggested term grades and ranks: the hundredths from which an
/// average rounds up (50 by default: x.50 rounds up) and the fewest grades in a subject for a
/// suggestion and a rank (3 by default). Suggestions and ranks follow at once; term grades
/// already set stay as they are. For the school's administration; audited with the old and
/// the new rule.
#[utoipa::path(
    tag = "administration",
    params(("school_id" = i64, Path, description = "The school")),
    request_body = GradingRuleRequest,
    responses(
        (status = 200, description = "The rule now in force", body = RuleView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is out of range", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/schools/{school_id}/grading/rule")]
pub async fn put_grading_rule(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    body: ValidJson<GradingRuleRequest>,
) -> Result<web::Json<RuleView>, ApiError> {
    let school = path.into_inner();
    let request = body.0;
    let view = db_write(&state, move |conn| {
        managed_school(conn, &caller.principal, school)?;
        let rule = RoundingRule::new(request.threshold, request.min_grades).map_err(|e| {
            let field = match e {
                domain::averages::RoundingRuleError::Threshold { .. } => "threshold",
                domain::averages::RoundingRuleError::MinGrades { .. } => "min_grades",
            };
            ApiError::field(field, e.code(), e.to_string())
        })?;
        let actor = school_actor(&caller, SchoolId(school))?;
        averages::set_rounding_rule(conn, &actor, rule)?;
        Ok(averages::rounding_rule(conn, SchoolId(school))?.into())
    })
    .await?;
    Ok(web::Json(view))
}
