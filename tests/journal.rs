//! The journal through HTTP: a teacher adds a lesson and grades the whole class in one
//! request; retries never duplicate; one bad entry refuses everything and names itself; every
//! grade has its history.

use actix_web::http::Method;
use actix_web::test::TestRequest;
use serde_json::{Value, json};

use crate::support::app::Reply;
use crate::support::{Backend, TestApp, on_both_backends};

on_both_backends!(
    a_teacher_grades_the_whole_class_in_one_request,
    a_retry_gets_the_first_answer_and_never_grades_twice,
    one_bad_entry_refuses_the_request_and_names_itself,
    concurrent_retries_grade_once,
    every_grade_has_its_history_for_whoever_may_read_it,
);

/// The demo, the teacher's token, a fresh lesson of 5А in the teacher's subject, and the
/// lesson as answered (with the school's work types and scales).
struct Day {
    app: TestApp,
    teacher: String,
    lesson: Value,
    students: Vec<i64>,
}

fn num(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not a number: {v}"))
}

async fn day(backend: Backend) -> Day {
    let app = TestApp::new(backend).with_demo();
    let (teacher, _) = app.tokens("demo-teacher").await;
    let (admin, _) = app.tokens("demo-admin").await;
    let me = app.get_as(&admin, "/api/v1/me").await.json();
    let school = num(&me["schools"][0]["id"]);
    let assignments = app
        .get_as(
            &admin,
            &format!("/api/v1/schools/{school}/teaching-assignments"),
        )
        .await
        .json();
    let teacher_id = num(&app.get_as(&teacher, "/api/v1/me").await.json()["id"]);
    let mine = assignments["items"]
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .find(|a| a["teacher_id"] == teacher_id)
                .cloned()
        })
        .unwrap_or_else(|| panic!("demo-teacher teaches nothing: {assignments}"));
    let (class, subject) = (num(&mine["class_id"]), num(&mine["subject_id"]));
    let created = app
        .post_as(
            &teacher,
            &format!("/api/v1/classes/{class}/lessons"),
            &json!({"date": chrono::Utc::now().date_naive(), "number": 2, "subject_id": subject, "topic": "Имя существительное"}),
        )
        .await;
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let lesson = created.json();
    assert_eq!(lesson["teacher_id"], teacher_id, "the caller teaches it");
    let roster = app
        .get_as(&teacher, &format!("/api/v1/classes/{class}/students"))
        .await
        .json();
    let students: Vec<i64> = roster["items"]
        .as_array()
        .map(|items| items.iter().map(|s| num(&s["id"])).collect())
        .unwrap_or_default();
    assert!(students.len() >= 12);
    Day {
        app,
        teacher,
        lesson,
        students,
    }
}

impl Day {
    fn lesson_id(&self) -> i64 {
        num(&self.lesson["id"])
    }

    fn work_type(&self, weight: i64) -> i64 {
        self.lesson["work_types"]
            .as_array()
            .and_then(|w| w.iter().find(|t| t["weight"] == weight))
            .map(|t| num(&t["id"]))
            .unwrap_or_else(|| panic!("no work type of weight {weight}"))
    }

    fn scale(&self, kind: &str) -> i64 {
        self.lesson["scales"]
            .as_array()
            .and_then(|s| s.iter().find(|t| t["kind"] == kind))
            .map(|t| num(&t["id"]))
            .unwrap_or_else(|| panic!("no {kind} scale"))
    }

    /// A grade for every student: 5, 4, 3, 5, 4, 3, ...
    fn class_grades(&self, prefix: &str) -> Value {
        let work_type = self.work_type(1);
        let grades: Vec<Value> = self
            .students
            .iter()
            .enumerate()
            .map(|(i, s)| {
                json!({
                    "client_id": format!("{prefix}-{i}"),
                    "student_id": s,
                    "work_type_id": work_type,
                    "value": 5 - (i % 3),
                })
            })
            .collect();
        json!({ "grades": grades })
    }

