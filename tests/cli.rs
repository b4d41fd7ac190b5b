//! The `gradebook` binary as an operator runs it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Backend, TestDb, on_both_backends};

fn gradebook() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gradebook"));
    for (key, _) in std::env::vars() {
        if key.starts_with("APP__") || key == "DATABASE_URL" || key == "APP_CONFIG_FILE" {
            cmd.env_remove(key);
        }
    }
    cmd.env("RUST_LOG", "warn");
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run gradebook: {e}"))
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn help_lists_the_commands() {
    let output = run(gradebook().arg("--help"));
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for command in ["serve", "migrate", "openapi"] {
        assert!(text.contains(command), "{text}");
    }
    let serve = run(gradebook().args(["serve", "--help"]));
    let text = String::from_utf8_lossy(&serve.stdout);
    assert!(text.contains("--demo") && text.contains("--bind"), "{text}");
}

#[test]
fn an_unknown_database_scheme_stops_with_one_line() {
    let output = run(gradebook()
        .arg("serve")
        .env("DATABASE_URL", "mysql://root@localhost/x"));
    assert_eq!(output.status.code(), Some(2));
    let err = stderr_of(&output);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("database.url") && err.contains("sqlite://"),
        "{err}"
    );
}

#[test]
fn a_bad_setting_stops_with_one_line_naming_it() {
    let output = run(gradebook()
        .arg("serve")
        .env("APP__SERVER__BIND", "everywhere"));
    assert_eq!(output.status.code(), Some(2));
    let err = stderr_of(&output);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("server.bind"), "{err}");
}

#[test]
fn an_unreachable_database_stops_with_one_line() {
    let output = run(gradebook().arg("migrate").env(
        "DATABASE_URL",
        "postgres://nobody:secret@127.0.0.1:1/none?connect_timeout=2",
    ));
    assert_eq!(output.status.code(), Some(1));
    let err = stderr_of(&output);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot connect to postgres://nobody:***@127.0.0.1:1/none"),
        "{err}"
    );
    assert!(
        !err.contains("secret"),
        "the password is never printed: {err}"
    );
}

#[test]
fn openapi_prints_the_committed_contract() {
    let output = run(gradebook().arg("openapi"));
    assert!(output.status.success());
    let committed = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/openapi.json"),
    )
    .unwrap_or_default();
    assert!(
        output.stdout == committed,
        "`gradebook openapi` differs from openapi/openapi.json"
    );
}

on_both_backends!(
    migrate_applies_once,
    serve_migrates_answers_and_stops_gracefully
);

async fn migrate_applies_once(backend: Backend) {
    let db = TestDb::empty(backend);
    let first = run(gradebook().arg("migrate").env("DATABASE_URL", &db.url));
    assert!(
        first.status.success(),
        "{:?}: {}",
        first.status,
        stderr_of(&first)
    );
    let pool = db.pool();
    let mut conn = pool.get().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        persistence::migrations::pending(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
    let second = run(gradebook().arg("migrate").env("DATABASE_URL", &db.url));
    assert!(
        second.status.success(),
        "{:?}: {}",
        second.status,
        stderr_of(&second)
    );
}

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(db: &TestDb, demo: bool) -> Server {
    let mut cmd = gradebook();
    cmd.args(["serve", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", &db.url);
    if demo {
        cmd.arg("--demo");
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    Server { child, addr }
}

/// A minimal HTTP/1.1 GET, to keep the test free of a client library.
fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap_or_default();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap_or_default();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

async fn serve_migrates_answers_and_stops_gracefully(backend: Backend) {
    let db = TestDb::empty(backend);
    let mut server = start(&db, true);
    assert_eq!(
        http_get(&server.addr, "/health/ready"),
        (200, r#"{"status":"ready"}"#.to_owned())
    );
    let (status, body) = http_get(&server.addr, "/no/such/path");
    assert_eq!(status, 404);
    assert!(body.contains("\"code\":\"not_found\""), "{body}");
    let (status, _) = http_get(&server.addr, "/docs/");
    assert_eq!(status, 200);

    let pid = server.child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .map(|s| s.success());
    assert_eq!(killed.ok(), Some(true));
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "graceful stop exits 0, got {status:?}");
    let mut err = String::new();
    if let Some(mut stderr) = server.child.stderr.take() {
        stderr.read_to_string(&mut err).unwrap_or_default();
    }
    assert!(err.contains("DEMO MODE"), "demo mode says so loudly: {err}");

    // A second start on the same database finds the demo school and keeps it.
    let again = start(&db, true);
    assert_eq!(http_get(&again.addr, "/health/ready").0, 200);
}
