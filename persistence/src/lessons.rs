//! A lesson's plan (topic, homework, held mark, comment, moving and cancelling), individual
//! homework, and the reading side of the journal: a teacher's lessons, a student's diary and
//! a class's journal page.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use domain::{ClassId, DateRange, SchoolId, StudentId, SubjectId, UserId};
use serde_json::{Map, Value, json};

use crate::audit::{self, Owner};
use crate::journal::{Actor, Lesson, lock_lesson, mark_first_entry};
use crate::notifications::Homework;
use crate::schema::{
    attendance_marks, class_groups, classes, enrollments, grade_scales, grades, group_members,
    individual_homework, lessons, students, subjects, users, work_types,
};
use crate::timetable::{Holiday, holidays};
use crate::{DbConnection, Expected, Result};

// ---------------------------------------------------------------------------------------------
// Writing a lesson's plan
// ---------------------------------------------------------------------------------------------

/// A change to a lesson: `None` leaves a field as it is; `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct LessonPatch {
    pub topic: Option<Option<String>>,
    pub homework: Option<Option<String>>,
    pub comment: Option<Option<String>>,
    pub room: Option<Option<String>>,
    pub held: Option<bool>,
    pub cancelled: Option<bool>,
    pub date: Option<NaiveDate>,
    pub number: Option<i16>,
    pub teacher: Option<UserId>,
}

fn audit_actor(actor: Actor) -> (Option<UserId>, Option<i64>) {
    match actor {
        Actor::Person(user) => (Some(user), None),
        Actor::Integrator(client) => (None, Some(client.get())),
    }
}

/// Applies `patch` to the lesson in one transaction: the fields that really change are
/// recorded in the school's audit trail with their old and new values (and `reason`), and
/// the first topic, homework, comment or held mark sets the lesson's first entry time. New or
/// changed homework is announced to the families of the lesson's students (outbox rows in the
/// same transaction). Returns the lesson as it now is.
///
/// # Errors
/// [`crate::PersistenceError::Stale`] when `expected` does not hold and the write would
/// change something; on a database failure; nothing is written then.
pub fn update_lesson(
    conn: &mut DbConnection,
    lesson: &Lesson,
    patch: &LessonPatch,
    reason: Option<&str>,
    expected: Expected<'_>,
    actor: Actor,
    at: NaiveDateTime,
) -> Result<Lesson> {
    conn.transaction(|conn| {
        lock_lesson(conn, lesson.id)?;
        let current = crate::journal::find_lesson(conn, lesson.id)?;
        let mut changes = Map::new();
        let mut note = |field: &str, old: Value, new: Value| {
            if old != new {
                changes.insert(field.to_owned(), json!({ "old": old, "new": new }));
            }
        };
        let text = |new: &Option<Option<String>>, old: &Option<String>| {
            new.clone().unwrap_or_else(|| old.clone())
        };
        let topic = text(&patch.topic, &current.topic);
        let homework = text(&patch.homework, &current.homework);
        let comment = text(&patch.comment, &current.comment);
        let room = text(&patch.room, &current.room);
        let held_at = match patch.held {
            Some(true) => current.held_at.or(Some(at)),
            Some(false) => None,
            None => current.held_at,
        };
        let cancelled_at = match patch.cancelled {
            Some(true) => current.cancelled_at.or(Some(at)),
            Some(false) => None,
            None => current.cancelled_at,
        };
        let date = patch.date.unwrap_or(current.lesson_date);
        let number = patch.number.unwrap_or(current.number);
        let teacher = patch.teacher.map_or(current.teacher_user_id, |t| t.get());
        note("topic", json!(current.topic), json!(topic));
        note("homework", json!(current.homework), json!(homework));
        note("comment", json!(current.comment), json!(comment));
        note("room", json!(current.room), json!(room));
        note(
            "held",
            json!(current.held_at.is_some()),
            json!(held_at.is_some()),
        );
        note(
            "cancelled",
            json!(current.cancelled_at.is_some()),
            json!(cancelled_at.is_some()),
        );
        note("date", json!(current.lesson_date), json!(date));
        note("number", json!(current.number), json!(number));
        note("teacher_id", json!(current.teacher_user_id), json!(teacher));
        // A patch that changes nothing is answered as done, whatever was read (a retry whose
        // first answer was lost); a change needs the plan to be as the caller read it.
        if changes.is_empty() {
            return Ok(current);
        }
        expected.check(&current.plan_fingerprint())?;
        diesel::update(lessons::table.filter(lessons::id.eq(lesson.id)))
            .set((
                lessons::topic.eq(&topic),
                lessons::homework.eq(&homework),
                lessons::comment.eq(&comment),
                lessons::room.eq(&room),
                lessons::held_at.eq(held_at),
                lessons::cancelled_at.eq(cancelled_at),
                lessons::lesson_date.eq(date),
                lessons::number.eq(number),
                lessons::teacher_user_id.eq(teacher),
            ))
            .execute(conn)?;
        if date != current.lesson_date {
            // The lesson's grades count in the term of its new date.
            let from = crate::averages::LessonSums::load(conn, &current, current.lesson_date)?;
            let to = crate::averages::LessonSums::load(conn, &current, date)?;
            if !from.same_term(&to) {
                for grade in crate::journal::lesson_grades(conn, lesson.id)? {
                    from.apply_grade(conn, -1, &grade)?;
                    to.apply_grade(conn, 1, &grade)?;
                }
            }
        }
        let entered = [&topic, &homework, &comment]
            .iter()
            .any(|t| t.as_deref().is_some_and(|t| !t.is_empty()))
            || held_at.is_some();
        if entered {
            mark_first_entry(conn, lesson.id, at)?;
        }
        let (user, client) = audit_actor(actor);
        let mut details = json!({ "changes": changes, "reason": reason });
        if let Some(client) = client {
            details["integrator_id"] = json!(client);
        }
        audit::record(
            conn,
            &audit::Entry {
                owner: Owner::School(SchoolId(lesson.school_id)),
                actor: user,
                action: "lesson.changed",
                target_type: "lesson",
                target_id: lesson.id,
                details,
                at,
            },
        )?;
        let updated = crate::journal::find_lesson(conn, lesson.id)?;
        if let Some(text) = homework.as_deref().filter(|h| !h.is_empty())
            && current.homework.as_deref() != Some(text)
            && updated.cancelled_at.is_none()
        {
            let students = lesson_students(conn, &updated)?;
            crate::notifications::enqueue_homework(
                conn,
                &updated,
                Homework::Class {
                    students: &students,
                    text,
                },
                at,
            )?;
        }
        Ok(updated)
    })
}

