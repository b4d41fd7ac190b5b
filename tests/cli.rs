//! The `gradebook` binary as an operator runs it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Backend, TestApp, TestDb, on_both_backends};

pub(crate) fn gradebook() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gradebook"));
    for (key, _) in std::env::vars() {
        if key.starts_with("APP__") || key == "DATABASE_URL" || key == "APP_CONFIG_FILE" {
            cmd.env_remove(key);
        }
    }
    cmd.env("RUST_LOG", "warn");
    cmd
}

pub(crate) fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run gradebook: {e}"))
}

pub(crate) fn stderr_of(output: &Output) -> String {
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
    a_slow_client_is_cut_off_and_the_server_keeps_serving,
    failed_logins_add_up_across_server_processes,
    migrate_applies_once,
    serve_migrates_answers_and_stops_gracefully,
    an_operator_creates_a_school_and_its_first_administrators,
    check_sums_finds_running_sums_that_drifted,
);

async fn check_sums_finds_running_sums_that_drifted(backend: Backend) {
    use diesel::prelude::*;
    use persistence::schema::subject_sums;
    // The demo grades demo-student, so it has running sums.
    let app = crate::support::TestApp::new(backend).with_demo();
    let url = app.db.url.clone();
    let clean = run(gradebook().arg("check-sums").env("DATABASE_URL", &url));
    assert!(clean.status.success(), "{}", stderr_of(&clean));
    assert!(String::from_utf8_lossy(&clean.stdout).contains("match a recomputation"));

    let mut conn = app.pool().get().unwrap_or_else(|e| panic!("{e}"));
    let row: i64 = subject_sums::table
        .select(subject_sums::id)
        .first(&mut conn)
        .unwrap_or_else(|e| panic!("no running sums in the demo: {e}"));
    diesel::update(subject_sums::table.find(row))
        .set(subject_sums::weighted.eq(subject_sums::weighted + 1))
        .execute(&mut conn)
        .unwrap_or_else(|e| panic!("{e}"));
    drop(conn);
    let drifted = run(gradebook().arg("check-sums").env("DATABASE_URL", &url));
    assert_eq!(drifted.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&drifted.stdout).contains("stored"));
    assert!(
        stderr_of(&drifted).contains("1 running sums differ"),
        "{}",
        stderr_of(&drifted)
    );
}

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

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start(db: &TestDb, demo: bool) -> Server {
    start_with(db, demo, &[])
}

/// [`start`] with more environment variables.
pub(crate) fn start_with(db: &TestDb, demo: bool, env: &[(&str, &str)]) -> Server {
    let mut cmd = gradebook();
    cmd.args(["serve", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", &db.url)
        .envs(env.iter().copied());
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

/// One HTTP/1.1 request on a connection of its own (a minimal client, to keep the tests free of
/// a client library): the status and body, or `None` when the connection failed or closed
/// before a whole answer came (the server was killed).
pub(crate) fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body.as_bytes()).ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    // A body cut short is no answer.
    (body.len() >= length).then(|| (status, body.to_owned()))
}

fn http_get(addr: &str, path: &str) -> (u16, String) {
    http(addr, "GET", path, &[], "").unwrap_or_default()
}

/// Stops the server as an operator does (`SIGTERM`) and waits for it (20 s at most).
pub(crate) fn stop(server: &mut Server) -> std::process::ExitStatus {
    let pid = server.child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .map(|s| s.success());
    assert_eq!(killed.ok(), Some(true));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
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

    let status = stop(&mut server);
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

/// The last whitespace-separated word of `text` that follows `marker`.
fn word_after<'a>(text: &'a str, marker: &str) -> &'a str {
    text.split(marker)
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .map(|w| w.trim_end_matches([',', ';']))
        .unwrap_or_else(|| panic!("no {marker:?} in {text:?}"))
}

