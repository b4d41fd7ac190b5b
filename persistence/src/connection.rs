//! Choosing the backend, connecting, and the pool.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;

use crate::PersistenceError;

/// One connection type over both backends; backend-specific SQL matches on it.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

impl std::fmt::Debug for DbConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Pg(_) => "DbConnection::Pg",
            Self::Sqlite(_) => "DbConnection::Sqlite",
        })
    }
}

impl DbConnection {
    #[must_use]
    pub fn backend(&self) -> Backend {
        match self {
            Self::Pg(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Runs `work` in a transaction, or in a savepoint when one is open already: committed
    /// (or released) when it answers `Ok`, rolled back when it answers an error.
    ///
    /// # Errors
    /// Whatever `work` answers; a failure to begin, commit or roll back.
    pub fn in_transaction<T, E: From<PersistenceError>>(
        &mut self,
        work: impl FnOnce(&mut Self) -> Result<T, E>,
    ) -> Result<T, E> {
        /// Why the transaction was rolled back.
        enum Failed<E> {
            Work(E),
            Database(diesel::result::Error),
        }
        impl<E> From<diesel::result::Error> for Failed<E> {
            fn from(err: diesel::result::Error) -> Self {
                Self::Database(err)
            }
        }
        self.transaction(|conn| work(conn).map_err(Failed::Work))
            .map_err(|failed| match failed {
                Failed::Work(err) => err,
                Failed::Database(err) => PersistenceError::from(err).into(),
            })
    }
}

/// The two supported database engines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        })
    }
}

/// A parsed database URL: the scheme decides the backend, nothing else is guessed.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `postgres://...` or `postgresql://...`, passed to libpq as it is.
    Postgres(String),
    /// `sqlite://path/to/file.db` (relative) or `sqlite:///absolute/path.db`.
    Sqlite(PathBuf),
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl DatabaseUrl {
    /// Parses a URL by its scheme.
    ///
    /// # Errors
    /// An unknown scheme, or a SQLite URL without a path, with a message that says what to write.
    pub fn parse(raw: &str) -> Result<Self, PersistenceError> {
        let raw = raw.trim();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self::Postgres(raw.to_owned()));
        }
        if let Some(path) = raw.strip_prefix("sqlite://") {
            if path.is_empty() || path == ":memory:" {
                return Err(PersistenceError::InvalidUrl(format!(
                    "database URL `{raw}` has no file path: write sqlite://path/to/file.db"
                )));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        let scheme = raw.split_once("://").map_or(raw, |(s, _)| s);
        Err(PersistenceError::InvalidUrl(format!(
            "database URL scheme `{scheme}` is not supported: use postgres://user@host/db or sqlite://path/to/file.db"
        )))
    }

    #[must_use]
    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// The URL with any password replaced, safe for logs and error messages.
    #[must_use]
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres(url) => redact_password(url),
        }
    }
}

fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_once('/').map_or((rest, ""), |(a, t)| (a, t));
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
    let masked = if userinfo.contains(':') {
        format!("{user}:***")
    } else {
        user.to_owned()
    };
    let slash = if rest.contains('/') { "/" } else { "" };
    format!("{scheme}://{masked}@{host}{slash}{tail}")
}

/// Pool settings from configuration.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    /// Most connections held open.
    pub max_size: u32,
    /// How long a request waits for a connection before it is answered 503.
    pub acquire_timeout: Duration,
    /// SQLite only: how long a writer waits for the lock before giving up.
    pub sqlite_busy_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 10,
            acquire_timeout: Duration::from_secs(5),
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }
}

/// The r2d2 manager: picks the backend from the URL (the derived `establish` would try both
/// and lose the driver's error) and sets the SQLite pragmas on every new connection.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
    sqlite_busy_timeout: Duration,
    /// SQLite: the pool's [`Checkpointer`], when one runs; it stops when the pool (which owns
    /// the manager) is dropped.
    checkpointer: Option<Arc<Checkpointer>>,
}