/// The students of a lesson: those enrolled in its class on its day, and of its group when it
/// is a group's lesson.
///
/// # Errors
/// On a database failure.
pub fn lesson_students(conn: &mut DbConnection, lesson: &Lesson) -> Result<BTreeSet<i64>> {
    let mut students: BTreeSet<i64> =
        crate::people::class_students(conn, ClassId(lesson.class_id), lesson.lesson_date)?
            .into_iter()
            .map(|s| s.id)
            .collect();
    if let Some(group) = lesson.group_id {
        let members: HashSet<i64> = group_members::table
            .filter(group_members::group_id.eq(group))
            .select(group_members::student_id)
            .load::<i64>(conn)?
            .into_iter()
            .collect();
        students.retain(|s| members.contains(s));
    }
    Ok(students)
}

/// A lesson's individual homework: (student id, homework), by student.
///
/// # Errors
/// On a database failure.
pub fn individual_homework(conn: &mut DbConnection, lesson: i64) -> Result<Vec<(i64, String)>> {
    individual_homework::table
        .filter(individual_homework::lesson_id.eq(lesson))
        .order(individual_homework::student_id)
        .select((
            individual_homework::student_id,
            individual_homework::homework,
        ))
        .load(conn)
        .map_err(Into::into)
}

/// The fingerprint of a lesson's individual homework, `(student id, homework)` in any order.
/// See [`crate::precondition`].
#[must_use]
pub fn homework_fingerprint(lesson: i64, items: &[(i64, String)]) -> String {
    crate::precondition::per_student("homework", lesson, items)
}

