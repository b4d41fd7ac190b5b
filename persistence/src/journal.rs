//! The journal: grading scales and work types, lessons, grades with their history, and the
//! stored answers of idempotent requests.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use domain::grading::{DEFAULT_WORK_TYPES, Scale};
use domain::{ClassId, IntegratorId, SchoolId, StudentId, SubjectId, UserId};

use crate::schema::{grade_events, grade_scales, grades, idempotency_records, lessons, work_types};
use crate::{DbConnection, Expected, PersistenceError, Result};

/// A school's grading scale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleRow {
    pub id: i64,
    pub name: String,
    pub scale: Scale,
    pub is_default: bool,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = grade_scales)]
struct StoredScale {
    id: i64,
    name: String,
    kind: String,
    min_points: Option<i16>,
    max_points: Option<i16>,
    is_default: i16,
}

/// A school's work type.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct WorkType {
    pub id: i64,
    pub name: String,
    pub weight: i16,
}

/// Gives a school the 5-point (default) and pass/fail scales and the default work types, if
/// it has no scale yet.
///
/// # Errors
/// On a database failure.
pub fn ensure_grading_defaults(conn: &mut DbConnection, school: SchoolId) -> Result<()> {
    let existing: i64 = grade_scales::table
        .filter(grade_scales::school_id.eq(school.get()))
        .count()
        .get_result(conn)?;
    if existing > 0 {
        return Ok(());
    }
    for (name, kind, min, max, default) in [
        ("Пятибалльная", "points", Some(1_i16), Some(5_i16), 1_i16),
        ("Зачёт/незачёт", "pass_fail", None, None, 0),
    ] {
        diesel::insert_into(grade_scales::table)
            .values((
                grade_scales::school_id.eq(school.get()),
                grade_scales::name.eq(name),
                grade_scales::kind.eq(kind),
                grade_scales::min_points.eq(min),
                grade_scales::max_points.eq(max),
                grade_scales::is_default.eq(default),
            ))
            .execute(conn)?;
    }
    for (name, weight) in DEFAULT_WORK_TYPES {
        diesel::insert_into(work_types::table)
            .values((
                work_types::school_id.eq(school.get()),
                work_types::name.eq(name),
                work_types::weight.eq(i16::from(weight)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// What adding a scale or work type led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    Done(i64),
    /// The school already has one of that name.
    NameTaken,
}

/// Adds a points scale to the school (audited); another school's names do not matter.
///
/// # Errors
/// On a database failure.
pub fn add_scale(
    conn: &mut DbConnection,
    actor: &crate::admin::Actor,
    name: &str,
    min: i16,
    max: i16,
) -> Result<Added> {
    conn.transaction(|conn| {
        let taken: i64 = grade_scales::table
            .filter(grade_scales::school_id.eq(actor.school.get()))
            .filter(grade_scales::name.eq(name))
            .count()
            .get_result(conn)?;
        if taken > 0 {
            return Ok(Added::NameTaken);
        }
        let id: i64 = diesel::insert_into(grade_scales::table)
            .values((
                grade_scales::school_id.eq(actor.school.get()),
                grade_scales::name.eq(name),
                grade_scales::kind.eq("points"),
                grade_scales::min_points.eq(Some(min)),
                grade_scales::max_points.eq(Some(max)),
                grade_scales::is_default.eq(0_i16),
            ))
            .returning(grade_scales::id)
            .get_result(conn)?;
        crate::audit::record(
            conn,
            &crate::audit::Entry {
                owner: crate::audit::Owner::School(actor.school),
                actor: Some(actor.user),
                action: "grade_scale.added",
                target_type: "grade_scale",
                target_id: id,
                details: serde_json::json!({ "name": name, "min_points": min, "max_points": max }),
                at: actor.at,
            },
        )?;
        Ok(Added::Done(id))
    })
}

/// Adds a work type with its weight to the school (audited).
///
/// # Errors
/// On a database failure.
pub fn add_work_type(
    conn: &mut DbConnection,
    actor: &crate::admin::Actor,
    name: &str,
    weight: i16,
) -> Result<Added> {
    conn.transaction(|conn| {
        let taken: i64 = work_types::table
            .filter(work_types::school_id.eq(actor.school.get()))
            .filter(work_types::name.eq(name))
            .count()
            .get_result(conn)?;
        if taken > 0 {
            return Ok(Added::NameTaken);
        }
        let id: i64 = diesel::insert_into(work_types::table)
            .values((
                work_types::school_id.eq(actor.school.get()),
                work_types::name.eq(name),
                work_types::weight.eq(weight),
            ))
            .returning(work_types::id)
            .get_result(conn)?;
        crate::audit::record(
            conn,
            &crate::audit::Entry {
                owner: crate::audit::Owner::School(actor.school),
                actor: Some(actor.user),
                action: "work_type.added",
                target_type: "work_type",
                target_id: id,
                details: serde_json::json!({ "name": name, "weight": weight }),
                at: actor.at,
            },
        )?;
        Ok(Added::Done(id))
    })
}

/// The school's scales, by id.
///
/// # Errors
/// On a database failure or a stored scale that breaks its own rules.
pub fn scales(conn: &mut DbConnection, school: SchoolId) -> Result<Vec<ScaleRow>> {
    let rows: Vec<StoredScale> = grade_scales::table
        .filter(grade_scales::school_id.eq(school.get()))
        .order(grade_scales::id.asc())
        .select(StoredScale::as_select())
        .load(conn)?;
    rows.into_iter()
        .map(|row| {
            let scale = Scale::from_stored(
                &row.kind,
                row.min_points.map(i64::from),
                row.max_points.map(i64::from),
            )
            .map_err(|e| PersistenceError::Migration(format!("grade scale {}: {e}", row.id)))?;
            Ok(ScaleRow {
                id: row.id,
                name: row.name,
                scale,
                is_default: row.is_default != 0,
            })
        })
        .collect()
}

/// The school's work types, by id.
///
/// # Errors
/// On a database failure.
pub fn work_types(conn: &mut DbConnection, school: SchoolId) -> Result<Vec<WorkType>> {
    work_types::table
        .filter(work_types::school_id.eq(school.get()))
        .order(work_types::id.asc())
        .select((work_types::id, work_types::name, work_types::weight))
        .load(conn)
        .map_err(Into::into)
}

/// A lesson to add by hand.
#[derive(Debug, Clone)]
pub struct NewLesson<'a> {
    pub school: SchoolId,
    pub class: ClassId,
    pub subject: SubjectId,
    pub teacher: UserId,
    pub date: NaiveDate,
    pub number: i16,
    pub room: Option<&'a str>,
    pub topic: Option<&'a str>,
    pub homework: Option<&'a str>,
    /// A group of the class; `None`: the whole class.
    pub group: Option<i64>,
    pub at: NaiveDateTime,
}

/// A lesson.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = lessons)]
pub struct Lesson {
    pub id: i64,
    pub school_id: i64,
    pub class_id: i64,
    pub subject_id: i64,
    pub teacher_user_id: i64,
    pub lesson_date: NaiveDate,
    pub number: i16,
    pub room: Option<String>,
    pub topic: Option<String>,
    pub homework: Option<String>,
    pub comment: Option<String>,
    pub held_at: Option<NaiveDateTime>,
    pub cancelled_at: Option<NaiveDateTime>,
    pub first_entry_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    /// The group of the class the lesson is for; `None`: the whole class.
    pub group_id: Option<i64>,
}

impl Lesson {
    /// The fingerprint of the lesson's plan as a reader sees it: what `PATCH` changes (topic,
    /// homework, comment, room, held and cancelled marks, day, number, teacher). Grades,
    /// marks and the first-entry time are not part of it. See [`crate::precondition`].
    #[must_use]
    pub fn plan_fingerprint(&self) -> String {
        crate::precondition::fingerprint(
            "plan",
            self.id,
            &(
                &self.topic,
                &self.homework,
                &self.comment,
                &self.room,
                self.held_at,
                self.cancelled_at,
                self.lesson_date,
                self.number,
                self.teacher_user_id,
            ),
        )
    }
}

/// The fingerprint of a lesson's attendance marks, `(student id, mark)` in any order. See
/// [`crate::precondition`].
#[must_use]
pub fn marks_fingerprint(lesson: i64, marks: &[(i64, String)]) -> String {
    crate::precondition::per_student("marks", lesson, marks)
}

/// # Errors
/// On a broken reference or a database failure.
pub fn insert_lesson(conn: &mut DbConnection, new: &NewLesson<'_>) -> Result<Lesson> {
    let id: i64 = diesel::insert_into(lessons::table)
        .values((
            lessons::school_id.eq(new.school.get()),
            lessons::class_id.eq(new.class.get()),
            lessons::subject_id.eq(new.subject.get()),
            lessons::teacher_user_id.eq(new.teacher.get()),
            lessons::lesson_date.eq(new.date),
            lessons::number.eq(new.number),
            lessons::room.eq(new.room),
            lessons::topic.eq(new.topic),
            lessons::homework.eq(new.homework),
            lessons::group_id.eq(new.group),
            lessons::created_at.eq(new.at),
        ))
        .returning(lessons::id)
        .get_result(conn)?;
    find_lesson(conn, id)
}

/// The lesson, with where it lies for the access rules (its class's school and municipality
/// and its subject) and whether its day's term is locked, in one query; `None` for an unknown
/// lesson.
///
/// # Errors
/// On a database failure.
pub fn lesson_with_ref(
    conn: &mut DbConnection,
    id: i64,
) -> Result<Option<(domain::access::LessonRef, Lesson, bool)>> {
    use crate::schema::{schools, terms};
    let found: Option<(Lesson, i64, Option<NaiveDateTime>)> = lessons::table
        .inner_join(schools::table.on(schools::id.eq(lessons::school_id)))
        .left_join(
            terms::table.on(terms::school_id
                .eq(lessons::school_id)
                .and(terms::starts_on.le(lessons::lesson_date))
                .and(terms::ends_on.ge(lessons::lesson_date))),
        )
        .filter(lessons::id.eq(id))
        .select((
            Lesson::as_select(),
            schools::municipality_id,
            terms::locked_at.nullable(),
        ))
        .first(conn)
        .optional()?;
    Ok(found.map(|(lesson, municipality, term_locked)| {
        let at = crate::access::lesson_ref(
            lesson.class_id,
            lesson.subject_id,
            lesson.school_id,
            municipality,
        );
        (at, lesson, term_locked.is_some())
    }))
}

/// # Errors
/// [`PersistenceError::NotFound`] for an unknown lesson.
pub fn find_lesson(conn: &mut DbConnection, id: i64) -> Result<Lesson> {
    lessons::table
        .find(id)
        .select(Lesson::as_select())
        .first(conn)
        .map_err(Into::into)
}

/// A grade as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = grades)]
pub struct Grade {
    pub id: i64,
    pub school_id: i64,
    pub lesson_id: i64,
    pub student_id: i64,
    pub work_type_id: i64,
    pub scale_id: i64,
    pub value: String,
    pub comment: Option<String>,
    pub client_id: String,
    pub version: i32,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub deleted_at: Option<NaiveDateTime>,
}

/// The lesson's grades that are not deleted, by id.
///
/// # Errors
/// On a database failure.
pub fn lesson_grades(conn: &mut DbConnection, lesson: i64) -> Result<Vec<Grade>> {
    grades::table
        .filter(grades::lesson_id.eq(lesson))
        .filter(grades::deleted_at.is_null())
        .order(grades::id.asc())
        .select(Grade::as_select())
        .load(conn)
        .map_err(Into::into)
}

/// # Errors
/// [`PersistenceError::NotFound`] for an unknown grade.
pub fn find_grade(conn: &mut DbConnection, id: i64) -> Result<Grade> {
    grades::table
        .find(id)
        .select(Grade::as_select())
        .first(conn)
        .map_err(Into::into)
}

/// Who makes a change: a person or an integrator client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Person(UserId),
    Integrator(IntegratorId),
}

impl Actor {
    fn columns(self) -> (Option<i64>, Option<i64>) {
        match self {
            Self::Person(u) => (Some(u.get()), None),
            Self::Integrator(c) => (None, Some(c.get())),
        }
    }

    /// The idempotency records' key of the caller.
    #[must_use]
    pub fn caller_key(self) -> String {
        match self {
            Self::Person(u) => format!("user:{}", u.get()),
            Self::Integrator(c) => format!("integrator:{}", c.get()),
        }
    }
}

/// One grade to give.
#[derive(Debug, Clone)]
pub struct NewGrade {
    pub student: StudentId,
    pub work_type: i64,
    pub scale: i64,
    /// The canonical stored value (checked against its scale by the caller).
    pub value: String,
    pub comment: Option<String>,
    pub client_id: String,
}

/// An idempotency key with the hash of the request it came with.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: String,
    pub request_hash: String,
}

/// A stored answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub status: u16,
    pub body: String,
}

