//! Reading the journal: a student's diary (what a parent opens every evening) and a class's
//! journal page for a subject (what a teacher fills in).

use std::collections::HashMap;

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use domain::access::Record;
use domain::{ClassId, DateRange, SchoolId, StudentId};
use persistence::lessons::{self, DiaryLesson};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::common::{
    date_param, db, readable_class, readable_student, school_subject, school_term, utc,
};
use super::journal::{AttendanceMark, ValueInput, grade_etag, value_json};
use crate::AppState;
use crate::auth::{Bearer, Caller};
use crate::error::{ApiError, Problem};
use crate::extract::{IfNoneMatch, conditional_json};

/// Something with an id and a name.
#[derive(Debug, Serialize, ToSchema)]
pub struct Named {
    pub id: i64,
    pub name: String,
}

/// A grade as the diary shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiaryGrade {
    pub id: i64,
    /// A number on a points scale, `pass` or `fail`.
    #[schema(value_type = ValueInput, example = 5)]
    pub value: serde_json::Value,
    pub work_type: Named,
    /// The work type's weight in averages.
    pub weight: i16,
    pub scale_id: i64,
    /// Whether it counts towards averages (pass/fail grades never do).
    pub averaged: bool,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A lesson of the student's day.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiaryLessonView {
    pub id: i64,
    pub number: i16,
    pub subject: Named,
    pub teacher: Named,
    pub room: Option<String>,
    pub topic: Option<String>,
    /// The class's homework.
    pub homework: Option<String>,
    /// The student's own homework, set for them alone.
    pub individual_homework: Option<String>,
    pub held: bool,
    pub cancelled: bool,
    /// The student's grades in the lesson.
    pub grades: Vec<DiaryGrade>,
    /// The student's mark; absent: present (or not marked yet).
    pub attendance: Option<AttendanceMark>,
}

/// One day of the diary.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiaryDay {
    pub date: NaiveDate,
    /// The holiday the day falls in, if any.
    pub holiday: Option<String>,
    /// By number.
    pub lessons: Vec<DiaryLessonView>,
}

/// A student's diary for a range of days.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiaryView {
    pub student_id: i64,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Every day of the range, in order.
    pub days: Vec<DiaryDay>,
}

/// Which days of the diary.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiaryQuery {
    /// The first day, `YYYY-MM-DD`; the Monday of this week when left out.
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<String>,
    /// The last day, at most 31 days from `from`; six days after `from` when left out.
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<String>,
}

fn diary_view(student: StudentId, range: DateRange, diary: lessons::Diary) -> DiaryView {
    let mut grades: HashMap<i64, Vec<DiaryGrade>> = HashMap::new();
    for g in diary.grades {
        grades.entry(g.lesson_id).or_default().push(DiaryGrade {
            id: g.id,
            value: value_json(&g.value),
            work_type: Named {
                id: g.work_type_id,
                name: g.work_type,
            },
            weight: g.weight,
            scale_id: g.scale_id,
            averaged: g.scale_kind == "points" && g.scale_is_default == 1,
            comment: g.comment,
            created_at: utc(g.created_at),
        });
    }
    let mut attendance = diary.attendance;
    let mut individual = diary.individual_homework;
    let mut by_day: HashMap<NaiveDate, Vec<DiaryLessonView>> = HashMap::new();
    for l in diary.lessons {
        by_day
            .entry(l.lesson_date)
            .or_default()
            .push(DiaryLessonView {
                id: l.id,
                number: l.number,
                subject: Named {
                    id: l.subject_id,
                    name: l.subject_name,
                },
                teacher: Named {
                    id: l.teacher_id,
                    name: l.teacher_name,
                },
                room: l.room,
                topic: l.topic,
                homework: l.homework,
                individual_homework: individual.remove(&l.id),
                held: l.held_at.is_some(),
                cancelled: l.cancelled_at.is_some(),
                grades: grades.remove(&l.id).unwrap_or_default(),
                attendance: attendance
                    .remove(&l.id)
                    .and_then(|m| AttendanceMark::parse(&m)),
            });
    }
    let days = range
        .from()
        .iter_days()
        .take_while(|d| *d <= range.to())
        .map(|date| DiaryDay {
            date,
            holiday: diary
                .holidays
                .iter()
                .find(|h| h.starts_on <= date && date <= h.ends_on)
                .map(|h| h.name.clone()),
            lessons: by_day.remove(&date).unwrap_or_default(),
        })
        .collect();
    DiaryView {
        student_id: student.get(),
        from: range.from(),
        to: range.to(),
        days,
    }
}