/// SQLite: how many pages the write-ahead log may hold before the connection that commits
/// copies them back into the database file itself, when a [`Checkpointer`] runs (which does
/// it long before, off the writer's path). Without one, SQLite's default of 1,000 applies.
const FALLBACK_AUTOCHECKPOINT_PAGES: u32 = 20_000;

/// How often the [`Checkpointer`] copies the write-ahead log back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// SQLite: copies the write-ahead log back into the database file (a checkpoint) on a thread
/// of its own, every [`CHECKPOINT_EVERY`].
///
/// Left to SQLite, the connection whose commit takes the log over 1,000 pages does the
/// checkpoint itself, with an `fsync`, before its call returns: one grading request in a few
/// then waits for it, and every other writer waits behind that one (writers take turns). A
/// passive checkpoint from another connection runs beside readers and writers, so the writers
/// only append to the log. The pool's connections keep a far higher threshold of their own
/// ([`FALLBACK_AUTOCHECKPOINT_PAGES`]) in case this thread falls behind.
#[derive(Debug)]
pub struct Checkpointer {
    stop: Arc<AtomicBool>,
}

impl Checkpointer {
    fn start(path: &Path, busy_timeout: Duration) -> Result<Self, ConnectError> {
        let mut conn = sqlite_connection(path, busy_timeout)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                // A failure that lasts is told once a minute, not ten times a second.
                let mut last_warning: Option<std::time::Instant> = None;
                loop {
                    std::thread::sleep(CHECKPOINT_EVERY);
                    if stopped.load(Ordering::Relaxed) {
                        break;
                    }
                    if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);")
                        && last_warning.is_none_or(|at| at.elapsed() >= Duration::from_secs(60))
                    {
                        tracing::warn!(error = %e, "SQLite checkpoint failed; trying again");
                        last_warning = Some(std::time::Instant::now());
                    }
                }
            })
            .map_err(|e| ConnectError(format!("starting the checkpoint thread: {e}")))?;
        Ok(Self { stop })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A SQLite connection with the pragmas every connection of ours has.
fn sqlite_connection(
    path: &Path,
    busy_timeout: Duration,
) -> Result<diesel::SqliteConnection, ConnectError> {
    let target = path.to_string_lossy();
    let mut conn =
        diesel::SqliteConnection::establish(&target).map_err(|e| ConnectError(e.to_string()))?;
    conn.batch_execute(&format!(
        "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {}; \
         PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;",
        busy_timeout.as_millis()
    ))
    .map_err(|e| ConnectError(format!("setting SQLite pragmas: {e}")))?;
    Ok(conn)
}

/// A connection failure, carrying the driver's own message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConnectError(String);

impl ConnectionManager {
    #[must_use]
    pub fn new(url: DatabaseUrl, sqlite_busy_timeout: Duration) -> Self {
        Self {
            url,
            sqlite_busy_timeout,
            checkpointer: None,
        }
    }

    /// The same, with a [`Checkpointer`] for a SQLite database, for a long-lived pool.
    fn with_checkpointer(
        url: DatabaseUrl,
        sqlite_busy_timeout: Duration,
    ) -> Result<Self, ConnectError> {
        let checkpointer = match &url {
            DatabaseUrl::Sqlite(path) => {
                Some(Arc::new(Checkpointer::start(path, sqlite_busy_timeout)?))
            }
            DatabaseUrl::Postgres(_) => None,
        };
        Ok(Self {
            url,
            sqlite_busy_timeout,
            checkpointer,
        })
    }

