//! The journal: lessons, and grading a whole class in one idempotent request.

use std::collections::HashSet;

use actix_web::http::header::HeaderName;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, NaiveDate, Utc};
use domain::access::{self, LessonEntry, LessonRef, Operation, Record};
use domain::grading::RawValue;
use domain::{ClassId, SchoolId, StudentId, SubjectId, UserId};
use persistence::DbConnection;
use persistence::averages::Weighing;
use persistence::journal::{self, Actor, Graded, Idempotency, NewGrade, NewLesson, StoredAnswer};
use persistence::people::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::common::{db, db_write, db_write_grouped, utc};
use crate::AppState;
use crate::auth::tokens::sha256_hex;
use crate::auth::{Bearer, Caller, enforce};
use crate::error::{ApiError, FieldError, Problem};
use crate::extract::{IfMatch, ValidJson, etag};

/// The header that makes a write safe to retry.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
/// Set on an answer that repeats a stored one.
pub const IDEMPOTENT_REPLAYED: &str = "Idempotent-Replayed";

/// A lesson to add by hand (the timetable generates the rest).
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLessonRequest {
    /// The day.
    #[schema(example = "2026-11-23")]
    pub date: NaiveDate,
    /// The lesson's number in the day, 0 to 12.
    #[validate(range(min = 0, max = 12, message = "must be between 0 and 12"))]
    #[schema(minimum = 0, maximum = 12)]
    pub number: i16,
    /// A subject of the class's school.
    pub subject_id: i64,
    /// Who teaches it (a teacher of the school); the caller when left out.
    #[serde(default)]
    pub teacher_id: Option<i64>,
    /// A group of the class for this subject; the whole class when left out.
    #[serde(default)]
    pub group_id: Option<i64>,
    #[serde(default)]
    #[validate(length(max = 50, message = "must be at most 50 characters"))]
    #[schema(max_length = 50)]
    pub room: Option<String>,
    #[serde(default)]
    #[validate(length(max = 500, message = "must be at most 500 characters"))]
    #[schema(max_length = 500)]
    pub topic: Option<String>,
    /// Homework for the whole class.
    #[serde(default)]
    #[validate(length(max = 4000, message = "must be at most 4000 characters"))]
    #[schema(max_length = 4000)]
    pub homework: Option<String>,
}

/// A grade.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GradeView {
    /// The grade's id (for its history).
    pub id: i64,
    /// The teacher app's own id for it.
    pub client_id: String,
    pub student_id: i64,
    pub work_type_id: i64,
    pub scale_id: i64,
    /// The value: a number on a points scale, `pass` or `fail`.
    #[schema(value_type = ValueInput, example = 5)]
    pub value: serde_json::Value,
    pub comment: Option<String>,
    /// Starts at 1; each change adds one.
    pub version: i32,
    /// Send as `If-Match` to change or delete the grade.
    #[schema(example = "\"g17v1\"")]
    pub etag: String,
    pub created_at: DateTime<Utc>,
}

/// The strong ETag of a grade at a version.
#[must_use]
pub fn grade_etag(id: i64, version: i32) -> String {
    etag(&format!("g{id}v{version}"))
}

impl From<journal::Grade> for GradeView {
    fn from(g: journal::Grade) -> Self {
        let value = value_json(&g.value);
        Self {
            id: g.id,
            client_id: g.client_id,
            student_id: g.student_id,
            work_type_id: g.work_type_id,
            scale_id: g.scale_id,
            value,
            comment: g.comment,
            etag: grade_etag(g.id, g.version),
            version: g.version,
            created_at: utc(g.created_at),
        }
    }
}

/// A grading scale of the school.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScaleView {
    pub id: i64,
    pub name: String,
    /// `points` or `pass_fail`.
    pub kind: &'static str,
    pub min_points: Option<u8>,
    pub max_points: Option<u8>,
    /// The scale a grade gets when none is named.
    pub is_default: bool,
    /// Whether its grades count towards averages (pass/fail never does).
    pub averaged: bool,
}

/// A work type and its weight in averages.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkTypeView {
    pub id: i64,
    pub name: String,
    pub weight: i16,
}

/// A lesson with its grades, and the school's scales and work types to grade with.
#[derive(Debug, Serialize, ToSchema)]
pub struct LessonView {
    pub id: i64,
    pub school_id: i64,
    pub class_id: i64,
    pub subject_id: i64,
    pub teacher_id: i64,
    pub date: NaiveDate,
    pub number: i16,
    pub room: Option<String>,
    pub topic: Option<String>,
    pub homework: Option<String>,
    /// Homework set for single students (seen only by them and their parents).
    pub individual_homework: Vec<IndividualHomeworkItem>,
    /// The teacher's note on the lesson.
    pub comment: Option<String>,
    /// The group of the class the lesson is for; absent: the whole class.
    pub group_id: Option<i64>,
    /// When the teacher marked the lesson held.
    pub held_at: Option<DateTime<Utc>>,
    /// When the lesson was cancelled; absent while it takes place.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// When anything was first entered for the lesson.
    pub first_entry_at: Option<DateTime<Utc>>,
    pub grades: Vec<GradeView>,
    /// The marks of the students who were not simply present.
    pub attendance: Vec<AttendanceMarkView>,
    pub scales: Vec<ScaleView>,
    pub work_types: Vec<WorkTypeView>,
    /// The plan as read (topic, homework, comment, room, held and cancelled marks, day,
    /// number, teacher): send as `If-Match` with `PATCH /lessons/{id}`, so that a change made
    /// meanwhile by someone else is not overwritten (412 instead).
    #[schema(example = "\"plan17-3f2a9c0d11b2e4f5\"")]
    pub plan_etag: String,
    /// The marks as read: `If-Match` for `PUT /lessons/{id}/attendance`.
    #[schema(example = "\"marks17-0a1b2c3d4e5f6071\"")]
    pub attendance_etag: String,
    /// The individual homework as read: `If-Match` for
    /// `PUT /lessons/{id}/individual-homework`.
    #[schema(example = "\"homework17-8d7c6b5a49382716\"")]
    pub individual_homework_etag: String,
}