    async fn grade(&self, key: Option<&str>, body: &Value) -> Reply {
        let mut request = TestRequest::default()
            .method(Method::POST)
            .uri(&format!("/api/v1/lessons/{}/grades", self.lesson_id()))
            .insert_header(("Authorization", format!("Bearer {}", self.teacher)))
            .set_json(body);
        if let Some(key) = key {
            request = request.insert_header(("Idempotency-Key", key.to_owned()));
        }
        self.app.call(request).await
    }

    async fn stored_grades(&self) -> Vec<Value> {
        let lesson = self
            .app
            .get_as(
                &self.teacher,
                &format!("/api/v1/lessons/{}", self.lesson_id()),
            )
            .await;
        assert_eq!(lesson.status, 200);
        lesson.json()["grades"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

async fn a_teacher_grades_the_whole_class_in_one_request(backend: Backend) {
    let d = day(backend).await;
    assert!(d.lesson["first_entry_at"].is_null());
    let body = d.class_grades("g");
    let reply = d.grade(Some("key-1"), &body).await;
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.header("Idempotent-Replayed"), None);
    let answer = reply.json();
    let given = answer["grades"].as_array().cloned().unwrap_or_default();
    assert_eq!(given.len(), d.students.len());
    for (i, grade) in given.iter().enumerate() {
        assert_eq!(grade["student_id"], d.students[i]);
        assert_eq!(grade["value"], json!(5 - (i % 3)));
        assert_eq!(grade["version"], 1);
        assert_eq!(grade["client_id"], format!("g-{i}"));
    }
    assert_eq!(d.stored_grades().await, given);
    let lesson = d
        .app
        .get_as(&d.teacher, &format!("/api/v1/lessons/{}", d.lesson_id()))
        .await
        .json();
    assert!(
        lesson["first_entry_at"].is_string(),
        "the first entry is timed"
    );
    // Several grades per student per lesson are allowed, also on the pass/fail scale.
    let more = json!({"grades": [
        {"client_id": "extra-1", "student_id": d.students[0], "work_type_id": d.work_type(2), "value": 4, "comment": "контрольная"},
        {"client_id": "extra-2", "student_id": d.students[0], "work_type_id": d.work_type(1), "scale_id": d.scale("pass_fail"), "value": "pass"},
    ]});
    let reply = d.grade(Some("key-2"), &more).await;
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(d.stored_grades().await.len(), d.students.len() + 2);
}

async fn a_retry_gets_the_first_answer_and_never_grades_twice(backend: Backend) {
    let d = day(backend).await;
    let body = d.class_grades("r");
    let first = d.grade(Some("retry-key"), &body).await;
    assert_eq!(first.status, 201);
    let again = d.grade(Some("retry-key"), &body).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.header("Idempotent-Replayed"), Some("true"));
    assert_eq!(again.json(), first.json(), "the first answer, again");
    assert_eq!(d.stored_grades().await.len(), d.students.len());

    // The same key with another body is refused, naming the header.
    let other = d.class_grades("other");
    let reused = d.grade(Some("retry-key"), &other).await;
    let problem = reused.assert_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "Idempotency-Key");
    // A new key with the same client ids cannot create them again either.
    let twice = d.grade(Some("another-key"), &body).await;
    twice.assert_problem(409, "conflict");
    // Without a key the request is refused before anything is written.
    let keyless = d.grade(None, &other).await;
    let problem = keyless.assert_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "Idempotency-Key");
    assert_eq!(d.stored_grades().await.len(), d.students.len());
}

