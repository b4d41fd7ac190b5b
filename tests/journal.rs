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
    grading_requests_written_together_commit_or_refuse_each_alone,
    a_group_keeps_refusals_alone_and_is_given_up_whole_on_a_database_failure,
    every_grade_has_its_history_for_whoever_may_read_it,
    a_stale_etag_overwrites_nothing_and_deletion_is_recorded,
    a_locked_term_is_changed_only_by_the_administration_with_a_reason,
    grades_for_a_lesson_moved_meanwhile_are_refused_whole,
    a_work_type_added_after_grading_began_is_graded_with_at_once,
    a_term_locked_after_the_checks_refuses_the_grades,
    attendance_is_set_for_the_whole_lesson_idempotently_and_audited,
    answers_are_forgotten_after_their_days_and_a_late_retry_grades_nothing_twice,
    oversized_batches_and_huge_numbers_are_refused_whole,
    edits_sent_late_never_overwrite_a_change_made_meanwhile,
);

/// A school day inside the demo's second term (so the test does not depend on today's date).
const LESSON_DAY: &str = "2026-11-23";

/// The demo, the teacher's token, a fresh lesson of 5А in the teacher's subject, and the
/// lesson as answered (with the school's work types and scales).
pub(crate) struct Day {
    pub(crate) app: TestApp,
    pub(crate) teacher: String,
    pub(crate) lesson: Value,
    pub(crate) students: Vec<i64>,
}

pub(crate) fn num(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not a number: {v}"))
}

