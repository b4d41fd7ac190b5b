//! The two migration trees: same names, up-down-up on both backends, indexed foreign keys,
//! `school_id` on every school-owned table.

use std::collections::BTreeSet;
use std::path::Path;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use persistence::DbConnection;

use crate::support::{Backend, TestDb, on_both_backends};

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
const NOT_SCHOOL_OWNED: [&str; 13] = [
    "__diesel_schema_migrations",
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
