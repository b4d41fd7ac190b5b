//! What the server writes to its log, at its most talkative (`RUST_LOG=debug`): ids, never a
//! password, a token, an activation code, a name or a grade's words.

use std::io::Read;

use serde_json::{Value, json};

use crate::cli::{start_with, stop};
use crate::crash::{get, lesson_to_grade, send, token};
use crate::support::{Backend, TestDb, on_both_backends};

on_both_backends!(the_log_holds_no_secret_and_no_name);

/// [`send`], which must be answered.
fn answered(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> (u16, Value) {
    send(addr, method, path, headers, body)
        .unwrap_or_else(|| panic!("no answer to {method} {path}"))
}

async fn the_log_holds_no_secret_and_no_name(backend: Backend) {
    let db = TestDb::empty(backend);
    let mut server = start_with(&db, true, &[("RUST_LOG", "debug")]);
    let mut stderr = server
        .child
        .stderr
        .take()
        .unwrap_or_else(|| panic!("no stderr"));
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap_or_default();
        text
    });
    let addr = server.addr.clone();

    // Logins, a wrong password, a refresh.
    let login = json!({"login": "demo-admin", "password": "demo-password"});
    let (status, tokens) = answered(&addr, "POST", "/api/v1/auth/login", &[], Some(&login));
    assert_eq!(status, 200);
    let admin = tokens["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let refresh = tokens["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let wrong = json!({"login": "demo-teacher", "password": "not-the-password-41"});
    let refused = send(&addr, "POST", "/api/v1/auth/login", &[], Some(&wrong));
    assert_eq!(refused.map(|(s, _)| s), Some(401));
    let refreshed = answered(
        &addr,
        "POST",
        "/api/v1/auth/refresh",
        &[],
        Some(&json!({"refresh_token": refresh})),
    );
    assert_eq!(refreshed.0, 200, "{}", refreshed.1);
    let new_refresh = refreshed.1["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // An activation code issued and used with a new password.
    let school = get(&addr, &admin, "/api/v1/me")["schools"][0]["id"]
        .as_i64()
        .unwrap_or_default();
    let people = get(
        &addr,
        &admin,
        &format!("/api/v1/schools/{school}/people?role=parent&limit=200"),
    );
    let person = people["items"]
        .as_array()
        .and_then(|p| {
            p.iter().find(|p| {
                p["login"]
                    .as_str()
                    .is_some_and(|l| l.starts_with("parent-"))
            })
        })
        .and_then(|p| p["id"].as_i64())
        .unwrap_or_else(|| panic!("no parent account to activate: {people}"));
    let bearer = format!("Bearer {admin}");
    let issued = answered(
        &addr,
        "POST",
        &format!("/api/v1/schools/{school}/people/{person}/activation-code"),
        &[("Authorization", &bearer)],
        None,
    );
    assert_eq!(issued.0, 201, "{}", issued.1);
    let code = issued.1["activation_code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let activate = json!({"code": code, "password": "brand-new-secret-77"});
    let activated = answered(&addr, "POST", "/api/v1/auth/activate", &[], Some(&activate));
    assert_eq!(activated.0, 200, "{}", activated.1);

    // Grades with words of their own, for a class of named students.
    let teacher = token(&addr, "demo-teacher");
    let (lesson, students, work_type) = lesson_to_grade(&addr, &teacher);
    let grades = json!({
        "grades": [{"client_id": "log-1", "student_id": students[0], "work_type_id": work_type,
                    "value": 5, "comment": "Блестящий ответ у доски"}],
        "reason": "Пересдача после болезни",
    });
    let bearer = format!("Bearer {teacher}");
    let graded = answered(
        &addr,
        "POST",
        &format!("/api/v1/lessons/{lesson}/grades"),
        &[("Authorization", &bearer), ("Idempotency-Key", "log-key-1")],
        Some(&grades),
    );
    assert_eq!(graded.0, 201, "{}", graded.1);
    // The parent reads the child's diary: names and grades in the answer.
    let parent = token(&addr, "demo-parent");
    let child = get(&addr, &parent, "/api/v1/me")["children"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("demo-parent has no child"));
    get(
        &addr,
        &parent,
        &format!("/api/v1/students/{child}/diary?from=2026-11-23&to=2026-11-29"),
    );

    // A stop as an operator does it, then the whole log.
    stop(&mut server);
    let log = log
        .join()
        .unwrap_or_else(|_| panic!("the log reader panicked"));
    assert!(
        log.contains("/api/v1/auth/login"),
        "requests are logged: {log}"
    );

    // (The demo's banner names the demo accounts' shared password, by design; the passwords a
    // person types are these.)
    let secrets = [
        "not-the-password-41",
        "brand-new-secret-77",
        admin.as_str(),
        refresh.as_str(),
        new_refresh.as_str(),
        teacher.as_str(),
        parent.as_str(),
        code.as_str(),
        "Bearer ",
    ];
    let words = [
        "Блестящий ответ",
        "Пересдача после болезни",
        "Соколов",
        "Лебедева",
    ];
    for needle in secrets.iter().chain(&words) {
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(needle)).collect();
        assert!(lines.is_empty(), "the log holds {needle:?}: {lines:#?}");
    }
}
