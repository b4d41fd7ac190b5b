//! The roster import: what the school holds that an import is compared with, and applying an
//! import's plan (`domain::roster`) in one transaction: all of it or nothing.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;
use diesel::prelude::*;
use domain::roster::{ClassChange, Known, KnownClass, KnownParent, KnownStudent, Plan};
use domain::{AcademicYearId, ClassId, ClassLabel, SchoolId, StudentId, UserId};
use serde_json::json;

use crate::admin::{self, Actor, NewCode, NewPerson, SchoolRole};
use crate::people::Role;
use crate::schema::{
    academic_years, classes, enrollments, guardianships, roster_parents, students, users,
};
use crate::timetable::{Moved, move_student, record};
use crate::{DbConnection, PersistenceError, Result};

/// The school's academic year holding `on`.
///
/// # Errors
/// On a database failure.
pub fn year_on(
    conn: &mut DbConnection,
    school: SchoolId,
    on: NaiveDate,
) -> Result<Option<AcademicYearId>> {
    academic_years::table
        .filter(academic_years::school_id.eq(school.get()))
        .filter(academic_years::starts_on.le(on))
        .filter(academic_years::ends_on.ge(on))
        .select(academic_years::id)
        .first(conn)
        .optional()
        .map(|id| id.map(AcademicYearId))
        .map_err(Into::into)
}

/// What the school holds on `on`: the year's classes, the students and parents that came from
/// the roster system, their links, and which of `logins` are taken.
///
/// # Errors
/// On a database failure, or a stored class label that is not valid.
pub fn known(
    conn: &mut DbConnection,
    school: SchoolId,
    year: AcademicYearId,
    on: NaiveDate,
    logins: &[String],
) -> Result<Known> {
    let class_rows: Vec<(i64, Option<String>, i16, String)> = classes::table
        .filter(classes::school_id.eq(school.get()))
        .filter(classes::academic_year_id.eq(year.get()))
        .select((
            classes::id,
            classes::external_id,
            classes::grade_level,
            classes::letter,
        ))
        .load(conn)?;
    let mut known_classes = Vec::with_capacity(class_rows.len());
    for (id, external_id, level, letter) in class_rows {
        let label = ClassLabel::new(i64::from(level), &letter)
            .map_err(|e| PersistenceError::Conflict(format!("class {id}: {e}")))?;
        known_classes.push(KnownClass {
            id: ClassId(id),
            external_id,
            label,
        });
    }

    type StudentRow = (i64, Option<String>, String, String, Option<String>);
    let student_rows: Vec<StudentRow> = students::table
        .filter(students::school_id.eq(school.get()))
        .filter(students::external_id.is_not_null())
        .select((
            students::id,
            students::external_id,
            students::last_name,
            students::first_name,
            students::middle_name,
        ))
        .load(conn)?;
    let stays: Vec<(i64, i64, NaiveDate, Option<NaiveDate>)> = enrollments::table
        .inner_join(students::table.on(students::id.eq(enrollments::student_id)))
        .filter(enrollments::school_id.eq(school.get()))
        .filter(students::external_id.is_not_null())
        .select((
            enrollments::student_id,
            enrollments::class_id,
            enrollments::enrolled_on,
            enrollments::left_on,
        ))
        .load(conn)?;
    let mut current: HashMap<i64, i64> = HashMap::new();
    let mut latest: HashMap<i64, NaiveDate> = HashMap::new();
    for (student, class, from, left) in stays {
        if from <= on && left.is_none_or(|left| left > on) {
            current.insert(student, class);
        }
        let entry = latest.entry(student).or_insert(from);
        *entry = (*entry).max(from);
    }
    let known_students = student_rows
        .into_iter()
        .filter_map(|(id, external_id, last_name, first_name, middle_name)| {
            Some(KnownStudent {
                id: StudentId(id),
                external_id: external_id?,
                last_name,
                first_name,
                middle_name,
                class: current.get(&id).copied().map(ClassId),
                latest_enrolment: latest.get(&id).copied(),
            })
        })
        .collect();

    let parents: Vec<(i64, String, String)> = roster_parents::table
        .inner_join(users::table.on(users::id.eq(roster_parents::user_id)))
        .filter(roster_parents::school_id.eq(school.get()))
        .select((
            roster_parents::user_id,
            roster_parents::external_id,
            users::display_name,
        ))
        .load(conn)?;
    let links: Vec<(i64, i64)> = guardianships::table
        .inner_join(students::table.on(students::id.eq(guardianships::student_id)))
        .inner_join(
            roster_parents::table.on(roster_parents::user_id
                .eq(guardianships::parent_user_id)
                .and(roster_parents::school_id.eq(guardianships::school_id))),
        )
        .filter(guardianships::school_id.eq(school.get()))
        .filter(students::external_id.is_not_null())
        .select((guardianships::student_id, guardianships::parent_user_id))
        .load(conn)?;
    let mut taken_logins = BTreeSet::new();
    for chunk in logins.chunks(500) {
        taken_logins.extend(admin::taken_logins(conn, chunk)?);
    }
    Ok(Known {
        classes: known_classes,
        students: known_students,
        parents: parents
            .into_iter()
            .map(|(user, external_id, display_name)| KnownParent {
                user: UserId(user),
                external_id,
                display_name,
            })
            .collect(),
        links: links
            .into_iter()
            .map(|(s, p)| (StudentId(s), UserId(p)))
            .collect(),
        taken_logins,
    })
}

