//! A school's administration of people: accounts (one or many at once) with activation codes,
//! roles, parent-child links and teaching assignments. Every change is audited.

use std::collections::HashSet;

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Duration, Utc};
use domain::{ClassId, SchoolId, StudentId, SubjectId, UserId};
use persistence::DbConnection;
use persistence::admin::{self, NewCode, NewPerson, SchoolRole};
use persistence::link_codes::{self, Linked};
use persistence::people::Role;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationError};

use super::common::{PageQuery, db, db_write, managed_school, paginate, school_actor, utc};
use crate::AppState;
use crate::auth::Caller;
use crate::auth::credentials::{link_code_hash, new_activation_code};
use crate::error::{ApiError, FieldError, Problem};
use crate::extract::ValidJson;

/// A role the school's administration can grant. (A municipality administrator is appointed
/// outside the school, so it is not one of them.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SchoolRoleName {
    Teacher,
    ClassTeacher,
    SchoolAdmin,
    Parent,
    Student,
}

impl SchoolRoleName {
    const fn role(self) -> Role {
        match self {
            Self::Teacher => Role::Teacher,
            Self::ClassTeacher => Role::ClassTeacher,
            Self::SchoolAdmin => Role::SchoolAdmin,
            Self::Parent => Role::Parent,
            Self::Student => Role::Student,
        }
    }
}

/// A role to grant.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    pub role: SchoolRoleName,
    /// For `class_teacher` only: the class they lead (of this school).
    #[serde(default)]
    pub class_id: Option<i64>,
    /// For `student` only: the student record the account signs in for (of this school,
    /// without an account yet).
    #[serde(default)]
    pub student_id: Option<i64>,
}

fn login_chars(login: &str) -> Result<(), ValidationError> {
    let ok = login
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new("invalid_characters").with_message(
            "may hold only lower-case Latin letters, digits, '.', '-' and '_'".into(),
        ))
    }
}

/// An account to create.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPersonRequest {
    /// The login: 3 to 64 lower-case Latin letters, digits, `.`, `-` or `_`; unique.
    #[validate(
        length(min = 3, max = 64, message = "must be 3 to 64 characters"),
        custom(function = "login_chars")
    )]
    #[schema(
        example = "ivanova.ma",
        min_length = 3,
        max_length = 64,
        pattern = "^[a-z0-9._-]+$"
    )]
    pub login: String,
    /// The name others see.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(example = "Иванова Мария Андреевна", min_length = 1, max_length = 200)]
    pub display_name: String,
    /// The roles in this school (at least one).
    #[validate(length(min = 1, max = 10, message = "must hold 1 to 10 roles"), nested)]
    #[schema(min_items = 1, max_items = 10)]
    pub roles: Vec<RoleRequest>,
    /// For a parent: students of this school to link as their children (the `parent` role
    /// follows).
    #[serde(default)]
    #[validate(length(max = 20, message = "must hold at most 20 children"))]
    #[schema(max_items = 20)]
    pub children: Vec<i64>,
}

/// Accounts to create, all or none.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePeopleRequest {
    /// One account, or up to 500 at once.
    #[validate(
        length(min = 1, max = 500, message = "must hold 1 to 500 people"),
        nested
    )]
    #[schema(min_items = 1, max_items = 500)]
    pub people: Vec<NewPersonRequest>,
}

/// A created account and its one-time activation code.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedPerson {
    pub id: i64,
    pub login: String,
    pub display_name: String,
    /// Hand this to the person: they set their password with it at `POST /api/v1/auth/activate`.
    /// It is shown only here.
    #[schema(example = "7KQ2-M9XD-4TRA")]
    pub activation_code: String,
    pub activation_expires_at: DateTime<Utc>,
}

/// The created accounts, in the order asked.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedPeople {
    pub people: Vec<CreatedPerson>,
}

/// A role held in the school.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeldRole {
    /// The role's id (to revoke it).
    pub id: i64,
    #[schema(example = "teacher")]
    pub role: String,
    /// For a class teacher: their class.
    pub class_id: Option<i64>,
}

/// A child linked to a parent.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkedChild {
    /// The student's id.
    pub id: i64,
    /// Last name, first name.
    pub name: String,
}