/// Sets the lesson's individual homework to exactly `items` (students left out have none),
/// auditing what changed, marking the lesson's first entry and announcing each new or changed
/// homework to that student's family alone, in one transaction. Setting the same again
/// changes nothing. Returns how many students' homework changed.
///
/// # Errors
/// [`crate::PersistenceError::Stale`] when `expected` does not hold and the write would
/// change something; on a database failure; nothing is written then.
pub fn set_individual_homework(
    conn: &mut DbConnection,
    lesson: &Lesson,
    items: &[(StudentId, String)],
    expected: Expected<'_>,
    actor: Actor,
    at: NaiveDateTime,
) -> Result<usize> {
    conn.transaction(|conn| {
        lock_lesson(conn, lesson.id)?;
        let stored = individual_homework(conn, lesson.id)?;
        let current: BTreeMap<i64, String> = stored.iter().cloned().collect();
        let wanted: BTreeMap<i64, &str> =
            items.iter().map(|(s, h)| (s.get(), h.as_str())).collect();
        expected.check_change(&current, &wanted, || {
            homework_fingerprint(lesson.id, &stored)
        })?;
        let (user, client) = audit_actor(actor);
        let mut changes = Map::new();
        let mut assigned = Vec::new();
        for student in current.keys().chain(wanted.keys()).collect::<HashSet<_>>() {
            let old = current.get(student).map(String::as_str);
            let new = wanted.get(student).copied();
            if old == new {
                continue;
            }
            changes.insert(student.to_string(), json!({ "old": old, "new": new }));
            if let Some(text) = new {
                assigned.push((*student, text.to_owned()));
            }
            let row = individual_homework::table
                .filter(individual_homework::lesson_id.eq(lesson.id))
                .filter(individual_homework::student_id.eq(student));
            match (old, new) {
                (_, None) => {
                    diesel::delete(row).execute(conn)?;
                }
                (None, Some(text)) => {
                    diesel::insert_into(individual_homework::table)
                        .values((
                            individual_homework::school_id.eq(lesson.school_id),
                            individual_homework::lesson_id.eq(lesson.id),
                            individual_homework::student_id.eq(student),
                            individual_homework::homework.eq(text),
                            individual_homework::created_by.eq(user.map(UserId::get)),
                            individual_homework::created_at.eq(at),
                            individual_homework::updated_at.eq(at),
                        ))
                        .execute(conn)?;
                }
                (Some(_), Some(text)) => {
                    diesel::update(row)
                        .set((
                            individual_homework::homework.eq(text),
                            individual_homework::updated_at.eq(at),
                        ))
                        .execute(conn)?;
                }
            }
        }
        if changes.is_empty() {
            return Ok(0);
        }
        mark_first_entry(conn, lesson.id, at)?;
        let mut details = json!({ "students": changes });
        if let Some(client) = client {
            details["integrator_id"] = json!(client);
        }
        audit::record(
            conn,
            &audit::Entry {
                owner: Owner::School(SchoolId(lesson.school_id)),
                actor: user,
                action: "lesson.individual_homework_set",
                target_type: "lesson",
                target_id: lesson.id,
                details,
                at,
            },
        )?;
        assigned.sort_unstable();
        crate::notifications::enqueue_homework(conn, lesson, Homework::Individual(&assigned), at)?;
        Ok(changes.len())
    })
}

// ---------------------------------------------------------------------------------------------
// A teacher's lessons
// ---------------------------------------------------------------------------------------------

/// Where a lesson stands in date order: the cursor of a page of lessons.
pub type LessonKey = (NaiveDate, i16, i64);

/// A lesson in a list: with its class and subject named.
#[derive(Debug, Clone, Queryable)]
pub struct LessonItem {
    pub id: i64,
    pub school_id: i64,
    pub class_id: i64,
    pub group_id: Option<i64>,
    pub subject_id: i64,
    pub lesson_date: NaiveDate,
    pub number: i16,
    pub room: Option<String>,
    pub topic: Option<String>,
    pub homework: Option<String>,
    pub held_at: Option<NaiveDateTime>,
    pub cancelled_at: Option<NaiveDateTime>,
    pub first_entry_at: Option<NaiveDateTime>,
    pub grade_level: i16,
    pub letter: String,
    pub subject_name: String,
}