/// What a grading request led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Graded {
    /// The grades were written; the answer was stored under the key.
    Written(StoredAnswer),
    /// The key was used before with the same request: its first answer.
    Replayed(StoredAnswer),
    /// The key was used before with another request.
    KeyReused,
}

/// Takes the lesson's row lock (PostgreSQL) or the database's write lock (SQLite) as the
/// first statement of a transaction: two requests writing one lesson run one after the other,
/// and the second sees what the first committed.
pub(crate) fn lock_lesson(conn: &mut DbConnection, lesson: i64) -> QueryResult<usize> {
    diesel::update(lessons::table.filter(lessons::id.eq(lesson)))
        .set(lessons::first_entry_at.eq(lessons::first_entry_at))
        .execute(conn)
}

diesel::define_sql_function! {
    /// SQL's `COALESCE` of two timestamps.
    fn coalesce(
        x: diesel::sql_types::Nullable<diesel::sql_types::Timestamp>,
        y: diesel::sql_types::Nullable<diesel::sql_types::Timestamp>,
    ) -> diesel::sql_types::Nullable<diesel::sql_types::Timestamp>;
}

/// The term holding a lesson's day, if any: (its id, whether it is locked).
type LessonTerm = Option<(i64, bool)>;

/// Locks the lesson's row for the transaction and records when anything was first entered
/// for it (the "online journal" indicator), in one statement, returning the lesson as it is
/// now and the term that holds its day (read in the same statement: one round trip fewer for
/// each grading request).
///
/// The term is looked up for the lesson's school and day as `lesson` holds them (as the caller
/// read it): when the lesson was moved since, the caller refuses the entry anyway. (Not
/// correlated with the updated row: diesel writes a `RETURNING` clause's columns without
/// their table on SQLite, so `school_id` in the subquery would be the term's own.) Of
/// overlapping terms, the first made.
///
/// On PostgreSQL the term is read as of the statement's start: a term lock that commits while
/// this statement waits for the lesson's row (another entry for the same lesson committing)
/// is not seen, and the entry counts as made before the lock, as it would a moment earlier.
/// Locking a term takes no lesson's lock, so some such window is there whichever way the term
/// is read.
fn lock_for_entry_in_term(
    conn: &mut DbConnection,
    lesson: &Lesson,
    at: NaiveDateTime,
) -> Result<(Lesson, LessonTerm)> {
    use crate::schema::terms;
    let holding = || {
        terms::table
            .filter(terms::school_id.eq(lesson.school_id))
            .filter(terms::starts_on.le(lesson.lesson_date))
            .filter(terms::ends_on.ge(lesson.lesson_date))
            .order(terms::id)
    };
    let (now, term, locked): (Lesson, Option<i64>, Option<bool>) = on_backend!(
        conn,
        get_result,
        diesel::update(lessons::table.filter(lessons::id.eq(lesson.id)))
            .set(lessons::first_entry_at.eq(coalesce(lessons::first_entry_at, Some(at))))
            .returning((
                Lesson::as_returning(),
                holding().select(terms::id).single_value(),
                holding()
                    .select(terms::locked_at.is_not_null())
                    .single_value(),
            ))
    )?;
    Ok((now, term.map(|id| (id, locked.unwrap_or(false)))))
}

