//! Housekeeping: what the server keeps only for a while, forgotten on a timer.
//!
//! The answer to each grading request is stored under its `Idempotency-Key`, so a teacher
//! app that lost its connection gets the first answer when it retries (see the README's
//! "Grading a class, safely on a bad connection"). Each answer holds a class's grades, and
//! a school makes hundreds a day, so they are kept `journal.answers_kept_days` (14 by default:
//! longer than any phone stays offline with a request unsent) and then forgotten. A retry
//! after that still writes nothing twice: its grades' client ids are taken in the lesson, so
//! it is refused with 409.
//!
//! The counts of failed logins and other guesses (`crate::auth::throttle`) are forgotten once
//! they have been quiet for half an hour.

use std::time::Duration;

use actix_web::web;
use chrono::{NaiveDateTime, Utc};
use persistence::PersistenceError;

use crate::AppState;

/// Answers forgotten per statement, each statement in a write turn of its own: a backlog
/// (a server that was down, a shorter setting) never holds the teachers' writes up for long.
pub const BATCH: i64 = 500;

/// How often the server forgets what is due.
pub const EVERY: Duration = Duration::from_secs(3600);

/// Forgets up to [`BATCH`] stored answers made before `before`, in a write turn, and says how
/// many.
///
/// # Errors
/// On a database failure.
pub fn forget_batch(state: &AppState, before: NaiveDateTime) -> Result<usize, PersistenceError> {
    let _turn = state.write_turn.turn();
    let mut conn = state.pool.get()?;
    persistence::journal::forget_answers(&mut conn, before, BATCH)
}

/// The moment before which stored answers are due to be forgotten.
#[must_use]
pub fn answers_due(state: &AppState) -> NaiveDateTime {
    Utc::now().naive_utc() - chrono::Days::new(u64::from(state.settings.journal.answers_kept_days))
}

/// Runs the housekeeping now and then every [`EVERY`] on the current actix system, until the
/// returned task is aborted. Each batch is a trip of its own to the blocking pool, so an abort
/// (the server stopping) waits for one batch at most, however long the backlog.
#[must_use]
pub fn spawn(state: AppState) -> actix_web::rt::task::JoinHandle<()> {
    actix_web::rt::spawn(async move {
        loop {
            let before = answers_due(&state);
            let mut total = 0;
            loop {
                let turn = state.clone();
                let outcome = match web::block(move || forget_batch(&turn, before)).await {
                    Ok(done) => done.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match outcome {
                    Ok(forgotten) => {
                        total += forgotten;
                        if i64::try_from(forgotten).unwrap_or(i64::MAX) < BATCH {
                            break;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "forgetting stored answers failed");
                        break;
                    }
                }
            }
            if total > 0 {
                tracing::info!(forgotten = total, "stored answers forgotten");
            }
            match crate::auth::throttle::forget_quiet(&state).await {
                Ok(0) => {}
                Ok(forgotten) => tracing::info!(forgotten, "quiet failed-attempt counts forgotten"),
                Err(error) => tracing::warn!(%error, "forgetting failed-attempt counts failed"),
            }
            actix_web::rt::time::sleep(EVERY).await;
        }
    })
}
