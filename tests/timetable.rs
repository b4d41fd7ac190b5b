//! The timetable through HTTP: a weekly template (with alternating weeks) generates a term's
//! lessons, skipping holidays; generating again never makes a lesson twice, even a moved
//! one; replacing a template keeps the lessons that already hold entries; a bad template is
//! refused with every fault named and changes nothing.

use std::collections::BTreeSet;

use actix_web::http::Method;
use chrono::{Datelike, NaiveDate, Weekday};
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::support::{Backend, TestApp, on_both_backends};

on_both_backends!(
    a_template_generates_the_terms_lessons_skipping_holidays,
    generating_again_never_makes_a_lesson_twice_even_a_moved_one,
    a_holiday_cancels_empty_lessons_and_keeps_filled_ones,
    replacing_a_template_keeps_the_lessons_that_hold_entries,
    a_bad_template_names_every_fault_and_changes_nothing,
);

pub fn num(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not a number: {v}"))
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_else(|| panic!("no date {y}-{m}-{d}"))
}

/// The demo school seen by its administration and by demo-teacher, who teaches `subject` in
/// `class`: 5Б, which the demo gives no timetable, or 5А (demo-student's class, with the
/// demo's timetable and lessons).
pub struct School {
    pub app: TestApp,
    pub admin: String,
    pub teacher: String,
    pub teacher_id: i64,
    pub school: i64,
    pub class: i64,
    pub subject: i64,
    /// The demo's second term: 2026-11-05 to 2026-12-28.
    pub term: i64,
}

pub async fn school(backend: Backend) -> School {
    school_of(backend, "Б").await
}

