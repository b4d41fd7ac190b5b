//! The two migration trees: same names, up-down-up on both backends, indexed foreign keys,
//! `school_id` on every school-owned table.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound::{Excluded, Unbounded};
use std::path::Path;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use persistence::DbConnection;

use crate::support::{Backend, TestApp, TestDb, on_both_backends};

fn names(backend: &str) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations")
        .join(backend);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn both_trees_have_the_same_migrations() {
    let pg = names("postgres");
    let sqlite = names("sqlite");
    assert!(!pg.is_empty());
    assert_eq!(
        pg, sqlite,
        "migrations/postgres and migrations/sqlite must hold the same names"
    );
    for name in &pg {
        for backend in ["postgres", "sqlite"] {
            for file in ["up.sql", "down.sql"] {
                let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../migrations")
                    .join(backend)
                    .join(name)
                    .join(file);
                assert!(path.is_file(), "{} is missing", path.display());
            }
        }
    }
}

on_both_backends!(
    migrations_run_up_down_and_up_again,
    the_newest_migrations_upgrade_a_database_that_holds_data_and_keep_it,
    foreign_keys_are_indexed,
    school_owned_tables_carry_school_id
);

async fn migrations_run_up_down_and_up_again(backend: Backend) {
    let db = TestDb::empty(backend);
    let pool = db.pool();
    let mut conn = pool.get().unwrap_or_else(|e| panic!("{e}"));
    let total = names("postgres").len();
    let up = persistence::migrations::run_pending(&mut conn).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(up.len(), total);
    assert!(
        persistence::migrations::pending(&mut conn)
            .unwrap_or_default()
            .is_empty()
    );
    let down = persistence::migrations::revert_all(&mut conn).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(down.len(), total);
    assert_eq!(
        tables(&mut conn),
        BTreeSet::from(["__diesel_schema_migrations".to_owned()])
    );
    let again = persistence::migrations::run_pending(&mut conn).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, up);
}

/// The version a database that holds data is brought back to and upgraded from: every
/// migration after it is reverted, then applied again.
const OLDER_VERSION: &str = "2026-11-23-000013_notification_language_and_reads";

/// Each table's columns (the migrations' own table left out).
fn columns(conn: &mut DbConnection) -> BTreeMap<String, Vec<String>> {
    tables(conn)
        .into_iter()
        .filter(|t| t != "__diesel_schema_migrations")
        .map(|table| {
            let sql = match conn {
                DbConnection::Pg(_) => format!(
                    "SELECT column_name::text AS name FROM information_schema.columns \
                     WHERE table_schema = 'public' AND table_name = '{table}' \
                     ORDER BY ordinal_position"
                ),
                DbConnection::Sqlite(_) => {
                    format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid")
                }
            };
            let names = diesel::sql_query(sql)
                .load::<Name>(conn)
                .unwrap_or_else(|e| panic!("{table}: {e}"))
                .into_iter()
                .map(|c| c.name)
                .collect();
            (table, names)
        })
        .collect()
}

/// The rows of `columns`' tables, as text in a stable order, read in those columns only.
fn contents(
    conn: &mut DbConnection,
    columns: &BTreeMap<String, Vec<String>>,
) -> Vec<(String, Vec<String>)> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        row: String,
    }
    columns
        .iter()
        .map(|(table, names)| {
            let row: Vec<String> = names
                .iter()
                .map(|c| format!("COALESCE(CAST({c} AS TEXT), '-')"))
                .collect();
            let sql = format!(
                "SELECT {} AS row FROM {table} ORDER BY 1",
                row.join(" || '|' || ")
            );
            let rows = diesel::sql_query(sql)
                .load::<Row>(conn)
                .unwrap_or_else(|e| panic!("{table}: {e}"))
                .into_iter()
                .map(|r| r.row)
                .collect();
            (table.clone(), rows)
        })
        .collect()
}

/// Fails naming each table whose rows changed, and the rows gone and come.
fn assert_kept(before: &[(String, Vec<String>)], after: &[(String, Vec<String>)], step: &str) {
    let tables = |c: &[(String, Vec<String>)]| c.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>();
    assert_eq!(tables(before), tables(after), "{step} changed the tables");
    let changed: Vec<String> = before
        .iter()
        .zip(after)
        .filter(|((_, was), (_, now))| was != now)
        .map(|((table, was), (_, now))| {
            let gone: Vec<&String> = was.iter().filter(|r| !now.contains(r)).collect();
            let came: Vec<&String> = now.iter().filter(|r| !was.contains(r)).collect();
            format!("{table}: gone {gone:?}, came {came:?}")
        })
        .collect();
    assert!(changed.is_empty(), "{step} changed rows: {changed:#?}");
}

