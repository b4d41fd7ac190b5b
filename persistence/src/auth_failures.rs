//! Failed attempts at secrets (passwords, activation codes, client secrets, link codes),
//! counted per key and shared by every server process (see the `auth_failures` migration).
//! What a count leads to (how many failures lock a key out, and for how long) is the caller's
//! rule, handed in.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::schema::auth_failures as af;
use crate::{DbConnection, Result};

/// A key's count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Queryable)]
pub struct Failures {
    pub failures: i32,
    pub last_failure_at: NaiveDateTime,
    pub blocked_until: Option<NaiveDateTime>,
}

/// The counts of those of `keys` that have one.
///
/// # Errors
/// On a database failure.
pub fn counts(conn: &mut DbConnection, keys: &[String]) -> Result<HashMap<String, Failures>> {
    let rows: Vec<(String, Failures)> = af::table
        .filter(af::key_hash.eq_any(keys))
        .select((
            af::key_hash,
            (af::failures, af::last_failure_at, af::blocked_until),
        ))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// Counts a failure for every key, in one transaction: `next` makes a key's new count from
/// the one it has (a fresh key has 0 failures, last at `now`). On PostgreSQL each key's row
/// is locked while it is counted, so failures counted at once by several processes all count;
/// on SQLite the caller writes in its turn.
///
/// # Errors
/// On a database failure; nothing is counted then.
pub fn record(
    conn: &mut DbConnection,
    keys: &[String],
    now: NaiveDateTime,
    next: &dyn Fn(Failures) -> Failures,
) -> Result<()> {
    conn.transaction(|conn| {
        for key in keys {
            // Made if missing, then locked and read; a key forgotten between the two (a login
            // that succeeded elsewhere) is made again.
            let current = loop {
                if let Some(found) = insert_and_lock(conn, key, now)? {
                    break found;
                }
            };
            let new = next(current);
            diesel::update(af::table.find(key))
                .set((
                    af::failures.eq(new.failures),
                    af::last_failure_at.eq(new.last_failure_at),
                    af::blocked_until.eq(new.blocked_until),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// A key's row, made with no failures if missing, locked on PostgreSQL; `None` if it was
/// deleted meanwhile.
fn insert_and_lock(
    conn: &mut DbConnection,
    key: &str,
    now: NaiveDateTime,
) -> Result<Option<Failures>> {
    on_backend!(
        conn,
        execute,
        diesel::insert_into(af::table)
            .values((
                af::key_hash.eq(key),
                af::failures.eq(0),
                af::last_failure_at.eq(now),
            ))
            .on_conflict(af::key_hash)
            .do_nothing()
    )?;
    let row = af::table
        .find(key)
        .select((af::failures, af::last_failure_at, af::blocked_until));
    let found = match conn {
        DbConnection::Pg(c) => row.for_update().first(c).optional()?,
        DbConnection::Sqlite(c) => row.first(c).optional()?,
    };
    Ok(found)
}

/// Forgets a key's failures (a login that succeeded).
///
/// # Errors
/// On a database failure.
pub fn forget(conn: &mut DbConnection, key: &str) -> Result<()> {
    diesel::delete(af::table.find(key)).execute(conn)?;
    Ok(())
}

/// Forgets the keys whose last failure was before `before`, and says how many.
///
/// # Errors
/// On a database failure.
pub fn forget_quiet(conn: &mut DbConnection, before: NaiveDateTime) -> Result<usize> {
    diesel::delete(af::table.filter(af::last_failure_at.lt(before)))
        .execute(conn)
        .map_err(Into::into)
}