pub async fn school_of(backend: Backend, letter: &str) -> School {
    let app = TestApp::new(backend).with_demo();
    let (admin, _) = app.tokens("demo-admin").await;
    let (teacher, _) = app.tokens("demo-teacher").await;
    let school = num(&app.get_as(&admin, "/api/v1/me").await.json()["schools"][0]["id"]);
    let teacher_id = num(&app.get_as(&teacher, "/api/v1/me").await.json()["id"]);
    let (class, subject, term) = {
        use persistence::schema::{classes, teaching_assignments as ta, terms};
        let mut conn = app.pool().get().unwrap_or_else(|e| panic!("{e}"));
        let class: i64 = classes::table
            .filter(classes::school_id.eq(school))
            .filter(classes::grade_level.eq(5))
            .filter(classes::letter.eq(letter))
            .select(classes::id)
            .first(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"));
        let subject: i64 = ta::table
            .filter(ta::teacher_user_id.eq(teacher_id))
            .filter(ta::class_id.eq(class))
            .select(ta::subject_id)
            .first(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"));
        let term: i64 = terms::table
            .filter(terms::school_id.eq(school))
            .filter(terms::starts_on.eq(date(2026, 11, 5)))
            .select(terms::id)
            .first(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"));
        (class, subject, term)
    };
    School {
        app,
        admin,
        teacher,
        teacher_id,
        school,
        class,
        subject,
        term,
    }
}

impl School {
    pub async fn put(&self, token: &str, path: &str, body: &Value) -> crate::support::app::Reply {
        self.app.send_as(token, Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, token: &str, path: &str, body: &Value) -> crate::support::app::Reply {
        self.app
            .send_as(token, Method::PATCH, path, Some(body))
            .await
    }

    /// Monday #1 every week (room 101); Wednesday #2 in odd weeks (room 301) and in even
    /// weeks (room 302): all demo-teacher's subject.
    pub fn template(&self) -> Value {
        let slot = |weekday: u8, number: u8, weeks: &str, room: &str| {
            json!({"weekday": weekday, "number": number, "weeks": weeks, "room": room,
                   "subject_id": self.subject, "teacher_id": self.teacher_id})
        };
        json!({
            "effective_from": "2026-11-05",
            "slots": [slot(1, 1, "every", "101"), slot(3, 2, "odd", "301"), slot(3, 2, "even", "302")]
        })
    }

    pub async fn set_template(&self, body: &Value) -> Value {
        let reply = self
            .put(
                &self.admin,
                &format!("/api/v1/classes/{}/timetable", self.class),
                body,
            )
            .await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.json()
    }

    pub async fn generate(&self, from: Option<&str>) -> Value {
        let mut body = json!({"term_id": self.term});
        if let Some(from) = from {
            body["from"] = json!(from);
        }
        let reply = self
            .app
            .post_as(
                &self.admin,
                &format!("/api/v1/classes/{}/timetable/lessons", self.class),
                &body,
            )
            .await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.json()
    }

    pub async fn holiday(&self, name: &str, from: &str, to: &str) -> Value {
        let reply = self
            .app
            .post_as(
                &self.admin,
                &format!("/api/v1/schools/{}/holidays", self.school),
                &json!({"name": name, "starts_on": from, "ends_on": to}),
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

    /// The teacher's lessons of the class in the range, every page: (id, date, number, room).
    pub async fn lessons(&self, from: &str, to: &str) -> Vec<(i64, NaiveDate, i64, String)> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/me/lessons?from={from}&to={to}&limit=7");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page = self.app.get_as(&self.teacher, &path).await;
            assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
            let page = page.json();
            for item in page["items"].as_array().cloned().unwrap_or_default() {
                if item["class_id"] == self.class && item["cancelled_at"].is_null() {
                    out.push((
                        num(&item["id"]),
                        item["date"]
                            .as_str()
                            .and_then(|d| d.parse().ok())
                            .unwrap_or_else(|| panic!("no date in {item}")),
                        num(&item["number"]),
                        item["room"].as_str().unwrap_or_default().to_owned(),
                    ));
                }
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        out
    }
}

/// Week of the academic year counted by hand: week 1 holds 1 September 2026 (a Tuesday), so
/// it starts on Monday 31 August.
fn week(d: NaiveDate) -> i64 {
    (d - date(2026, 8, 31)).num_days() / 7 + 1
}

/// The lessons the template must give between two days, holidays left out: (date, number,
/// room).
fn expected(
    from: NaiveDate,
    to: NaiveDate,
    holidays: &[(NaiveDate, NaiveDate)],
) -> Vec<(NaiveDate, i64, String)> {
    from.iter_days()
        .take_while(|d| *d <= to)
        .filter(|d| !holidays.iter().any(|(a, b)| a <= d && d <= b))
        .filter_map(|d| match d.weekday() {
            Weekday::Mon => Some((d, 1, "101".to_owned())),
            Weekday::Wed if week(d) % 2 == 1 => Some((d, 2, "301".to_owned())),
            Weekday::Wed => Some((d, 2, "302".to_owned())),
            _ => None,
        })
        .collect()
}

async fn a_template_generates_the_terms_lessons_skipping_holidays(backend: Backend) {
    let s = school(backend).await;
    s.holiday("Неделя здоровья", "2026-11-30", "2026-12-06")
        .await;
    let set = s.set_template(&s.template()).await;
    assert_eq!(set["slots"].as_array().map(Vec::len), Some(3));
    let shown = s
        .app
        .get_as(
            &s.teacher,
            &format!("/api/v1/classes/{}/timetable", s.class),
        )
        .await
        .json();
    assert_eq!(shown["slots"], set["slots"], "the teacher reads it back");

    let generated = s.generate(None).await;
    let want = expected(
        date(2026, 11, 5),
        date(2026, 12, 28),
        &[(date(2026, 11, 30), date(2026, 12, 6))],
    );
    assert_eq!(num(&generated["created"]), want.len() as i64, "{generated}");
    assert_eq!(generated["existing"], 0);
    // Monday 30 November and Wednesday 2 December fall in the holiday.
    assert_eq!(generated["on_holidays"], 2);
    assert_eq!(
        (generated["from"].as_str(), generated["to"].as_str()),
        (Some("2026-11-05"), Some("2026-12-28"))
    );

    let got: Vec<(NaiveDate, i64, String)> = s
        .lessons("2026-11-05", "2026-12-28")
        .await
        .into_iter()
        .map(|(_, d, n, r)| (d, n, r))
        .collect();
    assert_eq!(
        got, want,
        "the teacher's lessons are the template's, by date"
    );
    // Odd and even weeks alternate: 18 November is in week 12, 25 November in week 13.
    assert!(got.contains(&(date(2026, 11, 18), 2, "302".into())));
    assert!(got.contains(&(date(2026, 11, 25), 2, "301".into())));
}

async fn generating_again_never_makes_a_lesson_twice_even_a_moved_one(backend: Backend) {
    let s = school(backend).await;
    s.set_template(&s.template()).await;
    let first = s.generate(None).await;
    let created = num(&first["created"]);
    assert!(created > 10);

    // Monday 23 November's lesson moves to Tuesday, number 5.
    let lessons = s.lessons("2026-11-23", "2026-11-23").await;
    assert_eq!(lessons.len(), 1);
    let moved = s
        .patch(
            &s.admin,
            &format!("/api/v1/lessons/{}", lessons[0].0),
            &json!({"date": "2026-11-24", "number": 5}),
        )
        .await;
    assert_eq!(
        moved.status,
        200,
        "{}",
        String::from_utf8_lossy(&moved.body)
    );

    let again = s.generate(None).await;
    assert_eq!(again["created"], 0, "{again}");
    assert_eq!(num(&again["existing"]), created);
    let all = s.lessons("2026-11-05", "2026-12-28").await;
    assert_eq!(all.len() as i64, created, "nothing was made twice");
    let ids: BTreeSet<i64> = all.iter().map(|l| l.0).collect();
    assert_eq!(ids.len(), all.len());
    assert!(all.iter().any(|l| l.1 == date(2026, 11, 24) && l.2 == 5));
    assert!(!all.iter().any(|l| l.1 == date(2026, 11, 23)));

    // From a later day on, only that part of the term is looked at.
    let later = s.generate(Some("2026-12-01")).await;
    assert_eq!(later["created"], 0);
    assert_eq!(later["from"], "2026-12-01");
    let outside = s
        .app
        .post_as(
            &s.admin,
            &format!("/api/v1/classes/{}/timetable/lessons", s.class),
            &json!({"term_id": s.term, "from": "2027-01-15"}),
        )
        .await;
    assert_eq!(
        outside.assert_problem(422, "validation_failed")["errors"][0]["field"],
        "from"
    );
}

async fn a_holiday_cancels_empty_lessons_and_keeps_filled_ones(backend: Backend) {
    let s = school(backend).await;
    s.set_template(&s.template()).await;
    s.generate(None).await;
    let week = s.lessons("2026-12-14", "2026-12-20").await;
    assert_eq!(week.len(), 2, "{week:?}");
    let monday = week.iter().find(|l| l.1 == date(2026, 12, 14)).map(|l| l.0);
    let filled = s
        .patch(
            &s.teacher,
            &format!("/api/v1/lessons/{}", monday.unwrap_or_default()),
            &json!({"topic": "Контрольный диктант"}),
        )
        .await;
    assert_eq!(filled.status, 200);

    let holiday = s.holiday("Карантин", "2026-12-14", "2026-12-20").await;
    // The school's other classes have the demo's lessons that week too.
    assert!(num(&holiday["lessons_cancelled"]) >= 1, "{holiday}");
    let left = s.lessons("2026-12-14", "2026-12-20").await;
    assert_eq!(
        left.iter().map(|l| l.0).collect::<Vec<_>>(),
        vec![monday.unwrap_or_default()]
    );

    let listed = s
        .app
        .get_as(&s.admin, &format!("/api/v1/schools/{}/holidays", s.school))
        .await
        .json();
    let quarantine = listed
        .as_array()
        .and_then(|l| l.iter().find(|h| h["name"] == "Карантин"))
        .unwrap_or_else(|| panic!("not listed: {listed}"));
    assert_eq!(quarantine["starts_on"], "2026-12-14");
    let id = num(&quarantine["id"]);
    let path = format!("/api/v1/schools/{}/holidays/{id}", s.school);
    let removed = s.app.send_as(&s.admin, Method::DELETE, &path, None).await;
    assert_eq!(removed.status, 204);
    let again = s.app.send_as(&s.admin, Method::DELETE, &path, None).await;
    again.assert_problem(404, "not_found");
    let reversed = s
        .app
        .post_as(
            &s.admin,
            &format!("/api/v1/schools/{}/holidays", s.school),
            &json!({"name": "Наоборот", "starts_on": "2026-12-20", "ends_on": "2026-12-14"}),
        )
        .await;
    assert_eq!(
        reversed.assert_problem(422, "validation_failed")["errors"][0]["field"],
        "ends_on"
    );
}

async fn replacing_a_template_keeps_the_lessons_that_hold_entries(backend: Backend) {
    let s = school(backend).await;
    s.set_template(&s.template()).await;
    s.generate(None).await;
    let december = s.lessons("2026-12-01", "2026-12-28").await;
    let graded = december
        .iter()
        .find(|l| l.1 == date(2026, 12, 7))
        .map(|l| l.0)
        .unwrap_or_else(|| panic!("no lesson on 7 December: {december:?}"));
    let lesson = s
        .app
        .get_as(&s.teacher, &format!("/api/v1/lessons/{graded}"))
        .await
        .json();
    let work_type = num(&lesson["work_types"][0]["id"]);
    let student = num(&s
        .app
        .get_as(&s.teacher, &format!("/api/v1/classes/{}/students", s.class))
        .await
        .json()["items"][0]["id"]);
    let reply = s
        .app
        .call(
            actix_web::test::TestRequest::post()
                .uri(&format!("/api/v1/lessons/{graded}/grades"))
                .insert_header(("Authorization", format!("Bearer {}", s.teacher)))
                .insert_header(("Idempotency-Key", "replace-1"))
                .set_json(json!({"grades": [{"client_id": "g1", "student_id": student,
                                             "work_type_id": work_type, "value": 5}]})),
        )
        .await;
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );

    let replaced = s
        .set_template(&json!({
            "effective_from": "2026-12-01",
            "slots": [{"weekday": 2, "number": 3, "subject_id": s.subject, "teacher_id": s.teacher_id}]
        }))
        .await;
    assert_eq!(replaced["lessons_kept"], 1, "{replaced}");
    assert_eq!(
        num(&replaced["lessons_removed"]),
        december.len() as i64 - 1,
        "{replaced}"
    );
    let generated = s.generate(Some("2026-12-01")).await;
    // Tuesdays 1, 8, 15, 22 December.
    assert_eq!(generated["created"], 4, "{generated}");
    let now: Vec<(NaiveDate, i64)> = s
        .lessons("2026-12-01", "2026-12-28")
        .await
        .into_iter()
        .map(|l| (l.1, l.2))
        .collect();
    assert_eq!(
        now,
        vec![
            (date(2026, 12, 1), 3),
            (date(2026, 12, 7), 1),
            (date(2026, 12, 8), 3),
            (date(2026, 12, 15), 3),
            (date(2026, 12, 22), 3),
        ]
    );
    // November is untouched.
    assert!(s.lessons("2026-11-05", "2026-11-30").await.len() > 5);
}

async fn a_bad_template_names_every_fault_and_changes_nothing(backend: Backend) {
    let s = school(backend).await;
    let path = format!("/api/v1/classes/{}/timetable", s.class);
    let slot =
        json!({"weekday": 1, "number": 1, "subject_id": s.subject, "teacher_id": s.teacher_id});
    let mut clash = slot.clone();
    clash["weeks"] = json!("odd");
    let mut stranger = slot.clone();
    stranger["number"] = json!(2);
    stranger["teacher_id"] = json!(987_654);
    stranger["subject_id"] = json!(987_654);
    let reply = s
        .put(&s.admin, &path, &json!({"slots": [slot, clash, stranger]}))
        .await;
    let problem = reply.assert_problem(422, "validation_failed");
    let fields: BTreeSet<String> = problem["errors"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e["field"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        fields,
        BTreeSet::from([
            "slots[1].number".to_owned(),
            "slots[2].subject_id".to_owned(),
            "slots[2].teacher_id".to_owned(),
        ]),
        "{problem}"
    );
    let bad_weeks = s
        .put(
            &s.admin,
            &path,
            &json!({"slots": [{"weekday": 8, "number": 1, "weeks": "sometimes",
                               "subject_id": s.subject, "teacher_id": s.teacher_id}]}),
        )
        .await;
    assert!(matches!(bad_weeks.status.as_u16(), 400 | 422));
    let text = String::from_utf8_lossy(&bad_weeks.body);
    assert!(text.contains("weeks"), "{text}");
    let out_of_range = s
        .put(
            &s.admin,
            &path,
            &json!({"slots": [{"weekday": 8, "number": 1,
                               "subject_id": s.subject, "teacher_id": s.teacher_id}]}),
        )
        .await;
    assert_eq!(
        out_of_range.assert_problem(422, "validation_failed")["errors"][0]["field"],
        "slots[0].weekday"
    );
    let teacher_tries = s.put(&s.teacher, &path, &s.template()).await;
    teacher_tries.assert_problem(403, "forbidden");

    let shown = s.app.get_as(&s.admin, &path).await.json();
    assert_eq!(shown["slots"], json!([]), "nothing was written");
}