pub(crate) fn lesson_view(
    conn: &mut DbConnection,
    lesson: journal::Lesson,
) -> Result<LessonView, ApiError> {
    let school = SchoolId(lesson.school_id);
    let grades = journal::lesson_grades(conn, lesson.id)?;
    let attendance = journal::attendance(conn, lesson.id)?;
    let scales = journal::scales(conn, school)?;
    let work_types = journal::work_types(conn, school)?;
    let individual = persistence::lessons::individual_homework(conn, lesson.id)?;
    let plan_etag = etag(&lesson.plan_fingerprint());
    let attendance_etag = etag(&journal::marks_fingerprint(lesson.id, &attendance));
    let individual_homework_etag = etag(&persistence::lessons::homework_fingerprint(
        lesson.id,
        &individual,
    ));
    Ok(LessonView {
        id: lesson.id,
        school_id: lesson.school_id,
        class_id: lesson.class_id,
        subject_id: lesson.subject_id,
        teacher_id: lesson.teacher_user_id,
        date: lesson.lesson_date,
        number: lesson.number,
        room: lesson.room,
        topic: lesson.topic,
        homework: lesson.homework,
        individual_homework: individual
            .into_iter()
            .map(|(student_id, homework)| IndividualHomeworkItem {
                student_id,
                homework,
            })
            .collect(),
        comment: lesson.comment,
        group_id: lesson.group_id,
        held_at: lesson.held_at.map(utc),
        cancelled_at: lesson.cancelled_at.map(utc),
        first_entry_at: lesson.first_entry_at.map(utc),
        grades: grades.into_iter().map(GradeView::from).collect(),
        attendance: marks_view(attendance),
        scales: scales.into_iter().map(scale_view).collect(),
        work_types: work_types.into_iter().map(work_type_view).collect(),
        plan_etag,
        attendance_etag,
        individual_homework_etag,
    })
}

/// A stored scale as the API shows it.
#[must_use]
pub fn scale_view(s: journal::ScaleRow) -> ScaleView {
    let (min, max) = match s.scale {
        domain::Scale::Points { min, max } => (Some(min), Some(max)),
        domain::Scale::PassFail => (None, None),
    };
    ScaleView {
        id: s.id,
        name: s.name,
        kind: s.scale.kind(),
        min_points: min,
        max_points: max,
        is_default: s.is_default,
        averaged: s.scale.is_averaged() && s.is_default,
    }
}

/// A stored work type as the API shows it.
#[must_use]
pub fn work_type_view(w: journal::WorkType) -> WorkTypeView {
    WorkTypeView {
        id: w.id,
        name: w.name,
        weight: w.weight,
    }
}

/// One student's own homework for a lesson.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IndividualHomeworkItem {
    /// A student of the lesson (of its class, and of its group if it has one).
    pub student_id: i64,
    #[validate(length(min = 1, max = 4000, message = "must be 1 to 4000 characters"))]
    #[schema(min_length = 1, max_length = 4000)]
    pub homework: String,
}

/// The lesson, if the caller may do `entry` on it; 403/404 by the rules otherwise.
pub(crate) fn writable_lesson(
    conn: &mut DbConnection,
    caller: &Caller,
    id: i64,
    entry: LessonEntry,
) -> Result<(LessonRef, journal::Lesson), ApiError> {
    writable_lesson_in_term(conn, caller, id, entry).map(|(at, lesson, _)| (at, lesson))
}

/// As [`writable_lesson`], with whether the lesson's term is locked (read in the same query).
pub(crate) fn writable_lesson_in_term(
    conn: &mut DbConnection,
    caller: &Caller,
    id: i64,
    entry: LessonEntry,
) -> Result<(LessonRef, journal::Lesson, bool), ApiError> {
    let Some((found, lesson, term_locked)) = journal::lesson_with_ref(conn, id)? else {
        enforce(access::when_missing(
            &caller.principal,
            Operation::WriteLesson(entry),
        ))?;
        return Err(ApiError::NotFound);
    };
    enforce(access::write_lesson(&caller.principal, &found, entry))?;
    Ok((found, lesson, term_locked))
}

