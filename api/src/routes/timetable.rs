//! The timetable: groups within a class, the school's holidays, each class's weekly template,
//! and generating a term's dated lessons from it.

use std::collections::HashSet;

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{NaiveDate, Utc};
use domain::access::Record;
use domain::timetable::Weeks;
use domain::{ClassId, DateRange, SchoolId, StudentId, SubjectId, UserId};
use persistence::DbConnection;
use persistence::admin;
use persistence::people::Role;
use persistence::timetable::{self as tt, NewSlot};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::common::{db, managed_class, managed_school, readable_class, school_actor};
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, FieldError, Problem};
use crate::extract::ValidJson;

// ---------------------------------------------------------------------------------------------
// Groups
// ---------------------------------------------------------------------------------------------

/// A group of a class for one subject (a language group, half the class for computing).
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupView {
    pub id: i64,
    pub class_id: i64,
    pub subject_id: i64,
    #[schema(example = "Английский, группа 1")]
    pub name: String,
    /// The students of the group, by id.
    pub student_ids: Vec<i64>,
}

impl From<tt::Group> for GroupView {
    fn from(g: tt::Group) -> Self {
        Self {
            id: g.id,
            class_id: g.class_id,
            subject_id: g.subject_id,
            name: g.name,
            student_ids: g.members,
        }
    }
}

/// A new group.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroupRequest {
    /// A subject of the class's school.
    pub subject_id: i64,
    #[validate(length(min = 1, max = 100, message = "must be 1 to 100 characters"))]
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Students of the class, each once.
    #[validate(length(max = 60, message = "must hold at most 60 students"))]
    #[schema(max_items = 60)]
    #[serde(default)]
    pub student_ids: Vec<i64>,
}

/// A group's members.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupMembersRequest {
    /// Students of the class, each once; the group holds exactly these afterwards.
    #[validate(length(max = 60, message = "must hold at most 60 students"))]
    #[schema(max_items = 60)]
    pub student_ids: Vec<i64>,
}

/// Students must be enrolled in the class today, each named once.
fn check_members(
    conn: &mut DbConnection,
    class: ClassId,
    students: &[i64],
) -> Result<Vec<StudentId>, ApiError> {
    let enrolled = tt::enrolled_in_class(conn, class, students, Utc::now().date_naive())?;
    let mut seen = HashSet::new();
    let mut errors = Vec::new();
    for (i, student) in students.iter().enumerate() {
        if !seen.insert(*student) {
            errors.push(FieldError::new(
                format!("student_ids[{i}]"),
                "duplicate",
                "this student is listed twice",
            ));
        } else if !enrolled.contains(student) {
            errors.push(FieldError::new(
                format!("student_ids[{i}]"),
                "not_found",
                "no such student in this class",
            ));
        }
    }
    if errors.is_empty() {
        Ok(students.iter().copied().map(StudentId).collect())
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// List a class's groups
///
/// The class's groups with their members. For whoever may read the class's roster.
#[utoipa::path(
    tag = "timetable",
    params(("class_id" = i64, Path, description = "The class")),
    responses(
        (status = 200, description = "The groups, by subject and name", body = [GroupView]),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role may not read classes", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such class visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["roster:read"]))
)]
#[get("/classes/{class_id}/groups")]
pub async fn list_class_groups(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
) -> Result<web::Json<Vec<GroupView>>, ApiError> {
    let class = ClassId(path.into_inner());
    let groups = db(&state, move |conn| {
        readable_class(conn, &caller.principal, class, Record::Roster)?;
        Ok(tt::class_groups(conn, class)?)
    })
    .await?;
    Ok(web::Json(groups.into_iter().map(GroupView::from).collect()))
}

/// Create a group
///
/// A group of the class for a subject, with its students. Its lessons and timetable slots are
/// for its members only. For the school's administration; audited.
#[utoipa::path(
    tag = "timetable",
    params(("class_id" = i64, Path, description = "The class")),
    request_body = NewGroupRequest,
    responses(
        (status = 201, description = "The group", body = GroupView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such class visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The class already has a group of that name for the subject", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid (subject not of the school, student not of the class)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/classes/{class_id}/groups")]
pub async fn create_class_group(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    body: ValidJson<NewGroupRequest>,
) -> Result<HttpResponse, ApiError> {
    let class = ClassId(path.into_inner());
    let request = body.0;
    let group = db(&state, move |conn| {
        let found = managed_class(conn, &caller.principal, class)?;
        let school = found.school.school;
        let subject = SubjectId(request.subject_id);
        if !admin::subject_in_school(conn, school, subject)? {
            return Err(ApiError::field(
                "subject_id",
                "not_found",
                "no such subject in this school",
            ));
        }
        let members = check_members(conn, class, &request.student_ids)?;
        let actor = school_actor(&caller, school)?;
        Ok(tt::create_group(
            conn,
            &actor,
            class,
            subject,
            request.name.trim(),
            &members,
        )?)
    })
    .await?;
    Ok(HttpResponse::Created().json(GroupView::from(group)))
}

/// Set a group's students
///
/// Replaces the group's members. For the school's administration; audited with the old and
/// new lists.
#[utoipa::path(
    tag = "timetable",
    params(
        ("class_id" = i64, Path, description = "The class"),
        ("group_id" = i64, Path, description = "A group of the class"),
    ),
    request_body = GroupMembersRequest,
    responses(
        (status = 200, description = "The group", body = GroupView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such class or group visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A student is not of the class, or listed twice", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/classes/{class_id}/groups/{group_id}/members")]
pub async fn put_group_members(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
    body: ValidJson<GroupMembersRequest>,
) -> Result<web::Json<GroupView>, ApiError> {
    let (class, group) = path.into_inner();
    let class = ClassId(class);
    let request = body.0;
    let group = db(&state, move |conn| {
        let found = managed_class(conn, &caller.principal, class)?;
        let group = tt::find_group(conn, group)?
            .filter(|g| g.class_id == class.get())
            .ok_or(ApiError::NotFound)?;
        let members = check_members(conn, class, &request.student_ids)?;
        let actor = school_actor(&caller, found.school.school)?;
        Ok(tt::set_group_members(conn, &actor, &group, &members)?)
    })
    .await?;
    Ok(web::Json(GroupView::from(group)))
}

// ---------------------------------------------------------------------------------------------
// The weekly template
// ---------------------------------------------------------------------------------------------

/// Which weeks of the academic year a slot takes place in (week 1 holds its first day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WeeksName {
    Every,
    Odd,
    Even,
}

