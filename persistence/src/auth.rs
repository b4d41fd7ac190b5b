//! Sessions and rotating refresh tokens. Only a SHA-256 of each refresh token is stored.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use domain::UserId;

use crate::schema::{login_events, refresh_tokens, sessions, users};
use crate::{DbConnection, Result};

/// What presenting a refresh token led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// The token was current: it is now used, and the new one is stored.
    Rotated { session: i64, user: UserId },
    /// The token had already been rotated: the whole session (token family) is now revoked.
    Reused { session: i64 },
    /// Unknown, expired, or of a revoked session.
    Invalid,
}

/// A new refresh token's stored form.
#[derive(Debug, Clone, Copy)]
pub struct NewRefreshToken<'a> {
    pub hash: &'a str,
    pub expires_at: NaiveDateTime,
}

/// The account behind a login, for password checks.
#[derive(Debug, Clone, Queryable)]
pub struct Credentials {
    pub user: i64,
    pub password_hash: Option<String>,
}

/// # Errors
/// On a database failure.
pub fn credentials(conn: &mut DbConnection, login: &str) -> Result<Option<Credentials>> {
    users::table
        .filter(users::login.eq(login))
        .select((users::id, users::password_hash))
        .first(conn)
        .optional()
        .map_err(Into::into)
}

/// Records a successful login: a new session with its first refresh token, the login event,
/// and the user's last login time, in one transaction. Returns the session id.
///
/// # Errors
/// On a database failure; nothing is written then.
pub fn start_session(
    conn: &mut DbConnection,
    user: UserId,
    token: NewRefreshToken<'_>,
    now: NaiveDateTime,
) -> Result<i64> {
    conn.transaction(|conn| {
        let session: i64 = diesel::insert_into(sessions::table)
            .values((
                sessions::user_id.eq(user.get()),
                sessions::created_at.eq(now),
            ))
            .returning(sessions::id)
            .get_result(conn)?;
        insert_token(conn, session, token, now)?;
        diesel::insert_into(login_events::table)
            .values((
                login_events::user_id.eq(user.get()),
                login_events::logged_in_at.eq(now),
            ))
            .execute(conn)?;
        diesel::update(users::table.find(user.get()))
            .set(users::last_login_at.eq(now))
            .execute(conn)?;
        Ok(session)
    })
}

fn insert_token(
    conn: &mut DbConnection,
    session: i64,
    token: NewRefreshToken<'_>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::session_id.eq(session),
            refresh_tokens::token_hash.eq(token.hash),
            refresh_tokens::issued_at.eq(now),
            refresh_tokens::expires_at.eq(token.expires_at),
        ))
        .execute(conn)
        .map(drop)
}

#[derive(Debug, Queryable)]
struct PresentedToken {
    token: i64,
    session: i64,
    expires_at: NaiveDateTime,
    used_at: Option<NaiveDateTime>,
    user: i64,
    revoked_at: Option<NaiveDateTime>,
}

/// Rotates a refresh token: the presented one is marked used and `next` is stored, unless the
/// presented one was used before, in which case its whole session is revoked (someone replayed
/// a stolen token, or the legitimate client did, and neither can be told apart).
///
/// # Errors
/// On a database failure.
pub fn rotate_refresh(
    conn: &mut DbConnection,
    presented_hash: &str,
    next: NewRefreshToken<'_>,
    now: NaiveDateTime,
) -> Result<Refresh> {
    conn.transaction(|conn| {
        let found: Option<PresentedToken> = refresh_tokens::table
            .inner_join(sessions::table)
            .filter(refresh_tokens::token_hash.eq(presented_hash))
            .select((
                refresh_tokens::id,
                refresh_tokens::session_id,
                refresh_tokens::expires_at,
                refresh_tokens::used_at,
                sessions::user_id,
                sessions::revoked_at,
            ))
            .first(conn)
            .optional()?;
        let Some(PresentedToken {
            token,
            session,
            expires_at,
            used_at,
            user,
            revoked_at,
        }) = found
        else {
            return Ok(Refresh::Invalid);
        };
        if revoked_at.is_some() {
            return Ok(Refresh::Invalid);
        }
        if used_at.is_some() {
            revoke(conn, session, "refresh token reused", now)?;
            return Ok(Refresh::Reused { session });
        }
        if expires_at <= now {
            return Ok(Refresh::Invalid);
        }
        // Only one of two concurrent refreshes with the same token can mark it used.
        let marked = diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::id.eq(token))
                .filter(refresh_tokens::used_at.is_null()),
        )
        .set(refresh_tokens::used_at.eq(now))
        .execute(conn)?;
        if marked == 0 {
            revoke(conn, session, "refresh token reused", now)?;
            return Ok(Refresh::Reused { session });
        }
        insert_token(conn, session, next, now)?;
        Ok(Refresh::Rotated {
            session,
            user: UserId(user),
        })
    })
}

fn revoke(
    conn: &mut DbConnection,
    session: i64,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let revoked = diesel::update(
        sessions::table
            .filter(sessions::id.eq(session))
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(now),
        sessions::revoked_reason.eq(reason),
    ))
    .execute(conn)?;
    // The session's devices stop getting pushes with it (logout unregisters the phone).
    crate::notifications::deactivate_session_devices(conn, session, "logged out", now)?;
    Ok(revoked)
}

/// Revokes a session (logout). Returns whether it was active.
///
/// # Errors
/// On a database failure.
pub fn revoke_session(
    conn: &mut DbConnection,
    session: i64,
    reason: &str,
    now: NaiveDateTime,
) -> Result<bool> {
    Ok(conn.transaction(|conn| revoke(conn, session, reason, now))? > 0)
}

/// The version of the person's grants (`users.grants_version`, moved on by the database with
/// every change to their roles, teaching, children or own student record) if the session is
/// theirs and not revoked; `None` otherwise. One indexed read for both questions a request
/// asks, so a server may keep the grants of a version in memory.
///
/// # Errors
/// A database failure.
pub fn session_grants_version(
    conn: &mut DbConnection,
    session: i64,
    user: UserId,
) -> Result<Option<i64>> {
    Ok(sessions::table
        .inner_join(users::table.on(users::id.eq(sessions::user_id)))
        .filter(sessions::id.eq(session))
        .filter(sessions::user_id.eq(user.get()))
        .filter(sessions::revoked_at.is_null())
        .select(users::grants_version)
        .first(conn)
        .optional()?)
}

/// Whether `session` belongs to `user` and is not revoked: checked on every authenticated request,
/// so logout and token-reuse revocation take effect at once, not when access tokens expire.
///
/// # Errors
/// On a database failure.
pub fn session_active(conn: &mut DbConnection, session: i64, user: UserId) -> Result<bool> {
    let count: i64 = sessions::table
        .filter(sessions::id.eq(session))
        .filter(sessions::user_id.eq(user.get()))
        .filter(sessions::revoked_at.is_null())
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}