/// Add a lesson
///
/// Adds a dated lesson of the class by hand (a replacement, an extra lesson). For the
/// subject's teacher in that class and the school's administration.
#[utoipa::path(
    tag = "journal",
    params(("class_id" = i64, Path, description = "The class")),
    request_body = NewLessonRequest,
    responses(
        (status = 201, description = "The lesson", body = LessonView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not plan this class's lessons of this subject", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such class visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid (subject or teacher not of the school)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["grades:write"]))
)]
#[post("/classes/{class_id}/lessons")]
pub async fn create_lesson(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    body: ValidJson<NewLessonRequest>,
) -> Result<HttpResponse, ApiError> {
    let class = ClassId(path.into_inner());
    let request = body.0;
    let view = db(&state, move |conn| {
        let Some(found) = persistence::access::class(conn, class)? else {
            enforce(access::when_missing(
                &caller.principal,
                Operation::WriteLesson(LessonEntry::Plan),
            ))?;
            return Err(ApiError::NotFound);
        };
        let lesson = LessonRef {
            class: found,
            subject: SubjectId(request.subject_id),
        };
        enforce(access::write_lesson(
            &caller.principal,
            &lesson,
            LessonEntry::Plan,
        ))?;
        let school = found.school.school;
        let mut errors = Vec::new();
        if !persistence::admin::subject_in_school(conn, school, lesson.subject)? {
            errors.push(FieldError::new(
                "subject_id",
                "not_found",
                "no such subject in this school",
            ));
        }
        let teacher = match (request.teacher_id, caller.user()) {
            (Some(t), _) | (None, Some(UserId(t))) => UserId(t),
            (None, None) => {
                return Err(ApiError::field(
                    "teacher_id",
                    "required",
                    "an integrator names the lesson's teacher",
                ));
            }
        };
        if !persistence::admin::holds_role(conn, school, teacher, Role::Teacher)? {
            errors.push(FieldError::new(
                "teacher_id",
                "not_found",
                "no teacher with this id in this school",
            ));
        }
        if let Some(group) = request.group_id {
            let fits = persistence::timetable::find_group(conn, group)?
                .is_some_and(|g| g.class_id == class.get() && g.subject_id == request.subject_id);
            if !fits {
                errors.push(FieldError::new(
                    "group_id",
                    "not_found",
                    "no such group of this class for this subject",
                ));
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let created = journal::insert_lesson(
            conn,
            &NewLesson {
                school,
                class,
                subject: lesson.subject,
                teacher,
                date: request.date,
                number: request.number,
                room: request.room.as_deref(),
                topic: request.topic.as_deref(),
                homework: request.homework.as_deref(),
                group: request.group_id,
                at: Utc::now().naive_utc(),
            },
        )?;
        lesson_view(conn, created)
    })
    .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Show a lesson
///
/// The lesson with its grades, and the school's scales and work types to grade with. For the
/// class's teachers, the administration and integrators with `grades:read` and
/// `attendance:read`.
#[utoipa::path(
    tag = "journal",
    params(("lesson_id" = i64, Path, description = "The lesson")),
    responses(
        (status = 200, description = "The lesson", body = LessonView),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role may not read class journals", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such lesson visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["grades:read", "attendance:read"]))
)]
#[get("/lessons/{lesson_id}")]
pub async fn get_lesson(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
) -> Result<web::Json<LessonView>, ApiError> {
    let id = path.into_inner();
    let view = db(&state, move |conn| {
        let Some(found) = persistence::access::lesson(conn, id)? else {
            enforce(access::when_missing(
                &caller.principal,
                Operation::ReadClass(Record::Journal),
            ))?;
            return Err(ApiError::NotFound);
        };
        enforce(access::read_class(
            &caller.principal,
            &found.class,
            Record::Journal,
        ))?;
        let lesson = journal::find_lesson(conn, id)?;
        lesson_view(conn, lesson)
    })
    .await?;
    Ok(web::Json(view))
}

/// A value as sent: a number on a points scale, or `pass` / `fail`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum ValueInput {
    Number(i64),
    Text(String),
}

/// One grade to give.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GradeEntry {
    /// The teacher app's own id for this grade (a UUID is a good choice), unique in the lesson:
    /// a retry can never create the grade twice.
    #[validate(length(min = 1, max = 64, message = "must be 1 to 64 characters"))]
    #[schema(
        example = "0b6c3f4e-5d1a-4a8e-9a55-3e1f1c2d9b70",
        min_length = 1,
        max_length = 64
    )]
    pub client_id: String,
    /// A student of the lesson's class on the lesson's day.
    pub student_id: i64,
    /// A work type of the school (its weight counts in averages).
    pub work_type_id: i64,
    /// A scale of the school; the school's default scale when left out.
    #[serde(default)]
    pub scale_id: Option<i64>,
    /// A whole number on a points scale, or `pass` / `fail` on the pass/fail scale.
    #[schema(example = 5)]
    pub value: ValueInput,
    #[serde(default)]
    #[validate(length(max = 500, message = "must be at most 500 characters"))]
    #[schema(max_length = 500)]
    pub comment: Option<String>,
}

/// Grades for a lesson, all or none.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GradeClassRequest {
    /// 1 to 200 grades (several per student allowed).
    #[validate(
        length(min = 1, max = 200, message = "must hold 1 to 200 grades"),
        nested
    )]
    #[schema(min_items = 1, max_items = 200)]
    pub grades: Vec<GradeEntry>,
    /// Why: kept in each grade's history; required in a locked term, where only the school's
    /// administration may add grades.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(min = 1, max = 500, message = "must be 1 to 500 characters"))]
    #[schema(min_length = 1, max_length = 500)]
    pub reason: Option<String>,
}

/// The grades given.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GradedLesson {
    pub lesson_id: i64,
    pub grades: Vec<GradeView>,
}

fn idempotency_key(req: &HttpRequest) -> Result<String, ApiError> {
    let missing = || {
        ApiError::field(
            IDEMPOTENCY_KEY,
            "required",
            "send an Idempotency-Key header (1 to 200 visible characters, e.g. a UUID) so a retry \
             cannot grade twice",
        )
    };
    let value = req
        .headers()
        .get(HeaderName::from_static("idempotency-key"))
        .ok_or_else(missing)?
        .to_str()
        .map_err(|_| missing())?
        .trim();
    if value.is_empty() || value.len() > 200 {
        return Err(missing());
    }
    Ok(value.to_owned())
}

/// A school's scales and work types as this process keeps them.
#[derive(Debug)]
pub struct GradingSetup {
    scales: Vec<journal::ScaleRow>,
    work_types: Vec<journal::WorkType>,
}

impl GradingSetup {
    fn knows(&self, request: &GradeClassRequest) -> bool {
        request.grades.iter().all(|g| {
            self.work_types.iter().any(|w| w.id == g.work_type_id)
                && self.scales.iter().any(|s| match g.scale_id {
                    Some(id) => s.id == id,
                    None => s.is_default,
                })
        })
    }
}

/// The schools' scales and work types, kept by this process: they are only ever added, never
/// changed or removed (see `persistence::averages::Weighing`), so what is kept is always true,
/// and a request naming one not kept here reads the school's afresh (it may have been added
/// since, or not be the school's at all).
#[derive(Debug, Default)]
pub struct GradingSetups {
    schools: std::sync::Mutex<std::collections::HashMap<SchoolId, std::sync::Arc<GradingSetup>>>,
}

/// How many schools' setups a process keeps before it starts afresh.
const SETUPS_KEPT: usize = 10_000;