impl WeeksName {
    const fn weeks(self) -> Weeks {
        match self {
            Self::Every => Weeks::Every,
            Self::Odd => Weeks::Odd,
            Self::Even => Weeks::Even,
        }
    }

    const fn of(weeks: Weeks) -> Self {
        match weeks {
            Weeks::Every => Self::Every,
            Weeks::Odd => Self::Odd,
            Weeks::Even => Self::Even,
        }
    }

    const fn overlaps(self, other: Self) -> bool {
        matches!(
            (self, other),
            (Self::Every, _) | (_, Self::Every) | (Self::Odd, Self::Odd) | (Self::Even, Self::Even)
        )
    }
}

/// One slot of a class's weekly timetable.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotRequest {
    /// 1 (Monday) to 7 (Sunday).
    #[validate(range(
        min = 1,
        max = 7,
        message = "must be between 1 (Monday) and 7 (Sunday)"
    ))]
    #[schema(minimum = 1, maximum = 7)]
    pub weekday: i16,
    /// The lesson's number in the day, 0 to 12.
    #[validate(range(min = 0, max = 12, message = "must be between 0 and 12"))]
    #[schema(minimum = 0, maximum = 12)]
    pub number: i16,
    /// Every week (the default), or only odd or even weeks.
    #[serde(default = "every_week")]
    pub weeks: WeeksName,
    /// A subject of the school.
    pub subject_id: i64,
    /// A teacher of the school.
    pub teacher_id: i64,
    /// A group of the class for this subject; absent: the whole class.
    #[serde(default)]
    pub group_id: Option<i64>,
    #[serde(default)]
    #[validate(length(max = 50, message = "must be at most 50 characters"))]
    #[schema(max_length = 50)]
    pub room: Option<String>,
}

const fn every_week() -> WeeksName {
    WeeksName::Every
}

