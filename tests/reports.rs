//! The administration's reports through HTTP, on a small school whose figures are worked out
//! by hand below: the academic report, the class summary sheet, attendance, the activity
//! indicators, a municipality's schools side by side, the CSV form, and who may read them.

use actix_web::test::TestRequest;
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::{ClassId, SchoolId, SubjectId, UserId};
use persistence::journal::{self, NewLesson};
use persistence::people::{Role, RoleScope};
use persistence::schema::{lessons, login_events, timetable_slots};
use persistence::schools;
use serde_json::{Value, json};

use crate::roster_import::{School, add_school, day, must, person, sample, school};
use crate::support::app::Reply;
use crate::support::{Backend, on_both_backends};

on_both_backends!(
    the_academic_reports_give_the_figures_worked_out_by_hand,
    the_activity_indicators_count_as_documented,
    a_municipality_sees_its_schools_side_by_side,
    reports_are_for_the_administration_only,
    the_class_journal_exports_for_the_archive,
);

/// The fixture, on top of the sample roster (5А: Белова, Кузнецов, Орлов; 6Б: Лебедева,
/// Соловьёв), in the week of 9-15 November 2026:
///
/// | lesson | class, subject | grades (weight 1) | attendance | plan | first entry |
/// |---|---|---|---|---|---|
/// | 0 | 5А maths, Tue 10th | Орлов 5, Белова 3, Кузнецов 2 | Кузнецов absent, Белова late | topic | 10th 09:00 (online) |
/// | 1 | 5А maths, Wed 11th | Орлов 5, Белова 3, Кузнецов 2 | Кузнецов sick | homework | 13th 10:00 (late) |
/// | 2 | 5А maths, Thu 12th | Орлов 4, Белова 2, Кузнецов 3 | | | 13th 23:59 (online) |
/// | 3 | 5А Russian, Tue 10th | Орлов 4 | | | 20th (late) |
/// | 4 | 6Б maths, Tue 10th | | Лебедева sick | topic | 11th 12:00 (online) |
///
/// Belova's maths term grade is set to 4 (her average 8/3 suggests 3).
struct Fixture {
    s: School,
    class_5a: i64,
    maths: i64,
    teacher: i64,
    teacher_token: String,
    /// Students by last name.
    students: Vec<(String, i64)>,
    parent_token: String,
}

impl Fixture {
    fn student(&self, last: &str) -> i64 {
        self.students
            .iter()
            .find(|(name, _)| name == last)
            .map(|(_, id)| *id)
            .unwrap_or_else(|| panic!("no {last}"))
    }

    fn at(&self, rest: &str) -> String {
        format!("/api/v1/schools/{}/reports/{rest}", self.s.id)
    }

    async fn get(&self, rest: &str) -> Value {
        let reply = self.s.app.get_as(&self.s.admin, &self.at(rest)).await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.json()
    }

    async fn csv(&self, token: &str, path: &str) -> Reply {
        self.s
            .app
            .call(
                TestRequest::get()
                    .uri(path)
                    .insert_header(("Authorization", format!("Bearer {token}")))
                    .insert_header(("Accept", "text/csv")),
            )
            .await
    }
}

/// Class, subject, day of November, number, topic, homework.
type PlannedLesson<'a> = (i64, SubjectId, u32, i16, Option<&'a str>, Option<&'a str>);

fn at(d: u32, h: u32, m: u32) -> NaiveDateTime {
    day(2026, 11, d)
        .and_hms_opt(h, m, 0)
        .unwrap_or_else(|| panic!("bad time"))
}

