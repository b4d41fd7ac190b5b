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
    match persistence::access::school(conn, SchoolId(school))? {
        Some(found) => {
            enforce(access::manage_school(principal, &found))?;
            Ok(found)
        }
        None => {
            enforce(access::when_missing(principal, Operation::ManageSchool))?;
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
    if persistence::access::municipality_exists(conn, municipality)? {
        enforce(access::manage_municipality(principal, municipality))
    } else {
        enforce(access::when_missing(
            principal,
            Operation::ManageMunicipality,
        ))?;
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
