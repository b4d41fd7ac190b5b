//! A lesson's plan (topic, homework, held mark, comment, moving, cancelling), individual
//! homework, and a teacher's own lessons.

use std::collections::HashSet;

use actix_web::{get, patch, put, web};
use chrono::{DateTime, NaiveDate, Utc};
use domain::access::LessonEntry;
use domain::{DateRange, SchoolId, StudentId, UserId};
use persistence::lessons::{self, LessonKey, LessonPatch};
use persistence::people::Role;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::common::{DEFAULT_PAGE, MAX_PAGE, date_param, db, db_write, utc};
use super::journal::{
    IndividualHomeworkItem, LessonView, actor_of, lesson_view, unless_locked, writable_lesson,
};
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, FieldError, Problem};
use crate::extract::{IfMatch, ValidJson};

/// `null` in the body clears a field; leaving the field out keeps it.
fn clearable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A change to a lesson: fields left out stay as they are; `null` (or an empty text) clears
/// a text.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LessonPatchRequest {
    /// At most 500 characters.
    #[serde(default, deserialize_with = "clearable")]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub topic: Option<Option<String>>,
    /// Homework for the whole class, at most 4000 characters.
    #[serde(default, deserialize_with = "clearable")]
    #[schema(value_type = Option<String>, max_length = 4000)]
    pub homework: Option<Option<String>>,
    /// The teacher's note on the lesson, at most 1000 characters.
    #[serde(default, deserialize_with = "clearable")]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub comment: Option<Option<String>>,
    /// At most 50 characters.
    #[serde(default, deserialize_with = "clearable")]
    #[schema(value_type = Option<String>, max_length = 50)]
    pub room: Option<Option<String>>,
    /// Mark the lesson held (or take the mark back).
    #[serde(default)]
    pub held: Option<bool>,
    /// Cancel the lesson (or restore it).
    #[serde(default)]
    pub cancelled: Option<bool>,
    /// Move the lesson to another day.
    #[serde(default)]
    pub date: Option<NaiveDate>,
    /// Move the lesson to another number in the day, 0 to 12.
    #[serde(default)]
    #[validate(range(min = 0, max = 12, message = "must be between 0 and 12"))]
    #[schema(minimum = 0, maximum = 12)]
    pub number: Option<i16>,
    /// Hand the lesson to another teacher of the school (a replacement).
    #[serde(default)]
    pub teacher_id: Option<i64>,
    /// Why: kept in the audit trail; required in a locked term.
    #[serde(default)]
    #[validate(length(max = 500, message = "must be at most 500 characters"))]
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// Trims a text and checks its length; an empty text clears the field.
fn text(
    field: &str,
    value: Option<&Option<String>>,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<Option<String>> {
    let value = value?;
    let trimmed = value.as_deref().map(str::trim).filter(|t| !t.is_empty());
    if trimmed.is_some_and(|t| t.chars().count() > max) {
        errors.push(FieldError::new(
            field,
            "too_long",
            format!("must be at most {max} characters"),
        ));
    }
    Some(trimmed.map(str::to_owned))
}

/// Change a lesson
///
/// Sets the topic, the class's homework, the teacher's comment, the room, the held mark;
/// moves the lesson to another day or number, hands it to another teacher, cancels or
/// restores it. Fields left out stay as they are; `null` clears a text. The first topic,
/// homework, comment or held mark counts as the lesson's first entry (the "online journal"
/// indicator). Every change is audited with the old and new values. For the subject's
/// teacher in the class and the school's administration; in a locked term only the
/// administration, with a reason.
///
/// An edit made offline and sent later should carry `If-Match` with the `plan_etag` read
/// with the lesson: if the plan was changed meanwhile the answer is 412 and nothing is
/// overwritten (a patch already applied is answered 200, so a retry is still safe).
#[utoipa::path(
    tag = "journal",
    params(
        ("lesson_id" = i64, Path, description = "The lesson"),
        ("If-Match" = Option<String>, Header, description = "The `plan_etag` as read, or `*`; left out: no condition"),
    ),
    request_body = LessonPatchRequest,
    responses(
        (status = 200, description = "The lesson as it now is, with its new `plan_etag`", body = LessonView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not write this lesson", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such lesson visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The term is locked and the caller is not its administration", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The plan changed since it was read (`If-Match`); nothing was written", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid (too long, teacher not of the school, reason missing in a locked term)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["grades:write"]))
)]
#[patch("/lessons/{lesson_id}")]
pub async fn patch_lesson(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    if_match: IfMatch,
    body: ValidJson<LessonPatchRequest>,
) -> Result<web::Json<LessonView>, ApiError> {
    let id = path.into_inner();
    let request = body.0;
    let view = db_write(&state, move |conn| {
        let (lesson_ref, lesson) = writable_lesson(conn, &caller, id, LessonEntry::Plan)?;
        let reason = request.reason.as_deref().map(str::trim);
        unless_locked(conn, &caller, &lesson_ref, &lesson, reason)?;
        if let Some(date) = request.date.filter(|d| *d != lesson.lesson_date) {
            let mut moved = lesson.clone();
            moved.lesson_date = date;
            unless_locked(conn, &caller, &lesson_ref, &moved, reason)?;
        }
        let mut errors = Vec::new();
        let patch = LessonPatch {
            topic: text("topic", request.topic.as_ref(), 500, &mut errors),
            homework: text("homework", request.homework.as_ref(), 4000, &mut errors),
            comment: text("comment", request.comment.as_ref(), 1000, &mut errors),
            room: text("room", request.room.as_ref(), 50, &mut errors),
            held: request.held,
            cancelled: request.cancelled,
            date: request.date,
            number: request.number,
            teacher: request.teacher_id.map(UserId),
        };
        if let Some(teacher) = patch.teacher
            && !persistence::admin::holds_role(
                conn,
                SchoolId(lesson.school_id),
                teacher,
                Role::Teacher,
            )?
        {
            errors.push(FieldError::new(
                "teacher_id",
                "not_found",
                "no teacher with this id in this school",
            ));
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let updated = lessons::update_lesson(
            conn,
            &lesson,
            &patch,
            reason.filter(|r| !r.is_empty()),
            if_match.expected(),
            actor_of(&caller),
            Utc::now().naive_utc(),
        )?;
        lesson_view(conn, updated)
    })
    .await?;
    // The tags are in the body: an `ETag` header would name the whole lesson as answered
    // (grades, marks and all), which the plan's tag does not.
    Ok(web::Json(view))
}

/// A lesson's individual homework.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IndividualHomeworkRequest {
    /// Each student once; students left out have no individual homework afterwards.
    #[validate(length(max = 60, message = "must hold at most 60 items"), nested)]
    #[schema(max_items = 60)]
    pub items: Vec<IndividualHomeworkItem>,
    /// Why: required in a locked term.
    #[serde(default)]
    #[validate(length(max = 500, message = "must be at most 500 characters"))]
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// Set individual homework
///
/// Sets the homework of single students of the lesson, all at once: each student sees only
/// their own (beside the class's homework) in the diary. Setting the same again changes
/// nothing; the change is audited. For the subject's teacher in the class and the school's
/// administration; in a locked term only the administration, with a reason. With `If-Match`
/// (the `individual_homework_etag` as read) homework changed meanwhile is answered 412 and
/// not overwritten.
#[utoipa::path(
    tag = "journal",
    params(
        ("lesson_id" = i64, Path, description = "The lesson"),
        ("If-Match" = Option<String>, Header, description = "The `individual_homework_etag` as read, or `*`; left out: no condition"),
    ),
    request_body = IndividualHomeworkRequest,
    responses(
        (status = 200, description = "The lesson as it now is, with its new `individual_homework_etag`", body = LessonView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not write this lesson", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such lesson visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The term is locked and the caller is not its administration", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The individual homework changed since it was read (`If-Match`); nothing was written", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An item is invalid (student not of the lesson, listed twice, empty text); each is named, as `items[2].student_id`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["grades:write"]))
)]
#[put("/lessons/{lesson_id}/individual-homework")]
pub async fn put_individual_homework(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    if_match: IfMatch,
    body: ValidJson<IndividualHomeworkRequest>,
) -> Result<web::Json<LessonView>, ApiError> {
    let id = path.into_inner();
    let request = body.0;
    let view = db_write(&state, move |conn| {
        let (lesson_ref, lesson) = writable_lesson(conn, &caller, id, LessonEntry::Plan)?;
        let reason = request.reason.as_deref().map(str::trim);
        unless_locked(conn, &caller, &lesson_ref, &lesson, reason)?;
        let of_lesson = lessons::lesson_students(conn, &lesson)?;
        let mut seen = HashSet::new();
        let mut errors = Vec::new();
        let mut items = Vec::new();
        for (i, item) in request.items.iter().enumerate() {
            let field = format!("items[{i}].student_id");
            if !seen.insert(item.student_id) {
                errors.push(FieldError::new(
                    field,
                    "duplicate",
                    "this student is listed twice",
                ));
            } else if !of_lesson.contains(&item.student_id) {
                errors.push(FieldError::new(
                    field,
                    "not_found",
                    "no such student in this lesson",
                ));
            } else if item.homework.trim().is_empty() {
                errors.push(FieldError::new(
                    format!("items[{i}].homework"),
                    "required",
                    "must not be blank",
                ));
            } else {
                items.push((StudentId(item.student_id), item.homework.trim().to_owned()));
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        lessons::set_individual_homework(
            conn,
            &lesson,
            &items,
            if_match.expected(),
            actor_of(&caller),
            Utc::now().naive_utc(),
        )?;
        let lesson = persistence::journal::find_lesson(conn, id)?;
        lesson_view(conn, lesson)
    })
    .await?;
    Ok(web::Json(view))
}

/// Which of the caller's lessons to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MyLessonsQuery {
    /// The first day, `YYYY-MM-DD`; today when left out.
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<String>,
    /// The last day, at most 92 days after `from`; `from` when left out (one day).
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page; leave out for the first page.
    #[param(max_length = 40)]
    pub cursor: Option<String>,
}

/// A lesson in the teacher's list.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyLessonView {
    pub id: i64,
    pub school_id: i64,
    pub class_id: i64,
    /// The class as people write it.
    #[schema(example = "5А")]
    pub class_label: String,
    pub group_id: Option<i64>,
    pub subject_id: i64,
    #[schema(example = "Русский язык")]
    pub subject_name: String,
    pub date: NaiveDate,
    pub number: i16,
    pub room: Option<String>,
    pub topic: Option<String>,
    pub homework: Option<String>,
    pub held_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// When anything was first entered; absent for a lesson not filled in yet.
    pub first_entry_at: Option<DateTime<Utc>>,
}

/// A page of the teacher's lessons.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyLessonsPage {
    /// By date and number.
    pub items: Vec<MyLessonView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn parse_cursor(raw: &str) -> Option<LessonKey> {
    let mut parts = raw.splitn(3, '_');
    let date = NaiveDate::parse_from_str(parts.next()?, "%Y-%m-%d").ok()?;
    let number = parts.next()?.parse().ok()?;
    let id = parts.next()?.parse().ok()?;
    Some((date, number, id))
}

/// List my lessons
///
/// The lessons the calling teacher gives, by date and number: the day's lessons to open,
/// fill in, mark attendance and grade. A page at a time.
#[utoipa::path(
    tag = "journal",
    params(MyLessonsQuery),
    responses(
        (status = 200, description = "A page of lessons", body = MyLessonsPage),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An integrator has no lessons of its own", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A query parameter is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/me/lessons")]
pub async fn list_my_lessons(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<MyLessonsQuery>,
) -> Result<web::Json<MyLessonsPage>, ApiError> {
    let teacher = caller.person()?;
    let from =
        date_param("from", query.from.as_deref())?.unwrap_or_else(|| Utc::now().date_naive());
    let to = date_param("to", query.to.as_deref())?.unwrap_or(from);
    let range = DateRange::new(from, to, 93)
        .map_err(|e| ApiError::field("to", "out_of_range", e.to_string()))?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::field(
            "limit",
            "out_of_range",
            format!("must be between 1 and {MAX_PAGE}"),
        ));
    }
    let after = query
        .cursor
        .as_deref()
        .map(|c| {
            parse_cursor(c).ok_or_else(|| {
                ApiError::field(
                    "cursor",
                    "invalid",
                    "pass a next_cursor from a previous page",
                )
            })
        })
        .transpose()?;
    let mut rows = db(&state, move |conn| {
        Ok(lessons::teacher_lessons(
            conn,
            teacher,
            range,
            after,
            limit + 1,
        )?)
    })
    .await?;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let next_cursor = (rows.len() > limit).then(|| {
        rows.truncate(limit);
        rows.last()
            .map(|r| {
                let (date, number, id) = r.key();
                format!("{date}_{number}_{id}")
            })
            .unwrap_or_default()
    });
    let items = rows
        .into_iter()
        .map(|r| MyLessonView {
            id: r.id,
            school_id: r.school_id,
            class_id: r.class_id,
            class_label: format!("{}{}", r.grade_level, r.letter),
            group_id: r.group_id,
            subject_id: r.subject_id,
            subject_name: r.subject_name,
            date: r.lesson_date,
            number: r.number,
            room: r.room,
            topic: r.topic,
            homework: r.homework,
            held_at: r.held_at.map(utc),
            cancelled_at: r.cancelled_at.map(utc),
            first_entry_at: r.first_entry_at.map(utc),
        })
        .collect();
    Ok(web::Json(MyLessonsPage { items, next_cursor }))
}