impl GradingSetups {
    /// The school's setup, read afresh unless the one kept knows every scale and work type
    /// the request names.
    ///
    /// # Errors
    /// On a database failure.
    fn for_request(
        &self,
        conn: &mut DbConnection,
        school: SchoolId,
        request: &GradeClassRequest,
    ) -> Result<std::sync::Arc<GradingSetup>, ApiError> {
        let lock = || {
            self.schools
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if let Some(kept) = lock().get(&school).cloned()
            && kept.knows(request)
        {
            return Ok(kept);
        }
        let read = std::sync::Arc::new(GradingSetup {
            scales: journal::scales(conn, school)?,
            work_types: journal::work_types(conn, school)?,
        });
        let mut schools = lock();
        if schools.len() >= SETUPS_KEPT {
            schools.clear();
        }
        schools.insert(school, std::sync::Arc::clone(&read));
        Ok(read)
    }
}

fn check_entries(
    conn: &mut DbConnection,
    setups: &GradingSetups,
    lesson: &journal::Lesson,
    request: &GradeClassRequest,
) -> Result<(Vec<NewGrade>, Weighing), ApiError> {
    let school = SchoolId(lesson.school_id);
    let setup = setups.for_request(conn, school, request)?;
    let (scales, work_types) = (&setup.scales, &setup.work_types);
    let roster: HashSet<i64> =
        persistence::people::class_students(conn, ClassId(lesson.class_id), lesson.lesson_date)?
            .into_iter()
            .map(|s| s.id)
            .collect();
    let mut errors = Vec::new();
    let mut client_ids = HashSet::new();
    let mut out = Vec::with_capacity(request.grades.len());
    for (i, entry) in request.grades.iter().enumerate() {
        let at = |field: &str| format!("grades[{i}].{field}");
        if !client_ids.insert(entry.client_id.as_str()) {
            errors.push(FieldError::new(
                at("client_id"),
                "duplicate",
                "this id appears twice in the request",
            ));
        }
        if !roster.contains(&entry.student_id) {
            errors.push(FieldError::new(
                at("student_id"),
                "not_in_class",
                "not a student of the lesson's class on the lesson's day",
            ));
        }
        if !work_types.iter().any(|w| w.id == entry.work_type_id) {
            errors.push(FieldError::new(
                at("work_type_id"),
                "not_found",
                "no such work type in this school",
            ));
        }
        let scale = match entry.scale_id {
            Some(id) => scales.iter().find(|s| s.id == id),
            None => scales.iter().find(|s| s.is_default),
        };
        let Some(scale) = scale else {
            errors.push(FieldError::new(
                at("scale_id"),
                "not_found",
                "no such scale in this school",
            ));
            continue;
        };
        let raw = match &entry.value {
            ValueInput::Number(n) => RawValue::Number(*n),
            ValueInput::Text(t) => RawValue::Text(t.clone()),
        };
        match scale.scale.check(&raw) {
            Ok(value) => out.push(NewGrade {
                student: StudentId(entry.student_id),
                work_type: entry.work_type_id,
                scale: scale.id,
                value: value.to_stored(),
                comment: entry.comment.clone(),
                client_id: entry.client_id.clone(),
            }),
            Err(e) => errors.push(FieldError::new(at("value"), e.code(), e.to_string())),
        }
    }
    if errors.is_empty() {
        Ok((out, Weighing::of(scales, work_types)))
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// Grade the class
///
/// Gives a lesson's grades in one request, all or none: one bad entry refuses the request and
/// names it (`grades[3].value`). Send an `Idempotency-Key` header: a retry with the same key
/// and body gets the first answer again (with `Idempotent-Replayed: true`) and creates
/// nothing; the same key with another body is refused with 422. Answers are kept for retries
/// 14 days by default (the server's `journal.answers_kept_days`). Each grade's `client_id` is
/// unique in the lesson as a second guard: a retry after its answer was forgotten gets 409 and
/// creates nothing. For the subject's teacher in the class, the school's administration and
/// integrators with `grades:write`.
#[utoipa::path(
    tag = "journal",
    params(
        ("lesson_id" = i64, Path, description = "The lesson"),
        ("Idempotency-Key" = String, Header, description = "A key unique to this request, e.g. a UUID; 1 to 200 characters"),
    ),
    request_body = GradeClassRequest,
    responses(
        (status = 201, description = "The grades given (or, replayed, the first answer)", body = GradedLesson),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not grade this lesson", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such lesson visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A client_id was used in this lesson by another request", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An entry is invalid, the key is missing, or it was used with another body; nothing was written", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["grades:write"]))
)]
#[post("/lessons/{lesson_id}/grades")]
pub async fn grade_lesson(
    state: web::Data<AppState>,
    bearer: Bearer,
    req: HttpRequest,
    path: web::Path<i64>,
    body: ValidJson<GradeClassRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let key = idempotency_key(&req);
    let request = body.0;
    // The checks only read: they run beside other requests' writes, and only the write takes
    // a turn (see `db_write_grouped`: on SQLite the grading requests waiting are written
    // together, each in a savepoint of one transaction). The write locks the lesson's row and
    // refuses the request whole if the lesson was moved or its term locked meanwhile; a
    // duplicate that committed meanwhile is refused by the unique keys and replayed (see
    // `journal::give_grades`).
    let setups = std::sync::Arc::clone(&state.grading);
    let checked = db(&state, move |conn| {
        // The caller is looked up in the same trip as the checks; an ended session is 401
        // before the key is looked at.
        let caller = bearer.caller(conn)?;
        let canonical = serde_json::to_string(&request)
            .map_err(|e| ApiError::Internal(format!("serialising a request: {e}")))?;
        let idempotency = Idempotency {
            key: key?,
            request_hash: sha256_hex(format!("POST /lessons/{id}/grades\n{canonical}")),
        };
        let actor = match &caller.principal {
            domain::access::Principal::Person { user, .. } => Actor::Person(*user),
            domain::access::Principal::Integrator { client, .. } => Actor::Integrator(*client),
        };
        let (lesson_ref, lesson, term_locked) =
            writable_lesson_in_term(conn, &caller, id, LessonEntry::Grades)?;
        // A replay needs no valid entries: answer it before checking them again.
        if let Some(stored) = journal::stored_answer(conn, actor, &idempotency)? {
            return Ok(Checked::Answered(stored));
        }
        let (entries, weighing) = check_entries(conn, &setups, &lesson, &request)?;
        refuse_in_locked_term(&caller, &lesson_ref, term_locked, request.reason.as_deref())?;
        let locked_term_cleared =
            refuse_in_locked_term(&caller, &lesson_ref, true, request.reason.as_deref()).is_ok();
        Ok(Checked::ToWrite(Box::new(CheckedGrades {
            lesson,
            actor,
            idempotency,
            entries,
            weighing,
            reason: request.reason,
            locked_term_cleared,
        })))
    })
    .await?;
    let outcome = match checked {
        Checked::Answered(stored) => stored,
        Checked::ToWrite(checked) => {
            db_write_grouped(&state, move |conn| {
                let respond = |written: &[journal::Grade]| {
                    let body = GradedLesson {
                        lesson_id: id,
                        grades: written.iter().cloned().map(GradeView::from).collect(),
                    };
                    StoredAnswer {
                        status: 201,
                        body: serde_json::to_string(&body).unwrap_or_default(),
                    }
                };
                Ok(journal::give_grades(
                    conn,
                    &checked.lesson,
                    checked.actor,
                    &journal::GradeRequest {
                        idempotency: &checked.idempotency,
                        grades: &checked.entries,
                        weighing: &checked.weighing,
                        reason: checked.reason.as_deref(),
                        locked_term_cleared: checked.locked_term_cleared,
                    },
                    Utc::now().naive_utc(),
                    &respond,
                )?)
            })
            .await?
        }
    };
    match outcome {
        Graded::Written(answer) => {
            state.wake_dispatcher();
            Ok(json_answer(answer, false))
        }
        Graded::Replayed(answer) => Ok(json_answer(answer, true)),
        Graded::KeyReused => Err(ApiError::field(
            IDEMPOTENCY_KEY,
            "reused",
            "this key was used with another request; use a new key for a new request",
        )),
    }
}

/// What the checks of a grading request found: a stored answer to replay, or grades to write.
enum Checked {
    Answered(Graded),
    ToWrite(Box<CheckedGrades>),
}

/// Grades checked against their lesson as read, to write under the lesson's lock.
struct CheckedGrades {
    lesson: journal::Lesson,
    actor: Actor,
    idempotency: Idempotency,
    entries: Vec<NewGrade>,
    weighing: Weighing,
    reason: Option<String>,
    locked_term_cleared: bool,
}

fn json_answer(answer: StoredAnswer, replayed: bool) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(answer.status)
        .unwrap_or(actix_web::http::StatusCode::OK);
    let mut response = HttpResponse::build(status);
    response.content_type("application/json");
    if replayed {
        response.insert_header((IDEMPOTENT_REPLAYED, "true"));
    }
    response.body(answer.body)
}

/// One version of a grade.
#[derive(Debug, Serialize, ToSchema)]
pub struct GradeVersion {
    pub version: i32,
    /// `created`, `changed` or `deleted`.
    pub action: String,
    #[schema(value_type = Option<ValueInput>)]
    pub old_value: Option<serde_json::Value>,
    #[schema(value_type = Option<ValueInput>)]
    pub new_value: Option<serde_json::Value>,
    pub old_comment: Option<String>,
    pub new_comment: Option<String>,
    /// Why it was changed (required for changes in a locked term).
    pub reason: Option<String>,
    /// The person who made the change, if a person did.
    pub actor_user_id: Option<i64>,
    /// The integrator that made the change, if one did.
    pub actor_integrator_id: Option<i64>,
    pub occurred_at: DateTime<Utc>,
}

/// A grade's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct GradeHistory {
    pub grade_id: i64,
    /// Every version, oldest first.
    pub items: Vec<GradeVersion>,
}

