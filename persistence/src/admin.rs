//! A school's administration of people: accounts, roles, parent-child links, teaching
//! assignments and activation codes. Every change is audited in its own transaction.
//!
//! The API checks the caller's right and the request's references first; these functions
//! write, and a constraint that still refuses (a race) rolls everything back.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use domain::{ClassId, SchoolId, StudentId, SubjectId, UserId};

use serde_json::{Value, json};

use crate::audit::{self, Owner};
use crate::people::Role;
use crate::schema::{
    activation_codes, classes, guardianships, role_assignments, sessions, students, subjects,
    teaching_assignments, users,
};
use crate::{DbConnection, PersistenceError, Result};

/// A role held in a school; `class` is set for a class teacher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchoolRole {
    pub role: Role,
    pub class: Option<ClassId>,
}

/// A new one-time code's stored form (an activation code, or a person's link code).
#[derive(Debug, Clone)]
pub struct NewCode {
    pub hash: String,
    pub expires_at: NaiveDateTime,
}

/// An account the administration creates, with its first activation code.
#[derive(Debug, Clone)]
pub struct NewPerson {
    pub login: String,
    pub display_name: String,
    pub roles: Vec<SchoolRole>,
    /// For a student account: the student record it signs in for.
    pub student: Option<StudentId>,
    /// For a parent: the children to link.
    pub children: Vec<StudentId>,
    pub code: NewCode,
}

/// Who acts, in which school, when.
#[derive(Debug, Clone, Copy)]
pub struct Actor {
    pub school: SchoolId,
    pub user: UserId,
    pub at: NaiveDateTime,
}

impl Actor {
    fn audit(
        &self,
        conn: &mut DbConnection,
        action: &str,
        target_type: &str,
        target_id: i64,
        details: Value,
    ) -> Result<()> {
        audit::record(
            conn,
            &audit::Entry {
                owner: Owner::School(self.school),
                actor: Some(self.user),
                action,
                target_type,
                target_id,
                details,
                at: self.at,
            },
        )
    }
}

fn role_details(role: &str, class: Option<i64>) -> Value {
    match class {
        Some(class) => json!({"role": role, "class_id": class}),
        None => json!({"role": role}),
    }
}

/// Logins among `logins` that are already taken.
///
/// # Errors
/// On a database failure.
pub fn taken_logins(conn: &mut DbConnection, logins: &[String]) -> Result<Vec<String>> {
    users::table
        .filter(users::login.eq_any(logins))
        .select(users::login)
        .load(conn)
        .map_err(Into::into)
}

/// Creates accounts, all or none, and returns their ids in order.
///
/// # Errors
/// [`PersistenceError::Conflict`] when a login was taken meanwhile or a reference broke;
/// nothing is written then.
pub fn create_people(
    conn: &mut DbConnection,
    actor: Actor,
    people: &[NewPerson],
) -> Result<Vec<UserId>> {
    conn.transaction(|conn| {
        let mut ids = Vec::with_capacity(people.len());
        for person in people {
            let user: i64 = diesel::insert_into(users::table)
                .values((
                    users::login.eq(&person.login),
                    users::display_name.eq(&person.display_name),
                    users::created_at.eq(actor.at),
                ))
                .returning(users::id)
                .get_result(conn)?;
            let user = UserId(user);
            actor.audit(
                conn,
                "person.created",
                "person",
                user.get(),
                json!({"login": person.login, "display_name": person.display_name}),
            )?;
            for role in &person.roles {
                grant_role_in(conn, actor, user, *role)?;
            }
            if let Some(student) = person.student {
                attach_student_in(conn, actor, user, student)?;
            }
            for child in &person.children {
                link_guardian_in(conn, actor, user, *child, None)?;
            }
            issue_code_in(conn, actor, user, &person.code)?;
            ids.push(user);
        }
        Ok(ids)
    })
}

fn grant_role_in(
    conn: &mut DbConnection,
    actor: Actor,
    user: UserId,
    role: SchoolRole,
) -> Result<i64> {
    let id: i64 = diesel::insert_into(role_assignments::table)
        .values((
            role_assignments::user_id.eq(user.get()),
            role_assignments::role.eq(role.role.as_str()),
            role_assignments::school_id.eq(actor.school.get()),
            role_assignments::class_id.eq(role.class.map(ClassId::get)),
            role_assignments::created_at.eq(actor.at),
        ))
        .returning(role_assignments::id)
        .get_result(conn)?;
    actor.audit(
        conn,
        "role.granted",
        "person",
        user.get(),
        role_details(role.role.as_str(), role.class.map(ClassId::get)),
    )?;
    Ok(id)
}

