//! Averages and ranks through HTTP: the running sums equal a full recomputation after any
//! sequence of grade changes (on both databases); a parent sees their child's averages,
//! suggested grades, position and the distribution, and nothing of other children; teachers
//! see the class's full table.

use std::collections::BTreeSet;

use actix_web::http::Method;
use actix_web::test::TestRequest;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::support::app::Reply;
use crate::support::{Backend, on_both_backends};
use crate::timetable::{School, num, school_of};

on_both_backends!(
    running_sums_equal_a_full_recomputation_after_any_sequence_of_changes,
    a_parent_sees_averages_and_rank_and_nothing_of_other_children,
    term_grades_are_set_beside_suggestions_and_locked_terms_hold,
    a_school_adds_scales_and_work_types_that_teachers_grade_with,
    a_school_sets_its_rounding_rule_and_teachers_read_the_school_ranking,
);

impl School {
    fn term3(&self) -> i64 {
        use diesel::prelude::*;
        use persistence::schema::terms;
        let mut conn = self.app.pool().get().unwrap_or_else(|e| panic!("{e}"));
        terms::table
            .filter(terms::school_id.eq(self.school))
            .filter(terms::ordinal.eq(3))
            .select(terms::id)
            .first(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn subject_named(&self, name: &str) -> i64 {
        use diesel::prelude::*;
        use persistence::schema::subjects;
        let mut conn = self.app.pool().get().unwrap_or_else(|e| panic!("{e}"));
        subjects::table
            .filter(subjects::school_id.eq(self.school))
            .filter(subjects::name.eq(name))
            .select(subjects::id)
            .first(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A lesson added by the administration (any subject), taught by demo-teacher.
    async fn admin_lesson(&self, subject: i64, date: &str) -> Value {
        self.admin_lesson_in(self.class, subject, date).await
    }

    /// A lesson of `class` added by the administration, taught by demo-teacher.
    async fn admin_lesson_in(&self, class: i64, subject: i64, date: &str) -> Value {
        let reply = self
            .app
            .post_as(
                &self.admin,
                &format!("/api/v1/classes/{class}/lessons"),
                &json!({"date": date, "number": 6, "subject_id": subject, "teacher_id": self.teacher_id}),
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

    async fn admin_grades(&self, lesson: &Value, key: &str, grades: Value) -> Reply {
        self.app
            .call(
                TestRequest::post()
                    .uri(&format!("/api/v1/lessons/{}/grades", num(&lesson["id"])))
                    .insert_header(("Authorization", format!("Bearer {}", self.admin)))
                    .insert_header(("Idempotency-Key", key))
                    .set_json(json!({ "grades": grades })),
            )
            .await
    }

    fn inconsistencies(&self) -> usize {
        let mut conn = self.app.pool().get().unwrap_or_else(|e| panic!("{e}"));
        let found =
            persistence::averages::inconsistencies(&mut conn, domain::SchoolId(self.school))
                .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            found.is_empty(),
            "running sums differ from a recomputation: {found:?}"
        );
        persistence::averages::stored(&mut conn, domain::SchoolId(self.school))
            .unwrap_or_else(|e| panic!("{e}"))
            .len()
    }
}

fn work_types(lesson: &Value) -> Vec<i64> {
    lesson["work_types"]
        .as_array()
        .map(|w| w.iter().map(|t| num(&t["id"])).collect())
        .unwrap_or_default()
}

fn scale(lesson: &Value, kind: &str) -> i64 {
    lesson["scales"]
        .as_array()
        .and_then(|s| s.iter().find(|t| t["kind"] == kind))
        .map(|t| num(&t["id"]))
        .unwrap_or_else(|| panic!("no {kind} scale"))
}

async fn running_sums_equal_a_full_recomputation_after_any_sequence_of_changes(backend: Backend) {
    let s = school_of(backend, "Б").await;
    let students: Vec<i64> = s
        .app
        .get_as(&s.teacher, &format!("/api/v1/classes/{}/students", s.class))
        .await
        .json()["items"]
        .as_array()
        .map(|i| i.iter().take(5).map(|s| num(&s["id"])).collect())
        .unwrap_or_default();
    // Lessons in the first, second and third terms.
    let mut lessons = Vec::new();
    for date in ["2026-10-05", "2026-11-23", "2026-11-24", "2027-01-20"] {
        lessons.push(s.admin_lesson(s.subject, date).await);
    }
    let types = work_types(&lessons[0]);
    let pass_fail = scale(&lessons[0], "pass_fail");
    let mut rng = StdRng::seed_from_u64(20_261_123);
    let mut live: Vec<i64> = Vec::new();
    let mut n = 0;
    for step in 0..70 {
        n += 1;
        let choice = rng.gen_range(0..10);
        if live.is_empty() || choice < 5 {
            // Grade a few students, some pass/fail.
            let lesson = &lessons[rng.gen_range(0..lessons.len())];
            let mut grades = Vec::new();
            for k in 0..rng.gen_range(1..4) {
                let student = students[rng.gen_range(0..students.len())];
                let work_type = types[rng.gen_range(0..types.len())];
                let grade = if rng.gen_bool(0.2) {
                    json!({"client_id": format!("c{n}-{k}"), "student_id": student, "work_type_id": work_type,
                           "scale_id": pass_fail, "value": if rng.gen_bool(0.5) { "pass" } else { "fail" }})
                } else {
                    json!({"client_id": format!("c{n}-{k}"), "student_id": student, "work_type_id": work_type,
                           "value": rng.gen_range(1..=5)})
                };
                grades.push(grade);
            }
            let reply = s
                .admin_grades(lesson, &format!("k{n}"), json!(grades))
                .await;
            assert_eq!(
                reply.status,
                201,
                "step {step}: {}",
                String::from_utf8_lossy(&reply.body)
            );
            // A retry changes nothing.
            let retry = s
                .admin_grades(lesson, &format!("k{n}"), json!(grades))
                .await;
            assert_eq!(retry.header("Idempotent-Replayed"), Some("true"));
            for g in retry.json()["grades"]
                .as_array()
                .cloned()
                .unwrap_or_default()
            {
                live.push(num(&g["id"]));
            }
        } else if choice < 7 {
            // Change a grade's value or work type.
            let id = live[rng.gen_range(0..live.len())];
            let grade = s
                .app
                .get_as(&s.admin, &format!("/api/v1/grades/{id}"))
                .await
                .json();
            let body = if grade["value"].is_string() || rng.gen_bool(0.5) {
                json!({"work_type_id": types[rng.gen_range(0..types.len())]})
            } else {
                json!({"value": rng.gen_range(1..=5)})
            };
            let reply = s
                .app
                .call(
                    TestRequest::patch()
                        .uri(&format!("/api/v1/grades/{id}"))
                        .insert_header(("Authorization", format!("Bearer {}", s.admin)))
                        .insert_header(("If-Match", grade["etag"].as_str().unwrap_or_default()))
                        .set_json(body),
                )
                .await;
            assert_eq!(
                reply.status,
                200,
                "step {step}: {}",
                String::from_utf8_lossy(&reply.body)
            );
        } else if choice < 9 {
            // Delete a grade.
            let index = rng.gen_range(0..live.len());
            let id = live.swap_remove(index);
            let grade = s
                .app
                .get_as(&s.admin, &format!("/api/v1/grades/{id}"))
                .await
                .json();
            let reply = s
                .app
                .call(
                    TestRequest::delete()
                        .uri(&format!("/api/v1/grades/{id}"))
                        .insert_header(("Authorization", format!("Bearer {}", s.admin)))
                        .insert_header(("If-Match", grade["etag"].as_str().unwrap_or_default())),
                )
                .await;
            assert!(
                reply.status.is_success(),
                "step {step}: {}",
                String::from_utf8_lossy(&reply.body)
            );
        } else {
            // Move a lesson into another term, or between terms (the autumn break).
            let lesson = &lessons[rng.gen_range(0..lessons.len())];
            let date =
                ["2026-10-06", "2026-11-25", "2026-10-30", "2027-01-21"][rng.gen_range(0..4)];
            let reply = s
                .app
                .send_as(
                    &s.admin,
                    Method::PATCH,
                    &format!("/api/v1/lessons/{}", num(&lesson["id"])),
                    Some(&json!({"date": date})),
                )
                .await;
            assert_eq!(
                reply.status,
                200,
                "step {step}: {}",
                String::from_utf8_lossy(&reply.body)
            );
        }
        if step % 10 == 9 {
            s.inconsistencies();
        }
    }
    let rows = s.inconsistencies();
    assert!(rows >= 3, "the sequence left only {rows} rows of sums");
}

async fn a_parent_sees_averages_and_rank_and_nothing_of_other_children(backend: Backend) {
    let s = school_of(backend, "А").await;
    let term = s.term3();
    let (parent, _) = s.app.tokens("demo-parent").await;
    let children: BTreeSet<i64> = s.app.get_as(&parent, "/api/v1/me").await.json()["children"]
        .as_array()
        .map(|c| c.iter().map(|c| num(&c["id"])).collect())
        .unwrap_or_default();
    let roster = s
        .app
        .get_as(&s.teacher, &format!("/api/v1/classes/{}/students", s.class))
        .await
        .json()["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let child = roster
        .iter()
        .map(|r| num(&r["id"]))
        .find(|id| children.contains(id))
        .unwrap_or_else(|| panic!("no child in 5А"));
    let others: Vec<&Value> = roster.iter().filter(|r| num(&r["id"]) != child).collect();
    let (first, third, few) = (
        num(&others[0]["id"]),
        num(&others[1]["id"]),
        num(&others[2]["id"]),
    );

    let maths = s.subject_named("Математика");
    let literature = s.subject_named("Литература");
    let m = s.admin_lesson(maths, "2027-01-20").await;
    let l = s.admin_lesson(literature, "2027-01-20").await;
    let weight = |w: i64| {
        m["work_types"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["weight"] == w))
            .map(|t| num(&t["id"]))
            .unwrap_or_else(|| panic!("no weight {w}"))
    };
    let (w1, w2, w3) = (weight(1), weight(2), weight(3));
    let g = |id: &str, student: i64, work_type: i64, value: i64| json!({"client_id": id, "student_id": student, "work_type_id": work_type, "value": value});
    let maths_grades = json!([
        g("a1", child, w1, 5),
        g("a2", child, w2, 4),
        g("a3", child, w3, 3),
        g("b1", first, w1, 5),
        g("b2", first, w1, 5),
        g("b3", first, w1, 5),
        g("c1", third, w1, 4),
        g("c2", third, w1, 4),
        g("c3", third, w1, 4),
        g("d1", few, w1, 5),
    ]);
    let literature_grades = json!([
        g("a1", child, w1, 5),
        g("a2", child, w1, 5),
        g("a3", child, w1, 5),
        g("b1", first, w1, 5),
        g("b2", first, w1, 5),
        g("b3", first, w1, 5),
        g("c1", third, w1, 4),
        g("c2", third, w1, 4),
        g("c3", third, w1, 4),
    ]);
    assert_eq!(s.admin_grades(&m, "m", maths_grades).await.status, 201);
    assert_eq!(s.admin_grades(&l, "l", literature_grades).await.status, 201);

    let averages = s
        .app
        .get_as(
            &parent,
            &format!("/api/v1/students/{child}/averages?term_id={term}"),
        )
        .await;
    assert_eq!(
        averages.status,
        200,
        "{}",
        String::from_utf8_lossy(&averages.body)
    );
    let averages = averages.json();
    let subject = |id: i64| {
        averages["subjects"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["subject_id"] == id))
            .cloned()
            .unwrap_or_else(|| panic!("no subject {id}: {averages}"))
    };
    // (5·1 + 4·2 + 3·3) / 6 = 22/6 = 3.666…
    assert_eq!(subject(maths)["average"], "3.67");
    assert_eq!(subject(maths)["grades"], 3);
    assert_eq!(subject(maths)["weights"], 6);
    assert_eq!(subject(maths)["suggested"]["grade"], 4);
    assert_eq!(subject(maths)["subject_name"], "Математика");
    assert_eq!(subject(literature)["average"], "5.00");
    assert_eq!(subject(literature)["suggested"]["grade"], 5);
    // (22/6 + 5) / 2 = 4.333…
    assert_eq!(averages["overall"], "4.33");
    assert_eq!(averages["rule"], json!({"threshold": 50, "min_grades": 3}));

    let forecast = |query: String| {
        let s = &s;
        let parent = parent.clone();
        async move {
            s.app
                .get_as(
                    &parent,
                    &format!("/api/v1/students/{child}/forecast?term_id={term}&{query}"),
                )
                .await
        }
    };
    // (22 + 5n) / (6 + n) is shown 4.50 first at n = 10; with an exam (weight 3) at n = 4.
    let five = forecast(format!("subject_id={maths}&target=5"))
        .await
        .json();
    assert_eq!(
        (
            five["outcome"].as_str(),
            five["count"].as_i64(),
            five["value"].as_i64()
        ),
        (Some("needs"), Some(10), Some(5)),
        "{five}"
    );
    let exam = forecast(format!("subject_id={maths}&target=5&work_type_id={w3}"))
        .await
        .json();
    assert_eq!(
        (
            exam["count"].as_i64(),
            exam["value"].as_i64(),
            exam["weight"].as_i64()
        ),
        (Some(4), Some(5), Some(3)),
        "{exam}"
    );
    let four = forecast(format!("subject_id={maths}&target=4"))
        .await
        .json();
    assert_eq!(four["outcome"], "already_reached");
    let six = forecast(format!("subject_id={maths}&target=6")).await;
    assert_eq!(
        six.assert_problem(422, "validation_failed")["errors"][0]["field"],
        "target"
    );
    let no_subject = forecast("target=5".to_owned()).await;
    assert_eq!(
        no_subject.assert_problem(422, "validation_failed")["errors"][0]["field"],
        "subject_id"
    );

    let few_averages = s
        .app
        .get_as(
            &s.teacher,
            &format!("/api/v1/students/{few}/averages?term_id={term}"),
        )
        .await
        .json();
    assert_eq!(
        few_averages["subjects"][0]["suggested"],
        json!({"grade": null, "reason": "not_enough_grades"})
    );

    let rank = s
        .app
        .get_as(
            &parent,
            &format!("/api/v1/students/{child}/rank?term_id={term}"),
        )
        .await;
    assert_eq!(rank.status, 200, "{}", String::from_utf8_lossy(&rank.body));
    let text = String::from_utf8_lossy(&rank.body).to_string();
    let rank = rank.json();
    for standing in [&rank["class"], &rank["grade_level"], &rank["school"]] {
        assert_eq!(standing["position"], 2, "{rank}");
        assert_eq!(
            standing["out_of"], 3,
            "the one with a single grade is not ranked"
        );
        assert_eq!(standing["average"], "4.33");
        let counts: Vec<(String, i64)> = standing["distribution"]
            .as_array()
            .map(|b| {
                b.iter()
                    .filter(|b| b["count"] != 0)
                    .map(|b| {
                        (
                            b["from"].as_str().unwrap_or_default().to_owned(),
                            num(&b["count"]),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(counts, vec![("4.00".to_owned(), 2), ("4.50".to_owned(), 1)]);
    }
    for other in &others {
        let name = other["last_name"].as_str().unwrap_or_default();
        assert!(
            !text.contains(name),
            "another child's name in the rank: {name}"
        );
    }
    for standing in [&rank["class"], &rank["grade_level"], &rank["school"]] {
        let keys: BTreeSet<&str> = standing
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(
            keys,
            BTreeSet::from([
                "position",
                "out_of",
                "average",
                "grades_have",
                "grades_need",
                "distribution"
            ]),
            "only the child's own standing and counts"
        );
    }

    // The full table is for teachers and the administration only.
    let ranking = format!("/api/v1/classes/{}/ranking?term_id={term}", s.class);
    s.app
        .get_as(&parent, &ranking)
        .await
        .assert_problem(403, "forbidden");
    let table = s.app.get_as(&s.teacher, &ranking).await.json();
    assert_eq!(table["out_of"], 3);
    let rows = table["rows"].as_array().cloned().unwrap_or_default();
    let row = |i: usize| {
        (
            num(&rows[i]["student_id"]),
            rows[i]["position"].clone(),
            rows[i]["overall"].clone(),
        )
    };
    assert_eq!(row(0), (first, json!(1), json!("5.00")));
    assert_eq!(row(1), (child, json!(2), json!("4.33")));
    assert_eq!(row(2), (third, json!(3), json!("4.00")));
    assert!(
        rows[3..].iter().all(|r| r["position"].is_null()),
        "the rest are unranked"
    );
    assert!(rows.iter().any(|r| num(&r["student_id"]) == few
        && r["subjects"] == json!([{"subject_id": maths, "average": "5.00"}])));
    assert_eq!(rows.len(), roster.len());

    // Another family's child is hidden; a term of another school is refused.
    s.app
        .get_as(
            &parent,
            &format!("/api/v1/students/{first}/rank?term_id={term}"),
        )
        .await
        .assert_problem(404, "not_found");
    let unknown = s
        .app
        .get_as(
            &parent,
            &format!("/api/v1/students/{child}/averages?term_id=987654"),
        )
        .await;
    assert_eq!(
        unknown.assert_problem(422, "validation_failed")["errors"][0]["field"],
        "term_id"
    );
}

async fn term_grades_are_set_beside_suggestions_and_locked_terms_hold(backend: Backend) {
    let s = school_of(backend, "Б").await;
    let roster: Vec<i64> = s
        .app
        .get_as(&s.teacher, &format!("/api/v1/classes/{}/students", s.class))
        .await
        .json()["items"]
        .as_array()
        .map(|i| i.iter().map(|s| num(&s["id"])).collect())
        .unwrap_or_default();
    let (a, b, c) = (roster[0], roster[1], roster[2]);
    let created = s
        .app
        .post_as(
            &s.teacher,
            &format!("/api/v1/classes/{}/lessons", s.class),
            &json!({"date": "2026-11-23", "number": 1, "subject_id": s.subject}),
        )
        .await
        .json();
    let oral = work_types(&created)[0];
    let g = |id: &str, student: i64, value: i64| json!({"client_id": id, "student_id": student, "work_type_id": oral, "value": value});
    let graded = s
        .app
        .call(
            TestRequest::post()
                .uri(&format!("/api/v1/lessons/{}/grades", num(&created["id"])))
                .insert_header(("Authorization", format!("Bearer {}", s.teacher)))
                .insert_header(("Idempotency-Key", "term-grades"))
                .set_json(json!({"grades": [
                    g("a1", a, 5), g("a2", a, 5), g("a3", a, 4),
                    g("b1", b, 3), g("b2", b, 4),
                    g("c1", c, 2), g("c2", c, 3), g("c3", c, 3)
                ]})),
        )
        .await;
    assert_eq!(
        graded.status,
        201,
        "{}",
        String::from_utf8_lossy(&graded.body)
    );

    let path = format!("/api/v1/classes/{}/final-grades", s.class);
    let sheet_of = |reply: Reply| {
        let body = reply.json();
        let rows = body["rows"].as_array().cloned().unwrap_or_default();
        move |student: i64| {
            rows.iter()
                .find(|r| num(&r["student_id"]) == student)
                .cloned()
                .unwrap_or_else(|| panic!("no row for {student}"))
        }
    };
    let query = format!("{path}?subject_id={}&term_id={}", s.subject, s.term);
    let sheet = sheet_of(s.app.get_as(&s.teacher, &query).await);
    assert_eq!(
        (
            sheet(a)["average"].clone(),
            sheet(a)["suggested"]["grade"].clone()
        ),
        (json!("4.67"), json!(5))
    );
    assert_eq!(sheet(b)["suggested"]["reason"], "not_enough_grades");
    assert_eq!(
        (
            sheet(c)["average"].clone(),
            sheet(c)["suggested"]["grade"].clone()
        ),
        (json!("2.67"), json!(3))
    );
    assert!(sheet(a)["grade"].is_null());

    let set = |token: String, body: Value| {
        let s = &s;
        let path = path.clone();
        async move { s.put(&token, &path, &body).await }
    };
    let body =
        |grades: Value| json!({"subject_id": s.subject, "term_id": s.term, "grades": grades});
    let bad = set(
        s.teacher.clone(),
        body(json!([{"student_id": a, "grade": 6}, {"student_id": 987_654, "grade": 4}, {"student_id": c, "grade": 3}])),
    )
    .await;
    let problem = bad.assert_problem(422, "validation_failed");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(fields, vec!["grades[0].grade", "grades[1].student_id"]);
    let unchanged = sheet_of(s.app.get_as(&s.teacher, &query).await);
    assert!(unchanged(c)["grade"].is_null(), "nothing half written");

    let done = set(
        s.teacher.clone(),
        body(json!([{"student_id": a, "grade": 5}, {"student_id": c, "grade": 3}])),
    )
    .await;
    assert_eq!(done.status, 200, "{}", String::from_utf8_lossy(&done.body));
    let sheet = sheet_of(done);
    assert_eq!(
        (sheet(a)["grade"].clone(), sheet(c)["grade"].clone()),
        (json!(5), json!(3))
    );

    // The year grade is suggested once every term has its grade; it can be set all the same.
    let year = set(
        s.teacher.clone(),
        json!({"subject_id": s.subject, "year": true, "grades": [{"student_id": a, "grade": 5}]}),
    )
    .await;
    assert_eq!(year.status, 200, "{}", String::from_utf8_lossy(&year.body));
    let year = year.json();
    assert!(year["term"].is_null());
    let row_a = year["rows"]
        .as_array()
        .and_then(|r| r.iter().find(|r| num(&r["student_id"]) == a))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (row_a["grade"].clone(), row_a["average"].clone()),
        (json!(5), json!("5.00"))
    );
    assert_eq!(
        row_a["suggested"]["reason"], "not_enough_grades",
        "one term of four"
    );

    // Parents never see the class's table.
    let (parent, _) = s.app.tokens("demo-parent").await;
    s.app
        .get_as(&parent, &query)
        .await
        .assert_problem(403, "forbidden");

    // A locked term: the teacher is refused, the administration needs a reason.
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
    assert_eq!(
        s.app.get_as(&s.teacher, &query).await.json()["locked"],
        true
    );
    set(
        s.teacher.clone(),
        body(json!([{"student_id": a, "grade": 4}])),
    )
    .await
    .assert_problem(409, "conflict");
    let no_reason = set(
        s.admin.clone(),
        body(json!([{"student_id": a, "grade": 4}])),
    )
    .await;
    assert_eq!(
        no_reason.assert_problem(422, "validation_failed")["errors"][0]["field"],
        "reason"
    );
    let mut with_reason = body(json!([{"student_id": a, "grade": 4}]));
    with_reason["reason"] = json!("Апелляция");
    let changed = set(s.admin.clone(), with_reason).await;
    assert_eq!(changed.status, 200);
    let audit = s
        .app
        .get_as(
            &s.admin,
            &format!("/api/v1/schools/{}/audit-events?limit=200", s.school),
        )
        .await
        .json();
    let appeal = audit["items"]
        .as_array()
        .and_then(|i| {
            i.iter()
                .find(|e| e["action"] == "final_grade.set" && e["details"]["reason"] == "Апелляция")
        })
        .cloned()
        .unwrap_or_else(|| panic!("not audited: {audit}"));
    assert_eq!(
        (
            appeal["details"]["old"].clone(),
            appeal["details"]["new"].clone()
        ),
        (json!(5), json!(4))
    );
}

async fn a_school_adds_scales_and_work_types_that_teachers_grade_with(backend: Backend) {
    let s = school_of(backend, "Б").await;
    let grading = format!("/api/v1/schools/{}/grading", s.school);
    let before = s.app.get_as(&s.admin, &grading).await.json();
    assert_eq!(
        before["scales"].as_array().map(Vec::len),
        Some(2),
        "{before}"
    );
    s.app
        .get_as(&s.teacher, &grading)
        .await
        .assert_problem(403, "forbidden");

    let scales = format!("/api/v1/schools/{}/grade-scales", s.school);
    let ten = s
        .app
        .post_as(
            &s.admin,
            &scales,
            &json!({"name": "Десятибалльная", "min_points": 1, "max_points": 10}),
        )
        .await;
    assert_eq!(ten.status, 201, "{}", String::from_utf8_lossy(&ten.body));
    let ten = ten.json();
    assert_eq!(
        (
            ten["kind"].clone(),
            ten["max_points"].clone(),
            ten["averaged"].clone()
        ),
        (json!("points"), json!(10), json!(false))
    );
    s.app
        .post_as(
            &s.admin,
            &scales,
            &json!({"name": "Десятибалльная", "min_points": 1, "max_points": 10}),
        )
        .await
        .assert_problem(409, "conflict");
    let reversed = s
        .app
        .post_as(
            &s.admin,
            &scales,
            &json!({"name": "Наоборот", "min_points": 5, "max_points": 5}),
        )
        .await;
    assert_eq!(
        reversed.assert_problem(422, "validation_failed")["errors"][0]["field"],
        "max_points"
    );
    s.app
        .post_as(
            &s.teacher,
            &scales,
            &json!({"name": "Своя", "min_points": 1, "max_points": 3}),
        )
        .await
        .assert_problem(403, "forbidden");

    let work_types = format!("/api/v1/schools/{}/work-types", s.school);
    let project = s
        .app
        .post_as(
            &s.admin,
            &work_types,
            &json!({"name": "Проект", "weight": 4}),
        )
        .await;
    assert_eq!(
        project.status,
        201,
        "{}",
        String::from_utf8_lossy(&project.body)
    );
    let project = project.json();
    let heavy = s
        .app
        .post_as(
            &s.admin,
            &work_types,
            &json!({"name": "Тяжёлая", "weight": 11}),
        )
        .await;
    assert_eq!(
        heavy.assert_problem(422, "validation_failed")["errors"][0]["field"],
        "weight"
    );

    // Teachers find them in the lesson and grade with them.
    let lesson = s
        .app
        .post_as(
            &s.teacher,
            &format!("/api/v1/classes/{}/lessons", s.class),
            &json!({"date": "2026-11-23", "number": 3, "subject_id": s.subject}),
        )
        .await
        .json();
    assert!(
        lesson["scales"]
            .as_array()
            .is_some_and(|sc| sc.iter().any(|x| x["id"] == ten["id"]))
    );
    assert!(lesson["work_types"].as_array().is_some_and(|w| {
        w.iter()
            .any(|x| x["id"] == project["id"] && x["weight"] == 4)
    }));
    let student = num(&s
        .app
        .get_as(&s.teacher, &format!("/api/v1/classes/{}/students", s.class))
        .await
        .json()["items"][0]["id"]);
    let grade = |key: &str, value: i64| {
        let s = &s;
        let key = key.to_owned();
        let lesson = lesson.clone();
        let (ten, project) = (ten.clone(), project.clone());
        async move {
            s.app
                .call(
                    TestRequest::post()
                        .uri(&format!("/api/v1/lessons/{}/grades", num(&lesson["id"])))
                        .insert_header(("Authorization", format!("Bearer {}", s.teacher)))
                        .insert_header(("Idempotency-Key", key.clone()))
                        .set_json(json!({"grades": [{"client_id": key, "student_id": student,
                            "work_type_id": project["id"], "scale_id": ten["id"], "value": value}]})),
                )
                .await
        }
    };
    let off = grade("eleven", 11).await;
    assert_eq!(
        off.assert_problem(422, "validation_failed")["errors"][0]["field"],
        "grades[0].value"
    );
    let nine = grade("nine", 9).await;
    assert_eq!(nine.status, 201, "{}", String::from_utf8_lossy(&nine.body));
    let diary = s
        .app
        .get_as(
            &s.admin,
            &format!("/api/v1/students/{student}/diary?from=2026-11-23&to=2026-11-23"),
        )
        .await
        .json();
    let shown = diary["days"][0]["lessons"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["id"] == lesson["id"]))
        .map(|l| l["grades"][0].clone())
        .unwrap_or_default();
    assert_eq!(
        (
            shown["value"].clone(),
            shown["weight"].clone(),
            shown["averaged"].clone()
        ),
        (json!(9), json!(4), json!(false))
    );
    s.inconsistencies();
    let averages = s
        .app
        .get_as(
            &s.admin,
            &format!("/api/v1/students/{student}/averages?term_id={}", s.term),
        )
        .await
        .json();
    assert_eq!(
        averages["subjects"],
        json!([]),
        "a 10-point grade is not averaged with 5-point ones"
    );
}

/// The ids of a class's students (as the administration sees them), by name.
async fn class_roster(s: &School, class: i64) -> Vec<i64> {
    s.app
        .get_as(&s.admin, &format!("/api/v1/classes/{class}/students"))
        .await
        .json()["items"]
        .as_array()
        .map(|items| items.iter().map(|r| num(&r["id"])).collect())
        .unwrap_or_default()
}

fn class_id(s: &School, level: i16, letter: &str) -> i64 {
    use diesel::prelude::*;
    use persistence::schema::classes;
    let mut conn = s.app.pool().get().unwrap_or_else(|e| panic!("{e}"));
    classes::table
        .filter(classes::school_id.eq(s.school))
        .filter(classes::grade_level.eq(level))
        .filter(classes::letter.eq(letter))
        .select(classes::id)
        .first(&mut conn)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// (student, position, average, class name) of each row of a ranking page.
fn ranking_rows(page: &Value) -> Vec<(i64, Value, Value, String)> {
    page["rows"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    (
                        num(&r["student_id"]),
                        r["position"].clone(),
                        r["average"].clone(),
                        r["class_name"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn a_school_sets_its_rounding_rule_and_teachers_read_the_school_ranking(backend: Backend) {
    let s = school_of(backend, "А").await;
    let term = s.term3();
    let maths = s.subject_named("Математика");
    let (c5a, c5b, c7v) = (s.class, class_id(&s, 5, "Б"), class_id(&s, 7, "В"));
    let (r5a, r5b, r7v) = (
        class_roster(&s, c5a).await,
        class_roster(&s, c5b).await,
        class_roster(&s, c7v).await,
    );
    let enrolled = r5a.len() + r5b.len() + r7v.len();
    let (a5, b5, v7, w7) = (r5a[0], r5b[0], r7v[0], r7v[1]);
    let g = |id: String, student: i64, work_type: i64, value: i64| json!({"client_id": id, "student_id": student, "work_type_id": work_type, "value": value});
    // a5: 11/3 = 3.67; b5: 14/3 = 4.67; v7: 14/4 = 3.50; w7: 5.00.
    for (class, grades) in [
        (c5a, vec![(a5, vec![4, 4, 3])]),
        (c5b, vec![(b5, vec![5, 5, 4])]),
        (c7v, vec![(v7, vec![4, 3, 4, 3]), (w7, vec![5, 5, 5])]),
    ] {
        let lesson = s.admin_lesson_in(class, maths, "2027-01-20").await;
        let oral = lesson["work_types"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["weight"] == 1))
            .map(|t| num(&t["id"]))
            .unwrap_or_else(|| panic!("no oral answer"));
        let body: Vec<Value> = grades
            .iter()
            .flat_map(|(student, values)| {
                values
                    .iter()
                    .enumerate()
                    .map(move |(i, v)| g(format!("{student}-{i}"), *student, oral, *v))
            })
            .collect();
        let reply = s
            .admin_grades(&lesson, &format!("k{class}"), Value::Array(body))
            .await;
        assert_eq!(
            reply.status,
            201,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
    }

    // The full school table, for a teacher of the school, best first, with classes.
    let ranking = |query: String| {
        let s = &s;
        async move {
            s.app
                .get_as(
                    &s.teacher,
                    &format!(
                        "/api/v1/schools/{}/ranking?term_id={term}&{query}",
                        s.school
                    ),
                )
                .await
        }
    };
    let page = ranking("limit=200".to_owned()).await;
    assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
    let page = page.json();
    assert_eq!(page["out_of"], 4);
    let rows = ranking_rows(&page);
    assert_eq!(
        rows[..4].to_vec(),
        vec![
            (w7, json!(1), json!("5.00"), "7В".to_owned()),
            (b5, json!(2), json!("4.67"), "5Б".to_owned()),
            (a5, json!(3), json!("3.67"), "5А".to_owned()),
            (v7, json!(4), json!("3.50"), "7В".to_owned()),
        ]
    );
    assert!(rows[4..].iter().all(|r| r.1.is_null() && r.2.is_null()));
    assert_eq!(rows.len(), enrolled, "every enrolled student, once");
    assert!(page["next_cursor"].is_null());

    // Pages of two: the first two, then the next two, and so on.
    let first = ranking("limit=2".to_owned()).await.json();
    assert_eq!(
        ranking_rows(&first).iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![w7, b5]
    );
    let cursor = first["next_cursor"].as_str().unwrap_or_default().to_owned();
    let second = ranking(format!("limit=2&cursor={cursor}")).await.json();
    assert_eq!(
        ranking_rows(&second)
            .iter()
            .map(|r| (r.0, r.1.clone()))
            .collect::<Vec<_>>(),
        vec![(a5, json!(3)), (v7, json!(4))]
    );

    // One grade level; one subject.
    let fifth = ranking("grade_level=5&limit=200".to_owned()).await.json();
    let fifth_rows = ranking_rows(&fifth);
    assert_eq!(fifth["out_of"], 2);
    assert_eq!(
        fifth_rows[..2]
            .iter()
            .map(|r| (r.0, r.1.clone()))
            .collect::<Vec<_>>(),
        vec![(b5, json!(1)), (a5, json!(2))]
    );
    assert_eq!(fifth_rows.len(), r5a.len() + r5b.len());
    assert!(fifth_rows.iter().all(|r| r.3.starts_with('5')));
    let by_maths = ranking(format!("subject_id={maths}&limit=4")).await.json();
    assert_eq!(by_maths["subject_id"], maths);
    assert_eq!(
        ranking_rows(&by_maths)
            .iter()
            .map(|r| r.0)
            .collect::<Vec<_>>(),
        vec![w7, b5, a5, v7]
    );
    for (query, field) in [
        ("subject_id=987654".to_owned(), "subject_id"),
        ("grade_level=12".to_owned(), "grade_level"),
        ("cursor=later".to_owned(), "cursor"),
        ("limit=0".to_owned(), "limit"),
    ] {
        let refused = ranking(query).await;
        assert_eq!(
            refused.assert_problem(422, "validation_failed")["errors"][0]["field"],
            field
        );
    }

    // A parent never reads the table; the student's own rank gives class, level and school.
    let (parent, _) = s.app.tokens("demo-parent").await;
    s.app
        .get_as(&parent, &format!("/api/v1/schools/{}/ranking", s.school))
        .await
        .assert_problem(403, "forbidden");
    let rank = s
        .app
        .get_as(
            &s.admin,
            &format!("/api/v1/students/{v7}/rank?term_id={term}"),
        )
        .await
        .json();
    let place = |which: &str| {
        (
            rank[which]["position"].clone(),
            rank[which]["out_of"].clone(),
        )
    };
    assert_eq!(place("class"), (json!(2), json!(2)));
    assert_eq!(place("grade_level"), (json!(2), json!(2)));
    assert_eq!(place("school"), (json!(4), json!(4)));

    // The school's rule: x.50 rounds up and three grades suffice, until it says otherwise.
    let suggested = |student: i64| {
        let s = &s;
        async move {
            s.app
                .get_as(
                    &s.admin,
                    &format!("/api/v1/students/{student}/averages?term_id={term}"),
                )
                .await
                .json()["subjects"][0]["suggested"]
                .clone()
        }
    };
    let grading = format!("/api/v1/schools/{}/grading", s.school);
    assert_eq!(
        s.app.get_as(&s.admin, &grading).await.json()["rule"],
        json!({"threshold": 50, "min_grades": 3})
    );
    assert_eq!(suggested(v7).await["grade"], 4);
    let rule_path = format!("{grading}/rule");
    for (body, field) in [
        (json!({"threshold": 0, "min_grades": 3}), "threshold"),
        (json!({"threshold": 101, "min_grades": 3}), "threshold"),
        (json!({"threshold": 50, "min_grades": 0}), "min_grades"),
        (json!({"threshold": 50, "min_grades": 21}), "min_grades"),
    ] {
        let refused = s.put(&s.admin, &rule_path, &body).await;
        assert_eq!(
            refused.assert_problem(422, "validation_failed")["errors"][0]["field"],
            field,
            "{body}"
        );
    }
    s.put(
        &s.teacher,
        &rule_path,
        &json!({"threshold": 60, "min_grades": 4}),
    )
    .await
    .assert_problem(403, "forbidden");
    assert_eq!(
        suggested(v7).await["grade"],
        4,
        "nothing refused was applied"
    );

    let set = s
        .put(
            &s.admin,
            &rule_path,
            &json!({"threshold": 60, "min_grades": 4}),
        )
        .await;
    assert_eq!(set.status, 200, "{}", String::from_utf8_lossy(&set.body));
    assert_eq!(set.json(), json!({"threshold": 60, "min_grades": 4}));
    // 3.50 no longer rounds up; three grades are too few now, for a suggestion and a rank.
    assert_eq!(suggested(v7).await["grade"], 3);
    assert_eq!(
        suggested(a5).await,
        json!({"grade": null, "reason": "not_enough_grades"})
    );
    let now = ranking("limit=1".to_owned()).await.json();
    assert_eq!(now["out_of"], 1);
    assert_eq!(now["rule"], json!({"threshold": 60, "min_grades": 4}));
    assert_eq!(ranking_rows(&now)[0].0, v7);

    // A grade shows in the next ranking at once (what was computed before is not kept).
    let lesson = s.admin_lesson_in(c5a, maths, "2027-01-21").await;
    let oral = lesson["work_types"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["weight"] == 1))
        .map(|t| num(&t["id"]))
        .unwrap_or_else(|| panic!("no oral answer"));
    let fourth = s
        .admin_grades(
            &lesson,
            "fourth",
            json!([g("a5-4".to_owned(), a5, oral, 5)]),
        )
        .await;
    assert_eq!(
        fourth.status,
        201,
        "{}",
        String::from_utf8_lossy(&fourth.body)
    );
    // a5: (4 + 4 + 3 + 5) / 4 = 4.00, now with four grades.
    let after = ranking("limit=2".to_owned()).await.json();
    assert_eq!(after["out_of"], 2);
    assert_eq!(
        ranking_rows(&after)
            .iter()
            .map(|r| (r.0, r.1.clone(), r.2.clone()))
            .collect::<Vec<_>>(),
        vec![(a5, json!(1), json!("4.00")), (v7, json!(2), json!("3.50"))]
    );
    let own = s
        .app
        .get_as(
            &s.admin,
            &format!("/api/v1/students/{v7}/rank?term_id={term}"),
        )
        .await
        .json();
    assert_eq!(own["school"]["position"], 2);

    let audit = s
        .app
        .get_as(
            &s.admin,
            &format!("/api/v1/schools/{}/audit-events?limit=200", s.school),
        )
        .await
        .json();
    let entry = audit["items"]
        .as_array()
        .and_then(|items| items.iter().find(|e| e["action"] == "grading_rule.set"))
        .cloned()
        .unwrap_or_else(|| panic!("no audit entry: {audit}"));
    assert_eq!(
        entry["details"],
        json!({"old": {"round_up_from": 50, "min_grades": 3},
               "new": {"round_up_from": 60, "min_grades": 4}})
    );
}
