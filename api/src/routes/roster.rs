//! Students and class rosters, for everyone the access rules let see them.

use actix_web::{get, web};
use chrono::Utc;
use domain::access::{self, Operation, Record};
use domain::{ClassId, StudentId};
use serde::Serialize;
use utoipa::ToSchema;

use super::common::db;
use crate::AppState;
use crate::auth::{Caller, enforce};
use crate::error::{ApiError, Problem};

/// A class, as shown beside a student.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClassSummary {
    pub id: i64,
    /// Grade level and letter.
    #[schema(example = "5А")]
    pub label: String,
}

/// A student.
#[derive(Debug, Serialize, ToSchema)]
pub struct StudentCard {
    pub id: i64,
    #[schema(example = "Соколов")]
    pub last_name: String,
    #[schema(example = "Максим")]
    pub first_name: String,
    pub middle_name: Option<String>,
    pub school_id: i64,
    /// The classes the student is enrolled in today.
    pub classes: Vec<ClassSummary>,
}

/// A student in a roster.
#[derive(Debug, Serialize, ToSchema)]
pub struct RosterEntry {
    pub id: i64,
    pub last_name: String,
    pub first_name: String,
    pub middle_name: Option<String>,
}

/// A class's students today, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct Roster {
    pub class_id: i64,
    pub items: Vec<RosterEntry>,
}

/// Show a student
///
/// A student's name, school and classes. A parent sees their children, a student themselves,
/// teachers the students of the classes they work in, the administration its school's
/// students, integrators with `roster:read` their schools' students; anyone else gets 404.
#[utoipa::path(
    tag = "roster",
    params(("student_id" = i64, Path, description = "The student")),
    responses(
        (status = 200, description = "The student", body = StudentCard),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The integrator lacks `roster:read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such student visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["roster:read"]))
)]
#[get("/students/{student_id}")]
pub async fn get_student(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
) -> Result<web::Json<StudentCard>, ApiError> {
    let id = StudentId(path.into_inner());
    let today = Utc::now().date_naive();
    let card = db(&state, move |conn| {
        let Some(found) = persistence::access::student(conn, id, today)? else {
            enforce(access::when_missing(
                &caller.principal,
                Operation::ReadStudent(Record::Roster),
            ))?;
            return Err(ApiError::NotFound);
        };
        enforce(access::read_student(
            &caller.principal,
            &found,
            Record::Roster,
        ))?;
        let student = persistence::people::find_student(conn, id)?;
        let classes = persistence::people::classes_of_student(conn, id, today)?;
        Ok(StudentCard {
            id: student.id,
            last_name: student.last_name,
            first_name: student.first_name,
            middle_name: student.middle_name,
            school_id: student.school_id,
            classes: classes
                .into_iter()
                .map(|c| ClassSummary {
                    id: c.id,
                    label: format!("{}{}", c.grade_level, c.letter),
                })
                .collect(),
        })
    })
    .await?;
    Ok(web::Json(card))
}

/// List a class's students
///
/// The class's students today, by name. For the class's teachers, the administration and
/// integrators with `roster:read`.
#[utoipa::path(
    tag = "roster",
    params(("class_id" = i64, Path, description = "The class")),
    responses(
        (status = 200, description = "The roster", body = Roster),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role may not read class rosters", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such class visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["roster:read"]))
)]
#[get("/classes/{class_id}/students")]
pub async fn list_class_students(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
) -> Result<web::Json<Roster>, ApiError> {
    let id = ClassId(path.into_inner());
    let today = Utc::now().date_naive();
    let students = db(&state, move |conn| {
        let Some(found) = persistence::access::class(conn, id)? else {
            enforce(access::when_missing(
                &caller.principal,
                Operation::ReadClass(Record::Roster),
            ))?;
            return Err(ApiError::NotFound);
        };
        enforce(access::read_class(
            &caller.principal,
            &found,
            Record::Roster,
        ))?;
        Ok(persistence::people::class_students(conn, id, today)?)
    })
    .await?;
    Ok(web::Json(Roster {
        class_id: id.get(),
        items: students
            .into_iter()
            .map(|s| RosterEntry {
                id: s.id,
                last_name: s.last_name,
                first_name: s.first_name,
                middle_name: s.middle_name,
            })
            .collect(),
    }))
}