/// A stored value as the API shows it: a number, or `pass` / `fail`.
pub(crate) fn value_json(stored: &str) -> serde_json::Value {
    stored
        .parse::<i64>()
        .map_or_else(|_| serde_json::Value::from(stored), serde_json::Value::from)
}

/// A grade's history
///
/// Every version of a grade, also a deleted one: who, when, the old and new value, and why.
/// For whoever may read the student's grades.
#[utoipa::path(
    tag = "journal",
    params(("grade_id" = i64, Path, description = "The grade")),
    responses(
        (status = 200, description = "Every version, oldest first", body = GradeHistory),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The integrator lacks `grades:read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such grade visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["grades:read"]))
)]
#[get("/grades/{grade_id}/history")]
pub async fn get_grade_history(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
) -> Result<web::Json<GradeHistory>, ApiError> {
    let id = path.into_inner();
    let events = db(&state, move |conn| {
        readable_grade(conn, &caller, id, true)?;
        Ok(journal::grade_history(conn, id)?)
    })
    .await?;
    Ok(web::Json(GradeHistory {
        grade_id: id,
        items: events
            .into_iter()
            .map(|e| GradeVersion {
                version: e.version,
                action: e.action,
                old_value: e.old_value.as_deref().map(value_json),
                new_value: e.new_value.as_deref().map(value_json),
                old_comment: e.old_comment,
                new_comment: e.new_comment,
                reason: e.reason,
                actor_user_id: e.actor_user_id,
                actor_integrator_id: e.actor_client_id,
                occurred_at: utc(e.occurred_at),
            })
            .collect(),
    }))
}

/// The grade, if the caller may read its student's grades; 403/404 by the rules otherwise (a
/// deleted grade is answered 404, its history stays readable).
fn readable_grade(
    conn: &mut DbConnection,
    caller: &Caller,
    id: i64,
    include_deleted: bool,
) -> Result<journal::Grade, ApiError> {
    let today = Utc::now().date_naive();
    let grade = match journal::find_grade(conn, id) {
        Ok(grade) if include_deleted || grade.deleted_at.is_none() => Some(grade),
        Ok(_) | Err(persistence::PersistenceError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let student = match &grade {
        Some(g) => {
            let on = journal::find_lesson(conn, g.lesson_id)?.lesson_date;
            persistence::access::student(conn, StudentId(g.student_id), on.min(today))?
        }
        None => None,
    };
    let (Some(grade), Some(student)) = (grade, student) else {
        enforce(access::when_missing(
            &caller.principal,
            Operation::ReadStudent(Record::Grades),
        ))?;
        return Err(ApiError::NotFound);
    };
    enforce(access::read_student(
        &caller.principal,
        &student,
        Record::Grades,
    ))?;
    Ok(grade)
}

/// The version an `If-Match` header names for this grade.
fn if_match(req: &HttpRequest, id: i64) -> Result<i32, ApiError> {
    let value = req
        .headers()
        .get(actix_web::http::header::IF_MATCH)
        .ok_or(ApiError::PreconditionRequired)?
        .to_str()
        .map_err(|_| ApiError::PreconditionFailed)?
        .trim();
    let inner = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .ok_or(ApiError::PreconditionFailed)?;
    let (grade, version) = inner
        .strip_prefix('g')
        .and_then(|v| v.split_once('v'))
        .ok_or(ApiError::PreconditionFailed)?;
    if grade.parse::<i64>().ok() != Some(id) {
        return Err(ApiError::PreconditionFailed);
    }
    version.parse().map_err(|_| ApiError::PreconditionFailed)
}

pub(crate) fn actor_of(caller: &Caller) -> Actor {
    match &caller.principal {
        domain::access::Principal::Person { user, .. } => Actor::Person(*user),
        domain::access::Principal::Integrator { client, .. } => Actor::Integrator(*client),
    }
}

/// The grade and its lesson, if the caller may change it; in a locked term only the
/// administration may, and only with a reason.
fn writable_grade(
    conn: &mut DbConnection,
    caller: &Caller,
    id: i64,
    reason: Option<&str>,
) -> Result<(journal::Grade, journal::Lesson), ApiError> {
    let grade = match journal::find_grade(conn, id) {
        Ok(grade) if grade.deleted_at.is_none() => Some(grade),
        Ok(_) | Err(persistence::PersistenceError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let Some(grade) = grade else {
        enforce(access::when_missing(
            &caller.principal,
            Operation::WriteLesson(LessonEntry::Grades),
        ))?;
        return Err(ApiError::NotFound);
    };
    let (lesson_ref, lesson) = writable_lesson(conn, caller, grade.lesson_id, LessonEntry::Grades)?;
    unless_locked(conn, caller, &lesson_ref, &lesson, reason)?;
    Ok((grade, lesson))
}

/// In a locked term only the administration may change a lesson's records, with a reason.
pub(crate) fn unless_locked(
    conn: &mut DbConnection,
    caller: &Caller,
    lesson_ref: &LessonRef,
    lesson: &journal::Lesson,
    reason: Option<&str>,
) -> Result<(), ApiError> {
    let locked = journal::term_locked(conn, SchoolId(lesson.school_id), lesson.lesson_date)?;
    refuse_in_locked_term(caller, lesson_ref, locked, reason)
}

/// As [`unless_locked`], for a lesson whose term's lock was read already.
pub(crate) fn refuse_in_locked_term(
    caller: &Caller,
    lesson_ref: &LessonRef,
    locked: bool,
    reason: Option<&str>,
) -> Result<(), ApiError> {
    if locked {
        if !access::change_locked(&caller.principal, lesson_ref).is_allowed() {
            return Err(ApiError::Conflict(
                "the term is locked: only the school's administration may change it, with a \
                 reason"
                    .into(),
            ));
        }
        if reason.is_none_or(|r| r.trim().is_empty()) {
            return Err(ApiError::field(
                "reason",
                "required",
                "a change in a locked term needs a reason",
            ));
        }
    }
    Ok(())
}

fn with_etag(grade: journal::Grade) -> HttpResponse {
    let etag = grade_etag(grade.id, grade.version);
    HttpResponse::Ok()
        .insert_header((actix_web::http::header::ETAG, etag))
        .json(GradeView::from(grade))
}

/// Show a grade
///
/// The grade with its `ETag` (also in the body as `etag`), to change or delete it. For
/// whoever may read the student's grades.
#[utoipa::path(
    tag = "journal",
    params(("grade_id" = i64, Path, description = "The grade")),
    responses(
        (status = 200, description = "The grade", body = GradeView, headers(("ETag" = String, description = "The grade's version"))),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The integrator lacks `grades:read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such grade visible to the caller, or deleted", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["grades:read"]))
)]
#[get("/grades/{grade_id}")]
pub async fn get_grade(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let grade = db(&state, move |conn| readable_grade(conn, &caller, id, false)).await?;
    Ok(with_etag(grade))
}

