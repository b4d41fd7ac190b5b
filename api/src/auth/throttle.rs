//! Slowing down guessing: after `max_failures` failed attempts for one key (`login:<name>`,
//! `addr:<ip>`, ...), further attempts are refused with 429 and `Retry-After` for a lockout
//! that doubles with each further failure, 15 minutes at most (counts are forgotten after
//! half an hour without a failure). The counts are kept in the
//! database (`persistence::auth_failures`, under the SHA-256 of each key: no login or
//! address in clear), shared by every server process: guesses spread over the processes
//! behind a load balancer still add up.

use std::time::Duration;

use chrono::{NaiveDateTime, Utc};
use persistence::DbConnection;
use persistence::auth_failures::{self, Failures};

use super::tokens::sha256_hex;
use crate::AppState;
use crate::error::ApiError;
use crate::routes::common::{db, db_turn};

/// The rule: how many failures lock a key out, and for how long at first.
#[derive(Debug, Clone, Copy)]
pub struct LoginThrottle {
    max_failures: u32,
    lockout: Duration,
}

/// Failures are forgotten after this long without a new one: longer than the longest
/// lockout, so a key that waited one out is still counted when it fails again.
pub const FORGET_AFTER: Duration = Duration::from_secs(30 * 60);
/// The longest lockout.
const MAX_LOCKOUT: Duration = Duration::from_secs(15 * 60);

/// What a check found: whether the first key (the login) has failures counted, to forget them
/// after a success.
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct Checked {
    first_counted: bool,
}

fn hashed(keys: &[String]) -> Vec<String> {
    keys.iter().map(sha256_hex).collect()
}

fn chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl LoginThrottle {
    #[must_use]
    pub fn new(max_failures: u32, lockout: Duration) -> Self {
        Self {
            max_failures: max_failures.max(1),
            lockout,
        }
    }

    /// A key's count after one more failure at `now`.
    #[must_use]
    pub fn next(&self, current: Failures, now: NaiveDateTime) -> Failures {
        let quiet = now - current.last_failure_at >= chrono(FORGET_AFTER);
        let failures = if quiet { 1 } else { current.failures + 1 };
        let over = u32::try_from(failures).unwrap_or(0);
        let blocked_until = if over >= self.max_failures {
            let doublings = (over - self.max_failures).min(10);
            let lockout = self.lockout.saturating_mul(1 << doublings).min(MAX_LOCKOUT);
            Some(now + chrono(lockout))
        } else if quiet {
            None
        } else {
            current.blocked_until
        };
        Failures {
            failures,
            last_failure_at: now,
            blocked_until,
        }
    }

    /// Seconds to wait if any of `keys` is locked out at `now`.
    ///
    /// # Errors
    /// 429 with the seconds to wait when locked out; on a database failure.
    pub fn check_on(
        &self,
        conn: &mut DbConnection,
        keys: &[String],
        now: NaiveDateTime,
    ) -> Result<Checked, ApiError> {
        let hashed = hashed(keys);
        let counts = auth_failures::counts(conn, &hashed)?;
        let wait = counts
            .values()
            .filter_map(|c| c.blocked_until)
            .filter(|until| *until > now)
            .map(|until| {
                u64::try_from((until - now).num_seconds())
                    .unwrap_or(0)
                    .max(1)
            })
            .max();
        if let Some(retry_after_secs) = wait {
            return Err(ApiError::TooManyRequests { retry_after_secs });
        }
        Ok(Checked {
            first_counted: hashed.first().is_some_and(|k| counts.contains_key(k)),
        })
    }

    /// Counts a failed attempt for every key; the caller holds a write turn.
    ///
    /// # Errors
    /// On a database failure.
    pub fn failed_on(
        &self,
        conn: &mut DbConnection,
        keys: &[String],
        now: NaiveDateTime,
    ) -> Result<(), ApiError> {
        auth_failures::record(conn, &hashed(keys), now, &|current| self.next(current, now))?;
        Ok(())
    }

    /// Forgets the failures of `key` (a login) after it succeeded, if it had any; the address
    /// keeps its count. The caller holds a write turn.
    ///
    /// # Errors
    /// On a database failure.
    pub fn succeeded_on(
        conn: &mut DbConnection,
        checked: Checked,
        key: &str,
    ) -> Result<(), ApiError> {
        if checked.first_counted {
            auth_failures::forget(conn, &sha256_hex(key))?;
        }
        Ok(())
    }
}

/// [`LoginThrottle::check_on`] on a pooled connection, now.
///
/// # Errors
/// As `check_on`; 503 when no connection can be had.
pub async fn check(state: &AppState, keys: &[String]) -> Result<Checked, ApiError> {
    let (throttle, keys) = (state.login_throttle, keys.to_vec());
    db(state, move |conn| {
        throttle.check_on(conn, &keys, Utc::now().naive_utc())
    })
    .await
}

/// [`LoginThrottle::failed_on`] on a pooled connection, now.
///
/// # Errors
/// As `failed_on`; 503 when no connection can be had.
pub async fn failed(state: &AppState, keys: &[String]) -> Result<(), ApiError> {
    let (throttle, keys) = (state.login_throttle, keys.to_vec());
    db_turn(state, move |conn| {
        throttle.failed_on(conn, &keys, Utc::now().naive_utc())
    })
    .await
}

/// [`LoginThrottle::succeeded_on`] on a pooled connection.
///
/// # Errors
/// As `succeeded_on`; 503 when no connection can be had.
pub async fn succeeded(state: &AppState, checked: Checked, key: &str) -> Result<(), ApiError> {
    if !checked.first_counted {
        return Ok(());
    }
    let key = key.to_owned();
    db_turn(state, move |conn| {
        LoginThrottle::succeeded_on(conn, checked, &key)
    })
    .await
}

/// Forgets the keys quiet for [`FORGET_AFTER`], in a write turn; says how many.
///
/// # Errors
/// On a database failure; 503 when no connection can be had.
pub async fn forget_quiet(state: &AppState) -> Result<usize, ApiError> {
    db_turn(state, |conn| {
        let before = Utc::now().naive_utc() - chrono(FORGET_AFTER);
        Ok(auth_failures::forget_quiet(conn, before)?)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + secs, 0)
            .unwrap_or_default()
            .naive_utc()
    }

    fn fresh(now: NaiveDateTime) -> Failures {
        Failures {
            failures: 0,
            last_failure_at: now,
            blocked_until: None,
        }
    }

    #[test]
    fn locks_out_after_max_failures_and_doubles() {
        let throttle = LoginThrottle::new(3, Duration::from_secs(10));
        let mut count = fresh(at(0));
        for _ in 0..2 {
            count = throttle.next(count, at(0));
        }
        assert_eq!(count.blocked_until, None);
        count = throttle.next(count, at(0));
        assert_eq!(count.blocked_until, Some(at(10)));
        count = throttle.next(count, at(11));
        assert_eq!(count.blocked_until, Some(at(11 + 20)));
        for _ in 0..20 {
            count = throttle.next(count, at(12));
        }
        assert_eq!(
            count.blocked_until,
            Some(at(12 + 15 * 60)),
            "at most 15 minutes"
        );
    }

    #[test]
    fn failures_are_forgotten_after_a_quiet_period() {
        let throttle = LoginThrottle::new(2, Duration::from_secs(10));
        let quiet = i64::try_from(FORGET_AFTER.as_secs()).unwrap_or(0);
        let count = throttle.next(fresh(at(0)), at(0));
        let later = throttle.next(count, at(quiet + 1));
        assert_eq!((later.failures, later.blocked_until), (1, None));
    }
}