/// A person as the school's administration sees them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Person {
    pub id: i64,
    pub login: String,
    pub display_name: String,
    /// Whether the person has set a password.
    pub activated: bool,
    pub activated_at: Option<DateTime<Utc>>,
    pub last_login_at: Option<DateTime<Utc>>,
    /// Their roles in this school.
    pub roles: Vec<HeldRole>,
    /// For a student account: the student record.
    pub student_id: Option<i64>,
    /// For a parent: their children in this school.
    pub children: Vec<LinkedChild>,
}

impl From<admin::SchoolPerson> for Person {
    fn from(p: admin::SchoolPerson) -> Self {
        Self {
            id: p.id,
            login: p.login,
            display_name: p.display_name,
            activated: p.activated_at.is_some(),
            activated_at: p.activated_at.map(utc),
            last_login_at: p.last_login_at.map(utc),
            roles: p
                .roles
                .into_iter()
                .map(|r| HeldRole {
                    id: r.id,
                    role: r.role,
                    class_id: r.class_id,
                })
                .collect(),
            student_id: p.student_id,
            children: p
                .children
                .into_iter()
                .map(|(id, last, first)| LinkedChild {
                    id,
                    name: format!("{last} {first}"),
                })
                .collect(),
        }
    }
}

/// A page of people.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeoplePage {
    pub items: Vec<Person>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Filters of the people list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeopleFilter {
    /// Only people holding this role.
    pub role: Option<SchoolRoleName>,
}

/// A new activation code.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivationCode {
    /// Hand this to the person; earlier unused codes no longer work. Shown only here.
    #[schema(example = "7KQ2-M9XD-4TRA")]
    pub activation_code: String,
    pub expires_at: DateTime<Utc>,
}

pub(crate) fn new_code(state: &AppState, now: DateTime<Utc>) -> (String, NewCode) {
    let (shown, hash) = new_activation_code();
    let days = i64::from(state.settings.auth.activation_code_ttl_days);
    (
        shown,
        NewCode {
            hash,
            expires_at: (now + Duration::days(days)).naive_utc(),
        },
    )
}

/// `name` inside the body part `at` (`people[0].roles[1]`), or alone for the whole body.
fn field(at: &str, name: &str) -> String {
    if at.is_empty() {
        name.to_owned()
    } else {
        format!("{at}.{name}")
    }
}

/// Checks a role request against the school: the class, the student, and which fields
/// belong to which role. Returns the role to store.
fn check_role(
    conn: &mut DbConnection,
    school: SchoolId,
    at: &str,
    request: &RoleRequest,
    errors: &mut Vec<FieldError>,
) -> Result<Option<(SchoolRole, Option<StudentId>)>, ApiError> {
    let before = errors.len();
    let class = match (request.role, request.class_id) {
        (SchoolRoleName::ClassTeacher, Some(class)) => {
            if !admin::class_in_school(conn, school, ClassId(class))? {
                errors.push(FieldError::new(
                    field(at, "class_id"),
                    "not_found",
                    "no such class in this school",
                ));
            }
            Some(ClassId(class))
        }
        (SchoolRoleName::ClassTeacher, None) => {
            errors.push(FieldError::new(
                field(at, "class_id"),
                "required",
                "a class teacher's class is required",
            ));
            None
        }
        (_, Some(_)) => {
            errors.push(FieldError::new(
                field(at, "class_id"),
                "not_allowed",
                "only a class_teacher role has a class",
            ));
            None
        }
        (_, None) => None,
    };
    let student = match (request.role, request.student_id) {
        (SchoolRoleName::Student, Some(student)) => {
            match admin::student_in_school(conn, school, StudentId(student))? {
                None => errors.push(FieldError::new(
                    field(at, "student_id"),
                    "not_found",
                    "no such student in this school",
                )),
                Some(true) => errors.push(FieldError::new(
                    field(at, "student_id"),
                    "taken",
                    "this student already has an account",
                )),
                Some(false) => {}
            }
            Some(StudentId(student))
        }
        (SchoolRoleName::Student, None) => {
            errors.push(FieldError::new(
                field(at, "student_id"),
                "required",
                "a student account names its student record",
            ));
            None
        }
        (_, Some(_)) => {
            errors.push(FieldError::new(
                field(at, "student_id"),
                "not_allowed",
                "only a student role names a student record",
            ));
            None
        }
        (_, None) => None,
    };
    Ok((errors.len() == before).then_some((
        SchoolRole {
            role: request.role.role(),
            class,
        },
        student,
    )))
}