async fn one_bad_entry_refuses_the_request_and_names_itself(backend: Backend) {
    let d = day(backend).await;
    let mut body = d.class_grades("b");
    body["grades"][2]["value"] = json!(6);
    body["grades"][3]["student_id"] = json!(987_654_321);
    body["grades"][4]["work_type_id"] = json!(987_654_321);
    body["grades"][5]["scale_id"] = json!(d.scale("pass_fail"));
    body["grades"][6]["client_id"] = json!("b-0");
    let reply = d.grade(Some("bad-key"), &body).await;
    let problem = reply.assert_problem(422, "validation_failed");
    let fields: Vec<(String, String)> = problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    (
                        e["field"].as_str().unwrap_or_default().to_owned(),
                        e["code"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let expected = [
        ("grades[2].value", "out_of_range"),
        ("grades[3].student_id", "not_in_class"),
        ("grades[4].work_type_id", "not_found"),
        ("grades[5].value", "invalid_value"),
        ("grades[6].client_id", "duplicate"),
    ];
    for (field, code) in expected {
        assert!(
            fields.iter().any(|(f, c)| f == field && c == code),
            "{field} {code} missing from {fields:?}"
        );
    }
    assert_eq!(fields.len(), expected.len(), "{fields:?}");
    assert!(d.stored_grades().await.is_empty(), "nothing was written");
    // The refused request stored no answer: the same key works with a corrected body.
    let fixed = d.grade(Some("bad-key"), &d.class_grades("b")).await;
    assert_eq!(
        fixed.status,
        201,
        "{}",
        String::from_utf8_lossy(&fixed.body)
    );
    // Types are named too.
    let mut typed = d.class_grades("t");
    typed["grades"][0]["value"] = json!(4.5);
    let reply = d.grade(Some("typed-key"), &typed).await;
    let problem = reply.assert_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "grades[0].value");
}

async fn concurrent_retries_grade_once(backend: Backend) {
    let d = day(backend).await;
    let body = d.class_grades("c");
    let (a, b, c) = tokio::join!(
        d.grade(Some("same-key"), &body),
        d.grade(Some("same-key"), &body),
        d.grade(Some("same-key"), &body),
    );
    for reply in [&a, &b, &c] {
        assert_eq!(
            reply.status,
            201,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
    }
    assert_eq!(a.json(), b.json());
    assert_eq!(a.json(), c.json());
    let replayed = [&a, &b, &c]
        .iter()
        .filter(|r| r.header("Idempotent-Replayed") == Some("true"))
        .count();
    assert_eq!(replayed, 2, "one wrote, two replayed");
    assert_eq!(d.stored_grades().await.len(), d.students.len());
}

async fn every_grade_has_its_history_for_whoever_may_read_it(backend: Backend) {
    let d = day(backend).await;
    let (parent, _) = d.app.tokens("demo-parent").await;
    let parent_me = d.app.get_as(&parent, "/api/v1/me").await.json();
    let child = parent_me["children"]
        .as_array()
        .and_then(|c| {
            c.iter()
                .map(|c| num(&c["id"]))
                .find(|id| d.students.contains(id))
        })
        .unwrap_or_else(|| panic!("the parent has no child in 5А"));
    let stranger = *d
        .students
        .iter()
        .find(|s| **s != child)
        .unwrap_or_else(|| panic!("a class of one"));
    let body = json!({"grades": [
        {"client_id": "h-1", "student_id": child, "work_type_id": d.work_type(1), "value": 5, "comment": "устный ответ"},
        {"client_id": "h-2", "student_id": stranger, "work_type_id": d.work_type(1), "value": 3},
    ]});
    let given = d.grade(Some("history-key"), &body).await.json();
    let mine = num(&given["grades"][0]["id"]);
    let theirs = num(&given["grades"][1]["id"]);
    let teacher_id = num(&d.app.get_as(&d.teacher, "/api/v1/me").await.json()["id"]);

    let history = d
        .app
        .get_as(&d.teacher, &format!("/api/v1/grades/{mine}/history"))
        .await;
    assert_eq!(history.status, 200);
    let history = history.json();
    let items = history["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["version"], 1);
    assert_eq!(items[0]["action"], "created");
    assert_eq!(items[0]["new_value"], 5);
    assert_eq!(items[0]["new_comment"], "устный ответ");
    assert_eq!(items[0]["old_value"], Value::Null);
    assert_eq!(items[0]["actor_user_id"], teacher_id);

    // The parent reads their child's history, and another child's is answered as missing.
    let own = d
        .app
        .get_as(&parent, &format!("/api/v1/grades/{mine}/history"))
        .await;
    assert_eq!(own.status, 200);
    let other = d
        .app
        .get_as(&parent, &format!("/api/v1/grades/{theirs}/history"))
        .await;
    other.assert_problem(404, "not_found");
    let missing = d
        .app
        .get_as(&parent, "/api/v1/grades/987654321/history")
        .await;
    missing.assert_problem(404, "not_found");
    assert_eq!(other.body, missing.body);
}
