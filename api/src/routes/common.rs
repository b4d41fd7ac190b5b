//! What the resource handlers share: running blocking database work, answering with the
//! access rules of `domain::access`, and cursor pagination.

use actix_web::web;
use chrono::{DateTime, NaiveDateTime, Utc};
use domain::access::{self, Operation, Principal, SchoolRef};
use domain::{MunicipalityId, SchoolId};
use persistence::{DbConnection, PersistenceError};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::enforce;
use crate::{ApiError, AppState};

/// Runs `work` on a pooled connection on the blocking thread pool.
///
/// # Errors
/// 503 when no connection can be had; whatever `work` answers otherwise.
pub async fn db<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let pool = state.pool.clone();
    web::block(move || {
        let mut conn = pool.get().map_err(PersistenceError::from)?;
        work(&mut conn)
    })
    .await?
}

/// Runs `work`, which writes, like [`db`], after waiting for its turn in the process's queue
/// of writers ([`crate::write_queue`]).
///
/// SQLite lets one transaction write at a time. Left to itself, a writer that finds the file
/// locked sleeps in SQLite's busy handler for longer and longer (up to 100 ms a time), so under
/// a burst (a dozen teachers grading at the bell) some wait over a second while later ones
/// pass. Taking turns here first, before a connection is taken from the pool, makes the wait a
/// queue: each waits about as long as the writes ahead of it take. On PostgreSQL a few write
/// at once (`database.write_concurrency`): more would only contend for the cores.
///
/// Once the work is done, the rankings this process keeps are stale (see
/// [`crate::routes::averages::Rankings`]).
///
/// # Errors
/// As [`db`].
pub async fn db_write<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let rankings = std::sync::Arc::clone(&state.rankings);
    db_turn(state, move |conn| {
        let done = work(conn);
        // Committed (or rolled back): rankings computed before may no longer hold.
        rankings.generation.advance();
        done
    })
    .await
}

/// Runs `work`, a grading request's write, like [`db_write`]; on SQLite together with the
/// other grading requests waiting, in one transaction (see [`crate::group_commit`]).
///
/// # Errors
/// As [`db`]; a failed commit of the group.
pub async fn db_write_grouped<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    match &state.group_writer {
        Some(writer) => writer.write(work).await,
        None => db_write(state, work).await,
    }
}

/// Runs `work` on a pooled connection in a turn of the process's queue of writers, the turn
/// taken first (a connection is not held while waiting for it): [`db_write`] for writes that
/// touch no grade, so the rankings kept stand (the counts of failed logins, housekeeping).
///
/// # Errors
/// As [`db`].
pub async fn db_turn<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let pool = state.pool.clone();
    let turn = state.write_turn.clone();
    web::block(move || {
        let _turn = turn.turn();
        let mut conn = pool.get().map_err(PersistenceError::from)?;
        work(&mut conn)
    })
    .await?
}

/// The school, if the caller may administer it: 404 for a school that does not exist or that
/// the caller cannot see, 403 for a role that may not administer schools.
///
/// # Errors
/// 403 or 404 as the rules decide.
pub fn managed_school(
    conn: &mut DbConnection,
    principal: &Principal,
    school: i64,
) -> Result<SchoolRef, ApiError> {
    school_for(
        conn,
        principal,
        school,
        Operation::ManageSchool,
        access::manage_school,
    )
}

/// The school, if `rule` lets the caller use `op` on it: 404 for a school that does not exist
/// or that the caller cannot see, 403 for a role that may not use `op`.
///
/// # Errors
/// 403 or 404 as the rules decide.
pub fn school_for(
    conn: &mut DbConnection,
    principal: &Principal,
    school: i64,
    op: Operation,
    rule: fn(&Principal, &SchoolRef) -> access::Decision,
) -> Result<SchoolRef, ApiError> {
    match persistence::access::school(conn, SchoolId(school))? {
        Some(found) => {
            enforce(rule(principal, &found))?;
            Ok(found)
        }
        None => {
            enforce(access::when_missing(principal, op))?;
            Err(ApiError::NotFound)
        }
    }
}

/// Checks that the caller may administer the municipality: 404 for one that does not exist
/// or that the caller cannot see, 403 for a role that may not administer municipalities.
///
/// # Errors
/// 403 or 404 as the rules decide.
pub fn managed_municipality(
    conn: &mut DbConnection,
    principal: &Principal,
    municipality: MunicipalityId,
) -> Result<(), ApiError> {
    municipality_for(
        conn,
        principal,
        municipality,
        Operation::ManageMunicipality,
        access::manage_municipality,
    )
}

/// Checks that `rule` lets the caller use `op` on the municipality: 404 for one that does not
/// exist or that the caller cannot see, 403 for a role that may not use `op`.
///
/// # Errors
/// 403 or 404 as the rules decide.
pub fn municipality_for(
    conn: &mut DbConnection,
    principal: &Principal,
    municipality: MunicipalityId,
    op: Operation,
    rule: fn(&Principal, MunicipalityId) -> access::Decision,
) -> Result<(), ApiError> {
    if persistence::access::municipality_exists(conn, municipality)? {
        enforce(rule(principal, municipality))
    } else {
        enforce(access::when_missing(principal, op))?;
        Err(ApiError::NotFound)
    }
}

/// A timestamp as the API shows it: RFC 3339 in UTC.
#[must_use]
pub fn utc(at: NaiveDateTime) -> DateTime<Utc> {
    at.and_utc()
}

/// The largest page.
pub const MAX_PAGE: i64 = 200;
/// The page size when `limit` is left out.
pub const DEFAULT_PAGE: i64 = 50;