fn attach_student_in(
    conn: &mut DbConnection,
    actor: Actor,
    user: UserId,
    student: StudentId,
) -> Result<()> {
    let updated = diesel::update(
        students::table
            .filter(students::id.eq(student.get()))
            .filter(students::school_id.eq(actor.school.get()))
            .filter(students::user_id.is_null()),
    )
    .set(students::user_id.eq(user.get()))
    .execute(conn)?;
    if updated == 0 {
        return Err(PersistenceError::Conflict(
            "the student already has an account".into(),
        ));
    }
    actor.audit(
        conn,
        "student.account_attached",
        "person",
        user.get(),
        json!({"student_id": student.get()}),
    )
}

/// Links a parent to a student of the actor's school, granting the parent role there if
/// need be; returns whether a new link was made. `code` is the link code the parent handed
/// over, when linked with one (then audited as such).
pub(crate) fn link_guardian_in(
    conn: &mut DbConnection,
    actor: Actor,
    parent: UserId,
    student: StudentId,
    code: Option<i64>,
) -> Result<bool> {
    let exists: i64 = guardianships::table
        .filter(guardianships::parent_user_id.eq(parent.get()))
        .filter(guardianships::student_id.eq(student.get()))
        .count()
        .get_result(conn)?;
    if exists > 0 {
        return Ok(false);
    }
    diesel::insert_into(guardianships::table)
        .values((
            guardianships::school_id.eq(actor.school.get()),
            guardianships::parent_user_id.eq(parent.get()),
            guardianships::student_id.eq(student.get()),
        ))
        .execute(conn)?;
    let has_parent_role: i64 = role_assignments::table
        .filter(role_assignments::user_id.eq(parent.get()))
        .filter(role_assignments::school_id.eq(actor.school.get()))
        .filter(role_assignments::role.eq(Role::Parent.as_str()))
        .count()
        .get_result(conn)?;
    if has_parent_role == 0 {
        grant_role_in(
            conn,
            actor,
            parent,
            SchoolRole {
                role: Role::Parent,
                class: None,
            },
        )?;
    }
    let (action, details) = match code {
        None => ("guardian.linked", json!({"parent_id": parent.get()})),
        Some(code) => (
            "guardian.linked_by_code",
            json!({"parent_id": parent.get(), "link_code_id": code}),
        ),
    };
    actor.audit(conn, action, "student", student.get(), details)?;
    Ok(true)
}

fn issue_code_in(
    conn: &mut DbConnection,
    actor: Actor,
    user: UserId,
    code: &NewCode,
) -> Result<()> {
    // A new code replaces every unused one.
    diesel::update(
        activation_codes::table
            .filter(activation_codes::user_id.eq(user.get()))
            .filter(activation_codes::used_at.is_null()),
    )
    .set(activation_codes::expires_at.eq(actor.at))
    .execute(conn)?;
    diesel::insert_into(activation_codes::table)
        .values((
            activation_codes::school_id.eq(actor.school.get()),
            activation_codes::user_id.eq(user.get()),
            activation_codes::code_hash.eq(&code.hash),
            activation_codes::created_by.eq(Some(actor.user.get())),
            activation_codes::created_at.eq(actor.at),
            activation_codes::expires_at.eq(code.expires_at),
        ))
        .execute(conn)?;
    actor.audit(
        conn,
        "activation_code.issued",
        "person",
        user.get(),
        json!({"expires_at": code.expires_at.format("%Y-%m-%dT%H:%M:%SZ").to_string()}),
    )
}

/// Grants a role in the actor's school (for a student account, with its student record);
/// returns the role's id.
///
/// # Errors
/// On a broken reference, a student record that has an account already, or a database
/// failure; nothing is written then.
pub fn grant_role(
    conn: &mut DbConnection,
    actor: Actor,
    user: UserId,
    role: SchoolRole,
    student: Option<StudentId>,
) -> Result<i64> {
    conn.transaction(|conn| {
        let id = grant_role_in(conn, actor, user, role)?;
        if let Some(student) = student {
            attach_student_in(conn, actor, user, student)?;
        }
        Ok(id)
    })
}