async fn fixture(backend: Backend) -> Fixture {
    let s = school(backend).await;
    let reply = s.import(&sample()).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let accounts = reply.json()["accounts"].clone();
    let code_of = |external: &str| {
        accounts
            .as_array()
            .and_then(|a| a.iter().find(|x| x["external_id"] == external))
            .and_then(|x| x["activation_code"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    // Two of the eight new accounts are activated.
    let mut parent_token = String::new();
    for (external, password) in [
        ("S-001", "student-password-1"),
        ("P-01", "parent-password-1"),
    ] {
        let reply = s
            .app
            .post_as(
                "",
                "/api/v1/auth/activate",
                &json!({"code": code_of(external), "password": password}),
            )
            .await;
        assert_eq!(reply.status, 200);
        parent_token = reply.json()["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
    }
    let school_id = SchoolId(s.id);
    let (teacher, teacher_token) = person(
        &s.app,
        "school7-teacher",
        Role::Teacher,
        RoleScope::School(school_id),
    )
    .await;
    let class_5a = s.class("5А");
    let class_6b = s.class("6Б");
    let mut conn = must(s.app.pool().get());
    let maths = must(schools::insert_subject(
        &mut conn,
        school_id,
        &must(domain::Name::parse("Математика")),
    ));
    let russian = must(schools::insert_subject(
        &mut conn,
        school_id,
        &must(domain::Name::parse("Русский язык")),
    ));
    let students: Vec<(String, i64)> = must(
        persistence::schema::students::table
            .filter(persistence::schema::students::school_id.eq(s.id))
            .select((
                persistence::schema::students::last_name,
                persistence::schema::students::id,
            ))
            .load(&mut conn),
    );
    let plan: [PlannedLesson<'_>; 5] = [
        (class_5a, maths, 10, 1, Some("Дроби"), None),
        (class_5a, maths, 11, 1, None, Some("№ 5")),
        (class_5a, maths, 12, 1, None, None),
        (class_5a, russian, 10, 2, None, None),
        (class_6b, maths, 10, 1, Some("Уравнения"), None),
    ];
    let mut ids = Vec::new();
    for (class, subject, d, number, topic, homework) in plan {
        let lesson = must(journal::insert_lesson(
            &mut conn,
            &NewLesson {
                school: school_id,
                class: ClassId(class),
                subject,
                teacher: UserId(teacher),
                date: day(2026, 11, d),
                number,
                room: None,
                topic,
                homework,
                group: None,
                at: Utc::now().naive_utc(),
            },
        ));
        ids.push(lesson.id);
    }
    let work_type = must(journal::work_types(&mut conn, school_id))
        .into_iter()
        .find(|w| w.weight == 1)
        .map(|w| w.id)
        .unwrap_or_else(|| panic!("no weight-1 work type"));
    // A timetable for 5А only.
    must(
        diesel::insert_into(timetable_slots::table)
            .values((
                timetable_slots::school_id.eq(s.id),
                timetable_slots::class_id.eq(class_5a),
                timetable_slots::subject_id.eq(maths.get()),
                timetable_slots::teacher_user_id.eq(teacher),
                timetable_slots::weekday.eq(2_i16),
                timetable_slots::number.eq(1_i16),
                timetable_slots::weeks.eq("every"),
                timetable_slots::created_at.eq(Utc::now().naive_utc()),
            ))
            .execute(&mut conn),
    );
    drop(conn);
    let mut f = Fixture {
        s,
        class_5a,
        maths: maths.get(),
        teacher,
        teacher_token,
        students,
        parent_token,
    };
    let grades: [(usize, &[(&str, u8)]); 4] = [
        (0, &[("Орлов", 5), ("Белова", 3), ("Кузнецов", 2)]),
        (1, &[("Орлов", 5), ("Белова", 3), ("Кузнецов", 2)]),
        (2, &[("Орлов", 4), ("Белова", 2), ("Кузнецов", 3)]),
        (3, &[("Орлов", 4)]),
    ];
    for (lesson, list) in grades {
        let body = json!({"grades": list.iter().enumerate().map(|(i, (who, value))| json!({
            "client_id": format!("fixture-{lesson}-{i}"),
            "student_id": f.student(who),
            "work_type_id": work_type,
            "value": value,
        })).collect::<Vec<_>>()});
        let reply =
            f.s.app
                .call(
                    TestRequest::post()
                        .uri(&format!("/api/v1/lessons/{}/grades", ids[lesson]))
                        .insert_header(("Authorization", format!("Bearer {}", f.s.admin)))
                        .insert_header(("Idempotency-Key", format!("fixture-{lesson}")))
                        .set_json(body),
                )
                .await;
        assert_eq!(
            reply.status,
            201,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
    }
    let marks: [(usize, &[(&str, &str)]); 3] = [
        (0, &[("Кузнецов", "absent"), ("Белова", "late")]),
        (1, &[("Кузнецов", "sick")]),
        (4, &[("Лебедева", "sick")]),
    ];
    for (lesson, list) in marks {
        let body = json!({"marks": list.iter().map(|(who, mark)| json!({
            "student_id": f.student(who), "mark": mark,
        })).collect::<Vec<_>>()});
        let reply =
            f.s.app
                .send_as(
                    &f.s.admin,
                    actix_web::http::Method::PUT,
                    &format!("/api/v1/lessons/{}/attendance", ids[lesson]),
                    Some(&body),
                )
                .await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
    }
    let reply =
        f.s.app
            .send_as(
                &f.s.admin,
                actix_web::http::Method::PUT,
                &format!("/api/v1/classes/{}/final-grades", f.class_5a),
                Some(&json!({"subject_id": f.maths, "term_id": f.s.term,
                          "grades": [{"student_id": f.student("Белова"), "grade": 4}]})),
            )
            .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    // When the first entries were made, and who logged in that week.
    let mut conn = must(f.s.app.pool().get());
    let entries = [
        at(10, 9, 0),
        at(13, 10, 0),
        at(13, 23, 59),
        at(20, 8, 0),
        at(11, 12, 0),
    ];
    for (id, first) in ids.iter().zip(entries) {
        must(
            diesel::update(lessons::table.filter(lessons::id.eq(id)))
                .set(lessons::first_entry_at.eq(Some(first)))
                .execute(&mut conn),
        );
    }
    for (user, when) in [
        (f.s.admin_id, at(10, 8, 0)),
        (f.s.admin_id, at(12, 8, 0)),
        (f.teacher, at(11, 7, 30)),
        (f.teacher, at(16, 7, 30)),
    ] {
        must(
            diesel::insert_into(login_events::table)
                .values((
                    login_events::user_id.eq(user),
                    login_events::logged_in_at.eq(when),
                ))
                .execute(&mut conn),
        );
    }
    drop(conn);
    f.students.sort();
    f
}

/// A CSV answer's text: 200, `text/csv`, starting with the UTF-8 byte-order mark (left off).
fn csv_text(reply: &Reply) -> String {
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(
        reply.header("content-type"),
        Some("text/csv; charset=utf-8")
    );
    assert!(reply.body.starts_with(&[0xEF, 0xBB, 0xBF]), "no BOM");
    must(String::from_utf8(reply.body[3..].to_vec()))
}

fn figures(v: &Value) -> Value {
    let keys = [
        "students",
        "assessed",
        "passed",
        "pass_rate",
        "good",
        "quality_rate",
        "average",
        "grades",
        "grades_per_student",
    ];
    Value::Object(
        keys.iter()
            .map(|k| ((*k).to_owned(), v[*k].clone()))
            .collect(),
    )
}

async fn the_academic_reports_give_the_figures_worked_out_by_hand(backend: Backend) {
    let f = fixture(backend).await;
    let report = f.get(&format!("academic?term_id={}", f.s.term)).await;
    assert_eq!(report["term"]["name"], "2 четверть");
    let classes = report["classes"].as_array().cloned().unwrap_or_default();
    assert_eq!(classes.len(), 2);
    assert_eq!(classes[0]["class"], "5А");
    assert_eq!(classes[0]["students"], 3);
    let subjects = classes[0]["subjects"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(subjects[0]["subject"], "Математика");
    // Results: Орлов 5 (14/3), Белова 4 (set; 8/3), Кузнецов 2 (7/3).
    assert_eq!(
        figures(&subjects[0]),
        json!({"students": 3, "assessed": 3, "passed": 2, "pass_rate": 66.67, "good": 2,
               "quality_rate": 66.67, "average": 3.22, "grades": 9, "grades_per_student": 3.0})
    );
    // One grade only: nobody is assessed.
    assert_eq!(subjects[1]["subject"], "Русский язык");
    assert_eq!(
        figures(&subjects[1]),
        json!({"students": 3, "assessed": 0, "passed": 0, "pass_rate": null, "good": 0,
               "quality_rate": null, "average": 4.0, "grades": 1, "grades_per_student": 0.33})
    );
    assert_eq!(classes[1]["class"], "6Б");
    assert_eq!(
        figures(&classes[1]["subjects"][0]),
        json!({"students": 2, "assessed": 0, "passed": 0, "pass_rate": null, "good": 0,
               "quality_rate": null, "average": null, "grades": 0, "grades_per_student": 0.0})
    );
    // Over the school's 8 student-subject pairs: mean of 14/3, 8/3, 7/3, 4 = 41/12.
    assert_eq!(
        figures(&report["totals"]),
        json!({"students": 8, "assessed": 3, "passed": 2, "pass_rate": 66.67, "good": 2,
               "quality_rate": 66.67, "average": 3.42, "grades": 10, "grades_per_student": 1.25})
    );

    // The same report as CSV: BOM, `;`, decimal comma, Cyrillic intact.
    let reply = f
        .csv(&f.s.admin, &f.at(&format!("academic?term_id={}", f.s.term)))
        .await;
    let text = csv_text(&reply);
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "class;subject;students;assessed;passed;pass_rate;good;quality_rate;average;grades;grades_per_student"
    );
    assert_eq!(lines[1], "5А;Математика;3;3;2;66,67;2;66,67;3,22;9;3,00");
    assert_eq!(lines[2], "5А;Русский язык;3;0;0;;0;;4,00;1;0,33");
    assert_eq!(lines[4], "total;;8;3;2;66,67;2;66,67;3,42;10;1,25");

    // The class summary sheet.
    let sheet = f
        .get(&format!(
            "class-summary?term_id={}&class_id={}",
            f.s.term, f.class_5a
        ))
        .await;
    let names: Vec<&str> = sheet["subjects"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["subject"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["Математика", "Русский язык"]);
    let rows = sheet["students"].as_array().cloned().unwrap_or_default();
    let row_of = |name: &str| {
        rows.iter()
            .find(|r| r["name"].as_str().is_some_and(|n| n.starts_with(name)))
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {sheet}"))
    };
    assert_eq!(
        row_of("Белова")["cells"][0],
        json!({"subject_id": f.maths, "average": 2.67, "grades": 3, "term_grade": 4, "suggested": 3})
    );
    assert_eq!(
        row_of("Орлов")["cells"][1]["average"],
        json!(4.0),
        "{sheet}"
    );
    assert_eq!(row_of("Орлов")["cells"][1]["suggested"], Value::Null);
    let reply = f
        .csv(
            &f.s.admin,
            &f.at(&format!(
                "class-summary?term_id={}&class_id={}",
                f.s.term, f.class_5a
            )),
        )
        .await;
    let text = csv_text(&reply);
    assert!(
        text.starts_with("student;Математика: average;Математика: term grade;Русский язык: average;Русский язык: term grade\r\n"),
        "{text}"
    );
    assert!(text.contains("\r\nБелова Анна;2,67;4;;\r\n"), "{text}");
    // A class of no school of the caller's: named.
    let reply =
        f.s.app
            .get_as(
                &f.s.admin,
                &f.at(&format!("class-summary?term_id={}", f.s.term)),
            )
            .await;
    assert_eq!(
        reply.assert_problem(422, "validation_failed")["errors"][0]["field"],
        "class_id"
    );

    // Attendance.
    let attendance = f.get(&format!("attendance?term_id={}", f.s.term)).await;
    assert_eq!(
        attendance["totals"],
        json!({"absent": 1, "absent_valid": 0, "sick": 2, "late": 1, "missed": 3})
    );
    let class_5a = &attendance["classes"][0];
    assert_eq!(class_5a["missed"], 2);
    let kuznetsov = class_5a["students"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["student_id"] == f.student("Кузнецов")))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (
            kuznetsov["absent"].clone(),
            kuznetsov["sick"].clone(),
            kuznetsov["missed"].clone()
        ),
        (json!(1), json!(1), json!(2))
    );
    let reply = f
        .csv(
            &f.s.admin,
            &f.at(&format!("attendance?term_id={}", f.s.term)),
        )
        .await;
    let text = csv_text(&reply);
    assert!(
        text.contains("\r\n5А;Кузнецов Иван;2;1;0;1;0\r\n"),
        "{text}"
    );
    assert!(text.ends_with("total;;3;1;0;2;1\r\n"), "{text}");
}

fn indicators(list: &Value) -> Vec<(String, u64, u64, Value, bool)> {
    list.as_array()
        .map(|a| {
            a.iter()
                .map(|v| {
                    (
                        v["indicator"].as_str().unwrap_or_default().to_owned(),
                        v["part"].as_u64().unwrap_or(99),
                        v["whole"].as_u64().unwrap_or(99),
                        v["value"].clone(),
                        v["met"].as_bool().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn row(
    name: &str,
    part: u64,
    whole: u64,
    value: Value,
    met: bool,
) -> (String, u64, u64, Value, bool) {
    (name.to_owned(), part, whole, value, met)
}

async fn the_activity_indicators_count_as_documented(backend: Backend) {
    let f = fixture(backend).await;
    let report = f.get("activity?from=2026-11-09&to=2026-11-15").await;
    assert_eq!(
        indicators(&report["indicators"]),
        [
            // 5А has a timetable, 6Б has none.
            row("timetable_fullness", 1, 2, json!(50.0), false),
            // Topics or homework in lessons 0, 1 and 4.
            row("planning", 3, 5, json!(60.0), false),
            // Every lesson has a grade or a mark.
            row("journal_keeping", 5, 5, json!(100.0), true),
            // The admin, the teacher, S-001 and P-01 of the 10 accounts.
            row("activated_accounts", 4, 10, json!(40.0), false),
            // The admin (twice, counted once) and the teacher that week; the teacher's
            // login on the 16th is outside.
            row("unique_logins", 2, 4, json!(50.0), true),
            // Lessons 0, 2 and 4 got their first entry by the end of the next day.
            row("online_journal", 3, 5, json!(60.0), true),
        ]
    );
    let targets: Vec<u64> = report["indicators"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v["target"].as_u64()).collect())
        .unwrap_or_default();
    assert_eq!(targets, [100, 70, 70, 50, 10, 20]);
    assert_eq!(report["classes"][0]["class"], "5А");
    assert_eq!(
        indicators(&report["classes"][0]["indicators"]),
        [
            row("timetable_fullness", 1, 1, json!(100.0), true),
            row("planning", 2, 4, json!(50.0), false),
            row("journal_keeping", 4, 4, json!(100.0), true),
            row("online_journal", 2, 4, json!(50.0), true),
        ]
    );
    assert_eq!(report["teachers"][0]["teacher_id"], f.teacher);
    assert_eq!(report["teachers"][0]["name"], "school7-teacher");
    assert_eq!(
        indicators(&report["teachers"][0]["indicators"])[0],
        row("planning", 3, 5, json!(60.0), false)
    );
    // Two weeks: the teacher's second login counts in the second week.
    let two = f.get("activity?from=2026-11-09&to=2026-11-22").await;
    assert_eq!(
        indicators(&two["indicators"])[4],
        row("unique_logins", 3, 8, json!(37.5), true)
    );
    // CSV.
    let reply = f
        .csv(&f.s.admin, &f.at("activity?from=2026-11-09&to=2026-11-15"))
        .await;
    let text = csv_text(&reply);
    assert!(text.starts_with("scope;name;indicator;part;whole;value;target;met\r\nschool;;timetable_fullness;1;2;50,00;100;no\r\n"), "{text}");
    assert!(
        text.contains("\r\nclass;5А;planning;2;4;50,00;70;no\r\n"),
        "{text}"
    );
    // A bad range is named.
    for (query, field) in [
        ("activity?from=2026-11-15&to=2026-11-09", "to"),
        ("activity?from=2026-11-09", "to"),
        ("activity?from=9.11.2026&to=2026-11-15", "from"),
        ("activity?from=2016-11-09&to=2026-11-15", "to"),
    ] {
        let reply = f.s.app.get_as(&f.s.admin, &f.at(query)).await;
        assert_eq!(
            reply.assert_problem(422, "validation_failed")["errors"][0]["field"],
            field,
            "{query}"
        );
    }
}

async fn a_municipality_sees_its_schools_side_by_side(backend: Backend) {
    let f = fixture(backend).await;
    let (second, _, _) = add_school(&f.s.app, Some(f.s.municipality), "Школа № 9");
    let (_, muni) = person(
        &f.s.app,
        "muni-admin",
        Role::MunicipalityAdmin,
        RoleScope::Municipality(f.s.municipality),
    )
    .await;
    let path = format!(
        "/api/v1/municipalities/{}/reports/academic?on=2026-11-10",
        f.s.municipality.get()
    );
    let reply = f.s.app.get_as(&muni, &path).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let report = reply.json();
    let schools = report["schools"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = schools
        .iter()
        .filter_map(|s| s["school"].as_str())
        .collect();
    assert_eq!(names, ["Школа № 7", "Школа № 9"]);
    assert_eq!(schools[0]["term"]["name"], "2 четверть");
    assert_eq!(
        figures(&schools[0]["totals"]),
        json!({"students": 8, "assessed": 3, "passed": 2, "pass_rate": 66.67, "good": 2,
               "quality_rate": 66.67, "average": 3.42, "grades": 10, "grades_per_student": 1.25})
    );
    assert_eq!(schools[1]["school_id"], second.get());
    assert_eq!(schools[1]["totals"]["students"], 0);
    // The municipality also reads the school's own reports.
    let reply =
        f.s.app
            .get_as(&muni, &f.at(&format!("academic?term_id={}", f.s.term)))
            .await;
    assert_eq!(reply.status, 200);

    let activity =
        f.s.app
            .get_as(
                &muni,
                &format!(
                    "/api/v1/municipalities/{}/reports/activity?from=2026-11-09&to=2026-11-15",
                    f.s.municipality.get()
                ),
            )
            .await;
    assert_eq!(
        activity.status,
        200,
        "{}",
        String::from_utf8_lossy(&activity.body)
    );
    let activity = activity.json();
    assert_eq!(
        indicators(&activity["schools"][0]["indicators"])[2],
        row("journal_keeping", 5, 5, json!(100.0), true)
    );
    assert_eq!(
        indicators(&activity["schools"][1]["indicators"])[2],
        row("journal_keeping", 0, 0, Value::Null, false)
    );
    let reply = f
        .csv(
            &muni,
            &format!(
                "/api/v1/municipalities/{}/reports/academic?on=2026-11-10",
                f.s.municipality.get()
            ),
        )
        .await;
    let text = csv_text(&reply);
    assert!(
        text.contains("\r\nШкола № 7;2 четверть;8;3;2;66,67;2;66,67;3,42;10;1,25\r\n"),
        "{text}"
    );

    // Another municipality's administrator: as if it did not exist; a school's: refused.
    let other = {
        let mut conn = must(f.s.app.pool().get());
        must(schools::insert_municipality(&mut conn, "Другой округ"))
    };
    let (_, stranger) = person(
        &f.s.app,
        "other-muni-admin",
        Role::MunicipalityAdmin,
        RoleScope::Municipality(other),
    )
    .await;
    f.s.app
        .get_as(&stranger, &path)
        .await
        .assert_problem(404, "not_found");
    f.s.app
        .get_as(&stranger, &f.at(&format!("academic?term_id={}", f.s.term)))
        .await
        .assert_problem(404, "not_found");
    f.s.app
        .get_as(&f.s.admin, &path)
        .await
        .assert_problem(403, "forbidden");
}

async fn reports_are_for_the_administration_only(backend: Backend) {
    let f = fixture(backend).await;
    let paths = [
        f.at(&format!("academic?term_id={}", f.s.term)),
        f.at(&format!(
            "class-summary?term_id={}&class_id={}",
            f.s.term, f.class_5a
        )),
        f.at(&format!("attendance?term_id={}", f.s.term)),
        f.at("activity?from=2026-11-09&to=2026-11-15"),
    ];
    let (other_school, _, _) = add_school(&f.s.app, None, "Школа № 10");
    let (_, other_admin) = person(
        &f.s.app,
        "school10-admin",
        Role::SchoolAdmin,
        RoleScope::School(other_school),
    )
    .await;
    for path in &paths {
        f.s.app
            .get_as(&f.teacher_token, path)
            .await
            .assert_problem(403, "forbidden");
        f.s.app
            .get_as(&f.parent_token, path)
            .await
            .assert_problem(403, "forbidden");
        f.s.app
            .get_as(&other_admin, path)
            .await
            .assert_problem(404, "not_found");
        f.s.app.get(path).await.assert_problem(401, "unauthorized");
        // Refused as CSV too: the error stays a problem.
        f.csv(&f.teacher_token, path)
            .await
            .assert_problem(403, "forbidden");
    }
    // A term of another school is named.
    let reply =
        f.s.app
            .get_as(&f.s.admin, &f.at("academic?term_id=987654321"))
            .await;
    assert_eq!(
        reply.assert_problem(422, "validation_failed")["errors"][0]["field"],
        "term_id"
    );
}

async fn the_class_journal_exports_for_the_archive(backend: Backend) {
    let f = fixture(backend).await;
    let path = format!(
        "/api/v1/classes/{}/journal/export?term_id={}",
        f.class_5a, f.s.term
    );
    let text = csv_text(&f.s.app.get_as(&f.s.admin, &path).await);
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines,
        [
            "class;5А;term;2 четверть;2026-11-05;2026-12-28",
            "",
            "subject;Математика",
            "student;10.11 №1;11.11 №1;12.11 №1;average;term grade",
            "Белова Анна;3 ОП;3;2;2,67;4",
            "Кузнецов Иван;2 Н;2 Б;3;2,33;",
            "Орлов Пётр;5;5;4;4,67;",
            "topic;Дроби;;",
            "homework;;№ 5;",
            "",
            "subject;Русский язык",
            "student;10.11 №2;average;term grade",
            "Белова Анна;;;",
            "Кузнецов Иван;;;",
            "Орлов Пётр;4;4,00;",
            "topic;",
            "homework;",
            "",
        ]
    );
    // A teacher who does not teach the class does not see it; a parent may not read journals.
    f.s.app
        .get_as(&f.teacher_token, &path)
        .await
        .assert_problem(404, "not_found");
    f.s.app
        .get_as(&f.parent_token, &path)
        .await
        .assert_problem(403, "forbidden");
}