    fn establish(&self) -> Result<DbConnection, ConnectError> {
        match &self.url {
            DatabaseUrl::Postgres(url) => diesel::PgConnection::establish(url)
                .map(DbConnection::Pg)
                .map_err(|e| ConnectError(one_line(&e.to_string()))),
            DatabaseUrl::Sqlite(path) => {
                let mut conn = sqlite_connection(path, self.sqlite_busy_timeout)?;
                if self.checkpointer.is_some() {
                    conn.batch_execute(&format!(
                        "PRAGMA wal_autocheckpoint = {FALLBACK_AUTOCHECKPOINT_PAGES};"
                    ))
                    .map_err(|e| ConnectError(format!("setting SQLite pragmas: {e}")))?;
                }
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = ConnectError;

    fn connect(&self) -> Result<DbConnection, ConnectError> {
        self.establish()
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnectError> {
        conn.ping().map_err(|e| ConnectError(e.to_string()))
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        conn.is_broken()
    }
}

/// libpq reports several lines; start-up errors are one line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The connection pool shared by the server.
pub type Pool = r2d2::Pool<ConnectionManager>;
/// A connection checked out of the pool.
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// Opens a single connection outside any pool, with the same pragmas; for one-off work such as
/// `gradebook migrate`, which must not leave pool threads connecting while the process exits.
/// A SQLite file's folder is created if missing.
///
/// # Errors
/// When the database cannot be reached; the driver's own message is kept.
pub fn connect_one(
    url: &DatabaseUrl,
    options: PoolOptions,
) -> Result<DbConnection, PersistenceError> {
    if let DatabaseUrl::Sqlite(path) = url {
        create_parent_dir(path)?;
    }
    ConnectionManager::new(url.clone(), options.sqlite_busy_timeout)
        .establish()
        .map_err(|e| PersistenceError::Connect {
            target: url.redacted(),
            cause: e.0,
        })
}

/// Opens one connection first (so the operator sees the driver's own error), then builds the
/// pool.
///
/// # Errors
/// When the database cannot be reached.
pub fn connect_pool(url: &DatabaseUrl, options: PoolOptions) -> Result<Pool, PersistenceError> {
    drop(connect_one(url, options)?);
    let manager = ConnectionManager::with_checkpointer(url.clone(), options.sqlite_busy_timeout)
        .map_err(|e| PersistenceError::Connect {
            target: url.redacted(),
            cause: e.0,
        })?;
    r2d2::Pool::builder()
        .max_size(options.max_size)
        .min_idle(Some(1))
        .connection_timeout(options.acquire_timeout)
        .test_on_check_out(false)
        .build(manager)
        .map_err(|e| PersistenceError::Connect {
            target: url.redacted(),
            cause: e.to_string(),
        })
}

fn create_parent_dir(path: &Path) -> Result<(), PersistenceError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|e| PersistenceError::Connect {
                target: format!("sqlite://{}", path.display()),
                cause: format!("cannot create folder {}: {e}", dir.display()),
            })
        }
        _ => Ok(()),
    }
}

/// Checks that the database answers: used by `/health/ready`.
///
/// # Errors
/// When no connection can be had or the database does not answer.
pub fn ping(pool: &Pool) -> Result<(), PersistenceError> {
    let mut conn = pool.get()?;
    conn.ping().map_err(PersistenceError::Query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_pick_the_backend() {
        assert_eq!(
            DatabaseUrl::parse("postgres://u@h/db")
                .map(|u| u.backend())
                .ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://u@h/db")
                .map(|u| u.backend())
                .ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/x.db").ok(),
            Some(DatabaseUrl::Sqlite(PathBuf::from("data/x.db")))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x.db").ok(),
            Some(DatabaseUrl::Sqlite(PathBuf::from("/tmp/x.db")))
        );
    }

    #[test]
    fn unknown_schemes_and_empty_paths_say_what_to_write() {
        let err = DatabaseUrl::parse("mysql://u@h/db")
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("`mysql`") && e.contains("sqlite://"))
        );
        let err = DatabaseUrl::parse("data.db").err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("not supported")));
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn passwords_never_reach_messages() {
        let url = DatabaseUrl::parse("postgres://app:s3cret@db.local:5432/journal").ok();
        let shown = url.map(|u| u.redacted()).unwrap_or_default();
        assert_eq!(shown, "postgres://app:***@db.local:5432/journal");
        let url = DatabaseUrl::parse("postgres://app@db.local/journal").ok();
        assert_eq!(
            url.map(|u| u.redacted()).unwrap_or_default(),
            "postgres://app@db.local/journal"
        );
    }
}