pub(crate) async fn day(backend: Backend) -> Day {
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
            &json!({"date": LESSON_DAY, "number": 2, "subject_id": subject, "topic": "Имя существительное"}),
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
    pub(crate) fn lesson_id(&self) -> i64 {
        num(&self.lesson["id"])
    }

    pub(crate) fn work_type(&self, weight: i64) -> i64 {
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

    pub(crate) async fn grade(&self, key: Option<&str>, body: &Value) -> Reply {
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

async fn answers_are_forgotten_after_their_days_and_a_late_retry_grades_nothing_twice(
    backend: Backend,
) {
    use diesel::RunQueryDsl;

    let d = day(backend).await;
    let old = d.class_grades("old");
    assert_eq!(d.grade(Some("old-key"), &old).await.status, 201);
    let recent = json!({"grades": [{
        "client_id": "recent-0", "student_id": d.students[0],
        "work_type_id": d.work_type(1), "value": 4,
    }]});
    assert_eq!(d.grade(Some("recent-key"), &recent).await.status, 201);
    // The first answer was stored long before the 14 days the server keeps answers by default.
    let mut conn = d.app.pool().get().unwrap_or_else(|e| panic!("{e}"));
    let aged = diesel::sql_query(
        "UPDATE idempotency_records SET created_at = '2026-01-01 00:00:00' \
         WHERE idempotency_key = 'old-key'",
    )
    .execute(&mut conn)
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(aged, 1);
    drop(conn);

    let due = api::housekeeping::answers_due(&d.app.state);
    let forget =
        || api::housekeeping::forget_batch(&d.app.state, due).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(forget(), 1, "only the old answer is due");
    assert_eq!(forget(), 0);

    // A retry after its answer was forgotten writes nothing twice: its client ids are taken.
    let late = d.grade(Some("old-key"), &old).await;
    late.assert_problem(409, "conflict");
    // A recent answer is still there for its retry.
    let again = d.grade(Some("recent-key"), &recent).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.header("Idempotent-Replayed"), Some("true"));
    assert_eq!(d.stored_grades().await.len(), d.students.len() + 1);
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

/// The field of the first error of a 422 problem.
fn first_field(reply: &Reply) -> String {
    let problem = reply.assert_problem(422, "validation_failed");
    problem["errors"][0]["field"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn oversized_batches_and_huge_numbers_are_refused_whole(backend: Backend) {
    let d = day(backend).await;
    let entry = |i: usize| {
        json!({"client_id": format!("o-{i}"), "student_id": d.students[i % d.students.len()],
               "work_type_id": d.work_type(1), "value": 5})
    };
    // One more than a request may hold: named.
    let over: Vec<Value> = (0..201).map(entry).collect();
    let reply = d.grade(Some("over-key"), &json!({ "grades": over })).await;
    assert_eq!(first_field(&reply), "grades");
    // A hundred thousand: over the body limit, refused before it is parsed.
    let huge: Vec<Value> = (0..100_000).map(entry).collect();
    let reply = d.grade(Some("huge-key"), &json!({ "grades": huge })).await;
    reply.assert_problem(413, "payload_too_large");
    // Numbers no id can be.
    for (number, key) in [(json!(1e30), "float-key"), (json!(u64::MAX), "u64-key")] {
        let mut body = d.class_grades("n");
        body["grades"][0]["student_id"] = number;
        let reply = d.grade(Some(key), &body).await;
        assert_eq!(first_field(&reply), "grades[0].student_id", "{key}");
    }
    // All refused before the handler: nothing written, and the server grades on.
    assert!(d.stored_grades().await.is_empty(), "nothing was written");
    let good = d.grade(Some("over-key"), &d.class_grades("g")).await;
    assert_eq!(good.status, 201, "{}", String::from_utf8_lossy(&good.body));
    assert_eq!(d.stored_grades().await.len(), d.students.len());
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

/// Waits (up to 10 s) until `waiting` counts `n` requests waiting for their write.
async fn wait_until_waiting(waiting: impl Fn() -> usize, n: usize) {
    for _ in 0..1000 {
        if waiting() == n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(waiting(), n, "the requests wait for their write");
}

/// On SQLite the grading requests that wait for the same turn are written in one transaction
/// (`api::group_commit`): one refused there rolls back alone, after writing its grades, and the
/// others commit. Every turn is held until the three requests wait, checked, for their write:
/// on SQLite they are one group; on PostgreSQL they write at once, each in its transaction.
async fn grading_requests_written_together_commit_or_refuse_each_alone(backend: Backend) {
    let d = day(backend).await;
    let (first, reused, other) = (
        d.class_grades("t"),
        d.class_grades("v"),
        d.class_grades("u"),
    );
    let state = &d.app.state;
    let turns: Vec<_> = (0..state.write_turn.capacity())
        .map(|_| state.write_turn.turn())
        .collect();
    let waiting = || match &state.group_writer {
        Some(writer) => writer.pending(),
        None => state.write_turn.waiting(),
    };
    let release = async move {
        wait_until_waiting(waiting, 3).await;
        drop(turns);
    };
    // The second reuses the first's key with other grades: whichever of the two is written
    // second has inserted its grades and their sums when its record meets the first's key.
    let (x, y, z, ()) = tokio::join!(
        d.grade(Some("together-1"), &first),
        d.grade(Some("together-1"), &reused),
        d.grade(Some("together-2"), &other),
        release,
    );
    assert_eq!(z.status, 201, "{}", String::from_utf8_lossy(&z.body));
    let (written, refused, prefix) = match (x.status.as_u16(), y.status.as_u16()) {
        (201, 422) => (&x, &y, "t-"),
        (422, 201) => (&y, &x, "v-"),
        other => panic!("one of the two written, the other refused: {other:?}"),
    };
    refused.assert_problem(422, "validation_failed");
    let mut expected: Vec<String> = written.json()["grades"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(z.json()["grades"].as_array().into_iter().flatten())
        .map(|g| g["client_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    expected.sort();
    let mut stored: Vec<String> = d
        .stored_grades()
        .await
        .iter()
        .map(|g| g["client_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    stored.sort();
    assert_eq!(
        stored, expected,
        "the refused request's grades were rolled back"
    );
    assert_eq!(stored.len(), 2 * d.students.len());
    assert!(
        stored
            .iter()
            .all(|c| c.starts_with(prefix) || c.starts_with("u-"))
    );
}

/// `api::group_commit` on its own, over a scratch table: a refusal (4xx) in a group rolls back
/// alone; a failure of the database (5xx), after which SQLite may have rolled back the whole
/// transaction, gives the group up whole, every request of it answered with the failure.
async fn a_group_keeps_refusals_alone_and_is_given_up_whole_on_a_database_failure(
    backend: Backend,
) {
    use api::ApiError;
    use api::group_commit::GroupWriter;
    use api::write_queue::WriteQueue;
    use diesel::RunQueryDsl;
    use diesel::connection::SimpleConnection;
    use std::sync::Arc;

    #[derive(diesel::QueryableByName)]
    struct Probe {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        x: i64,
    }

    let db = crate::support::TestDb::migrated(backend);
    let pool = db.pool();
    let mut conn = pool.get().unwrap_or_else(|e| panic!("{e}"));
    conn.batch_execute("CREATE TABLE probe (x BIGINT NOT NULL)")
        .unwrap_or_else(|e| panic!("{e}"));
    drop(conn);
    let queue = Arc::new(WriteQueue::new(1));
    let writer = GroupWriter::start(pool.clone(), Arc::clone(&queue), Arc::default())
        .unwrap_or_else(|e| panic!("{e}"));
    // Inserts x, then answers as told.
    let insert = |x: i64, then: Result<(), ApiError>| {
        move |conn: &mut persistence::DbConnection| {
            diesel::sql_query(format!("INSERT INTO probe (x) VALUES ({x})"))
                .execute(conn)
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            then.map(|()| x)
        }
    };
    let stored = || {
        let mut conn = pool.get().unwrap_or_else(|e| panic!("{e}"));
        let mut xs: Vec<i64> = diesel::sql_query("SELECT x FROM probe")
            .load::<Probe>(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|p| p.x)
            .collect();
        xs.sort_unstable();
        xs
    };
    // The turn is held until every request waits, so each set below is one group.
    let held = |n: usize| {
        let turn = queue.turn();
        let writer = &writer;
        async move {
            wait_until_waiting(|| writer.pending(), n).await;
            drop(turn);
        }
    };

    let (a, b, c, ()) = tokio::join!(
        writer.write(insert(1, Ok(()))),
        writer.write(insert(2, Err(ApiError::Conflict("refused".into())))),
        writer.write(insert(3, Ok(()))),
        held(3),
    );
    assert!(matches!(a, Ok(1)), "{a:?}");
    assert!(matches!(b, Err(ApiError::Conflict(_))), "{b:?}");
    assert!(matches!(c, Ok(3)), "{c:?}");
    assert_eq!(stored(), vec![1, 3], "the refusal rolled back alone");

    let (d, e, ()) = tokio::join!(
        writer.write(insert(4, Ok(()))),
        writer.write(insert(
            5,
            Err(ApiError::Internal("the disk is full".into()))
        )),
        held(2),
    );
    assert!(
        d.is_err(),
        "a request of a group given up is not answered done: {d:?}"
    );
    assert!(matches!(e, Err(ApiError::Internal(_))), "{e:?}");
    assert_eq!(stored(), vec![1, 3], "the group given up wrote nothing");
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

pub(crate) async fn send(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    if_match: Option<&str>,
    body: Option<&Value>,
) -> Reply {
    let mut request = TestRequest::default()
        .method(method)
        .uri(path)
        .insert_header(("Authorization", format!("Bearer {token}")));
    if let Some(tag) = if_match {
        request = request.insert_header(("If-Match", tag.to_owned()));
    }
    if let Some(body) = body {
        request = request.set_json(body);
    }
    app.call(request).await
}

/// Grades the first student 4 and returns the grade's id.
async fn one_grade(d: &Day) -> i64 {
    let body = json!({"grades": [
        {"client_id": "one", "student_id": d.students[0], "work_type_id": d.work_type(1), "value": 4}
    ]});
    let reply = d.grade(Some("one-key"), &body).await;
    assert_eq!(reply.status, 201);
    num(&reply.json()["grades"][0]["id"])
}

async fn a_stale_etag_overwrites_nothing_and_deletion_is_recorded(backend: Backend) {
    let d = day(backend).await;
    let id = one_grade(&d).await;
    let path = format!("/api/v1/grades/{id}");
    let read = d.app.get_as(&d.teacher, &path).await;
    assert_eq!(read.status, 200);
    let first_tag = read.header("etag").unwrap_or_default().to_owned();
    assert_eq!(read.json()["etag"], first_tag.as_str());

    let patch = |tag: Option<&str>, body: &Value| {
        let (tag, body) = (tag.map(str::to_owned), body.clone());
        let (app, teacher, path) = (&d.app, &d.teacher, &path);
        async move {
            send(
                app,
                teacher,
                Method::PATCH,
                path,
                tag.as_deref(),
                Some(&body),
            )
            .await
        }
    };
    // No If-Match: 428; a changed grade: 200 with a new ETag.
    let change = json!({"value": 5, "reason": "пересдача"});
    let bare = patch(None, &change).await;
    bare.assert_problem(428, "precondition_required");
    let changed = patch(Some(first_tag.as_str()), &change).await;
    assert_eq!(
        changed.status,
        200,
        "{}",
        String::from_utf8_lossy(&changed.body)
    );
    let second_tag = changed.header("etag").unwrap_or_default().to_owned();
    assert_ne!(second_tag, first_tag);
    assert_eq!(changed.json()["value"], 5);
    assert_eq!(changed.json()["version"], 2);

    // A second teacher app still holding the first ETag overwrites nothing.
    let stale = json!({"value": 2});
    let refused = patch(Some(first_tag.as_str()), &stale).await;
    refused.assert_problem(412, "precondition_failed");
    assert_eq!(d.app.get_as(&d.teacher, &path).await.json()["value"], 5);
    // The change sent again on the ETag it was made on (its answer was lost) already holds:
    // answered as done, with the grade as it is, and nothing written twice.
    let retried = patch(Some(first_tag.as_str()), &change).await.expect(200);
    assert_eq!(retried.header("etag"), Some(second_tag.as_str()));
    assert_eq!(retried.json()["version"], 2);
    let out_of_scale = json!({"value": 7});
    let bad = patch(Some(second_tag.as_str()), &out_of_scale).await;
    let problem = bad.assert_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "value");

    // Deleting needs the current ETag too; afterwards the grade is gone but not lost.
    let stale_delete = send(
        &d.app,
        &d.teacher,
        Method::DELETE,
        &path,
        Some(&first_tag),
        None,
    )
    .await;
    stale_delete.assert_problem(412, "precondition_failed");
    let delete_path = format!("{path}?reason=%D0%BE%D1%88%D0%B8%D0%B1%D0%BA%D0%B0");
    let deleted = send(
        &d.app,
        &d.teacher,
        Method::DELETE,
        &delete_path,
        Some(&second_tag),
        None,
    )
    .await;
    assert_eq!(
        deleted.status,
        204,
        "{}",
        String::from_utf8_lossy(&deleted.body)
    );
    d.app
        .get_as(&d.teacher, &path)
        .await
        .assert_problem(404, "not_found");
    assert!(d.stored_grades().await.is_empty());
    let again = send(
        &d.app,
        &d.teacher,
        Method::DELETE,
        &path,
        Some(&second_tag),
        None,
    )
    .await;
    again.assert_problem(404, "not_found");

    let history = d
        .app
        .get_as(&d.teacher, &format!("{path}/history"))
        .await
        .json();
    let items = history["items"].as_array().cloned().unwrap_or_default();
    let summary: Vec<(Value, Value, Value, Value)> = items
        .iter()
        .map(|e| {
            (
                e["action"].clone(),
                e["old_value"].clone(),
                e["new_value"].clone(),
                e["reason"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (json!("created"), Value::Null, json!(4), Value::Null),
            (json!("changed"), json!(4), json!(5), json!("пересдача")),
            (json!("deleted"), json!(5), Value::Null, json!("ошибка")),
        ]
    );
}

async fn a_locked_term_is_changed_only_by_the_administration_with_a_reason(backend: Backend) {
    let d = day(backend).await;
    let id = one_grade(&d).await;
    let school = num(&d.lesson["school_id"]);
    let day = chrono::NaiveDate::parse_from_str(LESSON_DAY, "%Y-%m-%d").unwrap_or_default();
    let term = term_holding(&d, school, day);
    let (admin, _) = d.app.tokens("demo-admin").await;
    let lock = format!("/api/v1/schools/{school}/terms/{term}/lock");
    let by_teacher = send(&d.app, &d.teacher, Method::POST, &lock, None, None).await;
    by_teacher.assert_problem(403, "forbidden");
    let locked = send(&d.app, &admin, Method::POST, &lock, None, None)
        .await
        .expect(200);
    assert!(locked.json()["locked_at"].is_string());
    let path = format!("/api/v1/grades/{id}");
    let tag = d
        .app
        .get_as(&d.teacher, &path)
        .await
        .header("etag")
        .unwrap_or_default()
        .to_owned();
    let change = json!({"value": 5, "reason": "пересдача"});
    let teacher = send(
        &d.app,
        &d.teacher,
        Method::PATCH,
        &path,
        Some(&tag),
        Some(&change),
    )
    .await;
    teacher.assert_problem(409, "conflict");
    let teacher_delete = send(&d.app, &d.teacher, Method::DELETE, &path, Some(&tag), None).await;
    teacher_delete.assert_problem(409, "conflict");
    let marks = json!({"marks": [{"student_id": d.students[0], "mark": "absent"}]});
    let attendance = format!("/api/v1/lessons/{}/attendance", d.lesson_id());
    let teacher_marks = send(
        &d.app,
        &d.teacher,
        Method::PUT,
        &attendance,
        None,
        Some(&marks),
    )
    .await;
    teacher_marks.assert_problem(409, "conflict");

    // New grades change the term too: the teacher is refused, the administration needs a
    // reason, which each new grade's history keeps.
    let grading = format!("/api/v1/lessons/{}/grades", d.lesson_id());
    let late = |token: &str, key: &str, reason: Option<&str>| {
        let mut body = json!({"grades": [
            {"client_id": key, "student_id": d.students[1], "work_type_id": d.work_type(1), "value": 3}
        ]});
        if let Some(reason) = reason {
            body["reason"] = json!(reason);
        }
        TestRequest::default()
            .method(Method::POST)
            .uri(&grading)
            .insert_header(("Authorization", format!("Bearer {token}")))
            .insert_header(("Idempotency-Key", key.to_owned()))
            .set_json(body)
    };
    d.app
        .call(late(&d.teacher, "late-teacher", Some("забыл")))
        .await
        .assert_problem(409, "conflict");
    let reasonless = d.app.call(late(&admin, "late-reasonless", None)).await;
    let problem = reasonless.assert_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "reason");
    let added = d
        .app
        .call(late(&admin, "late-admin", Some("оценка с бумажного листа")))
        .await
        .expect(201)
        .json();
    let late_id = num(&added["grades"][0]["id"]);
    let late_history = d
        .app
        .get_as(&admin, &format!("/api/v1/grades/{late_id}/history"))
        .await
        .json();
    assert_eq!(late_history["items"][0]["action"], "created");
    assert_eq!(
        late_history["items"][0]["reason"],
        "оценка с бумажного листа"
    );

    let reasonless = json!({"value": 5});
    let refused = send(
        &d.app,
        &admin,
        Method::PATCH,
        &path,
        Some(&tag),
        Some(&reasonless),
    )
    .await;
    let problem = refused.assert_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "reason");
    let changed = send(
        &d.app,
        &admin,
        Method::PATCH,
        &path,
        Some(&tag),
        Some(&change),
    )
    .await;
    assert_eq!(
        changed.status,
        200,
        "{}",
        String::from_utf8_lossy(&changed.body)
    );
    let history = d
        .app
        .get_as(&admin, &format!("{path}/history"))
        .await
        .json();
    let admin_id = num(&d.app.get_as(&admin, "/api/v1/me").await.json()["id"]);
    assert_eq!(history["items"][1]["reason"], "пересдача");
    assert_eq!(history["items"][1]["actor_user_id"], admin_id);
    assert_eq!(history["items"].as_array().map(Vec::len), Some(2));

    // Unlocked, the term is the teachers' again.
    let unlocked = send(&d.app, &admin, Method::DELETE, &lock, None, None).await;
    assert!(unlocked.json()["locked_at"].is_null());
    let tag = d
        .app
        .get_as(&d.teacher, &path)
        .await
        .header("etag")
        .unwrap_or_default()
        .to_owned();
    let plain = json!({"value": 4});
    let changed = send(
        &d.app,
        &d.teacher,
        Method::PATCH,
        &path,
        Some(&tag),
        Some(&plain),
    )
    .await;
    assert_eq!(
        changed.status,
        200,
        "{}",
        String::from_utf8_lossy(&changed.body)
    );
    let audit = d
        .app
        .get_as(&admin, &format!("/api/v1/schools/{school}/audit-events"))
        .await
        .json();
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(actions[..2], ["term.unlocked", "term.locked"]);
}

async fn attendance_is_set_for_the_whole_lesson_idempotently_and_audited(backend: Backend) {
    let d = day(backend).await;
    let path = format!("/api/v1/lessons/{}/attendance", d.lesson_id());
    let put = |body: Value| {
        let path = path.clone();
        let d = &d;
        async move { send(&d.app, &d.teacher, Method::PUT, &path, None, Some(&body)).await }
    };
    let marks = json!({"marks": [
        {"student_id": d.students[0], "mark": "absent"},
        {"student_id": d.students[1], "mark": "late"},
    ]});
    let first = put(marks.clone()).await;
    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    assert_eq!(first.json()["changed"], 2);
    // The retry changes nothing and answers the same marks.
    let again = put(marks.clone()).await;
    assert_eq!(again.json()["changed"], 0);
    assert_eq!(again.json()["marks"], first.json()["marks"]);
    let lesson = d
        .app
        .get_as(&d.teacher, &format!("/api/v1/lessons/{}", d.lesson_id()))
        .await
        .json();
    assert_eq!(lesson["attendance"], first.json()["marks"]);
    assert!(lesson["first_entry_at"].is_string());

    // The whole lesson is set: the first student is back (present), a third one is sick.
    let next = json!({"marks": [
        {"student_id": d.students[1], "mark": "late"},
        {"student_id": d.students[2], "mark": "sick"},
    ]});
    let second = put(next).await.json();
    assert_eq!(second["changed"], 2);
    let listed: Vec<i64> = second["marks"]
        .as_array()
        .map(|m| m.iter().map(|m| num(&m["student_id"])).collect())
        .unwrap_or_default();
    assert_eq!(listed, vec![d.students[1], d.students[2]]);

    // A bad entry refuses everything and names itself.
    let bad = json!({"marks": [
        {"student_id": d.students[3], "mark": "absent"},
        {"student_id": 987_654_321, "mark": "absent"},
        {"student_id": d.students[3], "mark": "late"},
    ]});
    let refused = put(bad).await.assert_problem(422, "validation_failed");
    let fields: Vec<&str> = refused["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(fields, vec!["marks[1].student_id", "marks[2].student_id"]);
    let unknown = json!({"marks": [{"student_id": d.students[3], "mark": "truant"}]});
    let problem = put(unknown).await.assert_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "marks[0].mark");

    let history = d.app.get_as(&d.teacher, &format!("{path}/history")).await;
    assert_eq!(history.status, 200);
    let changes: Vec<(i64, Value, Value)> = history.json()["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|e| {
                    (
                        num(&e["student_id"]),
                        e["old_mark"].clone(),
                        e["new_mark"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        changes,
        vec![
            (d.students[0], Value::Null, json!("absent")),
            (d.students[1], Value::Null, json!("late")),
            (d.students[0], json!("absent"), Value::Null),
            (d.students[2], Value::Null, json!("sick")),
        ]
    );
}

/// The handler reads the lesson, checks the grades, then writes them in a transaction that
/// locks the lesson's row. A lesson moved in between (to another day, perhaps into a locked
/// term) is noticed under the lock: the grades are refused whole, none is written.
async fn grades_for_a_lesson_moved_meanwhile_are_refused_whole(backend: Backend) {
    let d = day(backend).await;
    let (read, weighing) = d.lesson_as_read();
    let moved_to = read.lesson_date + chrono::Days::new(1);
    let path = format!("/api/v1/lessons/{}", d.lesson_id());
    let body = json!({"date": moved_to});
    let _ = send(&d.app, &d.teacher, Method::PATCH, &path, None, Some(&body))
        .await
        .expect(200);

    let outcome = d.give_directly(&read, &weighing, "stale", false).await;
    assert!(
        matches!(outcome, Err(persistence::PersistenceError::Conflict(_))),
        "{outcome:?}"
    );
    assert!(d.stored_grades().await.is_empty(), "nothing is written");
}

impl Day {
    /// The lesson and its school's weighing, as the grading handler reads them before writing.
    fn lesson_as_read(
        &self,
    ) -> (
        persistence::journal::Lesson,
        persistence::averages::Weighing,
    ) {
        let mut conn = self.app.pool().get().unwrap_or_else(|e| panic!("{e}"));
        let read = persistence::journal::find_lesson(&mut conn, self.lesson_id())
            .unwrap_or_else(|e| panic!("{e}"));
        let weighing = persistence::averages::Weighing::load(&mut conn, read.school_id)
            .unwrap_or_else(|e| panic!("{e}"));
        (read, weighing)
    }

    /// Gives the first student a 5 in the lesson `read` straight through
    /// `journal::give_grades`, as the teacher, with `key` as idempotency key and client id;
    /// `cleared`: the caller may write into a locked term (with a reason).
    async fn give_directly(
        &self,
        read: &persistence::journal::Lesson,
        weighing: &persistence::averages::Weighing,
        key: &str,
        cleared: bool,
    ) -> persistence::Result<persistence::journal::Graded> {
        use persistence::journal;
        let teacher = domain::UserId(num(&self
            .app
            .get_as(&self.teacher, "/api/v1/me")
            .await
            .json()["id"]));
        let grades = [journal::NewGrade {
            student: domain::StudentId(self.students[0]),
            work_type: self.work_type(1),
            scale: self.scale("points"),
            value: "5".into(),
            comment: None,
            client_id: key.to_owned(),
        }];
        let mut conn = self.app.pool().get().unwrap_or_else(|e| panic!("{e}"));
        journal::give_grades(
            &mut conn,
            read,
            journal::Actor::Person(teacher),
            &journal::GradeRequest {
                idempotency: &journal::Idempotency {
                    key: key.to_owned(),
                    request_hash: key.to_owned(),
                },
                grades: &grades,
                weighing,
                reason: cleared.then_some("с бумажного листа"),
                locked_term_cleared: cleared,
            },
            chrono::Utc::now().naive_utc(),
            &|_| journal::StoredAnswer {
                status: 201,
                body: String::new(),
            },
        )
    }
}

/// The server keeps each school's scales and work types once read; one added since is found
/// by the next request that names it.
async fn a_work_type_added_after_grading_began_is_graded_with_at_once(backend: Backend) {
    let d = day(backend).await;
    let first = json!({"grades": [
        {"client_id": "before", "student_id": d.students[0], "work_type_id": d.work_type(1), "value": 4}
    ]});
    let _ = d.grade(Some("before"), &first).await.expect(201);
    let (admin, _) = d.app.tokens("demo-admin").await;
    let school = num(&d.lesson["school_id"]);
    let added = d
        .app
        .post_as(
            &admin,
            &format!("/api/v1/schools/{school}/work-types"),
            &json!({"name": "Проект", "weight": 4}),
        )
        .await
        .expect(201)
        .json();
    let project = num(&added["id"]);
    let second = json!({"grades": [
        {"client_id": "after", "student_id": d.students[0], "work_type_id": project, "value": 5}
    ]});
    let graded = d.grade(Some("after"), &second).await.expect(201).json();
    assert_eq!(graded["grades"][0]["work_type_id"], project);
    let unknown = json!({"grades": [
        {"client_id": "unknown", "student_id": d.students[0], "work_type_id": project + 1000, "value": 5}
    ]});
    let refused = d.grade(Some("unknown"), &unknown).await;
    let problem = refused.assert_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "grades[0].work_type_id");
}

/// The checks read the term's lock before the write; a lock that commits in between is seen
/// by the write (with the lesson's lock), and refuses grades whose caller was not cleared
/// for it.
async fn a_term_locked_after_the_checks_refuses_the_grades(backend: Backend) {
    let d = day(backend).await;
    let (read, weighing) = d.lesson_as_read();
    let term = term_holding(&d, read.school_id, read.lesson_date);
    let (admin, _) = d.app.tokens("demo-admin").await;
    let lock = format!("/api/v1/schools/{}/terms/{term}/lock", read.school_id);
    let _ = send(&d.app, &admin, Method::POST, &lock, None, None)
        .await
        .expect(200);

    let refused = d.give_directly(&read, &weighing, "after-lock", false).await;
    assert!(
        matches!(refused, Err(persistence::PersistenceError::Conflict(_))),
        "{refused:?}"
    );
    assert!(d.stored_grades().await.is_empty(), "nothing is written");
    let cleared = d.give_directly(&read, &weighing, "cleared", true).await;
    assert!(
        matches!(cleared, Ok(persistence::journal::Graded::Written(_))),
        "{cleared:?}"
    );
    assert_eq!(d.stored_grades().await.len(), 1);
}

/// The id of the school's term that holds `day`.
fn term_holding(d: &Day, school: i64, day: chrono::NaiveDate) -> i64 {
    use diesel::prelude::*;
    use persistence::schema::terms;
    let mut conn = d.app.pool().get().unwrap_or_else(|e| panic!("{e}"));
    terms::table
        .filter(terms::school_id.eq(school))
        .filter(terms::starts_on.le(day))
        .filter(terms::ends_on.ge(day))
        .select(terms::id)
        .first(&mut conn)
        .unwrap_or_else(|e| panic!("the lesson's term: {e}"))
}

/// The entity tag `field` of an answer's body.
fn tag_of(reply: &Reply, field: &str) -> String {
    let tag = reply.json()[field].as_str().unwrap_or_default().to_owned();
    assert!(tag.starts_with('"') && tag.len() > 2, "{field}: {tag}");
    tag
}

/// The teacher app keeps working offline and sends its edits later, with `If-Match` naming
/// what it read. An edit made meanwhile by someone else (the administration here) is not
/// overwritten: 412, nothing written. What already stands is answered 200 (a retry whose
/// first answer was lost), and a request without `If-Match` writes as before.
async fn edits_sent_late_never_overwrite_a_change_made_meanwhile(backend: Backend) {
    let d = day(backend).await;
    let (admin, _) = d.app.tokens("demo-admin").await;
    let lesson_path = format!("/api/v1/lessons/{}", d.lesson_id());
    let lesson = || async {
        d.app
            .get_as(&d.teacher, &lesson_path)
            .await
            .expect(200)
            .json()
    };
    let patch = |token: &str, tag: Option<&str>, body: Value| {
        let (token, tag, path) = (
            token.to_owned(),
            tag.map(str::to_owned),
            lesson_path.clone(),
        );
        let app = &d.app;
        async move {
            send(
                app,
                &token,
                Method::PATCH,
                &path,
                tag.as_deref(),
                Some(&body),
            )
            .await
        }
    };

    // The plan.
    let read = lesson().await["plan_etag"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let topic = json!({"topic": "Глагол"});
    let first = patch(&d.teacher, Some(&read), topic.clone())
        .await
        .expect(200);
    let after_topic = tag_of(&first, "plan_etag");
    assert_ne!(after_topic, read, "the plan changed");
    let retried = patch(&d.teacher, Some(&read), topic).await.expect(200);
    assert_eq!(
        tag_of(&retried, "plan_etag"),
        after_topic,
        "already applied"
    );

    let by_admin = patch(&admin, Some(&after_topic), json!({"homework": "Упр. 5"}))
        .await
        .expect(200);
    let after_admin = tag_of(&by_admin, "plan_etag");
    let stale = patch(
        &d.teacher,
        Some(&after_topic),
        json!({"homework": "Упр. 7"}),
    )
    .await;
    stale.assert_problem(412, "precondition_failed");
    let now = lesson().await;
    assert_eq!(
        now["homework"], "Упр. 5",
        "the administration's homework stands"
    );
    assert_eq!(now["topic"], "Глагол");
    assert_eq!(now["plan_etag"], after_admin.as_str());

    // Strong comparison: a weak tag matches nothing; any tag of a list, or `*`, does.
    let weak = format!("W/{after_admin}");
    let body = json!({"homework": "Упр. 8"});
    patch(&d.teacher, Some(&weak), body.clone())
        .await
        .assert_problem(412, "precondition_failed");
    let listed = format!("\"plan0-0000000000000000\", {after_admin}");
    let changed = patch(&d.teacher, Some(&listed), body).await.expect(200);
    assert_eq!(changed.json()["homework"], "Упр. 8");
    let _ = patch(&d.teacher, Some("*"), json!({"room": "12"}))
        .await
        .expect(200);
    let unconditional = patch(&d.teacher, None, json!({"room": "14"}))
        .await
        .expect(200);
    assert_ne!(
        tag_of(&unconditional, "plan_etag"),
        tag_of(&changed, "plan_etag")
    );

    // A lesson with nothing entered yet: grading it (its first entry) leaves its plan's tag.
    let (class, subject) = (num(&d.lesson["class_id"]), num(&d.lesson["subject_id"]));
    let empty = d
        .app
        .post_as(
            &d.teacher,
            &format!("/api/v1/classes/{class}/lessons"),
            &json!({"date": LESSON_DAY, "number": 4, "subject_id": subject}),
        )
        .await
        .expect(201)
        .json();
    assert!(empty["first_entry_at"].is_null(), "{empty}");
    let empty_path = format!("/api/v1/lessons/{}", num(&empty["id"]));
    let graded = d
        .app
        .call(
            TestRequest::post()
                .uri(&format!("{empty_path}/grades"))
                .insert_header(("Authorization", format!("Bearer {}", d.teacher)))
                .insert_header(("Idempotency-Key", "first-entry"))
                .set_json(
                    json!({"grades": [{"client_id": "fe", "student_id": d.students[0],
                    "work_type_id": d.work_type(1), "value": 5}]}),
                ),
        )
        .await;
    assert_eq!(graded.status, 201);
    let after = d
        .app
        .get_as(&d.teacher, &empty_path)
        .await
        .expect(200)
        .json();
    assert!(
        after["first_entry_at"].is_string(),
        "the grade is its first entry"
    );
    assert_eq!(after["plan_etag"], empty["plan_etag"]);

    // Attendance.
    let marks_path = format!("{lesson_path}/attendance");
    let put = |token: &str, path: &str, tag: &str, body: Value| {
        let (token, tag, path) = (token.to_owned(), tag.to_owned(), path.to_owned());
        let app = &d.app;
        async move { send(app, &token, Method::PUT, &path, Some(&tag), Some(&body)).await }
    };
    let (s0, s1, s2) = (d.students[0], d.students[1], d.students[2]);
    let read = lesson().await["attendance_etag"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mine = json!({"marks": [{"student_id": s0, "mark": "absent"}]});
    let set = put(&d.teacher, &marks_path, &read, mine).await.expect(200);
    let teachers = tag_of(&set, "etag");
    assert_eq!(
        set.header("etag"),
        Some(teachers.as_str()),
        "also the ETag header"
    );
    let corrected = json!({"marks": [
        {"student_id": s0, "mark": "absent"}, {"student_id": s1, "mark": "late"}
    ]});
    let by_admin = put(&admin, &marks_path, &teachers, corrected.clone())
        .await
        .expect(200);
    let admins = tag_of(&by_admin, "etag");
    let late = json!({"marks": [
        {"student_id": s0, "mark": "absent"}, {"student_id": s2, "mark": "sick"}
    ]});
    put(&d.teacher, &marks_path, &teachers, late)
        .await
        .assert_problem(412, "precondition_failed");
    let now = lesson().await;
    assert_eq!(
        now["attendance"],
        by_admin.json()["marks"],
        "the correction stands"
    );
    assert_eq!(now["attendance_etag"], admins.as_str());
    let same = put(&d.teacher, &marks_path, &teachers, corrected)
        .await
        .expect(200);
    assert_eq!(
        same.json()["changed"],
        0,
        "already so: answered, not refused"
    );
    let history = d
        .app
        .get_as(&d.teacher, &format!("{marks_path}/history"))
        .await;
    let changes = history.expect(200).json()["items"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(changes, 2, "the refused marks left no history");

    // Individual homework.
    let own_path = format!("{lesson_path}/individual-homework");
    let read = lesson().await["individual_homework_etag"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let set = put(
        &admin,
        &own_path,
        &read,
        json!({"items": [{"student_id": s0, "homework": "Повторить правило"}]}),
    )
    .await
    .expect(200);
    assert_ne!(tag_of(&set, "individual_homework_etag"), read);
    put(
        &d.teacher,
        &own_path,
        &read,
        json!({"items": [{"student_id": s0, "homework": "Другое"}]}),
    )
    .await
    .assert_problem(412, "precondition_failed");
    let own = lesson().await["individual_homework"].clone();
    assert_eq!(
        own,
        json!([{"student_id": s0, "homework": "Повторить правило"}])
    );
    // What already stands, sent on the old tag, is answered.
    let _ = put(
        &d.teacher,
        &own_path,
        &read,
        json!({"items": [{"student_id": s0, "homework": "Повторить правило"}]}),
    )
    .await
    .expect(200);
}