/// A change to a grade.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GradePatch {
    /// A new value on the grade's scale.
    #[serde(default)]
    pub value: Option<ValueInput>,
    /// A new comment; `null` clears it.
    #[serde(default, with = "double_option")]
    #[validate(length(max = 500, message = "must be at most 500 characters"))]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub comment: Option<Option<String>>,
    /// Another work type of the school.
    #[serde(default)]
    pub work_type_id: Option<i64>,
    /// Why: kept in the history; required in a locked term.
    #[serde(default)]
    #[validate(length(min = 1, max = 500, message = "must be 1 to 500 characters"))]
    #[schema(min_length = 1, max_length = 500)]
    pub reason: Option<String>,
}

mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(
        value: &Option<Option<String>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        value.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(deserializer).map(Some)
    }
}

/// Change a grade
///
/// Changes a grade's value, comment or work type. Send `If-Match` with the `ETag` you read:
/// a grade changed meanwhile gets 412 and nothing is overwritten; no `If-Match` gets 428. A
/// change that already holds (sent again after its answer was lost) is answered 200 with the
/// grade as it is. The old and new values, who and why go to the grade's history. In a locked
/// term only the school's administration may change a grade, with a `reason`.
#[utoipa::path(
    tag = "journal",
    params(
        ("grade_id" = i64, Path, description = "The grade"),
        ("If-Match" = String, Header, description = "The grade's ETag as read"),
    ),
    request_body = GradePatch,
    responses(
        (status = 200, description = "The changed grade", body = GradeView, headers(("ETag" = String, description = "The grade's new version"))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not grade this lesson", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such grade visible to the caller, or deleted", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The term is locked and the caller is not its administration", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The grade changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid, nothing to change, or a reason is missing", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "No If-Match header", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["grades:write"]))
)]
#[patch("/grades/{grade_id}")]
pub async fn patch_grade(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<i64>,
    body: ValidJson<GradePatch>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let patch = body.0;
    if patch.value.is_none() && patch.comment.is_none() && patch.work_type_id.is_none() {
        return Err(ApiError::field(
            "body",
            "empty",
            "name at least one of value, comment and work_type_id",
        ));
    }
    // Read now, answered after the access check (a stranger learns nothing from it).
    let expected = if_match(&req, id);
    let outcome = db_write(&state, move |conn| {
        let (grade, lesson) = writable_grade(conn, &caller, id, patch.reason.as_deref())?;
        let expected = expected?;
        let school = SchoolId(lesson.school_id);
        let mut errors = Vec::new();
        let value = match &patch.value {
            Some(raw) => {
                let scale = journal::scales(conn, school)?
                    .into_iter()
                    .find(|s| s.id == grade.scale_id)
                    .ok_or_else(|| ApiError::Internal(format!("grade {id} has no scale")))?;
                let raw = match raw {
                    ValueInput::Number(n) => RawValue::Number(*n),
                    ValueInput::Text(t) => RawValue::Text(t.clone()),
                };
                match scale.scale.check(&raw) {
                    Ok(v) => Some(v.to_stored()),
                    Err(e) => {
                        errors.push(FieldError::new("value", e.code(), e.to_string()));
                        None
                    }
                }
            }
            None => None,
        };
        if let Some(work_type) = patch.work_type_id
            && !journal::work_types(conn, school)?
                .iter()
                .any(|w| w.id == work_type)
        {
            errors.push(FieldError::new(
                "work_type_id",
                "not_found",
                "no such work type in this school",
            ));
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let change = journal::GradeChange {
            value,
            comment: patch.comment.clone(),
            work_type: patch.work_type_id,
        };
        Ok(journal::change_grade(
            conn,
            id,
            expected,
            Some(&change),
            patch.reason.as_deref(),
            actor_of(&caller),
            Utc::now().naive_utc(),
        )?)
    })
    .await?;
    match outcome {
        journal::Changed::Done(grade) => {
            state.wake_dispatcher();
            Ok(with_etag(grade))
        }
        journal::Changed::Stale(_) => Err(ApiError::PreconditionFailed),
        journal::Changed::Gone => Err(ApiError::NotFound),
    }
}

/// Why a grade is deleted.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteReason {
    /// Why: kept in the history; required in a locked term.
    #[param(min_length = 1, max_length = 500)]
    pub reason: Option<String>,
}