/// Records when anything was first entered for a lesson (the "online journal" indicator).
pub(crate) fn mark_first_entry(
    conn: &mut DbConnection,
    lesson: i64,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        lessons::table
            .filter(lessons::id.eq(lesson))
            .filter(lessons::first_entry_at.is_null()),
    )
    .set(lessons::first_entry_at.eq(at))
    .execute(conn)
}

/// Forgets up to `batch` stored answers (idempotency records) made before `before`, oldest
/// first, and says how many. A retry that comes after its answer is forgotten still writes
/// nothing twice: its grades' client ids are taken in the lesson, so it is refused with 409.
///
/// # Errors
/// On a database failure.
pub fn forget_answers(conn: &mut DbConnection, before: NaiveDateTime, batch: i64) -> Result<usize> {
    let oldest: Vec<i64> = idempotency_records::table
        .filter(idempotency_records::created_at.lt(before))
        .order(idempotency_records::created_at)
        .select(idempotency_records::id)
        .limit(batch)
        .load(conn)?;
    if oldest.is_empty() {
        return Ok(0);
    }
    diesel::delete(idempotency_records::table.filter(idempotency_records::id.eq_any(&oldest)))
        .execute(conn)
        .map_err(Into::into)
}

/// The stored answer under a key, if any ([`Graded::Replayed`] for the same request,
/// [`Graded::KeyReused`] for another).
///
/// # Errors
/// On a database failure.
pub fn stored_answer(
    conn: &mut DbConnection,
    actor: Actor,
    idempotency: &Idempotency,
) -> Result<Option<Graded>> {
    let found: Option<(String, i16, String)> = idempotency_records::table
        .filter(idempotency_records::caller.eq(actor.caller_key()))
        .filter(idempotency_records::idempotency_key.eq(&idempotency.key))
        .select((
            idempotency_records::request_hash,
            idempotency_records::status,
            idempotency_records::response_body,
        ))
        .first(conn)
        .optional()?;
    Ok(found.map(|(hash, status, body)| {
        if hash == idempotency.request_hash {
            Graded::Replayed(StoredAnswer {
                status: u16::try_from(status).unwrap_or(200),
                body,
            })
        } else {
            Graded::KeyReused
        }
    }))
}

