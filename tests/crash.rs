//! The server killed (`SIGKILL`) while teachers grade: every grade it answered for is in the
//! database, none is half written, and the teachers' retries after the restart (same
//! `Idempotency-Key`, same body) write each grade once.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use persistence::schema::grades;
use serde_json::{Value, json};

use crate::cli::{gradebook, http, run, start, stderr_of};
use crate::support::{Backend, TestDb, on_both_backends};

on_both_backends!(a_killed_server_loses_no_answered_grade_and_retries_write_each_once);

/// Teachers sending at once.
const SENDERS: usize = 4;
/// Answered gradings before the kill.
const ANSWERED_BEFORE_KILL: usize = 24;

/// [`http`] with a JSON body and answer (`Null` for an answer that is not JSON).
pub(crate) fn send(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Option<(u16, Value)> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let (status, answer) = http(addr, method, path, headers, &body)?;
    Some((status, serde_json::from_str(&answer).unwrap_or(Value::Null)))
}

fn num(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not a number: {v}"))
}

pub(crate) fn token(addr: &str, login: &str) -> String {
    let body = json!({"login": login, "password": "demo-password"});
    match send(addr, "POST", "/api/v1/auth/login", &[], Some(&body)) {
        Some((200, answer)) => answer["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {answer}"))
            .to_owned(),
        other => panic!("login {login}: {other:?}"),
    }
}

pub(crate) fn get(addr: &str, token: &str, path: &str) -> Value {
    let bearer = format!("Bearer {token}");
    match send(addr, "GET", path, &[("Authorization", &bearer)], None) {
        Some((200, answer)) => answer,
        other => panic!("GET {path}: {other:?}"),
    }
}

/// A fresh lesson of the demo teacher's class in its subject, its students and a work type.
pub(crate) fn lesson_to_grade(addr: &str, teacher: &str) -> (i64, Vec<i64>, i64) {
    let admin = token(addr, "demo-admin");
    let school = num(&get(addr, &admin, "/api/v1/me")["schools"][0]["id"]);
    let me = num(&get(addr, teacher, "/api/v1/me")["id"]);
    let assignments = get(
        addr,
        &admin,
        &format!("/api/v1/schools/{school}/teaching-assignments"),
    );
    let mine = assignments["items"]
        .as_array()
        .and_then(|items| items.iter().find(|a| num(&a["teacher_id"]) == me))
        .unwrap_or_else(|| panic!("demo-teacher teaches nothing: {assignments}"));
    let (class, subject) = (num(&mine["class_id"]), num(&mine["subject_id"]));
    let bearer = format!("Bearer {teacher}");
    let body = json!({"date": "2026-11-23", "number": 2, "subject_id": subject});
    let lesson = match send(
        addr,
        "POST",
        &format!("/api/v1/classes/{class}/lessons"),
        &[("Authorization", &bearer)],
        Some(&body),
    ) {
        Some((201, lesson)) => lesson,
        other => panic!("adding a lesson: {other:?}"),
    };
    let students: Vec<i64> =
        get(addr, teacher, &format!("/api/v1/classes/{class}/students"))["items"]
            .as_array()
            .map(|items| items.iter().map(|s| num(&s["id"])).collect())
            .unwrap_or_default();
    assert!(!students.is_empty(), "5А has students");
    let work_type = lesson["work_types"]
        .as_array()
        .and_then(|w| w.first())
        .map(|t| num(&t["id"]))
        .unwrap_or_else(|| panic!("no work types: {lesson}"));
    (num(&lesson["id"]), students, work_type)
}

/// The grading request `n` of sender `sender`: a grade for every student, its own client ids.
fn grading(sender: usize, n: usize, students: &[i64], work_type: i64) -> (String, Value) {
    let key = format!("crash-{sender}-{n}");
    let grades: Vec<Value> = students
        .iter()
        .enumerate()
        .map(|(i, s)| json!({"client_id": format!("{key}-{i}"), "student_id": s, "work_type_id": work_type, "value": 5 - (i % 3)}))
        .collect();
    (key, json!({ "grades": grades }))
}