/// A student's diary
///
/// The student's days: each lesson with its subject, teacher, topic, the class's homework and
/// the student's own, the student's grades with work type and weight, and attendance. One
/// request renders a week on the phone. The lessons are those of the classes (and groups)
/// the student belonged to on each day. For the student, their parents, their teachers, the
/// administration and integrators with `grades:read` and `attendance:read`.
///
/// The answer carries an `ETag`; sent back as `If-None-Match`, it gets `304 Not Modified`
/// without a body while nothing in the diary changed.
#[utoipa::path(
    tag = "journal",
    params(
        ("student_id" = i64, Path, description = "The student"),
        DiaryQuery,
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` of a copy held: `304` while it is current"),
    ),
    responses(
        (status = 200, description = "The diary", body = DiaryView, headers(("ETag" = String, description = "This answer's version, for `If-None-Match`"))),
        (status = 304, description = "The copy named by `If-None-Match` is current", headers(("ETag" = String, description = "The copy's version"))),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not read diaries", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such student visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A query parameter is invalid, or the range is reversed or longer than 31 days", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["grades:read", "attendance:read"]))
)]
#[get("/students/{student_id}/diary")]
pub async fn get_diary(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<i64>,
    query: web::Query<DiaryQuery>,
    held: IfNoneMatch,
) -> Result<HttpResponse, ApiError> {
    let student = StudentId(path.into_inner());
    let query = query.into_inner();
    let view = db(&state, move |conn| {
        // The caller first, so an ended session is 401 whatever the dates asked for.
        let caller = bearer.caller(conn)?;
        let today = Utc::now().date_naive();
        let monday = today - Days::new(u64::from(today.weekday().num_days_from_monday()));
        let from = date_param("from", query.from.as_deref())?.unwrap_or(monday);
        let to = date_param("to", query.to.as_deref())?.unwrap_or(from + Days::new(6));
        let range = DateRange::new(from, to, 31)
            .map_err(|e| ApiError::field("to", "out_of_range", e.to_string()))?;
        let found = readable_student(conn, &caller.principal, student, Record::Journal)?;
        let diary = lessons::diary(conn, found.school.school, student, range)?;
        Ok(diary_view(student, range, diary))
    })
    .await?;
    conditional_json(&held, &view)
}

/// Which page of the journal.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JournalPageQuery {
    /// The subject (required).
    pub subject_id: Option<i64>,
    /// A term of the school; the term holding today when neither it nor `from` is given.
    pub term_id: Option<i64>,
    /// Instead of a term: the first day, `YYYY-MM-DD` (with `to`).
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<String>,
    /// Instead of a term: the last day, at most 366 days after `from`.
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<String>,
}

/// A lesson column of the journal page.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageLesson {
    pub id: i64,
    pub date: NaiveDate,
    pub number: i16,
    /// The group the lesson is for; absent: the whole class.
    pub group_id: Option<i64>,
    pub teacher_id: i64,
    pub topic: Option<String>,
    pub homework: Option<String>,
    pub held: bool,
    pub cancelled: bool,
}

/// A student row of the journal page, with the days they were in the class.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageStudent {
    pub id: i64,
    pub last_name: String,
    pub first_name: String,
    pub enrolled_on: NaiveDate,
    /// Set when the student left the class (moved or left the school).
    pub left_on: Option<NaiveDate>,
}

/// A grade cell of the journal page.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageGrade {
    pub id: i64,
    pub lesson_id: i64,
    pub student_id: i64,
    #[schema(value_type = ValueInput, example = 5)]
    pub value: serde_json::Value,
    pub work_type_id: i64,
    pub scale_id: i64,
    pub comment: Option<String>,
    /// Send as `If-Match` to change or delete the grade.
    pub etag: String,
}

/// An attendance cell of the journal page (present students have none).
#[derive(Debug, Serialize, ToSchema)]
pub struct PageMark {
    pub lesson_id: i64,
    pub student_id: i64,
    pub mark: AttendanceMark,
}

/// The members of a group whose lessons are on the page.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageGroup {
    pub id: i64,
    pub student_ids: Vec<i64>,
}

/// A class × subject page of the journal.
#[derive(Debug, Serialize, ToSchema)]
pub struct JournalPageView {
    pub class_id: i64,
    pub subject_id: i64,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The columns, by date and number.
    pub lessons: Vec<PageLesson>,
    /// The rows, by name: everyone in the class at any time of the range.
    pub students: Vec<PageStudent>,
    pub grades: Vec<PageGrade>,
    pub attendance: Vec<PageMark>,
    pub groups: Vec<PageGroup>,
}

fn page_lesson(l: DiaryLesson) -> PageLesson {
    PageLesson {
        id: l.id,
        date: l.lesson_date,
        number: l.number,
        group_id: l.group_id,
        teacher_id: l.teacher_id,
        topic: l.topic,
        homework: l.homework,
        held: l.held_at.is_some(),
        cancelled: l.cancelled_at.is_some(),
    }
}

/// The days of the page: `from`/`to`, else the term, else the term holding today.
fn page_range(
    conn: &mut persistence::DbConnection,
    school: SchoolId,
    query: &JournalPageQuery,
) -> Result<DateRange, ApiError> {
    let from = date_param("from", query.from.as_deref())?;
    let to = date_param("to", query.to.as_deref())?;
    if let Some(from) = from {
        let to = to.ok_or_else(|| ApiError::field("to", "required", "give `to` with `from`"))?;
        return DateRange::new(from, to, 366)
            .map_err(|e| ApiError::field("to", "out_of_range", e.to_string()));
    }
    let term = school_term(conn, school, query.term_id)?;
    DateRange::new(term.starts_on, term.ends_on, 366)
        .map_err(|e| ApiError::field("term_id", "invalid", e.to_string()))
}

/// A class's journal page
///
/// A class × subject grid for a term (or a range of days): the lessons as columns, the
/// students who were in the class as rows, and every grade and attendance mark. For the
/// class's teachers, the administration and integrators with `grades:read` and
/// `attendance:read`.
///
/// The answer carries an `ETag`; sent back as `If-None-Match`, it gets `304 Not Modified`
/// without a body while nothing on the page changed.
#[utoipa::path(
    tag = "journal",
    params(
        ("class_id" = i64, Path, description = "The class"),
        JournalPageQuery,
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` of a copy held: `304` while it is current"),
    ),
    responses(
        (status = 200, description = "The page", body = JournalPageView, headers(("ETag" = String, description = "This answer's version, for `If-None-Match`"))),
        (status = 304, description = "The copy named by `If-None-Match` is current", headers(("ETag" = String, description = "The copy's version"))),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role may not read class journals", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such class visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The subject is missing or not of the school, the term unknown, or the dates invalid", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["grades:read", "attendance:read"]))
)]
#[get("/classes/{class_id}/journal")]
pub async fn get_journal_page(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    query: web::Query<JournalPageQuery>,
    held: IfNoneMatch,
) -> Result<HttpResponse, ApiError> {
    let class = ClassId(path.into_inner());
    let query = query.into_inner();
    let view = db(&state, move |conn| {
        let found = readable_class(conn, &caller.principal, class, Record::Journal)?;
        let school = found.school.school;
        let subject = school_subject(conn, school, query.subject_id)?;
        let range = page_range(conn, school, &query)?;
        let page = lessons::journal_page(conn, class, subject, range)?;
        let mut groups: Vec<PageGroup> = Vec::new();
        for (group, student) in page.group_members {
            match groups.last_mut() {
                Some(last) if last.id == group => last.student_ids.push(student),
                _ => groups.push(PageGroup {
                    id: group,
                    student_ids: vec![student],
                }),
            }
        }
        Ok(JournalPageView {
            class_id: class.get(),
            subject_id: subject.get(),
            from: range.from(),
            to: range.to(),
            lessons: page.lessons.into_iter().map(page_lesson).collect(),
            students: page
                .students
                .into_iter()
                .map(|s| PageStudent {
                    id: s.id,
                    last_name: s.last_name,
                    first_name: s.first_name,
                    enrolled_on: s.enrolled_on,
                    left_on: s.left_on,
                })
                .collect(),
            grades: page
                .grades
                .into_iter()
                .map(|g| PageGrade {
                    id: g.id,
                    lesson_id: g.lesson_id,
                    student_id: g.student_id,
                    value: value_json(&g.value),
                    work_type_id: g.work_type_id,
                    scale_id: g.scale_id,
                    comment: g.comment,
                    etag: grade_etag(g.id, g.version),
                })
                .collect(),
            attendance: page
                .attendance
                .into_iter()
                .filter_map(|(lesson_id, student_id, mark)| {
                    AttendanceMark::parse(&mark).map(|mark| PageMark {
                        lesson_id,
                        student_id,
                        mark,
                    })
                })
                .collect(),
            groups,
        })
    })
    .await?;
    conditional_json(&held, &view)
}