impl LessonItem {
    #[must_use]
    pub fn key(&self) -> LessonKey {
        (self.lesson_date, self.number, self.id)
    }
}

/// The lessons a teacher gives in `range`, by date, number and id, `limit` of them after
/// `after`.
///
/// # Errors
/// On a database failure.
pub fn teacher_lessons(
    conn: &mut DbConnection,
    teacher: UserId,
    range: DateRange,
    after: Option<LessonKey>,
    limit: i64,
) -> Result<Vec<LessonItem>> {
    let mut query = lessons::table
        .inner_join(classes::table.on(classes::id.eq(lessons::class_id)))
        .inner_join(subjects::table.on(subjects::id.eq(lessons::subject_id)))
        .filter(lessons::teacher_user_id.eq(teacher.get()))
        .filter(lessons::lesson_date.between(range.from(), range.to()))
        .into_boxed();
    if let Some((date, number, id)) = after {
        query = query.filter(
            lessons::lesson_date
                .gt(date)
                .or(lessons::lesson_date.eq(date).and(
                    lessons::number
                        .gt(number)
                        .or(lessons::number.eq(number).and(lessons::id.gt(id))),
                )),
        );
    }
    query
        .order((lessons::lesson_date, lessons::number, lessons::id))
        .limit(limit)
        .select((
            lessons::id,
            lessons::school_id,
            lessons::class_id,
            lessons::group_id,
            lessons::subject_id,
            lessons::lesson_date,
            lessons::number,
            lessons::room,
            lessons::topic,
            lessons::homework,
            lessons::held_at,
            lessons::cancelled_at,
            lessons::first_entry_at,
            classes::grade_level,
            classes::letter,
            subjects::name,
        ))
        .load(conn)
        .map_err(Into::into)
}

// ---------------------------------------------------------------------------------------------
// The diary
// ---------------------------------------------------------------------------------------------

/// A lesson as the diary shows it.
#[derive(Debug, Clone, Queryable)]
pub struct DiaryLesson {
    pub id: i64,
    pub class_id: i64,
    pub group_id: Option<i64>,
    pub subject_id: i64,
    pub subject_name: String,
    pub teacher_id: i64,
    pub teacher_name: String,
    pub lesson_date: NaiveDate,
    pub number: i16,
    pub room: Option<String>,
    pub topic: Option<String>,
    pub homework: Option<String>,
    pub held_at: Option<NaiveDateTime>,
    pub cancelled_at: Option<NaiveDateTime>,
}

/// A student's grade as the diary shows it: with its work type, weight and scale kind.
#[derive(Debug, Clone, Queryable)]
pub struct DiaryGrade {
    pub id: i64,
    pub lesson_id: i64,
    pub value: String,
    pub comment: Option<String>,
    pub work_type_id: i64,
    pub work_type: String,
    pub weight: i16,
    pub scale_id: i64,
    pub scale_kind: String,
    pub scale_is_default: i16,
    pub created_at: NaiveDateTime,
}

/// Everything a student's diary shows for a range of days.
#[derive(Debug, Clone, Default)]
pub struct Diary {
    pub lessons: Vec<DiaryLesson>,
    pub grades: Vec<DiaryGrade>,
    /// (lesson id, mark) of the lessons the student was not simply present at.
    pub attendance: HashMap<i64, String>,
    /// (lesson id, homework) set for this student alone.
    pub individual_homework: HashMap<i64, String>,
    pub holidays: Vec<Holiday>,
}