fn post_grades(
    addr: &str,
    teacher: &str,
    lesson: i64,
    key: &str,
    body: &Value,
) -> Option<(u16, Value)> {
    let bearer = format!("Bearer {teacher}");
    send(
        addr,
        "POST",
        &format!("/api/v1/lessons/{lesson}/grades"),
        &[("Authorization", &bearer), ("Idempotency-Key", key)],
        Some(body),
    )
}

/// How many times each client id of the lesson is stored.
fn stored(db: &TestDb, lesson: i64) -> HashMap<String, usize> {
    let mut conn = db.pool().get().unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<String> = grades::table
        .filter(grades::lesson_id.eq(lesson))
        .select(grades::client_id)
        .load(&mut conn)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut counted = HashMap::new();
    for id in ids {
        *counted.entry(id).or_insert(0) += 1;
    }
    counted
}

async fn a_killed_server_loses_no_answered_grade_and_retries_write_each_once(backend: Backend) {
    let db = TestDb::empty(backend);
    let mut server = start(&db, true);
    let addr = server.addr.clone();
    let teacher = token(&addr, "demo-teacher");
    let (lesson, students, work_type) = lesson_to_grade(&addr, &teacher);

    // Teachers grade back to back until the server dies under them.
    let answered = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let (addr, teacher, students) = (addr.clone(), teacher.clone(), students.clone());
            let answered = Arc::clone(&answered);
            std::thread::spawn(move || {
                let mut sent = Vec::new();
                for n in 0.. {
                    let (key, body) = grading(sender, n, &students, work_type);
                    let answer = post_grades(&addr, &teacher, lesson, &key, &body);
                    let status = answer.as_ref().map(|(status, _)| *status);
                    sent.push((key, body, status));
                    match status {
                        Some(201) => {
                            answered.fetch_add(1, Ordering::SeqCst);
                        }
                        Some(other) => panic!("grading answered {other}: {answer:?}"),
                        // The server is gone: this one was in flight, or sent after.
                        None => break,
                    }
                }
                sent
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while answered.load(Ordering::SeqCst) < ANSWERED_BEFORE_KILL {
        assert!(
            Instant::now() < deadline,
            "the server answered too few gradings"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    // SIGKILL: no graceful stop, requests in flight.
    server.child.kill().unwrap_or_else(|e| panic!("{e}"));
    let _ = server.child.wait();
    let sent: Vec<(String, Value, Option<u16>)> = senders
        .into_iter()
        .flat_map(|s| s.join().unwrap_or_else(|_| panic!("a sender panicked")))
        .collect();
    assert!(sent.iter().filter(|(_, _, s)| s.is_some()).count() >= ANSWERED_BEFORE_KILL);

    // Every answered grade is stored once; an unanswered request is stored whole or not at all.
    let after_kill = stored(&db, lesson);
    for (key, body, status) in &sent {
        let ids: Vec<&str> = body["grades"]
            .as_array()
            .map(|g| g.iter().filter_map(|g| g["client_id"].as_str()).collect())
            .unwrap_or_default();
        let found: Vec<usize> = ids
            .iter()
            .map(|id| after_kill.get(*id).copied().unwrap_or(0))
            .collect();
        if status.is_some() {
            assert!(
                found.iter().all(|&n| n == 1),
                "{key} was answered 201 but is stored {found:?}"
            );
        } else {
            assert!(
                found.iter().all(|&n| n == 1) || found.iter().all(|&n| n == 0),
                "{key} is half written: {found:?}"
            );
        }
    }

    // After a restart, the teachers send every request again with its key: each answered
    // (written now or replayed), each grade stored once.
    let server = start(&db, true);
    let teacher = token(&server.addr, "demo-teacher");
    for (key, body, _) in &sent {
        match post_grades(&server.addr, &teacher, lesson, key, body) {
            Some((201, answer)) => assert_eq!(
                answer["grades"].as_array().map(Vec::len),
                Some(students.len()),
                "{key}: {answer}"
            ),
            other => panic!("retrying {key}: {other:?}"),
        }
    }
    let after_retries = stored(&db, lesson);
    assert_eq!(after_retries.len(), sent.len() * students.len());
    assert!(
        after_retries.values().all(|&n| n == 1),
        "a grade was stored twice"
    );

    // The running sums of averages were written with the grades, all or nothing.
    let sums = run(gradebook().arg("check-sums").env("DATABASE_URL", &db.url));
    assert!(sums.status.success(), "{}", stderr_of(&sums));
}