async fn an_operator_creates_a_school_and_its_first_administrators(backend: Backend) {
    let db = TestDb::migrated(backend);
    let url = db.url.clone();
    let output = run(gradebook()
        .args([
            "add-school",
            "--name",
            "Школа № 7",
            "--municipality-name",
            "Округ",
        ])
        .env("DATABASE_URL", &url));
    assert!(output.status.success(), "{}", stderr_of(&output));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let school = word_after(&text, "school ");
    let municipality = word_after(&text, "municipality ");

    let output = run(gradebook()
        .args([
            "add-admin",
            "--school",
            school,
            "--login",
            "director7",
            "--name",
            "Директор",
        ])
        .env("DATABASE_URL", &url));
    assert!(output.status.success(), "{}", stderr_of(&output));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let code = word_after(&text, "activation code ").to_owned();
    let again = run(gradebook()
        .args([
            "add-admin",
            "--school",
            school,
            "--login",
            "director7",
            "--name",
            "Директор",
        ])
        .env("DATABASE_URL", &url));
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr_of(&again).contains("taken"), "{}", stderr_of(&again));
    let missing = run(gradebook()
        .args([
            "add-admin",
            "--school",
            "424242",
            "--login",
            "d",
            "--name",
            "D",
        ])
        .env("DATABASE_URL", &url));
    assert!(
        stderr_of(&missing).contains("no school 424242"),
        "{}",
        stderr_of(&missing)
    );

    let mut child = gradebook()
        .args([
            "add-admin",
            "--municipality",
            municipality,
            "--login",
            "okrug",
            "--name",
            "Управление",
        ])
        .env("DATABASE_URL", &url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(b"okrug-password\n")
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert!(output.status.success(), "{}", stderr_of(&output));

    let app = TestApp::over(db, persistence::PoolOptions::default());
    let activated = app
        .call(
            actix_web::test::TestRequest::post()
                .uri("/api/v1/auth/activate")
                .set_json(serde_json::json!({"code": code, "password": "director-password"})),
        )
        .await;
    assert_eq!(
        activated.status,
        200,
        "{}",
        String::from_utf8_lossy(&activated.body)
    );
    let token = activated.json()["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let me = app.get_as(&token, "/api/v1/me").await.json();
    assert_eq!(me["roles"], serde_json::json!(["school_admin"]));
    assert_eq!(me["schools"][0]["id"].to_string(), school);
    let (okrug, _) = {
        let reply = app.login("okrug", "okrug-password").await;
        assert_eq!(reply.status, 200);
        (
            reply.json()["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            (),
        )
    };
    let me = app.get_as(&okrug, "/api/v1/me").await.json();
    assert_eq!(me["roles"], serde_json::json!(["municipality_admin"]));
    let audit = app
        .get_as(&token, &format!("/api/v1/schools/{school}/audit-events"))
        .await
        .json();
    assert!(
        audit["items"].as_array().is_some_and(|items| items
            .iter()
            .any(|e| e["action"] == "person.created" && e["actor_id"].is_null())),
        "{audit}"
    );
}

/// What a stalled connection got within `within`: `Some(answer)` when the server answered or
/// closed it (an empty answer), `None` when it was still held open.
fn cut_off(stream: &mut TcpStream, within: Duration) -> Option<String> {
    stream.set_read_timeout(Some(within)).unwrap_or_default();
    let mut answer = Vec::new();
    let mut chunk = [0_u8; 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return Some(String::from_utf8_lossy(&answer).into_owned()),
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            // Reset by the server: cut off too.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(String::from_utf8_lossy(&answer).into_owned());
            }
            Err(_) => return None,
        }
    }
}

async fn a_slow_client_is_cut_off_and_the_server_keeps_serving(backend: Backend) {
    let db = TestDb::empty(backend);
    let server = start_with(&db, true, &[("APP__SERVER__REQUEST_TIMEOUT_SECS", "1")]);
    let connect = || TcpStream::connect(&server.addr).unwrap_or_else(|e| panic!("{e}"));
    // Half a request head, and a whole head with a tenth of its body.
    let mut slow_head = connect();
    write!(slow_head, "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n").unwrap_or_default();
    let mut slow_body = connect();
    write!(
        slow_body,
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{\"login\":"
    )
    .unwrap_or_default();
    // A body in chunks that stalls.
    let mut slow_chunks = connect();
    write!(
        slow_chunks,
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\n\r\n9\r\n{{\"login\":\r\n"
    )
    .unwrap_or_default();
    // A body in chunks, to a request answered before its body is read (no token: 401).
    let mut early = connect();
    write!(
        early,
        "POST /api/v1/lessons/1/grades HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\n\r\n5\r\n{{\"gra\r\n"
    )
    .unwrap_or_default();
    // Others are served meanwhile.
    assert_eq!(http_get(&server.addr, "/health/ready").0, 200);
    let answer = cut_off(&mut early, Duration::from_secs(8))
        .unwrap_or_else(|| panic!("a client answered early was held over 8 s by its body"));
    assert!(answer.starts_with("HTTP/1.1 401"), "early: {answer}");
    for (what, stream) in [
        ("head", &mut slow_head),
        ("body", &mut slow_body),
        ("chunked body", &mut slow_chunks),
    ] {
        let answer = cut_off(stream, Duration::from_secs(8))
            .unwrap_or_else(|| panic!("a client stalled in its request {what} was held over 8 s"));
        // 408 once the request timeout (1 s) is up; the connection closed within actix's
        // disconnect timeout (5 s) after.
        assert!(answer.starts_with("HTTP/1.1 408"), "{what}: {answer}");
    }
    assert_eq!(http_get(&server.addr, "/health/ready").0, 200);
}

/// Two server processes over one database, as behind a load balancer: failed logins counted
/// by either lock the account out on both (counted in one process each, neither would).
async fn failed_logins_add_up_across_server_processes(backend: Backend) {
    let db = TestDb::empty(backend);
    // Both in demo mode (a signing key of their own; the demo, already there, stays as it is).
    let first = start(&db, true);
    let second = start(&db, true);
    let login = |server: &Server, password: &str| {
        let body = format!(r#"{{"login": "demo-teacher", "password": "{password}"}}"#);
        http(&server.addr, "POST", "/api/v1/auth/login", &[], &body).map_or(0, |(status, _)| status)
    };
    assert_eq!(
        login(&second, "demo-password"),
        200,
        "the second serves too"
    );
    for (i, server) in [&first, &second, &first, &second, &first]
        .into_iter()
        .enumerate()
    {
        assert_eq!(login(server, "guess"), 401, "attempt {i}");
    }
    assert_eq!(login(&second, "demo-password"), 429);
    assert_eq!(login(&first, "demo-password"), 429);
}
