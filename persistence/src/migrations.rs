//! Embedded migrations, one tree per backend with the same names.

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::{DbConnection, PersistenceError};

pub const POSTGRES: EmbeddedMigrations = embed_migrations!("../migrations/postgres");
pub const SQLITE: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");

fn failed(e: impl std::fmt::Display) -> PersistenceError {
    PersistenceError::Migration(e.to_string())
}

/// Runs every pending migration and returns the versions applied.
///
/// # Errors
/// When a migration fails; nothing after it runs.
pub fn run_pending(conn: &mut DbConnection) -> Result<Vec<String>, PersistenceError> {
    let applied = match conn {
        DbConnection::Pg(c) => c.run_pending_migrations(POSTGRES).map_err(failed)?,
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE).map_err(failed)?,
    };
    Ok(applied.iter().map(ToString::to_string).collect())
}

/// Reverts every applied migration, newest first (used by tests and by operators rolling back).
///
/// # Errors
/// When a down migration fails.
pub fn revert_all(conn: &mut DbConnection) -> Result<Vec<String>, PersistenceError> {
    let reverted = match conn {
        DbConnection::Pg(c) => c.revert_all_migrations(POSTGRES).map_err(failed)?,
        DbConnection::Sqlite(c) => c.revert_all_migrations(SQLITE).map_err(failed)?,
    };
    Ok(reverted.iter().map(ToString::to_string).collect())
}

/// Reverts the `count` newest applied migrations, newest first, and returns their versions
/// (the tests use it to bring a database that holds data back to an older version, then
/// upgrade it).
///
/// # Errors
/// When a down migration fails; the ones before it stay reverted.
pub fn revert_last(conn: &mut DbConnection, count: usize) -> Result<Vec<String>, PersistenceError> {
    let mut reverted = Vec::with_capacity(count);
    for _ in 0..count {
        let version = match conn {
            DbConnection::Pg(c) => c.revert_last_migration(POSTGRES).map_err(failed)?,
            DbConnection::Sqlite(c) => c.revert_last_migration(SQLITE).map_err(failed)?,
        };
        reverted.push(version.to_string());
    }
    Ok(reverted)
}

/// The migrations not yet applied.
///
/// # Errors
/// When the migration table cannot be read.
pub fn pending(conn: &mut DbConnection) -> Result<Vec<String>, PersistenceError> {
    Ok(match conn {
        DbConnection::Pg(c) => c
            .pending_migrations(POSTGRES)
            .map_err(failed)?
            .iter()
            .map(|m| m.name().to_string())
            .collect(),
        DbConnection::Sqlite(c) => c
            .pending_migrations(SQLITE)
            .map_err(failed)?
            .iter()
            .map(|m| m.name().to_string())
            .collect(),
    })
}
