//! What the family app lists: a person's own notifications, one per event however many of
//! their devices it was written for, with what became of it, and how far they have read.
//!
//! A parent who chose quiet hours in `count` mode gets nothing on the phone inside them; here
//! they see what happened, and how many such events came since they last read.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDateTime;
use diesel::dsl::{count, max, min};
use diesel::prelude::*;
use domain::UserId;
use domain::notifications::Delivery;

use crate::notifications::Payload;
use crate::schema::{notification_reads, notifications};
use crate::{DbConnection, Result};

/// One event as the person got it.
#[derive(Debug, Clone)]
pub struct Item {
    /// The event's first outbox row for the person: the item's id and cursor.
    pub id: i64,
    pub student_id: i64,
    pub kind: String,
    /// The text and data in the person's language, as sent.
    pub payload: Payload,
    pub delivery: Delivery,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Queryable)]
struct Row {
    id: i64,
    event_key: String,
    student_id: i64,
    kind: String,
    payload: String,
    status: String,
    created_at: NaiveDateTime,
}

/// The person's notifications about `students`, one per event, newest first: `limit` of them
/// older than `before`.
///
/// # Errors
/// On a database failure.
pub fn list(
    conn: &mut DbConnection,
    user: UserId,
    students: &BTreeSet<i64>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Item>> {
    let firsts: Vec<(Option<i64>, String)> = notifications::table
        .filter(notifications::user_id.eq(user.get()))
        .filter(notifications::student_id.eq_any(students))
        .group_by(notifications::event_key)
        .having(min(notifications::id).lt(before.unwrap_or(i64::MAX)))
        .select((min(notifications::id), notifications::event_key))
        .order(min(notifications::id).desc())
        .limit(limit)
        .load(conn)?;
    let keys: Vec<&str> = firsts.iter().map(|(_, key)| key.as_str()).collect();
    let rows: Vec<Row> = notifications::table
        .filter(notifications::user_id.eq(user.get()))
        .filter(notifications::event_key.eq_any(&keys))
        .order(notifications::id.asc())
        .select((
            notifications::id,
            notifications::event_key,
            notifications::student_id,
            notifications::kind,
            notifications::payload,
            notifications::status,
            notifications::created_at,
        ))
        .load(conn)?;
    let mut by_key: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for row in &rows {
        by_key.entry(row.event_key.as_str()).or_default().push(row);
    }
    Ok(firsts
        .iter()
        .filter_map(|(_, key)| {
            let rows = by_key.get(key.as_str())?;
            let first = rows.first()?;
            Some(Item {
                id: first.id,
                student_id: first.student_id,
                kind: first.kind.clone(),
                payload: serde_json::from_str(&first.payload).ok()?,
                delivery: Delivery::of(rows.iter().map(|r| r.status.as_str())),
                created_at: first.created_at,
            })
        })
        .collect())
}

/// How many events about `students` were only counted for the person (quiet hours in
/// `count` mode) after `read_up_to`.
///
/// # Errors
/// On a database failure.
pub fn counted_since(
    conn: &mut DbConnection,
    user: UserId,
    students: &BTreeSet<i64>,
    read_up_to: i64,
) -> Result<i64> {
    // An event is read when its first row (the item's id) is: its other devices' rows may
    // have later ids.
    let earlier = diesel::alias!(notifications as earlier);
    let read = earlier
        .filter(earlier.field(notifications::user_id).eq(user.get()))
        .filter(earlier.field(notifications::id).le(read_up_to))
        .select(earlier.field(notifications::event_key));
    notifications::table
        .filter(notifications::user_id.eq(user.get()))
        .filter(notifications::student_id.eq_any(students))
        .filter(notifications::status.eq("counted"))
        .filter(notifications::id.gt(read_up_to))
        .filter(diesel::dsl::not(notifications::event_key.eq_any(read)))
        .select(count(notifications::event_key).aggregate_distinct())
        .first(conn)
        .map_err(Into::into)
}

/// The id of the newest notification the person has read (0: none).
///
/// # Errors
/// On a database failure.
pub fn read_up_to(conn: &mut DbConnection, user: UserId) -> Result<i64> {
    Ok(notification_reads::table
        .find(user.get())
        .select(notification_reads::read_up_to)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

/// Marks the person's notifications up to `up_to` read (never taking back an earlier mark,
/// never past their newest notification). Returns how far they have now read.
///
/// # Errors
/// On a database failure.
pub fn mark_read(
    conn: &mut DbConnection,
    user: UserId,
    up_to: i64,
    at: NaiveDateTime,
) -> Result<i64> {
    conn.transaction(|conn| {
        let newest: Option<i64> = notifications::table
            .filter(notifications::user_id.eq(user.get()))
            .select(max(notifications::id))
            .first(conn)?;
        let before = read_up_to(conn, user)?;
        let now = up_to.min(newest.unwrap_or(0)).max(before);
        let updated = diesel::update(notification_reads::table.find(user.get()))
            .set((
                notification_reads::read_up_to.eq(now),
                notification_reads::updated_at.eq(at),
            ))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(notification_reads::table)
                .values((
                    notification_reads::user_id.eq(user.get()),
                    notification_reads::read_up_to.eq(now),
                    notification_reads::updated_at.eq(at),
                ))
                .execute(conn)?;
        }
        Ok(now)
    })
}
