//! Push notifications through HTTP, on both databases, against the fake FCM server: a grade
//! reaches each preferred family device exactly once with its text and data; a rolled-back
//! request sends nothing; FCM down for a while loses and duplicates nothing; a restart between
//! commit and send still delivers; an unlinked parent gets nothing more; quiet hours hold or
//! count; a dead token is deactivated; two dispatchers never send a row twice. Homework and
//! term grades are announced once (a retry announces nothing), individual homework only to
//! the student's own family, in each recipient's language; a parent reads what quiet hours
//! only counted, and nobody else's.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::Arc;

use actix_web::http::Method;
use chrono::{Duration, NaiveDateTime, Timelike, Utc};
use diesel::prelude::*;
use persistence::schema::{notification_log, notifications};
use persistence::{DbConnection, PersistenceError};
use serde_json::{Value, json};

use crate::journal::{Day, day, num, send};
use crate::support::fake_fcm::{Failure, FakeFcm};
use crate::support::{Backend, on_both_backends};

on_both_backends!(
    a_grade_reaches_each_preferred_family_device_once,
    a_rolled_back_request_sends_nothing,
    fcm_down_for_a_while_loses_and_duplicates_nothing,
    a_restart_between_commit_and_send_still_delivers,
    an_unlinked_parent_gets_nothing_more,
    quiet_hours_hold_or_count,
    an_unregistered_token_is_deactivated,
    two_dispatchers_never_send_a_row_twice,
    changes_and_absences_are_announced,
    devices_and_preferences_through_the_api,
    a_separate_dispatch_process_sends_what_the_server_commits,
    homework_reaches_each_family_device_once_and_a_retry_adds_nothing,
    homework_written_in_a_rolled_back_transaction_sends_nothing,
    individual_homework_is_told_only_to_the_students_own_family,
    a_term_grade_is_announced_once_and_again_when_changed,
    an_english_reader_gets_english_text,
    counted_notifications_are_listed_for_the_caller_and_nobody_else,
);

/// The demo with a fresh 5А lesson of demo-teacher, the family's tokens and the fake FCM.
struct Family {
    day: Day,
    fake: FakeFcm,
    parent: String,
    parent_id: i64,
    student_token: String,
    /// demo-student (5А), a child of demo-parent.
    student: i64,
    first_name: String,
    school: i64,
    admin: String,
}

async fn family(backend: Backend) -> Family {
    let day = day(backend).await;
    let fake = FakeFcm::start();
    let (parent, _) = day.app.tokens("demo-parent").await;
    let (student_token, _) = day.app.tokens("demo-student").await;
    let (admin, _) = day.app.tokens("demo-admin").await;
    let me = day.app.get_as(&parent, "/api/v1/me").await.json();
    let child = me["children"]
        .as_array()
        .and_then(|c| {
            c.iter()
                .find(|c| day.students.contains(&num(&c["id"])))
                .cloned()
        })
        .unwrap_or_else(|| panic!("demo-parent has no child in 5А: {me}"));
    let first_name = child["name"]
        .as_str()
        .and_then(|n| n.split_whitespace().nth(1))
        .unwrap_or_default()
        .to_owned();
    Family {
        fake,
        parent_id: num(&me["id"]),
        student: num(&child["id"]),
        school: num(&child["school_id"]),
        first_name,
        parent,
        student_token,
        admin,
        day,
    }
}

