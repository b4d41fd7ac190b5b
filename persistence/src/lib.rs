//! Persistence over PostgreSQL and SQLite from one binary.
//!
//! The backend is picked from the URL scheme (`postgres://`, `postgresql://` or
//! `sqlite://path`). Queries return [`PersistenceError`], never an HTTP error: the API maps
//! them to responses.

/// Runs a query on the concrete connection inside the multi-backend one: for statements the
/// multi-backend cannot build, such as multi-row INSERTs.
macro_rules! on_backend {
    ($conn:expr, $run:ident, $query:expr) => {
        match $conn {
            $crate::DbConnection::Pg(c) => $query.$run(c),
            $crate::DbConnection::Sqlite(c) => $query.$run(c),
        }
    };
}

pub mod access;
pub mod admin;
pub mod audit;
pub mod auth;
pub mod auth_failures;
pub mod averages;
pub mod bench;
pub mod connection;
pub mod demo;
pub mod error;
pub mod inbox;
pub mod integrators;
pub mod journal;
pub mod lessons;
pub mod link_codes;
pub mod migrations;
pub mod notifications;
pub mod people;
pub mod precondition;
pub mod reports;
pub mod roster_import;
pub mod schema;
pub mod schools;
pub mod timetable;

pub use connection::{Backend, DatabaseUrl, DbConnection, Pool, PoolOptions, PooledConnection};
pub use error::PersistenceError;
pub use precondition::Expected;

/// The result of a persistence call.
pub type Result<T, E = PersistenceError> = std::result::Result<T, E>;
