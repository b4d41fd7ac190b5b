//! The roster import through HTTP: the sample files of `tests/fixtures/roster/` make the
//! roster; the same files again change nothing; a changed file renames, moves and unenrols; a
//! broken file changes nothing and names every bad row and column.

use actix_web::test::TestRequest;
use chrono::{NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use domain::{ClassId, DateRange, MunicipalityId, SchoolId, TermDates};
use persistence::people::{self, NewUser, Role, RoleScope};
use persistence::schools;
use serde_json::{Value, json};

use crate::support::app::Reply;
use crate::support::{Backend, TestApp, on_both_backends};

on_both_backends!(
    the_sample_roster_is_imported_and_again_changes_nothing,
    a_changed_roster_renames_moves_and_unenrols_but_deletes_nobody,
    a_broken_roster_changes_nothing_and_names_every_fault,
    a_dry_run_says_what_would_change_and_writes_nothing,
    only_the_schools_administration_imports,
);

pub fn must<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

pub fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_else(|| panic!("bad date"))
}

/// The day every import of these tests takes effect: inside the second term.
pub const ON: &str = "2026-11-09";

/// A fresh school without the demo: its municipality, a year, the second term, and an
/// administrator logged in.
pub struct School {
    pub app: TestApp,
    pub id: i64,
    pub municipality: MunicipalityId,
    pub term: i64,
    pub admin: String,
    pub admin_id: i64,
}

/// An account with a password and one role.
pub async fn person(app: &TestApp, login: &str, role: Role, scope: RoleScope) -> (i64, String) {
    let id = {
        let mut conn = must(app.pool().get());
        let hash = must(api::password::hash("test-password"));
        let id = must(people::insert_user(
            &mut conn,
            NewUser {
                login,
                display_name: login,
                password_hash: Some(&hash),
                now: Utc::now().naive_utc(),
            },
        ));
        must(people::assign_role(&mut conn, id, role, scope));
        id
    };
    let reply = app.login(login, "test-password").await;
    assert_eq!(reply.status, 200, "login {login}");
    let token = reply.json()["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (id.get(), token)
}

/// A school in `municipality` (a new one when `None`) with a year and its second term.
pub fn add_school(
    app: &TestApp,
    municipality: Option<MunicipalityId>,
    name: &str,
) -> (SchoolId, MunicipalityId, i64) {
    let mut conn = must(app.pool().get());
    let municipality = municipality.unwrap_or_else(|| {
        must(schools::insert_municipality(
            &mut conn,
            &format!("Округ: {name}"),
        ))
    });
    let school = must(schools::insert_school(&mut conn, municipality, name, None));
    let year = must(schools::insert_academic_year(
        &mut conn,
        school,
        "2026/2027",
        must(DateRange::new(day(2026, 9, 1), day(2027, 5, 31), 366)),
    ));
    must(schools::insert_term(
        &mut conn,
        school,
        year,
        1,
        "1 четверть",
        must(TermDates::new(day(2026, 9, 1), day(2026, 10, 25))),
    ));
    let term = must(schools::insert_term(
        &mut conn,
        school,
        year,
        2,
        "2 четверть",
        must(TermDates::new(day(2026, 11, 5), day(2026, 12, 28))),
    ));
    must(persistence::journal::ensure_grading_defaults(
        &mut conn, school,
    ));
    (school, municipality, term.get())
}

pub async fn school(backend: Backend) -> School {
    let app = TestApp::new(backend);
    let (id, municipality, term) = add_school(&app, None, "Школа № 7");
    let (admin_id, admin) = person(
        &app,
        "school7-admin",
        Role::SchoolAdmin,
        RoleScope::School(id),
    )
    .await;
    School {
        app,
        id: id.get(),
        municipality,
        term,
        admin,
        admin_id,
    }
}

pub fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/roster")
        .join(name);
    must(std::fs::read_to_string(&path))
}

/// The four sample files.
pub fn sample() -> Value {
    json!({
        "classes": fixture("classes.csv"),
        "students": fixture("students.csv"),
        "parents": fixture("parents.csv"),
        "links": fixture("links.csv"),
        "on": ON,
    })
}

impl School {
    pub fn path(&self) -> String {
        format!("/api/v1/schools/{}/imports/roster", self.id)
    }

    pub async fn import(&self, body: &Value) -> Reply {
        self.app.post_as(&self.admin, &self.path(), body).await
    }

    /// The school's class with this label.
    pub fn class(&self, label: &str) -> i64 {
        let mut conn = must(self.app.pool().get());
        must(schools::list_classes(&mut conn, SchoolId(self.id)))
            .into_iter()
            .find(|c| format!("{}{}", c.grade_level, c.letter) == label)
            .map(|c| c.id)
            .unwrap_or_else(|| panic!("no class {label}"))
    }

