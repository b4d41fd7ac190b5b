//! Loading the plain facts the access rules of `domain::access` decide on: who the caller is
//! (their grants) and where a resource lives (its school, municipality and classes).

use std::collections::BTreeSet;

use chrono::NaiveDate;
use diesel::prelude::*;
use domain::access::{ClassRef, Grant, Principal, SchoolRef, Scope, StudentRef, Teaching, Tenancy};
use domain::{ClassId, IntegratorId, MunicipalityId, SchoolId, StudentId, SubjectId, UserId};

use crate::schema::{
    classes, enrollments, guardianships, integrator_clients, role_assignments, schools, students,
    teaching_assignments,
};
use crate::{DbConnection, PersistenceError, Result};

#[derive(Debug, Queryable)]
struct RoleRow {
    role: String,
    school_id: Option<i64>,
    municipality_id: Option<i64>,
    class_id: Option<i64>,
}

/// A person's grants, from their role assignments, teaching assignments, children and own
/// student record. An unknown user has no grants.
///
/// # Errors
/// On a database failure.
pub fn person(conn: &mut DbConnection, user: UserId) -> Result<Principal> {
    let roles: Vec<RoleRow> = role_assignments::table
        .filter(role_assignments::user_id.eq(user.get()))
        .select((
            role_assignments::role,
            role_assignments::school_id,
            role_assignments::municipality_id,
            role_assignments::class_id,
        ))
        .order(role_assignments::id.asc())
        .load(conn)?;
    let teaching: Vec<(i64, i64, i64)> = teaching_assignments::table
        .filter(teaching_assignments::teacher_user_id.eq(user.get()))
        .select((
            teaching_assignments::school_id,
            teaching_assignments::class_id,
            teaching_assignments::subject_id,
        ))
        .order(teaching_assignments::id.asc())
        .load(conn)?;
    let children: Vec<i64> = guardianships::table
        .filter(guardianships::parent_user_id.eq(user.get()))
        .select(guardianships::student_id)
        .order(guardianships::student_id.asc())
        .load(conn)?;
    let own_records: Vec<i64> = students::table
        .filter(students::user_id.eq(user.get()))
        .select(students::id)
        .load(conn)?;

    let mut grants = Vec::new();
    for row in &roles {
        let school = row.school_id.map(SchoolId);
        let grant = match (row.role.as_str(), school, row.municipality_id, row.class_id) {
            ("school_admin", Some(school), _, _) => Some(Grant::SchoolAdmin(school)),
            ("municipality_admin", _, Some(m), _) => {
                Some(Grant::MunicipalityAdmin(MunicipalityId(m)))
            }
            ("teacher", Some(school), _, _) => Some(Grant::Teacher {
                school,
                teaches: teaching
                    .iter()
                    .filter(|(s, _, _)| *s == school.get())
                    .map(|&(_, class, subject)| Teaching {
                        class: ClassId(class),
                        subject: SubjectId(subject),
                    })
                    .collect(),
            }),
            ("class_teacher", Some(school), _, Some(class)) => Some(Grant::ClassTeacher {
                school,
                class: ClassId(class),
            }),
            // Parents and students are granted through their links below.
            _ => None,
        };
        if let Some(grant) = grant.filter(|g| !grants.contains(g)) {
            grants.push(grant);
        }
    }
    // A parent whose children were all unlinked still holds the role: their requests for
    // any student are answered as for anyone else's child (404), not as for a stranger (403).
    let parent_role = roles.iter().any(|row| row.role == "parent");
    if parent_role || !children.is_empty() {
        grants.push(Grant::Parent {
            children: children.into_iter().map(StudentId).collect(),
        });
    }
    grants.extend(
        own_records
            .into_iter()
            .map(|id| Grant::Student(StudentId(id))),
    );
    Ok(Principal::person(user, grants))
}

/// An integrator client's tenancy and scopes, unless it is unknown or revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegratorGrant {
    pub id: IntegratorId,
    pub tenancy: Tenancy,
    pub scopes: BTreeSet<Scope>,
}

#[derive(Debug, Queryable)]
struct ClientRow {
    id: i64,
    school_id: Option<i64>,
    municipality_id: Option<i64>,
    scopes: String,
}

/// The active integrator client with this id.
///
/// # Errors
/// On a database failure, or a stored row that breaks its own constraints.
pub fn integrator(conn: &mut DbConnection, id: IntegratorId) -> Result<Option<IntegratorGrant>> {
    let row: Option<ClientRow> = integrator_clients::table
        .filter(integrator_clients::id.eq(id.get()))
        .filter(integrator_clients::revoked_at.is_null())
        .select((
            integrator_clients::id,
            integrator_clients::school_id,
            integrator_clients::municipality_id,
            integrator_clients::scopes,
        ))
        .first(conn)
        .optional()?;
    row.map(integrator_grant).transpose()
}