/// The student's diary for `range`: the lessons of the classes they were enrolled in on each
/// lesson's day (a group's lessons only for its members), with their grades, attendance and
/// their own individual homework.
///
/// # Errors
/// On a database failure.
pub fn diary(
    conn: &mut DbConnection,
    school: SchoolId,
    student: StudentId,
    range: DateRange,
) -> Result<Diary> {
    // The lessons of the classes the student was in on each lesson's day (one enrolment at a
    // time: a student's enrolments in a class do not overlap), a group's only for its members.
    let lessons: Vec<DiaryLesson> = lessons::table
        .inner_join(
            enrollments::table.on(enrollments::class_id
                .eq(lessons::class_id)
                .and(enrollments::student_id.eq(student.get()))
                .and(enrollments::enrolled_on.le(lessons::lesson_date))
                .and(
                    enrollments::left_on
                        .is_null()
                        .or(enrollments::left_on.gt(lessons::lesson_date.nullable())),
                )),
        )
        .inner_join(subjects::table.on(subjects::id.eq(lessons::subject_id)))
        .inner_join(users::table.on(users::id.eq(lessons::teacher_user_id)))
        .filter(lessons::lesson_date.between(range.from(), range.to()))
        .filter(
            lessons::group_id.is_null().or(lessons::group_id.eq_any(
                group_members::table
                    .filter(group_members::student_id.eq(student.get()))
                    .select(group_members::group_id.nullable()),
            )),
        )
        .order((lessons::lesson_date, lessons::number, lessons::id))
        .select((
            lessons::id,
            lessons::class_id,
            lessons::group_id,
            lessons::subject_id,
            subjects::name,
            lessons::teacher_user_id,
            users::display_name,
            lessons::lesson_date,
            lessons::number,
            lessons::room,
            lessons::topic,
            lessons::homework,
            lessons::held_at,
            lessons::cancelled_at,
        ))
        .load::<DiaryLesson>(conn)?;
    // The lessons of the range of every class the student was ever in: a superset of the
    // lessons above, as a subquery rather than their ids, so that the statements below have
    // the same text each time and are prepared once per connection (SQLite writes a list of
    // ids out as one parameter each). What falls outside the lessons above is dropped below.
    let in_range = || {
        lessons::table
            .filter(lessons::lesson_date.between(range.from(), range.to()))
            .filter(
                lessons::class_id.eq_any(
                    enrollments::table
                        .filter(enrollments::student_id.eq(student.get()))
                        .select(enrollments::class_id),
                ),
            )
            .select(lessons::id)
    };
    let shown: HashSet<i64> = lessons.iter().map(|l| l.id).collect();
    let mut grades: Vec<DiaryGrade> = grades::table
        .inner_join(work_types::table.on(work_types::id.eq(grades::work_type_id)))
        .inner_join(grade_scales::table.on(grade_scales::id.eq(grades::scale_id)))
        .filter(grades::student_id.eq(student.get()))
        .filter(grades::lesson_id.eq_any(in_range()))
        .filter(grades::deleted_at.is_null())
        .order(grades::id)
        .select((
            grades::id,
            grades::lesson_id,
            grades::value,
            grades::comment,
            grades::work_type_id,
            work_types::name,
            work_types::weight,
            grades::scale_id,
            grade_scales::kind,
            grade_scales::is_default,
            grades::created_at,
        ))
        .load(conn)?;
    grades.retain(|g| shown.contains(&g.lesson_id));
    // The student's attendance marks and own homework in the lessons, in one query: `true`
    // marks an attendance mark.
    let marks = attendance_marks::table
        .filter(attendance_marks::student_id.eq(student.get()))
        .filter(attendance_marks::lesson_id.eq_any(in_range()))
        .select((
            attendance_marks::lesson_id,
            true.into_sql::<diesel::sql_types::Bool>(),
            attendance_marks::mark,
        ));
    let own = individual_homework::table
        .filter(individual_homework::student_id.eq(student.get()))
        .filter(individual_homework::lesson_id.eq_any(in_range()))
        .select((
            individual_homework::lesson_id,
            false.into_sql::<diesel::sql_types::Bool>(),
            individual_homework::homework,
        ));
    let mut attendance = HashMap::new();
    let mut individual = HashMap::new();
    let found: Vec<(i64, bool, String)> = on_backend!(conn, load, marks.union_all(own))?;
    for (lesson, is_mark, text) in found {
        if !shown.contains(&lesson) {
            continue;
        }
        if is_mark {
            attendance.insert(lesson, text);
        } else {
            individual.insert(lesson, text);
        }
    }
    Ok(Diary {
        lessons,
        grades,
        attendance,
        individual_homework: individual,
        holidays: holidays(conn, school, Some(range))?,
    })
}

// ---------------------------------------------------------------------------------------------
// The journal page
// ---------------------------------------------------------------------------------------------

