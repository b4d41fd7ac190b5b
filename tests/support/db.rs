//! One database per test. SQLite: a file in a temporary folder. PostgreSQL: a database cloned
//! from a migrated template (created once per migration set, under an advisory lock so parallel
//! test processes agree), dropped when the test ends.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use persistence::{DatabaseUrl, Pool, PoolOptions};

pub use persistence::Backend;

/// Whether the PostgreSQL variant of the tests can run. In CI (`CI` set) a missing
/// `TEST_DATABASE_URL` is an error, never a silent skip.
pub fn postgres_configured() -> bool {
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty()) {
        return true;
    }
    assert!(
        std::env::var("CI").is_err(),
        "CI is set but TEST_DATABASE_URL is not: the PostgreSQL tests must run in CI"
    );
    eprintln!("note: TEST_DATABASE_URL is not set; skipping the PostgreSQL variant");
    false
}

fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_default()
}

/// `url` with its database name replaced.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn database_exists(conn: &mut PgConnection, name: &str) -> bool {
    diesel::sql_query(format!(
        "SELECT count(*) AS n FROM pg_database WHERE datname = '{name}'"
    ))
    .get_result::<Count>(conn)
    .map(|c| c.n > 0)
    .unwrap_or(false)
}

fn migrations_dir(backend: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations")
        .join(backend)
}

/// A hash of every migration file, so a changed migration gets a new template.
fn migrations_fingerprint() -> u64 {
    let mut files: Vec<PathBuf> = std::fs::read_dir(migrations_dir("postgres"))
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|dir| {
            std::fs::read_dir(dir.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|f| f.path())
        .collect();
    files.sort();
    let mut hasher = DefaultHasher::new();
    for file in files {
        file.file_name().hash(&mut hasher);
        std::fs::read(&file).unwrap_or_default().hash(&mut hasher);
    }
    hasher.finish()
}

fn admin_connection() -> PgConnection {
    PgConnection::establish(&admin_url())
        .unwrap_or_else(|e| panic!("cannot connect to TEST_DATABASE_URL: {e}"))
}

fn ensure_template() -> String {
    let name = format!("gradebook_tmpl_{:016x}", migrations_fingerprint());
    let mut admin = admin_connection();
    diesel::sql_query("SELECT pg_advisory_lock(724301)")
        .execute(&mut admin)
        .unwrap_or_else(|e| panic!("advisory lock: {e}"));
    if !database_exists(&mut admin, &name) {
        let building = format!("{name}_building");
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
            .execute(&mut admin);
        diesel::sql_query(format!("CREATE DATABASE {building}"))
            .execute(&mut admin)
            .unwrap_or_else(|e| panic!("create template: {e}"));
        {
            let url = DatabaseUrl::parse(&with_database(&admin_url(), &building))
                .unwrap_or_else(|e| panic!("{e}"));
            let pool = persistence::connection::connect_pool(&url, PoolOptions::default())
                .unwrap_or_else(|e| panic!("{e}"));
            let mut conn = pool.get().unwrap_or_else(|e| panic!("{e}"));
            persistence::migrations::run_pending(&mut conn).unwrap_or_else(|e| panic!("{e}"));
        }
        diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {name}"))
            .execute(&mut admin)
            .unwrap_or_else(|e| panic!("rename template: {e}"));
    }
    let _ = diesel::sql_query("SELECT pg_advisory_unlock(724301)").execute(&mut admin);
    name
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique_name() -> String {
    format!(
        "gradebook_test_{}_{}_{:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    )
}

/// A database that lives as long as the test.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    /// A database with every migration applied.
    pub fn migrated(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let db = Self::empty(Backend::Sqlite);
                let mut conn = db.pool().get().unwrap_or_else(|e| panic!("{e}"));
                persistence::migrations::run_pending(&mut conn).unwrap_or_else(|e| panic!("{e}"));
                db
            }
            Backend::Postgres => {
                let template = ensure_template();
                Self::create_pg(Some(&template))
            }
        }
    }

    /// A database with nothing in it.
    pub fn empty(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                Self {
                    backend,
                    url,
                    _dir: Some(dir),
                    pg_name: None,
                }
            }
            Backend::Postgres => Self::create_pg(None),
        }
    }

    fn create_pg(template: Option<&str>) -> Self {
        let name = unique_name();
        let mut admin = admin_connection();
        let sql = match template {
            Some(t) => format!("CREATE DATABASE {name} TEMPLATE {t}"),
            None => format!("CREATE DATABASE {name}"),
        };
        diesel::sql_query(sql)
            .execute(&mut admin)
            .unwrap_or_else(|e| panic!("create test database: {e}"));
        Self {
            backend: Backend::Postgres,
            url: with_database(&admin_url(), &name),
            _dir: None,
            pg_name: Some(name),
        }
    }

    pub fn database_url(&self) -> DatabaseUrl {
        DatabaseUrl::parse(&self.url).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn pool(&self) -> Pool {
        self.pool_with(PoolOptions::default())
    }

    pub fn pool_with(&self, options: PoolOptions) -> Pool {
        persistence::connection::connect_pool(&self.database_url(), options)
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name
            && let Ok(mut admin) = PgConnection::establish(&admin_url())
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin);
        }
    }
}

#[test]
fn database_names_are_replaced_in_urls() {
    assert_eq!(
        with_database("postgres://u@h:5432/postgres", "x"),
        "postgres://u@h:5432/x"
    );
    assert_eq!(
        with_database("postgres://u@h/postgres?sslmode=disable", "x"),
        "postgres://u@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
}