/// Inserts the grades and their `created` events with one multi-row statement each, and
/// reads them back in the order given.
fn insert_grades(
    conn: &mut DbConnection,
    lesson: &Lesson,
    (actor, reason): (Actor, Option<&str>),
    new: &[NewGrade],
    at: NaiveDateTime,
) -> Result<Vec<Grade>> {
    if new.is_empty() {
        return Ok(Vec::new());
    }
    let (user, client) = actor.columns();
    let rows: Vec<_> = new
        .iter()
        .map(|grade| {
            (
                grades::school_id.eq(lesson.school_id),
                grades::lesson_id.eq(lesson.id),
                grades::student_id.eq(grade.student.get()),
                grades::work_type_id.eq(grade.work_type),
                grades::scale_id.eq(grade.scale),
                grades::value.eq(&grade.value),
                grades::comment.eq(&grade.comment),
                grades::client_id.eq(&grade.client_id),
                grades::created_by.eq(user),
                grades::created_at.eq(at),
                grades::updated_at.eq(at),
            )
        })
        .collect();
    let inserted: Vec<Grade> = on_backend!(
        conn,
        get_results,
        diesel::insert_into(grades::table)
            .values(&rows)
            .returning(Grade::as_returning())
    )?;
    let mut stored: std::collections::HashMap<String, Grade> = inserted
        .into_iter()
        .map(|g| (g.client_id.clone(), g))
        .collect();
    let written: Vec<Grade> = new
        .iter()
        .filter_map(|g| stored.remove(&g.client_id))
        .collect();
    if written.len() != new.len() {
        return Err(PersistenceError::Conflict(
            "a grade could not be read back".to_owned(),
        ));
    }
    let events: Vec<_> = written
        .iter()
        .map(|grade| {
            (
                grade_events::school_id.eq(lesson.school_id),
                grade_events::grade_id.eq(grade.id),
                grade_events::version.eq(1),
                grade_events::action.eq("created"),
                grade_events::new_value.eq(Some(&grade.value)),
                grade_events::new_comment.eq(&grade.comment),
                grade_events::actor_user_id.eq(user),
                grade_events::actor_client_id.eq(client),
                grade_events::reason.eq(reason),
                grade_events::occurred_at.eq(at),
            )
        })
        .collect();
    on_backend!(
        conn,
        execute,
        diesel::insert_into(grade_events::table).values(&events)
    )?;
    Ok(written)
}

