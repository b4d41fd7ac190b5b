//! Students and class rosters, for everyone the access rules let see them.

use actix_web::{get, post, web};
use chrono::{NaiveDate, Utc};
use domain::access::{self, Operation, Record};
use domain::{ClassId, SchoolId, StudentId};
use persistence::timetable::{self as tt, Moved};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::common::{db, db_write, managed_school, school_actor};
use crate::AppState;
use crate::auth::{Caller, enforce};
use crate::error::{ApiError, Problem};
use crate::extract::ValidJson;

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

/// Where a student goes, from which day.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentRequest {
    /// A class of the school; `null`: the student leaves the school.
    pub class_id: Option<i64>,
    /// The first day in the new class (the last day in the old one is the day before).
    pub from: NaiveDate,
}

/// A student's stay in a class.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrollmentView {
    pub class_id: i64,
    #[schema(example = "5А")]
    pub class_label: String,
    pub enrolled_on: NaiveDate,
    /// The first day no longer in the class; absent while enrolled.
    pub left_on: Option<NaiveDate>,
}

/// A student's enrolments, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct Enrollments {
    pub student_id: i64,
    pub items: Vec<EnrollmentView>,
}

/// Move a student to another class
///
/// Enrols the student in `class_id` from `from` on (or, with `class_id: null`, takes them out
/// of the school from that day). The old class keeps the student's history before that day:
/// their grades, attendance and diary stay as they were, and the journal page of the old
/// class still shows them with their dates. Moving a student where they already are changes
/// nothing. For the school's administration; audited.
#[utoipa::path(
    tag = "roster",
    params(
        ("school_id" = i64, Path, description = "The school"),
        ("student_id" = i64, Path, description = "A student of the school"),
    ),
    request_body = EnrollmentRequest,
    responses(
        (status = 200, description = "The student's enrolments now", body = Enrollments),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school, or no such student in it", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The student has an enrolment starting after `from`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The class is not of the school", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/schools/{school_id}/students/{student_id}/enrollments")]
pub async fn move_student(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
    body: ValidJson<EnrollmentRequest>,
) -> Result<web::Json<Enrollments>, ApiError> {
    let (school, student) = path.into_inner();
    let student = StudentId(student);
    let request = body.0;
    let stays = db_write(&state, move |conn| {
        managed_school(conn, &caller.principal, school)?;
        let s = SchoolId(school);
        if persistence::admin::student_in_school(conn, s, student)?.is_none() {
            return Err(ApiError::NotFound);
        }
        let class = request.class_id.map(ClassId);
        if let Some(class) = class
            && !persistence::admin::class_in_school(conn, s, class)?
        {
            return Err(ApiError::field(
                "class_id",
                "not_found",
                "no such class in this school",
            ));
        }
        let actor = school_actor(&caller, s)?;
        match tt::move_student(conn, &actor, student, class, request.from)? {
            Moved::Done(stays) | Moved::Unchanged(stays) => Ok(stays),
            Moved::LaterEnrolment(on) => Err(ApiError::Conflict(format!(
                "the student is enrolled from {on}, after `from`: history is not rewritten"
            ))),
        }
    })
    .await?;
    Ok(web::Json(Enrollments {
        student_id: student.get(),
        items: stays
            .into_iter()
            .map(|s| EnrollmentView {
                class_id: s.class_id,
                class_label: format!("{}{}", s.grade_level, s.letter),
                enrolled_on: s.enrolled_on,
                left_on: s.left_on,
            })
            .collect(),
    }))
}