/// An account the import made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedAccount {
    pub user: UserId,
    /// `student` or `parent`.
    pub kind: &'static str,
    pub external_id: String,
    pub login: String,
    pub display_name: String,
    /// The student's class's roster id (for a parent: none).
    pub class: Option<String>,
}

/// Applies `plan` in one transaction, on `on` (the day moves and leaves take effect). Each
/// new account gets its code from `code` (in the order: new students, then new parents).
///
/// # Errors
/// [`PersistenceError::Conflict`] when the school changed meanwhile (a login taken, a label
/// taken, an enrolment after `on`); nothing is written then.
pub fn apply(
    conn: &mut DbConnection,
    actor: Actor,
    year: AcademicYearId,
    on: NaiveDate,
    plan: &Plan,
    code: &mut dyn FnMut() -> NewCode,
) -> Result<Vec<CreatedAccount>> {
    conn.transaction(|conn| {
        let school = actor.school;
        for change in &plan.classes {
            match change {
                ClassChange::Create { external_id, label } => {
                    let id: i64 = diesel::insert_into(classes::table)
                        .values((
                            classes::school_id.eq(school.get()),
                            classes::academic_year_id.eq(year.get()),
                            classes::grade_level.eq(i16::from(label.level().get())),
                            classes::letter.eq(label.letter()),
                            classes::external_id.eq(external_id),
                        ))
                        .returning(classes::id)
                        .get_result(conn)?;
                    record(
                        conn,
                        &actor,
                        "class.imported",
                        ("class", id),
                        json!({"external_id": external_id, "label": label.to_string()}),
                    )?;
                }
                ClassChange::Adopt { id, external_id } => {
                    diesel::update(classes::table.filter(classes::id.eq(id.get())))
                        .set(classes::external_id.eq(external_id))
                        .execute(conn)?;
                    record(
                        conn,
                        &actor,
                        "class.matched",
                        ("class", id.get()),
                        json!({"external_id": external_id}),
                    )?;
                }
                ClassChange::Relabel { id, label } => {
                    diesel::update(classes::table.filter(classes::id.eq(id.get())))
                        .set((
                            classes::grade_level.eq(i16::from(label.level().get())),
                            classes::letter.eq(label.letter()),
                        ))
                        .execute(conn)?;
                    record(
                        conn,
                        &actor,
                        "class.relabelled",
                        ("class", id.get()),
                        json!({"label": label.to_string()}),
                    )?;
                }
            }
        }
        let class_ids: HashMap<String, ClassId> = classes::table
            .filter(classes::school_id.eq(school.get()))
            .filter(classes::academic_year_id.eq(year.get()))
            .filter(classes::external_id.is_not_null())
            .select((classes::external_id, classes::id))
            .load::<(Option<String>, i64)>(conn)?
            .into_iter()
            .filter_map(|(e, id)| Some((e?, ClassId(id))))
            .collect();
        let class_of = |external: &str| {
            class_ids
                .get(external)
                .copied()
                .ok_or_else(|| PersistenceError::Conflict(format!("class {external:?} vanished")))
        };

        let mut student_ids: HashMap<String, StudentId> = students::table
            .filter(students::school_id.eq(school.get()))
            .filter(students::external_id.is_not_null())
            .select((students::external_id, students::id))
            .load::<(Option<String>, i64)>(conn)?
            .into_iter()
            .filter_map(|(e, id)| Some((e?, StudentId(id))))
            .collect();
        let mut people = Vec::with_capacity(plan.new_students.len() + plan.new_parents.len());
        let mut created = Vec::with_capacity(people.capacity());
        for new in &plan.new_students {
            let class = class_of(&new.class)?;
            let id = crate::people::insert_student(
                conn,
                crate::people::NewStudent {
                    school,
                    user: None,
                    last_name: new.names.last.as_str(),
                    first_name: new.names.first.as_str(),
                    middle_name: new.names.middle.as_ref().map(domain::Name::as_str),
                    external_id: Some(&new.external_id),
                },
            )?;
            crate::people::enroll(conn, school, class, id, on)?;
            record(
                conn,
                &actor,
                "student.imported",
                ("student", id.get()),
                json!({"external_id": new.external_id, "class_id": class.get(), "from": on}),
            )?;
            student_ids.insert(new.external_id.clone(), id);
            people.push(NewPerson {
                login: new.account.login.clone(),
                display_name: new.account.display_name.clone(),
                roles: vec![SchoolRole {
                    role: Role::Student,
                    class: None,
                }],
                student: Some(id),
                children: Vec::new(),
                code: code(),
            });
            created.push(CreatedAccount {
                user: UserId(0),
                kind: "student",
                external_id: new.external_id.clone(),
                login: new.account.login.clone(),
                display_name: new.account.display_name.clone(),
                class: Some(new.class.clone()),
            });
        }
        for new in &plan.new_parents {
            people.push(NewPerson {
                login: new.account.login.clone(),
                display_name: new.account.display_name.clone(),
                roles: vec![SchoolRole {
                    role: Role::Parent,
                    class: None,
                }],
                student: None,
                children: Vec::new(),
                code: code(),
            });
            created.push(CreatedAccount {
                user: UserId(0),
                kind: "parent",
                external_id: new.external_id.clone(),
                login: new.account.login.clone(),
                display_name: new.account.display_name.clone(),
                class: None,
            });
        }
        let users = admin::create_people(conn, actor, &people)?;
        for (account, user) in created.iter_mut().zip(&users) {
            account.user = *user;
            if account.kind == "parent" {
                diesel::insert_into(roster_parents::table)
                    .values((
                        roster_parents::school_id.eq(school.get()),
                        roster_parents::external_id.eq(&account.external_id),
                        roster_parents::user_id.eq(user.get()),
                        roster_parents::created_at.eq(actor.at),
                    ))
                    .execute(conn)?;
            }
        }
        let parent_ids: HashMap<String, UserId> = roster_parents::table
            .filter(roster_parents::school_id.eq(school.get()))
            .select((roster_parents::external_id, roster_parents::user_id))
            .load::<(String, i64)>(conn)?
            .into_iter()
            .map(|(e, id)| (e, UserId(id)))
            .collect();

        for (id, names) in &plan.renamed_students {
            diesel::update(students::table.filter(students::id.eq(id.get())))
                .set((
                    students::last_name.eq(names.last.as_str()),
                    students::first_name.eq(names.first.as_str()),
                    students::middle_name.eq(names.middle.as_ref().map(domain::Name::as_str)),
                ))
                .execute(conn)?;
            record(
                conn,
                &actor,
                "student.renamed",
                ("student", id.get()),
                json!({}),
            )?;
        }
        let moves = plan
            .moved_students
            .iter()
            .map(|(id, class)| Ok((*id, Some(class_of(class)?))))
            .chain(plan.left_students.iter().map(|id| Ok((*id, None))))
            .collect::<Result<Vec<_>>>()?;
        for (id, class) in moves {
            if let Moved::LaterEnrolment(_) = move_student(conn, &actor, id, class, on)? {
                return Err(PersistenceError::Conflict(format!(
                    "student {} has a later enrolment",
                    id.get()
                )));
            }
        }
        for (user, name) in &plan.renamed_parents {
            diesel::update(users::table.filter(users::id.eq(user.get())))
                .set(users::display_name.eq(name))
                .execute(conn)?;
            record(
                conn,
                &actor,
                "person.renamed",
                ("person", user.get()),
                json!({}),
            )?;
        }
        for (student, parent) in &plan.new_links {
            let (Some(student), Some(parent)) = (student_ids.get(student), parent_ids.get(parent))
            else {
                return Err(PersistenceError::Conflict(format!(
                    "link {student:?}-{parent:?} names no one"
                )));
            };
            admin::link_guardian_in(conn, actor, *parent, *student, None)?;
        }
        for (student, parent) in &plan.removed_links {
            diesel::delete(
                guardianships::table
                    .filter(guardianships::school_id.eq(school.get()))
                    .filter(guardianships::student_id.eq(student.get()))
                    .filter(guardianships::parent_user_id.eq(parent.get())),
            )
            .execute(conn)?;
            record(
                conn,
                &actor,
                "guardian.unlinked",
                ("student", student.get()),
                json!({"parent_id": parent.get()}),
            )?;
        }
        if !plan.is_empty() {
            record(
                conn,
                &actor,
                "roster.imported",
                ("school", school.get()),
                json!({
                    "on": on,
                    "classes": plan.classes.len(),
                    "new_students": plan.new_students.len(),
                    "moved_students": plan.moved_students.len(),
                    "left_students": plan.left_students.len(),
                    "new_parents": plan.new_parents.len(),
                    "new_links": plan.new_links.len(),
                    "removed_links": plan.removed_links.len(),
                }),
            )?;
        }
        Ok(created)
    })
}
