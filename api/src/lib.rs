//! The HTTP API of the school journal: routes, errors, configuration, the OpenAPI contract
//! and the `gradebook` binary's commands.

pub mod app;
pub mod auth;
pub mod bench;
pub mod body_deadline;
pub mod cli;
pub mod config;
pub mod error;
pub mod extract;
pub mod group_commit;
pub mod housekeeping;
pub mod memo;
pub mod openapi;
pub mod password;
pub mod push;
pub mod routes;
pub mod tabular;
pub mod telemetry;
pub mod write_queue;

pub use app::{AppState, build_app};
pub use error::{ApiError, FieldError, Problem};