/// A class's weekly timetable, to replace the current one.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimetableRequest {
    /// The first day the new timetable holds; today when left out. Lessons of the old
    /// timetable from this day on that hold no entry are removed; those with grades, marks,
    /// a topic or homework are kept.
    #[serde(default)]
    pub effective_from: Option<NaiveDate>,
    #[validate(length(max = 100, message = "must hold at most 100 slots"), nested)]
    #[schema(max_items = 100)]
    pub slots: Vec<SlotRequest>,
}

/// A slot of the timetable.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotView {
    pub id: i64,
    pub weekday: i16,
    pub number: i16,
    pub weeks: WeeksName,
    pub subject_id: i64,
    pub teacher_id: i64,
    pub group_id: Option<i64>,
    pub room: Option<String>,
}

/// A class's weekly timetable.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimetableView {
    pub class_id: i64,
    /// By weekday and number.
    pub slots: Vec<SlotView>,
    /// When the timetable was just replaced: lessons of the old one removed (they held no
    /// entry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lessons_removed: Option<usize>,
    /// When the timetable was just replaced: lessons of the old one kept because they hold
    /// entries (move or cancel them by hand).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lessons_kept: Option<usize>,
}

fn timetable_view(class: ClassId, slots: Vec<tt::SlotRow>) -> TimetableView {
    TimetableView {
        class_id: class.get(),
        slots: slots
            .into_iter()
            .map(|s| SlotView {
                id: s.id,
                weekday: s.weekday,
                number: s.number,
                weeks: WeeksName::of(Weeks::parse(&s.weeks).unwrap_or(Weeks::Every)),
                subject_id: s.subject_id,
                teacher_id: s.teacher_user_id,
                group_id: s.group_id,
                room: s.room,
            })
            .collect(),
        lessons_removed: None,
        lessons_kept: None,
    }
}

/// Show a class's timetable
///
/// The class's current weekly timetable. For whoever may read the class's roster.
#[utoipa::path(
    tag = "timetable",
    params(("class_id" = i64, Path, description = "The class")),
    responses(
        (status = 200, description = "The timetable", body = TimetableView),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role may not read classes", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such class visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["roster:read"]))
)]
#[get("/classes/{class_id}/timetable")]
pub async fn get_timetable(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
) -> Result<web::Json<TimetableView>, ApiError> {
    let class = ClassId(path.into_inner());
    let slots = db(&state, move |conn| {
        readable_class(conn, &caller.principal, class, Record::Roster)?;
        Ok(tt::timetable(conn, class)?)
    })
    .await?;
    Ok(web::Json(timetable_view(class, slots)))
}