/// Checked grades to give a lesson, under an idempotency key.
#[derive(Debug, Clone, Copy)]
pub struct GradeRequest<'a> {
    pub idempotency: &'a Idempotency,
    pub grades: &'a [NewGrade],
    /// The school's work type weights and averaged scales, as read to check the grades.
    pub weighing: &'a crate::averages::Weighing,
    /// Why, kept in each grade's `created` event (a locked term needs one).
    pub reason: Option<&'a str>,
    /// The caller was cleared to write into a locked term (the administration, with a
    /// reason). Otherwise a term locked since the checks refuses the grades.
    pub locked_term_cleared: bool,
}

/// Gives a lesson's grades, all or none, with one `created` history event each, marks the
/// lesson's first entry, and stores the answer `respond` builds under the idempotency key, in
/// one transaction. `weighing` is the school's, as read to check the grades (see
/// [`crate::averages::Weighing`]). A key seen before answers with its first answer instead (or
/// [`Graded::KeyReused`] for another request); of two concurrent requests with one key, one
/// writes and the other replays (through the unique keys, see below). A term locked since the
/// caller checked refuses the grades unless `locked_term_cleared`.
///
/// # Errors
/// [`PersistenceError::Conflict`] when a client id was used in this lesson by another
/// request, or the lesson was moved to another day, class or subject since `lesson` was read;
/// on a database failure. Nothing is written then.
pub fn give_grades(
    conn: &mut DbConnection,
    lesson: &Lesson,
    actor: Actor,
    request: &GradeRequest<'_>,
    at: NaiveDateTime,
    respond: &dyn Fn(&[Grade]) -> StoredAnswer,
) -> Result<Graded> {
    let GradeRequest {
        idempotency,
        grades: new,
        weighing,
        reason,
        locked_term_cleared,
    } = *request;
    let attempt = |conn: &mut DbConnection| -> Result<Graded> {
        conn.transaction(|conn| {
            let (now, term) = lock_for_entry_in_term(conn, lesson, at)?;
            if (now.lesson_date, now.class_id, now.subject_id, now.group_id)
                != (
                    lesson.lesson_date,
                    lesson.class_id,
                    lesson.subject_id,
                    lesson.group_id,
                )
            {
                return Err(PersistenceError::Conflict(
                    "the lesson was moved meanwhile: check it and send the grades again".into(),
                ));
            }
            // No second look for a stored answer: a request with this key that committed
            // since the caller looked (a retry sent while the first was on its way) holds the
            // same client ids (unique in the lesson) or the same key (unique per caller), so
            // these grades or this record are refused as a conflict, the transaction rolls
            // back whole, and the stored answer is read below. Every request writes at least
            // one grade and the record, so one of the two always meets it.
            let sums = crate::averages::LessonSums::in_term(lesson, term, weighing.clone());
            if sums.term_locked() && !locked_term_cleared {
                return Err(PersistenceError::Conflict(
                    "the term was locked meanwhile: only the school's administration may add \
                     grades to it, with a reason"
                        .into(),
                ));
            }
            let written = insert_grades(conn, lesson, (actor, reason), new, at)?;
            sums.add_all(conn, &written)?;
            crate::notifications::enqueue_grades_created(conn, lesson, &written, at)?;
            let answer = respond(&written);
            diesel::insert_into(idempotency_records::table)
                .values((
                    idempotency_records::school_id.eq(lesson.school_id),
                    idempotency_records::caller.eq(actor.caller_key()),
                    idempotency_records::idempotency_key.eq(&idempotency.key),
                    idempotency_records::request_hash.eq(&idempotency.request_hash),
                    idempotency_records::status.eq(i16::try_from(answer.status).unwrap_or(200)),
                    idempotency_records::response_body.eq(&answer.body),
                    idempotency_records::created_at.eq(at),
                ))
                .execute(conn)?;
            Ok(Graded::Written(answer))
        })
    };
    match attempt(conn) {
        // A concurrent request with the same key committed first: answer as it did.
        Err(PersistenceError::Conflict(cause)) => {
            match conn.transaction(|conn| stored_answer(conn, actor, idempotency))? {
                Some(stored) => Ok(stored),
                None => Err(PersistenceError::Conflict(cause)),
            }
        }
        other => other,
    }
}

