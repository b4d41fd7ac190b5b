//! The audit trail: who changed what, written in the same transaction as the change.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use domain::{MunicipalityId, SchoolId, UserId};

use crate::schema::audit_events;
use crate::{DbConnection, Result};

/// Whose audit trail an event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    School(SchoolId),
    Municipality(MunicipalityId),
}

/// One change to record.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub owner: Owner,
    /// The person who made the change (`None` for the system itself).
    pub actor: Option<UserId>,
    /// What happened, e.g. `person.created`, `role.granted`.
    pub action: &'a str,
    /// The kind of thing changed, e.g. `person`, `role`, `integrator`.
    pub target_type: &'a str,
    pub target_id: i64,
    /// The change's values as a JSON object; never a secret or a password.
    pub details: serde_json::Value,
    pub at: NaiveDateTime,
}

/// Records one event; call it inside the change's transaction.
///
/// # Errors
/// On a database failure (which rolls the change back with it).
pub fn record(conn: &mut DbConnection, entry: &Entry<'_>) -> Result<()> {
    let (school, municipality) = match entry.owner {
        Owner::School(s) => (Some(s.get()), None),
        Owner::Municipality(m) => (None, Some(m.get())),
    };
    diesel::insert_into(audit_events::table)
        .values((
            audit_events::school_id.eq(school),
            audit_events::municipality_id.eq(municipality),
            audit_events::actor_user_id.eq(entry.actor.map(UserId::get)),
            audit_events::action.eq(entry.action),
            audit_events::target_type.eq(entry.target_type),
            audit_events::target_id.eq(entry.target_id),
            audit_events::details.eq(entry.details.to_string()),
            audit_events::occurred_at.eq(entry.at),
        ))
        .execute(conn)?;
    Ok(())
}

/// A recorded event.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct Event {
    pub id: i64,
    pub school_id: Option<i64>,
    pub municipality_id: Option<i64>,
    pub actor_user_id: Option<i64>,
    pub action: String,
    pub target_type: String,
    pub target_id: i64,
    pub details: String,
    pub occurred_at: NaiveDateTime,
}

/// One page of an owner's events, newest first, strictly older than `before` (an event id).
///
/// # Errors
/// On a database failure.
pub fn list(
    conn: &mut DbConnection,
    owner: Owner,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Event>> {
    let mut query = audit_events::table
        .select(Event::as_select())
        .order(audit_events::id.desc())
        .limit(limit)
        .into_boxed();
    query = match owner {
        Owner::School(s) => query.filter(audit_events::school_id.eq(s.get())),
        Owner::Municipality(m) => query.filter(audit_events::municipality_id.eq(m.get())),
    };
    if let Some(before) = before {
        query = query.filter(audit_events::id.lt(before));
    }
    query.load(conn).map_err(Into::into)
}