impl Family {
    async fn device(&self, token: &str, device: &str, platform: &str, app: &str) -> i64 {
        let reply = self
            .day
            .app
            .post_as(
                token,
                "/api/v1/devices",
                &json!({"token": device, "platform": platform, "app": app}),
            )
            .await;
        assert_eq!(
            reply.status,
            201,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        num(&reply.json()["id"])
    }

    async fn parent_phone(&self, device: &str) -> i64 {
        self.device(&self.parent, device, "android", "my_diary")
            .await
    }

    /// demo-student's own phone.
    async fn student_phone(&self) -> i64 {
        self.device(&self.student_token, "student-phone", "android", "my_diary")
            .await
    }

    /// Grades demo-student `value` under a new key; returns the grade.
    async fn grade(&self, key: &str, value: i64) -> Value {
        let body = json!({"grades": [{
            "client_id": key, "student_id": self.student,
            "work_type_id": self.day.work_type(1), "value": value
        }]});
        let reply = self.day.grade(Some(key), &body).await;
        assert_eq!(
            reply.status,
            201,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.json()["grades"][0].clone()
    }

    async fn preferences(&self, token: &str, body: &Value) {
        let reply = self
            .day
            .app
            .send_as(
                token,
                Method::PUT,
                &format!("/api/v1/students/{}/notification-preferences", self.student),
                Some(body),
            )
            .await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
    }

    /// The outbox rows of a device: (id, status, kind, next attempt, attempts).
    fn rows(&self, device: i64) -> Vec<(i64, String, String, NaiveDateTime, i32)> {
        let mut conn = self.day.app.pool().get().unwrap_or_else(|e| panic!("{e}"));
        notifications::table
            .filter(notifications::device_id.eq(device))
            .order(notifications::id.asc())
            .select((
                notifications::id,
                notifications::status,
                notifications::kind,
                notifications::next_attempt_at,
                notifications::attempts,
            ))
            .load(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn statuses(&self, device: i64) -> Vec<String> {
        self.rows(device).into_iter().map(|r| r.1).collect()
    }

    /// The delivery log of a notification: (status, detail), in order.
    fn log(&self, notification: i64) -> Vec<(String, Option<String>)> {
        let mut conn = self.day.app.pool().get().unwrap_or_else(|e| panic!("{e}"));
        notification_log::table
            .filter(notification_log::notification_id.eq(notification))
            .order(notification_log::id.asc())
            .select((notification_log::status, notification_log::detail))
            .load(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Waits (at most 10 s) until no row of the device is queued or held.
    async fn wait_settled(&self, device: i64) {
        for _ in 0..500 {
            if self
                .statuses(device)
                .iter()
                .all(|s| s != "queued" && s != "held")
            {
                return;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!(
            "device {device} still has rows to send: {:?}",
            self.rows(device)
        );
    }
}

impl Family {
    /// The lesson of the day.
    fn lesson_path(&self) -> String {
        format!("/api/v1/lessons/{}", self.day.lesson_id())
    }

    /// The teacher sends `body`; 200 expected.
    async fn teacher_sends(&self, method: Method, path: &str, body: &Value) {
        let _ = send(
            &self.day.app,
            &self.day.teacher,
            method,
            path,
            None,
            Some(body),
        )
        .await
        .expect(200);
    }

    /// The teacher changes the lesson.
    async fn patch_lesson(&self, body: &Value) {
        self.teacher_sends(Method::PATCH, &self.lesson_path(), body)
            .await;
    }

    /// The teacher sets the lesson's individual homework.
    async fn individual_homework(&self, items: &Value) {
        let path = format!("{}/individual-homework", self.lesson_path());
        self.teacher_sends(Method::PUT, &path, &json!({ "items": items }))
            .await;
    }

    /// The teacher sets demo-student's term grade in the lesson's subject.
    async fn term_grade(&self, grade: i64) {
        let body = json!({
            "subject_id": num(&self.day.lesson["subject_id"]), "term_id": self.term().0,
            "grades": [{"student_id": self.student, "grade": grade}],
        });
        let class = num(&self.day.lesson["class_id"]);
        self.teacher_sends(
            Method::PUT,
            &format!("/api/v1/classes/{class}/final-grades"),
            &body,
        )
        .await;
    }

    /// The administration unlinks demo-parent from demo-student.
    async fn unlink_parent(&self) {
        let path = format!(
            "/api/v1/schools/{}/students/{}/guardians/{}",
            self.school, self.student, self.parent_id
        );
        let _ = self
            .day
            .app
            .send_as(&self.admin, Method::DELETE, &path, None)
            .await
            .expect(204);
    }

    /// Every outbox row: (device, user, student, kind, payload).
    fn outbox(&self) -> Vec<(i64, i64, i64, String, Value)> {
        let mut conn = self.day.app.pool().get().unwrap_or_else(|e| panic!("{e}"));
        notifications::table
            .order(notifications::id.asc())
            .select((
                notifications::device_id,
                notifications::user_id,
                notifications::student_id,
                notifications::kind,
                notifications::payload,
            ))
            .load::<(i64, i64, i64, String, String)>(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|(d, u, s, k, p)| (d, u, s, k, serde_json::from_str(&p).unwrap_or_default()))
            .collect()
    }

    /// A second family: a new parent account (password `demo-password`) linked to a classmate
    /// of demo-student, with a phone. Returns (token, the classmate, the phone).
    async fn other_family(&self) -> (String, i64, i64) {
        let classmate = self
            .day
            .students
            .iter()
            .copied()
            .find(|s| *s != self.student)
            .unwrap_or_else(|| panic!("5А has one student"));
        {
            let mut conn = self.day.app.pool().get().unwrap_or_else(|e| panic!("{e}"));
            let hash = api::password::hash("demo-password").unwrap_or_else(|e| panic!("{e}"));
            let parent = persistence::people::insert_user(
                &mut conn,
                persistence::people::NewUser {
                    login: "other-parent",
                    display_name: "Другой Родитель",
                    password_hash: Some(&hash),
                    now: Utc::now().naive_utc(),
                },
            )
            .unwrap_or_else(|e| panic!("{e}"));
            persistence::people::link_guardian(
                &mut conn,
                domain::SchoolId(self.school),
                parent,
                domain::StudentId(classmate),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        }
        let (token, _) = self.day.app.tokens("other-parent").await;
        let phone = self
            .device(&token, "other-parent-phone", "android", "my_diary")
            .await;
        (token, classmate, phone)
    }

    /// The term holding the lesson's day: (id, name).
    fn term(&self) -> (i64, String) {
        let mut conn = self.day.app.pool().get().unwrap_or_else(|e| panic!("{e}"));
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default();
        persistence::schools::term_on(&mut conn, domain::SchoolId(self.school), day)
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|t| (t.id, t.name))
            .unwrap_or_else(|| panic!("no term on the lesson's day"))
    }

    /// The caller's notifications (`query` as `?student_id=…`).
    async fn notifications(&self, token: &str, query: &str) -> Value {
        self.day
            .app
            .get_as(token, &format!("/api/v1/notifications{query}"))
            .await
            .expect(200)
            .json()
    }
}

fn tokens_of(messages: &[Value]) -> BTreeSet<String> {
    messages
        .iter()
        .map(|m| m["token"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn notification_ids(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| {
            m["data"]["notification_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

async fn a_grade_reaches_each_preferred_family_device_once(backend: Backend) {
    let f = family(backend).await;
    f.parent_phone("parent-android").await;
    f.device(&f.parent, "parent-iphone", "ios", "my_diary")
        .await;
    // The teacher app on the parent's tablet gets no family pushes.
    f.device(&f.parent, "parent-journal", "android", "my_journal")
        .await;
    // The student chose not to hear of new grades.
    let student_phone = f.student_phone().await;
    f.preferences(
        &f.student_token,
        &json!({"new_grade": false, "changed_grade": true, "attendance": true, "homework": true, "term_grade": true}),
    )
    .await;
    let dispatcher = f.day.app.dispatcher(&f.fake, &[]).spawn();

    let grade = f.grade("first", 5).await;
    let messages = f.fake.wait_for("two pushes", |m| m.len() >= 2).await;
    dispatcher.stop().await;
    assert_eq!(f.fake.messages().len(), 2, "exactly one per device");
    assert_eq!(
        tokens_of(&messages),
        BTreeSet::from(["parent-android".to_owned(), "parent-iphone".to_owned()])
    );
    assert!(f.rows(student_phone).is_empty());
    let subject = num(&f.day.lesson["subject_id"]);
    let work_type = f.day.lesson["work_types"]
        .as_array()
        .and_then(|w| w.iter().find(|t| t["weight"] == 1))
        .and_then(|t| t["name"].as_str())
        .unwrap_or_default()
        .to_owned();
    for m in &messages {
        assert_eq!(m["notification"]["title"], "Новая оценка: Русский язык");
        assert_eq!(
            m["notification"]["body"],
            format!("{}: 5 ({work_type}), 23.11", f.first_name)
        );
        assert_eq!(m["data"]["type"], "grade.created");
        assert_eq!(m["data"]["grade_id"], num(&grade["id"]).to_string());
        assert_eq!(m["data"]["student_id"], f.student.to_string());
        assert_eq!(m["data"]["lesson_id"], f.day.lesson_id().to_string());
        assert_eq!(m["data"]["subject_id"], subject.to_string());
        assert_eq!(m["data"]["screen"], "grades");
        assert_eq!(m["android"]["priority"], "high");
        assert_eq!(m["apns"]["headers"]["apns-priority"], "10");
        let collapse = format!("student-{}-subject-{subject}", f.student);
        assert_eq!(m["android"]["collapse_key"], collapse.as_str());
        assert_eq!(m["apns"]["headers"]["apns-collapse-id"], collapse.as_str());
    }
    let ids = notification_ids(&messages);
    assert_ne!(ids[0], ids[1]);
    // One access token served both sends; every assertion was valid.
    assert_eq!(f.fake.tokens_issued(), 1);
    assert_eq!(f.fake.refused_assertions(), 0);
    // The delivery log: queued, then sent with FCM's message name.
    for id in ids {
        let log = f.log(id.parse().unwrap_or_default());
        assert_eq!(log.len(), 2, "{log:?}");
        assert_eq!(log[0].0, "queued");
        assert_eq!(log[1].0, "sent");
        assert!(
            log[1]
                .1
                .as_deref()
                .is_some_and(|name| name.starts_with("projects/gradebook-test/messages/")),
            "{log:?}"
        );
    }
}

async fn a_rolled_back_request_sends_nothing(backend: Backend) {
    let f = family(backend).await;
    let phone = f.parent_phone("parent-android").await;
    let wt = f.day.work_type(1);
    // One bad entry: nothing is written, no notification either.
    let bad = json!({"grades": [
        {"client_id": "a", "student_id": f.student, "work_type_id": wt, "value": 5},
        {"client_id": "b", "student_id": f.day.students[1], "work_type_id": wt, "value": 9},
    ]});
    let reply = f.day.grade(Some("bad"), &bad).await;
    reply.assert_problem(422, "validation_failed");
    assert!(f.rows(phone).is_empty());

    let first = f.grade("kept", 4).await;
    assert_eq!(f.statuses(phone), ["queued"]);
    // A request that fails inside its transaction (a client id used before) rolls back its
    // notifications with its grades.
    let conflict = json!({"grades": [
        {"client_id": "new-one", "student_id": f.student, "work_type_id": wt, "value": 5},
        {"client_id": "kept", "student_id": f.day.students[1], "work_type_id": wt, "value": 3},
    ]});
    let reply = f.day.grade(Some("conflicting"), &conflict).await;
    reply.assert_problem(409, "conflict");
    assert_eq!(f.statuses(phone), ["queued"]);

    let dispatcher = f.day.app.dispatcher(&f.fake, &[]);
    assert_eq!(dispatcher.dispatch_due().await.ok(), Some(1));
    assert_eq!(dispatcher.dispatch_due().await.ok(), Some(0));
    let messages = f.fake.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0]["data"]["grade_id"],
        num(&first["id"]).to_string()
    );
}

async fn fcm_down_for_a_while_loses_and_duplicates_nothing(backend: Backend) {
    let f = family(backend).await;
    f.parent_phone("parent-android").await;
    f.device(&f.parent, "parent-iphone", "ios", "my_diary")
        .await;
    // FCM is overloaded (429 with Retry-After), then down (503) for a while.
    f.fake.fail_next(
        2,
        Failure {
            status: 429,
            retry_after_secs: Some(1),
        },
    );
    f.fake.fail_next(
        5,
        Failure {
            status: 503,
            retry_after_secs: None,
        },
    );
    let dispatcher = f.day.app.dispatcher(&f.fake, &[]).spawn();
    let mut grades = BTreeSet::new();
    for (i, value) in [5, 4, 3].into_iter().enumerate() {
        let grade = f.grade(&format!("g{i}"), value).await;
        grades.insert(num(&grade["id"]).to_string());
    }
    let messages = f.fake.wait_for("six pushes", |m| m.len() >= 6).await;
    dispatcher.stop().await;
    assert_eq!(f.fake.messages().len(), 6);
    assert_eq!(f.fake.failures_left(), 0);
    // Every failed attempt was retried, and nothing was sent twice.
    assert_eq!(f.fake.send_requests(), 6 + 7);
    let unique: BTreeSet<String> = notification_ids(&messages).into_iter().collect();
    assert_eq!(unique.len(), 6);
    let pairs: BTreeSet<(String, String)> = messages
        .iter()
        .map(|m| {
            (
                m["token"].as_str().unwrap_or_default().to_owned(),
                m["data"]["grade_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(pairs.len(), 6);
    assert_eq!(
        pairs
            .iter()
            .map(|(_, g)| g.clone())
            .collect::<BTreeSet<_>>(),
        grades
    );
    let retries: usize = unique
        .iter()
        .map(|id| {
            f.log(id.parse().unwrap_or_default())
                .iter()
                .filter(|(s, _)| s == "retry")
                .count()
        })
        .sum();
    assert_eq!(retries, 7);
}

async fn a_restart_between_commit_and_send_still_delivers(backend: Backend) {
    let f = family(backend).await;
    let phone = f.parent_phone("parent-android").await;
    // The grade commits; no dispatcher runs.
    f.grade("before-restart", 5).await;
    assert_eq!(f.statuses(phone), ["queued"]);
    // A dispatcher claims the row and dies before sending it.
    {
        let mut conn = f.day.app.pool().get().unwrap_or_else(|e| panic!("{e}"));
        let claimed = persistence::notifications::claim(
            &mut conn,
            Utc::now().naive_utc(),
            10,
            Duration::seconds(60),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(claimed.len(), 1);
    }
    // While its lease runs, nobody else sends the row.
    let same_time = f.day.app.dispatcher(&f.fake, &[]);
    assert_eq!(same_time.dispatch_due().await.ok(), Some(0));
    assert!(f.fake.messages().is_empty());

    // The restarted server: a new pool and a new dispatcher over the same database, a few
    // minutes later (the dead dispatcher's lease has run out).
    let pool = f.day.app.db.pool();
    let settings = f.day.app.push_settings(&f.fake, &[]);
    let later: api::push::Clock = Arc::new(|| Utc::now().naive_utc() + Duration::minutes(5));
    let restarted =
        api::push::Dispatcher::from_settings(pool, &settings, Arc::new(tokio::sync::Notify::new()))
            .unwrap_or_else(|e| panic!("{e}"))
            .with_clock(later)
            .spawn();
    f.fake.wait_for("the push", |m| !m.is_empty()).await;
    restarted.stop().await;
    assert_eq!(f.fake.messages().len(), 1);
    let rows = f.rows(phone);
    assert_eq!(rows[0].1, "sent");
    assert_eq!(rows[0].4, 2, "the dead dispatcher's attempt and this one");
}

async fn an_unlinked_parent_gets_nothing_more(backend: Backend) {
    let f = family(backend).await;
    let phone = f.parent_phone("parent-android").await;
    // Queued while the parent was linked...
    f.grade("queued-before", 5).await;
    assert_eq!(f.statuses(phone), ["queued"]);
    f.unlink_parent().await;
    // ...and given after: neither reaches the phone.
    f.grade("given-after", 4).await;
    assert_eq!(f.rows(phone).len(), 1, "no row for an unlinked parent");
    let dispatcher = f.day.app.dispatcher(&f.fake, &[]);
    // The queued row is cancelled at claim time, not sent.
    assert_eq!(dispatcher.dispatch_due().await.ok(), Some(0));
    assert_eq!(f.statuses(phone), ["cancelled"]);
    assert!(f.fake.messages().is_empty());
    assert_eq!(f.fake.send_requests(), 0);
}

/// Quiet hours around now, in Moscow time: from an hour ago to an hour ahead.
fn quiet_now(mode: &str) -> Value {
    let local = Utc::now().naive_utc() + Duration::minutes(180);
    let minute = i64::from(local.hour() * 60 + local.minute());
    let hhmm = |m: i64| {
        let m = m.rem_euclid(1440);
        format!("{:02}:{:02}", m / 60, m % 60)
    };
    json!({
        "new_grade": true, "changed_grade": true, "attendance": true, "homework": true,
        "term_grade": true, "utc_offset_minutes": 180,
        "quiet_hours": {"start": hhmm(minute - 60), "end": hhmm(minute + 60), "mode": mode}
    })
}

async fn quiet_hours_hold_or_count(backend: Backend) {
    let f = family(backend).await;
    let phone = f.parent_phone("parent-android").await;
    let student_phone = f.student_phone().await;
    f.preferences(&f.parent, &quiet_now("hold")).await;
    f.preferences(&f.student_token, &quiet_now("count")).await;
    let before = Utc::now().naive_utc();
    f.grade("at-night", 5).await;
    let held = f.rows(phone);
    assert_eq!(held[0].1, "held");
    assert!(
        held[0].3 > before && held[0].3 <= before + Duration::minutes(61),
        "held until the quiet hours end: {held:?}"
    );
    assert_eq!(f.statuses(student_phone), ["counted"]);

    // Inside the quiet hours nothing goes out.
    let now = f.day.app.dispatcher(&f.fake, &[]);
    assert_eq!(now.dispatch_due().await.ok(), Some(0));
    assert!(f.fake.messages().is_empty());
    // When they are over, the held push goes; the counted one never does.
    let after: api::push::Clock = Arc::new(|| Utc::now().naive_utc() + Duration::hours(2));
    let later = f.day.app.dispatcher(&f.fake, &[]).with_clock(after);
    assert_eq!(later.dispatch_due().await.ok(), Some(1));
    let next_day: api::push::Clock = Arc::new(|| Utc::now().naive_utc() + Duration::days(1));
    let much_later = f.day.app.dispatcher(&f.fake, &[]).with_clock(next_day);
    assert_eq!(much_later.dispatch_due().await.ok(), Some(0));
    let messages = f.fake.messages();
    assert_eq!(
        tokens_of(&messages),
        BTreeSet::from(["parent-android".to_owned()])
    );
    assert_eq!(messages.len(), 1);
    assert_eq!(f.statuses(phone), ["sent"]);
    assert_eq!(f.statuses(student_phone), ["counted"]);
}

async fn an_unregistered_token_is_deactivated(backend: Backend) {
    let f = family(backend).await;
    let dead = f.parent_phone("dead-token").await;
    let live = f.parent_phone("live-token").await;
    f.fake.unregister("dead-token");
    let dispatcher = f.day.app.dispatcher(&f.fake, &[]).spawn();
    f.grade("first", 5).await;
    f.fake.wait_for("the live push", |m| !m.is_empty()).await;
    f.wait_settled(dead).await;
    dispatcher.stop().await;
    assert_eq!(f.statuses(dead), ["failed"]);
    let failed = f.rows(dead)[0].0;
    let log = f.log(failed);
    assert!(
        log.last()
            .and_then(|(_, d)| d.as_deref())
            .is_some_and(|d| d.contains("UNREGISTERED")),
        "{log:?}"
    );
    let devices = f.day.app.get_as(&f.parent, "/api/v1/devices").await.json();
    let ids: Vec<i64> = devices["items"]
        .as_array()
        .map(|d| d.iter().map(|d| num(&d["id"])).collect())
        .unwrap_or_default();
    assert_eq!(ids, [live]);
    // Nothing more is queued for the dead token.
    f.grade("second", 4).await;
    assert_eq!(f.rows(dead).len(), 1);
    assert_eq!(f.rows(live).len(), 2);
    assert_eq!(
        tokens_of(&f.fake.messages()),
        BTreeSet::from(["live-token".to_owned()])
    );
}

async fn two_dispatchers_never_send_a_row_twice(backend: Backend) {
    let f = family(backend).await;
    f.parent_phone("parent-android").await;
    f.device(&f.parent, "parent-iphone", "ios", "my_diary")
        .await;
    f.student_phone().await;
    f.fake.delay(std::time::Duration::from_millis(20));
    let small = [("APP__PUSH__BATCH_SIZE", "2")];
    let first = f.day.app.dispatcher(&f.fake, &small).spawn();
    let second = f.day.app.dispatcher(&f.fake, &small).spawn();
    for i in 0..6 {
        f.grade(&format!("g{i}"), 5 - i % 3).await;
    }
    let messages = f.fake.wait_for("18 pushes", |m| m.len() >= 18).await;
    first.stop().await;
    second.stop().await;
    assert_eq!(f.fake.messages().len(), 18);
    assert_eq!(f.fake.send_requests(), 18, "no row was sent twice");
    let unique: BTreeSet<String> = notification_ids(&messages).into_iter().collect();
    assert_eq!(unique.len(), 18);
}

async fn changes_and_absences_are_announced(backend: Backend) {
    let f = family(backend).await;
    f.parent_phone("parent-android").await;
    let dispatcher = f.day.app.dispatcher(&f.fake, &[]).spawn();
    let grade = f.grade("first", 5).await;
    f.fake.wait_for("the new grade", |m| !m.is_empty()).await;

    let path = format!("/api/v1/grades/{}", num(&grade["id"]));
    let tag = grade["etag"].as_str().unwrap_or_default().to_owned();
    let changed = send(
        &f.day.app,
        &f.day.teacher,
        Method::PATCH,
        &path,
        Some(&tag),
        Some(&json!({"value": 4, "reason": "пересдача"})),
    )
    .await;
    assert_eq!(
        changed.status,
        200,
        "{}",
        String::from_utf8_lossy(&changed.body)
    );
    let messages = f.fake.wait_for("the change", |m| m.len() >= 2).await;
    assert_eq!(
        messages[1]["notification"]["title"],
        "Оценка изменена: Русский язык"
    );
    assert!(
        messages[1]["notification"]["body"]
            .as_str()
            .is_some_and(|b| b.contains("5 → 4")),
        "{}",
        messages[1]
    );
    assert_eq!(messages[1]["data"]["type"], "grade.changed");

    let tag = changed.header("etag").unwrap_or_default().to_owned();
    let deleted = send(
        &f.day.app,
        &f.day.teacher,
        Method::DELETE,
        &path,
        Some(&tag),
        None,
    )
    .await;
    assert_eq!(deleted.status, 204);
    let messages = f.fake.wait_for("the removal", |m| m.len() >= 3).await;
    assert_eq!(
        messages[2]["notification"]["title"],
        "Оценка удалена: Русский язык"
    );
    assert_eq!(messages[2]["data"]["type"], "grade.deleted");

    let marks = json!({"marks": [{"student_id": f.student, "mark": "late"}]});
    let attendance = format!("/api/v1/lessons/{}/attendance", f.day.lesson_id());
    let marked = send(
        &f.day.app,
        &f.day.teacher,
        Method::PUT,
        &attendance,
        None,
        Some(&marks),
    )
    .await;
    assert_eq!(
        marked.status,
        200,
        "{}",
        String::from_utf8_lossy(&marked.body)
    );
    let messages = f.fake.wait_for("the lateness", |m| m.len() >= 4).await;
    dispatcher.stop().await;
    assert_eq!(
        messages[3]["notification"]["title"],
        "Посещаемость: Русский язык"
    );
    assert_eq!(
        messages[3]["notification"]["body"],
        format!("{}: опоздание (ОП), 23.11, 2-й урок", f.first_name)
    );
    assert_eq!(messages[3]["data"]["type"], "attendance.marked");
    assert_eq!(messages[3]["data"]["mark"], "late");
    assert_eq!(f.fake.messages().len(), 4);
}

async fn devices_and_preferences_through_the_api(backend: Backend) {
    let f = family(backend).await;
    let app = &f.day.app;
    // Registering, listing, moving a token to another account, unregistering.
    let phone = f.parent_phone("shared-phone").await;
    let listed = app.get_as(&f.parent, "/api/v1/devices").await.json();
    assert_eq!(listed["items"][0]["id"], phone);
    assert_eq!(listed["items"][0]["platform"], "android");
    assert_eq!(listed["items"][0]["app"], "my_diary");
    assert!(listed["items"][0].get("token").is_none());
    let moved = f
        .device(&f.student_token, "shared-phone", "ios", "my_diary")
        .await;
    assert_eq!(moved, phone, "the same token is the same device");
    let parents = app.get_as(&f.parent, "/api/v1/devices").await.json();
    assert_eq!(parents["items"], json!([]));
    let path = format!("/api/v1/devices/{phone}");
    app.send_as(&f.parent, Method::DELETE, &path, None)
        .await
        .assert_problem(404, "not_found");
    let gone = app
        .send_as(&f.student_token, Method::DELETE, &path, None)
        .await;
    assert_eq!(gone.status, 204);
    app.send_as(&f.student_token, Method::DELETE, &path, None)
        .await
        .assert_problem(404, "not_found");

    // Bad input names the field.
    for (body, field) in [
        (
            json!({"token": "t", "platform": "symbian", "app": "my_diary"}),
            "platform",
        ),
        (
            json!({"token": "", "platform": "ios", "app": "my_diary"}),
            "token",
        ),
        (
            json!({"token": "a b", "platform": "ios", "app": "my_diary"}),
            "token",
        ),
        (
            json!({"token": "t", "platform": "ios", "app": "my_diary", "user_id": 1}),
            "user_id",
        ),
    ] {
        let problem = app
            .post_as(&f.parent, "/api/v1/devices", &body)
            .await
            .assert_problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }

    // Logging out unregisters the session's devices.
    let (session, _) = app.tokens("demo-parent").await;
    let tablet = f.device(&session, "tablet", "android", "my_diary").await;
    let out = app
        .send_as(&session, Method::POST, "/api/v1/auth/logout", None)
        .await;
    assert_eq!(out.status, 204);
    let listed = app.get_as(&f.parent, "/api/v1/devices").await.json();
    assert!(
        listed["items"]
            .as_array()
            .is_some_and(|d| d.iter().all(|d| d["id"] != tablet)),
        "{listed}"
    );

    // Preferences: the defaults, a change, bad input, other families and roles.
    let prefs = format!("/api/v1/students/{}/notification-preferences", f.student);
    let defaults = app.get_as(&f.parent, &prefs).await;
    assert_eq!(defaults.status, 200);
    assert_eq!(
        defaults.json(),
        json!({"new_grade": true, "changed_grade": true, "attendance": true, "homework": true,
               "term_grade": true, "quiet_hours": null, "utc_offset_minutes": 180})
    );
    let chosen = json!({"new_grade": true, "changed_grade": false, "attendance": true,
        "homework": false, "term_grade": true, "utc_offset_minutes": 420,
        "quiet_hours": {"start": "22:30", "end": "07:00", "mode": "count"}});
    let put = app
        .send_as(&f.parent, Method::PUT, &prefs, Some(&chosen))
        .await;
    assert_eq!(put.status, 200, "{}", String::from_utf8_lossy(&put.body));
    assert_eq!(app.get_as(&f.parent, &prefs).await.json(), chosen);
    // The student's own choice is theirs: the parent's does not change it.
    let own = app.get_as(&f.student_token, &prefs).await.json();
    assert_eq!(own["changed_grade"], true);
    for (body, field) in [
        (
            json!({"new_grade": true, "changed_grade": true, "attendance": true, "homework": true,
                   "term_grade": true, "quiet_hours": {"start": "25:00", "end": "07:00", "mode": "hold"}}),
            "quiet_hours.start",
        ),
        (
            json!({"new_grade": true, "changed_grade": true, "attendance": true, "homework": true,
                   "term_grade": true, "utc_offset_minutes": 5000}),
            "utc_offset_minutes",
        ),
        (json!({"new_grade": true}), "changed_grade"),
    ] {
        let problem = app
            .send_as(&f.parent, Method::PUT, &prefs, Some(&body))
            .await
            .assert_problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    assert_eq!(
        app.get_as(&f.parent, &prefs).await.json(),
        chosen,
        "nothing half-written"
    );
    let classmate = f
        .day
        .students
        .iter()
        .copied()
        .find(|s| *s != f.student)
        .unwrap_or_default();
    app.get_as(
        &f.parent,
        &format!("/api/v1/students/{classmate}/notification-preferences"),
    )
    .await
    .assert_problem(404, "not_found");
    app.get_as(&f.day.teacher, &prefs)
        .await
        .assert_problem(403, "forbidden");
    app.get_as(
        &f.admin,
        "/api/v1/students/987654321/notification-preferences",
    )
    .await
    .assert_problem(403, "forbidden");
    app.get_as(
        &f.parent,
        "/api/v1/students/987654321/notification-preferences",
    )
    .await
    .assert_problem(404, "not_found");
}

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

/// `gradebook dispatch` as its own process sends what the server commits (woken on
/// PostgreSQL by `LISTEN`, on SQLite by its poll), and stops gracefully on SIGTERM.
async fn a_separate_dispatch_process_sends_what_the_server_commits(backend: Backend) {
    let f = family(backend).await;
    f.parent_phone("parent-android").await;
    let mut child = gradebook()
        .arg("dispatch")
        .env("DATABASE_URL", &f.day.app.db.url)
        .envs(f.fake.env())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(line.contains("dispatching"), "{line:?}");

    let grade = f.grade("from-the-server", 5).await;
    let messages = f.fake.wait_for("the push", |m| !m.is_empty()).await;
    assert_eq!(
        messages[0]["data"]["grade_id"],
        num(&grade["id"]).to_string()
    );

    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(killed.is_ok_and(|s| s.success()));
    let mut status = None;
    for _ in 0..500 {
        if let Ok(Some(done)) = child.try_wait() {
            status = Some(done);
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut err = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        stderr.read_to_string(&mut err).unwrap_or_default();
    }
    assert!(
        status.is_some_and(|s| s.success()),
        "dispatch stops gracefully on SIGTERM: {status:?} {err}"
    );
    assert_eq!(f.fake.messages().len(), 1);
}

#[test]
fn dispatch_without_a_key_stops_with_one_line() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = format!("sqlite://{}", dir.path().join("push.db").display());
    let output = gradebook()
        .arg("dispatch")
        .env("DATABASE_URL", &url)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("push.service_account_key_file"), "{err}");
}

#[test]
fn an_unusable_push_key_stops_the_server_with_one_line_naming_it() {
    let output = gradebook()
        .arg("serve")
        .env(
            "APP__PUSH__SERVICE_ACCOUNT_KEY_FILE",
            "/nonexistent/key.json",
        )
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("push.service_account_key_file"), "{err}");
}

/// The text of a message.
fn text_of(m: &Value) -> (String, String) {
    let field = |name: &str| {
        m["notification"][name]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    (field("title"), field("body"))
}

async fn homework_reaches_each_family_device_once_and_a_retry_adds_nothing(backend: Backend) {
    let f = family(backend).await;
    f.parent_phone("parent-android").await;
    f.device(&f.parent, "parent-iphone", "ios", "my_diary")
        .await;
    f.student_phone().await;
    let dispatcher = f.day.app.dispatcher(&f.fake, &[]);
    // A long text in Cyrillic (two bytes a letter): the push shows its first 100
    // characters, cut between letters.
    let homework = format!("Упр. 125, стр. 60. {}", "Выучить правило.".repeat(10));
    f.patch_lesson(&json!({ "homework": homework })).await;
    assert_eq!(dispatcher.dispatch_due().await.ok(), Some(3));
    let messages = f.fake.messages();
    assert_eq!(
        tokens_of(&messages),
        BTreeSet::from([
            "parent-android".to_owned(),
            "parent-iphone".to_owned(),
            "student-phone".to_owned()
        ])
    );
    let excerpt: String = homework.chars().take(99).collect::<String>() + "…";
    for m in &messages {
        assert_eq!(
            text_of(m),
            (
                "Домашнее задание: Русский язык".to_owned(),
                format!("{}, урок 23.11: {excerpt}", f.first_name)
            )
        );
        assert_eq!(m["data"]["type"], "homework.assigned");
        assert_eq!(m["data"]["screen"], "diary");
        assert_eq!(m["data"]["homework"], "class");
        assert_eq!(m["data"]["lesson_id"], f.day.lesson_id().to_string());
        assert_eq!(m["data"]["lesson_date"], "2026-11-23");
        assert_eq!(m["data"]["student_id"], f.student.to_string());
        assert_eq!(
            m["data"]["subject_id"],
            num(&f.day.lesson["subject_id"]).to_string()
        );
    }
    // The same homework again (a retry), alone or with another field: nothing more.
    f.patch_lesson(&json!({ "homework": homework })).await;
    f.patch_lesson(&json!({ "homework": homework, "topic": "Повторение" }))
        .await;
    assert_eq!(dispatcher.dispatch_due().await.ok(), Some(0));
    assert_eq!(f.outbox().len(), 3);
    // Changed, it is announced again; cleared, it is not.
    f.patch_lesson(&json!({"homework": "Упр. 126"})).await;
    f.patch_lesson(&json!({ "homework": null })).await;
    assert_eq!(dispatcher.dispatch_due().await.ok(), Some(3));
    let messages = f.fake.messages();
    assert_eq!(messages.len(), 6);
    assert_eq!(
        text_of(&messages[5]).1,
        format!("{}, урок 23.11: Упр. 126", f.first_name)
    );
    // Set back to the first text: that homework was announced already.
    f.patch_lesson(&json!({ "homework": homework })).await;
    assert_eq!(dispatcher.dispatch_due().await.ok(), Some(0));
    let students: BTreeSet<i64> = f.outbox().iter().map(|r| r.2).collect();
    assert_eq!(students, BTreeSet::from([f.student]));
}

async fn homework_written_in_a_rolled_back_transaction_sends_nothing(backend: Backend) {
    let f = family(backend).await;
    let phone = f.parent_phone("parent-android").await;
    // A refused request writes nothing, homework or push.
    let reply = send(
        &f.day.app,
        &f.day.teacher,
        Method::PATCH,
        &f.lesson_path(),
        None,
        Some(&json!({"homework": "Упр. 1", "room": "x".repeat(51)})),
    )
    .await;
    let problem = reply.assert_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "room");
    assert!(f.rows(phone).is_empty());
    // A transaction that writes the homework and then fails takes its outbox rows with it.
    {
        let mut pooled = f.day.app.pool().get().unwrap_or_else(|e| panic!("{e}"));
        let conn: &mut DbConnection = &mut pooled;
        let lesson = persistence::journal::find_lesson(conn, f.day.lesson_id())
            .unwrap_or_else(|e| panic!("{e}"));
        let teacher = domain::UserId(num(&f.day.lesson["teacher_id"]));
        let failed = conn.transaction::<(), PersistenceError, _>(|conn| {
            persistence::lessons::update_lesson(
                conn,
                &lesson,
                &persistence::lessons::LessonPatch {
                    homework: Some(Some("Упр. 2".to_owned())),
                    ..Default::default()
                },
                None,
                persistence::Expected::Anything,
                persistence::journal::Actor::Person(teacher),
                Utc::now().naive_utc(),
            )?;
            let written: i64 = notifications::table.count().get_result(conn)?;
            assert_eq!(written, 1, "written in the transaction");
            Err(PersistenceError::Conflict("a later step failed".to_owned()))
        });
        assert!(failed.is_err());
    }
    assert!(f.rows(phone).is_empty());
    let dispatcher = f.day.app.dispatcher(&f.fake, &[]);
    assert_eq!(dispatcher.dispatch_due().await.ok(), Some(0));
    // Committed, the same homework is announced.
    f.patch_lesson(&json!({"homework": "Упр. 2"})).await;
    assert_eq!(f.statuses(phone), ["queued"]);
    assert_eq!(dispatcher.dispatch_due().await.ok(), Some(1));
}

async fn individual_homework_is_told_only_to_the_students_own_family(backend: Backend) {
    let f = family(backend).await;
    let phone = f.parent_phone("parent-android").await;
    let (_, classmate, other_phone) = f.other_family().await;
    let dispatcher = f.day.app.dispatcher(&f.fake, &[]);
    f.individual_homework(&json!([{"student_id": classmate, "homework": "Доклад о Пушкине"}]))
        .await;
    assert_eq!(dispatcher.dispatch_due().await.ok(), Some(1));
    let messages = f.fake.messages();
    assert_eq!(
        tokens_of(&messages),
        BTreeSet::from(["other-parent-phone".to_owned()])
    );
    assert_eq!(
        text_of(&messages[0]).0,
        "Личное домашнее задание: Русский язык"
    );
    assert!(text_of(&messages[0]).1.ends_with(": Доклад о Пушкине"));
    assert_eq!(messages[0]["data"]["homework"], "own");
    assert_eq!(messages[0]["data"]["student_id"], classmate.to_string());
    assert!(f.rows(phone).is_empty());

    // demo-student gets their own too; the classmate's is unchanged: only demo-parent hears.
    f.individual_homework(&json!([
        {"student_id": classmate, "homework": "Доклад о Пушкине"},
        {"student_id": f.student, "homework": "Стихотворение наизусть"},
    ]))
    .await;
    assert_eq!(dispatcher.dispatch_due().await.ok(), Some(1));
    let messages = f.fake.messages();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1]["token"], "parent-android");
    assert_eq!(
        text_of(&messages[1]).1,
        format!("{}, урок 23.11: Стихотворение наизусть", f.first_name)
    );
    // No row tells one family anything of the other child's homework.
    for (device, _, student, _, payload) in f.outbox() {
        let text = payload.to_string();
        if device == other_phone {
            assert_eq!(student, classmate);
            assert!(!text.contains("Стихотворение"), "{text}");
        } else {
            assert_eq!(student, f.student);
            assert!(!text.contains("Пушкин"), "{text}");
        }
    }
}

async fn a_term_grade_is_announced_once_and_again_when_changed(backend: Backend) {
    let f = family(backend).await;
    f.parent_phone("parent-android").await;
    let dispatcher = f.day.app.dispatcher(&f.fake, &[]);
    let (term, term_name) = f.term();
    f.term_grade(5).await;
    assert_eq!(dispatcher.dispatch_due().await.ok(), Some(1));
    let messages = f.fake.messages();
    assert_eq!(
        text_of(&messages[0]),
        (
            "Итоговая оценка: Русский язык".to_owned(),
            format!("{}: 5 за {term_name}", f.first_name)
        )
    );
    assert_eq!(messages[0]["data"]["type"], "term_grade.set");
    assert_eq!(messages[0]["data"]["term_id"], term.to_string());
    assert_eq!(messages[0]["data"]["grade"], "5");
    assert_eq!(messages[0]["data"]["screen"], "grades");
    // Set again unchanged: no push.
    f.term_grade(5).await;
    assert_eq!(dispatcher.dispatch_due().await.ok(), Some(0));
    assert_eq!(f.outbox().len(), 1);
    // Changed: announced with the old value.
    f.term_grade(4).await;
    assert_eq!(dispatcher.dispatch_due().await.ok(), Some(1));
    assert_eq!(
        text_of(&f.fake.messages()[1]).1,
        format!("{}: 5 → 4 за {term_name}", f.first_name)
    );
}

async fn an_english_reader_gets_english_text(backend: Backend) {
    let f = family(backend).await;
    let app = &f.day.app;
    f.parent_phone("parent-android").await;
    f.student_phone().await;
    // Bad input names the field; nothing changes.
    for (body, field) in [
        (json!({"language": "fr"}), "language"),
        (json!({}), "language"),
        (json!({"language": "en", "theme": "dark"}), "theme"),
    ] {
        let problem = app
            .send_as(&f.parent, Method::PUT, "/api/v1/me/language", Some(&body))
            .await
            .assert_problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    assert_eq!(
        app.get_as(&f.parent, "/api/v1/me").await.json()["language"],
        "ru"
    );
    let set = app
        .send_as(
            &f.parent,
            Method::PUT,
            "/api/v1/me/language",
            Some(&json!({"language": "en"})),
        )
        .await
        .expect(200);
    assert_eq!(set.json(), json!({"language": "en"}));
    assert_eq!(
        app.get_as(&f.parent, "/api/v1/me").await.json()["language"],
        "en"
    );
    assert_eq!(
        app.get_as(&f.student_token, "/api/v1/me").await.json()["language"],
        "ru"
    );

    let dispatcher = app.dispatcher(&f.fake, &[]);
    f.grade("in-english", 5).await;
    f.patch_lesson(&json!({"homework": "Упр. 5"})).await;
    assert_eq!(dispatcher.dispatch_due().await.ok(), Some(4));
    let of = |token: &str| -> Vec<(String, String)> {
        f.fake
            .messages()
            .iter()
            .filter(|m| m["token"] == token)
            .map(text_of)
            .collect()
    };
    let english = of("parent-android");
    assert_eq!(english[0].0, "New grade: Русский язык");
    assert!(english[0].1.ends_with(", 23 Nov"), "{english:?}");
    assert_eq!(
        english[1],
        (
            "Homework: Русский язык".to_owned(),
            format!("{}, lesson of 23 Nov: Упр. 5", f.first_name)
        )
    );
    let russian = of("student-phone");
    assert_eq!(russian[0].0, "Новая оценка: Русский язык");
    assert_eq!(russian[1].0, "Домашнее задание: Русский язык");
}

async fn counted_notifications_are_listed_for_the_caller_and_nobody_else(backend: Backend) {
    let f = family(backend).await;
    let app = &f.day.app;
    f.parent_phone("parent-android").await;
    f.device(&f.parent, "parent-iphone", "ios", "my_diary")
        .await;
    let (other, classmate, _) = f.other_family().await;
    f.preferences(&f.parent, &quiet_now("count")).await;
    f.grade("at-night", 5).await;
    f.patch_lesson(&json!({"homework": "Упр. 7"})).await;

    // One item per event (two devices each), newest first, only counted.
    let listed = f.notifications(&f.parent, "").await;
    let items = listed["items"].as_array().cloned().unwrap_or_default();
    let kinds: Vec<&str> = items.iter().filter_map(|i| i["kind"].as_str()).collect();
    assert_eq!(kinds, ["homework.assigned", "grade.created"], "{listed}");
    for item in &items {
        assert_eq!(item["status"], "counted");
        assert_eq!(item["read"], false);
        assert_eq!(item["student_id"], f.student);
        assert!(item["created_at"].is_string());
    }
    assert_eq!(items[0]["title"], "Домашнее задание: Русский язык");
    assert_eq!(items[0]["data"]["screen"], "diary");
    assert_eq!(items[1]["data"]["screen"], "grades");
    assert_eq!(listed["counted"], 2);
    assert_eq!(listed["read_up_to"], 0);
    assert!(listed["next_cursor"].is_null());
    // Nothing counted was sent.
    let dispatcher = app.dispatcher(&f.fake, &[]);
    dispatcher.dispatch_due().await.ok();
    assert!(
        f.fake
            .messages()
            .iter()
            .all(|m| m["token"] == "other-parent-phone")
    );
    // By student, and a page at a time.
    let one = f
        .notifications(&f.parent, &format!("?student_id={}&limit=1", f.student))
        .await;
    assert_eq!(one["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(one["items"][0]["id"], items[0]["id"]);
    let cursor = one["next_cursor"].as_str().unwrap_or_default().to_owned();
    let two = f
        .notifications(&f.parent, &format!("?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(two["items"][0]["id"], items[1]["id"]);
    assert!(two["next_cursor"].is_null(), "{two}");
    app.get_as(&f.parent, "/api/v1/notifications?limit=0")
        .await
        .assert_problem(422, "validation_failed");

    // The other parent sees only their own child's (the class homework, sent), and nothing
    // about demo-student.
    let theirs = f.notifications(&other, "").await;
    assert_eq!(
        theirs["items"].as_array().map(Vec::len),
        Some(1),
        "{theirs}"
    );
    assert_eq!(theirs["items"][0]["student_id"], classmate);
    assert_eq!(theirs["items"][0]["status"], "delivered");
    assert_eq!(theirs["counted"], 0);
    app.get_as(
        &other,
        &format!("/api/v1/notifications?student_id={}", f.student),
    )
    .await
    .assert_problem(404, "not_found");
    app.get_as(&f.day.teacher, "/api/v1/notifications")
        .await
        .assert_problem(403, "forbidden");

    // Read: nothing counted since.
    let newest = num(&items[0]["id"]);
    let _ = app
        .post_as(
            &f.parent,
            "/api/v1/notifications/read",
            &json!({ "up_to": newest }),
        )
        .await
        .expect(204);
    let after = f.notifications(&f.parent, "").await;
    assert_eq!(after["counted"], 0);
    assert_eq!(after["read_up_to"], newest);
    assert_eq!(after["items"][1]["read"], true);
    let problem = app
        .post_as(
            &f.parent,
            "/api/v1/notifications/read",
            &json!({"up_to": 0}),
        )
        .await
        .assert_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "up_to");

    // Unlinked, the parent sees nothing more about the child.
    f.unlink_parent().await;
    let gone = f.notifications(&f.parent, "").await;
    assert_eq!(gone["items"], json!([]));
    app.get_as(
        &f.parent,
        &format!("/api/v1/notifications?student_id={}", f.student),
    )
    .await
    .assert_problem(404, "not_found");
}