    /// A class's students on `on`, as "Last First".
    pub fn roster(&self, label: &str, on: NaiveDate) -> Vec<String> {
        let mut conn = must(self.app.pool().get());
        must(people::class_students(
            &mut conn,
            ClassId(self.class(label)),
            on,
        ))
        .into_iter()
        .map(|s| format!("{} {}", s.last_name, s.first_name))
        .collect()
    }

    /// Rows of every table an import writes.
    pub fn counts(&self) -> Vec<(&'static str, i64)> {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut conn = must(self.app.pool().get());
        [
            "classes",
            "students",
            "enrollments",
            "users",
            "role_assignments",
            "guardianships",
            "roster_parents",
            "activation_codes",
            "audit_events",
        ]
        .into_iter()
        .map(|table| {
            let n: N = must(
                diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
                    .get_result(&mut conn),
            );
            (table, n.n)
        })
        .collect()
    }
}

/// The (field, code) of every fault of a problem.
fn faults(body: &Value) -> Vec<(String, String)> {
    body["errors"]
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
        .unwrap_or_default()
}

fn changes(reply: &Reply) -> Value {
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()["changes"].clone()
}

async fn the_sample_roster_is_imported_and_again_changes_nothing(backend: Backend) {
    let s = school(backend).await;
    // The first import, asked as CSV: the activation codes to print.
    let reply = s
        .app
        .call(
            TestRequest::post()
                .uri(&s.path())
                .insert_header(("Authorization", format!("Bearer {}", s.admin)))
                .insert_header(("Accept", "text/csv"))
                .set_json(sample()),
        )
        .await;
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
    let text = must(String::from_utf8(reply.body.to_vec()));
    let text = text
        .strip_prefix('\u{feff}')
        .unwrap_or_else(|| panic!("no byte-order mark: {text}"));
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "kind;external_id;class_id;display_name;login;activation_code;expires_at"
    );
    assert_eq!(lines.len(), 1 + 5 + 3, "{text}");
    let first: Vec<&str> = lines[1].split(';').collect();
    assert_eq!(
        &first[..5],
        [
            "student",
            "S-001",
            "K-5A",
            "Орлов Пётр Ильич",
            &format!("s{}.s-001", s.id)
        ]
    );
    let parent: Vec<&str> = lines[6].split(';').collect();
    assert_eq!(
        &parent[..5],
        [
            "parent",
            "P-01",
            "",
            "Орлова Елена Викторовна",
            &format!("p{}.p-01", s.id)
        ]
    );

    // The roster is there.
    let on = day(2026, 11, 9);
    assert_eq!(
        s.roster("5А", on),
        ["Белова Анна", "Кузнецов Иван", "Орлов Пётр"]
    );
    assert_eq!(s.roster("6Б", on), ["Лебедева Мария", "Соловьёв Глеб"]);
    assert!(
        s.roster("5А", day(2026, 11, 8)).is_empty(),
        "enrolled from `on`"
    );

    // The parent's code activates the parent's account, which sees both children.
    let code = parent[5];
    let reply = s
        .app
        .post_as(
            "",
            "/api/v1/auth/activate",
            &json!({"code": code, "password": "a-long-password-1"}),
        )
        .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let reply = s
        .app
        .post_as(
            "",
            "/api/v1/auth/activate",
            &json!({"code": lines[7].split(';').nth(5).unwrap_or_default(), "password": "a-long-password-2"}),
        )
        .await;
    assert_eq!(reply.status, 200);
    let (token, _) = (
        reply.json()["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        (),
    );
    let me = s.app.get_as(&token, "/api/v1/me").await.json();
    assert_eq!(me["display_name"], "Белов Олег", "{me}");
    let children: Vec<&str> = me["children"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(children.len(), 1, "{me}");

    // The same files again: nothing changes, not even the audit trail.
    let before = s.counts();
    let reply = s.import(&sample()).await;
    let changed = changes(&reply);
    for (key, n) in changed.as_object().cloned().unwrap_or_default() {
        assert_eq!(n, 0, "{key} changed on a re-import: {changed}");
    }
    assert_eq!(reply.json()["accounts"], json!([]));
    assert_eq!(s.counts(), before);
}

async fn a_changed_roster_renames_moves_and_unenrols_but_deletes_nobody(backend: Backend) {
    let s = school(backend).await;
    changes(&s.import(&sample()).await);
    let before = s.counts();
    let mut changed = sample();
    changed["on"] = json!("2026-11-16");
    changed["students"] = json!(
        "student_id;last_name;first_name;middle_name;class_id\n\
         S-001;Орлов;Пётр;Ильич;K-5A\n\
         S-002;Белова-Новикова;Анна;;K-5A\n\
         S-003;Кузнецов;Иван;Сергеевич;K-6B\n\
         S-004;Лебедева;Мария;;K-6B\n\
         S-006;Зайцева;Ольга;;K-5A\n"
    );
    changed["links"] =
        json!("student_id;parent_id\nS-001;P-01\nS-002;P-02\nS-004;P-03\nS-006;P-02\n");
    changed["classes"] = json!("class_id;grade;letter\nK-5A;5;А\nK-6B;6;В\n");
    let reply = s.import(&changed).await;
    assert_eq!(
        changes(&reply),
        json!({
            "classes_created": 0, "classes_matched": 0, "classes_relabelled": 1,
            "students_created": 1, "students_renamed": 1, "students_moved": 1, "students_left": 1,
            "parents_created": 0, "parents_renamed": 0, "links_created": 1, "links_removed": 1
        })
    );
    let on = day(2026, 11, 16);
    assert_eq!(
        s.roster("5А", on),
        ["Белова-Новикова Анна", "Зайцева Ольга", "Орлов Пётр"]
    );
    assert_eq!(s.roster("6В", on), ["Кузнецов Иван", "Лебедева Мария"]);
    // The week before, the old class keeps its history.
    assert_eq!(
        s.roster("5А", day(2026, 11, 13)),
        ["Белова-Новикова Анна", "Кузнецов Иван", "Орлов Пётр"]
    );
    assert_eq!(
        s.roster("6В", day(2026, 11, 13)),
        ["Лебедева Мария", "Соловьёв Глеб"]
    );
    // Nobody was deleted: one more student and one more account, the leaver kept.
    let after = s.counts();
    let n = |counts: &[(&str, i64)], t: &str| {
        counts
            .iter()
            .find(|(name, _)| *name == t)
            .map_or(0, |(_, n)| *n)
    };
    assert_eq!(n(&after, "students"), n(&before, "students") + 1);
    assert_eq!(n(&after, "users"), n(&before, "users") + 1);
    assert_eq!(n(&after, "guardianships"), n(&before, "guardianships"));
    // Importing the changed files again changes nothing more.
    let again = s.import(&changed).await;
    for (key, n) in changes(&again).as_object().cloned().unwrap_or_default() {
        assert_eq!(n, 0, "{key} changed on a re-import");
    }
    assert_eq!(s.counts(), after);
}

async fn a_broken_roster_changes_nothing_and_names_every_fault(backend: Backend) {
    let s = school(backend).await;
    let before = s.counts();
    let mut broken = sample();
    broken["classes"] = json!("class_id;grade;letter\nK-5A;5;А\nK-5A;6;Б\nK-7;12;В\n");
    broken["students"] = json!(
        "student_id;last_name;first_name;middle_name;class_id\n\
         S-001;Орлов;Пётр;Ильич;K-5A\n\
         S-002;;Анна;;K-5A\n\
         S-001;Кузнецов;Иван;Сергеевич;K-9Z\n"
    );
    broken["links"] = json!("student_id;parent_id\nS-001;P-01\nS-002;P-99\n");
    let reply = s.import(&broken).await;
    let body = reply.assert_problem(422, "validation_failed");
    let found = faults(&body);
    let expected = [
        ("classes[3].class_id", "duplicate"),
        ("classes[4].grade", "out_of_range"),
        ("students[3].last_name", "required"),
        ("students[4].student_id", "duplicate"),
        ("students[4].class_id", "unknown_class"),
        ("links[3].parent_id", "unknown_parent"),
    ];
    let mut got = found;
    got.sort();
    let mut want: Vec<(String, String)> = expected
        .iter()
        .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
        .collect();
    want.sort();
    assert_eq!(got, want, "{body}");
    assert_eq!(s.counts(), before, "a refused import writes nothing");

    // An unknown or missing column is named by its file.
    let mut columns = sample();
    columns["parents"] = json!("parent_id;last_name;first_name;phone\nP-01;Орлова;Елена;+7\n");
    columns["classes"] = json!("class_id;letter\nK-5A;А\n");
    let body = s
        .import(&columns)
        .await
        .assert_problem(422, "validation_failed");
    let fields = faults(&body);
    assert_eq!(
        fields,
        [
            ("classes".to_owned(), "missing_column".to_owned()),
            ("parents".to_owned(), "unknown_column".to_owned())
        ],
        "{body}"
    );
    assert_eq!(s.counts(), before);

    // A login taken by another account is found only against the database: still nothing.
    person(
        &s.app,
        &format!("p{}.p-02", s.id),
        Role::Teacher,
        RoleScope::School(SchoolId(s.id)),
    )
    .await;
    let before = s.counts();
    let body = s
        .import(&sample())
        .await
        .assert_problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "parents[3].login", "{body}");
    assert_eq!(body["errors"][0]["code"], "taken");
    assert_eq!(s.counts(), before);
}