/// Revokes a role of the actor's school. Revoking the student role detaches the student
/// record; revoking the parent role unlinks the person's children in this school.
///
/// # Errors
/// [`PersistenceError::NotFound`] when the role is not one of this person in this school.
pub fn revoke_role(
    conn: &mut DbConnection,
    actor: Actor,
    user: UserId,
    role_id: i64,
) -> Result<()> {
    conn.transaction(|conn| {
        let found: Option<(String, Option<i64>)> = role_assignments::table
            .filter(role_assignments::id.eq(role_id))
            .filter(role_assignments::user_id.eq(user.get()))
            .filter(role_assignments::school_id.eq(actor.school.get()))
            .select((role_assignments::role, role_assignments::class_id))
            .first(conn)
            .optional()?;
        let Some((role, class)) = found else {
            return Err(PersistenceError::NotFound);
        };
        diesel::delete(role_assignments::table.filter(role_assignments::id.eq(role_id)))
            .execute(conn)?;
        if role == Role::Student.as_str() {
            let records = students::table
                .filter(students::user_id.eq(user.get()))
                .filter(students::school_id.eq(actor.school.get()));
            let detached: Vec<i64> = records.select(students::id).load(conn)?;
            diesel::update(records)
                .set(students::user_id.eq(None::<i64>))
                .execute(conn)?;
            for student in detached {
                actor.audit(
                    conn,
                    "student.account_detached",
                    "person",
                    user.get(),
                    json!({"student_id": student}),
                )?;
            }
        }
        if role == Role::Parent.as_str() {
            let links = guardianships::table
                .filter(guardianships::parent_user_id.eq(user.get()))
                .filter(guardianships::school_id.eq(actor.school.get()));
            let children: Vec<i64> = links.select(guardianships::student_id).load(conn)?;
            diesel::delete(links).execute(conn)?;
            for child in children {
                actor.audit(
                    conn,
                    "guardian.unlinked",
                    "student",
                    child,
                    json!({"parent_id": user.get()}),
                )?;
            }
        }
        if role == Role::Teacher.as_str() {
            let assignments = teaching_assignments::table
                .filter(teaching_assignments::teacher_user_id.eq(user.get()))
                .filter(teaching_assignments::school_id.eq(actor.school.get()));
            let removed: Vec<i64> = assignments.select(teaching_assignments::id).load(conn)?;
            diesel::delete(assignments).execute(conn)?;
            for id in removed {
                actor.audit(
                    conn,
                    "teaching.removed",
                    "teaching_assignment",
                    id,
                    json!({}),
                )?;
            }
        }
        actor.audit(
            conn,
            "role.revoked",
            "person",
            user.get(),
            role_details(&role, class),
        )
    })
}

/// Links a parent to a student of the actor's school (the parent role follows). Returns
/// whether a new link was made.
///
/// # Errors
/// On a broken reference or a database failure.
pub fn link_guardian(
    conn: &mut DbConnection,
    actor: Actor,
    parent: UserId,
    student: StudentId,
) -> Result<bool> {
    conn.transaction(|conn| link_guardian_in(conn, actor, parent, student, None))
}

/// Unlinks a parent from a student of the actor's school.
///
/// # Errors
/// [`PersistenceError::NotFound`] when they were not linked.
pub fn unlink_guardian(
    conn: &mut DbConnection,
    actor: Actor,
    parent: UserId,
    student: StudentId,
) -> Result<()> {
    conn.transaction(|conn| {
        let removed = diesel::delete(
            guardianships::table
                .filter(guardianships::parent_user_id.eq(parent.get()))
                .filter(guardianships::student_id.eq(student.get()))
                .filter(guardianships::school_id.eq(actor.school.get())),
        )
        .execute(conn)?;
        if removed == 0 {
            return Err(PersistenceError::NotFound);
        }
        actor.audit(
            conn,
            "guardian.unlinked",
            "student",
            student.get(),
            json!({"parent_id": parent.get()}),
        )
    })
}

/// Issues a new activation code (the old unused ones stop working). Also serves as a
/// password reset: an activated account sets a new password with it.
///
/// # Errors
/// On a database failure.
pub fn issue_code(
    conn: &mut DbConnection,
    actor: Actor,
    user: UserId,
    code: &NewCode,
) -> Result<()> {
    conn.transaction(|conn| issue_code_in(conn, actor, user, code))
}

