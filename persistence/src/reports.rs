//! What the administration's reports read: counts and sums per school and term (or date
//! range), each in a few set-wise queries over indexed columns, never one query per student
//! or lesson. The arithmetic is `domain::reports`.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Integer, Nullable, Timestamp};
use domain::reports::LessonFacts;
use domain::{AcademicYearId, SchoolId};

use crate::schema::{
    attendance_marks, classes, enrollments, final_grades, lessons, login_events, role_assignments,
    students, subjects, timetable_slots, users,
};
use crate::{DbConnection, Result};

diesel::allow_columns_to_appear_in_same_group_by_clause!(
    lessons::class_id,
    attendance_marks::student_id,
    attendance_marks::mark,
);

/// A class of the year.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct ClassRow {
    pub id: i64,
    pub grade_level: i16,
    pub letter: String,
}

/// The year's classes, by grade level and letter.
///
/// # Errors
/// On a database failure.
pub fn classes_of_year(
    conn: &mut DbConnection,
    school: SchoolId,
    year: AcademicYearId,
) -> Result<Vec<ClassRow>> {
    classes::table
        .filter(classes::school_id.eq(school.get()))
        .filter(classes::academic_year_id.eq(year.get()))
        .order((classes::grade_level, classes::letter))
        .select((classes::id, classes::grade_level, classes::letter))
        .load(conn)
        .map_err(Into::into)
}

/// The school's subjects (id, name).
///
/// # Errors
/// On a database failure.
pub fn subjects(conn: &mut DbConnection, school: SchoolId) -> Result<Vec<(i64, String)>> {
    subjects::table
        .filter(subjects::school_id.eq(school.get()))
        .order(subjects::name)
        .select((subjects::id, subjects::name))
        .load(conn)
        .map_err(Into::into)
}

/// A student of a class during a period.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct ClassStudent {
    pub class_id: i64,
    pub student_id: i64,
    pub last_name: String,
    pub first_name: String,
    pub middle_name: Option<String>,
}

