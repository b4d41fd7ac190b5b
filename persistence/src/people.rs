//! People, accounts, roles, students, enrolments and parent links.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use domain::{ClassId, MunicipalityId, SchoolId, StudentId, UserId};

use crate::schema::{classes, enrollments, guardianships, role_assignments, students, users};
use crate::{DbConnection, Result};

/// The roles a person can hold; stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    SchoolAdmin,
    MunicipalityAdmin,
    Teacher,
    ClassTeacher,
    Parent,
    Student,
}

impl Role {
    /// Every role.
    pub const ALL: [Self; 6] = [
        Self::SchoolAdmin,
        Self::MunicipalityAdmin,
        Self::Teacher,
        Self::ClassTeacher,
        Self::Parent,
        Self::Student,
    ];

    /// The role with this stored name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == name)
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SchoolAdmin => "school_admin",
            Self::MunicipalityAdmin => "municipality_admin",
            Self::Teacher => "teacher",
            Self::ClassTeacher => "class_teacher",
            Self::Parent => "parent",
            Self::Student => "student",
        }
    }
}

/// Where a role applies: a school (optionally one class of it) or a municipality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleScope {
    School(SchoolId),
    Class(SchoolId, ClassId),
    Municipality(MunicipalityId),
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub login: String,
    pub password_hash: Option<String>,
    pub display_name: String,
    pub created_at: NaiveDateTime,
    pub activated_at: Option<NaiveDateTime>,
    pub last_login_at: Option<NaiveDateTime>,
    /// `ru` or `en`: the language of the person's pushes.
    pub language: String,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = students)]
pub struct Student {
    pub id: i64,
    pub school_id: i64,
    pub user_id: Option<i64>,
    pub last_name: String,
    pub first_name: String,
    pub middle_name: Option<String>,
    pub external_id: Option<String>,
    pub created_at: NaiveDateTime,
}

/// A new account. With a password hash it counts as activated at `now`.
#[derive(Debug, Clone, Copy)]
pub struct NewUser<'a> {
    pub login: &'a str,
    pub display_name: &'a str,
    pub password_hash: Option<&'a str>,
    pub now: NaiveDateTime,
}

/// # Errors
/// On a duplicate login or a database failure.
pub fn insert_user(conn: &mut DbConnection, new: NewUser<'_>) -> Result<UserId> {
    diesel::insert_into(users::table)
        .values((
            users::login.eq(new.login),
            users::display_name.eq(new.display_name),
            users::password_hash.eq(new.password_hash),
            users::created_at.eq(new.now),
            users::activated_at.eq(new.password_hash.map(|_| new.now)),
        ))
        .returning(users::id)
        .get_result(conn)
        .map(UserId)
        .map_err(Into::into)
}