/// What redeeming an activation code led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// The password is set; the account's id.
    Activated(UserId),
    /// Unknown, used or expired.
    Invalid,
}

/// Redeems a code: sets the password, records the first activation time, uses the code up.
///
/// # Errors
/// On a database failure; nothing is written then.
pub fn activate(
    conn: &mut DbConnection,
    code_hash: &str,
    password_hash: &str,
    now: NaiveDateTime,
) -> Result<Activation> {
    conn.transaction(|conn| {
        let found: Option<(i64, i64, i64)> = activation_codes::table
            .filter(activation_codes::code_hash.eq(code_hash))
            .filter(activation_codes::used_at.is_null())
            .filter(activation_codes::expires_at.gt(now))
            .select((
                activation_codes::id,
                activation_codes::user_id,
                activation_codes::school_id,
            ))
            .first(conn)
            .optional()?;
        let Some((code, user, school)) = found else {
            return Ok(Activation::Invalid);
        };
        // A code kept from before the account gained ties elsewhere resets nothing.
        if !confined_to_school(conn, SchoolId(school), UserId(user))? {
            return Ok(Activation::Invalid);
        }
        let used = diesel::update(
            activation_codes::table
                .filter(activation_codes::id.eq(code))
                .filter(activation_codes::used_at.is_null()),
        )
        .set(activation_codes::used_at.eq(now))
        .execute(conn)?;
        if used == 0 {
            return Ok(Activation::Invalid);
        }
        let first_time: Option<NaiveDateTime> = users::table
            .find(user)
            .select(users::activated_at)
            .first(conn)?;
        diesel::update(users::table.find(user))
            .set((
                users::password_hash.eq(password_hash),
                users::activated_at.eq(first_time.unwrap_or(now)),
            ))
            .execute(conn)?;
        if first_time.is_some() {
            // A password reset ends every session of the old password.
            diesel::update(
                sessions::table
                    .filter(sessions::user_id.eq(user))
                    .filter(sessions::revoked_at.is_null()),
            )
            .set((
                sessions::revoked_at.eq(now),
                sessions::revoked_reason.eq("password reset"),
            ))
            .execute(conn)?;
        }
        audit::record(
            conn,
            &audit::Entry {
                owner: Owner::School(SchoolId(school)),
                actor: Some(UserId(user)),
                action: if first_time.is_some() {
                    "person.password_reset"
                } else {
                    "person.activated"
                },
                target_type: "person",
                target_id: user,
                details: json!({}),
                at: now,
            },
        )?;
        Ok(Activation::Activated(UserId(user)))
    })
}

/// Assigns a teacher to teach a subject in a class; returns the assignment's id.
///
/// # Errors
/// [`PersistenceError::Conflict`] when the assignment exists already.
pub fn assign_teaching(
    conn: &mut DbConnection,
    actor: Actor,
    teacher: UserId,
    class: ClassId,
    subject: SubjectId,
    group: Option<i64>,
) -> Result<i64> {
    conn.transaction(|conn| {
        let id =
            crate::people::assign_teaching(conn, actor.school, teacher, class, subject, actor.at)?;
        if group.is_some() {
            diesel::update(teaching_assignments::table.filter(teaching_assignments::id.eq(id)))
                .set(teaching_assignments::group_id.eq(group))
                .execute(conn)?;
        }
        actor.audit(
            conn,
            "teaching.assigned",
            "teaching_assignment",
            id,
            json!({
                "teacher_id": teacher.get(),
                "class_id": class.get(),
                "subject_id": subject.get(),
                "group_id": group
            }),
        )?;
        Ok(id)
    })
}

/// Removes a teaching assignment of the actor's school.
///
/// # Errors
/// [`PersistenceError::NotFound`] when there is no such assignment in the school.
pub fn remove_teaching(conn: &mut DbConnection, actor: Actor, id: i64) -> Result<()> {
    conn.transaction(|conn| {
        let removed = diesel::delete(
            teaching_assignments::table
                .filter(teaching_assignments::id.eq(id))
                .filter(teaching_assignments::school_id.eq(actor.school.get())),
        )
        .execute(conn)?;
        if removed == 0 {
            return Err(PersistenceError::NotFound);
        }
        actor.audit(
            conn,
            "teaching.removed",
            "teaching_assignment",
            id,
            json!({}),
        )
    })
}