/// One version of a grade.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = grade_events)]
pub struct GradeEvent {
    pub id: i64,
    pub school_id: i64,
    pub grade_id: i64,
    pub version: i32,
    pub action: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub old_comment: Option<String>,
    pub new_comment: Option<String>,
    pub reason: Option<String>,
    pub actor_user_id: Option<i64>,
    pub actor_client_id: Option<i64>,
    pub occurred_at: NaiveDateTime,
}

/// A grade's history, oldest first.
///
/// # Errors
/// On a database failure.
pub fn grade_history(conn: &mut DbConnection, grade: i64) -> Result<Vec<GradeEvent>> {
    grade_events::table
        .filter(grade_events::grade_id.eq(grade))
        .order(grade_events::version.asc())
        .select(GradeEvent::as_select())
        .load(conn)
        .map_err(Into::into)
}

/// A change to a grade; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct GradeChange {
    /// The new canonical value (checked against the grade's scale by the caller).
    pub value: Option<String>,
    /// `Some(None)` clears the comment.
    pub comment: Option<Option<String>>,
    pub work_type: Option<i64>,
}

impl GradeChange {
    /// Whether the grade already is as the change would make it.
    #[must_use]
    pub fn holds_for(&self, grade: &Grade) -> bool {
        self.value.as_ref().is_none_or(|v| *v == grade.value)
            && self.comment.as_ref().is_none_or(|c| *c == grade.comment)
            && self.work_type.is_none_or(|w| w == grade.work_type_id)
    }
}

/// What a change or a deletion led to.
#[derive(Debug, Clone)]
pub enum Changed {
    /// Done; the grade as it is now (for a deletion, as it was deleted).
    Done(Grade),
    /// The grade is at another version than the caller read: nothing changed.
    Stale(Grade),
    /// No such grade, or it was deleted.
    Gone,
}