async fn a_dry_run_says_what_would_change_and_writes_nothing(backend: Backend) {
    let s = school(backend).await;
    let before = s.counts();
    let mut body = sample();
    body["dry_run"] = json!(true);
    let reply = s.import(&body).await;
    let changed = changes(&reply);
    assert_eq!(changed["students_created"], 5);
    assert_eq!(changed["links_created"], 4);
    let accounts = reply.json()["accounts"].clone();
    assert_eq!(accounts.as_array().map(Vec::len), Some(8));
    assert_eq!(accounts[0]["activation_code"], Value::Null);
    assert_eq!(s.counts(), before);
}

async fn only_the_schools_administration_imports(backend: Backend) {
    let s = school(backend).await;
    let before = s.counts();
    let (_, teacher) = person(
        &s.app,
        "school7-teacher",
        Role::Teacher,
        RoleScope::School(SchoolId(s.id)),
    )
    .await;
    s.app
        .post_as(&teacher, &s.path(), &sample())
        .await
        .assert_problem(403, "forbidden");
    let (other, _, _) = add_school(&s.app, None, "Школа № 8");
    let (_, other_admin) = person(
        &s.app,
        "school8-admin",
        Role::SchoolAdmin,
        RoleScope::School(other),
    )
    .await;
    s.app
        .post_as(&other_admin, &s.path(), &sample())
        .await
        .assert_problem(404, "not_found");
    s.app
        .post_as("", &s.path(), &sample())
        .await
        .assert_problem(401, "unauthorized");
    // Not JSON.
    let reply = s
        .app
        .call(
            TestRequest::post()
                .uri(&s.path())
                .insert_header(("Authorization", format!("Bearer {}", s.admin)))
                .insert_header(("Content-Type", "text/csv"))
                .set_payload("class_id;grade;letter\n"),
        )
        .await;
    reply.assert_problem(415, "unsupported_media_type");
    // A day no academic year holds.
    let mut body = sample();
    body["on"] = json!("2030-01-01");
    let body = s
        .import(&body)
        .await
        .assert_problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "on");
    let counts = s.counts();
    // Only the people the test made itself were added.
    assert_eq!(
        counts.iter().find(|(t, _)| *t == "students"),
        before.iter().find(|(t, _)| *t == "students")
    );
}

