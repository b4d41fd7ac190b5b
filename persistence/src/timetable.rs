//! The timetable: groups within a class, the school's holidays, each class's weekly template
//! and the dated lessons it generates.

use std::collections::{BTreeMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use domain::timetable::{Slot, Weeks, weekday};
use domain::{ClassId, DateRange, SchoolId, StudentId, SubjectId, UserId};
use serde_json::json;

use crate::admin::Actor;
use crate::audit::{self, Owner};
use crate::schema::{
    attendance_marks, class_groups, classes, enrollments, generated_lessons, grades, group_members,
    holidays, individual_homework, lessons, timetable_slots,
};
use crate::{DbConnection, PersistenceError, Result};

/// Adds an entry to the actor's school's audit trail.
pub(crate) fn record(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &str,
    target: (&str, i64),
    details: serde_json::Value,
) -> Result<()> {
    audit::record(
        conn,
        &audit::Entry {
            owner: Owner::School(actor.school),
            actor: Some(actor.user),
            action,
            target_type: target.0,
            target_id: target.1,
            details,
            at: actor.at,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Groups
// ---------------------------------------------------------------------------------------------

/// A group of a class for a subject, with its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: i64,
    pub class_id: i64,
    pub subject_id: i64,
    pub name: String,
    pub members: Vec<i64>,
}

/// The groups of a class, by subject and name.
///
/// # Errors
/// On a database failure.
pub fn class_groups(conn: &mut DbConnection, class: ClassId) -> Result<Vec<Group>> {
    let rows: Vec<(i64, i64, i64, String)> = class_groups::table
        .filter(class_groups::class_id.eq(class.get()))
        .order((
            class_groups::subject_id,
            class_groups::name,
            class_groups::id,
        ))
        .select((
            class_groups::id,
            class_groups::class_id,
            class_groups::subject_id,
            class_groups::name,
        ))
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let mut members: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for (group, student) in group_members::table
        .filter(group_members::group_id.eq_any(&ids))
        .order(group_members::student_id)
        .select((group_members::group_id, group_members::student_id))
        .load::<(i64, i64)>(conn)?
    {
        members.entry(group).or_default().push(student);
    }
    Ok(rows
        .into_iter()
        .map(|(id, class_id, subject_id, name)| Group {
            id,
            class_id,
            subject_id,
            name,
            members: members.remove(&id).unwrap_or_default(),
        })
        .collect())
}

/// Which of `students` are enrolled in `class` on `on`.
///
/// # Errors
/// On a database failure.
pub fn enrolled_in_class(
    conn: &mut DbConnection,
    class: ClassId,
    students: &[i64],
    on: NaiveDate,
) -> Result<HashSet<i64>> {
    Ok(enrollments::table
        .filter(enrollments::class_id.eq(class.get()))
        .filter(enrollments::student_id.eq_any(students))
        .filter(enrollments::enrolled_on.le(on))
        .filter(
            enrollments::left_on
                .is_null()
                .or(enrollments::left_on.gt(on)),
        )
        .select(enrollments::student_id)
        .load::<i64>(conn)?
        .into_iter()
        .collect())
}

/// Creates a group of the class for the subject with these members (audited).
///
/// # Errors
/// [`PersistenceError::Conflict`] when the class already has a group of that name for the
/// subject; a database failure otherwise.
pub fn create_group(
    conn: &mut DbConnection,
    actor: &Actor,
    class: ClassId,
    subject: SubjectId,
    name: &str,
    members: &[StudentId],
) -> Result<Group> {
    conn.transaction(|conn| {
        let id: i64 = diesel::insert_into(class_groups::table)
            .values((
                class_groups::school_id.eq(actor.school.get()),
                class_groups::class_id.eq(class.get()),
                class_groups::subject_id.eq(subject.get()),
                class_groups::name.eq(name),
                class_groups::created_at.eq(actor.at),
            ))
            .returning(class_groups::id)
            .get_result(conn)?;
        insert_members(conn, actor.school, id, members)?;
        record(
            conn,
            actor,
            "group.created",
            ("group", id),
            json!({ "class_id": class.get(), "subject_id": subject.get(), "name": name,
                    "members": members.iter().map(|s| s.get()).collect::<Vec<_>>() }),
        )?;
        find_group(conn, id)?.ok_or(PersistenceError::NotFound)
    })
}

fn insert_members(
    conn: &mut DbConnection,
    school: SchoolId,
    group: i64,
    members: &[StudentId],
) -> Result<()> {
    // One statement per row: a multi-row INSERT does not build for the multi-backend
    // connection.
    for student in members {
        diesel::insert_into(group_members::table)
            .values((
                group_members::school_id.eq(school.get()),
                group_members::group_id.eq(group),
                group_members::student_id.eq(student.get()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// A group by id.
///
/// # Errors
/// On a database failure.
pub fn find_group(conn: &mut DbConnection, id: i64) -> Result<Option<Group>> {
    let class: Option<i64> = class_groups::table
        .find(id)
        .select(class_groups::class_id)
        .first(conn)
        .optional()?;
    let Some(class) = class else {
        return Ok(None);
    };
    Ok(class_groups(conn, ClassId(class))?
        .into_iter()
        .find(|g| g.id == id))
}

/// Replaces a group's members (audited with the old and new lists).
///
/// # Errors
/// On a database failure.
pub fn set_group_members(
    conn: &mut DbConnection,
    actor: &Actor,
    group: &Group,
    members: &[StudentId],
) -> Result<Group> {
    conn.transaction(|conn| {
        diesel::delete(group_members::table.filter(group_members::group_id.eq(group.id)))
            .execute(conn)?;
        insert_members(conn, actor.school, group.id, members)?;
        record(
            conn,
            actor,
            "group.members_set",
            ("group", group.id),
            json!({ "old": group.members,
                    "new": members.iter().map(|s| s.get()).collect::<Vec<_>>() }),
        )?;
        find_group(conn, group.id)?.ok_or(PersistenceError::NotFound)
    })
}

// ---------------------------------------------------------------------------------------------
// Holidays
// ---------------------------------------------------------------------------------------------

/// Days without lessons.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = holidays)]
pub struct Holiday {
    pub id: i64,
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
}

impl Holiday {
    /// The holiday's days.
    #[must_use]
    pub fn range(&self) -> Option<DateRange> {
        DateRange::new(self.starts_on, self.ends_on, i64::MAX).ok()
    }
}

/// The school's holidays that overlap `within` (all of them when `None`), by date.
///
/// # Errors
/// On a database failure.
pub fn holidays(
    conn: &mut DbConnection,
    school: SchoolId,
    within: Option<DateRange>,
) -> Result<Vec<Holiday>> {
    let mut query = holidays::table
        .filter(holidays::school_id.eq(school.get()))
        .into_boxed();
    if let Some(range) = within {
        query = query
            .filter(holidays::starts_on.le(range.to()))
            .filter(holidays::ends_on.ge(range.from()));
    }
    query
        .order((holidays::starts_on, holidays::id))
        .select(Holiday::as_select())
        .load(conn)
        .map_err(Into::into)
}

/// Declares a holiday, and cancels the school's lessons on those days that hold no entry yet
/// (lessons with grades, marks or a topic stay: the administration moves them by hand).
/// Returns the holiday and how many lessons it cancelled.
///
/// # Errors
/// On a database failure.
pub fn add_holiday(
    conn: &mut DbConnection,
    actor: &Actor,
    name: &str,
    days: DateRange,
) -> Result<(Holiday, usize)> {
    conn.transaction(|conn| {
        let id: i64 = diesel::insert_into(holidays::table)
            .values((
                holidays::school_id.eq(actor.school.get()),
                holidays::name.eq(name),
                holidays::starts_on.eq(days.from()),
                holidays::ends_on.eq(days.to()),
                holidays::created_at.eq(actor.at),
            ))
            .returning(holidays::id)
            .get_result(conn)?;
        let cancelled = diesel::update(
            lessons::table
                .filter(lessons::school_id.eq(actor.school.get()))
                .filter(lessons::lesson_date.between(days.from(), days.to()))
                .filter(lessons::first_entry_at.is_null())
                .filter(lessons::cancelled_at.is_null()),
        )
        .set(lessons::cancelled_at.eq(Some(actor.at)))
        .execute(conn)?;
        record(
            conn,
            actor,
            "holiday.declared",
            ("holiday", id),
            json!({ "name": name, "starts_on": days.from(), "ends_on": days.to(),
                    "lessons_cancelled": cancelled }),
        )?;
        let holiday = holidays::table
            .find(id)
            .select(Holiday::as_select())
            .first(conn)?;
        Ok((holiday, cancelled))
    })
}

/// Removes a holiday of the school (its cancelled lessons stay cancelled). `false` when the
/// school has no such holiday.
///
/// # Errors
/// On a database failure.
pub fn remove_holiday(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<bool> {
    conn.transaction(|conn| {
        let removed = diesel::delete(
            holidays::table
                .filter(holidays::id.eq(id))
                .filter(holidays::school_id.eq(actor.school.get())),
        )
        .execute(conn)?;
        if removed > 0 {
            record(conn, actor, "holiday.removed", ("holiday", id), json!({}))?;
        }
        Ok(removed > 0)
    })
}

// ---------------------------------------------------------------------------------------------
// The weekly template
// ---------------------------------------------------------------------------------------------

/// One slot of a class's weekly template.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = timetable_slots)]
pub struct SlotRow {
    pub id: i64,
    pub class_id: i64,
    pub group_id: Option<i64>,
    pub subject_id: i64,
    pub teacher_user_id: i64,
    pub weekday: i16,
    pub number: i16,
    pub weeks: String,
    pub room: Option<String>,
}

impl SlotRow {
    fn slot(&self) -> Option<Slot> {
        Some(Slot {
            weekday: weekday(self.weekday).ok()?,
            weeks: Weeks::parse(&self.weeks).ok()?,
        })
    }
}

/// A slot to put in a template.
#[derive(Debug, Clone)]
pub struct NewSlot {
    pub group: Option<i64>,
    pub subject: SubjectId,
    pub teacher: UserId,
    pub weekday: i16,
    pub number: i16,
    pub weeks: Weeks,
    pub room: Option<String>,
}

/// The class's current template, by weekday and number.
///
/// # Errors
/// On a database failure.
pub fn timetable(conn: &mut DbConnection, class: ClassId) -> Result<Vec<SlotRow>> {
    timetable_slots::table
        .filter(timetable_slots::class_id.eq(class.get()))
        .filter(timetable_slots::retired_at.is_null())
        .order((
            timetable_slots::weekday,
            timetable_slots::number,
            timetable_slots::id,
        ))
        .select(SlotRow::as_select())
        .load(conn)
        .map_err(Into::into)
}

/// What replacing a template did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaced {
    pub slots: Vec<SlotRow>,
    /// Lessons of the old template from the effective date on that held no entry, removed.
    pub lessons_removed: usize,
    /// Lessons of the old template from the effective date on that already hold entries,
    /// kept as they are.
    pub lessons_kept: usize,
}

/// Replaces the class's template from `from` on: the old slots are retired, their lessons
/// dated `from` or later that hold no entry (no grade, mark, topic, homework or comment) are
/// removed, the others kept. Audited. Generate the new template's lessons afterwards.
///
/// # Errors
/// On a database failure.
pub fn replace_timetable(
    conn: &mut DbConnection,
    actor: &Actor,
    class: ClassId,
    slots: &[NewSlot],
    from: NaiveDate,
) -> Result<Replaced> {
    conn.transaction(|conn| {
        let old: Vec<i64> = timetable_slots::table
            .filter(timetable_slots::class_id.eq(class.get()))
            .filter(timetable_slots::retired_at.is_null())
            .select(timetable_slots::id)
            .load(conn)?;
        diesel::update(timetable_slots::table.filter(timetable_slots::id.eq_any(&old)))
            .set(timetable_slots::retired_at.eq(Some(actor.at)))
            .execute(conn)?;
        let later: Vec<(i64, Option<NaiveDateTime>)> = lessons::table
            .inner_join(generated_lessons::table.on(generated_lessons::lesson_id.eq(lessons::id)))
            .filter(generated_lessons::slot_id.eq_any(&old))
            .filter(lessons::lesson_date.ge(from))
            .select((lessons::id, lessons::first_entry_at))
            .load(conn)?;
        let candidates: Vec<i64> = later
            .iter()
            .filter(|(_, entry)| entry.is_none())
            .map(|(id, _)| *id)
            .collect();
        let mut with_rows: HashSet<i64> = grades::table
            .filter(grades::lesson_id.eq_any(&candidates))
            .select(grades::lesson_id)
            .load::<i64>(conn)?
            .into_iter()
            .collect();
        with_rows.extend(
            attendance_marks::table
                .filter(attendance_marks::lesson_id.eq_any(&candidates))
                .select(attendance_marks::lesson_id)
                .load::<i64>(conn)?,
        );
        with_rows.extend(
            individual_homework::table
                .filter(individual_homework::lesson_id.eq_any(&candidates))
                .select(individual_homework::lesson_id)
                .load::<i64>(conn)?,
        );
        let empty: Vec<i64> = candidates
            .into_iter()
            .filter(|id| !with_rows.contains(id))
            .collect();
        diesel::delete(
            generated_lessons::table.filter(generated_lessons::lesson_id.eq_any(&empty)),
        )
        .execute(conn)?;
        let lessons_removed =
            diesel::delete(lessons::table.filter(lessons::id.eq_any(&empty))).execute(conn)?;
        for s in slots {
            diesel::insert_into(timetable_slots::table)
                .values((
                    timetable_slots::school_id.eq(actor.school.get()),
                    timetable_slots::class_id.eq(class.get()),
                    timetable_slots::group_id.eq(s.group),
                    timetable_slots::subject_id.eq(s.subject.get()),
                    timetable_slots::teacher_user_id.eq(s.teacher.get()),
                    timetable_slots::weekday.eq(s.weekday),
                    timetable_slots::number.eq(s.number),
                    timetable_slots::weeks.eq(s.weeks.as_str()),
                    timetable_slots::room.eq(s.room.as_deref()),
                    timetable_slots::created_at.eq(actor.at),
                ))
                .execute(conn)?;
        }
        let replaced = Replaced {
            slots: timetable(conn, class)?,
            lessons_removed,
            lessons_kept: later.len() - lessons_removed,
        };
        record(
            conn,
            actor,
            "timetable.replaced",
            ("class", class.get()),
            json!({ "from": from, "slots": replaced.slots.len(), "retired_slots": old.len(),
                    "lessons_removed": replaced.lessons_removed,
                    "lessons_kept": replaced.lessons_kept }),
        )?;
        Ok(replaced)
    })
}

/// What generating lessons did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Generated {
    /// Lessons created.
    pub created: usize,
    /// Lessons the template had already generated (left as they are, even when moved).
    pub existing: usize,
    /// Slot dates that fell on a holiday.
    pub on_holidays: usize,
}

/// Generates the dated lessons of the class's template for `range`, skipping the school's
/// holidays and every (slot, date) generated before, so running it again creates nothing.
///
/// # Errors
/// On a database failure.
pub fn generate_lessons(
    conn: &mut DbConnection,
    actor: &Actor,
    class: ClassId,
    range: DateRange,
) -> Result<Generated> {
    conn.transaction(|conn| {
        let year_start: NaiveDate = classes::table
            .inner_join(crate::schema::academic_years::table)
            .filter(classes::id.eq(class.get()))
            .select(crate::schema::academic_years::starts_on)
            .first(conn)?;
        let slots = timetable(conn, class)?;
        let days_off: Vec<DateRange> = holidays(conn, actor.school, Some(range))?
            .iter()
            .filter_map(Holiday::range)
            .collect();
        let ids: Vec<i64> = slots.iter().map(|s| s.id).collect();
        let done: HashSet<(i64, NaiveDate)> = generated_lessons::table
            .filter(generated_lessons::slot_id.eq_any(&ids))
            .filter(generated_lessons::slot_date.between(range.from(), range.to()))
            .select((generated_lessons::slot_id, generated_lessons::slot_date))
            .load::<(i64, NaiveDate)>(conn)?
            .into_iter()
            .collect();
        let mut report = Generated::default();
        for row in &slots {
            let Some(slot) = row.slot() else { continue };
            let all = slot.dates(year_start, range, &[]);
            let open = slot.dates(year_start, range, &days_off);
            report.on_holidays += all.len() - open.len();
            for date in open {
                if done.contains(&(row.id, date)) {
                    report.existing += 1;
                    continue;
                }
                let lesson: i64 = diesel::insert_into(lessons::table)
                    .values((
                        lessons::school_id.eq(actor.school.get()),
                        lessons::class_id.eq(class.get()),
                        lessons::group_id.eq(row.group_id),
                        lessons::subject_id.eq(row.subject_id),
                        lessons::teacher_user_id.eq(row.teacher_user_id),
                        lessons::lesson_date.eq(date),
                        lessons::number.eq(row.number),
                        lessons::room.eq(row.room.as_deref()),
                        lessons::created_at.eq(actor.at),
                    ))
                    .returning(lessons::id)
                    .get_result(conn)?;
                diesel::insert_into(generated_lessons::table)
                    .values((
                        generated_lessons::school_id.eq(actor.school.get()),
                        generated_lessons::lesson_id.eq(lesson),
                        generated_lessons::slot_id.eq(row.id),
                        generated_lessons::slot_date.eq(date),
                    ))
                    .execute(conn)?;
                report.created += 1;
            }
        }
        record(
            conn,
            actor,
            "timetable.generated",
            ("class", class.get()),
            json!({ "from": range.from(), "to": range.to(), "created": report.created,
                    "existing": report.existing, "on_holidays": report.on_holidays }),
        )?;
        Ok(report)
    })
}

// ---------------------------------------------------------------------------------------------
// Enrolments
// ---------------------------------------------------------------------------------------------

/// A student's stay in a class: from `enrolled_on` until the day before `left_on`.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Stay {
    pub class_id: i64,
    pub grade_level: i16,
    pub letter: String,
    pub enrolled_on: NaiveDate,
    pub left_on: Option<NaiveDate>,
}

/// A student's enrolments, oldest first.
///
/// # Errors
/// On a database failure.
pub fn stays(conn: &mut DbConnection, student: StudentId) -> Result<Vec<Stay>> {
    enrollments::table
        .inner_join(classes::table.on(classes::id.eq(enrollments::class_id)))
        .filter(enrollments::student_id.eq(student.get()))
        .order((enrollments::enrolled_on, enrollments::id))
        .select((
            enrollments::class_id,
            classes::grade_level,
            classes::letter,
            enrollments::enrolled_on,
            enrollments::left_on,
        ))
        .load(conn)
        .map_err(Into::into)
}

/// What moving a student did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moved {
    /// The student's enrolments now.
    Done(Vec<Stay>),
    /// Already in that class from that day on: nothing changed.
    Unchanged(Vec<Stay>),
    /// The student has an enrolment that starts after `from`: history is never rewritten.
    LaterEnrolment(NaiveDate),
}

/// Moves a student to `class` from `from` on (`None`: the student leaves the school): the
/// enrolments open on that day end there, the old class keeps everything before it, and a new
/// enrolment starts. Audited. Nothing is deleted, except an enrolment that would last no day
/// at all (one that started on `from` itself: a same-day correction).
///
/// # Errors
/// On a database failure.
pub fn move_student(
    conn: &mut DbConnection,
    actor: &Actor,
    student: StudentId,
    class: Option<ClassId>,
    from: NaiveDate,
) -> Result<Moved> {
    conn.transaction(|conn| {
        let current = stays(conn, student)?;
        if let Some(later) = current.iter().find(|s| s.enrolled_on > from) {
            return Ok(Moved::LaterEnrolment(later.enrolled_on));
        }
        let open: Vec<&Stay> = current
            .iter()
            .filter(|s| s.left_on.is_none_or(|left| left > from))
            .collect();
        let already = match class {
            Some(class) => {
                open.len() == 1 && open[0].class_id == class.get() && open[0].left_on.is_none()
            }
            None => open.is_empty(),
        };
        if already {
            return Ok(Moved::Unchanged(current));
        }
        let mine = enrollments::table
            .filter(enrollments::student_id.eq(student.get()))
            .filter(enrollments::enrolled_on.le(from))
            .filter(
                enrollments::left_on
                    .is_null()
                    .or(enrollments::left_on.gt(from)),
            );
        diesel::delete(mine.filter(enrollments::enrolled_on.eq(from))).execute(conn)?;
        diesel::update(mine)
            .set(enrollments::left_on.eq(Some(from)))
            .execute(conn)?;
        if let Some(class) = class {
            crate::people::enroll(conn, actor.school, class, student, from)?;
        }
        record(
            conn,
            actor,
            if class.is_some() {
                "student.moved"
            } else {
                "student.left"
            },
            ("student", student.get()),
            json!({ "from": from, "class_id": class.map(ClassId::get),
                    "left": open.iter().map(|s| s.class_id).collect::<Vec<_>>() }),
        )?;
        Ok(Moved::Done(stays(conn, student)?))
    })
}