/// A student on a journal page, with the days of the page's range they were in the class.
#[derive(Debug, Clone, Queryable)]
pub struct PageStudent {
    pub id: i64,
    pub last_name: String,
    pub first_name: String,
    pub enrolled_on: NaiveDate,
    pub left_on: Option<NaiveDate>,
}

/// A grade on a journal page.
#[derive(Debug, Clone, Queryable)]
pub struct PageGrade {
    pub id: i64,
    pub lesson_id: i64,
    pub student_id: i64,
    pub work_type_id: i64,
    pub scale_id: i64,
    pub value: String,
    pub comment: Option<String>,
    pub version: i32,
}

/// A class × subject page of the journal over a range of days.
#[derive(Debug, Clone, Default)]
pub struct JournalPage {
    pub lessons: Vec<DiaryLesson>,
    pub students: Vec<PageStudent>,
    pub grades: Vec<PageGrade>,
    /// (lesson id, student id, mark).
    pub attendance: Vec<(i64, i64, String)>,
    /// The members of the groups whose lessons are on the page: (group id, student id).
    pub group_members: Vec<(i64, i64)>,
}

/// The class's lessons of the subject in `range` with every grade and mark, and the students
/// enrolled at any time in the range (a student who left keeps their row, with the dates).
///
/// # Errors
/// On a database failure.
pub fn journal_page(
    conn: &mut DbConnection,
    class: ClassId,
    subject: SubjectId,
    range: DateRange,
) -> Result<JournalPage> {
    let lessons: Vec<DiaryLesson> = lessons::table
        .inner_join(subjects::table.on(subjects::id.eq(lessons::subject_id)))
        .inner_join(users::table.on(users::id.eq(lessons::teacher_user_id)))
        .filter(lessons::class_id.eq(class.get()))
        .filter(lessons::subject_id.eq(subject.get()))
        .filter(lessons::lesson_date.between(range.from(), range.to()))
        .order((lessons::lesson_date, lessons::number, lessons::id))
        .select((
            lessons::id,
            lessons::class_id,
            lessons::group_id,
            lessons::subject_id,
            subjects::name,
            lessons::teacher_user_id,
            users::display_name,
            lessons::lesson_date,
            lessons::number,
            lessons::room,
            lessons::topic,
            lessons::homework,
            lessons::held_at,
            lessons::cancelled_at,
        ))
        .load(conn)?;
    let ids: Vec<i64> = lessons.iter().map(|l| l.id).collect();
    let students = students::table
        .inner_join(enrollments::table.on(enrollments::student_id.eq(students::id)))
        .filter(enrollments::class_id.eq(class.get()))
        .filter(enrollments::enrolled_on.le(range.to()))
        .filter(
            enrollments::left_on
                .is_null()
                .or(enrollments::left_on.gt(range.from())),
        )
        .order((
            students::last_name,
            students::first_name,
            students::id,
            enrollments::enrolled_on,
        ))
        .select((
            students::id,
            students::last_name,
            students::first_name,
            enrollments::enrolled_on,
            enrollments::left_on,
        ))
        .load(conn)?;
    let grades = grades::table
        .filter(grades::lesson_id.eq_any(&ids))
        .filter(grades::deleted_at.is_null())
        .order(grades::id)
        .select((
            grades::id,
            grades::lesson_id,
            grades::student_id,
            grades::work_type_id,
            grades::scale_id,
            grades::value,
            grades::comment,
            grades::version,
        ))
        .load(conn)?;
    let attendance = attendance_marks::table
        .filter(attendance_marks::lesson_id.eq_any(&ids))
        .order((attendance_marks::lesson_id, attendance_marks::student_id))
        .select((
            attendance_marks::lesson_id,
            attendance_marks::student_id,
            attendance_marks::mark,
        ))
        .load(conn)?;
    let group_ids: Vec<i64> = lessons.iter().filter_map(|l| l.group_id).collect();
    let group_members = group_members::table
        .inner_join(class_groups::table.on(class_groups::id.eq(group_members::group_id)))
        .filter(group_members::group_id.eq_any(&group_ids))
        .order((group_members::group_id, group_members::student_id))
        .select((group_members::group_id, group_members::student_id))
        .load(conn)?;
    Ok(JournalPage {
        lessons,
        students,
        grades,
        attendance,
        group_members,
    })
}