async fn the_newest_migrations_upgrade_a_database_that_holds_data_and_keep_it(backend: Backend) {
    let app = TestApp::new(backend).with_demo();
    let (parent, _) = app.tokens("demo-parent").await;
    let child = app.get_as(&parent, "/api/v1/me").await.json()["children"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("demo-parent has no child"));
    let diary = format!("/api/v1/students/{child}/diary?from=2026-11-23&to=2026-11-29");
    let before = app.get_as(&parent, &diary).await.expect(200).json();
    assert!(
        before["days"].as_array().is_some_and(|d| !d.is_empty()),
        "the demo fills the week: {before}"
    );

    // The database brought back to an older version, with its data.
    let mut conn = app.pool().get().unwrap_or_else(|e| panic!("{e}"));
    let newer = names("postgres")
        .range::<str, _>((Excluded(OLDER_VERSION), Unbounded))
        .count();
    let down =
        persistence::migrations::revert_last(&mut conn, newer).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(down.len(), newer);
    let older = columns(&mut conn);
    let filled = contents(&mut conn, &older);
    let total = filled.iter().map(|(_, rows)| rows.len()).sum::<usize>();
    assert!(total > 500, "the demo holds data: {total} rows");
    // Upgraded: every row of the older version is there, as it was.
    let up = persistence::migrations::run_pending(&mut conn).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(up, down.into_iter().rev().collect::<Vec<_>>());
    assert_kept(&filled, &contents(&mut conn, &older), "upgrading");
    drop(conn);

    // The upgraded database serves what it served.
    let (parent, _) = app.tokens("demo-parent").await;
    assert_eq!(app.get_as(&parent, &diary).await.expect(200).json(), before);
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct ForeignKey {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn tables(conn: &mut DbConnection) -> BTreeSet<String> {
    let sql = match conn {
        DbConnection::Pg(_) => {
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
        }
        DbConnection::Sqlite(_) => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
    };
    diesel::sql_query(sql)
        .load::<Name>(conn)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|n| n.name)
        .collect()
}

fn foreign_keys(conn: &mut DbConnection) -> Vec<ForeignKey> {
    let sql = match conn {
        DbConnection::Pg(_) => {
            "SELECT cl.relname::text AS table_name, a.attname::text AS column_name \
             FROM pg_constraint c JOIN pg_class cl ON cl.oid = c.conrelid \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
             WHERE c.contype = 'f'"
        }
        DbConnection::Sqlite(_) => {
            "SELECT m.name AS table_name, f.\"from\" AS column_name \
             FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table'"
        }
    };
    diesel::sql_query(sql)
        .load(conn)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Whether some index (or the primary key) of `table` starts with `column`.
fn leads_an_index(conn: &mut DbConnection, table: &str, column: &str) -> bool {
    let sql = match conn {
        DbConnection::Pg(_) => format!(
            "SELECT count(*) AS n FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid \
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0] \
             WHERE t.relname = '{table}' AND a.attname = '{column}'"
        ),
        DbConnection::Sqlite(_) => format!(
            "SELECT count(*) AS n FROM pragma_index_list('{table}') l, pragma_index_info(l.name) c \
             WHERE c.seqno = 0 AND c.name = '{column}'"
        ),
    };
    diesel::sql_query(sql)
        .get_result::<Count>(conn)
        .map(|c| c.n > 0)
        .unwrap_or(false)
}

async fn foreign_keys_are_indexed(backend: Backend) {
    let db = TestDb::migrated(backend);
    let pool = db.pool();
    let mut conn = pool.get().unwrap_or_else(|e| panic!("{e}"));
    let keys = foreign_keys(&mut conn);
    assert!(keys.len() >= 10, "expected the foreign keys to be found");
    let unindexed: Vec<String> = keys
        .iter()
        .filter(|fk| !leads_an_index(&mut conn, &fk.table_name, &fk.column_name))
        .map(|fk| format!("{}.{}", fk.table_name, fk.column_name))
        .collect();
    assert!(
        unindexed.is_empty(),
        "foreign keys without an index: {unindexed:?}"
    );
}

/// Tables that are not owned by one school: the directory of municipalities, schools and
/// accounts (a parent may have children in several schools), the rows a municipality may
/// own instead of a school (its integrator clients and their audit trail; a CHECK requires one
/// of the two owners), and the link codes a person issues for their own account (they are the
/// account's, whatever schools it belongs to, and exist to reach a school it is not in yet).
/// Everything else is sharded by school and must carry `school_id`.
const NOT_SCHOOL_OWNED: [&str; 14] = [
    "__diesel_schema_migrations",
    // Keyed by a login or an address, which belong to no school.
    "auth_failures",
    "municipalities",
    "schools",
    "users",
    "role_assignments",
    "sessions",
    "refresh_tokens",
    "login_events",
    "integrator_clients",
    "audit_events",
    "account_link_codes",
    // A person's phone: one device gets the pushes of children in several schools.
    "devices",
    // How far a person has read their notifications, whatever schools their children are in.
    "notification_reads",
];

async fn school_owned_tables_carry_school_id(backend: Backend) {
    let db = TestDb::migrated(backend);
    let pool = db.pool();
    let mut conn = pool.get().unwrap_or_else(|e| panic!("{e}"));
    for table in tables(&mut conn) {
        if NOT_SCHOOL_OWNED.contains(&table.as_str()) {
            continue;
        }
        let sql = match *conn {
            DbConnection::Pg(_) => format!(
                "SELECT count(*) AS n FROM information_schema.columns \
                 WHERE table_name = '{table}' AND column_name = 'school_id' AND is_nullable = 'NO'"
            ),
            DbConnection::Sqlite(_) => {
                format!(
                    "SELECT count(*) AS n FROM pragma_table_info('{table}') WHERE name = 'school_id' AND \"notnull\" = 1"
                )
            }
        };
        let found = diesel::sql_query(sql)
            .get_result::<Count>(&mut conn)
            .map(|c| c.n)
            .unwrap_or(0);
        assert_eq!(found, 1, "table {table} must carry a NOT NULL school_id");
    }
}