/// Checks every slot against the school and the class, and that no two slots of the same
/// students fall at the same time.
fn check_slots(
    conn: &mut DbConnection,
    school: SchoolId,
    class: ClassId,
    slots: &[SlotRequest],
) -> Result<Vec<NewSlot>, ApiError> {
    let groups = tt::class_groups(conn, class)?;
    let mut errors = Vec::new();
    let mut subjects = HashSet::new();
    let mut teachers = HashSet::new();
    for (i, slot) in slots.iter().enumerate() {
        let field = |name: &str| format!("slots[{i}].{name}");
        if subjects.insert(slot.subject_id)
            && !admin::subject_in_school(conn, school, SubjectId(slot.subject_id))?
        {
            subjects.remove(&slot.subject_id);
        }
        if !subjects.contains(&slot.subject_id) {
            errors.push(FieldError::new(
                field("subject_id"),
                "not_found",
                "no such subject in this school",
            ));
        }
        if teachers.insert(slot.teacher_id)
            && !admin::holds_role(conn, school, UserId(slot.teacher_id), Role::Teacher)?
        {
            teachers.remove(&slot.teacher_id);
        }
        if !teachers.contains(&slot.teacher_id) {
            errors.push(FieldError::new(
                field("teacher_id"),
                "not_found",
                "no teacher with this id in this school",
            ));
        }
        if let Some(group) = slot.group_id {
            match groups.iter().find(|g| g.id == group) {
                None => errors.push(FieldError::new(
                    field("group_id"),
                    "not_found",
                    "no such group in this class",
                )),
                Some(g) if g.subject_id != slot.subject_id => errors.push(FieldError::new(
                    field("group_id"),
                    "wrong_subject",
                    "the group is for another subject",
                )),
                Some(_) => {}
            }
        }
        let clash = slots[..i].iter().position(|earlier| {
            earlier.weekday == slot.weekday
                && earlier.number == slot.number
                && earlier.weeks.overlaps(slot.weeks)
                && (earlier.group_id.is_none()
                    || slot.group_id.is_none()
                    || earlier.group_id == slot.group_id)
        });
        if let Some(earlier) = clash {
            errors.push(FieldError::new(
                field("number"),
                "clash",
                format!("the same students already have slots[{earlier}] at this time"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(slots
        .iter()
        .map(|s| NewSlot {
            group: s.group_id,
            subject: SubjectId(s.subject_id),
            teacher: UserId(s.teacher_id),
            weekday: s.weekday,
            number: s.number,
            weeks: s.weeks.weeks(),
            room: s.room.clone(),
        })
        .collect())
}

/// Replace a class's timetable
///
/// Sets the class's weekly timetable from `effective_from` (today when left out): the old
/// slots retire; their lessons from that day on that hold no entry are removed, and those
/// that hold grades, marks, a topic or homework are kept (and counted in the answer). Then
/// generate the new timetable's lessons. For the school's administration; audited.
#[utoipa::path(
    tag = "timetable",
    params(("class_id" = i64, Path, description = "The class")),
    request_body = TimetableRequest,
    responses(
        (status = 200, description = "The new timetable, with what happened to the old one's lessons", body = TimetableView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such class visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A slot is invalid or clashes with another; each is named, as `slots[3].teacher_id`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/classes/{class_id}/timetable")]
pub async fn put_timetable(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    body: ValidJson<TimetableRequest>,
) -> Result<web::Json<TimetableView>, ApiError> {
    let class = ClassId(path.into_inner());
    let request = body.0;
    let replaced = db(&state, move |conn| {
        let found = managed_class(conn, &caller.principal, class)?;
        let school = found.school.school;
        let slots = check_slots(conn, school, class, &request.slots)?;
        let actor = school_actor(&caller, school)?;
        let from = request.effective_from.unwrap_or_else(|| actor.at.date());
        Ok(tt::replace_timetable(conn, &actor, class, &slots, from)?)
    })
    .await?;
    let mut view = timetable_view(class, replaced.slots);
    view.lessons_removed = Some(replaced.lessons_removed);
    view.lessons_kept = Some(replaced.lessons_kept);
    Ok(web::Json(view))
}

/// Which term's lessons to generate.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    /// A term of the class's school.
    pub term_id: i64,
    /// Generate from this day on (inside the term); the term's first day when left out.
    #[serde(default)]
    pub from: Option<NaiveDate>,
}

/// What generating did.
#[derive(Debug, Serialize, ToSchema)]
pub struct GeneratedView {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Lessons created.
    pub created: usize,
    /// Lessons generated before (kept as they are, even when moved or cancelled since).
    pub existing: usize,
    /// Slot dates skipped because they fall on a holiday.
    pub on_holidays: usize,
}

/// Generate a term's lessons
///
/// Creates the dated lessons of the class's timetable for the term (from `from` on), skipping
/// the school's holidays. Running it again creates only what is missing: a lesson the
/// timetable generated before is never made twice, even after it was moved. For the school's
/// administration; audited.
#[utoipa::path(
    tag = "timetable",
    params(("class_id" = i64, Path, description = "The class")),
    request_body = GenerateRequest,
    responses(
        (status = 200, description = "What was generated", body = GeneratedView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such class visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such term in the school, or `from` outside it", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/classes/{class_id}/timetable/lessons")]
pub async fn generate_lessons(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    body: ValidJson<GenerateRequest>,
) -> Result<web::Json<GeneratedView>, ApiError> {
    let class = ClassId(path.into_inner());
    let request = body.0;
    let view = db(&state, move |conn| {
        let found = managed_class(conn, &caller.principal, class)?;
        let school = found.school.school;
        let term = persistence::schools::list_terms(conn, school)?
            .into_iter()
            .find(|t| t.id == request.term_id)
            .ok_or_else(|| {
                ApiError::field("term_id", "not_found", "no such term in this school")
            })?;
        let from = request.from.unwrap_or(term.starts_on);
        if from < term.starts_on || from > term.ends_on {
            return Err(ApiError::field(
                "from",
                "out_of_range",
                format!(
                    "must lie inside the term ({} to {})",
                    term.starts_on, term.ends_on
                ),
            ));
        }
        let range = DateRange::new(from, term.ends_on, domain::TermDates::MAX_DAYS)
            .map_err(|e| ApiError::field("from", "out_of_range", e.to_string()))?;
        let actor = school_actor(&caller, school)?;
        let generated = tt::generate_lessons(conn, &actor, class, range)?;
        Ok(GeneratedView {
            from: range.from(),
            to: range.to(),
            created: generated.created,
            existing: generated.existing,
            on_holidays: generated.on_holidays,
        })
    })
    .await?;
    Ok(web::Json(view))
}

// ---------------------------------------------------------------------------------------------
// Holidays
// ---------------------------------------------------------------------------------------------

/// Days without lessons, both ends included.
#[derive(Debug, Serialize, ToSchema)]
pub struct HolidayView {
    pub id: i64,
    #[schema(example = "Осенние каникулы")]
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    /// When just declared: the school's lessons on those days that held no entry, now
    /// cancelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lessons_cancelled: Option<usize>,
}

impl From<tt::Holiday> for HolidayView {
    fn from(h: tt::Holiday) -> Self {
        Self {
            id: h.id,
            name: h.name,
            starts_on: h.starts_on,
            ends_on: h.ends_on,
            lessons_cancelled: None,
        }
    }
}

/// A holiday to declare.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHolidayRequest {
    #[validate(length(min = 1, max = 100, message = "must be 1 to 100 characters"))]
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    pub starts_on: NaiveDate,
    /// Not before `starts_on`, at most 120 days after it.
    pub ends_on: NaiveDate,
}

/// List the school's holidays
///
/// Every holiday the school declared, by date. For the school's administration.
#[utoipa::path(
    tag = "timetable",
    params(("school_id" = i64, Path, description = "The school")),
    responses(
        (status = 200, description = "The holidays", body = [HolidayView]),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/schools/{school_id}/holidays")]
pub async fn list_holidays(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
) -> Result<web::Json<Vec<HolidayView>>, ApiError> {
    let school = path.into_inner();
    let holidays = db(&state, move |conn| {
        managed_school(conn, &caller.principal, school)?;
        Ok(tt::holidays(conn, SchoolId(school), None)?)
    })
    .await?;
    Ok(web::Json(
        holidays.into_iter().map(HolidayView::from).collect(),
    ))
}

/// Declare a holiday
///
/// Days without lessons: generating lessons skips them, and the school's lessons on those
/// days that hold no entry yet are cancelled (the answer says how many). For the school's
/// administration; audited.
#[utoipa::path(
    tag = "timetable",
    params(("school_id" = i64, Path, description = "The school")),
    request_body = NewHolidayRequest,
    responses(
        (status = 201, description = "The holiday", body = HolidayView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The dates are reversed or span more than 120 days", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/schools/{school_id}/holidays")]
pub async fn create_holiday(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    body: ValidJson<NewHolidayRequest>,
) -> Result<HttpResponse, ApiError> {
    let school = path.into_inner();
    let request = body.0;
    let view = db(&state, move |conn| {
        managed_school(conn, &caller.principal, school)?;
        let days = DateRange::new(request.starts_on, request.ends_on, 120)
            .map_err(|e| ApiError::field("ends_on", "out_of_range", e.to_string()))?;
        let actor = school_actor(&caller, SchoolId(school))?;
        let (holiday, cancelled) = tt::add_holiday(conn, &actor, request.name.trim(), days)?;
        let mut view = HolidayView::from(holiday);
        view.lessons_cancelled = Some(cancelled);
        Ok(view)
    })
    .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Remove a holiday
///
/// Takes back a holiday (lessons it cancelled stay cancelled; generate again or restore them
/// by hand). For the school's administration; audited.
#[utoipa::path(
    tag = "timetable",
    params(
        ("school_id" = i64, Path, description = "The school"),
        ("holiday_id" = i64, Path, description = "A holiday of the school"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school, or no such holiday in it", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/schools/{school_id}/holidays/{holiday_id}")]
pub async fn delete_holiday(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (school, holiday) = path.into_inner();
    db(&state, move |conn| {
        managed_school(conn, &caller.principal, school)?;
        let actor = school_actor(&caller, SchoolId(school))?;
        if tt::remove_holiday(conn, &actor, holiday)? {
            Ok(())
        } else {
            Err(ApiError::NotFound)
        }
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