pub(crate) fn tenancy(school: Option<i64>, municipality: Option<i64>) -> Result<Tenancy> {
    match (school, municipality) {
        (Some(s), None) => Ok(Tenancy::School(SchoolId(s))),
        (None, Some(m)) => Ok(Tenancy::Municipality(MunicipalityId(m))),
        _ => Err(PersistenceError::Migration(
            "an integrator client must belong to one school or one municipality".into(),
        )),
    }
}

fn integrator_grant(row: ClientRow) -> Result<IntegratorGrant> {
    Ok(IntegratorGrant {
        id: IntegratorId(row.id),
        tenancy: tenancy(row.school_id, row.municipality_id)?,
        // A scope the code no longer knows grants nothing.
        scopes: row
            .scopes
            .split_whitespace()
            .filter_map(|s| Scope::parse(s).ok())
            .collect(),
    })
}

/// Where a school lies.
///
/// # Errors
/// On a database failure.
pub fn school(conn: &mut DbConnection, id: SchoolId) -> Result<Option<SchoolRef>> {
    schools::table
        .find(id.get())
        .select(schools::municipality_id)
        .first::<i64>(conn)
        .optional()
        .map(|found| {
            found.map(|m| SchoolRef {
                school: id,
                municipality: MunicipalityId(m),
            })
        })
        .map_err(Into::into)
}

/// Whether a municipality exists.
///
/// # Errors
/// On a database failure.
pub fn municipality_exists(conn: &mut DbConnection, id: MunicipalityId) -> Result<bool> {
    use crate::schema::municipalities;
    let n: i64 = municipalities::table
        .filter(municipalities::id.eq(id.get()))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Where a class lies.
///
/// # Errors
/// On a database failure.
pub fn class(conn: &mut DbConnection, id: ClassId) -> Result<Option<ClassRef>> {
    classes::table
        .inner_join(schools::table.on(schools::id.eq(classes::school_id)))
        .filter(classes::id.eq(id.get()))
        .select((classes::school_id, schools::municipality_id))
        .first::<(i64, i64)>(conn)
        .optional()
        .map(|found| {
            found.map(|(s, m)| ClassRef {
                id,
                school: SchoolRef {
                    school: SchoolId(s),
                    municipality: MunicipalityId(m),
                },
            })
        })
        .map_err(Into::into)
}

/// Where a student lies: their school and the classes they are enrolled in on `on`.
///
/// # Errors
/// On a database failure.
pub fn student(
    conn: &mut DbConnection,
    id: StudentId,
    on: NaiveDate,
) -> Result<Option<StudentRef>> {
    // One query: the student's row, once per class they are in on `on` (once with no class
    // when they are in none).
    let rows: Vec<(i64, i64, Option<i64>)> = students::table
        .inner_join(schools::table.on(schools::id.eq(students::school_id)))
        .left_join(
            enrollments::table.on(enrollments::student_id
                .eq(students::id)
                .and(enrollments::enrolled_on.le(on))
                .and(
                    enrollments::left_on
                        .is_null()
                        .or(enrollments::left_on.gt(on)),
                )),
        )
        .filter(students::id.eq(id.get()))
        .select((
            students::school_id,
            schools::municipality_id,
            enrollments::class_id.nullable(),
        ))
        .load(conn)?;
    let Some(&(school, municipality, _)) = rows.first() else {
        return Ok(None);
    };
    Ok(Some(StudentRef {
        id,
        school: SchoolRef {
            school: SchoolId(school),
            municipality: MunicipalityId(municipality),
        },
        classes: rows
            .into_iter()
            .filter_map(|(_, _, class)| class.map(ClassId))
            .collect(),
    }))
}

/// Where a lesson lies: its class (with school and municipality) and subject.
///
/// # Errors
/// On a database failure.
pub fn lesson(conn: &mut DbConnection, id: i64) -> Result<Option<domain::access::LessonRef>> {
    use crate::schema::lessons;
    let found: Option<(i64, i64, i64, i64)> = lessons::table
        .inner_join(schools::table.on(schools::id.eq(lessons::school_id)))
        .filter(lessons::id.eq(id))
        .select((
            lessons::class_id,
            lessons::subject_id,
            lessons::school_id,
            schools::municipality_id,
        ))
        .first(conn)
        .optional()?;
    Ok(found.map(|(class, subject, school, municipality)| {
        lesson_ref(class, subject, school, municipality)
    }))
}

/// Where a lesson of `class` and `subject` in `school` (of `municipality`) lies.
pub(crate) const fn lesson_ref(
    class: i64,
    subject: i64,
    school: i64,
    municipality: i64,
) -> domain::access::LessonRef {
    domain::access::LessonRef {
        class: ClassRef {
            id: ClassId(class),
            school: SchoolRef {
                school: SchoolId(school),
                municipality: MunicipalityId(municipality),
            },
        },
        subject: SubjectId(subject),
    }
}