/// Every (class, student) of the school whose enrolment meets `from..=to`, by class and name.
///
/// # Errors
/// On a database failure.
pub fn class_students(
    conn: &mut DbConnection,
    school: SchoolId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<ClassStudent>> {
    let mut rows: Vec<ClassStudent> = enrollments::table
        .inner_join(students::table.on(students::id.eq(enrollments::student_id)))
        .filter(enrollments::school_id.eq(school.get()))
        .filter(enrollments::enrolled_on.le(to))
        .filter(
            enrollments::left_on
                .is_null()
                .or(enrollments::left_on.gt(from)),
        )
        .order((
            enrollments::class_id,
            students::last_name,
            students::first_name,
            students::id,
        ))
        .select((
            enrollments::class_id,
            enrollments::student_id,
            students::last_name,
            students::first_name,
            students::middle_name,
        ))
        .load(conn)?;
    rows.dedup_by_key(|r| (r.class_id, r.student_id));
    Ok(rows)
}

/// The (class, subject) pairs that have lessons (not cancelled) in `from..=to`.
///
/// # Errors
/// On a database failure.
pub fn class_subjects(
    conn: &mut DbConnection,
    school: SchoolId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(i64, i64)>> {
    lessons::table
        .filter(lessons::school_id.eq(school.get()))
        .filter(lessons::lesson_date.between(from, to))
        .filter(lessons::cancelled_at.is_null())
        .select((lessons::class_id, lessons::subject_id))
        .distinct()
        .order((lessons::class_id, lessons::subject_id))
        .load(conn)
        .map_err(Into::into)
}

/// The term grades set in a term: (student, subject) → grade.
///
/// # Errors
/// On a database failure.
pub fn term_grades(
    conn: &mut DbConnection,
    school: SchoolId,
    term: i64,
) -> Result<BTreeMap<(i64, i64), u8>> {
    let rows: Vec<(i64, i64, i16)> = final_grades::table
        .filter(final_grades::school_id.eq(school.get()))
        .filter(final_grades::term_id.eq(term))
        .select((
            final_grades::student_id,
            final_grades::subject_id,
            final_grades::value,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(student, subject, value)| {
            Some(((student, subject), u8::try_from(value).ok()?))
        })
        .collect())
}

/// Attendance marks of lessons (not cancelled) in `from..=to`, counted per (class of the
/// lesson, student, mark).
///
/// # Errors
/// On a database failure.
pub fn attendance_counts(
    conn: &mut DbConnection,
    school: SchoolId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(i64, i64, String, i64)>> {
    attendance_marks::table
        .inner_join(lessons::table.on(lessons::id.eq(attendance_marks::lesson_id)))
        .filter(attendance_marks::school_id.eq(school.get()))
        .filter(lessons::lesson_date.between(from, to))
        .filter(lessons::cancelled_at.is_null())
        .group_by((
            lessons::class_id,
            attendance_marks::student_id,
            attendance_marks::mark,
        ))
        .select((
            lessons::class_id,
            attendance_marks::student_id,
            attendance_marks::mark,
            count_star(),
        ))
        .load(conn)
        .map_err(Into::into)
}

#[derive(Debug, QueryableByName)]
struct LessonRow {
    #[diesel(sql_type = BigInt)]
    class_id: i64,
    #[diesel(sql_type = BigInt)]
    teacher_user_id: i64,
    #[diesel(sql_type = Date)]
    lesson_date: NaiveDate,
    #[diesel(sql_type = Integer)]
    planned: i32,
    #[diesel(sql_type = Integer)]
    kept: i32,
    #[diesel(sql_type = Nullable<Timestamp>)]
    first_entry_at: Option<NaiveDateTime>,
}

/// A lesson's facts with its class and teacher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LessonFact {
    pub class_id: i64,
    pub teacher_id: i64,
    pub facts: LessonFacts,
}

/// The facts of every lesson (not cancelled) of the school in `from..=to`, in one statement:
/// whether it is planned (topic or homework) and kept (a grade, an attendance mark, the held
/// mark or a comment), and its first entry.
///
/// # Errors
/// On a database failure.
pub fn lesson_facts(
    conn: &mut DbConnection,
    school: SchoolId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<LessonFact>> {
    // Only whole numbers and dates formatted here go into the text: nothing from a caller.
    let query = format!(
        "SELECT l.class_id, l.teacher_user_id, l.lesson_date, \
           CASE WHEN COALESCE(l.topic, '') <> '' OR COALESCE(l.homework, '') <> '' THEN 1 ELSE 0 END AS planned, \
           CASE WHEN l.held_at IS NOT NULL OR COALESCE(l.comment, '') <> '' \
             OR EXISTS (SELECT 1 FROM grades g WHERE g.lesson_id = l.id AND g.deleted_at IS NULL) \
             OR EXISTS (SELECT 1 FROM attendance_marks a WHERE a.lesson_id = l.id) THEN 1 ELSE 0 END AS kept, \
           l.first_entry_at \
         FROM lessons l \
         WHERE l.school_id = {school} AND l.lesson_date >= '{from}' AND l.lesson_date <= '{to}' \
           AND l.cancelled_at IS NULL",
        school = school.get(),
        from = from.format("%Y-%m-%d"),
        to = to.format("%Y-%m-%d"),
    );
    let rows: Vec<LessonRow> = diesel::sql_query(query).load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| LessonFact {
            class_id: r.class_id,
            teacher_id: r.teacher_user_id,
            facts: LessonFacts {
                date: r.lesson_date,
                planned: r.planned != 0,
                kept: r.kept != 0,
                first_entry_at: r.first_entry_at,
            },
        })
        .collect())
}

/// The classes (of those given) that have a current timetable slot.
///
/// # Errors
/// On a database failure.
pub fn classes_with_timetable(conn: &mut DbConnection, school: SchoolId) -> Result<Vec<i64>> {
    timetable_slots::table
        .filter(timetable_slots::school_id.eq(school.get()))
        .filter(timetable_slots::retired_at.is_null())
        .select(timetable_slots::class_id)
        .distinct()
        .load(conn)
        .map_err(Into::into)
}

/// The school's accounts (people holding a role in it), each with whether it is activated.
///
/// # Errors
/// On a database failure.
pub fn accounts(conn: &mut DbConnection, school: SchoolId) -> Result<Vec<(i64, bool)>> {
    let rows: Vec<(i64, Option<NaiveDateTime>)> = role_assignments::table
        .inner_join(users::table.on(users::id.eq(role_assignments::user_id)))
        .filter(role_assignments::school_id.eq(school.get()))
        .select((users::id, users::activated_at))
        .distinct()
        .load(conn)?;
    let mut out: Vec<(i64, bool)> = rows
        .into_iter()
        .map(|(id, at)| (id, at.is_some()))
        .collect();
    out.sort_unstable();
    out.dedup_by_key(|(id, _)| *id);
    Ok(out)
}

/// The logins of the school's people in `from..=to`, as distinct (user, day) pairs.
///
/// # Errors
/// On a database failure.
pub fn logins(
    conn: &mut DbConnection,
    school: SchoolId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(i64, NaiveDate)>> {
    let start = from.and_hms_opt(0, 0, 0).unwrap_or_default();
    let end = to
        .succ_opt()
        .unwrap_or(to)
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default();
    let people = role_assignments::table
        .filter(role_assignments::school_id.eq(school.get()))
        .select(role_assignments::user_id);
    let rows: Vec<(i64, NaiveDateTime)> = login_events::table
        .filter(login_events::logged_in_at.ge(start))
        .filter(login_events::logged_in_at.lt(end))
        .filter(login_events::user_id.eq_any(people))
        .select((login_events::user_id, login_events::logged_in_at))
        .load(conn)?;
    let mut out: Vec<(i64, NaiveDate)> = rows.into_iter().map(|(u, at)| (u, at.date())).collect();
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The names of the teachers among `ids`.
///
/// # Errors
/// On a database failure.
pub fn display_names(conn: &mut DbConnection, ids: &[i64]) -> Result<BTreeMap<i64, String>> {
    Ok(users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::display_name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect())
}

/// The schools of a municipality (id, name), by name.
///
/// # Errors
/// On a database failure.
pub fn municipality_schools(
    conn: &mut DbConnection,
    municipality: domain::MunicipalityId,
) -> Result<Vec<(i64, String)>> {
    use crate::schema::schools;
    schools::table
        .filter(schools::municipality_id.eq(municipality.get()))
        .order((schools::name, schools::id))
        .select((schools::id, schools::name))
        .load(conn)
        .map_err(Into::into)
}