/// Cursor pagination: pass a page's `next_cursor` back as `cursor` for the next page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page; leave out for the first page.
    #[param(max_length = 32)]
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The page size and the id the page starts after.
    ///
    /// # Errors
    /// 422 naming `limit` or `cursor`.
    pub fn parse(&self) -> Result<(i64, Option<i64>), ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::field(
                "limit",
                "out_of_range",
                format!("must be between 1 and {MAX_PAGE}"),
            ));
        }
        let after = self
            .cursor
            .as_deref()
            .map(|c| {
                c.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    ApiError::field(
                        "cursor",
                        "invalid",
                        "pass a next_cursor from a previous page",
                    )
                })
            })
            .transpose()?;
        Ok((limit, after))
    }
}

/// Cuts a page fetched with `limit + 1` rows down to `limit`, and gives the cursor of the
/// next page when there is one (so a full last page has none).
pub fn paginate<T>(
    mut rows: Vec<T>,
    limit: i64,
    id: impl Fn(&T) -> i64,
) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() > limit {
        rows.truncate(limit);
        let next = rows.last().map(|row| id(row).to_string());
        (rows, next)
    } else {
        (rows, None)
    }
}

/// The class, if the caller may administer its school: 404 for a class that does not exist
/// or that the caller cannot see, 403 for a role that may not administer schools.
///
/// # Errors
/// 403 or 404 as the rules decide.
pub fn managed_class(
    conn: &mut DbConnection,
    principal: &Principal,
    class: domain::ClassId,
) -> Result<access::ClassRef, ApiError> {
    match persistence::access::class(conn, class)? {
        Some(found) => {
            enforce(access::manage_school(principal, &found.school))?;
            Ok(found)
        }
        None => {
            enforce(access::when_missing(principal, Operation::ManageSchool))?;
            Err(ApiError::NotFound)
        }
    }
}

/// The class, if the caller may read its `record`s: 404 for a class that does not exist or
/// that the caller cannot see, 403 for a role that may not read class journals.
///
/// # Errors
/// 403 or 404 as the rules decide.
pub fn readable_class(
    conn: &mut DbConnection,
    principal: &Principal,
    class: domain::ClassId,
    record: access::Record,
) -> Result<access::ClassRef, ApiError> {
    match persistence::access::class(conn, class)? {
        Some(found) => {
            enforce(access::read_class(principal, &found, record))?;
            Ok(found)
        }
        None => {
            enforce(access::when_missing(
                principal,
                Operation::ReadClass(record),
            ))?;
            Err(ApiError::NotFound)
        }
    }
}

/// A date query parameter: `YYYY-MM-DD`, or 422 naming the parameter.
///
/// # Errors
/// 422 naming `field` when the value is not a date.
pub fn date_param(field: &str, raw: Option<&str>) -> Result<Option<chrono::NaiveDate>, ApiError> {
    raw.map(|raw| {
        chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .map_err(|_| ApiError::field(field, "invalid", "must be a date written as YYYY-MM-DD"))
    })
    .transpose()
}

/// The caller as the author of a change to `school` (people only: integrators administer
/// nothing).
///
/// # Errors
/// 403 for an integrator.
pub fn school_actor(
    caller: &crate::auth::Caller,
    school: SchoolId,
) -> Result<persistence::admin::Actor, ApiError> {
    Ok(persistence::admin::Actor {
        school,
        user: caller.person()?,
        at: Utc::now().naive_utc(),
    })
}

/// The required `subject_id`, if it names a subject of the school.
///
/// # Errors
/// 422 naming `subject_id` when it is missing or not of the school.
pub fn school_subject(
    conn: &mut DbConnection,
    school: SchoolId,
    subject: Option<i64>,
) -> Result<domain::SubjectId, ApiError> {
    let subject = subject
        .map(domain::SubjectId)
        .ok_or_else(|| ApiError::field("subject_id", "required", "name the subject"))?;
    if persistence::admin::subject_in_school(conn, school, subject)? {
        Ok(subject)
    } else {
        Err(ApiError::field(
            "subject_id",
            "not_found",
            "no such subject in this school",
        ))
    }
}

/// The school's term `term_id`, or the one holding today when it is left out.
///
/// # Errors
/// 422 naming `term_id` for a term of another school, or when no term holds today.
pub fn school_term(
    conn: &mut DbConnection,
    school: SchoolId,
    term: Option<i64>,
) -> Result<persistence::schools::Term, ApiError> {
    match term {
        Some(id) => persistence::schools::list_terms(conn, school)?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| ApiError::field("term_id", "not_found", "no such term in this school")),
        None => {
            persistence::schools::term_on(conn, school, Utc::now().date_naive())?.ok_or_else(|| {
                ApiError::field("term_id", "required", "no term holds today: name a term")
            })
        }
    }
}

/// The student, if the caller may read their `record`s: 404 for a student that does not
/// exist or that the caller cannot see, 403 for a role that may not read them.
///
/// # Errors
/// 403 or 404 as the rules decide.
pub fn readable_student(
    conn: &mut DbConnection,
    principal: &Principal,
    student: domain::StudentId,
    record: access::Record,
) -> Result<access::StudentRef, ApiError> {
    let Some(found) = persistence::access::student(conn, student, Utc::now().date_naive())? else {
        enforce(access::when_missing(
            principal,
            Operation::ReadStudent(record),
        ))?;
        return Err(ApiError::NotFound);
    };
    enforce(access::read_student(principal, &found, record))?;
    Ok(found)
}