/// Changes a grade at `expected` version (optimistic locking), or deletes it when `change` is
/// `None`, recording the old and new value, the actor and the reason, in one transaction. A
/// change asked at another version that already holds (a retry whose first answer was lost,
/// or the same change made by someone else) is answered [`Changed::Done`] with the grade as
/// it is, and nothing is written.
///
/// # Errors
/// On a database failure; nothing is written then.
pub fn change_grade(
    conn: &mut DbConnection,
    id: i64,
    expected: i32,
    change: Option<&GradeChange>,
    reason: Option<&str>,
    actor: Actor,
    at: NaiveDateTime,
) -> Result<Changed> {
    conn.transaction(|conn| {
        let current: Option<Grade> = grades::table
            .find(id)
            .filter(grades::deleted_at.is_null())
            .select(Grade::as_select())
            .first(conn)
            .optional()?;
        let Some(current) = current else {
            return Ok(Changed::Gone);
        };
        let stale = |grade: Grade| match change {
            _ if grade.deleted_at.is_some() => Changed::Gone,
            Some(change) if change.holds_for(&grade) => Changed::Done(grade),
            _ => Changed::Stale(grade),
        };
        if current.version != expected {
            return Ok(stale(current));
        }
        let target = grades::table
            .filter(grades::id.eq(id))
            .filter(grades::version.eq(expected))
            .filter(grades::deleted_at.is_null());
        let (action, new_value, new_comment, updated) = match change {
            Some(change) => {
                let value = change
                    .value
                    .clone()
                    .unwrap_or_else(|| current.value.clone());
                let comment = change
                    .comment
                    .clone()
                    .unwrap_or_else(|| current.comment.clone());
                let work_type = change.work_type.unwrap_or(current.work_type_id);
                let n = diesel::update(target)
                    .set((
                        grades::value.eq(&value),
                        grades::comment.eq(&comment),
                        grades::work_type_id.eq(work_type),
                        grades::version.eq(expected + 1),
                        grades::updated_at.eq(at),
                    ))
                    .execute(conn)?;
                ("changed", Some(value), comment, n)
            }
            None => {
                let n = diesel::update(target)
                    .set((
                        grades::deleted_at.eq(at),
                        grades::version.eq(expected + 1),
                        grades::updated_at.eq(at),
                    ))
                    .execute(conn)?;
                ("deleted", None, None, n)
            }
        };
        if updated == 0 {
            // Another change committed between the read and the write.
            return Ok(stale(find_grade(conn, id)?));
        }
        let lesson = find_lesson(conn, current.lesson_id)?;
        let sums = crate::averages::LessonSums::load(conn, &lesson, lesson.lesson_date)?;
        sums.apply_grade(conn, -1, &current)?;
        let changed = if action == "changed" {
            let changed = find_grade(conn, id)?;
            sums.apply_grade(conn, 1, &changed)?;
            Some(changed)
        } else {
            None
        };
        crate::notifications::enqueue_grade_changed(
            conn,
            &lesson,
            &current,
            changed.as_ref(),
            expected + 1,
            at,
        )?;
        let (user, client) = actor.columns();
        diesel::insert_into(grade_events::table)
            .values((
                grade_events::school_id.eq(current.school_id),
                grade_events::grade_id.eq(id),
                grade_events::version.eq(expected + 1),
                grade_events::action.eq(action),
                grade_events::old_value.eq(Some(&current.value)),
                grade_events::new_value.eq(&new_value),
                grade_events::old_comment.eq(&current.comment),
                grade_events::new_comment.eq(&new_comment),
                grade_events::reason.eq(reason),
                grade_events::actor_user_id.eq(user),
                grade_events::actor_client_id.eq(client),
                grade_events::occurred_at.eq(at),
            ))
            .execute(conn)?;
        Ok(Changed::Done(find_grade(conn, id)?))
    })
}

/// Whether the term holding `date` in the school is locked.
///
/// # Errors
/// On a database failure.
pub fn term_locked(conn: &mut DbConnection, school: SchoolId, date: NaiveDate) -> Result<bool> {
    Ok(crate::schools::term_on(conn, school, date)?.is_some_and(|t| t.locked_at.is_some()))
}