/// Delete a grade
///
/// Deletes a grade: it leaves the journal and the averages, and its history keeps every
/// version and the deletion (nothing is ever really lost). Send `If-Match` with the `ETag` you
/// read: a grade changed meanwhile gets 412; no `If-Match` gets 428. In a locked term only the
/// school's administration may, with a `reason`.
#[utoipa::path(
    tag = "journal",
    params(
        ("grade_id" = i64, Path, description = "The grade"),
        ("If-Match" = String, Header, description = "The grade's ETag as read"),
        DeleteReason,
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not grade this lesson", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such grade visible to the caller, or deleted already", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The term is locked and the caller is not its administration", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The grade changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The reason is missing (locked term) or too long", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "No If-Match header", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["grades:write"]))
)]
#[delete("/grades/{grade_id}")]
pub async fn delete_grade(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<i64>,
    query: web::Query<DeleteReason>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let reason = query.into_inner().reason;
    if reason
        .as_ref()
        .is_some_and(|r| r.is_empty() || r.chars().count() > 500)
    {
        return Err(ApiError::field(
            "reason",
            "length",
            "must be 1 to 500 characters",
        ));
    }
    let expected = if_match(&req, id);
    let outcome = db_write(&state, move |conn| {
        writable_grade(conn, &caller, id, reason.as_deref())?;
        let expected = expected?;
        Ok(journal::change_grade(
            conn,
            id,
            expected,
            None,
            reason.as_deref(),
            actor_of(&caller),
            Utc::now().naive_utc(),
        )?)
    })
    .await?;
    match outcome {
        journal::Changed::Done(_) => {
            state.wake_dispatcher();
            Ok(HttpResponse::NoContent().finish())
        }
        journal::Changed::Stale(_) => Err(ApiError::PreconditionFailed),
        journal::Changed::Gone => Err(ApiError::NotFound),
    }
}

/// An attendance mark; no mark means present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttendanceMark {
    /// Н: absent.
    Absent,
    /// УП: absent with a valid reason.
    AbsentValid,
    /// Б: sick.
    Sick,
    /// ОП: late.
    Late,
}

impl AttendanceMark {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Absent => "absent",
            Self::AbsentValid => "absent_valid",
            Self::Sick => "sick",
            Self::Late => "late",
        }
    }

    pub(crate) fn parse(stored: &str) -> Option<Self> {
        [Self::Absent, Self::AbsentValid, Self::Sick, Self::Late]
            .into_iter()
            .find(|m| m.as_str() == stored)
    }
}

/// Stored marks as the API shows them.
fn marks_view(stored: Vec<(i64, String)>) -> Vec<AttendanceMarkView> {
    stored
        .into_iter()
        .filter_map(|(student_id, mark)| {
            AttendanceMark::parse(&mark).map(|mark| AttendanceMarkView { student_id, mark })
        })
        .collect()
}

/// A student's mark in a lesson.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendanceMarkView {
    /// A student of the lesson's class on the lesson's day.
    pub student_id: i64,
    pub mark: AttendanceMark,
}

/// The whole lesson's attendance: everyone not listed was present.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendanceRequest {
    /// The students who were not simply present, each once.
    #[validate(length(max = 200, message = "must hold at most 200 marks"))]
    #[schema(max_items = 200)]
    pub marks: Vec<AttendanceMarkView>,
    /// Why: kept in the history; required in a locked term.
    #[serde(default)]
    #[validate(length(min = 1, max = 500, message = "must be 1 to 500 characters"))]
    #[schema(min_length = 1, max_length = 500)]
    pub reason: Option<String>,
}