/// A teaching assignment.
#[derive(Debug, Clone, Queryable)]
pub struct TeachingAssignment {
    pub id: i64,
    pub teacher_id: i64,
    pub teacher_name: String,
    pub class_id: i64,
    pub subject_id: i64,
    pub subject_name: String,
    pub group_id: Option<i64>,
}

/// The teaching assignments of a school, by id.
///
/// # Errors
/// On a database failure.
pub fn teaching(conn: &mut DbConnection, school: SchoolId) -> Result<Vec<TeachingAssignment>> {
    teaching_assignments::table
        .inner_join(users::table)
        .inner_join(subjects::table)
        .filter(teaching_assignments::school_id.eq(school.get()))
        .order(teaching_assignments::id.asc())
        .select((
            teaching_assignments::id,
            teaching_assignments::teacher_user_id,
            users::display_name,
            teaching_assignments::class_id,
            teaching_assignments::subject_id,
            subjects::name,
            teaching_assignments::group_id,
        ))
        .load(conn)
        .map_err(Into::into)
}

/// One role of a person in a school.
#[derive(Debug, Clone, Queryable)]
pub struct HeldRole {
    pub id: i64,
    pub role: String,
    pub class_id: Option<i64>,
}

/// A person as the school's administration sees them.
#[derive(Debug, Clone)]
pub struct SchoolPerson {
    pub id: i64,
    pub login: String,
    pub display_name: String,
    pub activated_at: Option<NaiveDateTime>,
    pub last_login_at: Option<NaiveDateTime>,
    pub roles: Vec<HeldRole>,
    /// The student record this account signs in for, in this school.
    pub student_id: Option<i64>,
    /// Children in this school: (student id, last name, first name).
    pub children: Vec<(i64, String, String)>,
}

#[derive(Debug, Clone, Queryable)]
struct Account {
    id: i64,
    login: String,
    display_name: String,
    activated_at: Option<NaiveDateTime>,
    last_login_at: Option<NaiveDateTime>,
}

