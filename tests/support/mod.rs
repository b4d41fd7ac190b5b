//! Test harness: a database per test on either backend, and a `TestApp` over it.

#![allow(
    dead_code,
    reason = "each test module uses a different part of the harness"
)]

pub mod app;
pub mod db;
pub mod fake_fcm;

pub use app::TestApp;
pub use db::{Backend, TestDb};

/// Generates, for each named `async fn name(backend: Backend)`, a module with a `sqlite` and a
/// `postgres` test.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                super::$name(crate::support::Backend::Sqlite).await;
            }

            #[actix_web::test]
            async fn postgres() {
                if crate::support::db::postgres_configured() {
                    super::$name(crate::support::Backend::Postgres).await;
                }
            }
        }
    )*};
}
pub(crate) use on_both_backends;
