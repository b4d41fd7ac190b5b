//! Black-box tests of the whole server: through HTTP (the same app the binary serves), through
//! the `gradebook` binary itself, and through the persistence API. Every test that touches a
//! database runs on SQLite, and on PostgreSQL when `TEST_DATABASE_URL` is set (CI sets it and
//! refuses to run without it).

mod support;

mod access_matrix;
mod administration;
mod auth;
mod averages;
mod bench;
mod cli;
mod connection;
mod crash;
mod diary;
mod http_basics;
mod journal;
mod logs;
mod migrations;
mod openapi_contract;
mod push;
mod reports;
mod roster_import;
mod school_structure;
mod timetable;
