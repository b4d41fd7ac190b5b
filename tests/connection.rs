//! The connection pool: what it does for the database beyond handing out connections.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;

use crate::support::{Backend, TestDb};

/// SQLite's write-ahead log is copied back into the database file by the pool's own thread,
/// not by whichever writer's commit takes the log over SQLite's threshold (that writer, and
/// every writer queued behind it, would wait for the copy and its `fsync`). The commit here
/// stays under both thresholds (SQLite's default of 1,000 pages and the pool's 20,000), so the
/// data reaches the database file only through the pool's checkpoints.
#[test]
fn sqlite_log_is_copied_back_by_the_pool_itself() {
    let db = TestDb::empty(Backend::Sqlite);
    let persistence::DatabaseUrl::Sqlite(file) = db.database_url() else {
        panic!("not a SQLite database");
    };
    let pool = db.pool();
    let mut conn = pool.get().unwrap_or_else(|e| panic!("{e}"));
    conn.batch_execute("CREATE TABLE scratch (b BLOB NOT NULL)")
        .unwrap_or_else(|e| panic!("{e}"));
    let size = || std::fs::metadata(&file).map_or(0, |m| m.len());
    let before = size();
    // About 600 pages of 4 KiB in one commit.
    conn.batch_execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 800) \
         INSERT INTO scratch (b) SELECT randomblob(3000) FROM n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let written = 800 * 3000;
    let deadline = Instant::now() + Duration::from_secs(10);
    while size() < before + written && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        size() >= before + written,
        "the database file holds {} bytes, {} more than before the commit of {written}",
        size(),
        size().saturating_sub(before)
    );
}
