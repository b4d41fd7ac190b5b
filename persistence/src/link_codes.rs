//! Link codes: a person's consent to be linked as a parent by the administration of a school
//! that does not know their account yet (a parent whose children are in two schools).
//!
//! The person issues a short one-time code for their own account and hands it to the other
//! school; its administration links the account to a student with it. Only a SHA-256 of the
//! normalised code is stored. The codes are the account's, not a school's: issuing one is
//! not audited (no school is concerned yet); using one is, in the school that used it.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use domain::{StudentId, UserId};

use crate::admin::{Actor, NewCode, link_guardian_in};
use crate::schema::account_link_codes;
use crate::{DbConnection, Result};

/// Issues a new link code for the person's own account; their earlier unused codes stop
/// working.
///
/// # Errors
/// [`crate::PersistenceError::Conflict`] in the unlikely case the code's hash is taken;
/// otherwise on a database failure. Nothing is written then.
pub fn issue(
    conn: &mut DbConnection,
    user: UserId,
    code: &NewCode,
    now: NaiveDateTime,
) -> Result<()> {
    conn.transaction(|conn| {
        diesel::update(
            account_link_codes::table
                .filter(account_link_codes::user_id.eq(user.get()))
                .filter(account_link_codes::used_at.is_null())
                .filter(account_link_codes::expires_at.gt(now)),
        )
        .set(account_link_codes::expires_at.eq(now))
        .execute(conn)?;
        diesel::insert_into(account_link_codes::table)
            .values((
                account_link_codes::user_id.eq(user.get()),
                account_link_codes::code_hash.eq(&code.hash),
                account_link_codes::created_at.eq(now),
                account_link_codes::expires_at.eq(code.expires_at),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// What linking with a code led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linked {
    /// The code's account is now a parent of the student; `created` is false when it was
    /// already (the code is used up either way).
    Linked { parent: UserId, created: bool },
    /// The code is unknown, used or expired.
    Invalid,
}

/// Links the account whose code this is as a parent of a student of the actor's school (the
/// parent role there follows), uses the code up and audits the link
/// (`guardian.linked_by_code`), all in one transaction. The caller checks first that the
/// student is the school's.
///
/// # Errors
/// On a database failure or a broken reference; nothing is written then.
pub fn link_guardian(
    conn: &mut DbConnection,
    actor: Actor,
    code_hash: &str,
    student: StudentId,
) -> Result<Linked> {
    conn.transaction(|conn| {
        let found: Option<(i64, i64)> = account_link_codes::table
            .filter(account_link_codes::code_hash.eq(code_hash))
            .filter(account_link_codes::used_at.is_null())
            .filter(account_link_codes::expires_at.gt(actor.at))
            .select((account_link_codes::id, account_link_codes::user_id))
            .first(conn)
            .optional()?;
        let Some((code, parent)) = found else {
            return Ok(Linked::Invalid);
        };
        // Of two requests with the same code, only one uses it.
        let used = diesel::update(
            account_link_codes::table
                .filter(account_link_codes::id.eq(code))
                .filter(account_link_codes::used_at.is_null()),
        )
        .set((
            account_link_codes::used_at.eq(actor.at),
            account_link_codes::used_by_school_id.eq(actor.school.get()),
        ))
        .execute(conn)?;
        if used == 0 {
            return Ok(Linked::Invalid);
        }
        let parent = UserId(parent);
        let created = link_guardian_in(conn, actor, parent, student, Some(code))?;
        Ok(Linked::Linked { parent, created })
    })
}