/// # Errors
/// On a database failure.
pub fn find_user_by_login(conn: &mut DbConnection, login: &str) -> Result<Option<User>> {
    users::table
        .filter(users::login.eq(login))
        .select(User::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

/// # Errors
/// On an unknown user, school, class or municipality, or a database failure.
pub fn assign_role(
    conn: &mut DbConnection,
    user: UserId,
    role: Role,
    scope: RoleScope,
) -> Result<()> {
    let (school, class, municipality) = match scope {
        RoleScope::School(s) => (Some(s.get()), None, None),
        RoleScope::Class(s, c) => (Some(s.get()), Some(c.get()), None),
        RoleScope::Municipality(m) => (None, None, Some(m.get())),
    };
    diesel::insert_into(role_assignments::table)
        .values((
            role_assignments::user_id.eq(user.get()),
            role_assignments::role.eq(role.as_str()),
            role_assignments::school_id.eq(school),
            role_assignments::class_id.eq(class),
            role_assignments::municipality_id.eq(municipality),
        ))
        .execute(conn)?;
    Ok(())
}

/// The role names a user holds, sorted, each once.
///
/// # Errors
/// On a database failure.
pub fn role_names(conn: &mut DbConnection, user: UserId) -> Result<Vec<String>> {
    role_assignments::table
        .filter(role_assignments::user_id.eq(user.get()))
        .select(role_assignments::role)
        .distinct()
        .order(role_assignments::role.asc())
        .load(conn)
        .map_err(Into::into)
}

/// Records that a teacher teaches a subject in a class (without an audit entry: for seeds and
/// imports; the administration's endpoint goes through [`crate::admin::assign_teaching`]).
///
/// Returns the assignment's id.
///
/// # Errors
/// On a duplicate assignment, an unknown reference, or a database failure.
pub fn assign_teaching(
    conn: &mut DbConnection,
    school: SchoolId,
    teacher: UserId,
    class: ClassId,
    subject: domain::SubjectId,
    now: NaiveDateTime,
) -> Result<i64> {
    use crate::schema::teaching_assignments as ta;
    diesel::insert_into(ta::table)
        .values((
            ta::school_id.eq(school.get()),
            ta::teacher_user_id.eq(teacher.get()),
            ta::class_id.eq(class.get()),
            ta::subject_id.eq(subject.get()),
            ta::created_at.eq(now),
        ))
        .returning(ta::id)
        .get_result(conn)
        .map_err(Into::into)
}

/// A new student of a school.
#[derive(Debug, Clone, Copy)]
pub struct NewStudent<'a> {
    pub school: SchoolId,
    pub user: Option<UserId>,
    pub last_name: &'a str,
    pub first_name: &'a str,
    pub middle_name: Option<&'a str>,
    pub external_id: Option<&'a str>,
}

/// # Errors
/// On a duplicate external id in the school or a database failure.
pub fn insert_student(conn: &mut DbConnection, new: NewStudent<'_>) -> Result<StudentId> {
    diesel::insert_into(students::table)
        .values((
            students::school_id.eq(new.school.get()),
            students::user_id.eq(new.user.map(UserId::get)),
            students::last_name.eq(new.last_name),
            students::first_name.eq(new.first_name),
            students::middle_name.eq(new.middle_name),
            students::external_id.eq(new.external_id),
        ))
        .returning(students::id)
        .get_result(conn)
        .map(StudentId)
        .map_err(Into::into)
}

/// # Errors
/// On an unknown class or student, or a database failure.
pub fn enroll(
    conn: &mut DbConnection,
    school: SchoolId,
    class: ClassId,
    student: StudentId,
    on: NaiveDate,
) -> Result<()> {
    diesel::insert_into(enrollments::table)
        .values((
            enrollments::school_id.eq(school.get()),
            enrollments::class_id.eq(class.get()),
            enrollments::student_id.eq(student.get()),
            enrollments::enrolled_on.eq(on),
        ))
        .execute(conn)?;
    Ok(())
}

/// Links a parent to a child; `school` is the child's school.
///
/// # Errors
/// On a duplicate link, an unknown user or student, or a database failure.
pub fn link_guardian(
    conn: &mut DbConnection,
    school: SchoolId,
    parent: UserId,
    student: StudentId,
) -> Result<()> {
    diesel::insert_into(guardianships::table)
        .values((
            guardianships::school_id.eq(school.get()),
            guardianships::parent_user_id.eq(parent.get()),
            guardianships::student_id.eq(student.get()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The students of a class on a date (enrolled on or before it and not yet left).
///
/// # Errors
/// On a database failure.
pub fn class_students(
    conn: &mut DbConnection,
    class: ClassId,
    on: NaiveDate,
) -> Result<Vec<Student>> {
    students::table
        .inner_join(enrollments::table)
        .filter(enrollments::class_id.eq(class.get()))
        .filter(enrollments::enrolled_on.le(on))
        .filter(
            enrollments::left_on
                .is_null()
                .or(enrollments::left_on.gt(on)),
        )
        .order((
            students::last_name.asc(),
            students::first_name.asc(),
            students::id.asc(),
        ))
        .select(Student::as_select())
        .load(conn)
        .map_err(Into::into)
}

/// A student enrolled in the school on a day, with the class they are in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolledStudent {
    pub student_id: i64,
    pub last_name: String,
    pub first_name: String,
    pub class_id: i64,
    pub grade_level: i16,
    pub letter: String,
}

impl EnrolledStudent {
    /// The class's name, e.g. `5А`.
    #[must_use]
    pub fn class_name(&self) -> String {
        format!("{}{}", self.grade_level, self.letter)
    }
}

/// Every student enrolled in the school on `on`, with their class, in one query: by grade
/// level, letter, last and first name. A student enrolled in two classes that day is listed
/// once, in the first of them.
///
/// # Errors
/// On a database failure.
pub fn enrolled_students(
    conn: &mut DbConnection,
    school: SchoolId,
    on: NaiveDate,
) -> Result<Vec<EnrolledStudent>> {
    let rows: Vec<(i64, String, String, i64, i16, String)> = students::table
        .inner_join(enrollments::table.inner_join(classes::table))
        .filter(enrollments::school_id.eq(school.get()))
        .filter(enrollments::enrolled_on.le(on))
        .filter(
            enrollments::left_on
                .is_null()
                .or(enrollments::left_on.gt(on)),
        )
        .order((
            classes::grade_level.asc(),
            classes::letter.asc(),
            students::last_name.asc(),
            students::first_name.asc(),
            students::id.asc(),
        ))
        .select((
            students::id,
            students::last_name,
            students::first_name,
            classes::id,
            classes::grade_level,
            classes::letter,
        ))
        .load(conn)?;
    let mut seen = std::collections::HashSet::new();
    Ok(rows
        .into_iter()
        .filter(|row| seen.insert(row.0))
        .map(
            |(student_id, last_name, first_name, class_id, grade_level, letter)| EnrolledStudent {
                student_id,
                last_name,
                first_name,
                class_id,
                grade_level,
                letter,
            },
        )
        .collect())
}

/// The children linked to a parent, in every school.
///
/// # Errors
/// On a database failure.
pub fn children_of(conn: &mut DbConnection, parent: UserId) -> Result<Vec<Student>> {
    students::table
        .inner_join(guardianships::table)
        .filter(guardianships::parent_user_id.eq(parent.get()))
        .order(students::id.asc())
        .select(Student::as_select())
        .load(conn)
        .map_err(Into::into)
}

/// What `GET /me` shows: the account, its roles, its schools and (for a parent) the children.
#[derive(Debug, Clone)]
pub struct Profile {
    pub user: User,
    pub roles: Vec<String>,
    /// (id, name) of every school the account belongs to through a role or a child.
    pub schools: Vec<(i64, String)>,
    pub children: Vec<Student>,
}

/// Sets the language a person reads their pushes in.
///
/// # Errors
/// [`crate::PersistenceError::NotFound`] for an unknown user; otherwise database failures.
pub fn set_language(
    conn: &mut DbConnection,
    user: UserId,
    language: domain::notifications::Language,
) -> Result<()> {
    let n = diesel::update(users::table.find(user.get()))
        .set(users::language.eq(language.as_str()))
        .execute(conn)?;
    if n == 0 {
        return Err(crate::PersistenceError::NotFound);
    }
    Ok(())
}

/// # Errors
/// [`crate::PersistenceError::NotFound`] for an unknown user; otherwise database failures.
pub fn profile(conn: &mut DbConnection, user: UserId) -> Result<Profile> {
    use crate::schema::schools;
    let account = users::table
        .find(user.get())
        .select(User::as_select())
        .first(conn)?;
    let roles = role_names(conn, user)?;
    let grants: Vec<(Option<i64>, Option<i64>)> = role_assignments::table
        .filter(role_assignments::user_id.eq(user.get()))
        .select((
            role_assignments::school_id,
            role_assignments::municipality_id,
        ))
        .load(conn)?;
    let children = children_of(conn, user)?;
    let mut school_ids: Vec<i64> = grants.iter().filter_map(|(s, _)| *s).collect();
    school_ids.extend(children.iter().map(|c| c.school_id));
    let municipality_ids: Vec<i64> = grants.iter().filter_map(|(_, m)| *m).collect();
    let schools = schools::table
        .filter(
            schools::id
                .eq_any(&school_ids)
                .or(schools::municipality_id.eq_any(&municipality_ids)),
        )
        .order(schools::id.asc())
        .select((schools::id, schools::name))
        .load(conn)?;
    Ok(Profile {
        user: account,
        roles,
        schools,
        children,
    })
}

/// # Errors
/// [`crate::PersistenceError::NotFound`] for an unknown student; otherwise database failures.
pub fn find_student(conn: &mut DbConnection, id: StudentId) -> Result<Student> {
    students::table
        .find(id.get())
        .select(Student::as_select())
        .first(conn)
        .map_err(Into::into)
}

/// The classes a student is enrolled in on a date.
///
/// # Errors
/// On a database failure.
pub fn classes_of_student(
    conn: &mut DbConnection,
    student: StudentId,
    on: NaiveDate,
) -> Result<Vec<crate::schools::Class>> {
    use crate::schema::classes;
    classes::table
        .inner_join(enrollments::table)
        .filter(enrollments::student_id.eq(student.get()))
        .filter(enrollments::enrolled_on.le(on))
        .filter(
            enrollments::left_on
                .is_null()
                .or(enrollments::left_on.gt(on)),
        )
        .order(classes::id.asc())
        .select(crate::schools::Class::as_select())
        .load(conn)
        .map_err(Into::into)
}
