//! The lesson plan, individual homework, the diary and the journal page through HTTP: what a
//! teacher enters, a parent sees at once, each family only its own; a student who moves class
//! keeps their history; a group's lessons reach its members only; every change is audited.

use actix_web::http::Method;
use actix_web::test::TestRequest;
use chrono::NaiveDate;
use serde_json::{Value, json};

use crate::support::Backend;
use crate::support::app::Reply;
use crate::support::on_both_backends;
use crate::timetable::{School, num, school, school_of};

on_both_backends!(
    the_parent_sees_the_whole_day_in_one_request,
    a_moved_student_keeps_their_history_and_groups_see_their_own_lessons,
    a_lesson_plan_changes_field_by_field_audited_and_locked_terms_hold,
    individual_homework_is_checked_and_replaced_as_a_whole,
    the_journal_page_is_the_terms_grid,
    a_copy_still_current_is_not_sent_again,
);

impl School {
    async fn lesson(&self, class: i64, date: &str, number: i64, group: Option<i64>) -> Value {
        let mut body = json!({"date": date, "number": number, "subject_id": self.subject});
        if let Some(group) = group {
            body["group_id"] = json!(group);
        }
        let reply = self
            .app
            .post_as(
                &self.teacher,
                &format!("/api/v1/classes/{class}/lessons"),
                &body,
            )
            .await;
        assert_eq!(
            reply.status,
            201,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.json()
    }

    async fn roster(&self, class: i64) -> Vec<i64> {
        self.app
            .get_as(&self.teacher, &format!("/api/v1/classes/{class}/students"))
            .await
            .json()["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|s| num(&s["id"]))
            .collect()
    }

    async fn grade(&self, lesson: &Value, key: &str, grades: Value) -> Reply {
        self.app
            .call(
                TestRequest::post()
                    .uri(&format!("/api/v1/lessons/{}/grades", num(&lesson["id"])))
                    .insert_header(("Authorization", format!("Bearer {}", self.teacher)))
                    .insert_header(("Idempotency-Key", key))
                    .set_json(json!({ "grades": grades })),
            )
            .await
    }

    async fn diary(&self, token: &str, student: i64, query: &str) -> Reply {
        self.app
            .get_as(token, &format!("/api/v1/students/{student}/diary?{query}"))
            .await
    }

    /// The class of 7В, which demo-teacher also teaches in the same subject.
    fn class_7v(&self) -> i64 {
        use diesel::prelude::*;
        use persistence::schema::classes;
        let mut conn = self.app.pool().get().unwrap_or_else(|e| panic!("{e}"));
        classes::table
            .filter(classes::school_id.eq(self.school))
            .filter(classes::grade_level.eq(7))
            .filter(classes::letter.eq("В"))
            .select(classes::id)
            .first(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

fn work_type(lesson: &Value, weight: i64) -> (i64, String) {
    lesson["work_types"]
        .as_array()
        .and_then(|w| w.iter().find(|t| t["weight"] == weight))
        .map(|t| {
            (
                num(&t["id"]),
                t["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .unwrap_or_else(|| panic!("no work type of weight {weight}"))
}

fn scale(lesson: &Value, kind: &str) -> i64 {
    lesson["scales"]
        .as_array()
        .and_then(|s| s.iter().find(|t| t["kind"] == kind))
        .map(|t| num(&t["id"]))
        .unwrap_or_else(|| panic!("no {kind} scale"))
}

/// The diary's lessons with this id, over all days.
fn find_lesson(diary: &Value, id: i64) -> Option<(String, Value)> {
    diary["days"].as_array()?.iter().find_map(|day| {
        day["lessons"]
            .as_array()?
            .iter()
            .find(|l| l["id"] == id)
            .map(|l| {
                (
                    day["date"].as_str().unwrap_or_default().to_owned(),
                    l.clone(),
                )
            })
    })
}

async fn the_parent_sees_the_whole_day_in_one_request(backend: Backend) {
    let s = school_of(backend, "А").await;
    let (parent, _) = s.app.tokens("demo-parent").await;
    let (student_token, _) = s.app.tokens("demo-student").await;
    let (child, classmate) = s.child_and_classmate(&parent).await;

    s.holiday("Выходные", "2026-11-28", "2026-11-29").await;
    let lesson = s.lesson(s.class, "2026-11-23", 2, None).await;
    let id = num(&lesson["id"]);
    let planned = s
        .patch(
            &s.teacher,
            &format!("/api/v1/lessons/{id}"),
            &json!({"topic": "Правописание корней", "homework": "Упр. 112", "held": true}),
        )
        .await;
    assert_eq!(
        planned.status,
        200,
        "{}",
        String::from_utf8_lossy(&planned.body)
    );
    let own = s
        .put(
            &s.teacher,
            &format!("/api/v1/lessons/{id}/individual-homework"),
            &json!({"items": [
                {"student_id": child, "homework": "Повторить правило на с. 40"},
                {"student_id": classmate, "homework": "Переписать диктант соседа"}
            ]}),
        )
        .await;
    assert_eq!(own.status, 200, "{}", String::from_utf8_lossy(&own.body));
    let (test_work, test_name) = work_type(&lesson, 2);
    let (oral, _) = work_type(&lesson, 1);
    let graded = s
        .grade(
            &lesson,
            "diary-1",
            json!([
                {"client_id": "a", "student_id": child, "work_type_id": test_work, "value": 5, "comment": "Отлично"},
                {"client_id": "b", "student_id": child, "work_type_id": oral, "value": "pass", "scale_id": scale(&lesson, "pass_fail")},
                {"client_id": "c", "student_id": classmate, "work_type_id": oral, "value": 2}
            ]),
        )
        .await;
    assert_eq!(
        graded.status,
        201,
        "{}",
        String::from_utf8_lossy(&graded.body)
    );
    let marked = s
        .put(
            &s.teacher,
            &format!("/api/v1/lessons/{id}/attendance"),
            &json!({"marks": [{"student_id": child, "mark": "late"}]}),
        )
        .await;
    assert_eq!(
        marked.status,
        200,
        "{}",
        String::from_utf8_lossy(&marked.body)
    );

    let reply = s
        .diary(&parent, child, "from=2026-11-23&to=2026-11-29")
        .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let diary = reply.json();
    let days = diary["days"].as_array().cloned().unwrap_or_default();
    assert_eq!(days.len(), 7, "every day of the week");
    assert_eq!(days[0]["date"], "2026-11-23");
    assert_eq!(days[5]["holiday"], "Выходные");
    assert!(days[0]["holiday"].is_null());
    let (date, seen) = find_lesson(&diary, id).unwrap_or_else(|| panic!("no lesson: {diary}"));
    assert_eq!(date, "2026-11-23");
    assert_eq!(seen["number"], 2);
    assert_eq!(seen["subject"]["id"], s.subject);
    assert!(
        seen["subject"]["name"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    );
    assert_eq!(seen["teacher"]["id"], s.teacher_id);
    assert_eq!(seen["teacher"]["name"], "Анна Сергеевна Лебедева");
    assert_eq!(seen["topic"], "Правописание корней");
    assert_eq!(seen["homework"], "Упр. 112");
    assert_eq!(seen["individual_homework"], "Повторить правило на с. 40");
    assert_eq!(seen["held"], true);
    assert_eq!(seen["cancelled"], false);
    assert_eq!(seen["attendance"], "late");
    let grades = seen["grades"].as_array().cloned().unwrap_or_default();
    assert_eq!(grades.len(), 2, "only the child's own grades: {grades:?}");
    assert_eq!(grades[0]["value"], 5);
    assert_eq!(grades[0]["work_type"]["name"], test_name.as_str());
    assert_eq!(grades[0]["weight"], 2);
    assert_eq!(grades[0]["averaged"], true);
    assert_eq!(grades[0]["comment"], "Отлично");
    assert_eq!(grades[1]["value"], "pass");
    assert_eq!(grades[1]["averaged"], false, "pass/fail is never averaged");
    let text = String::from_utf8_lossy(&reply.body);
    assert!(
        !text.contains("Переписать диктант соседа"),
        "another child's homework leaked"
    );

    // The student sees the same; a classmate's diary is hidden from this family.
    let mine = s
        .diary(&student_token, child, "from=2026-11-23&to=2026-11-29")
        .await;
    assert_eq!(mine.json(), diary);
    s.diary(&parent, classmate, "from=2026-11-23&to=2026-11-29")
        .await
        .assert_problem(404, "not_found");
    let theirs = s
        .diary(&s.teacher, classmate, "from=2026-11-23&to=2026-11-23")
        .await
        .json();
    let (_, lesson_of_classmate) = find_lesson(&theirs, id).unwrap_or_else(|| panic!("{theirs}"));
    assert_eq!(
        lesson_of_classmate["individual_homework"],
        "Переписать диктант соседа"
    );
    assert!(lesson_of_classmate["attendance"].is_null(), "present");

    // The week by default; ranges are checked.
    let this_week = s.diary(&parent, child, "").await.json();
    let from: NaiveDate = this_week["from"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .unwrap_or_default();
    let to: NaiveDate = this_week["to"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .unwrap_or_default();
    assert_eq!((to - from).num_days(), 6);
    assert_eq!(
        from.format("%u").to_string(),
        "1",
        "a week starts on Monday"
    );
    let long = s
        .diary(&parent, child, "from=2026-09-01&to=2026-12-31")
        .await;
    assert_eq!(
        long.assert_problem(422, "validation_failed")["errors"][0]["field"],
        "to"
    );
    let bad = s.diary(&parent, child, "from=23.11.2026").await;
    assert_eq!(
        bad.assert_problem(422, "validation_failed")["errors"][0]["field"],
        "from"
    );
}

async fn a_moved_student_keeps_their_history_and_groups_see_their_own_lessons(backend: Backend) {
    let s = school_of(backend, "А").await;
    let class_7v = s.class_7v();
    let roster = s.roster(s.class).await;
    let (mover, member, other) = (roster[1], roster[2], roster[3]);
    let enrollments = format!("/api/v1/schools/{}/students/{mover}/enrollments", s.school);
    let moved = s
        .app
        .post_as(
            &s.admin,
            &enrollments,
            &json!({"class_id": class_7v, "from": "2026-11-25"}),
        )
        .await;
    assert_eq!(
        moved.status,
        200,
        "{}",
        String::from_utf8_lossy(&moved.body)
    );
    let stays = moved.json()["items"].clone();
    assert_eq!(stays[0]["class_id"], s.class);
    assert_eq!(stays[0]["left_on"], "2026-11-25");
    assert_eq!(stays[1]["class_id"], class_7v);
    assert_eq!(stays[1]["enrolled_on"], "2026-11-25");
    assert!(stays[1]["left_on"].is_null());
    let again = s
        .app
        .post_as(
            &s.admin,
            &enrollments,
            &json!({"class_id": class_7v, "from": "2026-11-25"}),
        )
        .await;
    assert_eq!(again.json()["items"], stays, "moving again changes nothing");
    let back_in_time = s
        .app
        .post_as(
            &s.admin,
            &enrollments,
            &json!({"class_id": s.class, "from": "2026-11-01"}),
        )
        .await;
    back_in_time.assert_problem(409, "conflict");
    let nowhere = s
        .app
        .post_as(
            &s.admin,
            &enrollments,
            &json!({"class_id": 987_654, "from": "2026-12-01"}),
        )
        .await;
    assert_eq!(
        nowhere.assert_problem(422, "validation_failed")["errors"][0]["field"],
        "class_id"
    );
    s.app
        .post_as(
            &s.teacher,
            &enrollments,
            &json!({"class_id": s.class, "from": "2026-12-01"}),
        )
        .await
        .assert_problem(403, "forbidden");
    let before = num(&s.lesson(s.class, "2026-11-23", 1, None).await["id"]);
    let after_old = num(&s.lesson(s.class, "2026-11-26", 1, None).await["id"]);
    let before_new = num(&s.lesson(class_7v, "2026-11-24", 1, None).await["id"]);
    let after_new = num(&s.lesson(class_7v, "2026-11-26", 2, None).await["id"]);
    let diary = s
        .diary(&s.admin, mover, "from=2026-11-23&to=2026-11-29")
        .await
        .json();
    let page = s
        .app
        .get_as(
            &s.teacher,
            &format!(
                "/api/v1/classes/{}/journal?subject_id={}&term_id={}",
                s.class, s.subject, s.term
            ),
        )
        .await
        .json();
    let row = page["students"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["id"] == mover))
        .unwrap_or_else(|| panic!("the mover left the old page: {page}"));
    assert_eq!(row["left_on"], "2026-11-25");
    assert!(find_lesson(&diary, before).is_some(), "5А before the move");
    assert!(find_lesson(&diary, after_old).is_none(), "not 5А after it");
    assert!(
        find_lesson(&diary, before_new).is_none(),
        "not 7В before it"
    );
    assert!(find_lesson(&diary, after_new).is_some(), "7В after it");

    // A group of 5А: its lesson reaches its member only.
    let group = s
        .app
        .post_as(
            &s.admin,
            &format!("/api/v1/classes/{}/groups", s.class),
            &json!({"subject_id": s.subject, "name": "Группа 1", "student_ids": [member]}),
        )
        .await;
    assert_eq!(
        group.status,
        201,
        "{}",
        String::from_utf8_lossy(&group.body)
    );
    let group_id = num(&group.json()["id"]);
    let duplicate = s
        .app
        .post_as(
            &s.admin,
            &format!("/api/v1/classes/{}/groups", s.class),
            &json!({"subject_id": s.subject, "name": "Группа 1"}),
        )
        .await;
    duplicate.assert_problem(409, "conflict");
    // A teacher may be assigned to the group alone.
    let assignments = format!("/api/v1/schools/{}/teaching-assignments", s.school);
    let assigned = s
        .app
        .post_as(
            &s.admin,
            &assignments,
            &json!({"teacher_id": s.teacher_id, "class_id": s.class_7v(), "subject_id": s.subject, "group_id": group_id}),
        )
        .await;
    assert_eq!(
        assigned.assert_problem(422, "validation_failed")["errors"][0]["field"],
        "group_id",
        "a group of another class"
    );
    let teachers = s
        .app
        .get_as(
            &s.admin,
            &format!("/api/v1/schools/{}/people?role=teacher&limit=200", s.school),
        )
        .await
        .json();
    let english = teachers["items"]
        .as_array()
        .and_then(|t| t.iter().find(|p| p["login"] == "teacher-3"))
        .map(|p| num(&p["id"]))
        .unwrap_or_else(|| panic!("no teacher-3: {teachers}"));
    let assigned = s
        .app
        .post_as(
            &s.admin,
            &assignments,
            &json!({"teacher_id": english, "class_id": s.class, "subject_id": s.subject, "group_id": group_id}),
        )
        .await;
    assert_eq!(
        assigned.status,
        201,
        "{}",
        String::from_utf8_lossy(&assigned.body)
    );
    assert_eq!(assigned.json()["group_id"], group_id);
    let listed = s.app.get_as(&s.admin, &assignments).await.json();
    assert!(
        listed["items"].as_array().is_some_and(|a| a
            .iter()
            .any(|a| a["group_id"] == group_id && a["teacher_id"] == english)),
        "{listed}"
    );
    let group_lesson_read = s.lesson(s.class, "2026-11-27", 3, Some(group_id)).await;
    let group_lesson = num(&group_lesson_read["id"]);
    let seen = |student: i64| {
        let s = &s;
        async move {
            let diary = s
                .diary(&s.admin, student, "from=2026-11-27&to=2026-11-27")
                .await
                .json();
            find_lesson(&diary, group_lesson).is_some()
        }
    };
    assert!(seen(member).await);
    assert!(!seen(other).await);
    // Individual homework of a group lesson goes to its members only.
    let outsider = s
        .put(
            &s.teacher,
            &format!("/api/v1/lessons/{group_lesson}/individual-homework"),
            &json!({"items": [{"student_id": other, "homework": "Читать"}]}),
        )
        .await;
    assert_eq!(
        outsider.assert_problem(422, "validation_failed")["errors"][0]["field"],
        "items[0].student_id"
    );
    // The member is graded and marked in it before leaving the group.
    let (work, _) = work_type(&group_lesson_read, 1);
    let _ = s
        .grade(
            &group_lesson_read,
            "group-1",
            json!([{"client_id": "g", "student_id": member, "work_type_id": work, "value": 4}]),
        )
        .await
        .expect(201);
    let _ = s
        .put(
            &s.teacher,
            &format!("/api/v1/lessons/{group_lesson}/attendance"),
            &json!({"marks": [{"student_id": member, "mark": "sick"}]}),
        )
        .await
        .expect(200);
    // Members change; the lesson follows.
    let changed = s
        .put(
            &s.admin,
            &format!("/api/v1/classes/{}/groups/{group_id}/members", s.class),
            &json!({"student_ids": [other]}),
        )
        .await;
    assert_eq!(
        changed.status,
        200,
        "{}",
        String::from_utf8_lossy(&changed.body)
    );
    assert_eq!(changed.json()["student_ids"], json!([other]));
    assert!(!seen(member).await);
    assert!(seen(other).await);
    // Nor do the former member's grade and mark in it come with the diary's other lessons.
    let kept = {
        let mut conn = s.app.pool().get().unwrap_or_else(|e| panic!("{e}"));
        let day = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap_or_default();
        let range = domain::DateRange::new(day, day, 31).unwrap_or_else(|e| panic!("{e}"));
        persistence::lessons::diary(
            &mut conn,
            domain::SchoolId(s.school),
            domain::StudentId(member),
            range,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    };
    assert!(kept.lessons.iter().all(|l| l.id != group_lesson));
    assert!(
        kept.grades.iter().all(|g| g.lesson_id != group_lesson),
        "{:?}",
        kept.grades
    );
    assert!(!kept.attendance.contains_key(&group_lesson));
    let stranger = s
        .put(
            &s.admin,
            &format!("/api/v1/classes/{}/groups/{group_id}/members", s.class),
            &json!({"student_ids": [other, 987_654, other]}),
        )
        .await;
    let problem = stranger.assert_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "student_ids[1]");
    assert_eq!(problem["errors"][1]["field"], "student_ids[2]");
    let groups = s
        .app
        .get_as(&s.teacher, &format!("/api/v1/classes/{}/groups", s.class))
        .await
        .json();
    assert_eq!(
        groups[0]["student_ids"],
        json!([other]),
        "nothing half written"
    );
}

async fn a_lesson_plan_changes_field_by_field_audited_and_locked_terms_hold(backend: Backend) {
    let s = school(backend).await;
    let lesson = s.lesson(s.class, "2026-11-23", 4, None).await;
    let id = num(&lesson["id"]);
    let path = format!("/api/v1/lessons/{id}");
    assert!(lesson["first_entry_at"].is_null());
    let first = s
        .patch(
            &s.teacher,
            &path,
            &json!({"topic": "Глагол", "homework": "Упр. 5", "comment": "Класс шумел"}),
        )
        .await;
    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    let first = first.json();
    assert_eq!(first["topic"], "Глагол");
    assert_eq!(first["comment"], "Класс шумел");
    assert!(
        first["first_entry_at"].is_string(),
        "the first entry is timed"
    );
    let cleared = s
        .patch(&s.teacher, &path, &json!({"topic": null}))
        .await
        .json();
    assert!(cleared["topic"].is_null());
    assert_eq!(cleared["homework"], "Упр. 5", "fields left out stay");
    assert_eq!(
        cleared["first_entry_at"], first["first_entry_at"],
        "the first entry stays"
    );

    let long = s
        .patch(&s.teacher, &path, &json!({"topic": "я".repeat(501)}))
        .await;
    assert_eq!(
        long.assert_problem(422, "validation_failed")["errors"][0]["field"],
        "topic"
    );
    let unknown = s.patch(&s.teacher, &path, &json!({"colour": "red"})).await;
    assert!(
        matches!(unknown.status.as_u16(), 400 | 422),
        "{}",
        unknown.status
    );
    let stranger = s
        .patch(&s.teacher, &path, &json!({"teacher_id": 987_654}))
        .await;
    assert_eq!(
        stranger.assert_problem(422, "validation_failed")["errors"][0]["field"],
        "teacher_id"
    );
    let number = s.patch(&s.teacher, &path, &json!({"number": 13})).await;
    assert_eq!(
        number.assert_problem(422, "validation_failed")["errors"][0]["field"],
        "number"
    );
    let unchanged = s.app.get_as(&s.teacher, &path).await.json();
    assert_eq!(unchanged["number"], 4);
    assert!(unchanged["topic"].is_null());

    let cancelled = s
        .patch(
            &s.admin,
            &path,
            &json!({"cancelled": true, "reason": "Учитель болен"}),
        )
        .await
        .json();
    assert!(cancelled["cancelled_at"].is_string());
    let audit = s
        .app
        .get_as(
            &s.admin,
            &format!("/api/v1/schools/{}/audit-events?limit=200", s.school),
        )
        .await
        .json();
    let changes: Vec<Value> = audit["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e["action"] == "lesson.changed" && e["target_id"] == id)
        .collect();
    assert_eq!(changes.len(), 3, "{changes:?}");
    let text = serde_json::to_string(&changes).unwrap_or_default();
    assert!(
        text.contains("Глагол") && text.contains("Учитель болен"),
        "{text}"
    );

    // A parent never writes lessons.
    let (other_parent, _) = s.app.tokens("demo-parent").await;
    s.patch(&other_parent, &path, &json!({"topic": "x"}))
        .await
        .assert_problem(403, "forbidden");

    // A locked term: teachers are refused, the administration needs a reason.
    let lock = s
        .app
        .send_as(
            &s.admin,
            Method::POST,
            &format!("/api/v1/schools/{}/terms/{}/lock", s.school, s.term),
            None,
        )
        .await;
    assert_eq!(lock.status, 200);
    s.patch(&s.teacher, &path, &json!({"topic": "Поздно"}))
        .await
        .assert_problem(409, "conflict");
    let no_reason = s.patch(&s.admin, &path, &json!({"topic": "Поздно"})).await;
    assert_eq!(
        no_reason.assert_problem(422, "validation_failed")["errors"][0]["field"],
        "reason"
    );
    let with_reason = s
        .patch(
            &s.admin,
            &path,
            &json!({"topic": "Поздно", "reason": "Исправление по приказу"}),
        )
        .await;
    assert_eq!(with_reason.status, 200);
    // Moving a lesson of an open term into the locked one is refused alike.
    let open = s.lesson(s.class, "2027-01-20", 1, None).await;
    s.patch(
        &s.teacher,
        &format!("/api/v1/lessons/{}", num(&open["id"])),
        &json!({"date": "2026-12-01"}),
    )
    .await
    .assert_problem(409, "conflict");
}

async fn individual_homework_is_checked_and_replaced_as_a_whole(backend: Backend) {
    let s = school(backend).await;
    let lesson = s.lesson(s.class, "2026-11-23", 5, None).await;
    let path = format!("/api/v1/lessons/{}/individual-homework", num(&lesson["id"]));
    let roster = s.roster(s.class).await;
    let other_class = s.roster(s.class_7v()).await;
    let bad = s
        .put(
            &s.teacher,
            &path,
            &json!({"items": [
                {"student_id": roster[0], "homework": "А"},
                {"student_id": other_class[0], "homework": "Б"},
                {"student_id": roster[0], "homework": "В"},
                {"student_id": roster[1], "homework": "   "},
                {"student_id": roster[2], "homework": ""}
            ]}),
        )
        .await;
    let problem = bad.assert_problem(422, "validation_failed");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        fields,
        vec!["items[4].homework"],
        "length is checked first: {problem}"
    );
    let bad = s
        .put(
            &s.teacher,
            &path,
            &json!({"items": [
                {"student_id": roster[0], "homework": "А"},
                {"student_id": other_class[0], "homework": "Б"},
                {"student_id": roster[0], "homework": "В"},
                {"student_id": roster[1], "homework": "   "}
            ]}),
        )
        .await;
    let problem = bad.assert_problem(422, "validation_failed");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        fields,
        vec![
            "items[1].student_id",
            "items[2].student_id",
            "items[3].homework"
        ]
    );
    let view = s
        .app
        .get_as(
            &s.teacher,
            &format!("/api/v1/lessons/{}", num(&lesson["id"])),
        )
        .await
        .json();
    assert_eq!(
        view["individual_homework"],
        json!([]),
        "nothing half written"
    );

    let set = s
        .put(
            &s.teacher,
            &path,
            &json!({"items": [{"student_id": roster[0], "homework": "А"}, {"student_id": roster[1], "homework": "Б"}]}),
        )
        .await
        .json();
    assert_eq!(set["individual_homework"].as_array().map(Vec::len), Some(2));
    let replaced = s
        .put(
            &s.teacher,
            &path,
            &json!({"items": [{"student_id": roster[1], "homework": "Б2"}]}),
        )
        .await
        .json();
    assert_eq!(
        replaced["individual_homework"],
        json!([{"student_id": roster[1], "homework": "Б2"}])
    );
    let cleared = s.put(&s.teacher, &path, &json!({"items": []})).await.json();
    assert_eq!(cleared["individual_homework"], json!([]));
}

async fn the_journal_page_is_the_terms_grid(backend: Backend) {
    let s = school(backend).await;
    let first = s.lesson(s.class, "2026-11-23", 1, None).await;
    let second = s.lesson(s.class, "2026-11-20", 1, None).await;
    let outside = s.lesson(s.class, "2026-10-01", 1, None).await;
    let roster = s.roster(s.class).await;
    let (work, _) = work_type(&first, 1);
    let graded = s
        .grade(
            &first,
            "page-1",
            json!([{"client_id": "x", "student_id": roster[0], "work_type_id": work, "value": 4}]),
        )
        .await;
    assert_eq!(graded.status, 201);
    let marked = s
        .put(
            &s.teacher,
            &format!("/api/v1/lessons/{}/attendance", num(&second["id"])),
            &json!({"marks": [{"student_id": roster[1], "mark": "sick"}]}),
        )
        .await;
    assert_eq!(marked.status, 200);

    let base = format!("/api/v1/classes/{}/journal", s.class);
    let page = s
        .app
        .get_as(
            &s.teacher,
            &format!("{base}?subject_id={}&term_id={}", s.subject, s.term),
        )
        .await;
    assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
    let page = page.json();
    assert_eq!(page["from"], "2026-11-05");
    assert_eq!(page["to"], "2026-12-28");
    let lessons: Vec<i64> = page["lessons"]
        .as_array()
        .map(|l| l.iter().map(|l| num(&l["id"])).collect())
        .unwrap_or_default();
    assert_eq!(
        lessons,
        vec![num(&second["id"]), num(&first["id"])],
        "by date, the term's only"
    );
    assert!(!lessons.contains(&num(&outside["id"])));
    assert_eq!(
        page["students"].as_array().map(Vec::len),
        Some(roster.len())
    );
    assert_eq!(page["grades"][0]["student_id"], roster[0]);
    assert_eq!(page["grades"][0]["value"], 4);
    assert!(
        page["grades"][0]["etag"]
            .as_str()
            .is_some_and(|e| e.starts_with("\"g"))
    );
    assert_eq!(
        page["attendance"],
        json!([{"lesson_id": num(&second["id"]), "student_id": roster[1], "mark": "sick"}])
    );
    // The same page by dates, seen by the administration.
    let by_dates = s
        .app
        .get_as(
            &s.admin,
            &format!(
                "{base}?subject_id={}&from=2026-11-05&to=2026-12-28",
                s.subject
            ),
        )
        .await
        .json();
    assert_eq!(by_dates, page);

    let no_subject = s
        .app
        .get_as(&s.teacher, &format!("{base}?term_id={}", s.term))
        .await;
    assert_eq!(
        no_subject.assert_problem(422, "validation_failed")["errors"][0]["field"],
        "subject_id"
    );
    let half = s
        .app
        .get_as(
            &s.teacher,
            &format!("{base}?subject_id={}&from=2026-11-05", s.subject),
        )
        .await;
    assert_eq!(
        half.assert_problem(422, "validation_failed")["errors"][0]["field"],
        "to"
    );
    let (parent, _) = s.app.tokens("demo-parent").await;
    s.app
        .get_as(
            &parent,
            &format!("{base}?subject_id={}&term_id={}", s.subject, s.term),
        )
        .await
        .assert_problem(403, "forbidden");
}

impl School {
    /// The parent's child in the school's class and a classmate of another family.
    async fn child_and_classmate(&self, parent: &str) -> (i64, i64) {
        let roster = self.roster(self.class).await;
        let children: Vec<i64> = self.app.get_as(parent, "/api/v1/me").await.json()["children"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|c| num(&c["id"]))
            .collect();
        let child = *children
            .iter()
            .find(|c| roster.contains(c))
            .unwrap_or_else(|| panic!("no child of the parent in the class"));
        let classmate = *roster
            .iter()
            .find(|s| !children.contains(s))
            .unwrap_or_else(|| panic!("the class has only the family"));
        (child, classmate)
    }

    /// A read with `If-None-Match` (when given) and the answer's `ETag`.
    async fn read_held(&self, token: &str, path: &str, held: Option<&str>) -> (Reply, String) {
        let mut request = TestRequest::get()
            .uri(path)
            .insert_header(("Authorization", format!("Bearer {token}")));
        if let Some(held) = held {
            request = request.insert_header(("If-None-Match", held));
        }
        let reply = self.app.call(request).await;
        let tag = reply.header("ETag").unwrap_or_default().to_owned();
        (reply, tag)
    }
}

/// A phone on a bad connection opens the diary (or the teacher the journal page) again: while
/// nothing in it changed, the answer is `304` without a body; once something did, the whole
/// answer comes with a new tag. A `304` is never given where the caller may not read.
async fn a_copy_still_current_is_not_sent_again(backend: Backend) {
    let s = school_of(backend, "А").await;
    let (parent, _) = s.app.tokens("demo-parent").await;
    let (child, classmate) = s.child_and_classmate(&parent).await;
    let lesson = s.lesson(s.class, "2026-11-23", 2, None).await;
    let id = num(&lesson["id"]);
    let diary = format!("/api/v1/students/{child}/diary?from=2026-11-23&to=2026-11-29");

    let (first, tag) = s.read_held(&parent, &diary, None).await;
    assert_eq!(first.status, 200);
    assert!(
        tag.len() > 2 && tag.starts_with('"') && tag.ends_with('"'),
        "{tag:?}"
    );
    assert_eq!(
        first
            .headers
            .get("Cache-Control")
            .and_then(|v| v.to_str().ok()),
        Some("private, no-cache")
    );
    let (again, same) = s.read_held(&parent, &diary, None).await;
    assert_eq!(
        (again.status.as_u16(), &same),
        (200, &tag),
        "the same answer, the same tag"
    );
    assert_eq!(again.body, first.body);

    // The copy held is current: nothing is sent, however the tag is written.
    for held in [
        tag.clone(),
        format!("W/{tag}"),
        format!("\"other\", {tag}"),
        "*".to_owned(),
    ] {
        let (reply, echoed) = s.read_held(&parent, &diary, Some(&held)).await;
        assert_eq!(reply.status, 304, "If-None-Match: {held}");
        assert!(reply.body.is_empty());
        assert_eq!(echoed, tag);
        assert_eq!(
            reply
                .headers
                .get("Cache-Control")
                .and_then(|v| v.to_str().ok()),
            Some("private, no-cache")
        );
    }
    // Another tag, a header that names none, `*` in a list: the whole answer.
    for held in ["\"other\"", "other", tag.trim_matches('"'), "\"other\", *"] {
        let (reply, echoed) = s.read_held(&parent, &diary, Some(held)).await;
        assert_eq!(reply.status, 200, "If-None-Match: {held}");
        assert_eq!(
            (reply.body.clone(), echoed),
            (first.body.clone(), tag.clone())
        );
    }

    // The teacher sets the topic: the copy is stale, the new answer shows it.
    let planned = s
        .patch(
            &s.teacher,
            &format!("/api/v1/lessons/{id}"),
            &json!({"topic": "Безударные гласные"}),
        )
        .await;
    assert_eq!(planned.status, 200);
    let (changed, new_tag) = s.read_held(&parent, &diary, Some(&tag)).await;
    assert_eq!(changed.status, 200);
    assert_ne!(new_tag, tag);
    let (_, seen) = find_lesson(&changed.json(), id).unwrap_or_else(|| panic!("no lesson"));
    assert_eq!(seen["topic"], "Безударные гласные");
    let (current, _) = s.read_held(&parent, &diary, Some(&new_tag)).await;
    assert_eq!(current.status, 304);

    // Another family's child: 404 whatever the header, never 304.
    let theirs = format!("/api/v1/students/{classmate}/diary?from=2026-11-23&to=2026-11-29");
    let (_, their_tag) = s.read_held(&s.teacher, &theirs, None).await;
    for held in [their_tag.as_str(), "*"] {
        let (reply, _) = s.read_held(&parent, &theirs, Some(held)).await;
        reply.assert_problem(404, "not_found");
    }

    // The journal page: the same for the teacher's grid, stale once a grade is given.
    let page = format!(
        "/api/v1/classes/{}/journal?subject_id={}&term_id={}",
        s.class, s.subject, s.term
    );
    let (grid, grid_tag) = s.read_held(&s.teacher, &page, None).await;
    assert_eq!(grid.status, 200);
    let (unchanged, _) = s.read_held(&s.teacher, &page, Some(&grid_tag)).await;
    assert_eq!(unchanged.status, 304);
    let (work, _) = work_type(&lesson, 1);
    let graded = s
        .grade(
            &lesson,
            "held-1",
            json!([{"client_id": "h", "student_id": child, "work_type_id": work, "value": 5}]),
        )
        .await;
    assert_eq!(graded.status, 201);
    let (regraded, regraded_tag) = s.read_held(&s.teacher, &page, Some(&grid_tag)).await;
    assert_eq!(regraded.status, 200);
    assert_ne!(regraded_tag, grid_tag);
    let regraded = regraded.json();
    let given = regraded["grades"]
        .as_array()
        .and_then(|g| {
            g.iter()
                .find(|g| g["student_id"] == child && g["lesson_id"] == id)
        })
        .unwrap_or_else(|| panic!("no grade of the child: {regraded}"));
    assert_eq!(given["value"], 5);
    let (diary_now, _) = s.read_held(&parent, &diary, Some(&new_tag)).await;
    assert_eq!(diary_now.status, 200, "the grade shows in the diary");
}