fn check_children(
    conn: &mut DbConnection,
    school: SchoolId,
    at: &str,
    children: &[i64],
    errors: &mut Vec<FieldError>,
) -> Result<Vec<StudentId>, ApiError> {
    let mut seen = HashSet::new();
    for (i, child) in children.iter().enumerate() {
        if !seen.insert(*child) {
            errors.push(FieldError::new(
                format!("{at}[{i}]"),
                "duplicate",
                "this child is listed twice",
            ));
        } else if admin::student_in_school(conn, school, StudentId(*child))?.is_none() {
            errors.push(FieldError::new(
                format!("{at}[{i}]"),
                "not_found",
                "no such student in this school",
            ));
        }
    }
    Ok(children.iter().copied().map(StudentId).collect())
}

/// List the school's people
///
/// Everyone holding a role in the school, by id, a page at a time; `role` keeps only the
/// holders of one role. For the school's administration.
#[utoipa::path(
    tag = "administration",
    params(("school_id" = i64, Path, description = "The school"), PeopleFilter, PageQuery),
    responses(
        (status = 200, description = "A page of people", body = PeoplePage),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A query parameter is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/schools/{school_id}/people")]
pub async fn list_people(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    filter: web::Query<PeopleFilter>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<PeoplePage>, ApiError> {
    let school = path.into_inner();
    let (limit, after) = page.parse()?;
    let role = filter.role.map(SchoolRoleName::role);
    let people = db(&state, move |conn| {
        managed_school(conn, &caller.principal, school)?;
        Ok(admin::people(
            conn,
            SchoolId(school),
            role,
            after,
            limit + 1,
        )?)
    })
    .await?;
    let (people, next) = paginate(people, limit, |p| p.id);
    Ok(web::Json(PeoplePage {
        items: people.into_iter().map(Person::from).collect(),
        next_cursor: next,
    }))
}

/// Create accounts
///
/// Creates one account or up to 500 at once, all or none: if any entry is invalid, nothing is
/// created and every fault is named (`people[3].login`). Each account comes with a one-time
/// activation code to hand out; the person sets a password with it. Fields the
/// administration may not set (a `school_id`, a `municipality_admin` role) are refused.
#[utoipa::path(
    tag = "administration",
    params(("school_id" = i64, Path, description = "The school")),
    request_body = CreatePeopleRequest,
    responses(
        (status = 201, description = "Created, with activation codes", body = CreatedPeople),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A login was taken meanwhile; nothing was created", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Entries are invalid; nothing was created", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/schools/{school_id}/people")]
pub async fn create_people(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    body: ValidJson<CreatePeopleRequest>,
) -> Result<HttpResponse, ApiError> {
    let school = path.into_inner();
    let now = Utc::now();
    let codes: Vec<(String, NewCode)> = body.people.iter().map(|_| new_code(&state, now)).collect();
    let request = body.0;
    let created = db(&state, move |conn| {
        managed_school(conn, &caller.principal, school)?;
        let actor = school_actor(&caller, SchoolId(school))?;
        let school_id = SchoolId(school);
        let mut errors = Vec::new();
        let mut logins = HashSet::new();
        let mut people = Vec::with_capacity(request.people.len());
        let all_logins: Vec<String> = request.people.iter().map(|p| p.login.clone()).collect();
        let taken: HashSet<String> = admin::taken_logins(conn, &all_logins)?
            .into_iter()
            .collect();
        for (i, (person, (_, code))) in request.people.iter().zip(&codes).enumerate() {
            let at = format!("people[{i}]");
            if taken.contains(&person.login) {
                errors.push(FieldError::new(
                    format!("{at}.login"),
                    "taken",
                    "this login is taken",
                ));
            } else if !logins.insert(person.login.clone()) {
                errors.push(FieldError::new(
                    format!("{at}.login"),
                    "duplicate",
                    "this login appears twice in the request",
                ));
            }
            let mut roles = Vec::new();
            let mut student = None;
            let mut names = HashSet::new();
            for (j, role) in person.roles.iter().enumerate() {
                if !names.insert(role.role) {
                    errors.push(FieldError::new(
                        format!("{at}.roles[{j}].role"),
                        "duplicate",
                        "this role is listed twice",
                    ));
                    continue;
                }
                if let Some((role, record)) = check_role(
                    conn,
                    school_id,
                    &format!("{at}.roles[{j}]"),
                    role,
                    &mut errors,
                )? {
                    roles.push(role);
                    student = student.or(record);
                }
            }
            let children = check_children(
                conn,
                school_id,
                &format!("{at}.children"),
                &person.children,
                &mut errors,
            )?;
            people.push(NewPerson {
                login: person.login.clone(),
                display_name: person.display_name.clone(),
                roles,
                student,
                children,
                code: code.clone(),
            });
        }
        let mut students = HashSet::new();
        for (i, person) in people.iter().enumerate() {
            if person.student.is_some_and(|s| !students.insert(s)) {
                errors.push(FieldError::new(
                    format!("people[{i}].roles"),
                    "duplicate",
                    "two accounts in the request name the same student",
                ));
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let ids = admin::create_people(conn, actor, &people)?;
        Ok(ids
            .into_iter()
            .zip(people)
            .zip(codes)
            .map(|((id, person), (shown, code))| CreatedPerson {
                id: id.get(),
                login: person.login,
                display_name: person.display_name,
                activation_code: shown,
                activation_expires_at: utc(code.expires_at),
            })
            .collect::<Vec<_>>())
    })
    .await?;
    tracing::info!(
        school_id = school,
        count = created.len(),
        "accounts created"
    );
    Ok(HttpResponse::Created().json(CreatedPeople { people: created }))
}

/// Show a person
///
/// A person of the school with their roles, children and activation state.
#[utoipa::path(
    tag = "administration",
    params(
        ("school_id" = i64, Path, description = "The school"),
        ("user_id" = i64, Path, description = "The person"),
    ),
    responses(
        (status = 200, description = "The person", body = Person),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school, or no such person in it", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/schools/{school_id}/people/{user_id}")]
pub async fn get_person(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
) -> Result<web::Json<Person>, ApiError> {
    let (school, user) = path.into_inner();
    let person = db(&state, move |conn| {
        managed_school(conn, &caller.principal, school)?;
        Ok(admin::person(conn, SchoolId(school), UserId(user))?)
    })
    .await?;
    Ok(web::Json(person.into()))
}

/// Grant a role
///
/// Grants an account of this school (one it created, or one holding a role in it) a role in
/// it. Any other account is answered 404, exactly like one that does not exist.
#[utoipa::path(
    tag = "administration",
    params(
        ("school_id" = i64, Path, description = "The school"),
        ("user_id" = i64, Path, description = "The person"),
    ),
    request_body = RoleRequest,
    responses(
        (status = 201, description = "Granted", body = HeldRole),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school, or no such person in it", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The person holds this role already", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The role does not fit (class, student record)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/schools/{school_id}/people/{user_id}/roles")]
pub async fn grant_role(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
    body: ValidJson<RoleRequest>,
) -> Result<HttpResponse, ApiError> {
    let (school, user) = path.into_inner();
    let request = body.0;
    let held = db(&state, move |conn| {
        managed_school(conn, &caller.principal, school)?;
        let actor = school_actor(&caller, SchoolId(school))?;
        // Only an account of this school: one of another school is answered exactly as one
        // that does not exist (attaching it by id would expose it and let it be taken over).
        if !admin::known_to_school(conn, SchoolId(school), UserId(user))? {
            return Err(ApiError::NotFound);
        }
        let mut errors = Vec::new();
        let checked = check_role(conn, SchoolId(school), "", &request, &mut errors)?;
        let Some((role, student)) = checked else {
            return Err(ApiError::Validation(errors));
        };
        if admin::holds_role(conn, SchoolId(school), UserId(user), role.role)? {
            return Err(ApiError::Conflict(
                "the person holds this role already".into(),
            ));
        }
        let id = admin::grant_role(conn, actor, UserId(user), role, student)?;
        Ok(HeldRole {
            id,
            role: role.role.as_str().to_owned(),
            class_id: role.class.map(ClassId::get),
        })
    })
    .await?;
    Ok(HttpResponse::Created().json(held))
}

/// Revoke a role
///
/// Revoking `student` detaches the student record from the account; revoking `parent`
/// unlinks the person's children in this school; revoking `teacher` removes their teaching
/// assignments here.
#[utoipa::path(
    tag = "administration",
    params(
        ("school_id" = i64, Path, description = "The school"),
        ("user_id" = i64, Path, description = "The person"),
        ("role_id" = i64, Path, description = "The role, as `roles[].id` of the person"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school, person or role", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/schools/{school_id}/people/{user_id}/roles/{role_id}")]
pub async fn revoke_role(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i64, i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (school, user, role) = path.into_inner();
    db(&state, move |conn| {
        managed_school(conn, &caller.principal, school)?;
        let actor = school_actor(&caller, SchoolId(school))?;
        Ok(admin::revoke_role(conn, actor, UserId(user), role)?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Issue an activation code
///
/// A new one-time code for a person of the school; earlier unused codes stop working. For an
/// activated account it serves as a password reset. An account that also belongs to another
/// school or to a municipality gets 409: its password is not this school's to reset.
#[utoipa::path(
    tag = "administration",
    params(
        ("school_id" = i64, Path, description = "The school"),
        ("user_id" = i64, Path, description = "The person"),
    ),
    responses(
        (status = 201, description = "A new code", body = ActivationCode),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school, or no such person in it", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The account belongs to other schools or a municipality too", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/schools/{school_id}/people/{user_id}/activation-code")]
pub async fn issue_activation_code(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (school, user) = path.into_inner();
    let (shown, code) = new_code(&state, Utc::now());
    let expires_at = code.expires_at;
    db(&state, move |conn| {
        managed_school(conn, &caller.principal, school)?;
        let actor = school_actor(&caller, SchoolId(school))?;
        admin::person(conn, SchoolId(school), UserId(user))?;
        if !admin::confined_to_school(conn, SchoolId(school), UserId(user))? {
            return Err(ApiError::Conflict(
                "this account also belongs to another school or a municipality; only an \
                 account of this school alone gets its code here"
                    .into(),
            ));
        }
        Ok(admin::issue_code(conn, actor, UserId(user), &code)?)
    })
    .await?;
    Ok(HttpResponse::Created().json(ActivationCode {
        activation_code: shown,
        expires_at: utc(expires_at),
    }))
}

/// Link a parent to a student
///
/// Makes an account of this school (one it created, or one holding a role in it) a parent
/// (legal representative) of a student of this school; the `parent` role follows. Linking
/// twice changes nothing. Any other account is answered 404, exactly like one that does not
/// exist.
#[utoipa::path(
    tag = "administration",
    params(
        ("school_id" = i64, Path, description = "The school"),
        ("student_id" = i64, Path, description = "The student"),
        ("user_id" = i64, Path, description = "The parent's account"),
    ),
    responses(
        (status = 204, description = "Linked"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school, student in it, or person in it", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A concurrent request linked them first", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/schools/{school_id}/students/{student_id}/guardians/{user_id}")]
pub async fn link_guardian(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i64, i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (school, student, user) = path.into_inner();
    db(&state, move |conn| {
        managed_school(conn, &caller.principal, school)?;
        let actor = school_actor(&caller, SchoolId(school))?;
        if admin::student_in_school(conn, SchoolId(school), StudentId(student))?.is_none() {
            return Err(ApiError::NotFound);
        }
        // Only an account of this school (see `grant_role`).
        if !admin::known_to_school(conn, SchoolId(school), UserId(user))? {
            return Err(ApiError::NotFound);
        }
        admin::link_guardian(conn, actor, UserId(user), StudentId(student))?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A link code a parent issued for their own account.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkByCodeRequest {
    /// The code the parent issued at `POST /api/v1/me/link-codes` and handed over
    /// (`XXXXX-XXXXX`); case, dashes and spaces do not matter.
    #[validate(length(min = 1, max = 64, message = "must be 1 to 64 characters"))]
    #[schema(example = "7KQ2M-9XD4T", min_length = 1, max_length = 64)]
    pub link_code: String,
}

/// Link a parent to a student with their link code
///
/// Makes the account whose holder issued the link code (at `POST /api/v1/me/link-codes`, in
/// the app) a parent (legal representative) of a student of this school; the `parent` role
/// follows. This is how a parent whose account another school created is linked here: the
/// code is their consent. The code works once. A wrong, used or expired code gets the same
/// 422 naming `link_code`; repeated failures are refused for a while with 429. Answers the
/// account as the school now sees it: 201 when linked, 200 when it was linked already (the
/// code is used up either way).
#[utoipa::path(
    tag = "administration",
    params(
        ("school_id" = i64, Path, description = "The school"),
        ("student_id" = i64, Path, description = "The student"),
    ),
    request_body = LinkByCodeRequest,
    responses(
        (status = 200, description = "Linked already; the code is used up", body = Person),
        (status = 201, description = "Linked", body = Person),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school, or no such student in it", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A concurrent request linked them first", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The link code is wrong, used or expired", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong codes", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/schools/{school_id}/students/{student_id}/guardians")]
pub async fn link_guardian_by_code(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
    body: ValidJson<LinkByCodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let (school, student) = path.into_inner();
    let typed = body.0.link_code;
    let throttle = state.login_throttle;
    // A write (the link, or the wrong code's count), in a write turn.
    let (created, person) = db_write(&state, move |conn| {
        managed_school(conn, &caller.principal, school)?;
        let actor = school_actor(&caller, SchoolId(school))?;
        if admin::student_in_school(conn, SchoolId(school), StudentId(student))?.is_none() {
            return Err(ApiError::NotFound);
        }
        // Wrong codes count per administrator, like failed logins.
        let keys = [format!("link-code-user:{}", actor.user.get())];
        let _ = throttle.check_on(conn, &keys, Utc::now().naive_utc())?;
        let linked = match link_code_hash(&typed) {
            Some(hash) => link_codes::link_guardian(conn, actor, &hash, StudentId(student))?,
            None => Linked::Invalid,
        };
        let Linked::Linked { parent, created } = linked else {
            throttle.failed_on(conn, &keys, Utc::now().naive_utc())?;
            return Err(ApiError::field(
                "link_code",
                "invalid",
                "no such link code, or it was used or has expired; ask the parent for a new one",
            ));
        };
        Ok((created, admin::person(conn, SchoolId(school), parent)?))
    })
    .await?;
    tracing::info!(
        school_id = school,
        student_id = student,
        user_id = person.id,
        "guardian linked by code"
    );
    let person = Person::from(person);
    Ok(if created {
        HttpResponse::Created().json(person)
    } else {
        HttpResponse::Ok().json(person)
    })
}

/// Unlink a parent from a student
#[utoipa::path(
    tag = "administration",
    params(
        ("school_id" = i64, Path, description = "The school"),
        ("student_id" = i64, Path, description = "The student"),
        ("user_id" = i64, Path, description = "The parent's account"),
    ),
    responses(
        (status = 204, description = "Unlinked"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school or link", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/schools/{school_id}/students/{student_id}/guardians/{user_id}")]
pub async fn unlink_guardian(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i64, i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (school, student, user) = path.into_inner();
    db(&state, move |conn| {
        managed_school(conn, &caller.principal, school)?;
        let actor = school_actor(&caller, SchoolId(school))?;
        Ok(admin::unlink_guardian(
            conn,
            actor,
            UserId(user),
            StudentId(student),
        )?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A teaching assignment to make.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeachingRequest {
    /// A person holding the `teacher` role in this school.
    pub teacher_id: i64,
    /// A class of this school.
    pub class_id: i64,
    /// A subject of this school.
    pub subject_id: i64,
    /// One group of the class for this subject, when the teacher teaches only that group
    /// (for access, a group counts as its class).
    #[serde(default)]
    pub group_id: Option<i64>,
}

/// Who teaches what where.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeachingAssignment {
    pub id: i64,
    pub teacher_id: i64,
    pub teacher_name: String,
    pub class_id: i64,
    pub subject_id: i64,
    pub subject_name: String,
    /// The group of the class the teacher teaches; absent: the whole class.
    pub group_id: Option<i64>,
}

/// The school's teaching assignments.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeachingAssignments {
    pub items: Vec<TeachingAssignment>,
}

/// List teaching assignments
#[utoipa::path(
    tag = "administration",
    params(("school_id" = i64, Path, description = "The school")),
    responses(
        (status = 200, description = "Every assignment of the school", body = TeachingAssignments),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/schools/{school_id}/teaching-assignments")]
pub async fn list_teaching_assignments(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
) -> Result<web::Json<TeachingAssignments>, ApiError> {
    let school = path.into_inner();
    let rows = db(&state, move |conn| {
        managed_school(conn, &caller.principal, school)?;
        Ok(admin::teaching(conn, SchoolId(school))?)
    })
    .await?;
    Ok(web::Json(TeachingAssignments {
        items: rows
            .into_iter()
            .map(|r| TeachingAssignment {
                id: r.id,
                teacher_id: r.teacher_id,
                teacher_name: r.teacher_name,
                class_id: r.class_id,
                subject_id: r.subject_id,
                subject_name: r.subject_name,
                group_id: r.group_id,
            })
            .collect(),
    }))
}

/// Assign a teacher
///
/// The teacher teaches the subject in the class: they may then keep that part of the journal.
#[utoipa::path(
    tag = "administration",
    params(("school_id" = i64, Path, description = "The school")),
    request_body = TeachingRequest,
    responses(
        (status = 201, description = "Assigned", body = TeachingAssignment),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The assignment exists already", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such teacher, class or subject in the school", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/schools/{school_id}/teaching-assignments")]
pub async fn create_teaching_assignment(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    body: ValidJson<TeachingRequest>,
) -> Result<HttpResponse, ApiError> {
    let school = path.into_inner();
    let request = body.0;
    let created = db(&state, move |conn| {
        managed_school(conn, &caller.principal, school)?;
        let actor = school_actor(&caller, SchoolId(school))?;
        let s = SchoolId(school);
        let mut errors = Vec::new();
        if !admin::holds_role(conn, s, UserId(request.teacher_id), Role::Teacher)? {
            errors.push(FieldError::new(
                "teacher_id",
                "not_found",
                "no teacher with this id in this school",
            ));
        }
        if !admin::class_in_school(conn, s, ClassId(request.class_id))? {
            errors.push(FieldError::new(
                "class_id",
                "not_found",
                "no such class in this school",
            ));
        }
        if !admin::subject_in_school(conn, s, SubjectId(request.subject_id))? {
            errors.push(FieldError::new(
                "subject_id",
                "not_found",
                "no such subject in this school",
            ));
        }
        if let Some(group) = request.group_id {
            let fits = persistence::timetable::find_group(conn, group)?.is_some_and(|g| {
                g.class_id == request.class_id && g.subject_id == request.subject_id
            });
            if !fits {
                errors.push(FieldError::new(
                    "group_id",
                    "not_found",
                    "no such group of this class for this subject",
                ));
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let id = admin::assign_teaching(
            conn,
            actor,
            UserId(request.teacher_id),
            ClassId(request.class_id),
            SubjectId(request.subject_id),
            request.group_id,
        )?;
        admin::teaching(conn, s)?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or(ApiError::NotFound)
    })
    .await?;
    Ok(HttpResponse::Created().json(TeachingAssignment {
        id: created.id,
        teacher_id: created.teacher_id,
        teacher_name: created.teacher_name,
        class_id: created.class_id,
        subject_id: created.subject_id,
        subject_name: created.subject_name,
        group_id: created.group_id,
    }))
}

/// Remove a teaching assignment
#[utoipa::path(
    tag = "administration",
    params(
        ("school_id" = i64, Path, description = "The school"),
        ("assignment_id" = i64, Path, description = "The assignment"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school or assignment", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/schools/{school_id}/teaching-assignments/{assignment_id}")]
pub async fn delete_teaching_assignment(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (school, assignment) = path.into_inner();
    db(&state, move |conn| {
        managed_school(conn, &caller.principal, school)?;
        let actor = school_actor(&caller, SchoolId(school))?;
        Ok(admin::remove_teaching(conn, actor, assignment)?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