/// People holding a role in the school, by id, after `after` (a user id), at most `limit`;
/// only those holding `role` when it is given.
///
/// # Errors
/// On a database failure.
pub fn people(
    conn: &mut DbConnection,
    school: SchoolId,
    role: Option<Role>,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<SchoolPerson>> {
    let mut page = role_assignments::table
        .filter(role_assignments::school_id.eq(school.get()))
        .select(role_assignments::user_id)
        .distinct()
        .order(role_assignments::user_id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(role) = role {
        page = page.filter(role_assignments::role.eq(role.as_str()));
    }
    if let Some(after) = after {
        page = page.filter(role_assignments::user_id.gt(after));
    }
    let ids: Vec<i64> = page.load(conn)?;
    let query = users::table
        .filter(users::id.eq_any(&ids))
        .select((
            users::id,
            users::login,
            users::display_name,
            users::activated_at,
            users::last_login_at,
        ))
        .order(users::id.asc());
    let accounts: Vec<Account> = query.load(conn)?;
    accounts
        .into_iter()
        .map(|account| with_ties(conn, school, account))
        .collect()
}

/// One person of the school.
///
/// # Errors
/// [`PersistenceError::NotFound`] when the person holds no role in the school.
pub fn person(conn: &mut DbConnection, school: SchoolId, user: UserId) -> Result<SchoolPerson> {
    let member: i64 = role_assignments::table
        .filter(role_assignments::school_id.eq(school.get()))
        .filter(role_assignments::user_id.eq(user.get()))
        .count()
        .get_result(conn)?;
    if member == 0 {
        return Err(PersistenceError::NotFound);
    }
    let account: Account = users::table
        .find(user.get())
        .select((
            users::id,
            users::login,
            users::display_name,
            users::activated_at,
            users::last_login_at,
        ))
        .first(conn)?;
    with_ties(conn, school, account)
}

fn with_ties(conn: &mut DbConnection, school: SchoolId, account: Account) -> Result<SchoolPerson> {
    let roles: Vec<HeldRole> = role_assignments::table
        .filter(role_assignments::school_id.eq(school.get()))
        .filter(role_assignments::user_id.eq(account.id))
        .select((
            role_assignments::id,
            role_assignments::role,
            role_assignments::class_id,
        ))
        .order(role_assignments::id.asc())
        .load(conn)?;
    let student_id: Option<i64> = students::table
        .filter(students::user_id.eq(account.id))
        .filter(students::school_id.eq(school.get()))
        .select(students::id)
        .first(conn)
        .optional()?;
    let children: Vec<(i64, String, String)> = students::table
        .inner_join(guardianships::table)
        .filter(guardianships::parent_user_id.eq(account.id))
        .filter(guardianships::school_id.eq(school.get()))
        .select((students::id, students::last_name, students::first_name))
        .order(students::id.asc())
        .load(conn)?;
    Ok(SchoolPerson {
        id: account.id,
        login: account.login,
        display_name: account.display_name,
        activated_at: account.activated_at,
        last_login_at: account.last_login_at,
        roles,
        student_id,
        children,
    })
}

/// Whether a user holds `role` in the school.
///
/// # Errors
/// On a database failure.
pub fn holds_role(
    conn: &mut DbConnection,
    school: SchoolId,
    user: UserId,
    role: Role,
) -> Result<bool> {
    let n: i64 = role_assignments::table
        .filter(role_assignments::school_id.eq(school.get()))
        .filter(role_assignments::user_id.eq(user.get()))
        .filter(role_assignments::role.eq(role.as_str()))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Whether a class belongs to the school.
///
/// # Errors
/// On a database failure.
pub fn class_in_school(conn: &mut DbConnection, school: SchoolId, class: ClassId) -> Result<bool> {
    let n: i64 = classes::table
        .filter(classes::id.eq(class.get()))
        .filter(classes::school_id.eq(school.get()))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Whether a subject belongs to the school.
///
/// # Errors
/// On a database failure.
pub fn subject_in_school(
    conn: &mut DbConnection,
    school: SchoolId,
    subject: SubjectId,
) -> Result<bool> {
    let n: i64 = subjects::table
        .filter(subjects::id.eq(subject.get()))
        .filter(subjects::school_id.eq(school.get()))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// A student of the school: `Some(has_account)`, or `None` when not a student of the school.
///
/// # Errors
/// On a database failure.
pub fn student_in_school(
    conn: &mut DbConnection,
    school: SchoolId,
    student: StudentId,
) -> Result<Option<bool>> {
    let found: Option<Option<i64>> = students::table
        .filter(students::id.eq(student.get()))
        .filter(students::school_id.eq(school.get()))
        .select(students::user_id)
        .first(conn)
        .optional()?;
    Ok(found.map(|user| user.is_some()))
}

/// The first administrator of a school or a municipality, created by the operator's command
/// line (there is nobody yet to create them through the API).
#[derive(Debug, Clone)]
pub struct FirstAdmin<'a> {
    pub login: &'a str,
    pub display_name: &'a str,
    pub owner: Owner,
    /// For a school administrator: the activation code to hand over.
    pub code: Option<NewCode>,
    /// For a municipality administrator: the password (hashed) set at once.
    pub password_hash: Option<String>,
    pub at: NaiveDateTime,
}

/// Creates a first administrator with their role, audited with no actor (the system).
///
/// # Errors
/// [`PersistenceError::Conflict`] for a taken login or an unknown school or municipality.
pub fn create_first_admin(conn: &mut DbConnection, new: &FirstAdmin<'_>) -> Result<UserId> {
    conn.transaction(|conn| {
        let user: i64 = diesel::insert_into(users::table)
            .values((
                users::login.eq(new.login),
                users::display_name.eq(new.display_name),
                users::created_at.eq(new.at),
                users::password_hash.eq(new.password_hash.as_deref()),
                users::activated_at.eq(new.password_hash.as_ref().map(|_| new.at)),
            ))
            .returning(users::id)
            .get_result(conn)?;
        let (role, school, municipality) = match new.owner {
            Owner::School(s) => (Role::SchoolAdmin, Some(s.get()), None),
            Owner::Municipality(m) => (Role::MunicipalityAdmin, None, Some(m.get())),
        };
        diesel::insert_into(role_assignments::table)
            .values((
                role_assignments::user_id.eq(user),
                role_assignments::role.eq(role.as_str()),
                role_assignments::school_id.eq(school),
                role_assignments::municipality_id.eq(municipality),
                role_assignments::created_at.eq(new.at),
            ))
            .execute(conn)?;
        if let (Some(code), Some(school)) = (&new.code, school) {
            diesel::insert_into(activation_codes::table)
                .values((
                    activation_codes::school_id.eq(school),
                    activation_codes::user_id.eq(user),
                    activation_codes::code_hash.eq(&code.hash),
                    activation_codes::created_at.eq(new.at),
                    activation_codes::expires_at.eq(code.expires_at),
                ))
                .execute(conn)?;
        }
        audit::record(
            conn,
            &audit::Entry {
                owner: new.owner,
                actor: None,
                action: "person.created",
                target_type: "person",
                target_id: user,
                details: json!({
                    "login": new.login,
                    "display_name": new.display_name,
                    "role": role.as_str(),
                    "by": "command line"
                }),
                at: new.at,
            },
        )?;
        Ok(UserId(user))
    })
}

/// Whether every tie of an account is to this school: no role elsewhere (another school, a
/// municipality), no child or own student record in another school. Only such an account's
/// password may this school's administration reset, or an administrator could take over an
/// account that reaches other schools.
///
/// # Errors
/// On a database failure.
pub fn confined_to_school(conn: &mut DbConnection, school: SchoolId, user: UserId) -> Result<bool> {
    let foreign_roles: i64 = role_assignments::table
        .filter(role_assignments::user_id.eq(user.get()))
        .filter(
            role_assignments::school_id
                .ne(school.get())
                .or(role_assignments::school_id.is_null()),
        )
        .count()
        .get_result(conn)?;
    let foreign_children: i64 = guardianships::table
        .filter(guardianships::parent_user_id.eq(user.get()))
        .filter(guardianships::school_id.ne(school.get()))
        .count()
        .get_result(conn)?;
    let foreign_records: i64 = students::table
        .filter(students::user_id.eq(user.get()))
        .filter(students::school_id.ne(school.get()))
        .count()
        .get_result(conn)?;
    Ok(foreign_roles + foreign_children + foreign_records == 0)
}

/// Whether an account is this school's: it holds a role here, or this school created it (and
/// so issued it an activation code). Only such an account may the school's administration
/// give roles or children by id; any other is answered as if it did not exist. (An account of
/// another school is linked only with a code its holder issued: see [`crate::link_codes`].)
///
/// # Errors
/// On a database failure.
pub fn known_to_school(conn: &mut DbConnection, school: SchoolId, user: UserId) -> Result<bool> {
    let roles: i64 = role_assignments::table
        .filter(role_assignments::user_id.eq(user.get()))
        .filter(role_assignments::school_id.eq(school.get()))
        .count()
        .get_result(conn)?;
    if roles > 0 {
        return Ok(true);
    }
    let codes: i64 = activation_codes::table
        .filter(activation_codes::user_id.eq(user.get()))
        .filter(activation_codes::school_id.eq(school.get()))
        .count()
        .get_result(conn)?;
    Ok(codes > 0)
}

/// Locks (`lock = true`) or unlocks a term of the actor's school, audited. Returns the term,
/// or `None` when the school has no such term. Locking a locked term changes nothing.
///
/// # Errors
/// On a database failure.
pub fn set_term_lock(
    conn: &mut DbConnection,
    actor: Actor,
    term: i64,
    lock: bool,
) -> Result<Option<crate::schools::Term>> {
    use crate::schema::terms;
    conn.transaction(|conn| {
        let found: Option<crate::schools::Term> = terms::table
            .filter(terms::id.eq(term))
            .filter(terms::school_id.eq(actor.school.get()))
            .select(crate::schools::Term::as_select())
            .first(conn)
            .optional()?;
        let Some(found) = found else {
            return Ok(None);
        };
        if found.locked_at.is_some() == lock {
            return Ok(Some(found));
        }
        diesel::update(terms::table.filter(terms::id.eq(term)))
            .set(terms::locked_at.eq(lock.then_some(actor.at)))
            .execute(conn)?;
        actor.audit(
            conn,
            if lock { "term.locked" } else { "term.unlocked" },
            "term",
            term,
            json!({}),
        )?;
        Ok(Some(
            terms::table
                .find(term)
                .select(crate::schools::Term::as_select())
                .first(conn)?,
        ))
    })
}