/// The attendance marks of a lesson: (student id, mark), by student.
///
/// # Errors
/// On a database failure.
pub fn attendance(conn: &mut DbConnection, lesson: i64) -> Result<Vec<(i64, String)>> {
    use crate::schema::attendance_marks as am;
    am::table
        .filter(am::lesson_id.eq(lesson))
        .order(am::student_id.asc())
        .select((am::student_id, am::mark))
        .load(conn)
        .map_err(Into::into)
}

/// Sets a lesson's marks to exactly `marks` (students left out are present), recording an
/// event for each mark that changes, and marks the lesson's first entry, in one transaction.
/// Setting the same marks again changes nothing. Returns how many marks changed.
///
/// # Errors
/// [`crate::PersistenceError::Stale`] when `expected` does not hold and the write would
/// change something; on a database failure; nothing is written then.
pub fn set_attendance(
    conn: &mut DbConnection,
    lesson: &Lesson,
    marks: &[(StudentId, &str)],
    reason: Option<&str>,
    expected: Expected<'_>,
    actor: Actor,
    at: NaiveDateTime,
) -> Result<usize> {
    use crate::schema::{attendance_events as ae, attendance_marks as am};
    use std::collections::BTreeMap;
    conn.transaction(|conn| {
        lock_lesson(conn, lesson.id)?;
        let stored = attendance(conn, lesson.id)?;
        let current: BTreeMap<i64, String> = stored.iter().cloned().collect();
        let wanted: BTreeMap<i64, &str> = marks.iter().map(|(s, m)| (s.get(), *m)).collect();
        expected.check_change(&current, &wanted, || marks_fingerprint(lesson.id, &stored))?;
        let students: std::collections::BTreeSet<i64> =
            current.keys().chain(wanted.keys()).copied().collect();
        let (user, client) = actor.columns();
        let mut changed = 0;
        let mut announced = Vec::new();
        for student in students {
            let old = current.get(&student).map(String::as_str);
            let new = wanted.get(&student).copied();
            if old == new {
                continue;
            }
            changed += 1;
            let row = am::table
                .filter(am::lesson_id.eq(lesson.id))
                .filter(am::student_id.eq(student));
            match (old, new) {
                (_, None) => {
                    diesel::delete(row).execute(conn)?;
                }
                (None, Some(mark)) => {
                    diesel::insert_into(am::table)
                        .values((
                            am::school_id.eq(lesson.school_id),
                            am::lesson_id.eq(lesson.id),
                            am::student_id.eq(student),
                            am::mark.eq(mark),
                            am::updated_at.eq(at),
                        ))
                        .execute(conn)?;
                }
                (Some(_), Some(mark)) => {
                    diesel::update(row)
                        .set((am::mark.eq(mark), am::updated_at.eq(at)))
                        .execute(conn)?;
                }
            }
            let event: i64 = diesel::insert_into(ae::table)
                .values((
                    ae::school_id.eq(lesson.school_id),
                    ae::lesson_id.eq(lesson.id),
                    ae::student_id.eq(student),
                    ae::old_mark.eq(old),
                    ae::new_mark.eq(new),
                    ae::reason.eq(reason),
                    ae::actor_user_id.eq(user),
                    ae::actor_client_id.eq(client),
                    ae::occurred_at.eq(at),
                ))
                .returning(ae::id)
                .get_result(conn)?;
            // An absence or lateness is announced; a mark taken back is not.
            if let Some(mark) = new {
                announced.push((student, mark.to_owned(), event));
            }
        }
        if changed > 0 {
            mark_first_entry(conn, lesson.id, at)?;
        }
        crate::notifications::enqueue_attendance(conn, lesson, &announced, at)?;
        Ok(changed)
    })
}

/// One change of an attendance mark.
#[derive(Debug, Clone, Queryable)]
pub struct AttendanceEvent {
    pub student_id: i64,
    pub old_mark: Option<String>,
    pub new_mark: Option<String>,
    pub reason: Option<String>,
    pub actor_user_id: Option<i64>,
    pub actor_client_id: Option<i64>,
    pub occurred_at: NaiveDateTime,
}

/// A lesson's attendance changes, oldest first.
///
/// # Errors
/// On a database failure.
pub fn attendance_history(conn: &mut DbConnection, lesson: i64) -> Result<Vec<AttendanceEvent>> {
    use crate::schema::attendance_events as ae;
    ae::table
        .filter(ae::lesson_id.eq(lesson))
        .order(ae::id.asc())
        .select((
            ae::student_id,
            ae::old_mark,
            ae::new_mark,
            ae::reason,
            ae::actor_user_id,
            ae::actor_client_id,
            ae::occurred_at,
        ))
        .load(conn)
        .map_err(Into::into)
}