/// A lesson's attendance as set.
#[derive(Debug, Serialize, ToSchema)]
pub struct LessonAttendance {
    pub lesson_id: i64,
    pub marks: Vec<AttendanceMarkView>,
    /// How many marks this request changed (0 for a repeat).
    pub changed: usize,
    /// The marks as they now are: `If-Match` for the next change (also the `ETag` header).
    #[schema(example = "\"marks17-0a1b2c3d4e5f6071\"")]
    pub etag: String,
}

/// Mark the lesson's attendance
///
/// Sets the marks of the whole lesson at once: every student not listed was present. Sending
/// the same marks again changes nothing, so a retry is safe. Each changed mark goes to the
/// lesson's attendance history with who, when, old and new mark. In a locked term only the
/// school's administration may, with a `reason`. For the subject's teacher in the class, the
/// school's administration and integrators with `attendance:write`.
///
/// Marks entered offline and sent later should carry `If-Match` with the `attendance_etag`
/// read with the lesson: if someone changed the marks meanwhile the answer is 412 and
/// nothing is overwritten (marks already as sent are answered 200, so a retry is still safe).
#[utoipa::path(
    tag = "journal",
    params(
        ("lesson_id" = i64, Path, description = "The lesson"),
        ("If-Match" = Option<String>, Header, description = "The `attendance_etag` as read, or `*`; left out: no condition"),
    ),
    request_body = AttendanceRequest,
    responses(
        (status = 200, description = "The marks now", body = LessonAttendance, headers(("ETag" = String, description = "The marks as they now are"))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not mark this lesson", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such lesson visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The term is locked and the caller is not its administration", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The marks changed since they were read (`If-Match`); nothing was written", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A mark is invalid or a reason is missing; nothing was written", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["attendance:write"]))
)]
#[put("/lessons/{lesson_id}/attendance")]
pub async fn put_attendance(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    if_match: IfMatch,
    body: ValidJson<AttendanceRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let request = body.0;
    let (marks, changed) = db_write(&state, move |conn| {
        let (lesson_ref, lesson) = writable_lesson(conn, &caller, id, LessonEntry::Attendance)?;
        unless_locked(
            conn,
            &caller,
            &lesson_ref,
            &lesson,
            request.reason.as_deref(),
        )?;
        let roster: HashSet<i64> = persistence::people::class_students(
            conn,
            ClassId(lesson.class_id),
            lesson.lesson_date,
        )?
        .into_iter()
        .map(|s| s.id)
        .collect();
        let mut errors = Vec::new();
        let mut seen = HashSet::new();
        for (i, mark) in request.marks.iter().enumerate() {
            let field = format!("marks[{i}].student_id");
            if !roster.contains(&mark.student_id) {
                errors.push(FieldError::new(
                    field,
                    "not_in_class",
                    "not a student of the lesson's class on the lesson's day",
                ));
            } else if !seen.insert(mark.student_id) {
                errors.push(FieldError::new(
                    field,
                    "duplicate",
                    "this student is listed twice",
                ));
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let marks: Vec<(StudentId, &str)> = request
            .marks
            .iter()
            .map(|m| (StudentId(m.student_id), m.mark.as_str()))
            .collect();
        let changed = journal::set_attendance(
            conn,
            &lesson,
            &marks,
            request.reason.as_deref(),
            if_match.expected(),
            actor_of(&caller),
            Utc::now().naive_utc(),
        )?;
        Ok((journal::attendance(conn, id)?, changed))
    })
    .await?;
    if changed > 0 {
        state.wake_dispatcher();
    }
    let tag = etag(&journal::marks_fingerprint(id, &marks));
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::ETAG, tag.clone()))
        .json(LessonAttendance {
            lesson_id: id,
            marks: marks_view(marks),
            changed,
            etag: tag,
        }))
}

/// One change of a mark.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttendanceChange {
    pub student_id: i64,
    /// `null` is present.
    pub old_mark: Option<AttendanceMark>,
    /// `null` is present.
    pub new_mark: Option<AttendanceMark>,
    pub reason: Option<String>,
    pub actor_user_id: Option<i64>,
    pub actor_integrator_id: Option<i64>,
    pub occurred_at: DateTime<Utc>,
}

/// A lesson's attendance history.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttendanceHistory {
    pub lesson_id: i64,
    /// Every change, oldest first.
    pub items: Vec<AttendanceChange>,
}

/// A lesson's attendance history
///
/// Every change of the lesson's marks: who, when, old and new mark, and why. For the class's
/// teachers, the administration and integrators with `attendance:read`.
#[utoipa::path(
    tag = "journal",
    params(("lesson_id" = i64, Path, description = "The lesson")),
    responses(
        (status = 200, description = "Every change, oldest first", body = AttendanceHistory),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role may not read class attendance", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such lesson visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["attendance:read"]))
)]
#[get("/lessons/{lesson_id}/attendance/history")]
pub async fn get_attendance_history(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
) -> Result<web::Json<AttendanceHistory>, ApiError> {
    let id = path.into_inner();
    let events = db(&state, move |conn| {
        let Some(found) = persistence::access::lesson(conn, id)? else {
            enforce(access::when_missing(
                &caller.principal,
                Operation::ReadClass(Record::Attendance),
            ))?;
            return Err(ApiError::NotFound);
        };
        enforce(access::read_class(
            &caller.principal,
            &found.class,
            Record::Attendance,
        ))?;
        Ok(journal::attendance_history(conn, id)?)
    })
    .await?;
    Ok(web::Json(AttendanceHistory {
        lesson_id: id,
        items: events
            .into_iter()
            .map(|e| AttendanceChange {
                student_id: e.student_id,
                old_mark: e.old_mark.as_deref().and_then(AttendanceMark::parse),
                new_mark: e.new_mark.as_deref().and_then(AttendanceMark::parse),
                reason: e.reason,
                actor_user_id: e.actor_user_id,
                actor_integrator_id: e.actor_client_id,
                occurred_at: utc(e.occurred_at),
            })
            .collect(),
    }))
}