on_both_backends!(a_school_sized_roster_goes_in_one_request);

/// 2,000 students in 67 classes with a parent each: a body well over the server's usual
/// 256 KiB limit, in one transaction; the same body again changes nothing.
async fn a_school_sized_roster_goes_in_one_request(backend: Backend) {
    let s = school(backend).await;
    let letters = ["А", "Б", "В", "Г", "Д", "Е", "Ж"];
    let mut classes = String::from("class_id;grade;letter\n");
    for c in 0..67 {
        classes.push_str(&format!("K{c};{};{}\n", 1 + c % 11, letters[c / 11]));
    }
    let mut students = String::from("student_id;last_name;first_name;middle_name;class_id\n");
    let mut parents = String::from("parent_id;last_name;first_name;middle_name\n");
    let mut links = String::from("student_id;parent_id\n");
    for n in 0..2000 {
        students.push_str(&format!("S{n};Ученикова;Мария{n};Ивановна;K{}\n", n % 67));
        parents.push_str(&format!(
            "P{n};Родителева-Представителева;Анна{n};Петровна\n"
        ));
        links.push_str(&format!("S{n};P{n}\n"));
    }
    let body = json!({"classes": classes, "students": students, "parents": parents,
                      "links": links, "on": ON});
    assert!(body.to_string().len() > 256 * 1024);
    let reply = s.import(&body).await;
    let changed = changes(&reply);
    assert_eq!(
        (
            changed["classes_created"].clone(),
            changed["students_created"].clone(),
            changed["parents_created"].clone(),
            changed["links_created"].clone()
        ),
        (json!(67), json!(2000), json!(2000), json!(2000))
    );
    let before = s.counts();
    let again = s.import(&body).await;
    for (key, n) in changes(&again).as_object().cloned().unwrap_or_default() {
        assert_eq!(n, 0, "{key} changed on a re-import");
    }
    assert_eq!(s.counts(), before);
}
